"""The sweeper (issue 12 point 2): invoices stuck in queued, rendered or sending are handed on again, and
failed with a notice once they have waited too long; counted in InvoicesStuck; found through the status
index only. Moto serves DynamoDB, S3, SES and SQS; the sweep runs "later" by its `now`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
from dispatch_support import TABLE, Stack, make_invoice, make_issuer, sent_mails
from invoice_bridge.adapters.aws import resource
from invoice_bridge.adapters.sqs_queue import SqsWorkQueue
from invoice_bridge.dispatch import FailureNotifier, idempotency_id
from invoice_bridge.models.common import utcnow
from invoice_bridge.models.delivery import Delivery, DeliveryState
from invoice_bridge.models.invoice import Invoice, InvoiceStatus
from invoice_bridge.observability import metrics
from invoice_bridge.stuck import SweepResult, SweepServices, sweep_stuck_invoices

from sandbox.aws import REGION

# Whose invoice the messages of these tests are: every render and dispatch message names both.
WHOSE = {"issuer_id": "iss1", "integration_id": "int1"}

STUCK_AFTER, GIVE_UP_AFTER = timedelta(minutes=15), timedelta(hours=24)


@pytest.fixture
def queues(stack: Stack) -> dict[str, str]:
    sqs = boto3.client("sqs", region_name=REGION)
    return {name: sqs.create_queue(QueueName=name)["QueueUrl"] for name in ("RenderQueue", "DispatchQueue")}


@pytest.fixture
def clean_metrics() -> Iterator[None]:
    metrics.clear_metrics()
    yield
    metrics.clear_metrics()


def messages(url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name=REGION)
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return sorted((json.loads(m["Body"]) for m in got), key=lambda body: body["invoice_id"])


def sweep(stack: Stack, queues: dict[str, str], later: timedelta) -> SweepResult:
    return sweep_stuck_invoices(
        SweepServices(
            invoices=stack.invoices,
            issuers=stack.issuers,
            ledger=stack.ledger,
            render_queue=SqsWorkQueue(queues["RenderQueue"]),
            dispatch_queue=SqsWorkQueue(queues["DispatchQueue"]),
            notifier=FailureNotifier(stack.mailer),
        ),
        now=utcnow() + later,
        stuck_after=STUCK_AFTER,
        give_up_after=GIVE_UP_AFTER,
    )


def add(stack: Stack, invoice_id: str, status: InvoiceStatus, **changes: Any) -> Invoice:
    invoice = make_invoice(invoice_id, number=invoice_id.removeprefix("inv")).model_copy(
        update={"status": status, **changes})
    stack.add(make_issuer(language="en"), invoice)
    return invoice


def delivery(invoice_id: str, state: DeliveryState, channel: str = "einvoice") -> Delivery:
    return Delivery(invoice_id=invoice_id, version=1, channel=channel, state=state,  # type: ignore[arg-type]
                    recipient="0007:5567321707", operator_idempotency_id=idempotency_id(invoice_id, 1))


@pytest.mark.usefixtures("clean_metrics")
def test_each_stuck_step_is_handed_on_again_and_counted(stack: Stack, queues: dict[str, str]) -> None:
    add(stack, "inv1", InvoiceStatus.QUEUED)  # imported; its render message was lost
    add(stack, "inv2", InvoiceStatus.RENDERED)  # rendered; its dispatch message was lost
    add(stack, "inv3", InvoiceStatus.SENDING)  # claimed; the dispatch message ran out of receives
    for waiting in (InvoiceStatus.HELD, InvoiceStatus.SENT, InvoiceStatus.DELIVERED, InvoiceStatus.FAILED,
                    InvoiceStatus.CANCELLED):
        add(stack, f"inv-{waiting.value}", waiting)  # a person's or the tracker's turn, or done

    assert sweep(stack, queues, later=timedelta(minutes=5)) == SweepResult()  # not stuck yet
    result = sweep(stack, queues, later=timedelta(minutes=20))
    assert result == SweepResult(stuck=3, handed_on=3)
    assert messages(queues["RenderQueue"]) == [{"invoice_id": "inv1", "version": 1, **WHOSE}]
    assert messages(queues["DispatchQueue"]) == [{"invoice_id": "inv2", "version": 1, **WHOSE},
                                                 {"invoice_id": "inv3", "version": 1, **WHOSE}]
    assert metrics.metric_set["InvoicesStuck"]["Value"] == [0, 3]
    assert sent_mails() == [] and stack.invoices.get("inv1").status == InvoiceStatus.QUEUED


def test_a_rerouted_delivery_is_handed_on_with_its_channel(stack: Stack, queues: dict[str, str]) -> None:
    """A delivery that went on by e-mail after its e-invoice failed was sent on by a message naming the
    channel (track.py); the sweeper's hand-on names it too (Powertools idempotency, keyed on the channel,
    once answered a message without it with the first channel's result; the ledger's lease needs no key)."""
    add(stack, "inv1", InvoiceStatus.SENDING, channel="email")
    rerouted = delivery("inv1", DeliveryState.QUEUED, channel="email").model_copy(
        update={"failed_channels": ["einvoice"], "recipient": "kund@example.com",
                "operator_idempotency_id": idempotency_id("inv1", 1, "email")})
    stack.ledger.create(rerouted)
    add(stack, "inv2", InvoiceStatus.SENDING, channel="einvoice")
    stack.ledger.create(delivery("inv2", DeliveryState.SENDING))  # the first channel: no channel named
    assert sweep(stack, queues, later=timedelta(minutes=20)) == SweepResult(stuck=2, handed_on=2)
    assert messages(queues["DispatchQueue"]) == [{"invoice_id": "inv1", "version": 1, **WHOSE, "channel": "email"},
                                                 {"invoice_id": "inv2", "version": 1, **WHOSE}]


def test_past_the_give_up_time_each_is_failed_with_a_notice(stack: Stack, queues: dict[str, str]) -> None:
    add(stack, "inv1", InvoiceStatus.QUEUED)
    add(stack, "inv2", InvoiceStatus.SENDING, channel="einvoice")
    stack.ledger.create(delivery("inv2", DeliveryState.SENDING))  # the intent, never answered
    add(stack, "inv3", InvoiceStatus.SENDING, channel="einvoice")
    stack.ledger.create(delivery("inv3", DeliveryState.SENT))  # sent; the invoice update was lost

    result = sweep(stack, queues, later=timedelta(hours=25))
    assert result == SweepResult(stuck=3, failed=2, repaired=1)
    assert messages(queues["RenderQueue"]) == [] and messages(queues["DispatchQueue"]) == []
    assert stack.invoices.get("inv1").status == InvoiceStatus.FAILED
    assert stack.invoices.get("inv2").status == InvoiceStatus.FAILED
    assert stack.ledger.get("inv2", 1).state == DeliveryState.FAILED  # type: ignore[union-attr]
    assert stack.invoices.get("inv3").status == InvoiceStatus.SENT
    notices = {m["Subject"]: m.get_content() for m in sent_mails()}
    assert set(notices) == {"Invoice 1 to Köpare AB could not be delivered",
                            "Invoice 2 to Köpare AB could not be delivered"}
    assert "Nothing was sent" in notices["Invoice 1 to Köpare AB could not be delivered"]
    assert "the operator did not confirm" in notices["Invoice 2 to Köpare AB could not be delivered"]
    assert sweep(stack, queues, later=timedelta(hours=26)) == SweepResult()  # done: nothing found again


def test_the_sweep_reads_only_the_status_index(stack: Stack, queues: dict[str, str]) -> None:
    """Every read of the sweep is a GetItem or a Query on GSI2, never a Scan of the table."""
    for n in range(3):
        add(stack, f"inv{n}", InvoiceStatus.RENDERED)
    calls: list[tuple[str, dict[str, Any]]] = []
    events = resource("dynamodb").meta.client.meta.events
    record = lambda params, model, **_: calls.append((model.name, params))  # noqa: E731
    events.register("provide-client-params.dynamodb.*", record)
    try:
        sweep(stack, queues, later=timedelta(hours=25))
    finally:
        events.unregister("provide-client-params.dynamodb.*", record)
    operations = {name for name, _ in calls}
    assert "Scan" not in operations and "Query" in operations
    assert all(params.get("IndexName") == "GSI2" for name, params in calls if name == "Query")


def test_the_sweepers_tick_hands_on_invoices_whose_send_delay_is_over(
    stack: Stack, queues: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the Lambda's entry point: SQS cannot delay a message for hours, so the tick finds invoices
    waiting for their send time on their index (GSI3) and hands on those that are due, and only those."""
    from invoice_bridge import entrypoints, wiring

    now = utcnow()
    add(stack, "inv1", InvoiceStatus.HELD, status_reason="send_delay", send_at=now - timedelta(minutes=1))
    add(stack, "inv2", InvoiceStatus.HELD, status_reason="send_delay", send_at=now + timedelta(hours=1))
    add(stack, "inv3", InvoiceStatus.HELD, status_reason="awaiting_approval")
    add(stack, "inv4", InvoiceStatus.HELD, status_reason="first_sync", hold=True)
    for name, value in {"TABLE_NAME": TABLE, "RENDER_QUEUE_URL": queues["RenderQueue"],
                        "DISPATCH_QUEUE_URL": queues["DispatchQueue"], "SENDER_EMAIL": "invoices@example.com"}.items():
        monkeypatch.setenv(name, value)
    wiring.reset()

    result = entrypoints.sweep_stuck()
    assert (result["due_after_delay"], result["handed_on_after_delay"], result["stuck"]) == (1, 1, 0)
    assert messages(queues["DispatchQueue"]) == [{"invoice_id": "inv1", "version": 1, **WHOSE}]
    assert stack.invoices.get("inv1").status == InvoiceStatus.RENDERED
    assert [stack.invoices.get(i).status_reason for i in ("inv2", "inv3", "inv4")] == [
        "send_delay", "awaiting_approval", "first_sync"]
    assert entrypoints.sweep_stuck()["due_after_delay"] == 0  # handed on once: it left the index
