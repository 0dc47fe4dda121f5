"""InExchange partner API adapter for the `Operator` port (reference/einvoice.md §2).

No public vendor documentation and no sandbox exist, so this follows the calls seen in third-party clients
of the real API: every call carries the issuer's `ClientToken` header; sending is two steps (upload the
UBL → 201 with `Location`, then `POST /documents/outbound` referring to it) and carries our idempotency id
as `ErpDocumentId`; status and reconciliation read the outbound document list; receivers are found with
`buyerparties/lookup`. Whether InExchange itself refuses a repeated `ErpDocumentId` is not documented, so
dispatch always reconciles with `find` before a resend (which it does for every unknown outcome).
"""

from __future__ import annotations

from xml.etree import ElementTree

import httpx

from ..dispatch.errors import OperatorOutcomeUnknown, OperatorRejected, OperatorUnavailable
from ..observability import logger
from ..ports import OperatorDocument, Receiver
from . import operator_http

PRODUCTION_URL = "https://api.inexchange.com"
TEST_URL = "https://testapi.inexchange.se"
DOCUMENT_FORMAT = "bis3"  # Peppol BIS Billing 3
RECEIVING = "ReceivingElectronicInvoices"
_PENDING = {"PendingInPlatform", "Pending"}
_DELIVERED = {"Sent", "Delivered"}  # handed to the recipient's network / recipient
_FAILED = {"Error", "Stopped"}
_LIST_PAGE = 100
_LIST_PAGES_MAX = 50  # reconciliation looks at the newest 5,000 outbound documents at most

_UBL = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}


class InExchangeOperator:
    """One issuer's InExchange account (its client token). The token is a secret: never logged."""

    def __init__(
        self,
        base_url: str,
        client_token: str,
        *,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ):
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            transport=transport,
            headers={"ClientToken": client_token, "Accept": "application/json"},
        )

    def __repr__(self) -> str:
        return f"InExchangeOperator(base_url={str(self._client.base_url)!r})"

    def close(self) -> None:
        self._client.close()

    # --- HTTP ----------------------------------------------------------------------------------

    def _request(self, method: str, path: str, *, idempotent: bool, **kwargs) -> httpx.Response:  # type: ignore[no-untyped-def]
        """One call. `idempotent=False` (the outbound send) turns lost answers into OperatorOutcomeUnknown."""
        response = operator_http.send(self._client, method, path, idempotent=idempotent, **kwargs)
        if response.status_code >= 400:
            message = _error_message(response)
            code = "unauthorized" if response.status_code in (401, 403) else "invalid_request"
            logger.info("operator refused", extra={"path": path, "status": response.status_code})
            raise OperatorRejected(code, message, response.status_code)
        return response

    # --- Operator port -------------------------------------------------------------------------

    def lookup_receiver(self, org_number: str | None, gln: str | None) -> Receiver | None:
        """The buyer's InExchange company when it receives e-invoices; ambiguous matches count as none."""
        if not org_number and not gln:
            return None
        query: dict[str, str] = {"PartyId": org_number or gln or "", "countryCode": "SE"}
        if org_number:
            query["orgNo"] = org_number
        if gln:
            query["gln"] = gln
        body = self._request("POST", "/v1/api/buyerparties/lookup", json=query, idempotent=True).json()
        receiving = [
            party
            for party in body.get("parties") or []
            if party.get("receiveElectronicInvoiceCapability") == RECEIVING and party.get("companyId")
        ]
        if len({party["companyId"] for party in receiving}) != 1:
            return None
        party = receiving[0]
        # The InExchange company id is what `SendDocumentAs.Electronic.RecipientId` takes.
        return Receiver(eia=str(party["companyId"]), name=str(party.get("name") or ""), operator="INEXCHANGE")

    def send_einvoice(self, ubl: bytes, idempotency_id: str, recipient_eia: str) -> OperatorDocument:
        return self._send(
            ubl, idempotency_id, {"Type": "Electronic", "Electronic": {"RecipientId": recipient_eia}}
        )

    def send_print(self, ubl: bytes, idempotency_id: str) -> OperatorDocument:
        return self._send(
            ubl,
            idempotency_id,
            {"Type": "Paper", "Paper": {"RecipientAddress": buyer_postal_address(ubl)}},
        )

    def _send(self, ubl: bytes, idempotency_id: str, send_as: dict[str, object]) -> OperatorDocument:
        # The upload alone sends nothing (an orphan upload is harmless), so its timeouts are "unavailable".
        uploaded = self._request(
            "POST",
            "/v1/api/documents",
            content=ubl,
            headers={
                "Content-Type": "application/xml",
                "Content-Disposition": f'attachment; filename="{idempotency_id}.xml"',
            },
            idempotent=True,
        )
        document_uri = uploaded.headers.get("Location")
        if not document_uri:
            raise OperatorUnavailable("the operator stored the document but returned no Location")
        outbound = {
            "SendDocumentAs": send_as,
            "Document": {
                "DocumentFormat": DOCUMENT_FORMAT,
                "ErpDocumentId": idempotency_id,
                "DocumentUri": document_uri,
                "Language": "sv",
            },
        }
        sent = self._request("POST", "/v1/api/documents/outbound", json=outbound, idempotent=False)
        location = sent.headers.get("Location") or ""
        document_id = location.rstrip("/").rsplit("/", 1)[-1]
        if not document_id:
            # Accepted, but we cannot tell which document it is: reconcile by our id before anything else.
            raise OperatorOutcomeUnknown("the operator accepted the document but returned no Location")
        return OperatorDocument(operator_invoice_id=document_id, status="PENDING")

    def find(self, idempotency_id: str) -> OperatorDocument | None:
        """Our document by `ErpDocumentId`, from the outbound list (newest pages first)."""
        for page in range(_LIST_PAGES_MAX):
            body = self._request(
                "POST",
                "/v1/api/documents/outbound/list",
                json={"take": _LIST_PAGE, "skip": page * _LIST_PAGE, "includeErrorInfo": True},
                idempotent=True,
            ).json()
            documents = body.get("documents") or []
            for document in documents:
                if document.get("erpDocumentId") == idempotency_id:
                    return _document(document)
            if len(documents) < _LIST_PAGE or (page + 1) * _LIST_PAGE >= int(body.get("totalCount") or 0):
                return None
        return None

    def status(self, operator_invoice_id: str) -> OperatorDocument:
        body = self._request(
            "POST",
            f"/v1/api/invoices/outbound/{operator_invoice_id}",
            json={"includeFileInfo": False},
            idempotent=True,
        ).json()
        return _document(body)


def _document(body: dict) -> OperatorDocument:  # type: ignore[type-arg]
    status = str((body.get("currentStatus") or {}).get("status") or "")
    error = body.get("error") or {}
    if status in _FAILED:
        return OperatorDocument(str(body["id"]), "FAILED", error.get("message") or f"InExchange status {status}")
    if status in _DELIVERED:
        return OperatorDocument(str(body["id"]), "DELIVERED")
    return OperatorDocument(str(body["id"]), "PENDING")


def buyer_postal_address(ubl: bytes) -> dict[str, str]:
    """The buyer's postal address from the UBL, in InExchange's `RecipientAddress` shape (for letters)."""
    root = ElementTree.fromstring(ubl)
    party = root.find("cac:AccountingCustomerParty/cac:Party", _UBL)
    if party is None:
        raise OperatorRejected("invalid_document", "the e-invoice has no buyer party", 400)

    def text(path: str) -> str:
        return (party.findtext(path, default="", namespaces=_UBL) or "").strip()

    name = text("cac:PartyName/cbc:Name") or text("cac:PartyLegalEntity/cbc:RegistrationName")
    return {
        "Name": name,
        "StreetName": text("cac:PostalAddress/cbc:StreetName"),
        "PostalZone": text("cac:PostalAddress/cbc:PostalZone"),
        "City": text("cac:PostalAddress/cbc:CityName"),
        "CountryCode": text("cac:PostalAddress/cac:Country/cbc:IdentificationCode") or "SE",
    }


def _error_message(response: httpx.Response) -> str:
    """InExchange errors: {"message": …, "modelState": {field: [messages]}}; never echoes headers."""
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase
    message = str(body.get("message") or response.reason_phrase)
    details = [m for messages in (body.get("modelState") or {}).values() for m in messages]
    return f"{message} {' '.join(details)}".strip()
