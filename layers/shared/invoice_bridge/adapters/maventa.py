"""Maventa AX API adapter for the `Operator` port (reference/einvoice.md §1).

One instance per issuer account (company UUID + user API key). Tokens are cached per company UUID
until shortly before expiry. Uploads carry our deterministic `uuid`, so a retry after a timeout
returns the invoice that already exists instead of creating a second one.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import httpx

from ..dispatch.errors import OperatorRejected
from ..observability import logger
from ..ports import OperatorDocument, Receiver
from . import operator_http

SCOPE = "invoice:send lookup"
FORMAT = "PEPPOLBIS30"
_EXPIRY_MARGIN_SECONDS = 60


@dataclass(frozen=True)
class MaventaCredentials:
    company_uuid: str
    user_api_key: str
    vendor_api_key: str

    def __repr__(self) -> str:  # never print secrets
        return f"MaventaCredentials(company_uuid={self.company_uuid!r})"


# Shared across instances in one container: the token belongs to the company, not to the adapter object.
_TOKENS: dict[str, tuple[str, float]] = {}
_TOKENS_LOCK = threading.Lock()


def clear_token_cache() -> None:
    with _TOKENS_LOCK:
        _TOKENS.clear()


class MaventaOperator:
    def __init__(
        self,
        base_url: str,
        credentials: MaventaCredentials,
        *,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ):
        self._credentials = credentials
        self._client = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout, transport=transport)

    def close(self) -> None:
        self._client.close()

    # --- auth ----------------------------------------------------------------------------------

    def _token(self) -> str:
        company = self._credentials.company_uuid
        with _TOKENS_LOCK:
            cached = _TOKENS.get(company)
            if cached and cached[1] > time.time():
                return cached[0]
        response = self._request(
            "POST",
            "/oauth2/token",
            authorised=False,
            data={
                "grant_type": "client_credentials",
                "client_id": company,
                "client_secret": self._credentials.user_api_key,
                "vendor_api_key": self._credentials.vendor_api_key,
                "scope": SCOPE,
            },
            idempotent=True,
        )
        body = response.json()
        expires_at = time.time() + int(body.get("expires_in", 3600)) - _EXPIRY_MARGIN_SECONDS
        with _TOKENS_LOCK:
            _TOKENS[company] = (body["access_token"], expires_at)
        return body["access_token"]

    def _forget_token(self) -> None:
        with _TOKENS_LOCK:
            _TOKENS.pop(self._credentials.company_uuid, None)

    # --- HTTP ----------------------------------------------------------------------------------

    def _request(
        self, method: str, path: str, *, authorised: bool = True, idempotent: bool, **kwargs
    ) -> httpx.Response:  # type: ignore[no-untyped-def]
        """One call. `idempotent=False` (uploads) turns read timeouts into OperatorOutcomeUnknown."""
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self._token()}"} if authorised else {}
            response = operator_http.send(
                self._client, method, path, idempotent=idempotent, headers=headers, **kwargs
            )
            if response.status_code == 401 and authorised and attempt == 1:
                self._forget_token()  # expired or revoked early: one fresh token, then give up
                continue
            if response.status_code >= 400:
                code, message = _error_of(response)
                logger.info(
                    "operator refused", extra={"path": path, "status": response.status_code, "code": code}
                )
                raise OperatorRejected(code, message, response.status_code)
            return response
        raise AssertionError("unreachable")

    # --- Operator port -------------------------------------------------------------------------

    def lookup_receiver(self, org_number: str | None, gln: str | None) -> Receiver | None:
        queries: list[dict[str, object]] = []
        if org_number:
            queries.append({"bid": org_number, "eia": f"0007:{org_number}"})
        if gln:
            queries.append({"eia": f"0088:{gln}"})
        for query in queries:
            params = {**query, "network[]": ["PEPPOL", "INTERNAL", "EXTERNAL"]}
            found = self._request("GET", "/v1/lookup/receivers", params=params, idempotent=True).json()
            if found:
                first = found[0]
                name = (first.get("participant") or {}).get("name") or ""
                return Receiver(eia=first["eia"], name=name, operator=first.get("operator") or "PEPPOL")
        return None

    def send_einvoice(self, ubl: bytes, idempotency_id: str, recipient_eia: str) -> OperatorDocument:
        # EIA + operator pins the route: no silent fallback to e-mail or print at the operator.
        return self._upload(
            ubl,
            idempotency_id,
            {
                "recipient_eia": recipient_eia,
                "recipient_operator": "PEPPOL",
                "disabled_routes[]": ["email", "print"],
            },
        )

    def send_print(self, ubl: bytes, idempotency_id: str) -> OperatorDocument:
        return self._upload(ubl, idempotency_id, {"disabled_routes[]": ["einvoice", "email"]})

    def _upload(self, ubl: bytes, idempotency_id: str, fields: dict[str, object]) -> OperatorDocument:
        data = {"format": FORMAT, "uuid": idempotency_id, **fields}
        files = {"file": (f"{idempotency_id}.xml", ubl, "application/xml")}
        body = self._request("POST", "/v1/invoices", data=data, files=files, idempotent=False).json()
        return _document(body)

    def find(self, idempotency_id: str) -> OperatorDocument | None:
        found = self._request("GET", "/v1/invoices", params={"uuid": idempotency_id}, idempotent=True).json()
        matching = [item for item in found if item.get("uuid") == idempotency_id]
        return _document(matching[0]) if matching else None

    def status(self, operator_invoice_id: str) -> OperatorDocument:
        return _document(self._request("GET", f"/v1/invoices/{operator_invoice_id}", idempotent=True).json())


def _document(body: dict) -> OperatorDocument:  # type: ignore[type-arg]
    message = None
    for action in reversed(body.get("actions") or []):
        if action.get("type") in {"ERROR", "DELIVERED"}:
            message = action.get("message")
            break
    return OperatorDocument(operator_invoice_id=body["id"], status=body["status"], message=message)


def _error_of(response: httpx.Response) -> tuple[str, str]:
    try:
        body = response.json()
        return str(body.get("code") or "error"), str(body.get("message") or response.reason_phrase)
    except ValueError:
        return "error", response.reason_phrase
