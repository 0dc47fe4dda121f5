"""SES event notifications: a bounce or complaint fails the e-mail delivery and tells the issuer; a
Delivery event confirms it. Driven through the real ledger (moto DynamoDB) and the SNS Lambda handler."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import pytest
from dispatch_support import SENDER, TABLE, Stack, make_invoice, make_issuer, sent_mails
from invoice_bridge import wiring
from invoice_bridge.dispatch import FailureNotifier, dispatch_invoice
from invoice_bridge.dispatch.ses_events import (
    SesEventServices,
    apply_ses_notification,
    parse_ses_notification,
)
from invoice_bridge.models.delivery import DeliveryState
from invoice_bridge.observability import metrics
from sns_events import sns_record

BUYER_EMAIL = "kund@example.com"
HANDLER = Path(__file__).parents[3] / "functions" / "ses_events" / "app.py"


def bounce(message_id: str, bounce_type: str = "Permanent", key: str = "eventType") -> dict:
    return {
        key: "Bounce",
        "mail": {"messageId": message_id, "destination": [BUYER_EMAIL]},
        "bounce": {
            "bounceType": bounce_type,
            "bounceSubType": "General",
            "bouncedRecipients": [
                {"emailAddress": BUYER_EMAIL, "status": "5.1.1", "diagnosticCode": "smtp; 550 5.1.1 user unknown"}
            ],
        },
    }


def complaint(message_id: str) -> dict:
    return {
        "notificationType": "Complaint",
        "mail": {"messageId": message_id},
        "complaint": {"complainedRecipients": [{"emailAddress": BUYER_EMAIL}], "complaintFeedbackType": "abuse"},
    }


def delivery(message_id: str) -> dict:
    return {"eventType": "Delivery", "mail": {"messageId": message_id}, "delivery": {"recipients": [BUYER_EMAIL]}}


def send_by_email(stack: Stack, language: str = "sv", invoice_id: str = "inv1") -> str:
    """Dispatch one invoice by e-mail (no operator) and return the SES message id it was sent with."""
    stack.add(make_issuer(language=language), make_invoice(invoice_id, buyer_org=None, buyer_email=BUYER_EMAIL))
    sent = dispatch_invoice(invoice_id, 1, stack.services(operator_for=lambda issuer: None))
    assert sent is not None and sent.state == DeliveryState.SENT and sent.operator_invoice_id
    return sent.operator_invoice_id


def apply(stack: Stack, notification: dict) -> str:
    return apply_ses_notification(
        notification,
        SesEventServices(
            invoices=stack.invoices,
            issuers=stack.issuers,
            ledger=stack.ledger,
            notifier=FailureNotifier(stack.mailer),
        ),
    )


def notices() -> list:  # type: ignore[type-arg]
    return [m for m in sent_mails() if m["To"] == "byra@example.com"]


def test_the_sent_record_finds_its_delivery_by_ses_message_id(stack: Stack) -> None:
    message_id = send_by_email(stack)
    found = stack.ledger.find_by_message_id(message_id)
    assert found is not None and (found.invoice_id, found.version, found.channel) == ("inv1", 1, "email")
    assert stack.ledger.find_by_message_id("someone-elses-message") is None


@pytest.mark.parametrize(
    ("language", "subject", "phrases"),
    [
        ("sv", "Faktura 1001 till Köpare AB kunde inte levereras",
         ["via e-post", "studsade", "550 5.1.1 user unknown", "Kontrollera kundens e-postadress"]),
        ("en", "Invoice 1001 to Köpare AB could not be delivered",
         ["by e-mail", "bounced", "550 5.1.1 user unknown", "Check the customer's e-mail address"]),
    ],
)
def test_permanent_bounce_fails_the_delivery_and_notifies_in_the_issuers_language(
    stack: Stack, language: str, subject: str, phrases: list[str]
) -> None:
    message_id = send_by_email(stack, language)
    metrics.clear_metrics()
    assert apply(stack, bounce(message_id)) == "failed"

    record = stack.ledger.get("inv1", 1)
    assert record is not None and record.state == DeliveryState.FAILED
    assert record.message == "the e-mail bounced (Permanent/General): smtp; 550 5.1.1 user unknown"
    invoice = stack.invoices.get("inv1")
    assert invoice.status.value == "failed" and invoice.status_reason == record.message
    assert stack.invoices.events("inv1")[-1].status == "failed"
    assert "TransferFailed" in metrics.metric_set
    [notice] = notices()
    body = notice.get_content() if notice.is_multipart() is False else notice.get_body().get_content()
    print(f"\n--- bounce notice ({language}) ---\nSubject: {notice['Subject']}\n\n{body}")
    assert notice["Subject"] == subject
    for phrase in phrases:
        assert phrase in body
    # SNS delivers at least once: the same bounce again changes nothing and sends no second notice.
    assert apply(stack, bounce(message_id)) == "already_done"
    assert len(notices()) == 1


def test_complaint_after_delivery_fails_it_with_its_own_advice(stack: Stack) -> None:
    message_id = send_by_email(stack, "en")
    assert apply(stack, delivery(message_id)) == "delivered"
    assert stack.invoices.get("inv1").status.value == "delivered"
    assert apply(stack, complaint(message_id)) == "failed"
    assert stack.ledger.get("inv1", 1).state == DeliveryState.FAILED  # type: ignore[union-attr]
    [notice] = notices()
    body = notice.get_body().get_content()
    assert "marked the e-mail as spam" in body and "agree how they want to receive invoices" in body


def test_transient_bounce_and_unknown_messages_change_nothing(stack: Stack) -> None:
    message_id = send_by_email(stack)
    assert apply(stack, bounce(message_id, "Transient")) == "ignored"
    assert apply(stack, bounce("not-ours")) == "unknown_message"
    assert apply(stack, {"eventType": "Open", "mail": {"messageId": message_id}}) == "ignored"
    assert stack.ledger.get("inv1", 1).state == DeliveryState.SENT  # type: ignore[union-attr]
    assert notices() == []


def test_parse_reads_both_notification_shapes() -> None:
    by_event = parse_ses_notification(bounce("m1", key="eventType"))
    by_notification = parse_ses_notification(bounce("m1", key="notificationType"))
    assert by_event == by_notification and by_event is not None and by_event.final
    assert parse_ses_notification(bounce("m1", "Undetermined")).final  # type: ignore[union-attr]
    assert parse_ses_notification({"eventType": "Bounce", "mail": {}}) is None


def test_sns_handler_applies_each_record(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    message_id = send_by_email(stack)
    monkeypatch.setenv("TABLE_NAME", TABLE)
    monkeypatch.setenv("SENDER_EMAIL", SENDER)
    monkeypatch.setenv("AWS_REGION", "eu-north-1")
    wiring.reset()
    spec = importlib.util.spec_from_file_location("ses_events_app", HANDLER)
    assert spec is not None and spec.loader is not None
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    event = {"Records": [sns_record(delivery(message_id)), sns_record(delivery("not-ours"))]}
    context = SimpleNamespace(
        function_name="ses-events", memory_limit_in_mb=256, aws_request_id="r1",
        invoked_function_arn="arn:aws:lambda:eu-north-1:123456789012:function:ses-events",
    )
    try:
        assert app.lambda_handler(event, context) == {"outcomes": ["delivered", "unknown_message"]}
    finally:
        wiring.reset()
    assert stack.ledger.get("inv1", 1).state == DeliveryState.DELIVERED  # type: ignore[union-attr]
