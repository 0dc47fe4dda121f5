"""A ROT/RUT buyer's personal identity number is on the document and nowhere else: not in a log line, an
event, a failure reason or a repr, on the happy path and on the failure paths."""

from __future__ import annotations

from decimal import Decimal
from functools import partial

import pytest
from fetch_doubles import FakeSpiris, ListQueue, MemoryDecisions, MemoryIntegrations
from fetch_doubles import MemoryInvoices as FetchInvoices
from invoice_bridge.alerts import notify_invoice_parked
from invoice_bridge.dispatch.notify import FailureNotifier
from invoice_bridge.fetch.sync import SyncServices, sync_integration
from invoice_bridge.models.integration import Integration, IntegrationStatus
from invoice_bridge.models.spiris import Customer, CustomerInvoice
from invoice_bridge.render.service import RenderServices, render_invoice
from port_doubles import MemoryIssuers, RecordingMailer
from render_doubles import MemoryDocuments, MemoryInvoices, MemoryQueue
from test_vat_mapping import OUR_ISSUER, mapped

from sandbox.vat_cases import BY_NAME, CUSTOMERS, ROT_PERSON, case_invoice

DIGITS = ROT_PERSON.replace("-", "")


def _absent(*texts: str) -> None:
    for text in texts:
        assert ROT_PERSON not in text and DIGITS not in text


def test_the_spiris_model_masks_it() -> None:
    source = CustomerInvoice.model_validate(case_invoice(BY_NAME["rot"], 2001))
    _absent(repr(source), str(source), repr(source.Persons))
    assert source.Persons and source.Persons[0].Ssn is not None
    assert source.Persons[0].Ssn.get_secret_value() == ROT_PERSON


def test_sync_and_render_never_log_it(capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    spiris = FakeSpiris()
    spiris.customers[CUSTOMERS["rot"]["Id"]] = Customer.model_validate(CUSTOMERS["rot"])
    spiris.add(CustomerInvoice.model_validate(case_invoice(BY_NAME["rot"], 2001)))
    invoices, render_queue = FetchInvoices(), ListQueue()
    integration = Integration(id="int-1", issuer_id=OUR_ISSUER.id, contact_name="A", contact_email="a@example.se",
                              status=IntegrationStatus.ACTIVE, activated_at=spiris.clock.replace(year=2026, month=1))
    sync_integration("int-1", SyncServices(integrations=MemoryIntegrations(integration), issuers=MemoryIssuers(OUR_ISSUER),
                                           invoices=invoices, decisions=MemoryDecisions(),
                                           spiris_for=lambda _integration: spiris, render_queue=render_queue))
    [message] = render_queue.messages
    invoice = invoices.get(message["invoice_id"])
    assert invoice.tax_reduction is not None and invoice.tax_reduction.persons  # it is there, for the PDF

    documents = MemoryDocuments()
    outcome = render_invoice(invoice.id, 1, RenderServices(invoices=invoices, issuers=MemoryIssuers(OUR_ISSUER),
                                                           documents=documents, dispatch_queue=MemoryQueue(),
                                                           notifier=FailureNotifier(RecordingMailer())))

    assert outcome.status == "held"  # first sync
    captured = capsys.readouterr()
    _absent(captured.out, captured.err, caplog.text, *(e.detail for e in invoices.events(invoice.id)))


def _sync(source: CustomerInvoice, notify_parked: object = None) -> tuple[FetchInvoices, ListQueue, MemoryDecisions]:
    """One sync of `source` (the ROT buyer's) against in-memory ports."""
    spiris = FakeSpiris()
    spiris.customers[CUSTOMERS["rot"]["Id"]] = Customer.model_validate(CUSTOMERS["rot"])
    spiris.add(source)
    invoices, render_queue, decisions = FetchInvoices(), ListQueue(), MemoryDecisions()
    integration = Integration(id="int-1", issuer_id=OUR_ISSUER.id, contact_name="A", contact_email="a@example.se",
                              status=IntegrationStatus.ACTIVE, activated_at=spiris.clock.replace(year=2026, month=1))
    sync_integration("int-1", SyncServices(integrations=MemoryIntegrations(integration), issuers=MemoryIssuers(OUR_ISSUER),
                                           invoices=invoices, decisions=decisions,
                                           spiris_for=lambda _integration: spiris, render_queue=render_queue,
                                           notify_parked=notify_parked))  # type: ignore[arg-type]  # a NotifyParked or None
    return invoices, render_queue, decisions


def test_a_parked_version_s_reason_and_notice_never_quote_it(capsys: pytest.CaptureFixture[str],
                                                             caplog: pytest.LogCaptureFixture) -> None:
    """The sync's fidelity check parks a source whose persons' shares are not its reduction: the reason, the
    notice and the logs name amounts only."""
    mailer = RecordingMailer()
    changed = CustomerInvoice.model_validate(
        case_invoice(BY_NAME["rot"], 2001) | {"Persons": [{"Ssn": ROT_PERSON, "Amount": Decimal("5000.00")}]})

    _, render_queue, decisions = _sync(changed, partial(notify_invoice_parked, mailer=mailer, office_name="Byrån"))

    [parked] = decisions.parked()
    assert render_queue.messages == [] and parked.decision.reason == "fidelity"
    assert "tax_reduction_persons: ours 5000.00, source 5040.00 (the reduction)" in parked.decision.detail
    [notice] = mailer.sent
    assert parked.decision.detail in notice.text
    captured = capsys.readouterr()
    _absent(captured.out, captured.err, caplog.text, parked.decision.detail, notice.text, notice.html or "")


def test_a_render_failure_reason_never_quotes_it(capsys: pytest.CaptureFixture[str],
                                                 caplog: pytest.LogCaptureFixture) -> None:
    invoices = MemoryInvoices()
    invoice = mapped("rot")
    assert invoice.tax_reduction is not None
    reduction = invoice.tax_reduction.model_copy(update={"amount_to_pay": Decimal("1.00")})
    invoices.put(invoice.model_copy(update={"tax_reduction": reduction}))

    outcome = render_invoice(invoice.id, 1, RenderServices(invoices=invoices, issuers=MemoryIssuers(OUR_ISSUER),
                                                           documents=MemoryDocuments(), dispatch_queue=MemoryQueue(),
                                                           notifier=FailureNotifier(RecordingMailer())))

    assert outcome.status == "failed"
    assert outcome.reasons == ["amount_to_pay: ours 1.00, source 22260.00 (= total - reduction)"]
    captured = capsys.readouterr()
    stored = invoices.get(invoice.id)
    _absent(captured.out, caplog.text, stored.status_reason or "", *outcome.reasons,
            *(e.detail for e in invoices.events(invoice.id)))
