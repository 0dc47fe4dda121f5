"""GET /failures: every failed invoice, every source invoice that could not be read or mapped (or that ours
would not agree with), and every integration needing action, across issuers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, Field

from .. import wiring
from ..failures import collect_failures
from ..fetch.decisions import ParkedSource
from .errors import documented

router = Router()


class FailedInvoice(BaseModel):
    id: str
    issuer_id: str
    number: str
    buyer: str
    status: str
    reason: str | None = None
    updated_at: str


class IntegrationNeedingAction(BaseModel):
    id: str
    issuer_id: str
    status: str
    problem: str
    last_error: str | None = None
    last_success_at: str | None = None


class UnreadableSourceInvoice(BaseModel):
    """A Spiris invoice the sync could not read or map, or whose mapping disagrees with it (contract.md §3),
    whether or not it became ours."""

    source_id: str = Field(description="The invoice's id in Spiris")
    number: str | None = Field(default=None, description="The invoice number in Spiris, when it could be read")
    issuer_id: str
    integration_id: str
    reason: str = Field(description="Why it could not be taken over")
    kind: str = Field(description="unreadable, unmappable, too_large, or fidelity (it does not agree with what Spiris booked)")
    invoice_id: str | None = Field(default=None, description="Ours, when an earlier version became an invoice")
    source_modified_utc: str | None = None
    parked_at: str | None = None


class FailuresOut(BaseModel):
    invoices: list[FailedInvoice]
    integrations: list[IntegrationNeedingAction]
    source_invoices: list[UnreadableSourceInvoice] = []


@router.get(
    "/failures",
    summary="Every failed invoice, unreadable source invoice and integration needing action, across issuers",
    responses=documented(200, "What needs the office's attention"),
)
def list_failures(issuer_id: Annotated[str | None, Query()] = None) -> FailuresOut:
    settings = wiring.operations()
    found = collect_failures(
        invoices=wiring.invoice_repository(),
        integrations=wiring.integration_repository(),
        now=datetime.now(UTC),
        stale_after=timedelta(hours=settings.stale_sync_hours),
        issuer_id=issuer_id,
        decisions=wiring.decision_store(),
    )
    return FailuresOut(
        invoices=[
            FailedInvoice(
                id=i.id,
                issuer_id=i.issuer_id,
                number=i.number,
                buyer=i.buyer.name,
                status=i.status.value,
                reason=i.status_reason,
                updated_at=i.updated_at.isoformat(),
            )
            for i in found.invoices
        ],
        integrations=[
            IntegrationNeedingAction(
                id=p.integration.id,
                issuer_id=p.integration.issuer_id,
                status=p.integration.status.value,
                problem=p.problem,
                last_error=p.integration.last_error,
                last_success_at=p.integration.last_success_at.isoformat() if p.integration.last_success_at else None,
            )
            for p in found.integrations
        ],
        source_invoices=[_source_invoice(p) for p in found.source_invoices],
    )


def _source_invoice(parked: ParkedSource) -> UnreadableSourceInvoice:
    d = parked.decision
    return UnreadableSourceInvoice(
        source_id=d.source_id,
        number=str(d.invoice_number) if d.invoice_number is not None else None,
        issuer_id=d.issuer_id or "",
        integration_id=parked.integration_id,
        reason=d.detail,
        kind=d.reason,
        invoice_id=d.invoice_id,
        source_modified_utc=d.source_modified_utc.isoformat() if d.source_modified_utc else None,
        parked_at=d.decided_at.isoformat() if d.decided_at else None,
    )
