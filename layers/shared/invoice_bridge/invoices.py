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
    invoice.hold = False
    invoices.put(invoice, expected_updated_at=read_at)
    invoices.add_event(invoice.id, InvoiceEvent(status=invoice.status.value, detail="released by the office"))
    dispatch_queue.send({"invoice_id": invoice.id, "version": invoice.version})
    return invoice


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
    invoices.put(invoice, expected_updated_at=read_at)
    invoices.add_event(
        invoice.id, InvoiceEvent(status=invoice.status.value, detail=f"retry requested by the office (v{invoice.version})")
    )
    render_queue.send({"invoice_id": invoice.id, "version": invoice.version})
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
    invoices.put(invoice, expected_updated_at=read_at)
    invoices.add_event(invoice.id, InvoiceEvent(status=invoice.status.value, detail="dismissed by the office"))
    return invoice
