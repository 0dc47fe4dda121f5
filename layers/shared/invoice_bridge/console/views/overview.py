"""The overview: what needs the office now, and the last 30 days of sends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from ... import wiring
from ...failures import collect_failures
from ...models.common import stockholm_date
from ...models.invoice import SEND_DELAY
from ..app import STAFF, ctx_of
from ..chart import sends_chart
from ..queries import CHANNELS, STATES, chart_period, every_invoice, sends_by_day

router = Router()
_SHOWN = 8


@router.get("/console", middlewares=[STAFF])
def overview() -> Response[str]:
    ctx = ctx_of(router)
    now = datetime.now(UTC)
    invoices = wiring.invoice_repository()
    found = collect_failures(
        invoices=invoices,
        integrations=wiring.integration_repository(),
        now=now,
        stale_after=timedelta(hours=wiring.operations().stale_sync_hours),
    )
    # What waits for the office: not the invoices that wait only for their send delay (they go by themselves).
    held = [i for i in every_invoice(invoices, status="held") if i.status_reason != SEND_DELAY]
    today = stockholm_date(now)
    start, end = chart_period(today)
    sends = sends_by_day(wiring.delivery_ledger().sent_between(start, end), today)
    return ctx.render(
        "overview.html",
        problems=found.integrations[:_SHOWN],
        problem_count=len(found.integrations),
        failed=found.invoices[:_SHOWN],
        failed_count=len(found.invoices),
        held=held[:_SHOWN],
        held_count=len(held),
        issuers={i.id: i for i in wiring.consent_services().issuers.list()},
        chart=sends_chart(sends, ctx.t),
        sends=sends,
        channels=CHANNELS,
        states=STATES,
    )
