"""The dispatch report for a period, on screen and as CSV (the admin API's report, same rows)."""

from __future__ import annotations

from datetime import UTC, datetime

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from ... import wiring
from ...api import reports as api_reports
from ...api.errors import ApiError
from ...dispatch.report import dispatch_report, to_csv
from ...models.common import stockholm_date
from ..app import STAFF, ctx_of
from ..web import download

router = Router()


def _period_args(from_: str, to: str) -> tuple[str, str]:
    """The period asked for, else this month so far (Stockholm dates)."""
    today = stockholm_date(datetime.now(UTC))
    return from_ or today.replace(day=1).isoformat(), to or today.isoformat()


@router.get("/console/reports/dispatch", middlewares=[STAFF])
def report_page() -> Response[str]:
    ctx = ctx_of(router)
    from_, to = _period_args(ctx.request.arg("from"), ctx.request.arg("to"))
    try:
        start, end = api_reports.report_period(from_, to)
    except ApiError as exc:
        return ctx.render("report.html", 400, rows=[], period=(from_, to), error=exc.message, csv_url=None)
    rows = dispatch_report(*wiring.report_sources(), start, end)
    csv_url = ctx.url("/console/reports/dispatch.csv", from_=start.isoformat(), to=end.isoformat())
    return ctx.render("report.html", rows=rows, period=(from_, to), error=None, csv_url=csv_url)


@router.get("/console/reports/dispatch.csv", middlewares=[STAFF])
def report_csv() -> Response[str]:
    ctx = ctx_of(router)
    start, end = api_reports.report_period(*_period_args(ctx.request.arg("from"), ctx.request.arg("to")))
    rows = dispatch_report(*wiring.report_sources(), start, end)
    return download(to_csv(rows), "text/csv; charset=utf-8", f"dispatch-{start}-{end}.csv")
