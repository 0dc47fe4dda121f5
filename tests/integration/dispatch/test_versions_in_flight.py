"""Issue 12 point 1: an invoice that changes while its dispatch is under way. A new version (edited at the
source) or a cancellation (paid at the source) written by the sync between the dispatch's first read and
its claim must stop the dispatch and be left as it is; nothing of either version is sent. The sync's
writes are made as the sync makes them (conditional on what it read), from inside a real ledger subclass
at the moment the race happens; moto serves DynamoDB/S3/SES and the operator sandbox answers over HTTP."""

from __future__ import annotations

import boto3
import pytest
from dispatch_support import (
    BUCKET,
    PDF,
    TABLE,
    Stack,
    make_invoice,
    make_issuer,
    operator_documents,
    sent_mails,
    ubl_for,
)
from invoice_bridge import entrypoints
from invoice_bridge.adapters.dynamo_deliveries import DynamoDeliveryLedger
from invoice_bridge.adapters.dynamo_integrations import DynamoIntegrations
from invoice_bridge.dispatch import dispatch_invoice
from invoice_bridge.messages import DispatchRequest
from invoice_bridge.models.delivery import Delivery, DeliveryState
from invoice_bridge.models.integration import Integration, IntegrationStatus
from invoice_bridge.models.invoice import Invoice, InvoiceStatus
from invoice_bridge.ports import InvoiceMove, InvoiceRepository
from spiris_source import SpirisCompany, install_grant

from sandbox.aws import REGION

NOT_YET_SENT = {InvoiceStatus.QUEUED, InvoiceStatus.RENDERED, InvoiceStatus.HELD, InvoiceStatus.FAILED}


def sync_writes(invoices: InvoiceRepository, change: dict[str, object]) -> None:
    """What the sync does to an invoice it finds changed or paid at the source: a conditional write of the
    copy it read, and only while the invoice has not gone out (fetch/sync.py)."""
    current = invoices.get("inv1")
    if current.status in NOT_YET_SENT:
        invoices.put(current.model_copy(update=change), expected_updated_at=current.updated_at)


class SyncMeanwhile(DynamoDeliveryLedger):
    """The sync's write lands after the dispatch read the invoice and chose its delivery, right before the
    dispatch records the delivery with its claim."""

    def __init__(self, invoices: InvoiceRepository, change: dict[str, object]):
        super().__init__(TABLE)
        self.invoices, self.change, self.armed = invoices, change, True

    def create(self, delivery: Delivery, invoice_move: InvoiceMove | None = None) -> bool:
        if self.armed:
            self.armed = False
            sync_writes(self.invoices, self.change)
        return super().create(delivery, invoice_move)


def _dispatch(stack: Stack, ledger: DynamoDeliveryLedger | None = None, version: int = 1) -> Delivery | None:
    return dispatch_invoice("inv1", version, stack.services(ledger=ledger or stack.ledger))


@pytest.fixture
def einvoice(stack: Stack) -> Invoice:
    invoice = make_invoice()
    stack.add(make_issuer(), invoice)
    return invoice


def test_a_cancellation_while_dispatching_stops_it_and_is_left_alone(stack: Stack, einvoice: Invoice) -> None:
    cancel = {"status": InvoiceStatus.CANCELLED, "status_reason": "paid"}
    assert _dispatch(stack, SyncMeanwhile(stack.invoices, cancel)) is None
    assert operator_documents(stack.operator_url) == [], "a cancelled invoice was sent"
    assert stack.invoices.get("inv1").status == InvoiceStatus.CANCELLED
    assert stack.ledger.get("inv1", 1).state == DeliveryState.QUEUED  # type: ignore[union-attr]
    assert _dispatch(stack) is None and operator_documents(stack.operator_url) == []  # and on redelivery


def test_a_new_version_arriving_while_the_old_one_is_dispatched_is_left_alone(stack: Stack, einvoice: Invoice) -> None:
    """v2 (edited at the source) is written while v1's dispatch is under way: v1 sends nothing, and v2 is
    neither claimed (`sending` without its documents) nor sent under v1's id with v1's or its documents."""
    v2_xml = "iss1/invoices/inv1/v2/invoice.xml"
    stack.documents.put(v2_xml, b"<Invoice>version 2</Invoice>", "application/xml")
    new_version = {"version": 2, "status": InvoiceStatus.QUEUED, "content_hash": "h2", "pdf_key": None,
                   "einvoice_key": None}
    assert _dispatch(stack, SyncMeanwhile(stack.invoices, new_version)) is None
    assert operator_documents(stack.operator_url) == []
    current = stack.invoices.get("inv1")
    assert (current.version, current.status, current.channel) == (2, InvoiceStatus.QUEUED, None)
    assert [e.status for e in stack.invoices.events("inv1")] == [], "no move recorded on either version"


def test_a_rendered_new_version_is_never_sent_with_the_old_versions_message(stack: Stack, einvoice: Invoice) -> None:
    stack.documents.put("iss1/invoices/inv1/v2/invoice.xml", b"<Invoice>version 2</Invoice>", "application/xml")
    rendered_v2 = {"version": 2, "status": InvoiceStatus.RENDERED, "content_hash": "h2",
                   "einvoice_key": "iss1/invoices/inv1/v2/invoice.xml", "pdf_key": "iss1/invoices/inv1/v2/invoice.pdf"}
    assert _dispatch(stack, SyncMeanwhile(stack.invoices, rendered_v2)) is None
    assert operator_documents(stack.operator_url) == []
    assert stack.invoices.get("inv1").status == InvoiceStatus.RENDERED
    delivery = _dispatch(stack, version=2)  # v2's own message sends v2, under v2's id
    assert delivery is not None and delivery.version == 2 and delivery.state == DeliveryState.SENT
    [document] = operator_documents(stack.operator_url)
    assert document["uuid"] == delivery.operator_idempotency_id


def test_the_documents_of_the_version_are_checked_before_the_intent(stack: Stack, einvoice: Invoice) -> None:
    """Rendered, but its e-invoice is gone from the bucket: failed with a notice before anything is
    recorded as being sent (not left `sending` for ever, retried into the dead-letter queue)."""
    boto3.client("s3", region_name=REGION).delete_object(Bucket=BUCKET, Key="iss1/invoices/inv1/v1/invoice.xml")
    assert _dispatch(stack) is None
    assert stack.ledger.get("inv1", 1) is None and operator_documents(stack.operator_url) == []
    invoice = stack.invoices.get("inv1")
    assert invoice.status == InvoiceStatus.FAILED and "missing" in (invoice.status_reason or "")
    [notice] = [m for m in sent_mails() if m["To"] == "byra@example.com"]
    assert "kunde inte levereras" in notice["Subject"]


# --- the Lambda entry point: "nothing to do yet" does not block the real message ----------------------


@pytest.fixture
def wired(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Stack:
    from invoice_bridge import wiring

    for name, value in {"TABLE_NAME": TABLE, "DOCUMENTS_BUCKET": BUCKET,
                        "SENDER_EMAIL": "invoices@example.com"}.items():
        monkeypatch.setenv(name, value)
    wiring.reset()
    return stack


def test_a_dispatch_message_that_came_too_early_does_not_block_the_real_one(
    wired: Stack, spiris_company: SpirisCompany, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dispatch of an invoice that is not rendered yet does nothing, and leaves nothing behind that
    would answer render's hand-off of the same version in its place (Powertools idempotency once kept such
    an answer for 24 hours), or the invoice would never be sent. (Through the Lambda's wiring, so its fresh look reads the source from the
    Spiris sandbox with the grant the token broker holds.)"""
    source = spiris_company.add(1001)
    integration = Integration(id="int1", issuer_id="iss1", contact_name="Anna", contact_email="anna@example.se",
                              status=IntegrationStatus.ACTIVE)
    DynamoIntegrations(TABLE).put(integration)
    install_grant(spiris_company, integration, TABLE, monkeypatch)
    invoice = make_invoice(buyer_org=None, buyer_email="kund@example.com").model_copy(
        update={"source_id": source.Id, "source_modified_utc": source.ModifiedUtc})
    queued = invoice.model_copy(update={"status": InvoiceStatus.QUEUED, "pdf_key": None, "einvoice_key": None})
    wired.issuers.put(make_issuer())
    wired.invoices.put(queued)
    request = DispatchRequest(invoice_id="inv1", version=1)
    assert entrypoints.dispatch(request) is None
    wired.documents.put("iss1/invoices/inv1/v1/invoice.pdf", PDF, "application/pdf")
    wired.documents.put("iss1/invoices/inv1/v1/invoice.xml", ubl_for(invoice), "application/xml")
    current = wired.invoices.get("inv1")
    wired.invoices.put(invoice.model_copy(update={"updated_at": current.updated_at}))  # rendered meanwhile
    assert entrypoints.dispatch(request) == "sent"
    assert [m["To"] for m in sent_mails()] == ["kund@example.com"]
