"""The sweeper: invoices that have waited in a step longer than it allows are handed on again, or failed.

Each step stores its result and then sends the message for the next (sync → render → dispatch). A
step that retries after a crash sends it again, but a message can still be lost for good: its retries
ran out into a dead-letter queue, or the crash came after the last retry. The invoice then waits for a
message that will not come. Every few minutes the sweeper finds each invoice that has stayed longer than
`stuck_after` in a step that ends by itself:

- `queued` (not rendered): sent to the render queue again;
- `rendered` (not dispatched) and `sending` (not recorded as sent): sent to the dispatch queue again,
  which reconciles an unknown outcome with the operator before it sends anything.

Render and dispatch are idempotent per (invoice, version), so a message sent again costs a read at most.
After `give_up_after` it stops trying and fails the invoice with a notice to the issuer: nothing sent,
or, for an intent recorded at the operator or SES without an answer, an outcome to check with the buyer.
`held` waits for a person and `sent` for the tracker, so neither is swept. Every sweep counts what it
found in `InvoicesStuck` (a gauge: 0 when all is well). The queries are range queries on the status index
(GSI2: `STATUS#{status}` / `{updated_at}#{id}`), never scans.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from aws_lambda_powertools.metrics import MetricUnit

from .dispatch.notify import Failure, FailureNotifier
from .dispatch.service import fail_delivery, move_invoice, sync_invoice_status
from .models.delivery import DeliveryState
from .models.invoice import Invoice, InvoiceStatus
from .observability import logger, metrics
from .ports import ConflictError, DeliveryLedger, InvoiceRepository, IssuerRepository, WorkQueue
from .step_messages import step_body

SWEPT = (InvoiceStatus.QUEUED, InvoiceStatus.RENDERED, InvoiceStatus.SENDING)


@dataclass(frozen=True)
class SweepServices:
    """What the sweeper reads, hands on and fails through (built by `invoice_bridge.wiring.sweep_services`)."""

    invoices: InvoiceRepository
    issuers: IssuerRepository
    ledger: DeliveryLedger
    render_queue: WorkQueue
    dispatch_queue: WorkQueue
    notifier: FailureNotifier


@dataclass
class SweepResult:
    stuck: int = 0  # found waiting longer than their step allows
    handed_on: int = 0
    failed: int = 0
    repaired: int = 0  # `sending` whose delivery was already done: the status brought in line

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def sweep_stuck_invoices(
    services: SweepServices,
    *,
    now: datetime,
    stuck_after: timedelta,
    give_up_after: timedelta,
    limit_per_status: int = 200,
) -> SweepResult:
    """One sweep (module docstring). At most `limit_per_status` invoices per status, the oldest first:
    a larger backlog is the next sweep's, and the gauge says it is there."""
    invoices, issuers, ledger, notifier = services.invoices, services.issuers, services.ledger, services.notifier
    render_queue, dispatch_queue = services.render_queue, services.dispatch_queue
    result = SweepResult()
    for status in SWEPT:
        for invoice in invoices.updated_before(status.value, now - stuck_after, limit_per_status):
            result.stuck += 1
            if invoice.updated_at > now - give_up_after:
                queue = render_queue if status == InvoiceStatus.QUEUED else dispatch_queue
                queue.send(_hand_on_message(invoice, ledger))
                result.handed_on += 1
                continue
            try:
                outcome = _give_up(invoice, invoices, issuers, ledger, notifier, now - invoice.updated_at)
            except ConflictError:  # moved on while we looked: the next sweep sees where it is now
                continue
            setattr(result, outcome, getattr(result, outcome) + 1)
    metrics.add_metric(name="InvoicesStuck", unit=MetricUnit.Count, value=result.stuck)
    if result.stuck:
        logger.warning("stuck invoices swept", extra=result.as_dict())
    return result


def _hand_on_message(invoice: Invoice, ledger: DeliveryLedger) -> dict[str, object]:
    """The message that hands the invoice on again. A delivery rerouted to another channel after its
    e-invoice failed (dispatch/fallback.py) was sent on by a message naming that channel, and so is it
    here, so both hand-ons read alike (the dispatch itself goes on from the delivery record, whatever the
    message names; Powertools idempotency, keyed on the channel too, once answered a message without it
    with the first channel's stored result)."""
    if invoice.status == InvoiceStatus.SENDING:
        delivery = ledger.get(invoice.id, invoice.version)
        if delivery is not None and delivery.failed_channels:
            return step_body(invoice, channel=delivery.channel)
    return step_body(invoice)


def _give_up(
    invoice: Invoice,
    invoices: InvoiceRepository,
    issuers: IssuerRepository,
    ledger: DeliveryLedger,
    notifier: FailureNotifier,
    waited: timedelta,
) -> str:
    """Fail an invoice that has waited past the give-up time; returns which SweepResult count it is."""
    hours = int(waited.total_seconds() // 3600)
    nothing_sent = Failure("stuck", f"still {invoice.status.value} after {hours} hours; nothing was sent")
    delivery = ledger.get(invoice.id, invoice.version)
    if invoice.status == InvoiceStatus.SENDING and delivery is not None:
        if delivery.state in (DeliveryState.SENT, DeliveryState.DELIVERED, DeliveryState.FAILED):
            sync_invoice_status(invoices, invoice, delivery)  # done; the invoice update was lost
            return "repaired"
        if delivery.state == DeliveryState.SENDING:  # the intent is recorded, the answer never came
            reason = f"no answer confirmed the sending within {hours} hours"
            failure = Failure("outcome_unknown", reason, delivery.channel)
        else:
            failure = Failure("stuck", nothing_sent.reason, delivery.channel)
        issuer = issuers.get(invoice.issuer_id)
        fail_delivery(delivery, invoice, issuer, failure, invoices=invoices, ledger=ledger, notifier=notifier,
                      from_states=[delivery.state])
        return "failed"
    notifier.notify(issuers.get(invoice.issuer_id), invoice, nothing_sent)  # before the move, as everywhere
    move_invoice(invoices, invoice, InvoiceStatus.FAILED, nothing_sent.reason, from_statuses={invoice.status})
    return "failed"
