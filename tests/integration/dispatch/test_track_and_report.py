"""The status poller, failure notices in the issuer's language, and the dispatch report (JSON and CSV)."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import pytest
from aws_requests import aws_requests
from dispatch_support import TABLE, Stack, make_invoice, make_issuer, sent_mails, set_faults
from invoice_bridge.adapters.dynamo_batch_reads import DynamoBatchReader
from invoice_bridge.dispatch import (
    FailureNotifier,
    TrackingServices,
    dispatch_report,
    to_csv,
    track_deliveries,
)
from invoice_bridge.dispatch.ses_events import SesEventServices, apply_ses_notification
from invoice_bridge.models.common import stockholm_date, utcnow
from invoice_bridge.models.delivery import DeliveryState
from invoice_bridge.models.invoice import InvoiceStatus
from rest_events import call


def _track(stack: Stack):  # type: ignore[no-untyped-def]
    return track_deliveries(
        TrackingServices(
            invoices=stack.invoices,
            issuers=stack.issuers,
            ledger=stack.ledger,
            operator_for=stack.operator_for,
            notifier=FailureNotifier(stack.mailer),
            batch_reader=DynamoBatchReader(TABLE),
        ),
    )


def test_poller_moves_sent_to_delivered_and_failed_with_notice(stack: Stack) -> None:
    stack.add(make_issuer("iss1", language="sv"), make_invoice("ok", issuer_id="iss1", number="1"))
    stack.dispatch("ok")
    set_faults(stack.operator_url, fail_delivery_rate=1.0)
    stack.add(make_issuer("iss2", language="en"), make_invoice("bad", issuer_id="iss2", number="2"))
    stack.dispatch("bad")
    counts = _track(stack)
    assert counts["delivered"] == 1 and counts["failed"] == 1
    assert stack.invoices.get("ok").status == InvoiceStatus.DELIVERED
    assert stack.ledger.get("ok", 1).state == DeliveryState.DELIVERED  # type: ignore[union-attr]
    failed = stack.invoices.get("bad")
    assert failed.status == InvoiceStatus.FAILED and "rejected" in (failed.status_reason or "")
    assert stack.ledger.get("bad", 1).state == DeliveryState.FAILED  # type: ignore[union-attr]
    [notice] = sent_mails()
    assert notice["To"] == "byra@example.com"
    assert notice["Subject"] == "Invoice 2 to Köpare AB could not be delivered"
    assert "Reason: the invoice could not be delivered to the recipient." in notice.get_payload()
    assert "Details from the operator: Recipient rejected the invoice" in notice.get_payload()
    assert _track(stack)["failed"] == 0  # nothing left in `sent`: a second poll does nothing
    assert len(sent_mails()) == 1


def test_no_channel_fails_with_swedish_notice(stack: Stack) -> None:
    issuer = make_issuer(language="sv", email_fallback=True, print_fallback=False)
    stack.add(issuer, make_invoice(buyer_org="5560000000", buyer_email=None))
    stack.dispatch("inv1")
    stack.dispatch("inv1")  # a duplicate message does not notify twice
    invoice = stack.invoices.get("inv1")
    assert invoice.status == InvoiceStatus.FAILED and stack.ledger.get("inv1", 1) is None
    [notice] = sent_mails()
    assert notice["Subject"] == "Faktura 1001 till Köpare AB kunde inte levereras"
    body = notice.get_content()  # decoded: Swedish text travels quoted-printable
    assert (
        "Orsak: kunden kan inte ta emot e-faktura; kunden saknar e-postadress; utskick med brev är avstängt."
        in body
    )
    assert "Lägg till kundens e-postadress i Spiris" in body


def _seed_report(stack: Stack) -> None:
    stack.add(make_issuer(), make_invoice("e1", number="1001"))
    stack.add(
        make_issuer(), make_invoice("m1", number="1002", buyer_org=None, buyer_email="kund@example.com")
    )
    stack.dispatch("e1")
    stack.dispatch("m1")


def test_dispatch_report_rows_and_csv(stack: Stack) -> None:
    _seed_report(stack)
    mailed = stack.ledger.get("m1", 1)
    assert mailed is not None and mailed.operator_invoice_id
    bounce = {
        "eventType": "Bounce",
        "mail": {"messageId": mailed.operator_invoice_id},
        "bounce": {"bounceType": "Permanent", "bouncedRecipients": [{"diagnosticCode": "smtp; 550 5.1.1"}]},
    }
    notifier = FailureNotifier(stack.mailer)
    assert apply_ses_notification(
        bounce, SesEventServices(invoices=stack.invoices, issuers=stack.issuers, ledger=stack.ledger, notifier=notifier)
    ) == "failed"
    today = stockholm_date(utcnow())  # the report's dates are Stockholm dates
    rows = dispatch_report(stack.invoices, stack.ledger, today, today)
    assert [(r.number, r.channel, r.status) for r in rows] == [
        ("1001", "einvoice", "sent"),
        ("1002", "email", "failed"),
    ]
    assert all(r.sent_at.endswith(("+01:00", "+02:00")) for r in rows)  # Stockholm time
    report = to_csv(rows)
    print(f"\n--- dispatch report (CSV) ---\n{report}")
    parsed = list(csv.DictReader(io.StringIO(report)))
    assert report.splitlines()[0] == "type,number,buyer,channel,status,sent_at,message"
    assert list(parsed[0]) == ["type", "number", "buyer", "channel", "status", "sent_at", "message"]
    assert parsed[1]["buyer"] == "Köpare AB" and parsed[1]["type"] == "invoice"
    assert parsed[0]["message"] == "" and parsed[0]["status"] == "sent"
    assert parsed[1]["message"] == "the e-mail bounced (Permanent/General): smtp; 550 5.1.1"
    assert dispatch_report(stack.invoices, stack.ledger, date(2020, 1, 1), date(2020, 1, 31)) == []


@pytest.fixture
def api(stack: Stack):  # type: ignore[no-untyped-def]
    """The real admin app (all routers, its error mapping), with the report reading the moto table."""
    from invoice_bridge import wiring
    from invoice_bridge.api.admin import build_app
    from invoice_bridge.dispatch.report import ReportSources

    with wiring.override(report_sources=ReportSources(stack.invoices, stack.ledger)):
        yield lambda query: call(build_app(), "GET", "/reports/dispatch", query=query)


def test_report_api_json_csv_and_bad_dates(stack: Stack, api) -> None:  # type: ignore[no-untyped-def]
    _seed_report(stack)
    today = stockholm_date(utcnow()).isoformat()
    as_json = api({"from": today, "to": today})
    assert as_json["statusCode"] == 200
    body = json.loads(as_json["body"])
    assert body["columns"] == ["type", "number", "buyer", "channel", "status", "sent_at", "message"]
    assert [row["number"] for row in body["rows"]] == ["1001", "1002"]
    as_csv = api({"from": today, "to": today, "format": "csv"})
    headers = as_csv.get("multiValueHeaders") or {k: [v] for k, v in as_csv["headers"].items()}
    assert as_csv["statusCode"] == 200 and headers["Content-Type"][0].startswith("text/csv")
    assert "attachment" in headers["Content-Disposition"][0]
    assert as_csv["body"].splitlines()[0] == "type,number,buyer,channel,status,sent_at,message"
    for query in (
        {"from": "2026-13-01", "to": today},
        {"to": today},
        {"from": today, "to": "2020-01-01"},
        {"from": today, "to": today, "format": "xml"},
    ):
        answer = api(query)
        assert answer["statusCode"] == 400
        assert json.loads(answer["body"])["error"]["code"] == "invalid_parameters"


def test_csv_cells_that_a_spreadsheet_would_run_as_formulas_are_escaped(stack: Stack) -> None:
    from invoice_bridge.dispatch.report import ReportRow

    hostile = ["=HYPERLINK(\"http://evil.example\",\"pay here\")", "+46 70 123", "-2+3", "@SUM(A1)",
               "\tTab AB", "\rCR AB", "Vanlig Kund AB"]
    rows = [ReportRow("invoice", str(n), buyer, "email", "failed", "", buyer) for n, buyer in enumerate(hostile)]
    parsed = list(csv.DictReader(io.StringIO(to_csv(rows))))
    assert [r["buyer"] for r in parsed] == [f"'{b}" for b in hostile[:-1]] + ["Vanlig Kund AB"]
    assert [r["message"] for r in parsed] == [r["buyer"] for r in parsed]


def test_the_report_reads_its_period_not_the_whole_table(stack: Stack) -> None:
    """Fifty invoices sent and failed on other days are never read for today's report."""
    from datetime import timedelta

    from invoice_bridge.adapters.aws import table
    from invoice_bridge.models.delivery import Delivery

    issuer = make_issuer()
    for n in range(25):
        long_ago = utcnow() - timedelta(days=40 + n)
        sent = make_invoice(f"old-sent-{n}", number=str(5000 + n)).model_copy(
            update={"status": InvoiceStatus.SENT, "updated_at": long_ago})
        stack.add(issuer, sent)
        stack.ledger.create(Delivery(invoice_id=sent.id, version=1, channel="einvoice", state=DeliveryState.SENT,
                                     operator_idempotency_id=f"op-{n}", sent_at=long_ago, updated_at=long_ago))
        failed = make_invoice(f"old-failed-{n}", number=str(6000 + n)).model_copy(
            update={"status": InvoiceStatus.FAILED, "updated_at": long_ago})
        stack.invoices.create(failed)
    _seed_report(stack)
    scanned: list[int] = []
    client = table("t").meta.client
    count = lambda parsed, **_: scanned.append(parsed.get("ScannedCount", 0))  # noqa: E731
    client.meta.events.register("after-call.dynamodb.Query", count)
    client.meta.events.register("after-call.dynamodb.Scan", count)
    try:
        today = stockholm_date(utcnow())
        rows = dispatch_report(stack.invoices, stack.ledger, today, today)
    finally:
        client.meta.events.unregister("after-call.dynamodb.Query", count)
        client.meta.events.unregister("after-call.dynamodb.Scan", count)
    assert [r.number for r in rows] == ["1001", "1002"]
    assert sum(scanned) <= 2  # today's two deliveries; none of the fifty older items


def test_a_poll_reads_a_pages_delivery_records_in_one_request(stack: Stack) -> None:
    """Issue 15: a delivery may wait `sent` through many polls; each poll reads a page's records at once,
    not one GetItem per invoice."""
    for n in range(4):
        stack.add(make_issuer("iss1"), make_invoice(f"t{n}", issuer_id="iss1", number=str(n)))
        stack.dispatch(f"t{n}")
    with aws_requests() as requests:
        counts = _track(stack)
    assert counts["delivered"] == 4
    assert requests.gets()["INVOICE/DELIVERY"] == 0
    assert [batch["INVOICE/DELIVERY"] for batch in requests.batch_gets() if "INVOICE/DELIVERY" in batch] == [4]
    assert all(stack.ledger.get(f"t{n}", 1).state == DeliveryState.DELIVERED for n in range(4))  # type: ignore[union-attr]


def test_a_poll_reads_a_pages_issuers_in_one_request(stack: Stack) -> None:
    """One read for the issuers of a page, not one per issuer: a poll spans every issuer with an e-invoice
    on its way."""
    for n, issuer_id in enumerate(["iss1", "iss2", "iss3", "iss1"]):
        stack.add(make_issuer(issuer_id), make_invoice(f"p{n}", issuer_id=issuer_id, number=str(n)))
        stack.dispatch(f"p{n}")
    with aws_requests() as requests:
        counts = _track(stack)
    assert counts["delivered"] == 4
    assert requests.gets()["ISSUER/ISSUER"] == 0
    assert [batch["ISSUER/ISSUER"] for batch in requests.batch_gets() if "ISSUER/ISSUER" in batch] == [3]
