"""HttpSpirisIdentity over httpx.MockTransport: the exact requests Spiris expects, and its error mapping.
(The same adapter runs against the Spiris sandbox over real HTTP in tests/integration/consent.)"""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from invoice_bridge.adapters.spiris_identity import HttpSpirisIdentity, IdentityError, SpirisAccessError
from invoice_bridge.ports import InvalidGrant


def identity(handler) -> HttpSpirisIdentity:  # type: ignore[no-untyped-def]
    return HttpSpirisIdentity(
        "https://identity.example",
        "client-1",
        "s3cret",
        api_url="https://api.example",
        http=httpx.Client(transport=httpx.MockTransport(handler)),
    )


def test_authorize_url_parameters() -> None:
    url = identity(lambda r: httpx.Response(500)).authorize_url("st", "ch", "https://bridge/oauth/callback")
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://identity.example/connect/authorize"
    assert "scope=ea%3Aapi%20offline_access%20ea%3Asales_readonly" in url  # spaces as %20
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert q == {
        "client_id": "client-1",
        "redirect_uri": "https://bridge/oauth/callback",
        "scope": "ea:api offline_access ea:sales_readonly",
        "response_type": "code",
        "state": "st",
        "code_challenge": "ch",
        "code_challenge_method": "S256",
        "prompt": "select_account",
        "acr_values": "service:44643EB1-3F76-4C1C-A672-402AE8085934",
    }


def test_code_exchange_uses_basic_auth_and_sends_the_verifier() -> None:
    seen: dict = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["auth"] = request.headers["authorization"]
        seen["form"] = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        seen["url"] = str(request.url)
        return httpx.Response(
            200,
            json={
                "access_token": "at",
                "refresh_token": "rt",
                "expires_in": 3600,
                "token_type": "Bearer",
                "scope": "ea:api",
            },
        )

    tokens = identity(handler).exchange_code("the-code", "the-verifier", "https://bridge/oauth/callback")
    assert seen["url"] == "https://identity.example/connect/token"
    assert seen["auth"] == "Basic " + base64.b64encode(b"client-1:s3cret").decode()
    assert seen["form"] == {
        "grant_type": "authorization_code",
        "code": "the-code",
        "redirect_uri": "https://bridge/oauth/callback",
        "code_verifier": "the-verifier",
    }
    assert (tokens.access_token, tokens.refresh_token, tokens.token_type) == ("at", "rt", "bearer")


def test_refresh_keeps_the_old_refresh_token_when_none_is_returned() -> None:
    tokens = identity(lambda r: httpx.Response(200, json={"access_token": "at2", "expires_in": 60})).refresh(
        "rt1"
    )
    assert tokens.refresh_token == "rt1"


def test_invalid_grant_and_other_errors_never_echo_secrets() -> None:
    with pytest.raises(InvalidGrant) as refused:
        identity(lambda r: httpx.Response(400, json={"error": "invalid_grant"})).refresh("rt-secret")
    assert "rt-secret" not in str(refused.value)
    with pytest.raises(IdentityError) as failed:
        identity(lambda r: httpx.Response(401, json={"error": "invalid_client"})).refresh("rt-secret")
    assert "rt-secret" not in str(failed.value) and "s3cret" not in str(failed.value)


def test_revoke_posts_the_refresh_token() -> None:
    seen: dict = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["path"] = request.url.path
        seen["form"] = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        return httpx.Response(200)

    identity(handler).revoke("rt")
    assert seen == {
        "path": "/connect/revocation",
        "form": {"token": "rt", "token_type_hint": "refresh_token"},
    }


@pytest.mark.parametrize("code", [4002, 4011])
def test_company_settings_maps_spiris_error_codes(code: int) -> None:
    body = {"ErrorCode": code, "DeveloperErrorMessage": "ForbiddenRequestException", "ErrorId": "x"}
    with pytest.raises(SpirisAccessError) as raised:
        identity(lambda r: httpx.Response(403, json=body)).company_settings("at")
    assert raised.value.code == code and raised.value.status_code == 403


def test_company_settings_reads_the_company() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer at"
        return httpx.Response(
            200, content=json.dumps({"Name": "Ex AB", "CorporateIdentityNumber": "556036-0793"})
        )

    company = identity(handler).company_settings("at")
    assert company.CorporateIdentityNumber == "556036-0793"
