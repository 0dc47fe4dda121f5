"""Maventa AX API adapter for the `Operator` port (reference/einvoice.md §1, checked against client code
in §1.7).

One instance per issuer account (company UUID + user API key). Tokens are cached per company UUID until
shortly before expiry. What the service really does, and what we do about it:

- An upload carries our deterministic `uuid`, which becomes the invoice's id. The list of invoices has no
  `uuid` filter and its invoices no `uuid` field, so an upload whose answer was lost is found by reading
  `GET /v1/invoices/{uuid}` (found: created; 404: not). A repeated `uuid` is refused, not answered with
  the existing invoice: any refusal of an upload is therefore read by id first, and only a refusal for
  an invoice that does not exist is a failure.
- 429, 408 and 5xx are "try later" (OperatorUnavailable with the Retry-After), never a refusal.
- The receiver lookup answers hits in three networks (PEPPOL, INTERNAL, EXTERNAL), each with its own
  operator; EIA + operator pin the route with no fallback at Maventa, so we pin the one the lookup
  returned, and our own channel policy does the fallback.
- Letters: printing is a company setting (`send_invoice_print`); Maventa prints its own template unless
  `use_own_pdf` is on, and takes our PDF as the invoice image in a ZIP next to the invoice XML.
"""

from __future__ import annotations

import io
import threading
import time
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from ..observability import logger, trace_httpx
from ..ports import Letter, OperatorDocument, OperatorRejected, PrintService, Receiver
from . import operator_http

trace_httpx()

# invoice:send + lookup to send; company:read for the print settings.
SCOPE = "invoice:send lookup company:read"
FORMAT = "PEPPOLBIS30"
NETWORKS = ("PEPPOL", "INTERNAL", "EXTERNAL")
# Maventa's own order for Swedish receivers: its own network, then Peppol, then other operators'.
NETWORK_PREFERENCE = {"INTERNAL": 0, "PEPPOL": 1, "EXTERNAL": 2}
KNOWN_STATUSES = frozenset({"PENDING", "DELIVERED", "FAILED"})
_EXPIRY_MARGIN_SECONDS = 60
_AUTH_STATUSES = frozenset({401, 403})


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
        return str(body["access_token"])

    def _forget_token(self) -> None:
        with _TOKENS_LOCK:
            _TOKENS.pop(self._credentials.company_uuid, None)

    # --- HTTP ----------------------------------------------------------------------------------

    def _request(
        self, method: str, path: str, *, authorised: bool = True, idempotent: bool, **kwargs: Any
    ) -> httpx.Response:
        """One call. `idempotent=False` (uploads) turns lost answers into OperatorOutcomeUnknown."""
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
        """The buyer's best e-invoice address in any network, with the operator that serves it."""
        queries: list[dict[str, object]] = []
        if org_number:
            queries.append({"bid": org_number, "country[]": ["SE"]})
        if gln:
            queries.append({"eia": f"0088:{gln}"})
        for query in queries:
            params = {**query, "network[]": list(NETWORKS)}
            hits = self._request("GET", "/v1/lookup/receivers", params=params, idempotent=True).json()
            receiver = best_receiver(hits or [])
            if receiver is not None:
                return receiver
        return None

    def send_einvoice(self, ubl: bytes, idempotency_id: str, receiver: Receiver) -> OperatorDocument:
        # EIA + operator pin the route at Maventa (no fallback there): the fallback is our policy's.
        fields = {
            "recipient_eia": receiver.eia,
            "recipient_operator": receiver.operator,
            "disabled_routes[]": ["email", "print"],
        }
        return self._upload((f"{idempotency_id}.xml", ubl, "application/xml"), idempotency_id, fields)

    def send_print(self, letter: Letter, idempotency_id: str) -> OperatorDocument:
        # Our PDF as the invoice image: a ZIP of the invoice XML and the PDF (printed when own-image
        # printing is on; otherwise Maventa prints its template and the PDF rides along).
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
            bundle.writestr("invoice.xml", letter.xml)
            bundle.writestr("invoice.pdf", letter.pdf)
        file = (f"{idempotency_id}.zip", archive.getvalue(), "application/zip")
        return self._upload(file, idempotency_id, {"disabled_routes[]": ["einvoice", "email"]})

    def print_service(self) -> PrintService:
        try:
            body = self._request(
                "GET", "/v1/company/settings", params={"fields[]": ["send_invoice_print"]}, idempotent=True
            ).json()
        except OperatorRejected as exc:  # e.g. a user without company:read: the upload itself will tell
            return PrintService(enabled=True, own_image=False,
                                detail=f"Maventa's print settings could not be read ({exc.code})")
        settings = body.get("send_invoice_print") or {}
        enabled, own = bool(settings.get("enabled")), bool(settings.get("use_own_pdf"))
        detail = None
        if not enabled:
            detail = "Maventa's print service is off for this company (send_invoice_print.enabled)"
        elif not own:
            detail = "Maventa prints its own template: own-image printing (use_own_pdf) is off"
        return PrintService(enabled=enabled, own_image=own, detail=detail)

    def _upload(
        self, file: tuple[str, bytes, str], idempotency_id: str, fields: Mapping[str, object]
    ) -> OperatorDocument:
        data = {"format": FORMAT, "uuid": idempotency_id, **fields}
        try:
            body = self._request("POST", "/v1/invoices", data=data, files={"file": file}, idempotent=False).json()
        except OperatorRejected as refused:
            if refused.status in _AUTH_STATUSES:
                raise
            # A repeated uuid (or a 409 on our id) is refused, not answered with the invoice: read it.
            existing = self.find(idempotency_id)
            if existing is None:
                raise
            logger.info("upload refused, but the invoice exists under our id", extra={"code": refused.code})
            return existing
        return _document(body)

    def find(self, idempotency_id: str) -> OperatorDocument | None:
        """The invoice uploaded with our `uuid` (its id), or None when Maventa has none."""
        return operator_http.unless_not_found(
            lambda: _document(self._request("GET", f"/v1/invoices/{idempotency_id}", idempotent=True).json())
        )

    def status(self, operator_invoice_id: str) -> OperatorDocument:
        return _document(self._request("GET", f"/v1/invoices/{operator_invoice_id}", idempotent=True).json())


def best_receiver(hits: list[dict[str, Any]]) -> Receiver | None:
    """The hit Maventa itself would prefer (own network, then Peppol, then other operators'), among
    those that take invoices."""
    usable = [hit for hit in hits if hit.get("eia") and _takes_invoices(hit)]
    if not usable:
        return None
    best = min(usable, key=lambda hit: NETWORK_PREFERENCE.get(str(hit.get("network")), len(NETWORK_PREFERENCE)))
    network = str(best.get("network") or "PEPPOL")
    name = (best.get("participant") or {}).get("name") or ""
    return Receiver(eia=str(best["eia"]), name=str(name), operator=str(best.get("operator") or network), network=network)


def _takes_invoices(hit: dict[str, Any]) -> bool:
    types = hit.get("document_types")
    if not types:  # not said: the lookup found it as a receiver
        return True
    return any(str(t.get("document_type", "")).upper() == "INVOICE" for t in types if isinstance(t, dict))


def _document(body: dict[str, Any]) -> OperatorDocument:
    status = str(body.get("status") or "")
    message = None
    for action in reversed(body.get("actions") or []):
        if action.get("type") in {"ERROR", "DELIVERED"}:
            message = action.get("message")
            break
    if status not in KNOWN_STATUSES:
        return OperatorDocument(str(body["id"]), "UNKNOWN", f"Maventa reports the status {status!r}")
    return OperatorDocument(operator_invoice_id=str(body["id"]), status=status, message=message)


def _error_of(response: httpx.Response) -> tuple[str, str]:
    """(code, message) from Maventa's `{code, message, details[]}`; the details are the useful part."""
    try:
        body = response.json()
    except ValueError:
        return "error", response.reason_phrase
    if not isinstance(body, dict):
        return "error", response.reason_phrase
    message = str(body.get("message") or response.reason_phrase)
    details = [str(d) for d in body.get("details") or [] if d]
    return str(body.get("code") or "error"), f"{message}: {'; '.join(details)}" if details else message
