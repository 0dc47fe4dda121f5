"""SES event notifications (SNS → Lambda): bounces and complaints fail an e-mail delivery, deliveries confirm it.

The SNS message is the SES notification JSON: `eventType` (configuration-set event publishing) or
`notificationType` (identity notifications), and `mail.messageId`, the id `SesMailer.send` returned and
the delivery record keeps (`operator_invoice_id` of an e-mail delivery). SNS delivers at least once, so
every move is conditional and a repeat of a notification that already took effect does nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from aws_lambda_powertools.metrics import MetricUnit

from ..models.common import utcnow
from ..models.delivery import Delivery, DeliveryState
from ..observability import logger, metrics
from ..ports import ConflictError, DeliveryLedger, InvoiceRepository, IssuerRepository, NotFound
from .notify import Failure, FailureNotifier
from .service import sync_invoice_status

SesKind = Literal["Bounce", "Complaint", "Delivery", "Reject"]
Outcome = Literal["failed", "delivered", "ignored", "unknown_message", "already_done"]


class MessageLedger(DeliveryLedger, Protocol):
    """The delivery ledger plus the lookup from a provider's message id to its delivery."""

    def find_by_message_id(self, message_id: str) -> Delivery | None: ...


@dataclass(frozen=True)
class SesEventServices:
    """What an SES notification is applied through (built by `invoice_bridge.wiring.ses_event_services`)."""

    invoices: InvoiceRepository
    issuers: IssuerRepository
    ledger: MessageLedger
    notifier: FailureNotifier


@dataclass(frozen=True)
class SesEvent:
    kind: SesKind
    message_id: str
    final: bool  # True when the event settles the delivery (a transient bounce does not: SES retries)
    reason: str  # English, for the ledger, the failures list and the report


def parse_ses_notification(notification: Mapping[str, Any]) -> SesEvent | None:
    """The event in an SES notification, or None for kinds that do not change a delivery (Send, Open …)."""
    kind = notification.get("eventType") or notification.get("notificationType")
    message_id = (notification.get("mail") or {}).get("messageId")
    if kind not in ("Bounce", "Complaint", "Delivery", "Reject") or not message_id:
        return None
    if kind == "Bounce":
        bounce = notification.get("bounce") or {}
        bounce_type = bounce.get("bounceType", "Undetermined")
        recipients = bounce.get("bouncedRecipients") or [{}]
        diagnostic = recipients[0].get("diagnosticCode") or recipients[0].get("status") or ""
        reason = f"the e-mail bounced ({bounce_type}/{bounce.get('bounceSubType', 'General')})"
        if diagnostic:
            reason += f": {diagnostic}"
        return SesEvent("Bounce", message_id, bounce_type != "Transient", reason)
    if kind == "Complaint":
        feedback = (notification.get("complaint") or {}).get("complaintFeedbackType") or "not given"
        return SesEvent("Complaint", message_id, True, f"the recipient marked the e-mail as spam ({feedback})")
    if kind == "Reject":
        reason = (notification.get("reject") or {}).get("reason") or "rejected"
        return SesEvent("Reject", message_id, True, f"the e-mail service rejected the e-mail ({reason})")
    return SesEvent("Delivery", message_id, True, "delivered to the recipient's mail server")


_FAILURE_CODES = {"Bounce": "email_bounced", "Complaint": "email_complaint", "Reject": "email_bounced"}


def apply_ses_notification(
    notification: Mapping[str, Any], services: SesEventServices, *, now: Callable[[], datetime] = utcnow
) -> Outcome:
    """Apply one SES notification to the e-mail delivery it is about. Returns what happened."""
    invoices, issuers, ledger, notifier = services.invoices, services.issuers, services.ledger, services.notifier
    event = parse_ses_notification(notification)
    if event is None or not event.final:
        return "ignored"
    delivery = ledger.find_by_message_id(event.message_id)
    if delivery is None or delivery.channel != "email":
        # Failure notices to issuers are SES mails too; they have no delivery record.
        logger.info("SES event for an unknown message", extra={"kind": event.kind})
        return "unknown_message"
    if event.kind == "Delivery":
        return _delivered(delivery, invoices, ledger, now)
    return _failed(delivery, event, invoices, issuers, ledger, notifier, now)


def _delivered(
    delivery: Delivery, invoices: InvoiceRepository, ledger: DeliveryLedger, now: Callable[[], datetime]
) -> Outcome:
    if delivery.state != DeliveryState.SENT:
        return "already_done"  # delivered already, or failed by a bounce that arrived first
    done = delivery.model_copy(
        update={"state": DeliveryState.DELIVERED, "delivered_at": now(), "updated_at": now()}
    )
    try:
        ledger.transition(done, [DeliveryState.SENT])
    except ConflictError:
        return "already_done"
    _sync_current(invoices, done)
    metrics.add_metric(name="InvoicesDelivered", unit=MetricUnit.Count, value=1)
    return "delivered"


def _failed(
    delivery: Delivery,
    event: SesEvent,
    invoices: InvoiceRepository,
    issuers: IssuerRepository,
    ledger: DeliveryLedger,
    notifier: FailureNotifier,
    now: Callable[[], datetime],
) -> Outcome:
    # A complaint can follow a delivery; a bounce can arrive after the Delivery event of a late bounce.
    if delivery.state not in (DeliveryState.SENT, DeliveryState.DELIVERED):
        return "already_done"
    try:
        invoice = invoices.get(delivery.invoice_id)
    except NotFound:
        return "unknown_message"
    issuer = issuers.get(invoice.issuer_id)
    # Notify before the move (as dispatch does): a crash repeats the notice rather than loses it.
    notifier.notify(issuer, invoice, Failure(_FAILURE_CODES[event.kind], event.reason, "email"))
    failed = delivery.model_copy(
        update={"state": DeliveryState.FAILED, "message": event.reason, "updated_at": now()}
    )
    try:
        ledger.transition(failed, [DeliveryState.SENT, DeliveryState.DELIVERED])
    except ConflictError:
        return "already_done"
    _sync_current(invoices, failed)
    return "failed"


def _sync_current(invoices: InvoiceRepository, delivery: Delivery) -> None:
    """Move the invoice status along, unless the invoice has moved on to a newer version meanwhile."""
    invoice = invoices.get(delivery.invoice_id)
    if invoice.version == delivery.version:
        sync_invoice_status(invoices, invoice, delivery)
