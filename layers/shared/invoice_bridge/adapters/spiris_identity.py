"""The Spiris (Visma Online) identity server over httpx: authorize URL, code exchange, refresh, revocation.

Confidential client: the client secret goes by HTTP Basic on every back-channel call, and PKCE (S256)
is sent as well (spiris-api.md §1.1). Error messages never carry tokens, codes or the secret.
"""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from urllib.parse import quote, urlencode

import httpx

from ..models.common import utcnow
from ..models.integration import TokenSet
from ..models.spiris import CompanySettings
from ..observability import trace_httpx
from ..ports import InvalidGrant, SpirisAccessError

trace_httpx()

__all__ = ["HttpSpirisIdentity", "IdentityError", "InvalidGrant", "SpirisAccessError"]


class IdentityError(Exception):
    """The identity server answered with something other than success or `invalid_grant`."""


class HttpSpirisIdentity:
    def __init__(
        self,
        identity_url: str,
        client_id: str,
        client_secret: str,
        scopes: str = "ea:api offline_access ea:sales_readonly",
        acr_values: str | None = "service:44643EB1-3F76-4C1C-A672-402AE8085934",
        api_url: str | None = None,
        http: httpx.Client | None = None,
        timeout_seconds: float = 10.0,
    ):
        self._identity_url = identity_url.rstrip("/")
        self._api_url = api_url.rstrip("/") if api_url else None
        self._client_id = client_id
        self._client_secret = client_secret
        self._scopes = " ".join(scopes.split())
        self._acr_values = acr_values
        self._http = http or httpx.Client(timeout=timeout_seconds)

    # --- front channel ---------------------------------------------------------------------

    def authorize_url(self, state: str, code_challenge: str, redirect_uri: str) -> str:
        params = {
            "client_id": self._client_id,
            "redirect_uri": redirect_uri,
            "scope": self._scopes,
            "response_type": "code",
            "state": state,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
            # Always show the company picker: the default-company trap (spiris-api.md §1.4).
            "prompt": "select_account",
        }
        if self._acr_values:
            params["acr_values"] = self._acr_values
        return f"{self._identity_url}/connect/authorize?{urlencode(params, quote_via=quote)}"

    # --- back channel ----------------------------------------------------------------------

    def exchange_code(self, code: str, code_verifier: str, redirect_uri: str) -> TokenSet:
        return self._token_request(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": code_verifier,
            },
            previous_refresh_token=None,
        )

    def refresh(self, refresh_token: str) -> TokenSet:
        return self._token_request(
            {"grant_type": "refresh_token", "refresh_token": refresh_token},
            previous_refresh_token=refresh_token,
        )

    def revoke(self, refresh_token: str) -> None:
        response = self._http.post(
            f"{self._identity_url}/connect/revocation",
            data={"token": refresh_token, "token_type_hint": "refresh_token"},
            auth=(self._client_id, self._client_secret),
        )
        if response.status_code != 200:
            raise IdentityError(f"revocation failed with HTTP {response.status_code}")

    def company_settings(self, access_token: str) -> CompanySettings:
        """GET /v2/companysettings with a fresh token (used once, right after the grant)."""
        if not self._api_url:
            raise IdentityError("no Spiris API URL configured")
        response = self._http.get(
            f"{self._api_url}/v2/companysettings",
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
        )
        if response.status_code == 200:
            return CompanySettings.model_validate(json.loads(response.content, parse_float=Decimal))
        error_code: int | None = None
        message = ""
        try:
            body = response.json()
            error_code = int(body.get("ErrorCode")) if body.get("ErrorCode") is not None else None
            message = str(body.get("DeveloperErrorMessage") or "")[:200]
        except (ValueError, AttributeError, TypeError):
            pass
        raise SpirisAccessError(response.status_code, error_code, message)

    def _token_request(self, form: dict[str, str], previous_refresh_token: str | None) -> TokenSet:
        response = self._http.post(
            f"{self._identity_url}/connect/token",
            data=form,
            auth=(self._client_id, self._client_secret),
            headers={"Accept": "application/json"},
        )
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code == 200 and isinstance(body, dict) and body.get("access_token"):
            refresh_token = body.get("refresh_token") or previous_refresh_token
            if not refresh_token:
                raise IdentityError("token response without refresh_token (is offline_access granted?)")
            issued_at = utcnow()
            return TokenSet(
                access_token=body["access_token"],
                refresh_token=refresh_token,
                expires_at=issued_at + timedelta(seconds=int(body.get("expires_in", 3600))),
                issued_at=issued_at,
                scope=body.get("scope"),
                token_type=str(body.get("token_type", "bearer")).lower(),
            )
        error = body.get("error") if isinstance(body, dict) else None
        if error == "invalid_grant":
            raise InvalidGrant(f"{form['grant_type']}: invalid_grant")
        # Only the OAuth error code: the description may echo request values.
        raise IdentityError(f"token endpoint HTTP {response.status_code} error={error!s}")
