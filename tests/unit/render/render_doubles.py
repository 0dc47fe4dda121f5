"""In-memory implementations of the ports the render service uses (the real ones are DynamoDB/S3/SQS)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime

from invoice_bridge.models.invoice import Invoice, InvoiceEvent
from invoice_bridge.ports import ConflictError, NotFound, QueueMessage


class MemoryInvoices:
    def __init__(self) -> None:
        self.items: dict[str, Invoice] = {}
        self.history: dict[str, list[InvoiceEvent]] = {}

    def get(self, invoice_id: str) -> Invoice:
        if invoice_id not in self.items:
            raise NotFound(invoice_id)
        return self.items[invoice_id]

    def get_many(self, invoice_ids: Collection[str]) -> dict[str, Invoice]:
        return {i: self.items[i] for i in invoice_ids if i in self.items}

    def find_by_source(self, issuer_id: str, source_id: str) -> Invoice | None:
        return next((i for i in self.items.values() if (i.issuer_id, i.source_id) == (issuer_id, source_id)), None)

    def put(
        self, invoice: Invoice, expected_updated_at: datetime | None = None, events: Sequence[InvoiceEvent] = ()
    ) -> None:
        current = self.items.get(invoice.id)
        if expected_updated_at is not None and (current is None or current.updated_at != expected_updated_at):
            raise ConflictError(invoice.id)
        for event in events:
            self.add_event(invoice.id, event)
        self.items[invoice.id] = invoice

    def transition(self, invoice: Invoice, from_statuses: Collection[str], event: InvoiceEvent | None = None) -> None:
        current = self.items.get(invoice.id)
        if current is None or current.version != invoice.version or current.status not in from_statuses:
            raise ConflictError(invoice.id)
        self.items[invoice.id] = invoice
        if event is not None:
            self.add_event(invoice.id, event)

    def add_event(self, invoice_id: str, event: InvoiceEvent) -> None:
        self.history.setdefault(invoice_id, []).append(event)

    def events(self, invoice_id: str) -> list[InvoiceEvent]:
        return list(self.history.get(invoice_id, []))

    def list(self, issuer_id=None, status=None, limit=50, cursor=None):  # type: ignore[no-untyped-def]
        return list(self.items.values())[:limit], None


class MemoryDocuments:
    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, str]] = {}

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self.objects[key] = (body, content_type)

    def get(self, key: str) -> bytes:
        if key not in self.objects:
            raise NotFound(key)
        return self.objects[key][0]

    def presign(self, key: str, expires_seconds: int = 300, download_name: str | None = None) -> str:
        return f"memory://{key}"


class MemoryQueue:
    def __init__(self) -> None:
        self.messages: list[tuple[dict[str, object], str | None]] = []

    def send(self, message: Mapping[str, object], deduplication_id: str | None = None) -> None:
        self.messages.append((dict(message), deduplication_id))

    def send_many(self, messages: Sequence[QueueMessage]) -> Mapping[int, str]:
        for message in messages:
            self.send(message.body, message.deduplication_id)
        return {}
