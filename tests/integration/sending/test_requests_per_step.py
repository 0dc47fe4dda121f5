"""What each step writes to DynamoDB for one invoice, counted at the botocore layer on moto (issue 15: a
lean path per invoice). Each write that goes together is one request; the history the office sees is the
same as when each was its own write."""

from __future__ import annotations

from aws_requests import aws_requests
from invoice_bridge.models.delivery import DeliveryState
from invoice_bridge.models.invoice import InvoiceEvent
from sending_support import World


def test_a_new_invoice_is_imported_with_its_source_link_and_first_events_in_one_write(world: World) -> None:
    """Here the sandbox's PDF link is not on an allowed origin, so the import has two events."""
    source = world.company.add(3001)
    with aws_requests() as requests:
        world.sync()
    assert requests.dynamodb_writes("INVOICE/INVOICE", "SOURCE/SOURCE", "INVOICE/EVENT") == [
        ("TransactWriteItems", ("INVOICE/INVOICE", "SOURCE/SOURCE", "INVOICE/EVENT", "INVOICE/EVENT"))
    ]
    shown = world.shown(world.ours(source.Id))
    assert sorted((e["status"], e["detail"]) for e in shown["events"]) == [
        ("queued", "fetched from Spiris"),
        ("source_pdf_unavailable", "the source PDF could not be archived (SpirisFileRefused)"),
    ]
    assert world.invoices.find_by_source("issuer-1", source.Id) is not None  # the link is there


def test_an_invoice_imported_twice_keeps_the_first_and_writes_nothing_of_the_second(world: World) -> None:
    """A duplicate sync message run at the same time: the second import finds the invoice there and
    writes no second event."""
    source = world.company.add(3002)
    world.sync()
    invoice = world.invoices.get(world.ours(source.Id))
    events = world.invoices.events(invoice.id)
    duplicate = invoice.model_copy(update={"number": "other"})
    assert world.invoices.create(duplicate, events=[InvoiceEvent(status="queued", detail="again")]) is False
    assert world.invoices.get(invoice.id).number == invoice.number
    assert world.invoices.events(invoice.id) == events


def test_an_e_mail_dispatch_writes_the_outcome_and_the_invoice_status_in_one_request(world: World) -> None:
    source = world.company.add(3003)
    world.sync()
    assert world.render() == ["rendered"]
    [message] = world.dispatch_messages()
    with aws_requests() as requests:
        delivery = world.dispatch(message)
    assert delivery is not None and delivery.state == DeliveryState.SENT
    assert requests.dynamodb_writes() == [
        ("PutItem", ("INVOICE/DELIVERY",)),  # the delivery, queued
        ("TransactWriteItems", ("INVOICE/INVOICE", "INVOICE/EVENT")),  # the claim: sending
        ("PutItem", ("INVOICE/DELIVERY",)),  # the intent, before the call
        # the outcome: the delivery sent with its SES message lookup, the invoice sent with its event
        ("TransactWriteItems", ("INVOICE/DELIVERY", "INVOICE/INVOICE", "INVOICE/EVENT", "SESMSG/SESMSG")),
    ]
    shown = world.shown(world.ours(source.Id))
    assert shown["status"] == "sent"
    assert [(e["status"], e["detail"]) for e in shown["events"]][-2:] == [
        ("sending", "sending by email"), ("sent", "sent by email")
    ]
