"""InExchange partner API adapter for the `Operator` port (reference/einvoice.md §2, checked against
client code in §2.6).

No public vendor documentation exists, so this follows the calls seen in third-party clients of the real
API. Two levels of auth: the office's partner key (`APIKey`) creates a client token per issuer, with our
issuer id as `erpId`; every document, lookup and status call carries that `ClientToken`. A call that
answers 401 gets a new client token once (`ClientTokenSource.renew`). Sending is two steps (upload the
UBL → 201 with `Location`, then `POST /documents/outbound` referring to it) and carries our idempotency id
as `ErpDocumentId`; a sent invoice is found by that id (`invoices/outbound/byerpid`), never by paging a
list that has no documented order. Buyer lookups keep exact hits only. A status value we do not know is
reported as UNKNOWN, never read as pending.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import httpx

from ..observability import logger, trace_httpx
from ..ports import (
    InExchangePartner,
    Letter,
    OperatorCredentialStore,
    OperatorDocument,
    OperatorOutcomeUnknown,
    OperatorRejected,
    OperatorUnavailable,
    PrintService,
    Receiver,
)
from . import operator_http

trace_httpx()

PRODUCTION_URL = "https://api.inexchange.com"
TEST_URL = "https://testapi.inexchange.se"
DOCUMENT_FORMAT = "bis3"  # Peppol BIS Billing 3
RECEIVING = "ReceivingElectronicInvoices"
OPERATOR_CODE = "INEXCHANGE"
_PENDING = frozenset({"PendingInPlatform", "Pending"})
_DELIVERED = frozenset({"Sent", "Delivered"})  # handed to the recipient's network / recipient
_FAILED = frozenset({"Error", "Stopped"})
_AUTH_STATUSES = frozenset({401, 403})


class ClientTokenSource(Protocol):
    """The issuer's client token, and a new one when InExchange refuses it (None: none to be had)."""

    def current(self) -> str: ...
    def renew(self, rejected: str) -> str | None: ...


class FixedClientToken:
    """A client token that cannot be renewed (pasted by the office, or in tests)."""

    def __init__(self, token: str):
        self._token = token

    def current(self) -> str:
        return self._token

    def renew(self, rejected: str) -> str | None:
        return None

    def __repr__(self) -> str:
        return "FixedClientToken(***)"


class InExchangeOperator:
    """One issuer's InExchange account (its client token). The token is a secret: never logged."""

    def __init__(
        self,
        base_url: str,
        client_token: str | ClientTokenSource,
        *,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ):
        self._tokens = FixedClientToken(client_token) if isinstance(client_token, str) else client_token
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"), timeout=timeout, transport=transport, headers={"Accept": "application/json"}
        )

    def __repr__(self) -> str:
        return f"InExchangeOperator(base_url={str(self._client.base_url)!r})"

    def close(self) -> None:
        self._client.close()

    # --- HTTP ----------------------------------------------------------------------------------

    def _request(
        self, method: str, path: str, *, idempotent: bool, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        """One call; a 401 renews the client token once. `idempotent=False` (the outbound send) turns lost
        answers into OperatorOutcomeUnknown."""
        for attempt in (1, 2):
            token = self._tokens.current()
            response = operator_http.send(
                self._client, method, path, idempotent=idempotent,
                headers={**(headers or {}), "ClientToken": token}, **kwargs,
            )
            if response.status_code == 401 and attempt == 1 and self._tokens.renew(token) is not None:
                continue  # refused token: the call runs again on the new one (nothing happened on a 401)
            if response.status_code >= 400:
                raise _rejected(response, path)
            return response
        raise AssertionError("unreachable")

    # --- Operator port -------------------------------------------------------------------------

    def lookup_receiver(self, org_number: str | None, gln: str | None) -> Receiver | None:
        """The buyer's InExchange company when the lookup is an exact hit that receives e-invoices."""
        if not org_number and not gln:
            return None
        query: dict[str, str] = {"PartyId": org_number or gln or "", "countryCode": "SE"}
        if org_number:
            query["orgNo"] = org_number
        if gln:
            query["gln"] = gln
        body = self._request("POST", "/v1/api/buyerparties/lookup", json=query, idempotent=True).json()
        if body.get("exactHit") is not True:
            return None  # potential matches are other companies that look alike: never send to them
        receiving = [
            party
            for party in body.get("parties") or []
            if party.get("receiveElectronicInvoiceCapability") == RECEIVING
            and party.get("companyId")
            and _same_party(party, org_number, gln)
        ]
        if len({str(party["companyId"]) for party in receiving}) != 1:
            return None
        party = receiving[0]
        # The InExchange company id is what `SendDocumentAs.Electronic.RecipientId` takes.
        return Receiver(
            eia=str(party["companyId"]), name=str(party.get("name") or ""), operator=OPERATOR_CODE,
            network=OPERATOR_CODE,
        )

    def send_einvoice(self, ubl: bytes, idempotency_id: str, receiver: Receiver) -> OperatorDocument:
        document_uri = self._upload(ubl, "application/xml", f"{idempotency_id}.xml")
        send_as = {"Type": "Electronic", "Electronic": {"RecipientId": receiver.eia}}
        return self._send(send_as, idempotency_id, {"DocumentUri": document_uri})

    def send_print(self, letter: Letter, idempotency_id: str) -> OperatorDocument:
        # Our PDF travels as the rendered document: it is what InExchange prints.
        document_uri = self._upload(letter.xml, "application/xml", f"{idempotency_id}.xml")
        pdf_uri = self._upload(letter.pdf, "application/pdf", f"{idempotency_id}.pdf")
        send_as = {"Type": "Paper", "Paper": {"RecipientAddress": recipient_address(letter)}}
        document = {"DocumentUri": document_uri, "RenderedDocumentFormat": "application/pdf",
                    "RenderedDocumentUri": pdf_uri}
        return self._send(send_as, idempotency_id, document)

    def print_service(self) -> PrintService:
        # No call reads a client's paper settings; the paper service prints the rendered PDF we send.
        return PrintService(enabled=True, own_image=True)

    def _upload(self, body: bytes, content_type: str, filename: str) -> str:
        """Upload one file; its URI. The upload alone sends nothing, so its timeouts are "unavailable"."""
        uploaded = self._request(
            "POST", "/v1/api/documents", content=body, idempotent=True,
            headers={"Content-Type": content_type, "Content-Disposition": f'attachment; filename="{filename}"'},
        )
        location: str | None = uploaded.headers.get("Location")
        if not location:
            raise OperatorUnavailable("the operator stored the document but returned no Location")
        return location

    def _send(
        self, send_as: Mapping[str, object], idempotency_id: str, document: dict[str, str]
    ) -> OperatorDocument:
        outbound = {
            "SendDocumentAs": send_as,
            "Document": {"DocumentFormat": DOCUMENT_FORMAT, "ErpDocumentId": idempotency_id, "Language": "sv",
                         **document},
        }
        try:
            sent = self._request("POST", "/v1/api/documents/outbound", json=outbound, idempotent=False)
        except OperatorRejected as refused:
            if refused.status in _AUTH_STATUSES:
                raise
            existing = self.find(idempotency_id)  # a refused repeat of ours: it is there already
            if existing is None:
                raise
            logger.info("send refused, but the document exists under our id", extra={"status": refused.status})
            return existing
        document_id = (sent.headers.get("Location") or "").rstrip("/").rsplit("/", 1)[-1]
        if not document_id:
            # Accepted, but we cannot tell which document it is: reconcile by our id before anything else.
            raise OperatorOutcomeUnknown("the operator accepted the document but returned no Location")
        return OperatorDocument(operator_invoice_id=document_id, status="PENDING")

    def find(self, idempotency_id: str) -> OperatorDocument | None:
        """The outbound invoice that carries our id as `ErpDocumentId`, or None."""
        return operator_http.unless_not_found(lambda: _document(self._request(
            "POST", f"/v1/api/invoices/outbound/byerpid/{idempotency_id}", json={"includeFileInfo": False},
            idempotent=True,
        ).json()))

    def status(self, operator_invoice_id: str) -> OperatorDocument:
        body = self._request(
            "POST", f"/v1/api/invoices/outbound/{operator_invoice_id}", json={"includeFileInfo": False},
            idempotent=True,
        ).json()
        return _document(body)


class InExchangePartnerApi:
    """The partner level: client tokens created and revoked with the office's partner API key."""

    def __init__(
        self, base_url: str, partner_api_key: str, *, timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ):
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"), timeout=timeout, transport=transport,
            headers={"APIKey": partner_api_key, "Accept": "application/json"},
        )

    def __repr__(self) -> str:
        return f"InExchangePartnerApi(base_url={str(self._client.base_url)!r})"

    def create_client_token(self, erp_id: str) -> str:
        # No validTo: the token lives until revoked (renewed when a call answers 401).
        response = self._call("/v1/api/clientTokens/create", {"erpId": erp_id, "validTo": None})
        token = response.json().get("token")
        if not token:
            raise OperatorUnavailable("InExchange created no client token")
        return str(token)

    def revoke_client_token(self, client_token: str) -> None:
        self._call("/v1/api/clientTokens/revoke", {"clientToken": client_token})

    def _call(self, path: str, body: dict[str, object]) -> httpx.Response:
        # Creating a token twice only leaves an unused token: safe to repeat after a lost answer.
        response = operator_http.send(self._client, "POST", path, idempotent=True, json=body)
        if response.status_code >= 400:
            raise _rejected(response, path)
        return response


class RenewingClientToken:
    """An issuer's stored client token; a refused one is replaced by the stored one (someone renewed it
    meanwhile) or by a new one the partner creates for our id, stored encrypted for the next call."""

    def __init__(
        self,
        issuer_id: str,
        token: str,
        store: OperatorCredentialStore,
        partner: Callable[[], InExchangePartner | None],
    ):
        self._issuer_id, self._token = issuer_id, token
        self._store, self._partner = store, partner
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RenewingClientToken(issuer_id={self._issuer_id!r})"

    def current(self) -> str:
        return self._token

    def renew(self, rejected: str) -> str | None:
        with self._lock:
            if self._token != rejected:
                return self._token  # another call renewed it already
            provider, credentials = self._store.load(self._issuer_id) or ("", {})
            stored = credentials.get("client_token") if provider == "inexchange" else None
            if stored and stored != rejected:
                self._token = stored
                return stored
            partner = self._partner()
            if partner is None:
                return None
            self._token = partner.create_client_token(self._issuer_id)
            self._store.save(self._issuer_id, "inexchange", {**credentials, "client_token": self._token,
                                                             "erp_id": self._issuer_id})
            logger.info("InExchange client token renewed", extra={"issuer_id": self._issuer_id})
            return self._token


def recipient_address(letter: Letter) -> dict[str, str]:
    """The letter's address in InExchange's `RecipientAddress` shape."""
    address = letter.address
    street = ", ".join(part for part in (address.street, address.street2) if part)
    return {
        "Name": letter.name,
        "StreetName": street,
        "PostalZone": address.postal_code or "",
        "City": address.city or "",
        "CountryCode": address.country or "SE",
    }


def _same_party(party: dict[str, Any], org_number: str | None, gln: str | None) -> bool:
    """The party carries the identifier we asked for (an exact hit on it, not on a name)."""
    digits = "".join(ch for ch in str(party.get("orgNo") or "") if ch.isdigit())
    return bool((org_number and digits == org_number) or (gln and str(party.get("gln") or "") == gln))


def _document(body: dict[str, Any]) -> OperatorDocument:
    status = str((body.get("currentStatus") or {}).get("status") or "")
    error = body.get("error") or {}
    document_id = str(body["id"])
    if status in _FAILED:
        return OperatorDocument(document_id, "FAILED", error.get("message") or f"InExchange status {status}")
    if status in _DELIVERED:
        return OperatorDocument(document_id, "DELIVERED")
    if status in _PENDING:
        return OperatorDocument(document_id, "PENDING")
    return OperatorDocument(document_id, "UNKNOWN", f"InExchange reports the status {status!r}")


def _rejected(response: httpx.Response, path: str) -> OperatorRejected:
    code = "unauthorized" if response.status_code in _AUTH_STATUSES else "invalid_request"
    if response.status_code == 404:
        code = "not_found"
    logger.info("operator refused", extra={"path": path, "status": response.status_code})
    return OperatorRejected(code, _error_message(response), response.status_code)


def _error_message(response: httpx.Response) -> str:
    """InExchange errors: {"message": …, "modelState": {field: [messages]}}; never echoes headers."""
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase
    if not isinstance(body, dict):
        return response.reason_phrase
    message = str(body.get("message") or response.reason_phrase)
    details = [m for messages in (body.get("modelState") or {}).values() for m in messages]
    return f"{message} {' '.join(details)}".strip()
