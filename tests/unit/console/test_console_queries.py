"""What the console's pages read: filtered pages that neither skip nor repeat an invoice, failures
grouped by the fix the dispatch policy's own words point to, and sends counted per Stockholm day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from invoice_bridge.adapters.dynamo_invoices import DynamoInvoiceRepository
from invoice_bridge.console.chart import sends_chart
from invoice_bridge.console.queries import InvoiceFilter, cause_of, invoice_page, sends_by_day
from invoice_bridge.console.texts import texts
from invoice_bridge.dispatch.policy import NoChannel, choose_channel
from invoice_bridge.models.invoice import Invoice, InvoiceStatus, Party
from invoice_bridge.models.issuer import Address, DispatchSettings, Issuer
from moto import mock_aws

from sandbox.aws import create_template_table


def _invoice(n: int, channel: str | None, day: int) -> Invoice:
    return Invoice(
        id=f"inv{n:03d}", issuer_id="iss", integration_id="int", source_id=f"s{n}", content_hash="h",
        number=str(1000 + n), issue_date=date(2026, 3, day), seller=Party(name="S"), buyer=Party(name="B"),
        rows=[], vat_breakdown=[], net_total=Decimal("1"), vat_total=Decimal("0"), gross_total=Decimal("1"),
        status=InvoiceStatus.SENT, channel=channel,  # type: ignore[arg-type]
    )


def test_filtered_pages_show_every_match_once() -> None:
    with mock_aws():
        create_template_table("t")
        repo = DynamoInvoiceRepository("t")
        channels = ["email", "einvoice", "print"]
        for n in range(40):
            repo.put(_invoice(n, channels[n % 3], 1 + n % 28))
        wanted = InvoiceFilter(status="sent", channel="einvoice", date_from=date(2026, 3, 5))
        expected = {f"inv{n:03d}" for n in range(40) if n % 3 == 1 and 1 + n % 28 >= 5}
        seen: list[str] = []
        cursor = None
        for _ in range(20):
            page, cursor = invoice_page(repo, wanted, cursor, size=4)
            assert len(page) <= 4
            seen += [i.id for i in page]
            if cursor is None:
                break
        assert sorted(seen) == sorted(expected) and len(seen) == len(set(seen))


def _issuer(**dispatch: bool) -> Issuer:
    return Issuer(name="I", org_number="5566778800", address=Address(street="a", postal_code="1", city="c"),
                  notification_email="i@example.se", dispatch=DispatchSettings(**dispatch))


def _failed_by_policy(issuer: Issuer, buyer: Party, operator: bool = True) -> Invoice:
    route = choose_channel(issuer, _invoice(1, None, 1).model_copy(update={"buyer": buyer}), None,
                           operator_available=operator)
    assert isinstance(route, NoChannel)
    return _invoice(1, None, 1).model_copy(update={"status": InvoiceStatus.FAILED, "status_reason": route.reason})


@pytest.mark.parametrize(
    ("dispatch", "buyer", "operator", "cause"),
    [
        ({}, Party(name="B"), False, "operator_missing"),
        ({"email_fallback": False, "print_fallback": False}, Party(name="B", email="b@example.se"), True, "fallback_off"),
        ({}, Party(name="B"), True, "buyer_unreachable"),
    ],
)
def test_failures_are_grouped_by_the_fix_the_policy_reason_points_to(
    dispatch: dict[str, bool], buyer: Party, operator: bool, cause: str
) -> None:
    assert cause_of(_failed_by_policy(_issuer(**dispatch), buyer, operator)) == cause


def test_other_failure_reasons() -> None:
    failed = _invoice(1, "email", 1).model_copy(update={"status": InvoiceStatus.FAILED})
    assert cause_of(failed.model_copy(update={"status_reason": "the e-mail bounced (Permanent/General)"})) == "email_bounced"
    assert cause_of(failed.model_copy(update={"status_reason": "validation failed: BR-CO-15"})) == "render_failed"
    einvoice = failed.model_copy(update={"channel": "einvoice", "status_reason": "INVALID_RECIPIENT: unknown"})
    assert cause_of(einvoice) == "operator_refused"


@dataclass
class _Sent:
    sent_at: datetime | None
    channel: str
    state: str


def test_sends_are_counted_per_stockholm_day_channel_and_state() -> None:
    today = date(2026, 3, 31)
    deliveries = [
        _Sent(datetime(2026, 3, 30, 22, 30, tzinfo=UTC), "einvoice", "delivered"),  # 31 March in Stockholm
        _Sent(datetime(2026, 3, 30, 21, 30, tzinfo=UTC), "email", "sent"),  # still 30 March (CEST +2)
        _Sent(datetime(2026, 3, 30, 12, 0, tzinfo=UTC), "print", "failed"),
        _Sent(None, "email", "failed"),  # never sent: not a send
    ]
    sends = sends_by_day(deliveries, today)
    assert len(sends.days) == 30 and sends.days[-1] == today
    assert sends.per_day(today, "einvoice") == 1 and sends.per_day(date(2026, 3, 30), "email") == 1
    assert sends.failed_on(date(2026, 3, 30)) == 1 and sends.channel_total("print") == 1
    svg = str(sends_chart(sends, texts("sv")))
    assert svg.startswith("<svg") and "E-faktura: 1" in svg and "Fel: 1" in svg and "<script" not in svg
