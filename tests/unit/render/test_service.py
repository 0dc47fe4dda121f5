from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal

import pytest
from invoice_bridge.dispatch.notify import FailureNotifier
from invoice_bridge.mapping import to_invoice
from invoice_bridge.models.invoice import InvoiceStatus
from invoice_bridge.observability import metrics
from invoice_bridge.render.service import RenderServices, document_keys, render_invoice
from port_doubles import MemoryIssuers, RecordingMailer
from render_doubles import MemoryDocuments, MemoryInvoices, MemoryQueue
from render_fixtures import CUSTOMER, ISSUER, logo_png, simple_source

# Whose invoice the messages of these tests are: every render and dispatch message names both.
WHOSE = {"issuer_id": "issuer-1", "integration_id": "int-1"}

MAILER = RecordingMailer()


@pytest.fixture
def world():  # type: ignore[no-untyped-def]
    issuer = ISSUER.model_copy(update={"logo_key": f"{ISSUER.id}/logo"})
    invoices, issuers, documents, queue = MemoryInvoices(), MemoryIssuers(issuer), MemoryDocuments(), MemoryQueue()
    documents.put(f"{ISSUER.id}/logo", logo_png(), "image/png")
    invoice = to_invoice(simple_source(), CUSTOMER, issuer, "int-1", office=None)
    invoices.put(invoice)
    MAILER.sent.clear()
    return invoice, invoices, issuers, documents, queue


@pytest.fixture
def clean_metrics() -> Iterator[None]:
    metrics.clear_metrics()
    yield
    metrics.clear_metrics()


def _render(world, **kwargs):  # type: ignore[no-untyped-def]
    invoice, invoices, issuers, documents, queue = world
    services = RenderServices(invoices=invoices, issuers=issuers, documents=documents,
                              dispatch_queue=kwargs.pop("dispatch_queue", queue), notifier=FailureNotifier(MAILER))
    return render_invoice(invoice.id, invoice.version, services, **kwargs)


def test_render_stores_documents_updates_invoice_and_queues_dispatch(world) -> None:  # type: ignore[no-untyped-def]
    invoice, invoices, _, documents, queue = world
    outcome = _render(world)
    pdf_key, xml_key = document_keys(invoice, 1)
    assert outcome.status == "rendered" and pdf_key == f"issuer-1/invoices/{invoice.id}/v1/invoice.pdf"
    assert documents.objects[pdf_key][0].startswith(b"%PDF") and documents.objects[pdf_key][1] == "application/pdf"
    assert b"<cbc:EmbeddedDocumentBinaryObject" in documents.objects[xml_key][0]
    stored = invoices.get(invoice.id)
    assert (stored.status, stored.pdf_key, stored.einvoice_key) == (InvoiceStatus.RENDERED, pdf_key, xml_key)
    assert [e.status for e in invoices.events(invoice.id)] == ["rendered"]
    assert queue.messages == [({"invoice_id": invoice.id, "version": 1, **WHOSE}, f"{invoice.id}:v1")]

    again = _render(world)  # a redelivered message: nothing is rendered or recorded twice
    assert again.status == "skipped" and len(invoices.events(invoice.id)) == 1
    # ... but a version still `rendered` is handed on again (dispatch is idempotent per version)
    assert queue.messages == [({"invoice_id": invoice.id, "version": 1, **WHOSE}, f"{invoice.id}:v1")] * 2


class CrashingQueue(MemoryQueue):
    """The Lambda dies after render stored its result, before the dispatch message left."""

    def send(self, message: Mapping[str, object], deduplication_id: str | None = None) -> None:
        raise RuntimeError("crashed before the dispatch message was sent")


def test_a_render_retried_after_a_crash_before_the_hand_off_still_queues_dispatch(world) -> None:  # type: ignore[no-untyped-def]
    invoice, invoices, _, _, queue = world
    with pytest.raises(RuntimeError):
        _render(world, dispatch_queue=CrashingQueue())
    assert invoices.get(invoice.id).status == InvoiceStatus.RENDERED and queue.messages == []
    _render(world)  # the queue redelivers the render message
    assert queue.messages == [({"invoice_id": invoice.id, "version": 1, **WHOSE}, f"{invoice.id}:v1")]


def test_a_held_version_already_rendered_is_not_handed_on(world) -> None:  # type: ignore[no-untyped-def]
    invoice, invoices, _, _, queue = world
    invoices.put(invoice.model_copy(update={"hold": True}))
    assert _render(world).status == "held"
    assert _render(world).status == "skipped" and queue.messages == []


def test_a_render_that_meets_a_cancellation_leaves_it_alone(world) -> None:  # type: ignore[no-untyped-def]
    """The sync cancels the invoice (paid at the source) while it is being rendered: the render must not
    write `rendered` over `cancelled`, nor hand it on."""
    invoice, invoices, _, _, queue = world

    class CancelledMeanwhile(MemoryDocuments):
        def put(self, key: str, body: bytes, content_type: str) -> None:
            super().put(key, body, content_type)
            current = invoices.get(invoice.id)
            if current.status == InvoiceStatus.QUEUED:
                invoices.put(current.model_copy(update={"status": InvoiceStatus.CANCELLED}))

    issuers = world[2]
    documents = CancelledMeanwhile()
    outcome = render_invoice(invoice.id, 1, RenderServices(invoices=invoices, issuers=issuers, documents=documents,
                                                           dispatch_queue=queue, notifier=FailureNotifier(MAILER)))
    assert outcome.status == "skipped"
    assert invoices.get(invoice.id).status == InvoiceStatus.CANCELLED and queue.messages == []


def test_held_invoice_is_rendered_but_not_dispatched(world) -> None:  # type: ignore[no-untyped-def]
    invoice, invoices, _, _, queue = world
    invoices.put(invoice.model_copy(update={"status": InvoiceStatus.HELD}))
    assert _render(world).status == "held"
    assert invoices.get(invoice.id).status == InvoiceStatus.HELD and queue.messages == []


def test_superseded_version_is_skipped(world) -> None:  # type: ignore[no-untyped-def]
    invoice, invoices, issuers, documents, queue = world
    invoices.put(invoice.model_copy(update={"version": 2}))
    outcome = render_invoice(invoice.id, 1, RenderServices(invoices=invoices, issuers=issuers, documents=documents,
                                                           dispatch_queue=queue, notifier=FailureNotifier(MAILER)))
    assert outcome.status == "skipped" and documents.objects.keys() == {f"{ISSUER.id}/logo"}


@pytest.mark.usefixtures("clean_metrics")
def test_rule_failure_fails_the_invoice_notifies_the_issuer_counts_and_sends_nothing(world) -> None:  # type: ignore[no-untyped-def]
    invoice, invoices, _, documents, queue = world
    bad_seller = invoice.seller.model_copy(update={"org_number": "5560123457", "endpoint_id": "5560123457"})
    invoices.put(invoice.model_copy(update={"seller": bad_seller}))
    outcome = _render(world)
    assert outcome.status == "failed"
    stored = invoices.get(invoice.id)
    assert stored.status == InvoiceStatus.FAILED and "SE-R-013" in (stored.status_reason or "")
    assert invoices.events(invoice.id)[-1].status == "failed"
    assert queue.messages == [] and list(documents.objects) == [f"{ISSUER.id}/logo"]
    [notice] = MAILER.sent
    assert notice.to == [ISSUER.notification_email] and invoice.number in notice.subject
    assert "SE-R-013" in notice.text
    assert sum(metrics.metric_set["RenderFailed"]["Value"]) == 1 and "TransferFailed" not in metrics.metric_set
    assert _render(world).status == "skipped" and len(MAILER.sent) == 1  # a redelivery notifies no one again


def test_an_invoice_that_does_not_add_up_fails_and_notifies(world) -> None:  # type: ignore[no-untyped-def]
    """Render reads no source (the sync reconciled the version with Spiris: tests/unit/fetch), but what it
    renders must add up by itself: a total that is not net + VAT + rounding is never sent."""
    invoice, invoices, _, _, queue = world
    invoices.put(invoice.model_copy(update={"gross_total": Decimal("13762.00")}))
    outcome = _render(world)
    assert outcome.status == "failed" and outcome.reasons == ["gross_total_arithmetic: 13762.00"]
    stored = invoices.get(invoice.id)
    assert stored.status == InvoiceStatus.FAILED and stored.status_reason == "fidelity failed: gross_total_arithmetic: 13762.00"
    assert queue.messages == []
    [notice] = MAILER.sent
    assert "gross_total_arithmetic: 13762.00" in notice.text


def test_private_buyer_gets_a_pdf_and_no_einvoice(world) -> None:  # type: ignore[no-untyped-def]
    """A document that cannot be Peppol-valid (no buyer endpoint: PEPPOL-EN16931-R010) is not offered as an
    e-invoice at all, instead of an e-invoice with the rule downgraded to a warning."""
    from invoice_bridge.models.spiris import Customer
    from render_fixtures import row, source

    invoice, invoices, issuers, documents, queue = world
    private = Customer(Id="p", Name="Privat Person", IsPrivatePerson=True, EmailAddress="p@example.se",
                       EdiGlnNumber="7300009060115")
    src = source(3003, [row(0, "Tjänst", "1", "100")], CustomerIsPrivatePerson=True, YourReference=None)
    b2c = to_invoice(src, private, issuers.get(ISSUER.id), "int-1", office=None)
    assert b2c.buyer.endpoint_id is None and b2c.buyer.org_number is None
    invoices.put(b2c)
    outcome = render_invoice(b2c.id, 1, RenderServices(invoices=invoices, issuers=issuers, documents=documents, dispatch_queue=queue,
                                                       notifier=FailureNotifier(MAILER)))
    pdf_key, xml_key = document_keys(b2c, 1)
    stored = invoices.get(b2c.id)
    assert outcome.status == "rendered" and outcome.einvoice_key is None
    assert (stored.pdf_key, stored.einvoice_key) == (pdf_key, None)
    assert pdf_key in documents.objects and xml_key not in documents.objects
    assert invoices.events(b2c.id)[-1].detail == (
        "v1: PDF rendered; no e-invoice: the buyer is a private person; e-invoices over Peppol go to companies")
    assert queue.messages == [({"invoice_id": b2c.id, "version": 1, **WHOSE}, f"{b2c.id}:v1")]

    stored_objects = dict(documents.objects)
    again = render_invoice(b2c.id, 1, RenderServices(invoices=invoices, issuers=issuers, documents=documents, dispatch_queue=queue,
                                                     notifier=FailureNotifier(MAILER)))
    # Rendered once, without an e-invoice too; still `rendered`, so it is handed on again (dispatch is idempotent).
    assert again.status == "skipped" and "already rendered" in again.reasons
    assert documents.objects == stored_objects and len(queue.messages) == 2
