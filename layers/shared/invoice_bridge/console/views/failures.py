"""Failures: one inbox across issuers, grouped by cause, each group with the action that fixes it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from ... import wiring
from ...failures import collect_failures
from ..app import STAFF, ctx_of
from ..queries import group_failures, next_step_key

router = Router()


@router.get("/console/failures", middlewares=[STAFF])
def failures() -> Response[str]:
    ctx = ctx_of(router)
    found = collect_failures(
        invoices=wiring.invoice_repository(),
        integrations=wiring.integration_repository(),
        now=datetime.now(UTC),
        stale_after=timedelta(hours=wiring.operations().stale_sync_hours),
    )
    return ctx.render(
        "failures.html",
        groups=group_failures(found.invoices),
        problems=found.integrations,
        next_steps={p.integration.id: next_step_key(p.integration, stale=p.problem == "stale") for p in found.integrations},
        issuers={i.id: i for i in wiring.consent_services().issuers.list()},
    )
