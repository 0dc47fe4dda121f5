"""Each shared test double, bound to the port it stands in for. Not run: type-checked by mypy
(tests/unit/lint/test_types.py), so a double that drifts from its port (a method renamed or missing, a
parameter or return type changed) fails the check instead of passing tests against an interface the
adapters no longer have. The adapters are held to the same ports where `wiring`'s typed getters hand
them to domain code."""

from __future__ import annotations

from collections.abc import Callable

from fetch_doubles import (
    FakeClock,
    FakeSpiris,
    ListQueue,
    MemoryDecisions,
    MemoryDocuments,
    MemoryIntegrations,
    MemoryInvoices,
)
from invoice_bridge.dispatch.fresh_look import SourceCheck
from invoice_bridge.fetch.decisions import DecisionStore
from invoice_bridge.ports import (
    DocumentStore,
    IntegrationRepository,
    InvoiceRepository,
    IssuerRepository,
    Mailer,
    SpirisApi,
    WorkQueue,
)
from port_doubles import MemoryIssuers, RecordingMailer, source_as_imported
from render_doubles import MemoryDocuments as RenderDocuments
from render_doubles import MemoryQueue as RenderQueue


def doubles_match_their_ports() -> None:
    issuers: IssuerRepository = MemoryIssuers()
    integrations: IntegrationRepository = MemoryIntegrations()
    invoices: InvoiceRepository = MemoryInvoices()
    decisions: DecisionStore = MemoryDecisions()
    spiris: SpirisApi = FakeSpiris()
    mailer: Mailer = RecordingMailer()
    queues: list[WorkQueue] = [ListQueue(), RenderQueue()]
    documents: list[DocumentStore] = [MemoryDocuments(), RenderDocuments()]
    clock: tuple[Callable[[], float], Callable[[float], None]] = (FakeClock(0.0).time, FakeClock(0.0).sleep)
    fresh_look: SourceCheck = source_as_imported
    del issuers, integrations, invoices, decisions, spiris, mailer, queues, documents, clock, fresh_look

