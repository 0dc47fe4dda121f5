"""The office's actions on one invoice: release a held invoice, retry a failed one."""

from __future__ import annotations

from .models.invoice import Invoice, InvoiceEvent, InvoiceStatus
from .ports import InvoiceRepository, WorkQueue


class InvalidTransition(Exception):
    """The invoice is not in a state that allows the action."""


def release_invoice(invoice_id: str, *, invoices: InvoiceRepository, dispatch_queue: WorkQueue) -> Invoice:
    invoice = invoices.get(invoice_id)
    if invoice.status != InvoiceStatus.HELD:
        raise InvalidTransition(f"invoice {invoice.number} is {invoice.status.value}, only held invoices can be released")
    read_at = invoice.updated_at
    invoice.status = InvoiceStatus.RENDERED
    invoice.status_reason = None
    invoices.put(invoice, expected_updated_at=read_at)
    invoices.add_event(invoice.id, InvoiceEvent(status=invoice.status.value, detail="released by the office"))
    dispatch_queue.send({"invoice_id": invoice.id, "version": invoice.version})
    return invoice


def retry_invoice(
    invoice_id: str, *, invoices: InvoiceRepository, render_queue: WorkQueue, dispatch_queue: WorkQueue
) -> Invoice:
    """Send a failed invoice again: re-render when it never got its documents, else dispatch again."""
    invoice = invoices.get(invoice_id)
    if invoice.status != InvoiceStatus.FAILED:
        raise InvalidTransition(f"invoice {invoice.number} is {invoice.status.value}, only failed invoices can be retried")
    read_at = invoice.updated_at
    rendered = invoice.pdf_key is not None and invoice.einvoice_key is not None
    invoice.status = InvoiceStatus.RENDERED if rendered else InvoiceStatus.QUEUED
    invoice.status_reason = None
    invoices.put(invoice, expected_updated_at=read_at)
    invoices.add_event(invoice.id, InvoiceEvent(status=invoice.status.value, detail="retry requested by the office"))
    message = {"invoice_id": invoice.id, "version": invoice.version, "retry": True}
    (dispatch_queue if rendered else render_queue).send(message)
    return invoice
