"""Exactly-once dispatch of one invoice version (reference/reliability.md §2).

Two records move, each only by conditional writes:
- the invoice, for its current version: rendered → sending → sent → delivered | failed. Every move is
  conditional on the version and on the statuses it may come from (`InvoiceRepository.transition`), so a
  move that meets a newer version or a cancellation stops and leaves that state alone. The move to
  `sending` is the *claim*: the sync neither cancels nor replaces a `sending` invoice, so once claimed
  the version cannot change under the send.
- the delivery record in the ledger, one per version: queued → sending → sent → delivered | failed. The
  *intent* (`sending`, with the operator idempotency id) is written with or after the claim, always
  before the call.

The first claim of a version looks at the source first (fresh_look.py), while the invoice is still
`rendered` and nothing is written: the claim's condition (this version, `rendered`) fails if the sync
replaced or cancelled it after the look. Then one write records the delivery `sending` (the intent) with
the claim and the route's note, all or none, and the call follows. An invoice too large to move in that
write (its rows go to S3 first) is moved in steps that never strand it: the delivery `queued`, the claim,
the intent.

A message redelivered at any point finds the records and:
- no delivery yet: dispatches only an invoice that is `rendered` at this version and whose documents of
  this version exist; chooses the channel, looks at the source, records the intent with the claim.
- no delivery yet, the fresh look finds the invoice paid, credited or changed: nothing is recorded or
  sent; the invoice (still `rendered`) is cancelled or replaced by its next version (stored `failed`, the
  issuer told first, when it does not agree with the source it was mapped from). Spiris not readable
  now: the delivery `queued` and the claim are recorded (the sync then leaves the version alone, and the
  sweeper's give-up bounds the wait), the office is told once, and the message is retried. Not readable
  until someone acts: `failed` with a notice.
- no delivery yet, a credit note: it goes out only after its original did (the sync selects it while the
  original is `sending`, whose fresh look may still cancel it): retried while the original is on its way
  (`OriginalNotSettled`), cancelled (`original_not_sent`) when the original was never sent.
- `queued` (the source was not readable at the first claim, or a fallback channel): nothing was sent;
  checks the documents, claims the invoice (kept if claimed), looks at the source again, then writes the
  intent and sends. Paid, credited or changed there: the delivery is closed `cancelled` (conditional on
  `queued`, so it never races an intent), then the invoice is cancelled or replaced by its next version.
- `cancelled` while the invoice is still `sending` at that version (a crash between the two writes
  above): the invoice is replaced by a next version of the same content, which goes through again.
- stale (a newer version exists), that version `queued` and this one's delivery missing or `cancelled`: a
  crash may have come between storing the next version and its render message, so the render message
  goes again.
- `sending`, its lease held: another run is inside the call right now (a duplicate message, handled by a
  second instance meanwhile), or died there less than a lease ago. Nothing is read or sent: the message
  is retried (`DispatchInProgress`, carrying when the lease runs out: the record comes back a few seconds
  after that, not after the generic backoff). The intent is the lease: `sending_at`, written with it, and
  the lease length (`sending_lease`, at least the dispatch function's timeout, so a run that wrote it is
  dead once it runs out). A run whose call ended without an answer (a lost answer, the operator
  unavailable) is alive and no call of ours is open: it gives the lease back (`sending_at` cleared), so
  the retry reconciles at once, as before.
- `sending`, no lease held (run out or given back): the lease is taken over first (a new `sending_at`),
  conditional on the `sending_at` this run read, so of two duplicates that read the same run-out lease
  only one reconciles; the other neither asks, sends nor notifies, and is retried after the winner's lease.
  A reconcile whose `find`, notice or write fails gives the lease back, as a call without an answer does.
- `sending` (operator channel), taken over: the outcome of an earlier call is unknown; ask the operator
  by our idempotency id first. Found → record `sent`. Not found → send again with the SAME id, which the
  operator also deduplicates, so even a lost `find` answer cannot produce a second invoice.
- `sending` (e-mail): SES has no idempotency key and no lookup, so an e-mail whose outcome is unknown is
  never sent again (at most once): it ends `failed` with code `outcome_unknown`, and the issuer is asked
  to check with the buyer. Only a definite refusal (`MailNotSent`) gives the intent back to `queued`; a
  refusal of the address itself (`MailRejected`) is final.
- `sent`, `delivered`, `failed`: already done; only the invoice status is brought in line (a crash after
  the ledger write but before the invoice update is repaired here), and nothing is sent.

The e-invoice goes on the route the receiver lookup returned (address and operator, kept on the delivery),
so the operator makes no fallback of its own. When the operator refuses it (here), or reports it failed
(track.py), the same delivery record moves back to `queued` on the issuer's next allowed channel
(dispatch/fallback.py), conditionally, with that channel's own idempotency id; that channel then claims
the invoice and records its intent like any other. One record per version, one channel at a time: two
channels never deliver the same version. A letter carries our PDF (dispatch/letters.py).

The documents sent are always those of the delivery's version (`document_keys`), read from the invoice
copy this run verified to be that version.

Failure notifications are sent *before* the conditional move to `failed`, so a crash gives at worst a
repeated notification, never a silent failure.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from aws_lambda_powertools.metrics import MetricUnit

from ..batch_invoices import BatchFirstRead, BatchInvoices, BatchKeys
from ..batch_issuers import BatchIssuers
from ..mapping import invoice_id_for
from ..models.common import utcnow
from ..models.delivery import Delivery, DeliveryState
from ..models.invoice import Channel, Invoice, InvoiceEvent, InvoiceStatus, document_keys
from ..models.issuer import Issuer
from ..observability import logger, metrics
from ..ports import (
    BatchReader,
    ConflictError,
    DeliveryLedger,
    DocumentStore,
    InvoiceMove,
    InvoiceRepository,
    IssuerRepository,
    Letter,
    Mailer,
    MailNotSent,
    MailOutcomeUnknown,
    MailRejected,
    NotFound,
    Operator,
    OperatorDocument,
    OperatorRejected,
    Receiver,
    WorkQueue,
)
from ..step_messages import step_body
from ..versions import next_version
from .fallback import reroute
from .fresh_look import FreshLook, SourceCheck, SourceUnavailable, SourceUnreadable, SpirisSourceCheck
from .letters import letter_for
from .notify import Failure, FailureNotifier, buyer_mail
from .policy import NoChannel, PrintServiceSource, choose_channel, find_receiver, print_service_of

# A message that met a lease comes back this long after it has run out, plus up to the jitter.
LEASE_MARGIN_SECONDS, LEASE_JITTER_SECONDS = 2.0, 3.0

# Fixed namespace: the idempotency id of (invoice, version) is the same in every process, forever.
IDEMPOTENCY_NAMESPACE = uuid.UUID("6f1d3c52-8f0e-4d43-9a52-3b8e2f7c1a10")

_R, _SG, _ST, _D = InvoiceStatus.RENDERED, InvoiceStatus.SENDING, InvoiceStatus.SENT, InvoiceStatus.DELIVERED
# The statuses of the same version an invoice may move to each dispatch status from. Anything else
# (queued or held: not rendered or not released; cancelled; a newer version) is never written over.
MOVES_TO: dict[InvoiceStatus, frozenset[InvoiceStatus]] = {
    InvoiceStatus.SENDING: frozenset({_R, _SG}),
    InvoiceStatus.SENT: frozenset({_R, _SG}),
    InvoiceStatus.DELIVERED: frozenset({_R, _SG, _ST}),
    InvoiceStatus.FAILED: frozenset({_R, _SG, _ST, _D}),  # a complaint can follow a delivery
}
# A delivery rerouted after the operator reported its sent e-invoice failed (track.py) claims the invoice
# from `sent` as well: the version stays out of the sync's reach (it replaces nothing sent) until then.
_REROUTED_CLAIM_FROM = MOVES_TO[InvoiceStatus.SENDING] | {_ST}
# A credit note goes out only after its original did (sent or later); the sync counts `sending` as gone out.
_ORIGINAL_WENT_OUT = frozenset({_ST, _D})
_ORIGINAL_NEVER_SENT = frozenset({InvoiceStatus.CANCELLED, InvoiceStatus.FAILED})
_STATUS_OF_DONE = {
    DeliveryState.SENT: InvoiceStatus.SENT,
    DeliveryState.DELIVERED: InvoiceStatus.DELIVERED,
    DeliveryState.FAILED: InvoiceStatus.FAILED,
}


@dataclass(frozen=True)
class DispatchServices:
    """What a dispatch reads, sends and writes through (built by `invoice_bridge.wiring.dispatch_services`)."""

    invoices: InvoiceRepository
    issuers: IssuerRepository
    ledger: DeliveryLedger
    documents: DocumentStore
    operator_for: Callable[[Issuer], Operator | None]
    mailer: Mailer
    fresh_look: SourceCheck  # reads the source once more right before the intent
    render_queue: WorkQueue  # takes the next version when the fresh look found the invoice changed
    # How long an intent keeps other runs from reconciling it: at least the dispatch function's timeout.
    sending_lease: timedelta
    # Reads a batch's invoices with their issuers and integrations in one request; None: the invoices alone.
    batch_reader: BatchReader | None = None

    def for_batch(self, keys: BatchKeys) -> DispatchServices:
        """These services for one queue batch (one invocation) of the messages that name `keys`: those
        invoices read with their issuers and integrations in one request (batch_invoices.py; a credit note's
        original is not one of them unless in the batch), each issuer once (batch_issuers.py), and each
        integration once by the fresh look, which still reads the source for every invoice."""
        first_read = BatchFirstRead(self.invoices, keys, self.batch_reader)
        look = (self.fresh_look.for_batch(looks=len(keys.invoice_ids), first_read=first_read)
                if isinstance(self.fresh_look, SpirisSourceCheck) else self.fresh_look)
        return replace(self, invoices=BatchInvoices(self.invoices, first_read),
                       issuers=BatchIssuers(self.issuers, self.documents, first_read), fresh_look=look)


class DispatchInProgress(Exception):
    """Another run moved the delivery first, or holds its lease (it is sending now, or died doing so less
    than a lease ago); the message is retried and continues, or reconciles, then. `retry_in_seconds`, when
    the lease is known: the record comes back once it has run out (backoff.py), not after the schedule."""

    def __init__(self, message: str, retry_in_seconds: float | None = None) -> None:
        super().__init__(message)
        self.retry_in_seconds = retry_in_seconds


class OriginalNotSettled(Exception):
    """A credit note's original is still on its way or waiting: the credit note is retried after it."""


class _DocumentsMissing(Exception):
    """The documents of the version to send are not in the store."""


def idempotency_id(invoice_id: str, version: int, channel: str | None = None) -> str:
    """The operator idempotency id of (invoice, version); a fallback channel gets its own."""
    name = f"{invoice_id}:{version}" + (f":{channel}" if channel else "")
    return str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, name))


def dispatch_invoice(
    invoice_id: str,
    version: int,
    services: DispatchServices,
    *,
    notifier: FailureNotifier | None = None,
    now: Callable[[], datetime] = utcnow,
) -> Delivery | None:
    """Deliver invoice `invoice_id` at `version` at most once. Returns the delivery record, or None when
    there is nothing to do now: the message is stale (a newer version exists), the invoice is not
    `rendered` (not yet rendered, held, cancelled, failed), no channel exists, or it moved on meanwhile.

    Raises on anything retryable (operator unavailable or outcome unknown, mail not sent, the source not
    readable now, a lost race); the queue then redelivers the message and this function continues from
    the recorded state.
    """
    run = _Dispatch(services, notifier or FailureNotifier(services.mailer), now)
    invoices, ledger = services.invoices, services.ledger
    invoice = invoices.get(invoice_id)
    if invoice.version != version:
        logger.info("stale dispatch message", extra={"invoice_id": invoice_id, "version": version})
        run.hand_on_replacement(invoice, version)
        return None
    # A `rendered` invoice has no delivery yet but after a crash or a duplicate message: `start` creates it
    # conditionally and reads the ledger only then, one read per invoice less than reading it first.
    delivery = None if invoice.status == InvoiceStatus.RENDERED else ledger.get(invoice_id, version)
    if delivery is None:
        delivery = run.start(invoice)
        if delivery is None:
            return None
    return run.advance(delivery, invoice)


class _Dispatch:
    """One run of one dispatch message: the adapters, and what this run has read (issuer, documents)."""

    # The delivery `start` chose and has not recorded: the first claim records it (one write with the
    # claim), with the note the channel decision leaves for the office, if any.
    _unrecorded: Delivery | None = None
    _route_note: InvoiceEvent | None = None

    def __init__(self, services: DispatchServices, notifier: FailureNotifier, now: Callable[[], datetime]):
        self.invoices, self.issuers, self.ledger = services.invoices, services.issuers, services.ledger
        self.documents, self.operator_for, self.mailer = services.documents, services.operator_for, services.mailer
        self.fresh_look, self.render_queue = services.fresh_look, services.render_queue
        self.lease, self.notifier, self.now = services.sending_lease, notifier, now
        self._issuer: Issuer | None = None
        self._read: dict[tuple[int, Channel], bytes | Letter] = {}

    def issuer(self, invoice: Invoice) -> Issuer:
        if self._issuer is None:
            self._issuer = self.issuers.get(invoice.issuer_id)
        return self._issuer

    def document(self, invoice: Invoice, version: int, channel: Channel) -> bytes | Letter:
        """What this channel sends, of this version: the PDF by e-mail, the e-invoice to the operator, and
        a letter of our PDF (with the e-invoice when the version has one) to print. Raises
        `_DocumentsMissing` when a rendered document of the version is not in the store."""
        if (version, channel) not in self._read:
            pdf_key, xml_key = document_keys(invoice, version)
            if channel == "email":
                self._read[version, channel] = self._get(pdf_key)
            elif channel == "einvoice":
                self._read[version, channel] = self._get(xml_key)
            else:
                einvoice = self._get(xml_key) if invoice.einvoice_key else None
                pdf = self._get(pdf_key)
                self._read[version, channel] = letter_for(invoice, self.issuer(invoice), pdf, einvoice)
        return self._read[version, channel]

    def _get(self, key: str) -> bytes:
        try:
            return self.documents.get(key)
        except NotFound:
            raise _DocumentsMissing(key) from None

    # --- before a delivery exists --------------------------------------------------------------

    def start(self, invoice: Invoice) -> Delivery | None:
        """Choose the channel: the delivery `queued`, recorded by the claim that follows (`_claim_and_send`);
        None when there is nothing to send now."""
        if invoice.status != InvoiceStatus.RENDERED:
            # Queued: render hands on when done. Held: released by a new message. Failed: retried explicitly.
            logger.info("not dispatching", extra={"invoice_id": invoice.id, "status": invoice.status.value})
            return None
        if invoice.original_source_id and not self._original_went_out(invoice):
            return None
        issuer = self.issuer(invoice)
        operator = self.operator_for(issuer)
        receiver = find_receiver(operator, issuer.id, invoice.buyer) if operator is not None else None
        route = choose_channel(
            issuer, invoice, receiver, operator_available=operator is not None,
            print_service=_print_service(operator, issuer),
        )
        if isinstance(route, NoChannel):
            return self._undeliverable(invoice, Failure(route.code, route.reason, causes=route.causes))
        try:
            self.document(invoice, invoice.version, route.channel)
        except _DocumentsMissing as exc:
            return self._undeliverable(invoice, _documents_missing(exc, route.channel))
        fresh = Delivery(
            invoice_id=invoice.id,
            version=invoice.version,
            channel=route.channel,
            recipient=route.recipient,
            recipient_operator=route.operator,
            operator_idempotency_id=idempotency_id(invoice.id, invoice.version),
            updated_at=self.now(),
        )
        self._unrecorded = fresh
        # Made now, written after the claim: the history shows it before the claim's event, as it happened.
        self._route_note = InvoiceEvent(status=invoice.status.value, detail=route.note) if route.note else None
        return fresh

    def _original_went_out(self, credit: Invoice) -> bool:
        """A credit note follows its original. The sync selects it once the original is `sending`, but the
        original's fresh look may still cancel it: True once the original went out; False (the credit note
        cancelled) when it never did; `OriginalNotSettled` (retried) while it is on its way or waiting."""
        try:
            original = self.invoices.get(invoice_id_for(credit.issuer_id, credit.original_source_id or ""))
        except NotFound:
            return True  # not one of ours: the selection decided on the source's word alone
        if original.status in _ORIGINAL_WENT_OUT:
            return True
        if original.status not in _ORIGINAL_NEVER_SENT:
            raise OriginalNotSettled(f"credit note {credit.id}: its original is {original.status.value}")
        detail = f"credits invoice {original.number}, which was not sent ({original.status.value}); not sent"
        move_invoice(self.invoices, credit, InvoiceStatus.CANCELLED, detail, reason="original_not_sent",
                     from_statuses={InvoiceStatus.RENDERED})
        return False

    def _undeliverable(self, invoice: Invoice, failure: Failure) -> Delivery | None:
        """No channel or no documents now: the delivery an earlier run recorded (the ledger was not read
        before `start`) goes on as recorded; without one, the invoice fails with a notice."""
        recorded = self.ledger.get(invoice.id, invoice.version)
        if recorded is not None:
            return recorded
        self._fail_undelivered(invoice, failure)
        return None

    def _fail_undelivered(self, invoice: Invoice, failure: Failure) -> None:
        self.notifier.notify(self.issuer(invoice), invoice, failure)  # before the move, as everywhere
        move_invoice(self.invoices, invoice, InvoiceStatus.FAILED, failure.reason)

    # --- the delivery's state machine ------------------------------------------------------------

    def advance(self, delivery: Delivery, invoice: Invoice) -> Delivery | None:
        if delivery.state in _STATUS_OF_DONE:
            sync_invoice_status(self.invoices, invoice, delivery)
            return delivery
        if delivery.state == DeliveryState.CANCELLED:
            if invoice.status == InvoiceStatus.SENDING:  # closed unsent, the invoice not moved yet: a crash
                self._replace(invoice, invoice, "the fresh look closed it unsent; it goes through again")
            return delivery
        if delivery.state == DeliveryState.QUEUED:
            return self._claim_and_send(delivery, invoice)
        return self._reconcile(delivery, invoice)

    def _claim_and_send(self, delivery: Delivery, invoice: Invoice) -> Delivery | None:
        try:
            self.document(invoice, delivery.version, delivery.channel)
        except _DocumentsMissing as exc:
            missing = _documents_missing(exc, delivery.channel)
            return self._fail(delivery, invoice, missing, [DeliveryState.QUEUED])
        detail = f"sending by {delivery.channel}"
        if delivery is self._unrecorded:
            return self._first_claim(delivery, invoice, detail)
        claimed = move_invoice(
            self.invoices, invoice, InvoiceStatus.SENDING, detail, channel=delivery.channel,
            from_statuses=_REROUTED_CLAIM_FROM if delivery.failed_channels else None,
        )
        if claimed is None:
            logger.info("invoice moved on before sending; nothing sent", extra={"invoice_id": invoice.id})
            return None
        stopped = self._look_again(delivery, claimed)
        if stopped is not None:
            return stopped
        return self._record_intent(delivery, claimed)

    def _record_intent(self, delivery: Delivery, claimed: Invoice) -> Delivery | None:
        """The intent (`sending`, the lease taken) over the recorded `queued` delivery, then the call."""
        intent = self._intent(delivery)
        try:
            self.ledger.transition(intent, [DeliveryState.QUEUED])
        except ConflictError:
            raise DispatchInProgress(
                f"delivery of {claimed.id} v{delivery.version} moved meanwhile"
            ) from None
        return self._send(intent, claimed)

    def _intent(self, delivery: Delivery) -> Delivery:
        now = self.now()
        return delivery.model_copy(update={
            "state": DeliveryState.SENDING, "attempts": delivery.attempts + 1, "sending_at": now, "updated_at": now,
        })

    # --- the first claim: the fresh look, then the claim and the intent in one write -------------

    def _first_claim(self, delivery: Delivery, invoice: Invoice, detail: str) -> Delivery | None:
        """The version's first claim. The source is read first (fresh_look.py): nothing is written while
        the invoice is still `rendered`, and the claim's condition (this version, `rendered`) fails if the
        sync replaced or cancelled it after the look. Then the delivery is recorded `sending` (the intent,
        its lease taken) with the claim and the route's note, one write, and the call follows."""
        self._unrecorded = None
        try:
            look = self.fresh_look(invoice, self.issuer(invoice))
        except SourceUnavailable as exc:
            self._claim_while_unavailable(delivery, invoice, detail, exc)
            raise
        except SourceUnreadable as exc:
            self._fail_undelivered(invoice, _unreadable(exc, delivery.channel))
            return None
        if look.outcome != "unchanged":
            self._stop_unsent(invoice, look, from_status=InvoiceStatus.RENDERED)
            return None
        intent = self._intent(delivery)
        move = self._claim_of(invoice, detail, delivery.channel)
        try:
            created = self.ledger.create(intent, invoice_move=move)
        except ConflictError:  # the invoice moved, or it is too large to move in the same write
            return self._claim_in_steps(delivery, invoice, detail)
        if not created:
            return self._recorded_by_another_run(invoice)
        return self._send(intent, move.invoice)

    def _claim_of(self, invoice: Invoice, detail: str, channel: Channel) -> InvoiceMove:
        move = _planned_move(invoice, InvoiceStatus.SENDING, detail, channel=channel)
        if move is None:  # `start` runs only on a `rendered` invoice: the claim always moves it
            raise RuntimeError(f"invoice {invoice.id} is claimed already")
        return replace(move, notes=(self._route_note,) if self._route_note is not None else ())

    def _claim_while_unavailable(
        self, delivery: Delivery, invoice: Invoice, detail: str, error: SourceUnavailable
    ) -> None:
        """The source cannot be read now: the delivery `queued` and the claim are recorded (so the sync
        leaves the version alone and the sweeper's give-up bounds the wait) and the office told, once: a
        redelivered message finds them and looks again before the intent (`_claim_and_send`)."""
        try:
            recorded = self.ledger.create(delivery, invoice_move=self._claim_of(invoice, detail, delivery.channel))
        except ConflictError:  # the invoice moved, or it moves on its own: the steps find out which
            recorded = self.ledger.create(delivery)
            if recorded:
                self._note_and_claim(delivery, invoice, detail)
        if recorded:
            self.invoices.add_event(invoice.id, InvoiceEvent(
                status="source_unavailable", detail=f"v{invoice.version} not sent yet: {error}; looking again"))
        logger.info("source not readable now; retried", extra={"invoice_id": invoice.id, "error": str(error)})

    def _claim_in_steps(self, delivery: Delivery, invoice: Invoice, detail: str) -> Delivery | None:
        """The claim and the intent as separate writes, in the order that never strands an invoice: the
        delivery `queued`, the claim, the intent. For an invoice too large to move in the delivery's write
        (its rows go to S3 first), and to find out what moved it."""
        if not self.ledger.create(delivery):
            return self._recorded_by_another_run(invoice)
        claimed = self._note_and_claim(delivery, invoice, detail)
        return self._record_intent(delivery, claimed) if claimed is not None else None

    def _note_and_claim(self, delivery: Delivery, invoice: Invoice, detail: str) -> Invoice | None:
        """After the delivery was recorded `queued` on its own: the route's note and the claim, each on its
        own write. The claimed invoice, or None when it moved on."""
        if self._route_note is not None:
            self.invoices.add_event(invoice.id, self._route_note)
        claimed = move_invoice(self.invoices, invoice, InvoiceStatus.SENDING, detail, channel=delivery.channel)
        if claimed is None:
            logger.info("invoice moved on before sending; nothing sent", extra={"invoice_id": invoice.id})
        return claimed

    def _recorded_by_another_run(self, invoice: Invoice) -> Delivery | None:
        logger.info("delivery already created by another run", extra={"invoice_id": invoice.id})
        recorded = self.ledger.get(invoice.id, invoice.version)
        return self.advance(recorded, invoice) if recorded is not None else None

    # --- the fresh look of a recorded delivery, between the claim and the intent ---------------------

    def _look_again(self, delivery: Delivery, invoice: Invoice) -> Delivery | None:
        """Read the source once more (fresh_look.py) for a delivery recorded `queued` (the source was not
        readable at the first claim, or a fallback channel). Returns the delivery closed unsent (cancelled
        or failed), or None when the invoice goes out as it is."""
        try:
            look = self.fresh_look(invoice, self.issuer(invoice))
        except SourceUnavailable as exc:  # the office was told at the first claim
            logger.info("source not readable now; retried", extra={"invoice_id": invoice.id, "error": str(exc)})
            raise
        except SourceUnreadable as exc:
            return self._fail(delivery, invoice, _unreadable(exc, delivery.channel), [DeliveryState.QUEUED])
        if look.outcome == "unchanged":
            return None
        closed = delivery.model_copy(update={
            "state": DeliveryState.CANCELLED, "message": f"{look.reason}: {look.detail}"[:500], "updated_at": self.now()})
        try:  # first, and only from `queued`: an intent recorded meanwhile wins, and nothing is moved here
            self.ledger.transition(closed, [DeliveryState.QUEUED])
        except ConflictError:
            raise DispatchInProgress(f"delivery of {invoice.id} v{delivery.version} moved meanwhile") from None
        self._stop_unsent(invoice, look, from_status=InvoiceStatus.SENDING)
        return closed

    def _stop_unsent(self, invoice: Invoice, look: FreshLook, *, from_status: InvoiceStatus) -> None:
        """What the look found instead of sending: the next version, or the invoice cancelled (only from
        `from_status`: `rendered` before the first claim, `sending` after a claim)."""
        if look.outcome == "changed" and look.replacement is not None and look.disagreement:
            self._fail_next_version(invoice, look.replacement, look.disagreement)
        elif look.outcome == "changed" and look.replacement is not None:
            self._replace(invoice, look.replacement, "changed at the source just before sending")
        else:
            detail = f"{look.reason} at the source just before sending; v{invoice.version} not sent"
            move_invoice(self.invoices, invoice, InvoiceStatus.CANCELLED, detail, reason=look.reason,
                         from_statuses={from_status})
        logger.info("not sent after the fresh look", extra={"invoice_id": invoice.id, "version": invoice.version,
                                                            "outcome": look.outcome, "reason": look.reason})

    def _replace(self, invoice: Invoice, fresh: Invoice, why: str) -> None:
        """The next version (from the source as it is now) in place of this claimed one, then to render."""
        replacement = next_version(invoice, fresh, self.now())
        try:
            self.invoices.put(replacement, expected_updated_at=invoice.updated_at)
        except ConflictError:
            raise DispatchInProgress(f"invoice {invoice.id} moved while it was replaced") from None
        self.invoices.add_event(invoice.id, InvoiceEvent(
            status=InvoiceStatus.QUEUED.value,
            detail=f"{why}: re-rendered as version {replacement.version}; v{invoice.version} not sent"))
        self._render(replacement)

    def _fail_next_version(self, invoice: Invoice, fresh: Invoice, disagreement: str) -> None:
        """The source changed, and the next version mapped from it does not say what it says (fresh_look.py):
        that version is stored `failed` with the differences (never rendered or sent; the sync replaces a
        failed version once the source is corrected), and this one is not sent either. Notified first,
        counted in RenderFailed as render's failures are: a crash before the write repeats the notice, never
        loses it; a message retried after the write finds itself stale and a failed version, and does nothing."""
        from ..render.fidelity import FIDELITY  # rare: not at the cold start

        summary = f"{FIDELITY} failed: {disagreement}"[:2000]
        failed = next_version(invoice, fresh, self.now()).model_copy(
            update={"status": InvoiceStatus.FAILED, "status_reason": summary})
        self.notifier.notify(self.issuer(invoice), failed, Failure("render_failed", summary), transfer=False)
        metrics.add_metric(name="RenderFailed", unit=MetricUnit.Count, value=1)
        event = InvoiceEvent(status=InvoiceStatus.FAILED.value, detail=(
            f"changed at the source just before sending: v{failed.version} {summary}; v{invoice.version} not sent"))
        try:
            self.invoices.put(failed, expected_updated_at=invoice.updated_at, events=[event])
        except ConflictError:
            raise DispatchInProgress(f"invoice {invoice.id} moved while it was replaced") from None
        logger.warning("next version failed: it does not agree with its source", extra={
            "invoice_id": invoice.id, "version": failed.version, "stage": FIDELITY})

    def hand_on_replacement(self, invoice: Invoice, stale_version: int) -> None:
        """A newer version still `queued` may be the one the fresh look stored (`_replace`) before a crash
        lost its render message: nothing else would hand it on (this message is stale now). That version's
        delivery is then missing (a look before the first claim writes none) or closed unsent. Send the
        render message again; the queue deduplicates it and render renders a version once, so a message
        that did go out costs nothing. One ledger read, only on a stale message."""
        if invoice.status != InvoiceStatus.QUEUED:
            return
        closed = self.ledger.get(invoice.id, stale_version)
        if closed is not None and closed.state != DeliveryState.CANCELLED:
            return
        logger.info("next version handed on again", extra={"invoice_id": invoice.id, "version": invoice.version})
        self._render(invoice)

    def _render(self, invoice: Invoice) -> None:
        self.render_queue.send(step_body(invoice), deduplication_id=f"{invoice.id}-v{invoice.version}")

    def _reconcile(self, delivery: Delivery, invoice: Invoice) -> Delivery | None:
        """The intent is recorded and the outcome of the call unknown (a crash, a timeout), once no run
        holds its lease; the lease is taken over first, so of two runs that read it run out one reconciles."""
        if delivery.sending_at is not None and self.now() - delivery.sending_at < self.lease:
            logger.info("sending under another run's lease; retried", extra={
                "invoice_id": invoice.id, "version": delivery.version, "sending_at": delivery.sending_at.isoformat()})
            raise DispatchInProgress(f"delivery of {invoice.id} v{delivery.version} is being sent by another run",
                                     retry_in_seconds=self._after_lease(delivery.sending_at))
        taken = self._take_over(delivery, invoice)
        try:
            if taken.channel == "email":
                failure = Failure("outcome_unknown", "the e-mail service did not confirm the e-mail", "email")
                return self._fail(taken, invoice, failure, [DeliveryState.SENDING])
            found = self._operator(invoice).find(taken.operator_idempotency_id)
            if found is not None:
                logger.info("reconciled: the operator has the invoice", extra={"invoice_id": invoice.id})
                return self._record_sent(taken, invoice, found.operator_invoice_id)
        except Exception:  # the notice, the find or the write failed, no call of ours is open: retried at once
            self._give_lease_back(taken)
            raise
        logger.info("reconciled: not at the operator, sending again", extra={"invoice_id": invoice.id})
        return self._send(taken.model_copy(update={"attempts": taken.attempts + 1}), invoice)

    def _take_over(self, delivery: Delivery, invoice: Invoice) -> Delivery:
        """The run-out lease taken anew (a new `sending_at`), conditional on the one this run read: a
        duplicate that read it too and wrote first wins, and this run neither asks, sends nor notifies."""
        now = self.now()
        taken = delivery.model_copy(update={"sending_at": now, "updated_at": now})
        try:
            self.ledger.take_over(taken, delivery.sending_at)
        except ConflictError:
            logger.info("lease taken over by another run; retried", extra={
                "invoice_id": invoice.id, "version": delivery.version})
            raise DispatchInProgress(f"delivery of {invoice.id} v{delivery.version} was taken over by another run",
                                     retry_in_seconds=self._after_lease(now)) from None
        return taken

    def _after_lease(self, sending_at: datetime) -> float:
        """Seconds until a lease taken at `sending_at` has run out, plus a margin and a jitter (duplicates
        spread): when the retry of a message that met it can act (the backoff caps it at SQS's 12 hours)."""
        left = (sending_at + self.lease - self.now()).total_seconds()
        return max(0.0, left) + LEASE_MARGIN_SECONDS + random.uniform(0, LEASE_JITTER_SECONDS)  # noqa: S311 - spread, not secrecy

    def _operator(self, invoice: Invoice) -> Operator:
        operator = self.operator_for(self.issuer(invoice))
        if operator is None:
            raise RuntimeError(
                f"invoice {invoice.id}: an operator channel needs the issuer's operator account"
            )
        return operator

    # --- the outside call ----------------------------------------------------------------------

    def _send(self, delivery: Delivery, invoice: Invoice) -> Delivery | None:
        """The outside call; None when a refused e-invoice was rerouted and the invoice moved on meanwhile."""
        try:
            document = self.document(invoice, delivery.version, delivery.channel)
        except _DocumentsMissing as exc:
            missing = _documents_missing(exc, delivery.channel)
            return self._fail(delivery, invoice, missing, [DeliveryState.SENDING])
        if delivery.channel == "email" and isinstance(document, bytes):  # the PDF
            return self._send_email(delivery, invoice, document)
        operator = self._operator(invoice)
        try:
            sent = _send_by_operator(operator, delivery, invoice, document)
        except OperatorRejected as exc:
            rerouted = self._next_channel(delivery, invoice, operator, exc)
            if rerouted is not None:
                return self._claim_and_send(rerouted, invoice)
            failure = Failure("rejected", exc.message, delivery.channel)
            return self._fail(delivery, invoice, failure, [DeliveryState.SENDING])
        except Exception:
            # OperatorOutcomeUnknown / OperatorUnavailable (or any failure of the call) propagate: the record
            # stays `sending`, the message is retried and reconciled by idempotency id, without waiting for
            # the lease (no call of ours is open).
            self._give_lease_back(delivery)
            raise
        return self._record_sent(delivery, invoice, sent.operator_invoice_id)

    def _give_lease_back(self, delivery: Delivery) -> None:
        """This run is alive and its call has ended without an answer: clear `sending_at`, still `sending`.
        Only a failed call costs the write; if it fails too, the lease runs out instead."""
        released = delivery.model_copy(update={"sending_at": None, "updated_at": self.now()})
        try:
            self.ledger.transition(released, [DeliveryState.SENDING])
        except Exception as exc:  # the call's own error is what the retry needs to see
            logger.warning("lease not given back; it runs out", extra={
                "invoice_id": delivery.invoice_id, "version": delivery.version, "error": type(exc).__name__})

    def _next_channel(
        self, delivery: Delivery, invoice: Invoice, operator: Operator, refusal: OperatorRejected
    ) -> Delivery | None:
        """A refused e-invoice (the pinned route): the delivery queued on the issuer's next channel, or None
        when it was not an e-invoice or no channel is left. The refusal is certain (the operator does not
        hold the invoice), so the next channel never makes a second delivery."""
        if delivery.channel != "einvoice":
            return None
        issuer = self.issuer(invoice)
        rerouted = reroute(
            delivery, invoice, issuer, refusal.message, invoices=self.invoices, ledger=self.ledger,
            from_state=DeliveryState.SENDING,
            new_idempotency_id=lambda channel: idempotency_id(invoice.id, invoice.version, channel),
            print_service=lambda: print_service_of(operator, issuer.id), now=self.now,
        )
        return None if isinstance(rerouted, NoChannel) else rerouted

    def _send_email(self, delivery: Delivery, invoice: Invoice, pdf: bytes) -> Delivery:
        mail = buyer_mail(self.issuer(invoice), invoice, pdf, to=delivery.recipient or "")
        try:
            message_id = self.mailer.send(mail)
        except MailRejected as exc:  # the address or the message itself: final, never retried
            failure = Failure("email_rejected", exc.reason, "email")
            return self._fail(delivery, invoice, failure, [DeliveryState.SENDING])
        except MailNotSent as exc:  # certainly not sent, may be later: give the intent back, retry
            back = delivery.model_copy(
                update={"state": DeliveryState.QUEUED, "message": exc.reason, "updated_at": self.now()}
            )
            self.ledger.transition(back, [DeliveryState.SENDING])
            raise
        except MailOutcomeUnknown:  # may have gone out: never again
            failure = Failure("outcome_unknown", "the e-mail service did not confirm the e-mail", "email")
            return self._fail(delivery, invoice, failure, [DeliveryState.SENDING])
        return self._record_sent(delivery, invoice, message_id)

    # --- outcomes ------------------------------------------------------------------------------

    def _record_sent(self, delivery: Delivery, invoice: Invoice, provider_id: str) -> Delivery:
        sent = delivery.model_copy(
            update={
                "state": DeliveryState.SENT,
                "operator_invoice_id": provider_id,
                "sent_at": self.now(),
                "updated_at": self.now(),
                "message": None,
            }
        )
        record_done(self.ledger, self.invoices, invoice, sent, [DeliveryState.SENDING])
        metrics.add_metric(name="InvoicesSent", unit=MetricUnit.Count, value=1)
        return sent

    def _fail(
        self, delivery: Delivery, invoice: Invoice, failure: Failure, from_states: list[DeliveryState]
    ) -> Delivery:
        return fail_delivery(
            delivery,
            invoice,
            self.issuer(invoice),
            failure,
            invoices=self.invoices,
            ledger=self.ledger,
            notifier=self.notifier,
            now=self.now,
            from_states=from_states,
        )


def _send_by_operator(
    operator: Operator, delivery: Delivery, invoice: Invoice, document: bytes | Letter
) -> OperatorDocument:
    """The e-invoice on the route the lookup returned, or the letter with our PDF as its image."""
    if isinstance(document, Letter):
        return operator.send_print(document, delivery.operator_idempotency_id)
    receiver = Receiver(
        eia=delivery.recipient or "",
        name=invoice.buyer.name,
        operator=delivery.recipient_operator or "PEPPOL",  # records written before routing was kept
    )
    return operator.send_einvoice(document, delivery.operator_idempotency_id, receiver)


def _print_service(operator: Operator | None, issuer: Issuer) -> PrintServiceSource | None:
    """The operator's print settings for the policy, read only when a letter is the choice."""
    if operator is None:
        return None
    return lambda: print_service_of(operator, issuer.id)


def _unreadable(exc: SourceUnreadable, channel: Channel) -> Failure:
    return Failure("source_unreadable", f"it could not be checked at the source: {exc}", channel)


def _documents_missing(exc: _DocumentsMissing, channel: Channel) -> Failure:
    return Failure("documents_missing", f"the rendered document {exc} is missing; it was never sent", channel)


def fail_delivery(
    delivery: Delivery,
    invoice: Invoice,
    issuer: Issuer,
    failure: Failure,
    *,
    invoices: InvoiceRepository,
    ledger: DeliveryLedger,
    notifier: FailureNotifier,
    now: Callable[[], datetime] = utcnow,
    from_states: Collection[DeliveryState],
) -> Delivery:
    """Notify the issuer, then move the delivery (conditionally) and the invoice to `failed`."""
    notifier.notify(issuer, invoice, failure)  # before the move: a crash repeats it rather than loses it
    failed = delivery.model_copy(
        update={"state": DeliveryState.FAILED, "message": failure.reason, "updated_at": now()}
    )
    record_done(ledger, invoices, invoice, failed, list(from_states))
    return failed


def record_done(
    ledger: DeliveryLedger, invoices: InvoiceRepository, invoice: Invoice, done: Delivery,
    from_states: Collection[DeliveryState],
) -> None:
    """Move the delivery to a done state (sent, delivered, failed) and the invoice's status in line with it,
    in one write; when the invoice moved on meanwhile, the delivery alone and then the invoice as
    `sync_invoice_status` does (the move that lost is left alone). ConflictError: the delivery moved."""
    move = _status_move(invoice, done)
    if not ledger.transition(done, list(from_states), invoice_move=move) and move is not None:
        sync_invoice_status(invoices, invoice, done)


def _status_move(invoice: Invoice, delivery: Delivery) -> InvoiceMove | None:
    """The invoice's move in line with a done delivery, or None when there is none to write."""
    done = _done_status(invoice, delivery)
    return _planned_move(invoice, *done, channel=delivery.channel) if done is not None else None


def sync_invoice_status(invoices: InvoiceRepository, invoice: Invoice, delivery: Delivery) -> Invoice | None:
    """Bring the invoice status in line with a delivery that is done (sent, delivered, failed)."""
    done = _done_status(invoice, delivery)
    return move_invoice(invoices, invoice, *done, channel=delivery.channel) if done is not None else None


def _done_status(invoice: Invoice, delivery: Delivery) -> tuple[InvoiceStatus, str] | None:
    """The status (and its event's detail) of this version for a delivery that is done, else None."""
    status = _STATUS_OF_DONE.get(delivery.state)
    if status is None or invoice.version != delivery.version:
        return None
    return status, delivery.message or f"{status.value} by {delivery.channel}"


def _planned_move(
    invoice: Invoice,
    status: InvoiceStatus,
    detail: str,
    *,
    channel: Channel | None = None,
    from_statuses: Collection[InvoiceStatus] | None = None,
    reason: str | None = None,
) -> InvoiceMove | None:
    """The conditional move `move_invoice` writes; None when the invoice is there already."""
    if invoice.status == status and (channel is None or invoice.channel == channel):
        return None
    update: dict[str, object] = {
        "status": status,
        "updated_at": utcnow(),
        "status_reason": reason or (detail if status == InvoiceStatus.FAILED else None),
    }
    if channel is not None:
        update["channel"] = channel
    return InvoiceMove(
        invoice=invoice.model_copy(update=update),
        from_statuses=from_statuses if from_statuses is not None else MOVES_TO[status],
        event=InvoiceEvent(status=status.value, detail=detail),
    )


def move_invoice(
    invoices: InvoiceRepository,
    invoice: Invoice,
    status: InvoiceStatus,
    detail: str,
    channel: Channel | None = None,
    from_statuses: Collection[InvoiceStatus] | None = None,
    reason: str | None = None,
) -> Invoice | None:
    """Move this version of the invoice to `status`, with its event, if it is still this version in one
    of `from_statuses` (by default those that may move there in dispatch, `MOVES_TO`). Returns the
    invoice as written (or as it is, when it is there already), or None when it moved on (a newer
    version, a cancellation, a later status): that state is left alone, nobody's change is overwritten.
    `reason`: the status reason (by default the detail of a failure, none otherwise)."""
    move = _planned_move(invoice, status, detail, channel=channel, from_statuses=from_statuses, reason=reason)
    if move is None:
        return invoice
    try:
        invoices.transition(move.invoice, move.from_statuses, move.event)
    except ConflictError:
        current = invoices.get(invoice.id)
        if current.version == invoice.version and current.status == status:
            return current  # the same move, made by another run
        logger.info(
            "invoice moved on; status not written",
            extra={
                "invoice_id": invoice.id,
                "version": invoice.version,
                "status": status.value,
                "current_version": current.version,
                "current_status": current.status.value,
            },
        )
        return None
    return move.invoice
