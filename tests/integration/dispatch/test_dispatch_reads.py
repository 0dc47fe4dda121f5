"""What one dispatch reads: each record once, and the delivery record not at all before it exists."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
from aws_requests import Requests, aws_requests
from dispatch_support import Stack, make_invoice, make_issuer
from invoice_bridge.models.delivery import DeliveryState
from invoice_bridge.models.invoice import InvoiceStatus


@pytest.fixture
def requests() -> Iterator[Requests]:
    """The AWS requests of every client made from now on (tests/support/aws_requests.py)."""
    with aws_requests() as seen:
        yield seen


def test_a_first_dispatch_reads_the_invoice_and_issuer_once_and_no_ledger_record(
    stack: Stack, requests: Requests
) -> None:
    stack.add(make_issuer(), make_invoice(buyer_org=None, buyer_email="ekonomi@kund.se"))
    requests.clear()
    delivery = stack.dispatch("inv1")
    assert delivery is not None and delivery.state == DeliveryState.SENT and delivery.channel == "email"
    # The delivery is created conditionally: a `rendered` invoice has none but after a crash.
    assert requests.gets() == Counter({"INVOICE/INVOICE": 1, "ISSUER/ISSUER": 1})


def test_a_redelivered_message_after_a_crash_goes_on_with_the_recorded_delivery(
    stack: Stack, requests: Requests
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
    requests.clear()
    again = stack.dispatch("inv1")
    assert again is not None and again.state == DeliveryState.SENT and again.attempts == first.attempts + 1
    assert requests.gets()["INVOICE/DELIVERY"] == 1  # read once, after the create found it there
