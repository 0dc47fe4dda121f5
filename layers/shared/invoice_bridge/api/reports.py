"""GET /reports/dispatch?from=YYYY-MM-DD&to=YYYY-MM-DD&format=json|csv (Stockholm dates, inclusive)."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import BaseModel, Field

from .. import wiring
from ..dispatch.report import COLUMNS, dispatch_report, rows_as_dicts, to_csv
from .errors import ApiError, documented

router = APIGatewayRouter()

MAX_PERIOD_DAYS = 366


class ReportRowOut(BaseModel):
    type: str = Field(description="invoice or credit_note")
    number: str
    buyer: str
    channel: str
    status: str
    sent_at: str = Field(description="Stockholm local time, ISO 8601; empty when never sent")
    message: str


class DispatchReportOut(BaseModel):
    from_: str = Field(alias="from", description="First Stockholm date of the period (YYYY-MM-DD)")
    to: str = Field(description="Last Stockholm date of the period, inclusive (YYYY-MM-DD)")
    columns: list[str]
    rows: list[ReportRowOut]


_REPORT_CONTENT: dict[str, Any] = {
    "application/json": {"model": DispatchReportOut},
    "text/csv": {"schema": {"type": "string", "description": "The same rows as CSV with a header line"}},
}
# The parameters are checked by hand below (400 invalid_parameters), so they are declared as plain strings.
_DATE = "A Stockholm date, YYYY-MM-DD"


def _date_param(name: str, value: str | None) -> date:
    if not value:
        raise ApiError(400, "invalid_parameters", f"'{name}' is required (YYYY-MM-DD)", [name])
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ApiError(400, "invalid_parameters", f"'{name}' is not a date (YYYY-MM-DD)", [name]) from None


def report_period(from_: str | None, to: str | None) -> tuple[date, date]:
    """The report's period from its two Stockholm dates (ApiError 400 when missing, reversed or too long)."""
    start = _date_param("from", from_)
    end = _date_param("to", to)
    if end < start:
        raise ApiError(400, "invalid_parameters", "'to' is before 'from'", ["from", "to"])
    if (end - start).days >= MAX_PERIOD_DAYS:
        raise ApiError(
            400, "invalid_parameters", f"the period is longer than {MAX_PERIOD_DAYS} days", ["from", "to"]
        )
    return start, end


@router.get(
    "/reports/dispatch",
    summary="The dispatch report for a period: type, number, buyer, channel, status, sent_at, message",
    responses=documented(200, "The report as JSON or CSV", 400, content=_REPORT_CONTENT),
)
def dispatch_report_route(
    from_: Annotated[str | None, Query(alias="from", description=_DATE)] = None,
    to: Annotated[str | None, Query(description=_DATE)] = None,
    format: Annotated[str | None, Query(description="json (default) or csv")] = None,  # noqa: A002
    issuer_id: Annotated[str | None, Query(description="Only this issuer's invoices")] = None,
) -> Response[Any]:
    start, end = report_period(from_, to)
    output = format or "json"
    if output not in {"json", "csv"}:
        raise ApiError(400, "invalid_parameters", "'format' must be json or csv", ["format"])
    invoices, ledger = wiring.report_sources()
    rows = dispatch_report(invoices, ledger, start, end, issuer_id=issuer_id)
    if output == "csv":
        return Response(
            status_code=200,
            content_type="text/csv; charset=utf-8",
            body=to_csv(rows),
            headers={"Content-Disposition": f'attachment; filename="dispatch-{start}-{end}.csv"'},
        )
    body = {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "columns": list(COLUMNS),
        "rows": rows_as_dicts(rows),
    }
    return Response(status_code=200, content_type="application/json", body=json.dumps(body))
