"""What one dispatch reads: each record once, and the delivery record not at all before it exists."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import botocore.handlers
import pytest
from dispatch_support import Stack, make_invoice, make_issuer
from invoice_bridge.adapters.aws import reset_clients
from invoice_bridge.models.delivery import DeliveryState
from invoice_bridge.models.invoice import InvoiceStatus


@pytest.fixture
def reads() -> Iterator[Counter[str]]:
    """GetItem requests by item key (`PK prefix/SK prefix`), seen at the botocore layer of every client
    made from now on."""
    seen: Counter[str] = Counter()

    def on_send(request: Any = None, event_name: str = "", **_: Any) -> None:
        if event_name.endswith(".GetItem") and request is not None:
            key = json.loads(request.body)["Key"]
            seen[f"{key['PK']['S'].split('#')[0]}/{key['SK']['S'].split('#')[0]}"] += 1

    handler = ("before-send.dynamodb", on_send)
    botocore.handlers.BUILTIN_HANDLERS.append(handler)
    reset_clients()
    try:
        yield seen
    finally:
        botocore.handlers.BUILTIN_HANDLERS.remove(handler)
        reset_clients()


def test_a_first_dispatch_reads_the_invoice_and_issuer_once_and_no_ledger_record(
    stack: Stack, reads: Counter[str]
) -> None:
    stack.add(make_issuer(), make_invoice(buyer_org=None, buyer_email="ekonomi@kund.se"))
    reads.clear()
    delivery = stack.dispatch("inv1")
    assert delivery is not None and delivery.state == DeliveryState.SENT and delivery.channel == "email"
    # The delivery is created conditionally: a `rendered` invoice has none but after a crash.
    assert reads == Counter({"INVOICE/INVOICE": 1, "ISSUER/ISSUER": 1})


def test_a_redelivered_message_after_a_crash_goes_on_with_the_recorded_delivery(
    stack: Stack, reads: Counter[str]
) -> None:
    """The delivery was created (queued) and the run died before the claim: the invoice is still
    `rendered` (the state is set up from a finished run); the next message finds the record through the
    conditional create, reads it once, and goes on from `queued`."""
    invoice = make_invoice(buyer_org=None, buyer_email="ekonomi@kund.se")
    stack.add(make_issuer(), invoice)
    first = stack.dispatch("inv1")
    assert first is not None
    stack.ledger.transition(first.model_copy(update={"state": DeliveryState.QUEUED}), [DeliveryState.SENT])
    stack.invoices.put(stack.invoices.get("inv1").model_copy(update={"status": InvoiceStatus.RENDERED}))
    reads.clear()
    again = stack.dispatch("inv1")
    assert again is not None and again.state == DeliveryState.SENT and again.attempts == first.attempts + 1
    assert reads["INVOICE/DELIVERY"] == 1  # read once, after the create found it there
