"""The dispatch report: one row per invoice dispatched (or failed) in a period, as JSON rows or CSV."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple

from ..models.common import STOCKHOLM
from ..models.delivery import Delivery
from ..models.invoice import Invoice, InvoiceStatus
from ..ports import DeliveryLedger, InvoiceRepository

COLUMNS = ("type", "number", "buyer", "channel", "status", "sent_at", "message")
_DISPATCHED = (InvoiceStatus.SENDING, InvoiceStatus.SENT, InvoiceStatus.DELIVERED, InvoiceStatus.FAILED)
_NEVER_SENT = (InvoiceStatus.SENDING, InvoiceStatus.FAILED)  # the statuses an invoice can have without sent_at


class ReportSources(NamedTuple):
    """What the report reads (built by `invoice_bridge.wiring.report_sources`)."""

    invoices: InvoiceRepository
    ledger: DeliveryLedger


@dataclass(frozen=True)
class ReportRow:
    type: str
    number: str
    buyer: str
    channel: str
    status: str
    sent_at: str  # Stockholm local time, ISO 8601; empty when never sent
    message: str


def period_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00, end+1 00:00) in Stockholm, as UTC instants (the period's dates are Swedish dates)."""
    if end < start:
        raise ValueError("the period ends before it starts")
    lower = datetime.combine(start, time.min, tzinfo=STOCKHOLM).astimezone(UTC)
    upper = datetime.combine(end + timedelta(days=1), time.min, tzinfo=STOCKHOLM).astimezone(UTC)
    return lower, upper


def dispatch_report(
    invoices: InvoiceRepository, ledger: DeliveryLedger, start: date, end: date, issuer_id: str | None = None
) -> list[ReportRow]:
    """Rows for invoices whose delivery was sent (or, if never sent, last changed) within the period.

    Read by period, never the whole table: the deliveries sent in it (GSI1 `DELIVERIES` by sent_at), and
    the invoices failed or left sending in it without a sent delivery (GSI2 `STATUS#…` by updated_at)."""
    lower, upper = period_bounds(start, end)
    rows: list[tuple[datetime, ReportRow]] = []
    for delivery in ledger.sent_between(lower, upper):
        invoice = invoices.get(delivery.invoice_id)
        current = delivery.version == invoice.version and invoice.status in _DISPATCHED
        if current and issuer_id in (None, invoice.issuer_id) and delivery.sent_at is not None:
            rows.append((delivery.sent_at, _row(invoice, delivery)))
    for status in _NEVER_SENT:
        for invoice in invoices.updated_between(status.value, lower, upper, issuer_id):
            attempt = ledger.get(invoice.id, invoice.version)
            if attempt is None or attempt.sent_at is None:  # a sent one is reported by its sent_at
                rows.append((invoice.updated_at, _row(invoice, attempt)))
    return [row for _, row in sorted(rows, key=lambda pair: (pair[0], pair[1].number))]


def _row(invoice: Invoice, delivery: Delivery | None) -> ReportRow:
    sent_at = delivery.sent_at if delivery else None
    return ReportRow(
        type=invoice.document_type,
        number=invoice.number,
        buyer=invoice.buyer.name,
        channel=(delivery.channel if delivery else invoice.channel) or "",
        status=invoice.status.value,
        sent_at=sent_at.astimezone(STOCKHOLM).isoformat(timespec="seconds") if sent_at else "",
        message=(delivery.message if delivery else None) or invoice.status_reason or "",
    )


def rows_as_dicts(rows: list[ReportRow]) -> list[dict[str, str]]:
    return [asdict(row) for row in rows]


# A cell a spreadsheet would read as a formula (or that starts with a control character it strips first)
# gets a leading apostrophe: buyer names and operator messages come from outside (OWASP CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: str) -> str:
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value


def to_csv(rows: list[ReportRow]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows({name: csv_cell(value) for name, value in row.items()} for row in rows_as_dicts(rows))
    return buffer.getvalue()
