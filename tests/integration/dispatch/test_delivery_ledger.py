"""DynamoDeliveryLedger on moto: conditional create and transitions, the GSI1 period index."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from aws_requests import aws_requests
from dispatch_support import TABLE, make_invoice
from invoice_bridge.adapters.aws import table
from invoice_bridge.adapters.dynamo_deliveries import DynamoDeliveryLedger
from invoice_bridge.adapters.dynamo_invoices import DynamoInvoiceRepository
from invoice_bridge.models.delivery import Delivery, DeliveryState
from invoice_bridge.models.invoice import InvoiceEvent, InvoiceStatus
from invoice_bridge.ports import ConflictError, InvoiceMove


def _delivery(invoice_id: str = "inv1", version: int = 1) -> Delivery:
    return Delivery(
        invoice_id=invoice_id, version=version, channel="einvoice", operator_idempotency_id="idem"
    )


def test_create_is_once_per_invoice_version(aws) -> None:  # type: ignore[no-untyped-def]
    ledger = DynamoDeliveryLedger(TABLE)
    assert ledger.create(_delivery()) is True
    assert ledger.create(_delivery().model_copy(update={"channel": "email"})) is False
    assert ledger.get("inv1", 1).channel == "einvoice"  # type: ignore[union-attr]
    assert ledger.create(_delivery(version=2)) is True
    assert ledger.get("inv1", 3) is None


def test_transition_only_from_expected_states(aws) -> None:  # type: ignore[no-untyped-def]
    ledger = DynamoDeliveryLedger(TABLE)
    ledger.create(_delivery())
    sending = _delivery().model_copy(update={"state": DeliveryState.SENDING, "attempts": 1})
    ledger.transition(sending, [DeliveryState.QUEUED])
    with pytest.raises(ConflictError):  # a second worker loses the same move
        ledger.transition(sending, [DeliveryState.QUEUED])
    with pytest.raises(ConflictError):  # a record that does not exist cannot be transitioned
        ledger.transition(_delivery("other"), [DeliveryState.QUEUED])
    assert ledger.get("inv1", 1).state == DeliveryState.SENDING  # type: ignore[union-attr]


def test_sent_deliveries_are_listed_by_period(aws) -> None:  # type: ignore[no-untyped-def]
    ledger = DynamoDeliveryLedger(TABLE)
    for n, day in ((1, 1), (2, 15), (3, 30)):
        delivery = _delivery(f"inv{n}")
        ledger.create(delivery)
        sent = delivery.model_copy(
            update={"state": DeliveryState.SENT, "sent_at": datetime(2026, 11, day, 12, tzinfo=UTC)}
        )
        ledger.transition(sent, [DeliveryState.QUEUED])
    ledger.create(_delivery("unsent"))
    found = list(
        ledger.sent_between(datetime(2026, 11, 10, tzinfo=UTC), datetime(2026, 11, 30, 12, tzinfo=UTC))
    )
    assert [d.invoice_id for d in found] == ["inv2"]


def _sending_invoice_and_delivery() -> tuple[DynamoInvoiceRepository, Delivery]:
    invoices = DynamoInvoiceRepository(TABLE)
    invoices.put(make_invoice().model_copy(update={"status": InvoiceStatus.SENDING, "channel": "einvoice"}))
    ledger = DynamoDeliveryLedger(TABLE)
    sending = _delivery().model_copy(update={"state": DeliveryState.SENDING, "attempts": 1})
    ledger.create(sending)
    return invoices, sending


def _sent_move(invoices: DynamoInvoiceRepository) -> InvoiceMove:
    sent = invoices.get("inv1").model_copy(update={"status": InvoiceStatus.SENT})
    return InvoiceMove(sent, {InvoiceStatus.SENDING}, InvoiceEvent(status="sent", detail="sent by einvoice"))


def test_a_move_with_the_invoice_writes_both_and_the_event_in_one_request(aws) -> None:  # type: ignore[no-untyped-def]
    invoices, sending = _sending_invoice_and_delivery()
    sent = sending.model_copy(update={"state": DeliveryState.SENT, "operator_invoice_id": "op-1"})
    move = _sent_move(invoices)
    with aws_requests() as requests:
        assert DynamoDeliveryLedger(TABLE).transition(sent, [DeliveryState.SENDING], invoice_move=move) is True
    assert requests.dynamodb_writes() == [
        ("TransactWriteItems", ("INVOICE/DELIVERY", "INVOICE/INVOICE"))
    ]
    assert DynamoDeliveryLedger(TABLE).get("inv1", 1).state == DeliveryState.SENT  # type: ignore[union-attr]
    assert invoices.get("inv1").status == InvoiceStatus.SENT
    assert [e.detail for e in invoices.events("inv1")] == ["sent by einvoice"]


def test_an_invoice_that_moved_on_leaves_the_delivery_written_alone(aws) -> None:  # type: ignore[no-untyped-def]
    """The delivery's outcome is never lost to the invoice's move: a newer version (or any other state)
    is left as it is, and the record is written by itself."""
    invoices, sending = _sending_invoice_and_delivery()
    move = _sent_move(invoices)
    newer = invoices.get("inv1").model_copy(update={"version": 2, "status": InvoiceStatus.QUEUED})
    invoices.put(newer)
    sent = sending.model_copy(update={"state": DeliveryState.SENT, "operator_invoice_id": "op-1"})
    assert DynamoDeliveryLedger(TABLE).transition(sent, [DeliveryState.SENDING], invoice_move=move) is False
    assert DynamoDeliveryLedger(TABLE).get("inv1", 1).state == DeliveryState.SENT  # type: ignore[union-attr]
    assert (invoices.get("inv1").version, invoices.get("inv1").status) == (2, InvoiceStatus.QUEUED)
    assert invoices.events("inv1") == []


def test_a_delivery_that_moved_meanwhile_writes_neither(aws) -> None:  # type: ignore[no-untyped-def]
    invoices, sending = _sending_invoice_and_delivery()
    failed = sending.model_copy(update={"state": DeliveryState.FAILED})
    with pytest.raises(ConflictError):
        DynamoDeliveryLedger(TABLE).transition(failed, [DeliveryState.QUEUED], invoice_move=_sent_move(invoices))
    assert DynamoDeliveryLedger(TABLE).get("inv1", 1).state == DeliveryState.SENDING  # type: ignore[union-attr]
    assert invoices.get("inv1").status == InvoiceStatus.SENDING and invoices.events("inv1") == []


def _claim(invoices: DynamoInvoiceRepository) -> InvoiceMove:
    sending = invoices.get("inv1").model_copy(update={"status": InvoiceStatus.SENDING, "channel": "einvoice"})
    return InvoiceMove(sending, {InvoiceStatus.RENDERED}, InvoiceEvent(status="sending", detail="sending by einvoice"))


def test_a_delivery_is_recorded_with_the_claim_in_one_request(aws) -> None:  # type: ignore[no-untyped-def]
    invoices = DynamoInvoiceRepository(TABLE)
    invoices.put(make_invoice())
    with aws_requests() as requests:
        assert DynamoDeliveryLedger(TABLE).create(_delivery(), invoice_move=_claim(invoices)) is True
    assert requests.dynamodb_writes() == [
        ("TransactWriteItems", ("INVOICE/DELIVERY", "INVOICE/INVOICE"))
    ]
    assert DynamoDeliveryLedger(TABLE).get("inv1", 1).state == DeliveryState.QUEUED  # type: ignore[union-attr]
    assert invoices.get("inv1").status == InvoiceStatus.SENDING


def test_a_claim_that_lost_or_a_delivery_there_already_writes_nothing(aws) -> None:  # type: ignore[no-untyped-def]
    invoices = DynamoInvoiceRepository(TABLE)
    invoices.put(make_invoice())
    claim = _claim(invoices)
    invoices.put(invoices.get("inv1").model_copy(update={"status": InvoiceStatus.CANCELLED}))
    ledger = DynamoDeliveryLedger(TABLE)
    with pytest.raises(ConflictError):  # the invoice moved (cancelled) before the claim
        ledger.create(_delivery(), invoice_move=claim)
    assert ledger.get("inv1", 1) is None and invoices.events("inv1") == []

    invoices.put(invoices.get("inv1").model_copy(update={"status": InvoiceStatus.RENDERED}))
    ledger.create(_delivery().model_copy(update={"channel": "email"}))  # another run's
    assert ledger.create(_delivery(), invoice_move=_claim(invoices)) is False
    assert ledger.get("inv1", 1).channel == "email"  # type: ignore[union-attr]
    assert invoices.get("inv1").status == InvoiceStatus.RENDERED and invoices.events("inv1") == []


def test_a_lease_is_taken_over_only_from_the_lease_read(aws) -> None:  # type: ignore[no-untyped-def]
    """Two runs read the same run-out lease: the first takeover wins, the second's condition fails."""
    ledger = DynamoDeliveryLedger(TABLE)
    read = _delivery().model_copy(update={"state": DeliveryState.SENDING, "sending_at": datetime(2026, 11, 1, tzinfo=UTC)})
    ledger.create(read)
    mine = read.model_copy(update={"sending_at": datetime(2026, 11, 2, 0, 0, 0, 1, tzinfo=UTC)})
    ledger.take_over(mine, read.sending_at)
    with pytest.raises(ConflictError):
        ledger.take_over(read.model_copy(update={"sending_at": datetime(2026, 11, 2, 0, 0, 0, 2, tzinfo=UTC)}),
                         read.sending_at)
    assert ledger.get("inv1", 1) == mine
    ledger.transition(mine.model_copy(update={"sending_at": None}), [DeliveryState.SENDING])  # given back
    with pytest.raises(ConflictError):  # taken and given back since this run read it
        ledger.take_over(mine, read.sending_at)
    ledger.take_over(mine, None)
    ledger.transition(mine.model_copy(update={"state": DeliveryState.SENT}), [DeliveryState.SENDING])
    with pytest.raises(ConflictError):  # done meanwhile
        ledger.take_over(mine, mine.sending_at)


def test_a_sending_item_from_before_the_top_level_lease_is_taken_over_on_its_state(aws) -> None:  # type: ignore[no-untyped-def]
    ledger = DynamoDeliveryLedger(TABLE)
    old = _delivery().model_copy(update={"state": DeliveryState.SENDING, "sending_at": datetime(2026, 11, 1, tzinfo=UTC)})
    ledger.create(old)
    table(TABLE).update_item(Key={"PK": "INVOICE#inv1", "SK": "DELIVERY#000001"}, UpdateExpression="REMOVE sending_at")
    taken = old.model_copy(update={"sending_at": datetime(2026, 11, 2, tzinfo=UTC)})
    ledger.take_over(taken, old.sending_at)
    with pytest.raises(ConflictError):  # now it has one: the next run that read the old one loses
        ledger.take_over(old, old.sending_at)
    assert ledger.get("inv1", 1) == taken
