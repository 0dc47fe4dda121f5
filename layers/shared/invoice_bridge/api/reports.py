"""GET /reports/dispatch?from=YYYY-MM-DD&to=YYYY-MM-DD&format=json|csv (Stockholm dates, inclusive)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from ..dispatch.report import COLUMNS, dispatch_report, rows_as_dicts, to_csv
from ..ports import DeliveryLedger, InvoiceRepository
from .errors import ApiError

router = APIGatewayRouter()

MAX_PERIOD_DAYS = 366


def _default_sources() -> tuple[InvoiceRepository, DeliveryLedger]:
    from ..adapters.dynamo_deliveries import DynamoDeliveryLedger
    from ..adapters.dynamo_invoices import DynamoInvoiceRepository  # the lead's adapter
    from ..settings import get_settings

    table = get_settings().table_name
    return DynamoInvoiceRepository(table), DynamoDeliveryLedger(table)


# The embedded stack and tests may point the report at other repositories.
sources: Callable[[], tuple[InvoiceRepository, DeliveryLedger]] = _default_sources


def _date_param(name: str, value: str | None) -> date:
    if not value:
        raise ApiError(400, "invalid_parameters", f"'{name}' is required (YYYY-MM-DD)", [name])
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ApiError(400, "invalid_parameters", f"'{name}' is not a date (YYYY-MM-DD)", [name]) from None


@router.get("/reports/dispatch")
def dispatch_report_route() -> Response[str]:
    event = router.current_event
    start = _date_param("from", event.get_query_string_value("from"))
    end = _date_param("to", event.get_query_string_value("to"))
    output = event.get_query_string_value("format", "json") or "json"
    issuer_id = event.get_query_string_value("issuer_id")
    if output not in {"json", "csv"}:
        raise ApiError(400, "invalid_parameters", "'format' must be json or csv", ["format"])
    if end < start:
        raise ApiError(400, "invalid_parameters", "'to' is before 'from'", ["from", "to"])
    if (end - start).days >= MAX_PERIOD_DAYS:
        raise ApiError(
            400, "invalid_parameters", f"the period is longer than {MAX_PERIOD_DAYS} days", ["from", "to"]
        )
    invoices, ledger = sources()
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
