"""Admin routes for invoices: list, show (with events and short-lived document links), retry, release.
The approval routes are in approvals.py."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from pydantic import BaseModel, Field

from .. import wiring
from ..invoices import OFFICE, InvalidTransition, release_invoice, release_invoices, retry_invoice
from ..models.invoice import Invoice, InvoiceEvent, InvoiceStatus
from .errors import ApiError, documented

router = Router()


class BuyerOut(BaseModel):
    name: str
    org_number: str | None = None


class EventOut(BaseModel):
    at: str
    status: str
    detail: str


class InvoiceSummary(BaseModel):
    id: str
    issuer_id: str
    source_id: str
    number: str
    type: str
    buyer: BuyerOut
    total: str
    currency: str
    status: str
    status_reason: str | None = None
    channel: str | None = None
    send_at: str | None = Field(default=None, description="with a send delay: not sent before this (UTC)")
    updated_at: str


class ApprovalOut(BaseModel):
    by: str
    at: str
    version: int = Field(description="the version approved; a change at the source needs approval again")


class InvoiceDetail(InvoiceSummary):
    version: int
    approval: ApprovalOut | None = None
    events: list[EventOut]
    pdf_url: str | None = None
    einvoice_url: str | None = None


class InvoiceList(BaseModel):
    items: list[InvoiceSummary]
    next_cursor: str | None = None


class Accepted(BaseModel):
    id: str
    status: str


MAX_RELEASED_AT_ONCE = 100  # one BatchGetItem reads them


class ReleaseOrder(BaseModel):
    ids: list[str] = Field(min_length=1, max_length=MAX_RELEASED_AT_ONCE, description="the held invoices to release")


class NotReleased(BaseModel):
    id: str
    reason: str


class ReleasedMany(BaseModel):
    released: list[Accepted]
    not_released: list[NotReleased] = Field(description="not held (any more), changed meanwhile, or not found")
    not_handed_on: list[str] = Field(
        description="released, but the dispatch queue did not take their message now: the sweeper hands them on")


def summary_fields(invoice: Invoice) -> dict[str, Any]:
    return {
        "id": invoice.id,
        "issuer_id": invoice.issuer_id,
        "source_id": invoice.source_id,
        "number": invoice.number,
        "type": invoice.document_type,
        "buyer": BuyerOut(name=invoice.buyer.name, org_number=invoice.buyer.org_number),
        "total": str(invoice.gross_total),
        "currency": invoice.currency,
        "status": invoice.status.value,
        "status_reason": invoice.status_reason,
        "channel": invoice.channel,
        "send_at": invoice.send_at.isoformat() if invoice.send_at else None,
        "updated_at": invoice.updated_at.isoformat(),
    }


def caller() -> str:
    """Who made this request, for the invoice's history: the IAM principal API Gateway authenticated."""
    event = router.current_event
    if not isinstance(event, APIGatewayProxyEvent):
        return OFFICE
    identity = event.request_context.identity
    return identity.user_arn or identity.caller or OFFICE


def _event(event: InvoiceEvent) -> EventOut:
    return EventOut(at=event.at.isoformat(), status=event.status, detail=event.detail)


@router.get(
    "/invoices",
    summary="List invoices one full page at a time: an issuer's newest first; without an issuer by status",
    responses=documented(200, "A page of invoices", 400),
)
def list_invoices(
    issuer_id: Annotated[str | None, Query()] = None,
    status: Annotated[InvoiceStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query()] = None,
) -> InvoiceList:
    try:
        items, next_cursor = wiring.invoice_repository().list(
            issuer_id=issuer_id, status=status.value if status else None, limit=limit, cursor=cursor
        )
    except ValueError as exc:
        raise ApiError(400, "invalid_cursor", "The cursor is not valid; start again without it") from exc
    return InvoiceList(items=[InvoiceSummary(**summary_fields(i)) for i in items], next_cursor=next_cursor)


@router.get(
    "/invoices/<invoice_id>",
    summary="Show an invoice with its events and short-lived document links",
    responses=documented(200, "The invoice", 404),
)
def get_invoice(invoice_id: str) -> InvoiceDetail:
    invoice = wiring.invoice_repository().get(invoice_id)
    documents = wiring.document_store()
    approval = invoice.approval
    return InvoiceDetail(
        **summary_fields(invoice),
        version=invoice.version,
        approval=ApprovalOut(by=approval.by, at=approval.at.isoformat(), version=approval.version)
        if approval else None,
        events=[_event(e) for e in wiring.invoice_repository().events(invoice_id)],
        pdf_url=documents.presign(invoice.pdf_key) if invoice.pdf_key else None,
        einvoice_url=documents.presign(invoice.einvoice_key) if invoice.einvoice_key else None,
    )


@router.post(
    "/invoices/<invoice_id>/retry",
    summary="Send a failed invoice again after its cause was fixed",
    responses=documented(202, "Queued for rendering again", 404, 409),
)
def retry(invoice_id: str) -> tuple[Accepted, int]:
    try:
        invoice = retry_invoice(invoice_id, invoices=wiring.invoice_repository(), render_queue=wiring.render_queue())
    except InvalidTransition as exc:
        raise ApiError(409, "invalid_state", str(exc)) from exc
    return Accepted(id=invoice.id, status=invoice.status.value), 202


@router.post(
    "/invoices/<invoice_id>/release",
    summary="Let a held invoice go out now (whatever it waits for: review, approval, its send delay)",
    responses=documented(202, "Queued for dispatch", 404, 409, 503),
)
def release(invoice_id: str) -> tuple[Accepted, int]:
    try:
        invoice = release_invoice(
            invoice_id, invoices=wiring.invoice_repository(), dispatch_queue=wiring.dispatch_queue(), by=caller()
        )
    except InvalidTransition as exc:
        raise ApiError(409, "invalid_state", str(exc)) from exc
    return Accepted(id=invoice.id, status=invoice.status.value), 202


@router.post(
    "/invoices/release",
    summary="Let many held invoices go out now (a first sync after the office's review), each as its own release",
    responses=documented(200, "What was released, and what was not with why", 400, 503),
)
def release_many(body: Annotated[ReleaseOrder, Body()]) -> ReleasedMany:
    result = release_invoices(
        body.ids, invoices=wiring.invoice_repository(), dispatch_queue=wiring.dispatch_queue(), by=caller()
    )
    return ReleasedMany(
        released=[Accepted(id=i.id, status=i.status.value) for i in result.released],
        not_released=[NotReleased(id=invoice_id, reason=reason) for invoice_id, reason in result.refused.items()]
        + [NotReleased(id=invoice_id, reason="it changed meanwhile; look again") for invoice_id in result.changed],
        not_handed_on=list(result.not_handed_on),
    )
