"""Exactly-once dispatch of one invoice version (reference/reliability.md §2).

The delivery record in the ledger is the state machine: queued → sending → sent → delivered | failed.
Every move is a conditional write, and the *intent* (`sending`, with the operator idempotency id) is
written before the outside call. A message redelivered at any point therefore finds the record and:

- `queued`: nothing was sent; move to `sending` and send.
- `sending` (operator channel): the outcome of an earlier call is unknown; ask the operator by our
  idempotency id first. Found → record `sent`. Not found → send again with the SAME id, which the
  operator also deduplicates, so even a lost `find` answer cannot produce a second invoice.
- `sending` (e-mail): SES has no idempotency key and no lookup, so an e-mail whose outcome is unknown is
  never re-sent automatically (at most once). Residual window: a crash after SES accepted the mail but
  before `sent` was recorded ends `failed` with code `outcome_unknown`, and the issuer is asked to check
  with the buyer before retrying. A refusal by SES (`MailNotSent`) is certain, so it goes back to `queued`.
- `sent`, `delivered`, `failed`: already done; only the invoice status is brought in line (a crash after
  the ledger write but before the invoice update is repaired here), and nothing is sent.

Failure notifications are sent *before* the conditional move to `failed`, so a crash gives at worst a
repeated notification, never a silent failure.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from aws_lambda_powertools.metrics import MetricUnit

from ..models.common import utcnow
from ..models.delivery import Delivery, DeliveryState
from ..models.invoice import Invoice, InvoiceEvent, InvoiceStatus
from ..models.issuer import Issuer
from ..observability import logger, metrics
from ..ports import (
    ConflictError,
    DeliveryLedger,
    DocumentStore,
    InvoiceRepository,
    IssuerRepository,
    Mailer,
    Operator,
    OperatorDocument,
    PrintService,
    Receiver,
)
from .errors import MailNotSent, OperatorRejected
from .fallback import reroute
from .letters import letter_for
from .notify import Failure, FailureNotifier, buyer_mail
from .policy import NoChannel, PrintServiceSource, Route, choose_channel, find_receiver, print_service_of

# Fixed namespace: the idempotency id of (invoice, version) is the same in every process, forever.
IDEMPOTENCY_NAMESPACE = uuid.UUID("6f1d3c52-8f0e-4d43-9a52-3b8e2f7c1a10")

_STATUS_OF_STATE = {
    DeliveryState.QUEUED: InvoiceStatus.QUEUED,
    DeliveryState.SENDING: InvoiceStatus.SENDING,
    DeliveryState.SENT: InvoiceStatus.SENT,
    DeliveryState.DELIVERED: InvoiceStatus.DELIVERED,
    DeliveryState.FAILED: InvoiceStatus.FAILED,
}
_DONE = {DeliveryState.SENT, DeliveryState.DELIVERED, DeliveryState.FAILED}


class DispatchInProgress(Exception):
    """Another worker moved the delivery first; the message is retried and reconciles then."""


def idempotency_id(invoice_id: str, version: int, channel: str | None = None) -> str:
    """The operator idempotency id of (invoice, version); a fallback channel gets its own."""
    name = f"{invoice_id}:{version}" + (f":{channel}" if channel else "")
    return str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, name))


def dispatch_invoice(
    invoice_id: str,
    version: int,
    *,
    invoices: InvoiceRepository,
    issuers: IssuerRepository,
    ledger: DeliveryLedger,
    documents: DocumentStore,
    operator_for: Callable[[Issuer], Operator | None],
    mailer: Mailer,
    notifier: FailureNotifier | None = None,
    now: Callable[[], datetime] = utcnow,
) -> Delivery | None:
    """Deliver invoice `invoice_id` at `version` at most once. Returns the delivery record, or None when
    the message is stale (a newer version exists), the invoice is held/cancelled, or no channel exists.

    Raises on anything retryable (operator unavailable or outcome unknown, mail not sent, a lost race);
    the queue then redelivers the message and this function continues from the recorded state.
    """
    notifier = notifier or FailureNotifier(mailer)
    invoice = invoices.get(invoice_id)
    if invoice.version != version:
        logger.info("stale dispatch message", extra={"invoice_id": invoice_id, "version": version})
        return None
    issuer: Issuer | None = None
    delivery = ledger.get(invoice_id, version)
    if delivery is None:
        if invoice.status in {InvoiceStatus.HELD, InvoiceStatus.CANCELLED, InvoiceStatus.FAILED}:
            # Held invoices go out when released (a new message); a failed one is retried explicitly.
            logger.info("not dispatching", extra={"invoice_id": invoice_id, "status": invoice.status.value})
            return None
        issuer = issuers.get(invoice.issuer_id)
        operator = operator_for(issuer)
        receiver = find_receiver(operator, issuer.id, invoice.buyer) if operator is not None else None
        printing = _print_service(operator, issuer)
        route = choose_channel(issuer, invoice, receiver, operator_available=operator is not None, print_service=printing)
        if isinstance(route, NoChannel):
            failure = Failure(route.code, route.reason, causes=route.causes)
            notifier.notify(issuer, invoice, failure)
            _set_status(invoices, invoice, InvoiceStatus.FAILED, route.reason)
            return None
        fresh = Delivery(
            invoice_id=invoice_id,
            version=version,
            channel=route.channel,
            recipient=route.recipient,
            recipient_operator=route.operator,
            operator_idempotency_id=idempotency_id(invoice_id, version),
            updated_at=now(),
        )
        if ledger.create(fresh):
            delivery = fresh  # exactly what the ledger now holds: no need to read it back
            _record_route_note(invoices, invoice, route)
        else:
            logger.info("delivery already created by another run", extra={"invoice_id": invoice_id})
            delivery = ledger.get(invoice_id, version)
            assert delivery is not None  # created by the run that beat us
    return _advance(
        delivery, invoice, invoices, issuers, ledger, documents, operator_for, mailer, notifier, now, issuer
    )


def _advance(
    delivery: Delivery,
    invoice: Invoice,
    invoices: InvoiceRepository,
    issuers: IssuerRepository,
    ledger: DeliveryLedger,
    documents: DocumentStore,
    operator_for: Callable[[Issuer], Operator | None],
    mailer: Mailer,
    notifier: FailureNotifier,
    now: Callable[[], datetime],
    issuer: Issuer | None = None,
) -> Delivery:
    if delivery.state in _DONE:
        _sync_invoice(invoices, invoice, delivery)
        return delivery

    if issuer is None:  # not read yet in this run
        issuer = issuers.get(invoice.issuer_id)
    operator = operator_for(issuer) if delivery.channel != "email" else None

    if delivery.state == DeliveryState.SENDING:
        if delivery.channel == "email":
            failure = Failure("outcome_unknown", "the e-mail service did not confirm the e-mail", "email")
            return _fail(
                delivery, invoice, issuer, failure, invoices, ledger, notifier, now, [DeliveryState.SENDING]
            )
        assert operator is not None, "an operator channel needs the issuer's operator"
        found = operator.find(delivery.operator_idempotency_id)
        if found is not None:
            logger.info("reconciled: the operator has the invoice", extra={"invoice_id": invoice.id})
            return _record_sent(delivery, invoice, found.operator_invoice_id, invoices, ledger, now)
        logger.info("reconciled: not at the operator, sending again", extra={"invoice_id": invoice.id})
        delivery = delivery.model_copy(update={"attempts": delivery.attempts + 1, "updated_at": now()})
        ledger.transition(delivery, [DeliveryState.SENDING])
    else:  # queued: write the intent before anything leaves
        delivery = delivery.model_copy(
            update={
                "state": DeliveryState.SENDING,
                "attempts": delivery.attempts + 1,
                "sending_at": now(),
                "updated_at": now(),
            }
        )
        try:
            ledger.transition(delivery, [DeliveryState.QUEUED])
        except ConflictError:
            raise DispatchInProgress(f"delivery of {invoice.id} v{invoice.version} moved meanwhile") from None
        invoice = _set_status(invoices, invoice, InvoiceStatus.SENDING, f"sending by {delivery.channel}")

    if delivery.channel == "email":
        return _send_email(delivery, invoice, issuer, invoices, ledger, documents, mailer, now)

    assert operator is not None
    try:
        document = _send_by_operator(delivery, invoice, issuer, documents, operator)
    except OperatorRejected as exc:
        rerouted = _next_channel(delivery, invoice, issuer, exc, invoices, ledger, operator, now)
        if rerouted is not None:
            return _advance(
                rerouted, invoice, invoices, issuers, ledger, documents, operator_for, mailer, notifier, now, issuer
            )
        failure = Failure("rejected", exc.message, delivery.channel)
        return _fail(
            delivery, invoice, issuer, failure, invoices, ledger, notifier, now, [DeliveryState.SENDING]
        )
    # OperatorOutcomeUnknown / OperatorUnavailable propagate: the record stays `sending`, the message is
    # retried and reconciled by idempotency id.
    return _record_sent(delivery, invoice, document.operator_invoice_id, invoices, ledger, now, document)


def _next_channel(
    delivery: Delivery,
    invoice: Invoice,
    issuer: Issuer,
    refusal: OperatorRejected,
    invoices: InvoiceRepository,
    ledger: DeliveryLedger,
    operator: Operator,
    now: Callable[[], datetime],
) -> Delivery | None:
    """A refused e-invoice (pinned route): the delivery queued on the issuer's next channel, or None."""
    if delivery.channel != "einvoice":
        return None
    rerouted = reroute(
        delivery, invoice, issuer, refusal.message, ledger=ledger, from_state=DeliveryState.SENDING,
        new_idempotency_id=lambda channel: idempotency_id(invoice.id, invoice.version, channel),
        print_service=_print_service(operator, issuer) or _no_print_service, now=now,
    )
    if isinstance(rerouted, NoChannel):
        return None
    invoices.add_event(invoice.id, InvoiceEvent(status=invoice.status.value, detail=rerouted.message or ""))
    return rerouted


def _record_route_note(invoices: InvoiceRepository, invoice: Invoice, route: Route) -> None:
    """The channel decision says what the office should know about it (e.g. a letter on the operator's
    template)."""
    if route.note:
        invoices.add_event(invoice.id, InvoiceEvent(status=invoice.status.value, detail=route.note))


def _send_by_operator(
    delivery: Delivery, invoice: Invoice, issuer: Issuer, documents: DocumentStore, operator: Operator
) -> OperatorDocument:
    """The e-invoice on the route the lookup returned, or the letter with our PDF as its image."""
    if delivery.channel == "einvoice":
        ubl = documents.get(_required(invoice.einvoice_key, "einvoice_key"))
        receiver = Receiver(
            eia=_required(delivery.recipient, "eia"),
            name=invoice.buyer.name,
            operator=delivery.recipient_operator or "PEPPOL",  # records written before routing was kept
        )
        return operator.send_einvoice(ubl, delivery.operator_idempotency_id, receiver)
    return operator.send_print(letter_for(invoice, issuer, documents), delivery.operator_idempotency_id)


def _print_service(operator: Operator | None, issuer: Issuer) -> PrintServiceSource | None:
    """The operator's print settings for the policy, read only when a letter is the choice."""
    if operator is None:
        return None
    return lambda: print_service_of(operator, issuer.id)


def _no_print_service() -> PrintService:
    return PrintService(enabled=False, own_image=False)


def _send_email(
    delivery: Delivery,
    invoice: Invoice,
    issuer: Issuer,
    invoices: InvoiceRepository,
    ledger: DeliveryLedger,
    documents: DocumentStore,
    mailer: Mailer,
    now: Callable[[], datetime],
) -> Delivery:
    pdf = documents.get(_required(invoice.pdf_key, "pdf_key"))
    try:
        message_id = mailer.send(buyer_mail(issuer, invoice, pdf))
    except MailNotSent as exc:
        # Certainly not sent: give the intent back so the retry sends.
        back = delivery.model_copy(
            update={"state": DeliveryState.QUEUED, "message": str(exc), "updated_at": now()}
        )
        ledger.transition(back, [DeliveryState.SENDING])
        raise
    return _record_sent(delivery, invoice, message_id, invoices, ledger, now)


def _record_sent(
    delivery: Delivery,
    invoice: Invoice,
    provider_id: str,
    invoices: InvoiceRepository,
    ledger: DeliveryLedger,
    now: Callable[[], datetime],
    document: OperatorDocument | None = None,
) -> Delivery:
    sent = delivery.model_copy(
        update={
            "state": DeliveryState.SENT,
            "operator_invoice_id": provider_id,
            "sent_at": now(),
            "updated_at": now(),
            "message": None,
        }
    )
    ledger.transition(sent, [DeliveryState.SENDING])
    metrics.add_metric(name="InvoicesSent", unit=MetricUnit.Count, value=1)
    _sync_invoice(invoices, invoice, sent)
    return sent


def _fail(
    delivery: Delivery,
    invoice: Invoice,
    issuer: Issuer,
    failure: Failure,
    invoices: InvoiceRepository,
    ledger: DeliveryLedger,
    notifier: FailureNotifier,
    now: Callable[[], datetime],
    from_states: list[DeliveryState],
) -> Delivery:
    notifier.notify(issuer, invoice, failure)  # before the move: a crash repeats it rather than loses it
    failed = delivery.model_copy(
        update={"state": DeliveryState.FAILED, "message": failure.reason, "updated_at": now()}
    )
    ledger.transition(failed, from_states)
    _sync_invoice(invoices, invoice, failed)
    return failed


def _sync_invoice(invoices: InvoiceRepository, invoice: Invoice, delivery: Delivery) -> Invoice:
    status = _STATUS_OF_STATE[delivery.state]
    detail = delivery.message or f"{status.value} by {delivery.channel}"
    return _set_status(invoices, invoice, status, detail, channel=delivery.channel)


# A status write that keeps losing to other writers gives up (the message is retried) instead of looping.
_STATUS_WRITE_ATTEMPTS = 5


def _set_status(
    invoices: InvoiceRepository,
    invoice: Invoice,
    status: InvoiceStatus,
    detail: str,
    channel: str | None = None,
) -> Invoice:
    """Write the invoice status once; a repeat with the same status is a no-op (re-runs are common).

    `invoice` is the copy this run holds (read consistently at its start, or returned by the last status
    write). The write is conditional on it being unchanged since, so no extra read is needed and nobody
    else's change is overwritten: on a conflict the invoice is read again and the status applied to what is
    there now. Returns the invoice as written (or as found, when nothing needed writing).
    """
    current = invoice
    event_written = False
    for _ in range(_STATUS_WRITE_ATTEMPTS):
        if current.status == status and (channel is None or current.channel == channel):
            return current
        if not event_written:  # before the status: a crash in between repeats the event, never loses it
            invoices.add_event(invoice.id, InvoiceEvent(status=status.value, detail=detail))
            event_written = True
        update: dict[str, object] = {
            "status": status,
            "updated_at": utcnow(),
            "status_reason": detail if status == InvoiceStatus.FAILED else None,
        }
        if channel is not None:
            update["channel"] = channel
        updated = current.model_copy(update=update)
        try:
            invoices.put(updated, expected_updated_at=current.updated_at)
        except ConflictError:
            current = invoices.get(invoice.id)
            continue
        return updated
    raise ConflictError(f"invoice {invoice.id}: status {status.value} lost {_STATUS_WRITE_ATTEMPTS} races")


def _required(value: str | None, name: str) -> str:
    if not value:
        raise ValueError(f"the invoice has no {name}; it must be rendered before dispatch")
    return value
