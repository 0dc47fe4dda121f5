"""Delivery of one invoice version: the exactly-once ledger entry."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from .common import Model, utcnow
from .invoice import Channel


class DeliveryState(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"  # intent recorded before the call; an unknown outcome is reconciled
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    # Never sent: the fresh look before sending found the invoice paid, credited or changed at the source.
    CANCELLED = "cancelled"


class Delivery(Model):
    invoice_id: str
    version: int
    channel: Channel
    state: DeliveryState = DeliveryState.QUEUED
    # Client-chosen id given to the operator (Maventa `uuid`) so a retry is recognised.
    operator_idempotency_id: str
    operator_invoice_id: str | None = None
    recipient: str | None = None  # EIA, e-mail address or postal name
    # E-invoice: the operator the receiver lookup returned; the upload pins it with the EIA.
    recipient_operator: str | None = None
    # Channels that already failed for this version (the pinned e-invoice route); the policy skips them.
    failed_channels: list[Channel] = Field(default_factory=list)
    attempts: int = 0
    message: str | None = None
    sending_at: datetime | None = None
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)
