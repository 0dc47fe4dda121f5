"""What a rendered invoice waits for before it goes out: the guards where Spiris cannot tell (issue 13,
point 2; docs/sending.md).

After render, a version passes three gates in this order; `waiting_for` names the first one that holds
it, and the invoice waits `held` with that name as its `status_reason`:

1. the office's review (`hold`: the first sync, dated before activation): ended by a release;
2. approval (`issuer.sending == "approve"`): `awaiting_approval` until the office approves this content;
3. the send delay (`issuer.send_delay_hours`): `send_delay` until `send_at`, the version's last change at
   the source plus the delay; the sweeper's tick hands due invoices on (`release_due_invoices`).

A change at the source while an invoice waits makes a new version (the sync; the fresh look in dispatch),
which is rendered and gated again: its delay starts again from that change, and an approval of the old
content does not carry over (`Approval.content_hash`). Every move here is conditional on the version and
on `held`, so a newer version or a cancellation is never written over.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from .models.common import utcnow
from .models.invoice import AWAITING_APPROVAL, SEND_DELAY, Approval, Invoice, InvoiceEvent, InvoiceStatus
from .models.issuer import Issuer
from .observability import logger
from .ports import ConflictError, InvoiceRepository, QueueMessage, WorkQueue
from .step_messages import step_body

REVIEW = "review"  # the reason of a review hold that recorded none


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def send_at_for(invoice: Invoice, issuer: Issuer, now: datetime) -> datetime | None:
    """When this version may go out at the earliest: its last change at the source (never later than
    now: a clock ahead of ours must not stretch the delay) plus the issuer's delay; None without one."""
    if not issuer.send_delay_hours:
        return None
    changed = _aware(invoice.source_modified_utc) if invoice.source_modified_utc else now
    return min(changed, now) + timedelta(hours=issuer.send_delay_hours)


def is_approved(invoice: Invoice) -> bool:
    """The office let this very content go (an approval or a release of it)."""
    return invoice.approval is not None and invoice.approval.content_hash == invoice.content_hash


def waiting_for(invoice: Invoice, issuer: Issuer, now: datetime) -> str | None:
    """The gate this rendered version waits at (its `status_reason` while held), or None: it goes out."""
    if invoice.hold:
        return invoice.hold_reason or REVIEW
    if issuer.sending == "approve" and not is_approved(invoice):
        return AWAITING_APPROVAL
    if invoice.send_at is not None and _aware(invoice.send_at) > now:
        return SEND_DELAY
    return None


def dispatch_message(invoice: Invoice) -> QueueMessage:
    """The dispatch message of a version that may go out (idempotent per version in dispatch)."""
    return QueueMessage(step_body(invoice), deduplication_id=f"{invoice.id}:v{invoice.version}")


def hand_on(dispatch_queue: WorkQueue, invoice: Invoice) -> None:
    """Send the version's dispatch message (`dispatch_message`)."""
    message = dispatch_message(invoice)
    dispatch_queue.send(message.body, deduplication_id=message.deduplication_id)


def pass_gate(
    invoice: Invoice,
    issuer: Issuer,
    detail: str,
    *,
    invoices: InvoiceRepository,
    dispatch_queue: WorkQueue,
    now: datetime,
) -> Invoice:
    """Move a held version on after one of its gates was passed (`invoice` carries what changed): held at
    the next gate, or `rendered` and handed to dispatch. Raises ConflictError when the version moved on."""
    reason = waiting_for(invoice, issuer, now)
    status = InvoiceStatus.HELD if reason else InvoiceStatus.RENDERED
    moved = invoice.model_copy(update={"status": status, "status_reason": reason, "updated_at": now})
    waits = ""
    if reason == SEND_DELAY and moved.send_at is not None:
        waits = f"; waits for its send delay until {moved.send_at.isoformat()}"
    elif reason:
        waits = f"; waits: {reason}"
    invoices.transition(moved, {InvoiceStatus.HELD}, InvoiceEvent(at=now, status=status.value, detail=detail + waits))
    if status == InvoiceStatus.RENDERED:
        hand_on(dispatch_queue, moved)
    return moved


def approval_of(invoice: Invoice, by: str, now: datetime) -> Approval:
    return Approval(content_hash=invoice.content_hash, version=invoice.version, by=by, at=now)


@dataclass
class DueResult:
    due: int = 0  # found in the send-time index with `send_at` passed
    handed_on: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def release_due_invoices(
    *, invoices: InvoiceRepository, dispatch_queue: WorkQueue, now: datetime | None = None, limit: int = 200
) -> DueResult:
    """Hand on every invoice whose send delay is over (SQS delays messages 15 minutes at most, so a
    scheduled tick does it). Each is read again (the index is eventually consistent) and moved only if it
    still waits for this delay at this version; a larger backlog is the next tick's."""
    now = now or utcnow()
    result = DueResult()
    for found in invoices.due_to_send(now, limit):
        result.due += 1
        current = invoices.get(found.id)
        if (current.status, current.status_reason) != (InvoiceStatus.HELD, SEND_DELAY) or (
            current.send_at is not None and _aware(current.send_at) > now
        ):
            continue
        moved = current.model_copy(update={"status": InvoiceStatus.RENDERED, "status_reason": None,
                                           "updated_at": now})
        try:
            invoices.transition(moved, {InvoiceStatus.HELD},
                                InvoiceEvent(at=now, status=moved.status.value, detail="send delay over"))
        except ConflictError:  # released, replaced or cancelled meanwhile: left as it is
            continue
        hand_on(dispatch_queue, moved)
        result.handed_on += 1
    if result.due:
        logger.info("invoices due after their send delay", extra=result.as_dict())
    return result
