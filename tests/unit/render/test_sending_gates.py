"""What a rendered version waits for (sending.py): the office's review, approval, the send delay; and the
office's approve and release. In-memory ports; the same story against the Spiris sandbox and moto is in
tests/integration/sending."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from invoice_bridge.dispatch.notify import FailureNotifier
from invoice_bridge.invoices import InvalidTransition, approve_invoice, release_invoice
from invoice_bridge.mapping import to_invoice
from invoice_bridge.models.invoice import Invoice, InvoiceStatus
from invoice_bridge.ports import ConflictError
from invoice_bridge.render.service import RenderServices, render_invoice
from port_doubles import MemoryIssuers, RecordingMailer
from render_doubles import MemoryDocuments, MemoryInvoices, MemoryQueue
from render_fixtures import CUSTOMER, ISSUER, simple_source

# Whose invoice the messages of these tests are: every render and dispatch message names both.
WHOSE = {"issuer_id": "issuer-1", "integration_id": "int-1"}

CHANGED_AT = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
NOW = CHANGED_AT + timedelta(minutes=10)


class World:
    def __init__(self, **settings: object) -> None:
        self.issuers = MemoryIssuers(ISSUER.model_copy(update=settings))
        self.invoices, self.documents, self.dispatch = MemoryInvoices(), MemoryDocuments(), MemoryQueue()
        invoice = to_invoice(simple_source(), CUSTOMER, ISSUER, "int-1", office=None)
        self.invoice = invoice.model_copy(update={"source_modified_utc": CHANGED_AT})
        self.invoices.put(self.invoice)

    def render(self, now: datetime = NOW) -> Invoice:
        render_invoice(self.invoice.id, self.invoice.version, RenderServices(invoices=self.invoices, issuers=self.issuers,
                                                                             documents=self.documents, dispatch_queue=self.dispatch,
                                                                             notifier=FailureNotifier(RecordingMailer())), now=lambda: now)
        return self.invoices.get(self.invoice.id)

    def approve(self, now: datetime = NOW) -> Invoice:
        return approve_invoice(self.invoice.id, invoices=self.invoices, issuers=self.issuers,
                               dispatch_queue=self.dispatch, by="anna", now=lambda: now)

    def handed_on(self) -> list[dict[str, object]]:
        return [message for message, _ in self.dispatch.messages]


def test_automatic_without_a_delay_goes_out_when_rendered() -> None:
    world = World()
    rendered = world.render()
    assert (rendered.status, rendered.status_reason, rendered.send_at) == (InvoiceStatus.RENDERED, None, None)
    assert world.handed_on() == [{"invoice_id": rendered.id, "version": 1, **WHOSE}]


def test_approval_mode_holds_the_rendered_version_for_the_office() -> None:
    world = World(sending="approve")
    held = world.render()
    assert (held.status, held.status_reason) == (InvoiceStatus.HELD, "awaiting_approval")
    assert world.handed_on() == [] and held.pdf_key  # rendered, so the office can look at it
    approved = world.approve()
    assert approved.status == InvoiceStatus.RENDERED and approved.approval is not None
    assert (approved.approval.by, approved.approval.version, approved.approval.at) == ("anna", 1, NOW)
    assert world.handed_on() == [{"invoice_id": held.id, "version": 1, **WHOSE}]
    assert world.invoices.events(held.id)[-1].detail == "v1 approved by anna"


def test_the_send_delay_counts_from_the_last_change_at_the_source() -> None:
    world = World(send_delay_hours=3)
    held = world.render()
    assert (held.status, held.status_reason) == (InvoiceStatus.HELD, "send_delay")
    assert held.send_at == CHANGED_AT + timedelta(hours=3) and world.handed_on() == []
    # A source clock ahead of ours never stretches the wait beyond the delay from now.
    ahead = World(send_delay_hours=3)
    ahead.invoices.put(ahead.invoice.model_copy(update={"source_modified_utc": NOW + timedelta(hours=5)}))
    assert ahead.render().send_at == NOW + timedelta(hours=3)
    # Rendered after the delay is over (a late render, a retry): out at once.
    late = World(send_delay_hours=3)
    assert late.render(now=CHANGED_AT + timedelta(hours=4)).status == InvoiceStatus.RENDERED


def test_an_approval_goes_on_to_the_send_delay_and_the_review_hold_comes_first() -> None:
    world = World(sending="approve", send_delay_hours=1)
    assert world.render().status_reason == "awaiting_approval"
    waiting = world.approve()
    assert (waiting.status, waiting.status_reason) == (InvoiceStatus.HELD, "send_delay")
    assert world.handed_on() == []
    assert "waits for its send delay until" in world.invoices.events(waiting.id)[-1].detail

    reviewed = World(sending="approve", send_delay_hours=1)
    reviewed.invoices.put(reviewed.invoice.model_copy(update={"hold": True, "hold_reason": "first_sync"}))
    assert reviewed.render().status_reason == "first_sync"
    with pytest.raises(InvalidTransition, match="only invoices waiting for approval"):
        reviewed.approve()


def test_an_approval_holds_for_the_content_approved_only() -> None:
    world = World(sending="approve")
    world.render()
    approved = world.approve()
    # The office retries the same content (a failure after the approval): no new approval needed.
    again = approved.model_copy(update={"version": 2, "status": InvoiceStatus.QUEUED, "pdf_key": None})
    world.invoices.put(again)
    world.invoice = again
    assert world.render().status == InvoiceStatus.RENDERED
    # Changed at the source: the approval was of other content.
    changed = again.model_copy(update={"version": 3, "status": InvoiceStatus.QUEUED, "pdf_key": None,
                                       "content_hash": "another"})
    world.invoices.put(changed)
    world.invoice = changed
    assert world.render().status_reason == "awaiting_approval"


def test_an_approval_of_a_version_that_changed_meanwhile_is_refused() -> None:
    world = World(sending="approve")
    world.render()

    class NewVersionAfterTheRead(MemoryInvoices):
        def get(self, invoice_id: str) -> Invoice:
            read = super().get(invoice_id)
            self.items[invoice_id] = read.model_copy(update={"version": 2, "status": InvoiceStatus.QUEUED})
            return read

    racing = NewVersionAfterTheRead()
    racing.items = dict(world.invoices.items)
    with pytest.raises(ConflictError):
        approve_invoice(world.invoice.id, invoices=racing, issuers=world.issuers, dispatch_queue=world.dispatch)
    assert racing.items[world.invoice.id].approval is None and world.handed_on() == []


def test_a_release_lets_any_held_invoice_go_now_and_counts_as_the_offices_go() -> None:
    world = World(sending="approve", send_delay_hours=24)
    held = world.render()
    released = release_invoice(held.id, invoices=world.invoices, dispatch_queue=world.dispatch, by="anna",
                               now=lambda: NOW)
    assert (released.status, released.hold) == (InvoiceStatus.RENDERED, False)
    assert released.approval is not None and released.approval.by == "anna"
    assert world.handed_on() == [{"invoice_id": held.id, "version": 1, **WHOSE}]
    assert world.invoices.events(held.id)[-1].detail == "released by anna (it waited: awaiting_approval)"
    with pytest.raises(InvalidTransition, match="only held invoices"):
        release_invoice(held.id, invoices=world.invoices, dispatch_queue=world.dispatch)
