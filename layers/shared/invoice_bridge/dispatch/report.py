"""The dispatch report: one row per invoice dispatched (or failed) in a period, as JSON rows or CSV."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta

from ..models.common import STOCKHOLM
from ..models.invoice import InvoiceStatus
from ..ports import DeliveryLedger, InvoiceRepository

COLUMNS = ("type", "number", "buyer", "channel", "status", "sent_at", "message")
_DISPATCHED = (InvoiceStatus.SENDING, InvoiceStatus.SENT, InvoiceStatus.DELIVERED, InvoiceStatus.FAILED)


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
    """Rows for invoices whose delivery was sent (or, if never sent, last changed) within the period."""
    lower, upper = period_bounds(start, end)
    rows: list[tuple[datetime, ReportRow]] = []
    for status in _DISPATCHED:
        cursor: str | None = None
        while True:
            page, cursor = invoices.list(issuer_id=issuer_id, status=status.value, limit=100, cursor=cursor)
            for invoice in page:
                delivery = ledger.get(invoice.id, invoice.version)
                sent_at = delivery.sent_at if delivery else None
                moment = sent_at or invoice.updated_at
                if not lower <= moment < upper:
                    continue
                message = (delivery.message if delivery else None) or invoice.status_reason or ""
                rows.append(
                    (
                        moment,
                        ReportRow(
                            type=invoice.document_type,
                            number=invoice.number,
                            buyer=invoice.buyer.name,
                            channel=(delivery.channel if delivery else invoice.channel) or "",
                            status=invoice.status.value,
                            sent_at=sent_at.astimezone(STOCKHOLM).isoformat(timespec="seconds")
                            if sent_at
                            else "",
                            message=message,
                        ),
                    )
                )
            if cursor is None:
                break
    return [row for _, row in sorted(rows, key=lambda pair: (pair[0], pair[1].number))]


def rows_as_dicts(rows: list[ReportRow]) -> list[dict[str, str]]:
    return [asdict(row) for row in rows]


def to_csv(rows: list[ReportRow]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows_as_dicts(rows))
    return buffer.getvalue()
