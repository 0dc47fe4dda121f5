"""What needs the office's action, across issuers: failed invoices, source invoices that could not be
taken over (parked by the sync), and integrations that stopped."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .fetch.decisions import DecisionStore, ParkedSource
from .fetch.schedule import stale_integrations
from .models.integration import Integration, IntegrationStatus
from .models.invoice import Invoice, InvoiceStatus
from .ports import IntegrationRepository, InvoiceRepository

NEEDS_ACTION = {IntegrationStatus.NEEDS_RECONSENT, IntegrationStatus.ERROR}


@dataclass(frozen=True)
class IntegrationProblem:
    integration: Integration
    problem: str  # needs_reconsent | error | stale


@dataclass(frozen=True)
class Failures:
    invoices: list[Invoice]
    integrations: list[IntegrationProblem]
    source_invoices: list[ParkedSource] = field(default_factory=list)


def collect_failures(
    *,
    invoices: InvoiceRepository,
    integrations: IntegrationRepository,
    now: datetime,
    stale_after: timedelta,
    issuer_id: str | None = None,
    decisions: DecisionStore | None = None,
) -> Failures:
    failed: list[Invoice] = []
    cursor: str | None = None
    while True:
        page, cursor = invoices.list(issuer_id=issuer_id, status=InvoiceStatus.FAILED.value, limit=200, cursor=cursor)
        failed.extend(page)
        if cursor is None:
            break
    every = integrations.list(issuer_id)
    problems = [IntegrationProblem(i, i.status.value) for i in every if i.status in NEEDS_ACTION]
    problems += [IntegrationProblem(i, "stale") for i in stale_integrations(every, now, stale_after)]
    parked = decisions.parked(issuer_id) if decisions is not None else []
    return Failures(invoices=failed, integrations=problems, source_invoices=parked)
