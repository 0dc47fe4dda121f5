"""Source invoices as Spiris sends them (booked unless told otherwise)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from invoice_bridge.models.spiris import Customer, CustomerInvoice

CUSTOMER_ID = "a4d2e1f0-2222-4b8b-9c1d-112233445566"


def source_invoice(number: int = 1042, **overrides: Any) -> CustomerInvoice:
    data: dict[str, Any] = {
        "Id": str(uuid.uuid4()),
        "InvoiceNumber": number,
        "IsCreditInvoice": False,
        "CustomerId": CUSTOMER_ID,
        "CustomerName": "Kund AB",
        "InvoiceCustomerName": "Kund AB",
        "InvoiceAddress1": "Storgatan 1",
        "InvoicePostalCode": "111 22",
        "InvoiceCity": "Stockholm",
        "InvoiceCountryCode": "SE",
        "CurrencyCode": "SEK",
        "TotalAmount": Decimal("12500.00"),
        "TotalVatAmount": Decimal("2500.00"),
        "TotalAmountInvoiceCurrency": Decimal("12500.00"),
        "TotalVatAmountInvoiceCurrency": Decimal("2500.00"),
        "TotalRoundings": Decimal("0"),
        "RemainingAmount": Decimal("12500.00"),
        "RemainingAmountInvoiceCurrency": Decimal("12500.00"),
        "PaymentStatus": 1,
        "InvoiceDate": datetime(2026, 10, 31),
        "DueDate": datetime(2026, 11, 30),
        "VoucherId": str(uuid.uuid4()),
        "VoucherNumber": "B 233",
        "ModifiedUtc": datetime(2026, 10, 31, 9, 12, 45, tzinfo=UTC),
        "SendType": None,
        "HasAutoInvoiceError": False,
        "IsSold": False,
        "CreditedBy": [],
        "VatSpecification": [
            {
                "AmountInvoiceCurrency": Decimal("10000"),
                "VatAmountInvoiceCurrency": Decimal("2500"),
                "VatPercent": Decimal("0.25"),
            }
        ],
        "Rows": [
            {
                "LineNumber": 0,
                "Text": "Konsulttimmar oktober",
                "Quantity": Decimal("10"),
                "UnitPrice": Decimal("1000"),
                "AmountNoVat": Decimal("10000"),
                "Amount": Decimal("10000"),
                "VatRate": Decimal("0.25"),
                "UnitAbbreviation": "h",
            }
        ],
    }
    data.update(overrides)
    return CustomerInvoice.model_validate(data)


def customer(customer_id: str = CUSTOMER_ID) -> Customer:
    return Customer(
        Id=customer_id,
        Name="Kund AB",
        CorporateIdentityNumber="556036-0793",
        EmailAddress="faktura@kund.se",
        InvoiceAddress1="Storgatan 1",
        InvoicePostalCode="111 22",
        InvoiceCity="Stockholm",
        InvoiceCountryCode="SE",
    )


# --- in-memory doubles of our ports ------------------------------------------------------------

import threading  # noqa: E402
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence  # noqa: E402
from datetime import timedelta  # noqa: E402

from invoice_bridge.fetch.decisions import ParkedSource, SyncDecision  # noqa: E402
from invoice_bridge.models.integration import Integration  # noqa: E402
from invoice_bridge.models.invoice import (  # noqa: E402
    AWAITING_APPROVAL,
    SEND_DELAY,
    Invoice,
    InvoiceEvent,
    InvoiceStatus,
)
from invoice_bridge.models.spiris import CompanySettings, Meta  # noqa: E402
from invoice_bridge.ports import (  # noqa: E402
    ConflictError,
    InvoiceMove,
    InvoicePage,
    NotFound,
    QueueMessage,
    SpirisNotFound,
)


class MemoryIntegrations:
    def __init__(self, *integrations: Integration):
        self.items = {i.id: i.model_copy(deep=True) for i in integrations}

    def get(self, integration_id: str) -> Integration:
        if integration_id not in self.items:
            raise NotFound(integration_id)
        return self.items[integration_id].model_copy(deep=True)

    def put(self, integration: Integration) -> None:
        """Conditional on the version read, like DynamoIntegrations.put."""
        stored = self.items.get(integration.id)
        if (stored.version if stored else 0) != integration.version:
            raise ConflictError(integration.id)
        integration.version += 1
        self.items[integration.id] = integration.model_copy(deep=True)

    def list(self, issuer_id: str | None = None) -> list[Integration]:
        return [i.model_copy(deep=True) for i in self.items.values() if issuer_id in (None, i.issuer_id)]


class MemoryInvoices:
    def __init__(self) -> None:
        self.items: dict[str, Invoice] = {}
        self.by_source: dict[tuple[str, str], str] = {}
        self.event_log: dict[str, list[InvoiceEvent]] = {}

    def get(self, invoice_id: str) -> Invoice:
        if invoice_id not in self.items:
            raise NotFound(invoice_id)
        return self.items[invoice_id].model_copy(deep=True)

    def get_many(self, invoice_ids: Collection[str]) -> dict[str, Invoice]:
        return {i: self.get(i) for i in invoice_ids if i in self.items}

    def find_by_source(self, issuer_id: str, source_id: str) -> Invoice | None:
        invoice_id = self.by_source.get((issuer_id, source_id))
        return self.get(invoice_id) if invoice_id else None

    def source_links(self, issuer_id: str, source_ids: Collection[str]) -> dict[str, str]:
        return {s: self.by_source[(issuer_id, s)] for s in source_ids if (issuer_id, s) in self.by_source}

    def create(self, invoice: Invoice, events: Sequence[InvoiceEvent] = ()) -> bool:
        if invoice.id in self.items:
            return False
        self.put(invoice)
        for event in events:
            self.add_event(invoice.id, event)
        return True

    def put(
        self, invoice: Invoice, expected_updated_at: datetime | None = None, events: Sequence[InvoiceEvent] = ()
    ) -> None:
        current = self.items.get(invoice.id)
        if expected_updated_at is not None and (current is None or current.updated_at != expected_updated_at):
            raise ConflictError(invoice.id)
        for event in events:
            self.add_event(invoice.id, event)
        self.items[invoice.id] = invoice.model_copy(deep=True)
        self.by_source[(invoice.issuer_id, invoice.source_id)] = invoice.id

    def transition(self, invoice: Invoice, from_statuses: Collection[str], event: InvoiceEvent | None = None) -> None:
        current = self.items.get(invoice.id)
        if current is None or current.version != invoice.version or current.status not in from_statuses:
            raise ConflictError(invoice.id)
        self.items[invoice.id] = invoice.model_copy(deep=True)
        if event is not None:
            self.add_event(invoice.id, event)

    def transition_many(self, moves: Sequence[InvoiceMove]) -> list[str]:
        moved_on = []
        for move in moves:
            current = self.items.get(move.invoice.id)
            if current is None or current.version != move.invoice.version or current.status not in move.from_statuses:
                moved_on.append(move.invoice.id)
                continue
            for note in move.notes:
                self.add_event(move.invoice.id, note)
            self.transition(move.invoice, move.from_statuses, move.event)
        return moved_on

    def add_event(self, invoice_id: str, event: InvoiceEvent) -> None:
        self.event_log.setdefault(invoice_id, []).append(event)

    def events(self, invoice_id: str) -> list[InvoiceEvent]:
        return list(self.event_log.get(invoice_id, []))

    def list(
        self,
        issuer_id: str | None = None,
        status: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        exclude_channel: str | None = None,
    ) -> tuple[list[Invoice], str | None]:
        found = [
            i for i in self.items.values()
            if issuer_id in (None, i.issuer_id) and status in (None, i.status)
            and (exclude_channel is None or i.channel != exclude_channel)
        ]
        return found[:limit], None

    # The queries the DynamoDB adapter answers from its indexes, over the items (same order, same filters).

    def updated_before(self, status: str, before: datetime, limit: int) -> list[Invoice]:
        return self._oldest_first(i for i in self.items.values() if i.status == status and i.updated_at < before)[
            :limit
        ]

    def waiting_for_approval(self, issuer_id: str | None = None) -> list[Invoice]:
        return self._oldest_first(
            i for i in self.items.values()
            if i.status == InvoiceStatus.HELD and i.status_reason == AWAITING_APPROVAL
            and issuer_id in (None, i.issuer_id)
        )

    def due_to_send(self, now: datetime, limit: int) -> list[Invoice]:
        due = [
            i for i in self.items.values()
            if i.status == InvoiceStatus.HELD and i.status_reason == SEND_DELAY
            and i.send_at is not None and i.send_at < now
        ]
        return [i.model_copy(deep=True) for i in sorted(due, key=lambda i: (i.send_at, i.id))][:limit]

    def updated_between(
        self, status: str, start: datetime, end: datetime, issuer_id: str | None = None
    ) -> Iterator[Invoice]:
        yield from self._oldest_first(
            i for i in self.items.values()
            if i.status == status and start <= i.updated_at < end and issuer_id in (None, i.issuer_id)
        )

    @staticmethod
    def _oldest_first(invoices: Iterable[Invoice]) -> list[Invoice]:
        return [i.model_copy(deep=True) for i in sorted(invoices, key=lambda i: (i.updated_at, i.id))]


class MemoryDecisions:
    def __init__(self) -> None:
        self.latest_by: dict[tuple[str, str], SyncDecision] = {}
        self.first_by: dict[tuple[str, str], SyncDecision] = {}

    def get(self, integration_id: str, source_id: str) -> SyncDecision | None:
        return self.latest_by.get((integration_id, source_id))

    def get_many(self, integration_id: str, source_ids: Collection[str]) -> dict[str, SyncDecision]:
        return {s: self.latest_by[(integration_id, s)] for s in source_ids if (integration_id, s) in self.latest_by}

    def record(self, integration_id: str, decision: SyncDecision, *, first_sync: bool) -> None:
        self.latest_by[(integration_id, decision.source_id)] = decision
        if first_sync:
            self.first_by[(integration_id, decision.source_id)] = decision

    def record_new(self, integration_id: str, decisions: Sequence[tuple[SyncDecision, bool]]) -> None:
        for decision, first_sync in decisions:
            self.record(integration_id, decision, first_sync=first_sync)

    def reconciliation(self, integration_id: str) -> list[SyncDecision]:
        return [d for (i, _), d in self.first_by.items() if i == integration_id]

    def latest(self, integration_id: str) -> list[SyncDecision]:
        return [d for (i, _), d in self.latest_by.items() if i == integration_id]

    def parked(self, issuer_id: str | None = None) -> list[ParkedSource]:
        return [
            ParkedSource(i, d)
            for (i, _), d in self.latest_by.items()
            if d.parked and issuer_id in (None, d.issuer_id)
        ]


class ListQueue:
    """Messages in a list. `send_many` sends each through `send` (a subclass's failure there fails the
    request), counts its requests in `batches` (their sizes) and, like SQS, fails single entries: the
    messages whose body `refuse(body)` says are not taken, with that reason."""

    def __init__(self) -> None:
        self.messages: list[dict] = []
        self.batches: list[int] = []
        self.refuse: Callable[[Mapping[str, object]], str | None] = lambda _body: None

    def send(self, message: Mapping[str, object], deduplication_id: str | None = None) -> None:
        self.messages.append(dict(message))

    def send_many(self, messages: Sequence[QueueMessage]) -> Mapping[int, str]:
        not_sent: dict[int, str] = {}
        for start in range(0, len(messages), 10):
            self.batches.append(len(messages[start:start + 10]))
            for position, message in enumerate(messages[start:start + 10], start):
                reason = self.refuse(message.body)
                if reason is None:
                    self.send(message.body, message.deduplication_id)
                else:
                    not_sent[position] = reason
        return not_sent


class MemoryDocuments:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self.objects[key] = body

    def get(self, key: str) -> bytes:
        if key not in self.objects:
            raise NotFound(key)
        return self.objects[key]

    def presign(self, key: str, expires_seconds: int = 300, download_name: str | None = None) -> str:
        return f"memory://{key}"


class FakeSpiris:
    """A Spiris company behind the SpirisApi port: invoices ordered by ModifiedUtc like a real list,
    `modifiedSinceUtc` filtering, paging, a server clock, request counting and injectable failures."""

    def __init__(self, invoices: list[CustomerInvoice] | None = None, *, page_size: int = 100):
        self.invoices: dict[str, CustomerInvoice] = {}
        self.customers: dict[str, Customer] = {CUSTOMER_ID: customer()}
        self.page_size = page_size
        self.clock = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
        self.requests: list[str] = []
        self.expected_reads: list[tuple[int, int]] = []  # (customers, pdfs) a sync announced, page by page
        self.fail_on_page: dict[int, Exception] = {}
        self.pdf_error: Exception | None = None
        self.on_page: Any = None  # callable(page_number) run before a page is served
        self._lock = threading.Lock()
        for invoice in invoices or []:
            self.add(invoice)

    def tick(self, seconds: int = 1) -> datetime:
        self.clock += timedelta(seconds=seconds)
        return self.clock

    def add(self, invoice: CustomerInvoice) -> CustomerInvoice:
        stored = invoice.model_copy(update={"ModifiedUtc": self.tick()})
        self.invoices[stored.Id] = stored
        return stored

    def modify(self, invoice_id: str, **changes: Any) -> CustomerInvoice:
        data = {**self.invoices[invoice_id].model_dump(), **changes, "ModifiedUtc": self.tick()}
        stored = CustomerInvoice.model_validate(data)
        self.invoices[invoice_id] = stored
        return stored

    def company_settings(self) -> CompanySettings:
        raise NotImplementedError("the sync never reads the company settings; the consent flow does")

    def customer_invoice(self, invoice_id: str) -> CustomerInvoice:
        self.requests.append(f"customerinvoices/{invoice_id}")
        if invoice_id not in self.invoices:
            raise SpirisNotFound(f"no customer invoice {invoice_id}")
        return self.invoices[invoice_id].model_copy(deep=True)

    def customer_invoices_page(
        self, page: int, page_size: int, modified_since: datetime | None
    ) -> InvoicePage:
        self.requests.append(f"customerinvoices?page={page}")
        if self.on_page:
            self.on_page(page)
        if page in self.fail_on_page:
            raise self.fail_on_page.pop(page)
        matching = sorted(
            (i for i in self.invoices.values() if modified_since is None or i.ModifiedUtc >= modified_since),
            key=lambda i: (i.ModifiedUtc, i.Id),
        )
        total_pages = (len(matching) + page_size - 1) // page_size
        data = matching[(page - 1) * page_size : page * page_size]
        meta = Meta(
            CurrentPage=page,
            PageSize=page_size,
            TotalNumberOfPages=total_pages,
            TotalNumberOfResults=len(matching),
            ServerTimeUtc=self.clock,
        )
        return InvoicePage(meta=meta, invoices=[d.model_copy(deep=True) for d in data])

    def iter_customer_invoices(self, modified_since: datetime | None) -> Iterator[InvoicePage]:
        page = 1
        while page <= 10_000:
            result = self.customer_invoices_page(page, self.page_size, modified_since)
            yield result
            if not result.invoices or result.meta.CurrentPage >= result.meta.TotalNumberOfPages:
                return
            page += 1

    def customer(self, customer_id: str) -> Customer:
        self.requests.append(f"customers/{customer_id}")
        return self.customers[customer_id]

    def expect_reads(self, *, customers: int = 0, pdfs: int = 0, invoices: int = 0) -> None:
        self.expected_reads.append((customers, pdfs) if not invoices else (customers, pdfs, invoices))

    def customer_invoice_pdf(self, invoice_id: str) -> bytes:
        self.requests.append(f"customerinvoices/{invoice_id}/pdf")
        if self.pdf_error:
            raise self.pdf_error
        return b"%PDF-1.4 source " + invoice_id.encode()


class FakeClock:
    """A shared fake clock: `sleep` advances it instead of waiting."""

    def __init__(self, start: float):
        self.now = start
        self._lock = threading.Lock()
        self.slept = 0.0

    def time(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds
            self.slept += seconds


# The process-local counter of the budget module serves as the in-memory double.
from invoice_bridge.fetch.budget import MemoryMinuteCounter  # noqa: E402,F401
