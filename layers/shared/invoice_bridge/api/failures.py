"""GET /failures: every failed invoice and every integration needing action, across issuers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel

from .. import wiring
from ..failures import collect_failures
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


class FailuresOut(BaseModel):
    invoices: list[FailedInvoice]
    integrations: list[IntegrationNeedingAction]


@router.get(
    "/failures",
    summary="Every failed invoice and every integration needing action, across issuers",
    responses=documented(200, "What needs the office's attention"),
)
def list_failures(issuer_id: Annotated[str | None, Query()] = None) -> FailuresOut:
    settings = wiring.get_settings()
    found = collect_failures(
        invoices=wiring.invoice_repository(),
        integrations=wiring.integration_repository(),
        now=datetime.now(UTC),
        stale_after=timedelta(hours=settings.stale_sync_hours),
        issuer_id=issuer_id,
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
    )
