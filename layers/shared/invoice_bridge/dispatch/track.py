"""The status poller: invoices in `sent` by an operator channel move to delivered or failed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime

from aws_lambda_powertools.metrics import MetricUnit

from ..models.common import utcnow
from ..models.delivery import DeliveryState
from ..models.invoice import InvoiceStatus
from ..models.issuer import Issuer
from ..observability import logger, metrics
from ..ports import ConflictError, DeliveryLedger, InvoiceRepository, IssuerRepository, Operator
from .errors import OperatorError
from .notify import Failure, FailureNotifier
from .service import sync_invoice_status


def track_deliveries(
    *,
    invoices: InvoiceRepository,
    issuers: IssuerRepository,
    ledger: DeliveryLedger,
    operator_for: Callable[[Issuer], Operator | None],
    notifier: FailureNotifier,
    now: Callable[[], datetime] = utcnow,
    page_size: int = 100,
) -> Counter[str]:
    """Poll once; returns counts: delivered, failed, pending, skipped, errors. Safe to run concurrently:
    every move is conditional on the record still being `sent`."""
    counts: Counter[str] = Counter()
    issuers_seen: dict[str, Issuer] = {}  # one read per issuer and poll, not one per invoice
    cursor: str | None = None
    while True:
        # E-mail outcomes come from SES notifications, not from polling: not even read.
        page, cursor = invoices.list(
            status=InvoiceStatus.SENT.value, limit=page_size, cursor=cursor, exclude_channel="email"
        )
        for invoice in page:
            if invoice.channel == "email":  # the channel is written with the status, from the record
                counts["skipped"] += 1
                continue
            delivery = ledger.get(invoice.id, invoice.version)
            if delivery is None or delivery.channel == "email" or delivery.operator_invoice_id is None:
                counts["skipped"] += 1  # e-mail outcomes come from SES notifications, not from polling
                continue
            if delivery.state != DeliveryState.SENT:
                sync_invoice_status(invoices, invoice, delivery)
                counts["skipped"] += 1
                continue
            if invoice.issuer_id not in issuers_seen:
                issuers_seen[invoice.issuer_id] = issuers.get(invoice.issuer_id)
            issuer = issuers_seen[invoice.issuer_id]
            operator = operator_for(issuer)
            if operator is None:
                counts["skipped"] += 1
                continue
            try:
                document = operator.status(delivery.operator_invoice_id)
            except OperatorError as exc:
                logger.warning(
                    "status poll failed", extra={"invoice_id": invoice.id, "error": type(exc).__name__}
                )
                counts["errors"] += 1
                continue
            try:
                if document.status == "DELIVERED":
                    done = delivery.model_copy(
                        update={"state": DeliveryState.DELIVERED, "delivered_at": now(), "updated_at": now()}
                    )
                    ledger.transition(done, [DeliveryState.SENT])
                    sync_invoice_status(invoices, invoice, done)
                    metrics.add_metric(name="InvoicesDelivered", unit=MetricUnit.Count, value=1)
                    counts["delivered"] += 1
                elif document.status == "FAILED":
                    reason = document.message or "the operator could not deliver the invoice"
                    notifier.notify(issuer, invoice, Failure("delivery_failed", reason, delivery.channel))
                    failed = delivery.model_copy(
                        update={"state": DeliveryState.FAILED, "message": reason, "updated_at": now()}
                    )
                    ledger.transition(failed, [DeliveryState.SENT])
                    sync_invoice_status(invoices, invoice, failed)
                    counts["failed"] += 1
                else:
                    counts["pending"] += 1
            except ConflictError:
                counts["skipped"] += 1  # another poller got there first
        if cursor is None:
            return counts
