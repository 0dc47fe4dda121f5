"""When the pinned e-invoice route fails, the next channel the issuer allows, on the same delivery record.

The e-invoice upload pins the address and operator the lookup returned, so the operator itself falls back
to nothing. A refusal at upload (read by id first: the operator does not hold it) or a FAILED status from
the operator moves the delivery back to `queued` on the next channel of the policy (e-mail, then a
letter), with a new idempotency id for that channel; the failed channel is remembered so it is not chosen
again. No channel left: the caller fails the invoice and notifies, as before.

The invoice status is not moved here: the dispatch of the new channel claims the invoice for it
(`sending` on that channel) before it records its own intent, as for any channel (dispatch/service.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from ..models.delivery import Delivery, DeliveryState
from ..models.invoice import Invoice, InvoiceEvent
from ..models.issuer import Issuer
from ..observability import logger
from ..ports import DeliveryLedger, InvoiceRepository
from .policy import NoChannel, PrintServiceSource, choose_channel


def reroute(
    delivery: Delivery,
    invoice: Invoice,
    issuer: Issuer,
    reason: str,
    *,
    invoices: InvoiceRepository,
    ledger: DeliveryLedger,
    from_state: DeliveryState,
    new_idempotency_id: Callable[[str], str],
    print_service: PrintServiceSource,
    now: Callable[[], datetime],
) -> Delivery | NoChannel:
    """The delivery moved to `queued` on the next channel (conditional on `from_state`, so two runs never
    both reroute it), with an event on the invoice saying so; or why there is no channel left."""
    failed = [*delivery.failed_channels, delivery.channel]
    route = choose_channel(issuer, invoice, None, print_service=print_service, exclude=failed)
    if isinstance(route, NoChannel):
        return route
    moved = delivery.model_copy(
        update={
            "state": DeliveryState.QUEUED,
            "channel": route.channel,
            "recipient": route.recipient,
            "recipient_operator": None,
            "operator_idempotency_id": new_idempotency_id(route.channel),
            "operator_invoice_id": None,
            "failed_channels": failed,
            "message": f"{delivery.channel} failed ({reason}); sending by {route.channel} instead"
            + (f": {route.note}" if route.note else ""),
            "sending_at": None,
            "sent_at": None,
            "updated_at": now(),
        }
    )
    ledger.transition(moved, [from_state])
    invoices.add_event(invoice.id, InvoiceEvent(status=invoice.status.value, detail=moved.message or ""))
    logger.info(
        "delivery rerouted",
        extra={"invoice_id": invoice.id, "from": delivery.channel, "to": route.channel},
    )
    return moved
