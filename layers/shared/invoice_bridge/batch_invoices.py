"""The invoices one queue batch works on, read together at its start (issue 15: a lean path per invoice).

Render and dispatch each read their record's invoice first, then its issuer (and dispatch the integration,
for the fresh look). For a batch (up to 10 records each) those reads are one strongly consistent
BatchGetItem instead of one GetItem per record and per issuer and integration: the messages name the
issuer and integration besides the invoice (step_messages.py), so all three are asked at once
(`BatchFirstRead`, through the `BatchReader` port). A message without them (sent before they were carried)
has its issuer and integration read on their own, as before.

Why a read at the batch's start is as good as each record's own read: every message is sent after the
write that makes it actionable, so any read after the batch was received sees that write. And every later
write of render and dispatch is conditional (on the version, the status, `updated_at`), so a change made
after the batch read (a cancellation, a newer version, a duplicate's move) ends as a ConflictError, exactly
as it would after a slow single read.

A read-through for one batch, built per invocation (`entrypoints.render_batch`, `entrypoints.dispatch_batch`)
and dropped with it, never a cache: the first `get` of each id of the batch is served from the batch read;
any later `get` of it (a re-read after a ConflictError, a duplicate record in the batch) and a `get` after
a write of it through here reads the table again. Everything else passes through.

An id the batch read did not find is NotFound at its `get`, as the table's own `get` would say (its
message was sent after the invoice was written, so a read after receipt finds it if it is there). A
batch read that fails (throttled past its retries, refused) is logged and left out: each `get` then reads
the table, as without a batch read, so the batch read never fails a record that its own read would serve.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from .observability import logger
from .ports import BatchRead, BatchReader, InvoiceMove, InvoiceRepository, NotFound

if TYPE_CHECKING:
    from .models.integration import Integration
    from .models.invoice import Invoice, InvoiceEvent
    from .models.issuer import Issuer


class _Named(Protocol):
    """What a render or dispatch request names (messages.InvoiceStepRequest)."""

    @property
    def invoice_id(self) -> str: ...
    @property
    def issuer_id(self) -> str | None: ...
    @property
    def integration_id(self) -> str | None: ...


@dataclass(frozen=True)
class BatchKeys:
    """The ids one batch's messages name, each once."""

    invoice_ids: tuple[str, ...] = ()
    issuer_ids: tuple[str, ...] = ()
    integration_ids: tuple[str, ...] = ()

    @classmethod
    def of(cls, requests: Iterable[_Named]) -> BatchKeys:
        requests = list(requests)
        return cls(
            invoice_ids=tuple(sorted({r.invoice_id for r in requests})),
            issuer_ids=tuple(sorted({r.issuer_id for r in requests if r.issuer_id})),
            integration_ids=tuple(sorted({r.integration_id for r in requests if r.integration_id})),
        )


class BatchFirstRead:
    """The batch's first read, made once at the first need of any of it: through `reader` all three kinds
    in one request; without one (a store that cannot), the invoices by `get_many`. A read that fails
    (throttled past its retries, refused) is logged and left out: each record then reads its own, as
    without a batch read, so the batch read never fails a record that its own read would serve."""

    def __init__(self, invoices: InvoiceRepository, keys: BatchKeys, reader: BatchReader | None = None) -> None:
        self._invoices, self._keys, self._reader = invoices, keys, reader
        self._read: BatchRead | None = None
        self._tried = False

    @property
    def invoice_ids(self) -> tuple[str, ...]:
        return self._keys.invoice_ids

    def read(self) -> BatchRead | None:
        """The batch read, made at the first call; None when it failed."""
        if not self._tried:
            self._tried = True
            keys = self._keys
            try:
                self._read = (self._reader.read(keys.invoice_ids, keys.issuer_ids, keys.integration_ids)
                              if self._reader is not None else BatchRead(self._invoices.get_many(keys.invoice_ids)))
            except Exception as exc:  # noqa: BLE001 - any failure: each record reads its own, as without it
                logger.warning("batch read failed; each record reads its own", extra={
                    "invoices": len(keys.invoice_ids), "error": type(exc).__name__})
        return self._read

    def issuer(self, issuer_id: str) -> Issuer | None:
        """The issuer as the batch read found it; None when not asked, not found, or the read failed."""
        read = self.read()
        return read.issuers.get(issuer_id) if read is not None else None

    def integration(self, integration_id: str) -> Integration | None:
        """The integration as the batch read found it; None as for `issuer`."""
        read = self.read()
        return read.integrations.get(integration_id) if read is not None else None


class BatchInvoices:
    """An `InvoiceRepository` whose first `get` of each of the batch's invoices is served from the batch's
    first read (`BatchFirstRead`, made at the first `get` of one of them; module docstring)."""

    def __init__(self, invoices: InvoiceRepository, first_read: BatchFirstRead) -> None:
        self._invoices = invoices
        self._first_read = first_read
        # The ids whose first `get` the batch read serves; a `get` or a write of one takes it out.
        self._unread = set(first_read.invoice_ids)

    def get(self, invoice_id: str) -> Invoice:
        if invoice_id not in self._unread:
            return self._invoices.get(invoice_id)
        self._unread.discard(invoice_id)
        read = self._first_read.read()  # made once, at the first `get` of one of them
        if read is None:
            return self._invoices.get(invoice_id)
        invoice = read.invoices.get(invoice_id)
        if invoice is None:
            raise NotFound(f"invoice {invoice_id} not found")
        return invoice

    # --- everything else passes through; a write drops the batch's copy of its invoice --------------

    def _written(self, invoice_id: str) -> None:
        self._unread.discard(invoice_id)

    def get_many(self, invoice_ids: Collection[str]) -> dict[str, Invoice]:
        return self._invoices.get_many(invoice_ids)

    def find_by_source(self, issuer_id: str, source_id: str) -> Invoice | None:
        return self._invoices.find_by_source(issuer_id, source_id)

    def source_links(self, issuer_id: str, source_ids: Collection[str]) -> dict[str, str]:
        return self._invoices.source_links(issuer_id, source_ids)

    def create(self, invoice: Invoice, events: Sequence[InvoiceEvent] = ()) -> bool:
        self._written(invoice.id)
        return self._invoices.create(invoice, events)

    def put(
        self, invoice: Invoice, expected_updated_at: datetime | None = None, events: Sequence[InvoiceEvent] = ()
    ) -> None:
        self._written(invoice.id)
        self._invoices.put(invoice, expected_updated_at, events)

    def transition(self, invoice: Invoice, from_statuses: Collection[str], event: InvoiceEvent | None = None) -> None:
        self._written(invoice.id)
        self._invoices.transition(invoice, from_statuses, event)

    def transition_many(self, moves: Sequence[InvoiceMove]) -> list[str]:
        for move in moves:
            self._written(move.invoice.id)
        return self._invoices.transition_many(moves)

    def add_event(self, invoice_id: str, event: InvoiceEvent) -> None:
        self._written(invoice_id)
        self._invoices.add_event(invoice_id, event)

    def updated_before(self, status: str, before: datetime, limit: int) -> list[Invoice]:
        return self._invoices.updated_before(status, before, limit)

    def waiting_for_approval(self, issuer_id: str | None = None) -> list[Invoice]:
        return self._invoices.waiting_for_approval(issuer_id)

    def due_to_send(self, now: datetime, limit: int) -> list[Invoice]:
        return self._invoices.due_to_send(now, limit)

    def events(self, invoice_id: str) -> list[InvoiceEvent]:
        return self._invoices.events(invoice_id)

    def list(
        self,
        issuer_id: str | None = None,
        status: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        exclude_channel: str | None = None,
    ) -> tuple[list[Invoice], str | None]:
        return self._invoices.list(issuer_id, status, limit, cursor, exclude_channel)

    def updated_between(
        self, status: str, start: datetime, end: datetime, issuer_id: str | None = None
    ) -> Iterator[Invoice]:
        return self._invoices.updated_between(status, start, end, issuer_id)
