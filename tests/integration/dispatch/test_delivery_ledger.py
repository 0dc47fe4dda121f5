"""DynamoDeliveryLedger on moto: conditional create and transitions, the GSI1 period index."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from dispatch_support import TABLE
from invoice_bridge.adapters.dynamo_deliveries import DynamoDeliveryLedger
from invoice_bridge.models.delivery import Delivery, DeliveryState
from invoice_bridge.ports import ConflictError


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
