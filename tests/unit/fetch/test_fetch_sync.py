"""The sync of one integration against in-memory ports and a fake Spiris company."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from fetch_doubles import (
    FakeSpiris,
    ListQueue,
    MemoryDecisions,
    MemoryDocuments,
    MemoryIntegrations,
    MemoryInvoices,
    source_invoice,
)
from invoice_bridge.adapters.spiris_api import (
    SpirisFatal,
    SpirisNotFound,
    SpirisReauthenticate,
    SpirisRetryable,
)
from invoice_bridge.fetch.sync import (
    IntegrationFailed,
    IntegrationNeedsReconsent,
    RenderHandOffFailed,
    SyncServices,
    sync_integration,
)
from invoice_bridge.mapping import invoice_id_for
from invoice_bridge.models.integration import Integration, IntegrationStatus
from invoice_bridge.models.invoice import InvoiceStatus
from invoice_bridge.models.issuer import Address, Issuer
from invoice_bridge.ports import QueueMessage
from port_doubles import MemoryIssuers

# Whose invoice the messages of these tests are: every render and dispatch message names both.
WHOSE = {"issuer_id": "issuer-1", "integration_id": "int-1"}

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


class World:
    def __init__(self, *, hold_first_sync: bool = True, page_size: int = 100, archive_source_pdf: bool = False):
        self.issuer = Issuer(
            id="issuer-1",
            name="Exempelbolaget AB",
            org_number="5560360793",
            vat_number="SE556036079301",
            address=Address(street="Exempelvägen 2", postal_code="22233", city="Lund"),
            notification_email="ekonomi@exempel.se",
            bankgiro="1234566",
            hold_first_sync=hold_first_sync,
            archive_source_pdf=archive_source_pdf,
        )
        self.integration = Integration(
            id="int-1",
            issuer_id=self.issuer.id,
            contact_name="Anna",
            contact_email="anna@exempel.se",
            status=IntegrationStatus.ACTIVE,
            created_at=NOW - timedelta(days=60),
            activated_at=NOW - timedelta(days=59),  # before the invoices' dates (2026-10-31)
        )
        self.integrations = MemoryIntegrations(self.integration)
        self.issuers = MemoryIssuers(self.issuer)
        self.invoices = MemoryInvoices()
        self.decisions = MemoryDecisions()
        self.render = ListQueue()
        self.documents = MemoryDocuments()
        self.spiris = FakeSpiris(page_size=page_size)
        self.notices: list[tuple[str, str]] = []  # (source id, detail) per parked notice sent
        self.notices_fail = False

    def notify_parked(self, issuer: Issuer, parked) -> None:  # type: ignore[no-untyped-def]
        if self.notices_fail:
            raise ConnectionError("mail service down")
        self.notices.append((parked.source_id, parked.detail))

    def sync(self, now: datetime = NOW):  # type: ignore[no-untyped-def]
        services = SyncServices(
            integrations=self.integrations,
            issuers=self.issuers,
            invoices=self.invoices,
            decisions=self.decisions,
            spiris_for=lambda _integration: self.spiris,
            render_queue=self.render,
            documents=self.documents,
            notify_parked=self.notify_parked,
        )
        return sync_integration(self.integration.id, services, now=now, overlap_seconds=300)

    def ours(self, source_id: str):  # type: ignore[no-untyped-def]
        return self.invoices.find_by_source(self.issuer.id, source_id)

    def statuses(self, source_id: str) -> list[str]:
        return [e.status for e in self.invoices.events(invoice_id_for(self.issuer.id, source_id))]

    def mark(self, source_id: str, status: InvoiceStatus) -> None:
        invoice = self.ours(source_id)
        invoice.status = status
        self.invoices.put(invoice)


@pytest.fixture
def world() -> World:
    return World()


def test_first_sync_imports_the_selected_holds_them_and_lists_every_decision(world: World) -> None:
    unpaid = world.spiris.add(source_invoice(1001))
    overdue = world.spiris.add(source_invoice(1002, PaymentStatus=2))
    paid = world.spiris.add(source_invoice(1003, PaymentStatus=0, RemainingAmount=Decimal("0")))
    kivra = world.spiris.add(source_invoice(1004, SendType=4))
    euro = world.spiris.add(source_invoice(1005, CurrencyCode="EUR"))

    result = world.sync()

    assert result.first_sync and result.seen == 5 and result.imported == 3
    imported = {m["invoice_id"] for m in world.render.messages}
    assert imported == {invoice_id_for(world.issuer.id, s.Id) for s in (unpaid, overdue, euro)}
    assert all(m["version"] == 1 for m in world.render.messages)
    assert world.ours(unpaid.Id).hold is True
    assert world.ours(euro.Id).currency == "EUR"
    assert world.ours(paid.Id) is None and world.ours(kivra.Id) is None
    reconciliation = {d.source_id: (d.selected, d.reason) for d in world.decisions.reconciliation("int-1")}
    assert reconciliation == {
        unpaid.Id: (True, "selected"),
        overdue.Id: (True, "selected"),
        paid.Id: (False, "paid"),
        kivra.Id: (False, "sent_by_kivra"),
        euro.Id: (True, "selected"),
    }
    stored = world.integrations.get("int-1")
    assert stored.first_sync_done and stored.watermark == world.spiris.clock
    assert stored.last_success_at == NOW and stored.last_error is None


def test_later_syncs_do_not_hold_and_do_not_change_the_reconciliation_list(world: World) -> None:
    first = world.spiris.add(source_invoice(1001))
    world.sync()
    later = world.spiris.add(source_invoice(1002))
    world.spiris.modify(first.Id, PaymentStatus=0, RemainingAmount=Decimal("0"))

    world.sync(NOW + timedelta(hours=1))

    assert world.ours(later.Id).hold is False
    assert [(d.source_id, d.reason) for d in world.decisions.reconciliation("int-1")] == [
        (first.Id, "selected")
    ]
    assert world.decisions.get("int-1", first.Id).reason == "paid"


def test_invoices_dated_before_activation_are_held_with_their_reason_at_any_sync() -> None:
    """Older than the integration: held for the office (not sent by itself) and on the reconciliation list,
    also when a later sync is the first to see it; the issuer's hold_first_sync does not matter."""
    world = World(hold_first_sync=False)
    world.integration.activated_at = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    world.integrations.put(world.integration)
    recent = world.spiris.add(source_invoice(1001, InvoiceDate=datetime(2026, 11, 2)))
    world.sync()
    older = world.spiris.add(source_invoice(1002))  # dated 2026-10-31, first seen by the second sync

    world.sync(NOW + timedelta(hours=1))

    held = world.ours(older.Id)
    assert (held.hold, held.hold_reason) == (True, "dated_before_activation")
    assert world.invoices.events(held.id)[0].detail == "fetched from Spiris (held for review: dated_before_activation)"
    listed = {d.source_id: (d.selected, d.reason, d.detail) for d in world.decisions.reconciliation("int-1")}
    assert listed[older.Id] == (
        True, "dated_before_activation", "invoice date 2026-10-31 is before the integration became active on 2026-11-01"
    )
    assert listed[recent.Id] == (True, "selected", "")  # the first sync's own entry
    assert world.ours(recent.Id).hold is False  # hold_first_sync off, dated after activation: goes out


def test_a_reminder_before_dispatch_cancels_and_joins_the_reconciliation_list(world: World) -> None:
    first = world.spiris.add(source_invoice(1001))
    world.sync()
    world.mark(first.Id, InvoiceStatus.HELD)
    quick = world.spiris.add(source_invoice(1002, IsQuickInvoice=True))
    world.spiris.modify(first.Id, PaymentReminderIssued=True, PaymentRemindersCount=1)

    world.sync(NOW + timedelta(hours=1))

    cancelled = world.ours(first.Id)
    assert (cancelled.status, cancelled.status_reason) == (InvoiceStatus.CANCELLED, "payment_reminder_issued")
    assert world.ours(quick.Id) is None
    listed = {d.source_id: (d.selected, d.reason) for d in world.decisions.reconciliation("int-1")}
    assert listed == {first.Id: (False, "payment_reminder_issued"), quick.Id: (False, "quick_invoice")}


def test_an_idle_poll_costs_one_request(world: World) -> None:
    world.spiris.add(source_invoice(1001))
    world.sync()
    world.spiris.requests.clear()
    world.render.messages.clear()
    world.spiris.tick(60)  # the overlap window still covers the invoice: it is re-read, not re-imported

    world.sync(NOW + timedelta(minutes=5))

    assert world.spiris.requests == ["customerinvoices?page=1"]
    assert world.render.messages == []


def test_customer_details_are_fetched_once_per_sync_and_source_pdf_archived_when_the_issuer_asks() -> None:
    world = World(archive_source_pdf=True)
    a = world.spiris.add(source_invoice(1001))
    world.spiris.add(source_invoice(1002))

    world.sync()

    assert world.spiris.requests.count("customers/a4d2e1f0-2222-4b8b-9c1d-112233445566") == 1
    invoice = world.ours(a.Id)
    assert invoice.buyer.org_number == "5560360793"
    assert invoice.source_pdf_key == f"issuer-1/invoices/{invoice.id}/v1/source.pdf"
    assert world.documents.objects[invoice.source_pdf_key].startswith(b"%PDF")
    assert world.spiris.requests.count(f"customerinvoices/{a.Id}/pdf") == 1


def test_by_default_no_source_pdf_is_read_from_spiris_nor_stored(world: World) -> None:
    """`archive_source_pdf` off (the default): Spiris keeps the original; the import and a new version
    spend no Spiris request and no S3 PUT on it."""
    a = world.spiris.add(source_invoice(1001))
    world.sync()
    world.spiris.modify(a.Id, YourReference="Bertil Berg")
    world.sync(NOW + timedelta(hours=1))

    invoice = world.ours(a.Id)
    assert invoice.version == 2 and invoice.source_pdf_key is None
    assert [r for r in world.spiris.requests if r.endswith("/pdf")] == []
    assert world.documents.objects == {}
    assert world.statuses(a.Id) == ["queued", "queued"]


@pytest.mark.parametrize(("archive_source_pdf", "announced"), [(True, (1, 2)), (False, (1, 0))])
def test_a_sync_tells_its_client_what_a_page_will_read_so_the_budget_takes_it_at_once(
    archive_source_pdf: bool, announced: tuple[int, int]
) -> None:
    """Two new invoices of one customer and a paid one: one customer announced, and two source PDFs only
    when the issuer archives them (the request budget takes their slots in one counter write each, and
    reserves none it will not use); a re-read of the same versions, nothing."""
    world = World(archive_source_pdf=archive_source_pdf)
    world.spiris.add(source_invoice(1001))
    world.spiris.add(source_invoice(1002))
    world.spiris.add(source_invoice(1003, PaymentStatus=0, RemainingAmount=Decimal("0")))
    assert world.sync().imported == 2
    assert world.spiris.expected_reads == [announced]
    world.sync()
    assert world.spiris.expected_reads == [announced]


def test_a_missing_source_pdf_is_an_event_not_a_lost_invoice() -> None:
    world = World(archive_source_pdf=True)
    a = world.spiris.add(source_invoice(1001))
    world.spiris.pdf_error = SpirisNotFound("gone")

    world.sync()

    assert world.ours(a.Id).source_pdf_key is None
    assert world.statuses(a.Id) == ["queued", "source_pdf_unavailable"]
    assert len(world.render.messages) == 1


def test_unchanged_content_is_nothing_new(world: World) -> None:
    a = world.spiris.add(source_invoice(1001))
    world.sync()
    world.mark(a.Id, InvoiceStatus.RENDERED)
    world.spiris.modify(a.Id, PaymentDate=None)  # ModifiedUtc moves, content does not
    world.render.messages.clear()

    result = world.sync(NOW + timedelta(hours=1))

    assert result.unchanged == 1 and world.render.messages == []
    assert world.ours(a.Id).version == 1


class CrashingRenderQueue(ListQueue):
    """The Lambda dies after the import was stored, before the render message left."""

    def __init__(self) -> None:
        super().__init__()
        self.armed = True

    def send(self, message, deduplication_id=None) -> None:  # type: ignore[no-untyped-def]
        if self.armed:
            self.armed = False
            raise RuntimeError("crashed before the render message was sent")
        super().send(message, deduplication_id)


def test_a_sync_retried_after_a_crash_before_the_hand_off_still_queues_the_render(world: World) -> None:
    """Imported, then the sync died before the render message; before the queue retries the sync, the
    source invoice is touched (ModifiedUtc moves, content does not). The retry must hand it on still."""
    world.render = CrashingRenderQueue()
    a = world.spiris.add(source_invoice(1001))
    with pytest.raises(RuntimeError):
        world.sync()
    assert world.ours(a.Id).status == InvoiceStatus.QUEUED and world.render.messages == []
    world.spiris.modify(a.Id, PaymentDate=None)
    world.sync(NOW + timedelta(minutes=1))
    assert world.render.messages == [{"invoice_id": world.ours(a.Id).id, "version": 1, **WHOSE}]


def test_changed_before_dispatch_is_a_new_version_rendered_again(world: World) -> None:
    a = world.spiris.add(source_invoice(1001))
    world.sync()
    world.mark(a.Id, InvoiceStatus.RENDERED)
    world.spiris.modify(a.Id, YourReference="Bertil Berg", DueDate=datetime(2026, 12, 31))
    world.render.messages.clear()

    world.sync(NOW + timedelta(hours=1))

    invoice = world.ours(a.Id)
    assert (invoice.version, invoice.status, invoice.buyer_reference) == (
        2,
        InvoiceStatus.QUEUED,
        "Bertil Berg",
    )
    assert invoice.hold is True  # still the first sync's invoice, still under review
    assert world.render.messages == [{"invoice_id": invoice.id, "version": 2, **WHOSE}]
    assert world.statuses(a.Id)[-1] == "queued"
    assert "version 2" in world.invoices.events(invoice.id)[-1].detail


def test_paid_before_dispatch_is_cancelled_after_dispatch_only_recorded(world: World) -> None:
    queued = world.spiris.add(source_invoice(1001))
    sent = world.spiris.add(source_invoice(1002))
    world.sync()
    world.mark(sent.Id, InvoiceStatus.SENT)
    for source in (queued, sent):
        world.spiris.modify(source.Id, PaymentStatus=0, RemainingAmount=Decimal("0"))
    world.render.messages.clear()

    world.sync(NOW + timedelta(hours=1))

    cancelled = world.ours(queued.Id)
    assert (cancelled.status, cancelled.status_reason) == (InvoiceStatus.CANCELLED, "paid")
    assert world.statuses(queued.Id)[-1] == "cancelled"
    assert world.ours(sent.Id).status == InvoiceStatus.SENT
    assert world.statuses(sent.Id)[-1] == "source_paid"
    assert world.render.messages == []


def test_changed_after_sending_is_recorded_once_and_never_sent_again(world: World) -> None:
    a = world.spiris.add(source_invoice(1001))
    world.sync()
    world.mark(a.Id, InvoiceStatus.DELIVERED)
    world.spiris.modify(a.Id, YourReference="Ändrad")
    world.render.messages.clear()

    world.sync(NOW + timedelta(hours=1))
    world.sync(NOW + timedelta(hours=1, minutes=1))  # the overlap re-reads it: no second event

    assert world.render.messages == []
    assert world.ours(a.Id).version == 1
    assert world.statuses(a.Id).count("changed_at_source") == 1


def test_credit_invoices_follow_their_original(world: World) -> None:
    sent_original = world.spiris.add(source_invoice(1001))
    unsent_original = world.spiris.add(source_invoice(1002))
    world.sync()
    world.mark(sent_original.Id, InvoiceStatus.SENT)
    credit_of_sent = world.spiris.add(
        source_invoice(
            1003,
            IsCreditInvoice=True,
            ReferringInvoiceId=sent_original.Id,
            TotalAmount=Decimal("-12500"),
            RemainingAmount=Decimal("-12500"),
        )
    )
    credit_of_unsent = world.spiris.add(
        source_invoice(
            1004,
            IsCreditInvoice=True,
            ReferringInvoiceId=unsent_original.Id,
            TotalAmount=Decimal("-12500"),
            RemainingAmount=Decimal("-12500"),
        )
    )
    world.spiris.modify(
        unsent_original.Id,
        CreditedBy=[{"CreditInvoiceId": credit_of_unsent.Id}],
        RemainingAmount=Decimal("0"),
    )

    world.sync(NOW + timedelta(hours=1))

    credit = world.ours(credit_of_sent.Id)
    assert (credit.document_type, credit.original_number) == ("credit_note", "1001")
    assert world.ours(credit_of_unsent.Id) is None
    assert world.decisions.get("int-1", credit_of_unsent.Id).reason == "credit_of_unsent_original"
    assert world.ours(unsent_original.Id).status == InvoiceStatus.CANCELLED
    assert world.decisions.get("int-1", unsent_original.Id).reason == "credited"


def test_the_watermark_moves_only_after_the_whole_window_was_read() -> None:
    world = World(page_size=10)
    sources = [world.spiris.add(source_invoice(2000 + n)) for n in range(35)]
    world.spiris.fail_on_page[3] = SpirisRetryable("503 after the client's retries", status=503)

    with pytest.raises(SpirisRetryable):
        world.sync()

    stored = world.integrations.get("int-1")
    assert stored.watermark is None and not stored.first_sync_done
    assert stored.last_error == "Spiris unavailable; retrying" and stored.status == IntegrationStatus.ACTIVE
    assert len(world.render.messages) == 20  # pages 1-2 were handed on

    world.sync(NOW + timedelta(minutes=1))  # the SQS retry

    assert world.integrations.get("int-1").watermark is not None
    assert {m["invoice_id"] for m in world.render.messages} == {
        invoice_id_for("issuer-1", s.Id) for s in sources
    }
    assert len(world.render.messages) == 35  # each exactly once


def test_a_hand_off_lost_in_a_crash_is_repeated_on_the_retry(world: World) -> None:
    a = world.spiris.add(source_invoice(1001))

    class FlakyQueue(ListQueue):
        fail = True

        def send(self, message, deduplication_id=None):  # type: ignore[no-untyped-def]
            if self.fail:
                self.fail = False
                raise ConnectionError("SQS unreachable")
            super().send(message, deduplication_id)

    world.render = FlakyQueue()
    with pytest.raises(ConnectionError):
        world.sync()
    world.sync(NOW + timedelta(minutes=1))

    assert world.render.messages == [{"invoice_id": invoice_id_for("issuer-1", a.Id), "version": 1, **WHOSE}]


class DecisionsAfterSending(ListQueue):
    """Notes, for each message of a request, whether its version's decision was stored before it went out."""

    def __init__(self, world: World) -> None:
        super().__init__()
        self.world = world
        self.decided_before: list[bool] = []
        self.imported_before: list[int] = []  # invoices imported when each request went out

    def send_many(self, messages: Sequence[QueueMessage]) -> Mapping[int, str]:
        self.imported_before.append(len(self.world.invoices.items))
        for message in messages:
            source_id = self.world.invoices.get(str(message.body["invoice_id"])).source_id
            self.decided_before.append(self.world.decisions.get("int-1", source_id) is not None)
        return super().send_many(messages)


def test_a_pages_render_messages_go_out_ten_to_a_request_each_before_its_decision(world: World) -> None:
    world.render = DecisionsAfterSending(world)
    sources = [world.spiris.add(source_invoice(1100 + n)) for n in range(25)]

    result = world.sync()

    assert result.imported == 25 and world.render.batches == [10, 10, 5]
    assert world.render.decided_before == [False] * 25
    # Each full request goes out at once: render need not wait for the rest of the page.
    assert world.render.imported_before == [10, 20, 25]
    assert {d.source_id for d in world.decisions.latest("int-1")} == {s.Id for s in sources}


def test_each_page_hands_on_its_own_versions_before_the_next_page_is_read(world: World) -> None:
    world.spiris.page_size = 4
    for n in range(10):
        world.spiris.add(source_invoice(1200 + n))
    read_before_handed_on: list[int] = []
    world.spiris.on_page = lambda page: read_before_handed_on.append(len(world.render.messages))

    world.sync()

    assert world.render.batches == [4, 4, 2] and read_before_handed_on == [0, 4, 8]


def test_render_messages_the_queue_failed_keep_their_decisions_back_and_the_retry_hands_them_on(
    world: World,
) -> None:
    """The first full request has a message the queue failed: the sync stops there (the rest of the page is
    read by the retry), with the decisions of the others recorded and not this one's."""
    sources = [world.spiris.add(source_invoice(1300 + n)) for n in range(12)]
    refused = invoice_id_for("issuer-1", sources[3].Id)
    world.render.refuse = lambda body: "InternalError" if body["invoice_id"] == refused else None

    with pytest.raises(RenderHandOffFailed, match=r"1 render message\(s\) not sent \(InternalError\)"):
        world.sync()

    undecided = {s.Id for s in sources} - {d.source_id for d in world.decisions.latest("int-1")}
    assert undecided == {sources[3].Id, sources[10].Id, sources[11].Id}
    assert world.integrations.get("int-1").watermark is None  # the window is read again
    world.render.refuse = lambda _body: None
    result = world.sync(NOW + timedelta(minutes=1))  # the SQS retry
    assert (result.unchanged, result.imported) == (10, 2)  # the refused one handed on again
    assert sorted(m["invoice_id"] for m in world.render.messages) == sorted(
        invoice_id_for("issuer-1", s.Id) for s in sources)  # each exactly once
    assert len(world.decisions.latest("int-1")) == 12


class RefusedOnSecondPdf(FakeSpiris):
    def customer_invoice_pdf(self, invoice_id: str) -> bytes:
        if sum(r.endswith("/pdf") for r in self.requests) == 1:
            raise SpirisReauthenticate("401")
        return super().customer_invoice_pdf(invoice_id)


def test_a_page_left_on_a_refused_grant_hands_on_what_it_imported_first() -> None:
    """The grant is refused at the page's second source PDF (an issuer that archives them)."""
    world = World(archive_source_pdf=True)
    world.spiris = RefusedOnSecondPdf()
    first, _second = world.spiris.add(source_invoice(1401)), world.spiris.add(source_invoice(1402))

    with pytest.raises(IntegrationNeedsReconsent):
        world.sync()

    assert world.render.messages == [{"invoice_id": invoice_id_for("issuer-1", first.Id), "version": 1, **WHOSE}]
    assert [d.source_id for d in world.decisions.latest("int-1")] == [first.Id]


def test_a_refused_grant_needs_reconsent(world: World) -> None:
    world.spiris.add(source_invoice(1001))
    world.spiris.fail_on_page[1] = SpirisReauthenticate("401")

    with pytest.raises(IntegrationNeedsReconsent):
        world.sync()

    stored = world.integrations.get("int-1")
    assert (
        stored.status == IntegrationStatus.NEEDS_RECONSENT and stored.last_error and stored.watermark is None
    )


def test_a_fatal_spiris_error_sets_error_status(world: World) -> None:
    world.spiris.fail_on_page[1] = SpirisFatal(4002, "NoAccessToModule")

    with pytest.raises(IntegrationFailed) as raised:
        world.sync()

    assert raised.value.integration_id == "int-1"
    stored = world.integrations.get("int-1")
    assert stored.status == IntegrationStatus.ERROR
    assert stored.last_error == "Spiris error 4002: the company has no access to the API module (the Integration add-on is off)"


def test_a_paused_integration_is_not_read(world: World) -> None:
    paused = world.integrations.get("int-1")
    paused.status = IntegrationStatus.PAUSED
    world.integrations.put(paused)

    assert world.sync().skipped is True
    assert world.spiris.requests == []


def test_2500_invoices_modified_while_paging_all_arrive_exactly_once() -> None:
    world = World(page_size=100)
    sources = [world.spiris.add(source_invoice(10_000 + n)) for n in range(2_500)]
    # While pages are read, invoices on pages already read are edited (still unpaid): each edit moves one
    # invoice to the end of the ModifiedUtc order and shifts every later invoice one place forward.
    edited = iter(sources[:60:3])

    def edit_while_paging(page: int) -> None:
        victim = next(edited, None) if page >= 2 else None
        if victim is not None:
            world.spiris.modify(victim.Id, YourReference=f"edited on page {page}")

    world.spiris.on_page = edit_while_paging

    result = world.sync()

    # The edits shifted invoices across page boundaries: the first pass skipped some, the second read them.
    assert result.passes == 2
    ids = [m["invoice_id"] for m in world.render.messages if m["version"] == 1]
    expected = {invoice_id_for("issuer-1", s.Id) for s in sources}
    assert len(ids) == len(set(ids)) == 2_500  # no duplicates
    assert set(ids) == expected  # 0 missing
    assert len(world.invoices.items) == 2_500
    edited_ids = {invoice_id_for("issuer-1", s.Id) for s in sources[:60:3]}
    assert {m["invoice_id"] for m in world.render.messages if m["version"] == 2} == edited_ids
    assert world.integrations.get("int-1").watermark == datetime(
        2026, 11, 21, 8, 0, 2_500 % 60, tzinfo=UTC
    ) + timedelta(minutes=2_500 // 60)


def test_a_window_that_never_settles_keeps_the_watermark() -> None:
    world = World(page_size=2)
    sources = [world.spiris.add(source_invoice(3000 + n)) for n in range(6)]
    world.spiris.on_page = lambda page: (
        world.spiris.modify(sources[0].Id, YourReference=f"p{page}") if page == 2 else None
    )

    result = world.sync()  # not a failed message: retried at once it would meet the same edits

    assert result.unstable
    stored = world.integrations.get("int-1")
    assert stored.watermark is None and stored.last_success_at is None  # the next poll reads it again
    assert stored.last_sync_at is not None
    assert {m["invoice_id"] for m in world.render.messages} >= {invoice_id_for(world.issuer.id, s.Id) for s in sources}


# --- one bad invoice never stops the integration (issue 12 §4) ------------------------------------


def test_an_unmappable_invoice_is_parked_notified_once_and_the_others_go_on(world: World) -> None:
    good = world.spiris.add(source_invoice(1001))
    absurd = source_invoice(1002)
    absurd.Rows[0].VatRate = Decimal("-0.25")
    bad = world.spiris.add(absurd)
    no_rows = world.spiris.add(source_invoice(1003, Rows=[]))

    result = world.sync()

    assert result.imported == 1 and result.parked == 2
    assert world.ours(good.Id) is not None and world.ours(bad.Id) is None and world.ours(no_rows.Id) is None
    parked = {p.decision.source_id: p.decision for p in world.decisions.parked("issuer-1")}
    assert set(parked) == {bad.Id, no_rows.Id}
    assert parked[bad.Id].reason == "unmappable" and "VAT rate of -25 %" in parked[bad.Id].detail
    assert parked[no_rows.Id].detail == "the invoice has no rows" and parked[no_rows.Id].invoice_number == 1003
    assert sorted(source for source, _ in world.notices) == sorted([bad.Id, no_rows.Id])
    assert world.integrations.get("int-1").watermark == world.spiris.clock  # the window moved on

    world.sync(NOW + timedelta(minutes=1))  # the overlap re-reads both: same versions, no second notice
    assert len(world.notices) == 2


def test_a_changed_version_that_cannot_be_mapped_cancels_ours_and_a_fixed_one_comes_back(world: World) -> None:
    source = world.spiris.add(source_invoice(1001))
    world.sync()
    assert world.ours(source.Id).status == InvoiceStatus.QUEUED

    world.spiris.modify(source.Id, Rows=[])
    world.sync(NOW + timedelta(hours=1))

    ours = world.ours(source.Id)
    assert (ours.status, ours.status_reason) == (InvoiceStatus.CANCELLED, "unmappable")  # not sent as it was
    [parked] = world.decisions.parked()
    assert parked.decision.invoice_id == ours.id and parked.integration_id == "int-1"

    fixed_rows = [row.model_dump() for row in source_invoice(1001).Rows]
    world.spiris.modify(source.Id, Rows=fixed_rows)
    world.sync(NOW + timedelta(hours=2))

    assert world.decisions.parked() == []  # un-parked by the fixed version
    ours = world.ours(source.Id)
    assert (ours.status, ours.version) == (InvoiceStatus.QUEUED, 2)
    assert world.render.messages[-1] == {"invoice_id": ours.id, "version": 2, **WHOSE}


FIDELITY_DETAIL = "it does not agree with what Spiris booked: gross_total: ours 12500.00, source 12501.00"


def test_a_version_that_disagrees_with_what_spiris_booked_is_parked_once_and_a_corrected_one_goes(world: World) -> None:
    """The fidelity check at the sync, on the source in hand: a Spiris answer whose stated total its own rows
    do not add up to would go out with our total (the rows'), not the one the issuer booked. It is parked
    with the difference, never handed on; re-read unchanged, it notifies no one again; corrected, it goes."""
    good = world.spiris.add(source_invoice(1001))
    off = world.spiris.add(source_invoice(1002, TotalAmountInvoiceCurrency=Decimal("12501.00")))

    result = world.sync()

    assert (result.imported, result.parked, result.reasons.get("fidelity")) == (1, 1, 1)
    assert world.ours(off.Id) is None
    assert world.render.messages == [{"invoice_id": invoice_id_for(world.issuer.id, good.Id), "version": 1, **WHOSE}]
    [parked] = world.decisions.parked("issuer-1")
    assert (parked.decision.source_id, parked.decision.reason) == (off.Id, "fidelity")
    assert parked.decision.detail == FIDELITY_DETAIL and parked.decision.notified
    assert world.notices == [(off.Id, FIDELITY_DETAIL)]

    world.sync(NOW + timedelta(minutes=1))  # the overlap re-reads the same version: nothing new, no notice
    assert len(world.notices) == 1 and len(world.render.messages) == 1 and len(world.decisions.parked()) == 1

    world.spiris.modify(off.Id, TotalAmountInvoiceCurrency=Decimal("12500.00"))
    world.sync(NOW + timedelta(hours=1))

    assert world.decisions.parked() == [] and len(world.notices) == 1
    ours = world.ours(off.Id)
    assert (ours.status, ours.version, ours.gross_total) == (InvoiceStatus.QUEUED, 1, Decimal("12500.00"))
    assert world.render.messages[-1] == {"invoice_id": ours.id, "version": 1, **WHOSE}


def test_a_version_changed_to_disagree_before_it_went_out_cancels_ours(world: World) -> None:
    """Imported, then changed in Spiris to figures that do not agree (the VAT total no longer that of its
    rows): the version we hold is no longer what the issuer booked, so it is cancelled, not sent as it was."""
    source = world.spiris.add(source_invoice(1001))
    world.sync()
    world.spiris.modify(source.Id, TotalVatAmountInvoiceCurrency=Decimal("2600.00"))

    result = world.sync(NOW + timedelta(hours=1))

    ours = world.ours(source.Id)
    assert (ours.status, ours.status_reason, result.new_versions) == (InvoiceStatus.CANCELLED, "fidelity", 0)
    [parked] = world.decisions.parked()
    assert parked.decision.invoice_id == ours.id and "vat_total: ours 2500.00, source 2600.00" in parked.decision.detail
    assert len(world.render.messages) == 1  # only the first version was ever handed on


def test_a_notice_that_could_not_go_out_waits_for_the_sweeper_not_for_a_re_read(world: World) -> None:
    """The overlap's re-read of the version leaves the notice to the sweeper's list (fetch/parked_notices.py):
    one place sends it, claimed conditionally, whether a sync reads the version again or not."""
    bad = world.spiris.add(source_invoice(1001, Rows=[]))
    world.notices_fail = True
    world.sync()
    assert world.notices == [] and world.decisions.get("int-1", bad.Id).notified is False

    world.notices_fail = False
    world.sync(NOW + timedelta(minutes=1))
    assert world.notices == [] and world.decisions.get("int-1", bad.Id).notified is False  # still waiting


def test_an_invoice_too_large_to_store_is_parked(world: World) -> None:
    from invoice_bridge.adapters.dynamo_invoices import DynamoInvoiceRepository
    from moto import mock_aws

    from sandbox.aws import create_template_table

    # 2,000 rows of 5.00 add up to the fixture's 10,000.00 net, as Spiris would have booked them
    five = {"Quantity": Decimal("1"), "UnitPrice": Decimal("5"), "AmountNoVat": Decimal("5"), "Amount": Decimal("5")}
    many = [dict(source_invoice(1).Rows[0].model_dump(), LineNumber=n, Text="Rad " * 60, **five) for n in range(2000)]
    big = world.spiris.add(source_invoice(1001, Rows=many))
    small = world.spiris.add(source_invoice(1002))
    with mock_aws():
        create_template_table("t")
        world.invoices = DynamoInvoiceRepository("t")  # no documents store: nowhere to keep the rows
        result = world.sync()
        assert result.parked == 1 and result.imported == 1
        assert world.ours(big.Id) is None and world.ours(small.Id) is not None
    [parked] = world.decisions.parked()
    assert parked.decision.reason == "too_large" and "2000 rows" in parked.decision.detail


def test_an_invoice_without_dates_is_issued_on_stockholms_today(world: World) -> None:
    undated = world.spiris.add(source_invoice(1001, InvoiceDate=None, CreatedUtc=None))
    new_years_eve_late = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)  # already 1 January in Stockholm

    world.sync(new_years_eve_late)

    from datetime import date

    assert world.ours(undated.Id).issue_date == date(2027, 1, 1)
