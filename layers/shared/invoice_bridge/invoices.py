"""The office's actions on one invoice: release a held invoice, approve one, retry a failed one."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from .models.common import utcnow
from .models.invoice import AWAITING_APPROVAL, Invoice, InvoiceEvent, InvoiceStatus
from .ports import InvoiceMove, InvoiceRepository, IssuerRepository, StoreBusy, WorkQueue
from .sending import approval_of, dispatch_message, hand_on, pass_gate
from .step_messages import step_body

OFFICE = "the office"  # who acted, when the caller has no name for the person


class InvalidTransition(Exception):
    """The invoice is not in a state that allows the action."""


def release_invoice(
    invoice_id: str,
    *,
    invoices: InvoiceRepository,
    dispatch_queue: WorkQueue,
    by: str = OFFICE,
    now: Callable[[], datetime] = utcnow,
) -> Invoice:
    """Let a held invoice go out now, whatever it waits for (review, approval, its send delay): the
    office's go for this content, recorded as its approval. Conditional on the version read."""
    released = _release(invoices.get(invoice_id), invoices=invoices, by=by, at=now())
    hand_on(dispatch_queue, released)
    return released


def _release(invoice: Invoice, *, invoices: InvoiceRepository, by: str, at: datetime) -> Invoice:
    """The release's decision, written: conditional on the version read and on `held` (InvalidTransition,
    or ConflictError when it moved on since it was read)."""
    move = _release_move(invoice, by=by, at=at)
    invoices.transition(move.invoice, move.from_statuses, move.event)
    return move.invoice


def _release_move(invoice: Invoice, *, by: str, at: datetime) -> InvoiceMove:
    """The release's decision: the invoice `rendered` with the office's approval, from `held` only
    (InvalidTransition for any other status)."""
    if invoice.status != InvoiceStatus.HELD:
        raise InvalidTransition(f"invoice {invoice.number} is {invoice.status.value}, only held invoices can be released")
    released = invoice.model_copy(update={
        "status": InvoiceStatus.RENDERED, "status_reason": None, "hold": False,
        "approval": approval_of(invoice, by, at), "updated_at": at,
    })
    waited = f" (it waited: {invoice.status_reason})" if invoice.status_reason else ""
    event = InvoiceEvent(at=at, status=released.status.value, detail=f"released by {by}{waited}")
    return InvoiceMove(released, {InvoiceStatus.HELD}, event)


@dataclass
class Released:
    """What a release of many did: the invoices released (`rendered`, handed on to dispatch), those not
    released (refused with why, or changed since they were read), and of the released those whose
    dispatch message the queue did not take (the sweeper hands a `rendered` invoice on again: stuck.py)."""

    released: list[Invoice] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # invoice id → why it was not released
    changed: list[str] = field(default_factory=list)  # moved on between the read and the release's write
    not_handed_on: dict[str, str] = field(default_factory=dict)  # invoice id → the queue's reason


class ReleaseBusy(StoreBusy):
    """A release of many the table refused in part for now: `released` says what was done all the same
    (released and handed on, refused, changed meanwhile); `not_written` names the rest."""

    def __init__(self, message: str, released: Released, retry_after_seconds: float = 1.0, *,
                 not_written: Sequence[str] = (), moved_on: Sequence[str] = ()) -> None:
        super().__init__(message, retry_after_seconds, not_written=not_written, moved_on=moved_on)
        self.released = released


def release_invoices(
    invoice_ids: Sequence[str],
    *,
    invoices: InvoiceRepository,
    dispatch_queue: WorkQueue,
    by: str = OFFICE,
    now: Callable[[], datetime] = utcnow,
) -> Released:
    """`release_invoice` for many (a held first sync): the invoices read together, each released on its
    own condition as one release is but written together (`transition_many`: one request for a whole
    first sync unless one moved on since it was read), then their dispatch messages sent together.
    StoreBusy when the table kept refusing some of the writes for now: those written are handed on first,
    and the error (`ReleaseBusy`) names the invoices not released and carries what was done (a release of
    the rest again is what the office does). A read the table kept refusing releases nothing (ReleaseBusy)."""
    try:
        found = invoices.get_many(invoice_ids)
    except StoreBusy as exc:
        wanted = list(dict.fromkeys(invoice_ids))
        raise ReleaseBusy(
            f"None of the {len(wanted)} invoices could be read now (the table was busy); nothing was released. "
            "Send the request again in a moment.", Released(), exc.retry_after_seconds, not_written=wanted,
        ) from exc
    result, at = Released(), now()
    moves: list[InvoiceMove] = []
    for invoice_id in dict.fromkeys(invoice_ids):
        invoice = found.get(invoice_id)
        try:
            if invoice is None:
                raise InvalidTransition(f"invoice {invoice_id} not found")
            moves.append(_release_move(invoice, by=by, at=at))
        except InvalidTransition as exc:
            result.refused[invoice_id] = str(exc)
    busy: StoreBusy | None = None
    try:
        result.changed = invoices.transition_many(moves)
    except StoreBusy as exc:  # those written go out all the same; the office sends the rest again
        busy, result.changed = exc, list(exc.moved_on)
    left = {*result.changed, *(busy.not_written if busy else ())}
    result.released = [move.invoice for move in moves if move.invoice.id not in left]
    not_sent = dispatch_queue.send_many([dispatch_message(invoice) for invoice in result.released])
    result.not_handed_on = {result.released[position].id: reason for position, reason in not_sent.items()}
    if busy is not None:
        raise ReleaseBusy(
            f"{len(busy.not_written)} of {len(moves)} invoices could not be released now (the table was busy); "
            f"{len(result.released)} were released and handed on. Send the request again in a moment.",
            result, busy.retry_after_seconds, not_written=busy.not_written, moved_on=busy.moved_on,
        ) from busy
    return result


def approve_invoice(
    invoice_id: str,
    *,
    invoices: InvoiceRepository,
    issuers: IssuerRepository,
    dispatch_queue: WorkQueue,
    by: str = OFFICE,
    now: Callable[[], datetime] = utcnow,
) -> Invoice:
    """Approve the newest version of an invoice waiting for approval: it goes on to its send delay, if
    any, else out. Who and when are kept on the invoice (`approval`) and in its event. A version that
    changed since it was read is not approved (ConflictError: the office approves what it saw)."""
    invoice = invoices.get(invoice_id)
    if (invoice.status, invoice.status_reason) != (InvoiceStatus.HELD, AWAITING_APPROVAL):
        what = invoice.status.value + (f" ({invoice.status_reason})" if invoice.status_reason else "")
        raise InvalidTransition(
            f"invoice {invoice.number} is {what}, only invoices waiting for approval can be approved"
        )
    at = now()
    approved = invoice.model_copy(update={"approval": approval_of(invoice, by, at)})
    return pass_gate(approved, issuers.get(invoice.issuer_id), f"v{invoice.version} approved by {by}",
                     invoices=invoices, dispatch_queue=dispatch_queue, now=at)


def retry_invoice(invoice_id: str, *, invoices: InvoiceRepository, render_queue: WorkQueue) -> Invoice:
    """Send a failed invoice again after its cause was fixed.

    A retry is a new version: it is rendered again (the cause may have been the issuer's settings) and
    gets a new delivery record, so the exactly-once ledger of the failed attempt stays as it was.
    """
    invoice = invoices.get(invoice_id)
    if invoice.status != InvoiceStatus.FAILED:
        raise InvalidTransition(f"invoice {invoice.number} is {invoice.status.value}, only failed invoices can be retried")
    read_at = invoice.updated_at
    invoice.version += 1
    invoice.status = InvoiceStatus.QUEUED
    invoice.status_reason = None
    invoice.channel = None
    retried = InvoiceEvent(status=invoice.status.value, detail=f"retry requested by the office (v{invoice.version})")
    invoices.put(invoice, expected_updated_at=read_at, events=[retried])
    render_queue.send(step_body(invoice))
    return invoice


def dismiss_invoice(invoice_id: str, *, invoices: InvoiceRepository) -> Invoice:
    """The office decides a held invoice is not to be sent (the first fetch's reconciliation: e.g. the
    issuer already sent it by other means). It becomes cancelled and keeps its hold, so should it change
    at the source and come back as a new version, it waits for the office again instead of going out."""
    invoice = invoices.get(invoice_id)
    if invoice.status != InvoiceStatus.HELD:
        raise InvalidTransition(
            f"invoice {invoice.number} is {invoice.status.value}, only held invoices can be dismissed"
        )
    read_at = invoice.updated_at
    invoice.status = InvoiceStatus.CANCELLED
    invoice.status_reason = "dismissed by the office"
    invoice.hold = True
    dismissed = InvoiceEvent(status=invoice.status.value, detail="dismissed by the office")
    invoices.put(invoice, expected_updated_at=read_at, events=[dismissed])
    return invoice
