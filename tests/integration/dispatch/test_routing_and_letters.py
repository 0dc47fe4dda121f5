"""Routing from the lookup, the issuer's fallbacks when the pinned route fails, letters that carry our PDF,
and statuses nobody knows: the real dispatch service and poller, on moto and the strict operator sandbox
(issue 17.2, 17.3, 17.4)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import httpx
import pytest
from aws_requests import aws_requests
from dispatch_support import (
    COMPANY,
    REGION,
    Stack,
    make_invoice,
    make_issuer,
    operator_documents,
    sent_mails,
    set_faults,
)
from invoice_bridge.adapters.sqs_queue import SqsWorkQueue
from invoice_bridge.dispatch import (
    FailureNotifier,
    OperatorUnavailable,
    TrackingServices,
    find_receiver,
    idempotency_id,
    track_deliveries,
)
from invoice_bridge.models.delivery import DeliveryState
from invoice_bridge.models.invoice import InvoiceStatus

# Whose invoice the messages of these tests are: every render and dispatch message names both.
WHOSE = {"issuer_id": "iss1", "integration_id": "int1"}

QUEUE = "dispatch"


@pytest.fixture
def queue(aws) -> SqsWorkQueue:  # type: ignore[no-untyped-def]
    return SqsWorkQueue(boto3.client("sqs", region_name=REGION).create_queue(QueueName=QUEUE)["QueueUrl"])


def _messages() -> list[dict]:  # type: ignore[type-arg]
    sqs = boto3.client("sqs", region_name=REGION)
    got = sqs.receive_message(QueueUrl=sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"], MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in got.get("Messages", [])]


def _track(stack: Stack, queue: SqsWorkQueue | None = None):  # type: ignore[no-untyped-def]
    return track_deliveries(TrackingServices(invoices=stack.invoices, issuers=stack.issuers, ledger=stack.ledger,
                                             operator_for=stack.operator_for, notifier=FailureNotifier(stack.mailer),
                                             dispatch_queue=queue))


def _receiver(stack: Stack, **body: object) -> None:
    httpx.post(f"{stack.operator_url}/_sandbox/receivers", json=body).raise_for_status()


def _print(stack: Stack, **settings: bool) -> None:
    httpx.patch(f"{stack.operator_url}/_sandbox/accounts/{COMPANY}", json={"print": settings}).raise_for_status()


def test_a_buyer_in_maventas_own_network_is_reached_there(stack: Stack) -> None:
    """Pinned to PEPPOL (as before), the invoice to a buyer in Maventa's own network ends FAILED."""
    _receiver(stack, org_number="5566778899", name="Intern AB", network="INTERNAL")
    stack.add(make_issuer(), make_invoice(buyer_org="5566778899"))
    delivery = stack.dispatch("inv1")
    assert delivery is not None and delivery.channel == "einvoice" and delivery.recipient_operator == "MAVENTA"
    assert _track(stack)["delivered"] == 1
    assert stack.invoices.get("inv1").status == InvoiceStatus.DELIVERED
    [document] = operator_documents(stack.operator_url)
    assert document["recipient"]["operator"] == "MAVENTA"


def test_a_failed_einvoice_goes_on_as_a_letter_the_issuer_allows(stack: Stack, queue: SqsWorkQueue) -> None:
    stack.add(make_issuer(), make_invoice())  # no e-mail address: the next channel is a letter
    set_faults(stack.operator_url, fail_delivery_rate=1.0)
    stack.dispatch("inv1")
    set_faults(stack.operator_url, fail_delivery_rate=0.0)
    assert _track(stack, queue)["rerouted"] == 1
    [message] = _messages()
    assert message == {"invoice_id": "inv1", "version": 1, **WHOSE, "channel": "print"}
    rerouted = stack.ledger.get("inv1", 1)
    assert rerouted is not None and rerouted.state == DeliveryState.QUEUED and rerouted.failed_channels == ["einvoice"]
    assert rerouted.operator_idempotency_id == idempotency_id("inv1", 1, "print")
    held = stack.invoices.get("inv1")  # `sent` (out of the sync's reach) until the letter's dispatch claims it
    assert (held.status, held.channel) == (InvoiceStatus.SENT, "einvoice")
    stack.dispatch("inv1")  # the rerouted message
    stack.dispatch("inv1")  # and its duplicate
    assert _track(stack, queue)["delivered"] == 1
    letters = [d for d in operator_documents(stack.operator_url) if d["destination"] == "PRINT"]
    assert len(letters) == 1 and letters[0]["print_image"] == "own"
    invoice = stack.invoices.get("inv1")
    assert invoice.status == InvoiceStatus.DELIVERED and invoice.channel == "print"
    assert sent_mails() == []  # nobody was told of a failure: the invoice went out
    assert any("einvoice failed" in e.detail and "sending by print" in e.detail for e in stack.invoices.events("inv1"))


def test_a_failed_einvoice_with_no_channel_left_fails_and_notifies(stack: Stack, queue: SqsWorkQueue) -> None:
    stack.add(make_issuer(print_fallback=False), make_invoice())
    set_faults(stack.operator_url, fail_delivery_rate=1.0)
    stack.dispatch("inv1")
    assert _track(stack, queue)["failed"] == 1
    assert _messages() == [] and stack.invoices.get("inv1").status == InvoiceStatus.FAILED
    [notice] = sent_mails()
    assert "Recipient rejected the invoice" in notice.get_content()


def test_a_refused_einvoice_goes_on_by_email_at_once(stack: Stack) -> None:
    """The pinned route refused at upload (the buyer left InExchange after the cached lookup): read by our
    id (not there), then the next channel in the same run."""
    added = httpx.post(f"{stack.operator_url}/_sandbox/receivers", json={"org_number": "5566778899", "name": "Gått AB"})
    issuer, invoice = make_issuer(provider="inexchange"), make_invoice(buyer_org="5566778899", buyer_email="kund@example.com")
    stack.add(issuer, invoice)
    assert find_receiver(stack.operator_for(issuer), issuer.id, invoice.buyer) is not None  # cached for an hour
    httpx.delete(f"{stack.operator_url}/_sandbox/receivers/{added.json()['id']}").raise_for_status()
    delivery = stack.dispatch("inv1")
    assert delivery is not None and delivery.channel == "email" and delivery.state == DeliveryState.SENT
    assert delivery.failed_channels == ["einvoice"] and operator_documents(stack.operator_url) == []
    assert [m["To"] for m in sent_mails()] == ["kund@example.com"]


def test_a_letter_is_not_chosen_while_the_operators_print_service_is_off(stack: Stack) -> None:
    _print(stack, enabled=False)
    stack.add(make_issuer(), make_invoice(buyer_org="5560000000"))
    assert stack.dispatch("inv1") is None
    invoice = stack.invoices.get("inv1")
    assert invoice.status == InvoiceStatus.FAILED
    assert "the operator's print service is off for the issuer" in (invoice.status_reason or "")
    assert operator_documents(stack.operator_url) == []
    [notice] = sent_mails()
    assert "Turn on the letter service" in notice.get_content() or "Slå på brevtjänsten" in notice.get_content()


def test_a_letter_on_the_operators_template_says_so_in_the_channel_decision(stack: Stack) -> None:
    _print(stack, use_own_pdf=False)
    stack.add(make_issuer(), make_invoice(buyer_org="5560000000"))
    with aws_requests() as requests:
        delivery = stack.dispatch("inv1")
    assert delivery is not None and delivery.channel == "print"
    events = stack.invoices.events("inv1")
    assert any("own template" in event.detail for event in events)
    # the decision's note first, in the same write as the claim and the intent: no write of its own
    assert [e.status for e in events] == ["rendered", "sending", "sent"] and "own template" in events[0].detail
    assert [op for op, _kinds in requests.dynamodb_writes()] == ["TransactWriteItems", "TransactWriteItems"]
    [document] = operator_documents(stack.operator_url)
    assert document["print_image"] == "operator_template"


def test_a_letter_without_a_complete_address_is_parked_with_the_missing_part(stack: Stack) -> None:
    invoice = make_invoice(buyer_org="5560000000")
    invoice.buyer.address.postal_code = None
    stack.add(make_issuer(language="en"), invoice)
    assert stack.dispatch("inv1") is None
    assert "the buyer's postal address has no postal code" in (stack.invoices.get("inv1").status_reason or "")
    [notice] = sent_mails()
    assert "the customer's postal address has no postal code" in notice.get_payload()
    assert "Complete the customer's postal address" in notice.get_payload()


def test_a_private_buyers_letter_needs_no_stored_einvoice(stack: Stack) -> None:
    """The letter carries our PDF and an invoice XML written for it when no e-invoice was rendered."""
    invoice = make_invoice(buyer_org=None).model_copy(update={"einvoice_key": None})
    invoice.buyer.is_private_person = True
    stack.add(make_issuer(), invoice)
    delivery = stack.dispatch("inv1")
    assert delivery is not None and delivery.channel == "print" and delivery.state == DeliveryState.SENT
    [document] = operator_documents(stack.operator_url)
    assert document["has_pdf"] and document["number"] == "1001"


@pytest.mark.parametrize("provider", ["maventa", "inexchange"])
def test_an_unknown_status_is_reported_never_pending_forever(stack: Stack, provider: str) -> None:
    stack.add(make_issuer(provider=provider), make_invoice())
    set_faults(stack.operator_url, unknown_status_rate=1.0)
    stack.dispatch("inv1")
    assert _track(stack)["failed"] == 1
    invoice = stack.invoices.get("inv1")
    assert invoice.status == InvoiceStatus.FAILED and "status" in (invoice.status_reason or "")
    [notice] = sent_mails()
    assert "portal" in notice.get_content()


class PrintSettingsUnreachable:
    """The issuer's real adapter, whose print settings cannot be read right now."""

    def __init__(self, inner: Any):
        self.inner = inner

    def print_service(self) -> Any:
        raise OperatorUnavailable("operator answered 503 on GET /v1/company/settings")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_an_operator_error_while_rerouting_is_left_to_the_next_poll(stack: Stack, queue: SqsWorkQueue) -> None:
    stack.add(make_issuer(), make_invoice())
    stack.add(make_issuer(), make_invoice("inv2", number="1002"))
    set_faults(stack.operator_url, fail_delivery_rate=1.0)
    stack.dispatch("inv1")
    set_faults(stack.operator_url, fail_delivery_rate=0.0)
    stack.dispatch("inv2")
    counts = track_deliveries(TrackingServices(invoices=stack.invoices, issuers=stack.issuers, ledger=stack.ledger,
                                               operator_for=lambda issuer: PrintSettingsUnreachable(stack.operator_for(issuer)),
                                               notifier=FailureNotifier(stack.mailer), dispatch_queue=queue))
    assert (counts["errors"], counts["delivered"]) == (1, 1)  # the poll went on to the next invoice
    assert stack.invoices.get("inv1").status == InvoiceStatus.SENT and sent_mails() == []
    assert _track(stack, queue)["rerouted"] == 1


class LostMessage(Exception):
    pass


class CrashingQueue:
    """The dispatch queue of a poll that stops before its message goes out (a crash, a timeout)."""

    def send(self, body: dict[str, Any]) -> None:
        raise LostMessage(str(body))


def test_a_reroute_to_email_whose_message_was_lost_goes_out_once(stack: Stack, queue: SqsWorkQueue) -> None:
    """The poll rerouted the failed e-invoice to e-mail but stopped before the dispatch message: the next
    poll finds the queued e-mail delivery behind the `sent` invoice and sends the message again; the
    dispatch claims the invoice from `sent` for e-mail and the buyer gets one e-mail, however often the
    message comes."""
    stack.add(make_issuer(), make_invoice(buyer_email="kund@example.com"))
    set_faults(stack.operator_url, fail_delivery_rate=1.0)
    stack.dispatch("inv1")
    set_faults(stack.operator_url, fail_delivery_rate=0.0)
    with pytest.raises(LostMessage):
        _track(stack, CrashingQueue())  # type: ignore[arg-type]
    assert stack.ledger.get("inv1", 1).state == DeliveryState.QUEUED  # type: ignore[union-attr]
    assert _track(stack, queue)["rerouted"] == 1
    assert _messages() == [{"invoice_id": "inv1", "version": 1, **WHOSE, "channel": "email"}]
    for _ in range(2):  # the message, and a duplicate
        stack.dispatch("inv1")
    invoice = stack.invoices.get("inv1")
    assert (invoice.status, invoice.channel) == (InvoiceStatus.SENT, "email")
    assert [m["To"] for m in sent_mails()] == ["kund@example.com"]
    assert _track(stack, queue)["rerouted"] == 0 and _messages() == []
