"""Admin routes of the approval mode (contract.md §3; docs/sending.md): the invoices waiting for the
office's approval, and the approval of one."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, Field

from .. import wiring
from ..invoices import InvalidTransition, approve_invoice
from .errors import ApiError, documented
from .invoices import Accepted, InvoiceSummary, caller, summary_fields

router = Router()


class ApprovalItem(InvoiceSummary):
    version: int = Field(description="the version an approval now would approve")
    issue_date: str
    due_date: str | None = None
    pdf_url: str | None = Field(default=None, description="short-lived link to the rendered PDF")


class ApprovalList(BaseModel):
    items: list[ApprovalItem]


@router.get(
    "/approvals",
    summary="Invoices waiting for the office's approval (issuers with sending: approve), per issuer, oldest first",
    responses=documented(200, "Every invoice waiting for approval"),
)
def list_approvals(issuer_id: Annotated[str | None, Query()] = None) -> ApprovalList:
    documents = wiring.document_store()
    return ApprovalList(items=[
        ApprovalItem(
            **summary_fields(invoice),
            version=invoice.version,
            issue_date=invoice.issue_date.isoformat(),
            due_date=invoice.due_date.isoformat() if invoice.due_date else None,
            pdf_url=documents.presign(invoice.pdf_key) if invoice.pdf_key else None,
        )
        for invoice in wiring.invoice_repository().waiting_for_approval(issuer_id)
    ])


@router.post(
    "/invoices/<invoice_id>/approve",
    summary="Approve an invoice waiting for approval: its newest version goes out (after its send delay, if any)",
    responses=documented(202, "Approved: queued for dispatch, or held for its send delay", 404, 409),
)
def approve(invoice_id: str) -> tuple[Accepted, int]:
    try:
        invoice = approve_invoice(
            invoice_id,
            invoices=wiring.invoice_repository(),
            issuers=wiring.issuer_repository(),
            dispatch_queue=wiring.dispatch_queue(),
            by=caller(),
        )
    except InvalidTransition as exc:
        raise ApiError(409, "invalid_state", str(exc)) from exc
    return Accepted(id=invoice.id, status=invoice.status.value), 202
