"""What the pages read, built on the same repositories and domain functions as the admin API.

Nothing here decides anything about an invoice or integration: it reads, filters and groups for display
(filters the repositories cannot serve, the 30-day chart, failures grouped by cause, the next step of an
integration in words).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from ..dispatch.policy import CAUSES_EN
from ..models.common import STOCKHOLM, stockholm_date
from ..models.integration import Integration, IntegrationStatus
from ..models.invoice import Invoice
from ..ports import InvoiceRepository

PAGE_SIZE = 25
# Reads of one page at most: a selective filter on a large table gives a short page and a "next" link
# rather than a slow one.
_MAX_READS_PER_PAGE = 20


@dataclass(frozen=True)
class InvoiceFilter:
    issuer_id: str | None = None
    status: str | None = None
    channel: str | None = None
    date_from: date | None = None
    date_to: date | None = None

    def matches(self, invoice: Invoice) -> bool:
        """The filters the repository cannot apply itself (it serves issuer and status)."""
        if self.channel and invoice.channel != self.channel:
            return False
        if self.date_from and invoice.issue_date < self.date_from:
            return False
        return not (self.date_to and invoice.issue_date > self.date_to)


def invoice_page(
    invoices: InvoiceRepository, wanted: InvoiceFilter, cursor: str | None, size: int = PAGE_SIZE
) -> tuple[list[Invoice], str | None]:
    """One page of matching invoices and the cursor of the next.

    Each read asks for no more than the page still needs, so every invoice the reads pass over was either
    shown or did not match, and the repository's cursor after the last read is exactly where the next page
    starts (no invoice skipped or shown twice).
    """
    found: list[Invoice] = []
    for _ in range(_MAX_READS_PER_PAGE):
        batch, cursor = invoices.list(
            issuer_id=wanted.issuer_id, status=wanted.status, limit=size - len(found), cursor=cursor
        )
        found.extend(i for i in batch if wanted.matches(i))
        if cursor is None or len(found) >= size:
            break
    return found, cursor


def every_invoice(invoices: InvoiceRepository, *, status: str, issuer_id: str | None = None) -> list[Invoice]:
    found: list[Invoice] = []
    cursor: str | None = None
    while True:
        page, cursor = invoices.list(issuer_id=issuer_id, status=status, limit=200, cursor=cursor)
        found.extend(page)
        if cursor is None:
            return found


# --- the overview's chart -----------------------------------------------------------------------


CHANNELS = ("einvoice", "email", "print")
STATES = ("delivered", "sent", "failed")


@dataclass
class SendsByDay:
    days: list[date]
    counts: Counter[tuple[date, str, str]] = field(default_factory=Counter)  # (day, channel, state)

    def per_day(self, day: date, channel: str) -> int:
        return sum(n for (d, c, _), n in self.counts.items() if d == day and c == channel)

    def failed_on(self, day: date) -> int:
        return sum(n for (d, _, s), n in self.counts.items() if d == day and s == "failed")

    def total(self, channel: str, state: str) -> int:
        return sum(n for (_, c, s), n in self.counts.items() if c == channel and s == state)

    def channel_total(self, channel: str) -> int:
        return sum(n for (_, c, _), n in self.counts.items() if c == channel)

    @property
    def empty(self) -> bool:
        return not self.counts


def sends_by_day(deliveries: Iterable[object], today: date, days: int = 30) -> SendsByDay:
    """Deliveries (anything with sent_at, channel, state) counted per Stockholm day, channel and state."""
    span = [today - timedelta(days=n) for n in range(days - 1, -1, -1)]
    result = SendsByDay(span)
    for delivery in deliveries:
        sent_at = getattr(delivery, "sent_at", None)
        if sent_at is None:
            continue
        state = str(getattr(delivery, "state", ""))
        state = state if state in STATES else "sent"
        result.counts[(stockholm_date(sent_at), str(getattr(delivery, "channel", "")), state)] += 1
    return result


def chart_period(today: date, days: int = 30) -> tuple[datetime, datetime]:
    """[first day 00:00, tomorrow 00:00) in Stockholm, as UTC instants."""
    first = datetime.combine(today - timedelta(days=days - 1), datetime.min.time(), tzinfo=STOCKHOLM)
    end = datetime.combine(today + timedelta(days=1), datetime.min.time(), tzinfo=STOCKHOLM)
    return first.astimezone(UTC), end.astimezone(UTC)


# --- failures, grouped by what fixes them ---------------------------------------------------------


CAUSES = (
    "operator_missing",
    "fallback_off",
    "buyer_unreachable",
    "email_bounced",
    "operator_refused",
    "render_failed",
    "outcome_unknown",
    "other",
)
# The dispatch policy's own words for why no channel could deliver (dispatch/policy.py), by fix.
_NO_CHANNEL_FIXES = {
    "no_operator": "operator_missing",
    "print_needs_operator": "operator_missing",
    "email_fallback_off": "fallback_off",
    "print_fallback_off": "fallback_off",
    "not_reachable": "buyer_unreachable",
    "no_email": "buyer_unreachable",
    "no_postal_address": "buyer_unreachable",
}


def cause_of(invoice: Invoice) -> str:
    """Which fix a failed invoice needs, read from its status reason."""
    reason = (invoice.status_reason or "").lower()
    # The order of the policy's causes is the order in which a fix helps most (operator, settings, buyer).
    for code in ("no_operator", "print_needs_operator", "email_fallback_off", "print_fallback_off",
                 "not_reachable", "no_email", "no_postal_address"):
        if CAUSES_EN[code] in reason:
            return _NO_CHANNEL_FIXES[code]
    if "e-mail bounced" in reason or "rejected the e-mail" in reason:
        return "email_bounced"
    if "did not confirm" in reason or "outcome" in reason:
        return "outcome_unknown"
    if " failed: " in reason:
        return "render_failed"
    if invoice.channel in ("einvoice", "print") and reason:
        return "operator_refused"
    return "other"


def group_failures(failed: list[Invoice]) -> list[tuple[str, list[Invoice]]]:
    groups: dict[str, list[Invoice]] = {}
    for invoice in failed:
        groups.setdefault(cause_of(invoice), []).append(invoice)
    return [(cause, groups[cause]) for cause in CAUSES if cause in groups]


# --- integrations: the next step in words ---------------------------------------------------------


_KNOWN_ERRORS = {"wrong_company", "module_missing", "no_access"}


def next_step_key(integration: Integration, *, stale: bool = False, held: int = 0) -> str:
    """The text key of what the office should do next with this integration."""
    status = integration.status
    if status == IntegrationStatus.ACTIVE:
        if held:
            return "next_active_review"
        return "next_stale" if stale else "next_active"
    if integration.last_error in _KNOWN_ERRORS and status in (
        IntegrationStatus.ERROR, IntegrationStatus.PENDING_CONSENT, IntegrationStatus.NEEDS_RECONSENT
    ):
        return f"next_error_{integration.last_error}"
    return f"next_{status.value}"


def held_of(invoices: list[Invoice], integration_id: str) -> list[Invoice]:
    return [i for i in invoices if i.integration_id == integration_id]
