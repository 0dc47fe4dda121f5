"""Dispatch integration fixtures: moto (DynamoDB, S3, SES, KMS) plus the operator sandbox over real HTTP,
speaking Maventa's API or InExchange's (the `provider` of the issuers the stack serves)."""

from __future__ import annotations

import email
import email.policy
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.message import Message
from typing import Any

import boto3
import httpx
import pytest
from fetch_doubles import ListQueue
from invoice_bridge.adapters.dynamo_deliveries import DynamoDeliveryLedger
from invoice_bridge.adapters.dynamo_invoices import DynamoInvoiceRepository
from invoice_bridge.adapters.dynamo_issuers import DynamoIssuers
from invoice_bridge.adapters.inexchange import InExchangeOperator, InExchangePartnerApi
from invoice_bridge.adapters.maventa import MaventaCredentials, MaventaOperator, clear_token_cache
from invoice_bridge.adapters.s3_documents import S3DocumentStore
from invoice_bridge.adapters.ses_mailer import SesMailer
from invoice_bridge.dispatch import DispatchServices, clear_lookup_cache, dispatch_invoice
from invoice_bridge.models.delivery import Delivery
from invoice_bridge.models.invoice import Invoice
from invoice_bridge.models.issuer import Issuer
from invoice_bridge.ports import Operator
from invoice_factory import BUYER_ORG, make_invoice, make_issuer  # noqa: F401  - the dispatch tests import them from here
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends
from moto.sqs.models import sqs_backends
from port_doubles import source_as_imported

from sandbox.aws import create_template_table
from sandbox.operator import serve

TABLE, BUCKET, SENDER = "t", "docs", "invoices@example.com"
# The delivery lease, as the template sets it (DISPATCH_LEASE_SECONDS, the dispatch function's timeout).
LEASE = timedelta(seconds=120)


def after_the_lease() -> datetime:
    """A clock for the run that meets a crashed run's intent: the queue gives a crashed invocation's
    message back after its visibility timeout (12 minutes), when the lease has run out."""
    return datetime.now(UTC) + LEASE + timedelta(seconds=1)
REGION = "eu-north-1"
COMPANY, API_KEY, VENDOR_KEY = (
    "0d6c3c8e-0000-4000-8000-000000000001",
    "user-api-key-secret",
    "vendor-key-secret",
)
PARTNER_KEY = "inexchange-partner-key-secret"
PDF = b"%PDF-1.7 invoice"
PROVIDERS = ("maventa", "inexchange")


def ubl_for(invoice: Invoice) -> bytes:
    """A small UBL invoice with what the operators read: its number and the buyer's postal address."""
    address = invoice.buyer.address
    return f"""<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
 xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
 xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
 <cbc:ID>{invoice.number}</cbc:ID>
 <cac:AccountingCustomerParty><cac:Party><cac:PartyName><cbc:Name>{invoice.buyer.name}</cbc:Name></cac:PartyName>
  <cac:PostalAddress><cbc:StreetName>{address.street or ""}</cbc:StreetName><cbc:CityName>{address.city or ""}</cbc:CityName>
   <cbc:PostalZone>{address.postal_code or ""}</cbc:PostalZone>
   <cac:Country><cbc:IdentificationCode>{address.country}</cbc:IdentificationCode></cac:Country></cac:PostalAddress>
 </cac:Party></cac:AccountingCustomerParty>
</Invoice>""".encode()


def create_table() -> None:
    create_template_table(TABLE, ddb=boto3.client("dynamodb", region_name=REGION))


@pytest.fixture
def aws():
    with mock_aws():
        create_table()
        boto3.client("s3", region_name=REGION).create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        boto3.client("ses", region_name=REGION).verify_email_identity(EmailAddress=SENDER)
        yield


def visible_in(queue_name: str, message_id: str) -> float:
    """Seconds until moto's SQS shows a received message again: its visibility as the queue holds it."""
    queue = sqs_backends[DEFAULT_ACCOUNT_ID][REGION].queues[queue_name]
    [message] = [m for m in queue._messages if m.id == message_id]
    return float(message.visible_at - time.time() * 1000) / 1000


def back_once_the_lease_has_run_out(queue_name: str, message_id: str) -> None:
    """A message that met a lease just taken (120 s) comes back a few seconds after it has run out (the
    margin and the jitter, whole seconds up), never before, and not at the generic backoff (30 s, 2 min,
    5 min)."""
    seconds = visible_in(queue_name, message_id)
    assert LEASE.total_seconds() < seconds <= LEASE.total_seconds() + 8, f"back in {seconds:.1f} s"


def sent_mails() -> list[Message]:
    """Every message moto's SES accepted, parsed (Simple ones rebuilt as plain messages)."""
    backend = ses_backends[DEFAULT_ACCOUNT_ID][REGION]
    parsed = []
    for message in backend.sent_messages:
        if hasattr(message, "raw_data"):
            parsed.append(email.message_from_string(message.raw_data, policy=email.policy.default))
        else:
            plain = Message()
            plain["To"] = ", ".join(message.destinations["ToAddresses"])
            plain["Subject"] = message.subject
            plain.set_payload(message.body)
            parsed.append(plain)
    return parsed


@pytest.fixture(scope="session")
def operator_server():
    server, base_url = serve(partner_api_key=PARTNER_KEY)
    yield base_url
    server.shutdown()


@pytest.fixture
def operator_url(operator_server: str) -> str:
    control = httpx.Client(base_url=operator_server)
    control.post("/_sandbox/reset").raise_for_status()
    control.post(
        "/_sandbox/faults", json={"hang_seconds": 1.0, "delivery_delay": 0, "seed": 7}
    ).raise_for_status()
    control.post(
        "/_sandbox/accounts", json={"company_uuid": COMPANY, "api_key": API_KEY, "vendor_api_key": VENDOR_KEY}
    ).raise_for_status()
    control.post("/_sandbox/settings", json={"partner_api_key": PARTNER_KEY}).raise_for_status()
    control.post(
        "/_sandbox/receivers", json={"org_number": BUYER_ORG, "name": "Köpare AB"}
    ).raise_for_status()
    clear_token_cache()
    clear_lookup_cache()
    return operator_server


def operator_documents(operator_url: str) -> list[dict]:  # type: ignore[type-arg]
    return httpx.get(f"{operator_url}/_sandbox/invoices").json()


def set_faults(operator_url: str, **faults: float) -> None:
    httpx.post(f"{operator_url}/_sandbox/faults", json=faults).raise_for_status()


def set_behaviour(operator_url: str, **settings: object) -> None:
    httpx.post(f"{operator_url}/_sandbox/settings", json=settings).raise_for_status()


def inexchange_client_token(operator_url: str, erp_id: str) -> str:
    """Register our issuer as an InExchange client and create its token, as the office's set-up does."""
    httpx.post(f"{operator_url}/_sandbox/inexchange/clients", json={"erp_id": erp_id}).raise_for_status()
    return InExchangePartnerApi(operator_url, PARTNER_KEY).create_client_token(erp_id)


def credentials() -> MaventaCredentials:
    return MaventaCredentials(COMPANY, API_KEY, VENDOR_KEY)


@dataclass
class Stack:
    invoices: DynamoInvoiceRepository
    issuers: DynamoIssuers
    ledger: DynamoDeliveryLedger
    documents: S3DocumentStore
    mailer: SesMailer
    operator_url: str

    operators: dict[str, Operator] = field(default_factory=dict)
    known_issuers: set[str] = field(default_factory=set)
    render_queue: ListQueue = field(default_factory=ListQueue)  # next versions the fresh look made

    def operator_for(self, issuer: Issuer) -> Operator:
        """One adapter (and HTTP connection pool) per issuer, as the wiring caches it; InExchange issuers
        are registered as clients on first use, with a client token created from the partner key."""
        if issuer.id not in self.operators:
            if issuer.operator_provider == "inexchange":
                token = inexchange_client_token(self.operator_url, issuer.id)
                self.operators[issuer.id] = InExchangeOperator(self.operator_url, token, timeout=0.5)
            else:
                self.operators[issuer.id] = MaventaOperator(self.operator_url, credentials(), timeout=0.5)
        return self.operators[issuer.id]

    def add(self, issuer: Issuer, invoice: Invoice) -> None:
        if issuer.id not in self.known_issuers:  # listing issuers per invoice made big soaks crawl
            self.issuers.put(issuer)
            self.known_issuers.add(issuer.id)
        if invoice.einvoice_key:
            self.documents.put(invoice.einvoice_key, ubl_for(invoice), "application/xml")
        self.documents.put(invoice.pdf_key or "", PDF, "application/pdf")
        self.invoices.put(invoice)

    def services(self, **changes: Any) -> DispatchServices:
        """This stack's adapters as the dispatch bundle (the source as imported); `changes` replaces some."""
        services = DispatchServices(
            invoices=self.invoices,
            issuers=self.issuers,
            ledger=self.ledger,
            documents=self.documents,
            operator_for=self.operator_for,
            mailer=self.mailer,
            fresh_look=source_as_imported,
            render_queue=self.render_queue,
            sending_lease=LEASE,
        )
        return replace(services, **changes)

    def dispatch(self, invoice_id: str, version: int = 1) -> Delivery | None:
        """One dispatch message through the real service, on this stack's adapters."""
        return dispatch_invoice(invoice_id, version, self.services())


@pytest.fixture
def stack(aws, operator_url: str) -> Stack:  # type: ignore[no-untyped-def]
    return Stack(
        invoices=DynamoInvoiceRepository(TABLE),
        issuers=DynamoIssuers(TABLE),
        ledger=DynamoDeliveryLedger(TABLE),
        documents=S3DocumentStore(BUCKET),
        mailer=SesMailer(SENDER),
        operator_url=operator_url,
    )


# --- SES as strict as the real one: scripted refusals, lost answers, no kind retries -----------------


@pytest.fixture(scope="session")
def ses_server():  # type: ignore[no-untyped-def]
    """A moto server whose SendEmail answers can be scripted (sandbox.moto_server.SesFaults). It shares
    moto's backends with `mock_aws`, so identities verified there and mails it sends are the same."""
    from sandbox.moto_server import AtomicMotoServer

    server = AtomicMotoServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def strict_ses(ses_server, stack: Stack, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """SES v2 calls of this test go to `ses_server` (everything else stays on mock_aws); the stack's
    mailer waits 1 s for an answer. Yields the server's SesFaults."""
    from invoice_bridge.adapters.aws import reset_clients

    monkeypatch.setenv("AWS_ENDPOINT_URL_SESV2", ses_server.endpoint_url)
    reset_clients()
    ses_server.ses_faults.reset()
    stack.mailer = SesMailer(SENDER, read_timeout=1.0)
    yield ses_server.ses_faults
    ses_server.ses_faults.reset()
    reset_clients()
