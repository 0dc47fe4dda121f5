"""The VAT case matrix: one invoice per case and a credit note of each, from the Spiris sandbox (real HTTP)
through sync and render (DynamoDB, S3 and SQS on moto) to the official validation.

For every document: 0 fatal and 0 warnings with every rule enforced (or, for a private person, no e-invoice
at all); the PDF says what the law asks (pdftotext); totals and VAT agree with Spiris to the öre, in the
invoice currency and in SEK where the invoice is in another currency (the sync's fidelity check parks none of
them, and the documents state Spiris' figures); a credit note mirrors its original.
"""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from typing import Any

import boto3
import httpx
from fetch_support import BUCKET, TABLE, Aws
from invoice_bridge.adapters.dynamo_budget import dynamo_request_budget
from invoice_bridge.adapters.dynamo_integrations import DynamoIntegrations
from invoice_bridge.adapters.dynamo_invoices import DynamoInvoiceRepository
from invoice_bridge.adapters.dynamo_issuers import DynamoIssuers
from invoice_bridge.adapters.dynamo_sync import DynamoDecisionStore
from invoice_bridge.adapters.s3_documents import S3DocumentStore
from invoice_bridge.adapters.spiris_api import HttpSpirisApi
from invoice_bridge.adapters.sqs_queue import SqsWorkQueue
from invoice_bridge.alerts import notify_invoice_parked
from invoice_bridge.dispatch.notify import FailureNotifier
from invoice_bridge.fetch.decisions import NotifyParked
from invoice_bridge.fetch.sync import SyncResult, SyncServices, sync_integration
from invoice_bridge.mapping import invoice_id_for
from invoice_bridge.models.integration import Integration, IntegrationStatus
from invoice_bridge.models.invoice import Invoice, InvoiceStatus
from invoice_bridge.models.issuer import Issuer
from invoice_bridge.render.numbers import format_amount
from invoice_bridge.render.service import RenderServices, render_invoice
from invoice_bridge.render.validation import validate_ubl
from port_doubles import RecordingMailer
from spiris_sandbox_flow import connect, seed

from sandbox.spiris.jsonutil import dumps
from sandbox.vat_cases import BY_NAME, CASES, CUSTOMERS, ISSUER, case_invoice

CBC = "{urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2}"
CAC = "{urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2}"
PRIVATE = {"rot", "rut"}


def post(client: httpx.Client, path: str, body: Any) -> Any:
    response = client.post(path, content=dumps(body), headers={"Content-Type": "application/json"})
    assert response.status_code == 201, response.text
    return response.json()


class Matrix:
    """The issuer's Spiris company in the sandbox and our side of it on moto."""

    def __init__(self, aws: Aws, sandbox: httpx.Client) -> None:
        seeded = seed(sandbox)
        token = connect(sandbox, seeded)["access_token"]
        self.sandbox, self.company = sandbox, seeded.company_id
        for customer in CUSTOMERS.values():
            post(sandbox, f"/_sandbox/companies/{self.company}/customers", customer)
        self.issuer = Issuer.model_validate({**ISSUER, "id": "issuer-1", "hold_first_sync": False})
        DynamoIssuers(TABLE).put(self.issuer)
        DynamoIntegrations(TABLE).put(Integration(
            id="int-1", issuer_id=self.issuer.id, contact_name="Anna", contact_email="anna@example.se",
            status=IntegrationStatus.ACTIVE, activated_at=datetime(2026, 10, 1, tzinfo=UTC)))
        self.invoices = DynamoInvoiceRepository(TABLE)
        self.decisions = DynamoDecisionStore(TABLE)
        self.documents = S3DocumentStore(BUCKET)
        self.spiris = HttpSpirisApi(str(sandbox.base_url), lambda: token,
                                    before_request=dynamo_request_budget(TABLE, 600).before_request,
                                    sleep=lambda s: None)
        self.aws = aws
        self.dispatch_queue = boto3.client("sqs").create_queue(QueueName="dispatch")["QueueUrl"]

    def add(self, sources: list[dict[str, Any]]) -> list[str]:
        return post(self.sandbox, f"/_sandbox/companies/{self.company}/customerinvoices", sources)["ids"]  # type: ignore[no-any-return]

    def sync_and_render(self, expected: int) -> dict[str, Invoice]:
        """One sync, which reconciles each of the `expected` new source invoices with what Spiris booked
        (parking any that disagree), then render of every version it handed on. Returns our invoices by
        source id."""
        result = self.sync()
        parked = {p.decision.invoice_number: p.decision.detail for p in self.decisions.parked(self.issuer.id)}
        assert (result.parked, parked, result.imported) == (0, {}, expected)  # every case agrees with Spiris
        return self.render()

    def sync(self, notify_parked: NotifyParked | None = None) -> SyncResult:
        services = SyncServices(integrations=DynamoIntegrations(TABLE), issuers=DynamoIssuers(TABLE),
                                invoices=self.invoices, decisions=self.decisions,
                                spiris_for=lambda _integration: self.spiris,
                                render_queue=SqsWorkQueue(self.aws.render_queue_url), documents=self.documents,
                                notify_parked=notify_parked)
        return sync_integration("int-1", services, now=datetime.now(UTC))

    def render(self) -> dict[str, Invoice]:
        """Render every version the syncs handed on; our invoices by source id."""
        rendered = {}
        for message in self.aws.drain(self.aws.render_queue_url):
            outcome = render_invoice(
                message["invoice_id"], message["version"],
                RenderServices(invoices=self.invoices, issuers=DynamoIssuers(TABLE), documents=self.documents,
                               dispatch_queue=SqsWorkQueue(self.dispatch_queue), notifier=FailureNotifier(RecordingMailer())))
            assert outcome.status == "rendered", (message, outcome.reasons)
            invoice = self.invoices.get(message["invoice_id"])
            rendered[invoice.source_id] = invoice
        return rendered

    def pdf_text(self, invoice: Invoice) -> str:
        pdf = self.documents.get(invoice.pdf_key or "")
        text = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
        return " ".join(text.split())

    def mark_sent(self, invoice: Invoice) -> None:
        """What dispatch records once the invoice went out: a credit invoice then follows its original."""
        self.invoices.put(invoice.model_copy(update={"status": InvoiceStatus.SENT}))


def on_pdf(amount: Decimal, currency: str, language: str) -> str:
    """An amount as the PDF prints it, with its whitespace as pdf_text leaves it."""
    return " ".join(f"{format_amount(amount, language)} {currency}".split())  # type: ignore[arg-type]


def _amount(root: ET.Element, path: str) -> tuple[Decimal, str]:
    element = root.find(path)
    assert element is not None and element.text is not None, path
    return Decimal(element.text), element.get("currencyID", "")


def check_document(matrix: Matrix, invoice: Invoice, source: dict[str, Any], case_name: str) -> None:
    """The e-invoice (or its absence), the PDF's legal wording and amounts, reconciled with the Spiris source."""
    sign = Decimal(-1) if source["IsCreditInvoice"] else Decimal(1)
    gross, vat = source["TotalAmountInvoiceCurrency"] * sign, source["TotalVatAmountInvoiceCurrency"] * sign
    text = matrix.pdf_text(invoice)
    language = invoice.language
    if case_name in PRIVATE:
        assert invoice.einvoice_key is None  # a private person is not offered an e-invoice
        reduction = source["RotReducedInvoicingAmount"] * sign
        assert on_pdf(gross - reduction, invoice.currency, language) in text  # what the buyer pays
    else:
        document = matrix.documents.get(invoice.einvoice_key or "")
        result = validate_ubl(document)
        assert result.fatal == [] and result.warnings == [], (case_name, result.summary(), result.warnings)
        root = ET.fromstring(document)
        assert _amount(root, f"{CAC}LegalMonetaryTotal/{CBC}PayableAmount") == (gross, invoice.currency)
        assert _amount(root, f"{CAC}TaxTotal/{CBC}TaxAmount") == (vat, invoice.currency)
        if invoice.currency != "SEK":
            sek = [t for t in root.findall(f"{CAC}TaxTotal") if t.find(f"{CAC}TaxSubtotal") is None]
            assert [_amount(t, f"{CBC}TaxAmount") for t in sek] == [(source["TotalVatAmount"] * sign, "SEK")]
        assert on_pdf(gross, invoice.currency, language) in text
    if invoice.currency != "SEK":
        assert on_pdf(source["TotalVatAmount"] * sign, "SEK", language) in text
    for wording in next(c for c in CASES if c.name == case_name).legal_wording:
        assert wording in text, (case_name, wording)


def test_every_vat_case_and_its_credit_note_from_spiris_to_a_valid_document(aws: Aws, sandbox: httpx.Client) -> None:
    matrix = Matrix(aws, sandbox)
    originals = [case_invoice(case, 2001 + n) for n, case in enumerate(CASES)]
    original_ids = matrix.add(originals)

    rendered = matrix.sync_and_render(len(originals))

    assert set(rendered) == set(original_ids)
    for case, source_id, source in zip(CASES, original_ids, originals, strict=True):
        check_document(matrix, rendered[source_id], source, case.name)
        matrix.mark_sent(rendered[source_id])

    stored = {source_id: {**source, "Id": source_id} for source_id, source in zip(original_ids, originals, strict=True)}
    credits = [case_invoice(case, 3001 + n, credit_of=stored[original_ids[n]]) for n, case in enumerate(CASES)]
    credit_ids = matrix.add(credits)

    credited = matrix.sync_and_render(len(credits))

    assert set(credited) == set(credit_ids)
    for n, (case, source_id, source) in enumerate(zip(CASES, credit_ids, credits, strict=True)):
        credit, original = credited[source_id], rendered[original_ids[n]]
        check_document(matrix, credit, source, case.name)
        assert (credit.document_type, credit.original_number) == ("credit_note", original.number)
        assert credit.id == invoice_id_for("issuer-1", source_id)
        categories = [(b.category, b.rate) for b in credit.vat_breakdown]
        assert categories == [(b.category, b.rate) for b in original.vat_breakdown]
        charged_again = Decimal("250.00") if case.name == "domestic_mixed" else Decimal(0)
        assert credit.net_total == original.net_total - charged_again
        if original.tax_reduction is not None:
            assert credit.tax_reduction == original.tax_reduction
        if credit.einvoice_key:
            root = ET.fromstring(matrix.documents.get(credit.einvoice_key))
            assert root.findtext(f"{CAC}BillingReference/{CAC}InvoiceDocumentReference/{CBC}ID") == original.number


def test_a_spiris_answer_whose_rows_do_not_add_up_to_its_total_is_parked_once_and_taken_when_corrected(
    aws: Aws, sandbox: httpx.Client
) -> None:
    """Spiris states a total that its own rows do not add up to (a malformed answer, or the invoice changed
    between its rows and its totals): ours, built from the rows, would not state what the issuer booked. The
    sync parks it with the difference, tells the issuer once and hands nothing to render; the corrected
    version in Spiris goes through."""
    matrix, mailer = Matrix(aws, sandbox), RecordingMailer()
    notify = partial(notify_invoice_parked, mailer=mailer, office_name="Byrån")
    booked = case_invoice(BY_NAME["domestic_25"], 2001)
    assert booked["TotalAmountInvoiceCurrency"] == Decimal("9750")
    [source_id] = matrix.add([booked | {"TotalAmountInvoiceCurrency": Decimal("9751")}])

    result = matrix.sync(notify)

    assert (result.parked, result.imported) == (1, 0) and matrix.aws.drain(matrix.aws.render_queue_url) == []
    assert matrix.invoices.find_by_source("issuer-1", source_id) is None
    [parked] = matrix.decisions.parked("issuer-1")
    assert (parked.decision.source_id, parked.decision.reason, parked.decision.notified) == (source_id, "fidelity", True)
    assert parked.decision.detail == "it does not agree with what Spiris booked: gross_total: ours 9750.00, source 9751.00"
    [notice] = mailer.sent
    assert "2001" in notice.subject and parked.decision.detail in notice.text
    assert "beloppen i Spiris går inte ihop" in notice.text  # not "could not read": it read, and disagrees

    again = matrix.sync(notify)  # the overlap re-reads the same version
    assert (again.parked, again.unchanged, len(mailer.sent)) == (0, 1, 1)
    assert matrix.aws.drain(matrix.aws.render_queue_url) == []

    matrix.sandbox.patch(f"/_sandbox/companies/{matrix.company}/customerinvoices/{source_id}",
                         content=dumps({"TotalAmountInvoiceCurrency": Decimal("9750")}).encode(),
                         headers={"Content-Type": "application/json"}).raise_for_status()
    corrected = matrix.sync(notify)

    assert (corrected.parked, corrected.imported, len(mailer.sent)) == (0, 1, 1)
    assert matrix.decisions.parked("issuer-1") == []
    invoice = matrix.render()[source_id]
    assert (invoice.status, invoice.gross_total) == (InvoiceStatus.RENDERED, Decimal("9750.00"))
