"""One issuer's invoices from the Spiris sandbox through the real steps: sync → render → the gates of
sending.py → dispatch with its fresh look at the source, on moto (DynamoDB from the template, S3, SQS, SES);
the office acts and looks through the admin API's resolver."""

from __future__ import annotations

import email
import email.policy
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.message import Message
from typing import Any

import boto3
import pytest
from invoice_bridge import wiring
from invoice_bridge.adapters.dynamo_batch_reads import DynamoBatchReader
from invoice_bridge.adapters.dynamo_deliveries import DynamoDeliveryLedger
from invoice_bridge.adapters.dynamo_integrations import DynamoIntegrations
from invoice_bridge.adapters.dynamo_invoices import DynamoInvoiceRepository
from invoice_bridge.adapters.dynamo_issuers import DynamoIssuers
from invoice_bridge.adapters.dynamo_sync import DynamoDecisionStore
from invoice_bridge.adapters.s3_documents import S3DocumentStore
from invoice_bridge.adapters.ses_mailer import SesMailer
from invoice_bridge.adapters.sqs_queue import SqsWorkQueue
from invoice_bridge.dispatch import DispatchServices, FailureNotifier, dispatch_invoice
from invoice_bridge.dispatch.fresh_look import SpirisSourceCheck
from invoice_bridge.fetch.sync import SyncResult, SyncServices, sync_integration
from invoice_bridge.mapping import invoice_id_for
from invoice_bridge.models.delivery import Delivery
from invoice_bridge.models.integration import Integration, IntegrationStatus
from invoice_bridge.models.issuer import Address, Issuer
from invoice_bridge.ports import DeliveryLedger, WorkQueue
from invoice_bridge.render.service import RenderServices, render_invoice
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends
from rest_events import LambdaContext, api_event
from spiris_source import SpirisCompany

from sandbox.aws import create_template_table
from sandbox.sqs_faults import SqsBatchFaults
from sandbox.sqs_faults import install as install_sqs_faults

TABLE, BUCKET, SENDER, REGION = "sending-table", "sending-documents", "invoices@example.com", "eu-north-1"
ISSUER_ID, INTEGRATION_ID = "issuer-1", "int-1"
OFFICE_USER = "arn:aws:iam::123456789012:user/anna.office"


@dataclass
class World:
    company: SpirisCompany
    render_queue_url: str
    dispatch_queue_url: str
    invoices: DynamoInvoiceRepository = field(default_factory=lambda: DynamoInvoiceRepository(TABLE))
    issuers: DynamoIssuers = field(default_factory=lambda: DynamoIssuers(TABLE))
    integrations: DynamoIntegrations = field(default_factory=lambda: DynamoIntegrations(TABLE))
    ledger: DeliveryLedger = field(default_factory=lambda: DynamoDeliveryLedger(TABLE))
    documents: S3DocumentStore = field(default_factory=lambda: S3DocumentStore(BUCKET))

    # --- the steps, as their Lambdas run them -------------------------------------------------

    def sync(self) -> SyncResult:
        services = SyncServices(integrations=self.integrations, issuers=self.issuers, invoices=self.invoices,
                                decisions=DynamoDecisionStore(TABLE), spiris_for=lambda _integration: self.company.api(),
                                render_queue=SqsWorkQueue(self.render_queue_url), documents=self.documents,
                                batch_reader=DynamoBatchReader(TABLE))
        # As the poller's message names it: the integration and its issuer are read in one request.
        return sync_integration(INTEGRATION_ID, services, now=datetime.now(UTC), issuer_id=ISSUER_ID)

    def render(self) -> list[str]:
        """Render every waiting render message; the outcomes (rendered, held, ...)."""
        return [
            render_invoice(m["invoice_id"], m["version"], RenderServices(invoices=self.invoices, issuers=self.issuers,
                                                                         documents=self.documents, dispatch_queue=SqsWorkQueue(self.dispatch_queue_url),
                                                                         notifier=FailureNotifier(self.mailer()))).status
            for m in drain(self.render_queue_url)
        ]

    def dispatch_messages(self) -> list[dict[str, Any]]:
        return drain(self.dispatch_queue_url)

    def dispatch(self, message: dict[str, Any], render_queue: WorkQueue | None = None) -> Delivery | None:
        """One dispatch message, with the fresh look through the integration's Spiris client."""
        return dispatch_invoice(message["invoice_id"], message["version"], self.dispatch_services(render_queue))

    def dispatch_services(self, render_queue: WorkQueue | None = None) -> DispatchServices:
        return DispatchServices(
            invoices=self.invoices, issuers=self.issuers, ledger=self.ledger, documents=self.documents,
            operator_for=lambda _issuer: None, mailer=self.mailer(),
            fresh_look=SpirisSourceCheck(self.integrations, lambda _integration: self.company.api(max_attempts=1),
                                         office=None),
            render_queue=render_queue or SqsWorkQueue(self.render_queue_url),
            sending_lease=timedelta(seconds=120),
            batch_reader=DynamoBatchReader(TABLE),
        )

    def mailer(self) -> SesMailer:
        return SesMailer(SENDER)

    # --- the office ---------------------------------------------------------------------------

    def admin(self, method: str, path: str, query: dict[str, str] | None = None,
              user_arn: str | None = OFFICE_USER, body: Any = None) -> tuple[int, Any]:
        """One admin API request as API Gateway sends it after IAM authenticated `user_arn`."""
        from invoice_bridge.api.admin import build_app

        event = api_event(method, path, body=body, query=query)
        event["requestContext"]["identity"]["userArn"] = user_arn
        response = build_app().resolve(event, LambdaContext())
        return response["statusCode"], json.loads(response["body"]) if response.get("body") else None

    def shown(self, invoice_id: str) -> dict[str, Any]:
        status, body = self.admin("GET", f"/invoices/{invoice_id}")
        assert status == 200, body
        return body  # type: ignore[no-any-return]

    def settings(self, **settings: Any) -> None:
        issuer = self.issuers.get(ISSUER_ID)
        self.issuers.put(issuer.model_copy(update=settings))

    def ours(self, source_id: str) -> str:
        return invoice_id_for(ISSUER_ID, source_id)


def credit_note_fields() -> dict[str, Any]:
    """The amounts of a credit note of the sandbox's usual invoice (1,000 + 25 % VAT), as Spiris has them."""
    return {"TotalAmount": Decimal("-1250.00"), "TotalVatAmount": Decimal("-250.00"),
            "TotalAmountInvoiceCurrency": Decimal("-1250.00"), "TotalVatAmountInvoiceCurrency": Decimal("-250.00"),
            "RemainingAmount": Decimal("-1250.00"), "RemainingAmountInvoiceCurrency": Decimal("-1250.00"),
            "VatSpecification": [{"AmountInvoiceCurrency": Decimal("-1000.00"),
                                  "VatAmountInvoiceCurrency": Decimal("-250.00"), "VatPercent": Decimal("0.25")}],
            "Rows": [{"LineNumber": 0, "Text": "Konsult", "Quantity": -10, "UnitPrice": Decimal("100.00"),
                      "AmountNoVat": Decimal("-1000.00"), "Amount": Decimal("-1000.00"), "VatRate": Decimal("0.25")}]}


def drain(queue_url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    bodies: list[dict[str, Any]] = []
    while got := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        for message in got:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def mails_to(address: str) -> list[Message]:
    """The mails moto's SES accepted for `address`, parsed."""
    found = []
    for sent in ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages:
        if hasattr(sent, "raw_data"):
            message = email.message_from_string(sent.raw_data, policy=email.policy.default)
        else:
            message = Message()
            message["To"] = ", ".join(sent.destinations["ToAddresses"])
            message["Subject"] = sent.subject
            message.set_payload(sent.body)
        if address in str(message["To"]):
            found.append(message)
    return found


@pytest.fixture
def world(spiris_company: SpirisCompany, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """An issuer (no operator: invoices go by e-mail) with an active integration to the sandbox company,
    whose first sync is done: its invoices go out by themselves unless a setting holds them."""
    with mock_aws():
        create_template_table(TABLE, ddb=boto3.client("dynamodb"))
        boto3.client("s3").create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        boto3.client("ses").verify_email_identity(EmailAddress=SENDER)
        sqs = boto3.client("sqs")
        render_url = sqs.create_queue(QueueName="render")["QueueUrl"]
        dispatch_url = sqs.create_queue(QueueName="dispatch")["QueueUrl"]
        for name, value in {"TABLE_NAME": TABLE, "DOCUMENTS_BUCKET": BUCKET, "RENDER_QUEUE_URL": render_url,
                            "DISPATCH_QUEUE_URL": dispatch_url, "SENDER_EMAIL": SENDER}.items():
            monkeypatch.setenv(name, value)
        wiring.reset()
        issuers = DynamoIssuers(TABLE)
        issuers.put(Issuer(id=ISSUER_ID, name="Exempelbolaget AB", org_number="5561234567",
                           address=Address(street="Exempelvägen 2", postal_code="22233", city="Lund"),
                           notification_email="ekonomi@exempel.se", bankgiro="1234566", hold_first_sync=False))
        DynamoIntegrations(TABLE).put(Integration(
            id=INTEGRATION_ID, issuer_id=ISSUER_ID, contact_name="Anna", contact_email="anna@exempel.se",
            status=IntegrationStatus.ACTIVE, first_sync_done=True, activated_at=datetime(2026, 10, 1, tzinfo=UTC)))
        yield World(spiris_company, render_url, dispatch_url)
        wiring.reset()


@pytest.fixture
def sqs_faults() -> Iterator[SqsBatchFaults]:
    """SendMessageBatch entries failed as SQS may fail them (sandbox/sqs_faults.py), for one test."""
    faults = install_sqs_faults()
    faults.reset()
    yield faults
    faults.reset()
