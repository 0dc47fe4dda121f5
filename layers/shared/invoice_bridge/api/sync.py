"""Admin routes of the fetch capability: ask for a sync now, and the first sync's reconciliation list."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router
from pydantic import BaseModel

from .. import wiring
from ..fetch.schedule import request_sync
from .errors import documented

router = Router()


class SyncAccepted(BaseModel):
    integration_id: str
    status: str = "queued"


class ReconciliationEntry(BaseModel):
    source_id: str
    invoice_number: int | None = None
    customer_name: str | None = None
    amount: str | None = None
    currency: str | None = None
    selected: bool
    reason: str
    detail: str = ""
    source_modified_utc: str | None = None
    invoice_id: str | None = None


class Reconciliation(BaseModel):
    integration_id: str
    first_sync_done: bool
    items: list[ReconciliationEntry]
    selected: int
    skipped: int


@router.post(
    "/integrations/<integration_id>/sync",
    summary="Sync this integration now",
    responses=documented(202, "A sync is queued", 404),
)
def post_sync(integration_id: str) -> tuple[SyncAccepted, int]:
    request_sync(wiring.integration_repository(), wiring.sync_queue(), integration_id)  # NotFound → 404
    return SyncAccepted(integration_id=integration_id), 202


@router.get(
    "/integrations/<integration_id>/reconciliation",
    summary="The first sync's list of source invoices",
    responses=documented(200, "Every source invoice the first sync saw, selected or not, and why", 404),
)
def get_reconciliation(integration_id: str) -> Reconciliation:
    integration = wiring.integration_repository().get(integration_id)  # NotFound → 404
    decisions = sorted(
        wiring.decision_store().reconciliation(integration_id),
        key=lambda d: (d.invoice_number is None, d.invoice_number or 0),
    )
    items = [
        ReconciliationEntry(
            source_id=d.source_id,
            invoice_number=d.invoice_number,
            customer_name=d.customer_name,
            amount=str(d.amount) if d.amount is not None else None,
            currency=d.currency,
            selected=d.selected,
            reason=d.reason,
            detail=d.detail,
            source_modified_utc=d.source_modified_utc.isoformat() if d.source_modified_utc else None,
            invoice_id=d.invoice_id,
        )
        for d in decisions
    ]
    selected = sum(1 for i in items if i.selected)
    return Reconciliation(
        integration_id=integration_id,
        first_sync_done=integration.first_sync_done,
        items=items,
        selected=selected,
        skipped=len(items) - selected,
    )
