"""The status poller: invoices in `sent` by an operator channel move to delivered or failed.

A failed e-invoice (the pinned route) goes on to the issuer's next channel when there is one: the delivery
is queued again on that channel (dispatch/fallback.py) and a dispatch message is sent for it; the invoice
stays `sent` (out of the sync's reach) until that dispatch claims it for the new channel. A status
value the operator reports that we do not know fails the invoice with a notice that says so, rather
than leaving it waiting forever.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from aws_lambda_powertools.metrics import MetricUnit

from ..models.common import utcnow
from ..models.delivery import Delivery, DeliveryState
from ..models.invoice import Invoice, InvoiceStatus
from ..models.issuer import Issuer
from ..observability import logger, metrics
from ..ports import (
    BatchReader,
    ConflictError,
    DeliveryLedger,
    InvoiceRepository,
    IssuerRepository,
    Operator,
    OperatorDocument,
    OperatorError,
    WorkQueue,
)
from ..step_messages import step_body
from .fallback import reroute
from .notify import Failure, FailureNotifier
from .policy import NoChannel, print_service_of
from .service import idempotency_id, record_done, sync_invoice_status


@dataclass(frozen=True)
class TrackingServices:
    """What the status poller reads and writes through (built by `invoice_bridge.wiring.tracking_services`)."""

    invoices: InvoiceRepository
    issuers: IssuerRepository
    ledger: DeliveryLedger
    operator_for: Callable[[Issuer], Operator | None]
    notifier: FailureNotifier
    dispatch_queue: WorkQueue | None = None  # without it a failed e-invoice is not rerouted (it fails)
    # Reads a page's issuers in one request; None: one read per issuer.
    batch_reader: BatchReader | None = None


@dataclass
class _Poll:
    invoices: InvoiceRepository
    ledger: DeliveryLedger
    notifier: FailureNotifier
    dispatch_queue: WorkQueue | None
    now: Callable[[], datetime]
    counts: Counter[str]


def track_deliveries(
    services: TrackingServices, *, now: Callable[[], datetime] = utcnow, page_size: int = 100
) -> Counter[str]:
    """Poll once; returns counts: delivered, failed, rerouted, pending, skipped, errors. Safe to run
    concurrently: every move is conditional on the record still being `sent`."""
    invoices, issuers, ledger = services.invoices, services.issuers, services.ledger
    operator_for = services.operator_for
    poll = _Poll(invoices, ledger, services.notifier, services.dispatch_queue, now, Counter())
    issuers_seen: dict[str, Issuer] = {}  # one read per issuer and poll, not one per invoice
    cursor: str | None = None
    while True:
        # E-mail outcomes come from SES notifications, not from polling: not even read.
        page, cursor = invoices.list(
            status=InvoiceStatus.SENT.value, limit=page_size, cursor=cursor, exclude_channel="email"
        )
        # A page's delivery records in one read, not one per invoice: a delivery may wait `sent` through
        # many polls, each reading it again.
        deliveries = ledger.get_many([(invoice.id, invoice.version) for invoice in page if invoice.channel != "email"])
        _read_issuers(services.batch_reader, {i.issuer_id for i in page if i.channel != "email"}, issuers_seen)
        for invoice in page:
            delivery = deliveries.get((invoice.id, invoice.version))
            if invoice.channel == "email" or delivery is None:
                poll.counts["skipped"] += 1
                continue
            if delivery.state != DeliveryState.SENT:  # done, or rerouted (to e-mail too) and not yet claimed
                _bring_in_line(poll, invoice, delivery)
                continue
            if delivery.channel == "email" or delivery.operator_invoice_id is None:
                poll.counts["skipped"] += 1  # e-mail outcomes come from SES notifications, not from polling
                continue
            if invoice.issuer_id not in issuers_seen:
                issuers_seen[invoice.issuer_id] = issuers.get(invoice.issuer_id)
            issuer = issuers_seen[invoice.issuer_id]
            operator = operator_for(issuer)
            if operator is None:
                poll.counts["skipped"] += 1
                continue
            try:
                document = operator.status(delivery.operator_invoice_id)
            except OperatorError as exc:
                logger.warning(
                    "status poll failed", extra={"invoice_id": invoice.id, "error": type(exc).__name__}
                )
                poll.counts["errors"] += 1
                continue
            try:
                _apply(poll, invoice, issuer, operator, delivery, document)
            except ConflictError:
                poll.counts["skipped"] += 1  # another poller got there first
            except OperatorError as exc:  # e.g. the print settings of a reroute: the next poll tries again
                logger.warning("status not applied", extra={"invoice_id": invoice.id, "error": type(exc).__name__})
                poll.counts["errors"] += 1
        if cursor is None:
            return poll.counts


def _apply(
    poll: _Poll, invoice: Invoice, issuer: Issuer, operator: Operator, delivery: Delivery, document: OperatorDocument
) -> None:
    now = poll.now
    if document.status == "DELIVERED":
        done = delivery.model_copy(
            update={"state": DeliveryState.DELIVERED, "delivered_at": now(), "updated_at": now()}
        )
        record_done(poll.ledger, poll.invoices, invoice, done, [DeliveryState.SENT])
        metrics.add_metric(name="InvoicesDelivered", unit=MetricUnit.Count, value=1)
        poll.counts["delivered"] += 1
    elif document.status == "FAILED":
        reason = document.message or "the operator could not deliver the invoice"
        if delivery.channel == "einvoice" and poll.dispatch_queue is not None:
            rerouted = reroute(
                delivery, invoice, issuer, reason, invoices=poll.invoices, ledger=poll.ledger,
                from_state=DeliveryState.SENT,
                new_idempotency_id=lambda channel: idempotency_id(invoice.id, invoice.version, channel),
                print_service=lambda: print_service_of(operator, issuer.id), now=now,
            )
            if not isinstance(rerouted, NoChannel):
                _requeue(poll, invoice, rerouted)
                poll.counts["rerouted"] += 1
                return
        _fail(poll, invoice, issuer, delivery, Failure("delivery_failed", reason, delivery.channel))
    elif document.status == "UNKNOWN":
        reason = document.message or "the operator reports a status we do not know"
        _fail(poll, invoice, issuer, delivery, Failure("unknown_status", reason, delivery.channel))
    else:
        poll.counts["pending"] += 1


def _fail(poll: _Poll, invoice: Invoice, issuer: Issuer, delivery: Delivery, failure: Failure) -> None:
    poll.notifier.notify(issuer, invoice, failure)  # before the move: a crash repeats it rather than loses it
    failed = delivery.model_copy(
        update={"state": DeliveryState.FAILED, "message": failure.reason, "updated_at": poll.now()}
    )
    record_done(poll.ledger, poll.invoices, invoice, failed, [DeliveryState.SENT])
    poll.counts["failed"] += 1


def _read_issuers(reader: BatchReader | None, issuer_ids: set[str], seen: dict[str, Issuer]) -> None:
    """The page's issuers not seen yet, in one request (each one read on its own when that is not possible:
    no reader, or one not found, which its own read reports)."""
    unseen = issuer_ids - seen.keys()
    if reader is not None and unseen:
        seen.update(reader.read((), sorted(unseen), ()).issuers)


def _requeue(poll: _Poll, invoice: Invoice, delivery: Delivery) -> None:
    """A rerouted delivery's dispatch message. The invoice stays `sent` until that dispatch claims it, so a
    crash before the message leaves a `sent` invoice with a queued delivery, which the next poll finds and
    sends again (the ledger and the claim make a second message harmless)."""
    assert poll.dispatch_queue is not None
    poll.dispatch_queue.send(step_body(invoice, channel=delivery.channel))


def _bring_in_line(poll: _Poll, invoice: Invoice, delivery: Delivery) -> None:
    if delivery.state == DeliveryState.QUEUED and delivery.failed_channels and poll.dispatch_queue is not None:
        _requeue(poll, invoice, delivery)  # rerouted by a poll that stopped before its message went out
        poll.counts["rerouted"] += 1
        return
    sync_invoice_status(poll.invoices, invoice, delivery)
    poll.counts["skipped"] += 1
