"""A new version of an invoice that has not gone out: the source changed (the sync, or the fresh look in
dispatch) or it was selected again after a cancellation."""

from __future__ import annotations

from datetime import datetime

from .models.invoice import Invoice, InvoiceStatus


def next_version(current: Invoice, fresh: Invoice, now: datetime) -> Invoice:
    """`fresh` (mapped from the source as it is now) as the version after `current`. What the office
    decided stays with the invoice: its review hold, and its approval (which counts only while the content
    is the one approved); so does when it was first imported. Everything else is the source's, and the
    version starts over: queued for render, no channel, no documents yet."""
    return fresh.model_copy(update={
        "version": current.version + 1,
        "status": InvoiceStatus.QUEUED,
        "status_reason": None,
        "channel": None,
        "pdf_key": None,
        "einvoice_key": None,
        "send_at": None,
        "hold": current.hold,
        "hold_reason": current.hold_reason,
        "approval": current.approval,
        "created_at": current.created_at,
        "updated_at": now,
    })
