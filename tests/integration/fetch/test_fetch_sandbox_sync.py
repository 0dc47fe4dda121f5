"""Sync against the Spiris sandbox over real HTTP, with the real adapters on moto (DynamoDB, S3, SQS)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
import httpx
import pytest
from aws_requests import aws_requests
from fetch_doubles import ListQueue, MemoryDecisions, MemoryIntegrations, MemoryInvoices
from fetch_support import BUCKET, TABLE, Aws, call_admin
from invoice_bridge.adapters.dynamo_budget import dynamo_request_budget
from invoice_bridge.adapters.dynamo_integrations import DynamoIntegrations
from invoice_bridge.adapters.dynamo_invoices import DynamoInvoiceRepository
from invoice_bridge.adapters.dynamo_issuers import DynamoIssuers
from invoice_bridge.adapters.dynamo_sync import DynamoDecisionStore
from invoice_bridge.adapters.s3_documents import S3DocumentStore
from invoice_bridge.adapters.spiris_api import HttpSpirisApi
from invoice_bridge.adapters.sqs_queue import SqsWorkQueue
from invoice_bridge.dispatch.notify import FailureNotifier
from invoice_bridge.fetch.sync import SyncServices, sync_integration
from invoice_bridge.mapping import invoice_id_for
from invoice_bridge.models.integration import Integration, IntegrationStatus
from invoice_bridge.models.invoice import InvoiceStatus
from invoice_bridge.models.issuer import Address, Issuer
from port_doubles import MemoryIssuers, RecordingMailer
from spiris_sandbox_flow import Seed, connect, seed
from spiris_source import CUSTOMER
from spiris_source import invoice_body as invoice

from sandbox.spiris.jsonutil import dumps

# The consent made the integration active on 2026-10-01: older invoices wait for the office.
ACTIVATED_AT = datetime(2026, 10, 1, 7, 0, tzinfo=UTC)
EMPTY_GUID = "00000000-0000-0000-0000-000000000000"


def post(client: httpx.Client, path: str, body: Any) -> Any:
    response = client.post(path, content=dumps(body), headers={"Content-Type": "application/json"})
    assert response.status_code == 201, response.text
    return response.json()


def issuer_and_integration(
    *, status: IntegrationStatus = IntegrationStatus.ACTIVE
) -> tuple[Issuer, Integration]:
    issuer = Issuer(
        id="issuer-1",
        name="Exempelbolaget AB",
        org_number="5561234567",
        address=Address(street="Exempelvägen 2", postal_code="22233", city="Lund"),
        notification_email="ekonomi@exempel.se",
        bankgiro="1234566",
    )
    integration = Integration(
        id="int-1", issuer_id=issuer.id, contact_name="Anna", contact_email="anna@exempel.se", status=status,
        activated_at=ACTIVATED_AT,
    )
    return issuer, integration


@pytest.fixture
def company(sandbox: httpx.Client) -> Iterator[tuple[str, str, str]]:
    """A connected sandbox company with one customer: (company id, customer id, access token)."""
    seeded = seed(sandbox)
    tokens = connect(sandbox, seeded)
    customer_id = post(sandbox, f"/_sandbox/companies/{seeded.company_id}/customers", CUSTOMER)["id"]
    yield seeded.company_id, customer_id, tokens["access_token"]


def test_the_selection_matrix_company_end_to_end(aws: Aws, sandbox: httpx.Client, company, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    company_id, customer_id, token = company
    cases = {
        "booked unpaid": (invoice(1001, customer_id), True, "selected"),
        "paid": (invoice(1002, customer_id, PaymentStatus=0, RemainingAmount=0), False, "paid"),
        "partly paid": (invoice(1003, customer_id, RemainingAmount=Decimal("500.00")), True, "selected"),
        "overdue": (invoice(1004, customer_id, PaymentStatus=2), True, "selected"),
        "sold to factoring": (
            invoice(1005, customer_id, IsSold=True, FactoringInvoiceStatus=4),
            False,
            "sold_to_factoring",
        ),
        "SendType 1": (invoice(1006, customer_id, SendType=1), False, "sent_by_autoinvoice_electronic"),
        "SendType 2": (invoice(1007, customer_id, SendType=2), False, "sent_by_autoinvoice_print"),
        "SendType 4": (invoice(1008, customer_id, SendType=4), False, "sent_by_kivra"),
        "foreign currency": (
            invoice(1009, customer_id, CurrencyCode="EUR", CurrencyRate=Decimal("11.5"),
                    TotalAmount=Decimal("14375.00"), TotalVatAmount=Decimal("2875.00")),
            True,
            "selected",
        ),
        "payment reminder issued": (
            invoice(1011, customer_id, PaymentReminderIssued=True, PaymentRemindersCount=1),
            False,
            "payment_reminder_issued",
        ),
        "quick invoice": (invoice(1012, customer_id, IsQuickInvoice=True), False, "quick_invoice"),
        "empty voucher": (invoice(1013, customer_id, VoucherId=EMPTY_GUID), False, "voucher_missing"),
        "dated before activation": (
            invoice(1014, customer_id, InvoiceDate="2026-09-15T00:00:00"),
            True,
            "dated_before_activation",
        ),
    }
    ids = post(sandbox, f"/_sandbox/companies/{company_id}/customerinvoices", [c[0] for c in cases.values()])[
        "ids"
    ]
    by_name = dict(zip(cases, ids, strict=True))
    original_id = by_name["booked unpaid"]
    credit_id = post(
        sandbox,
        f"/_sandbox/companies/{company_id}/customerinvoices",
        invoice(
            1010,
            customer_id,
            IsCreditInvoice=True,
            ReferringInvoiceId=by_name["paid"],
            TotalAmount=Decimal("-1250.00"),
            RemainingAmount=Decimal("-1250.00"),
        ),
    )["id"]
    post(
        sandbox,
        f"/_sandbox/companies/{company_id}/customerinvoicedrafts",
        invoice(0, customer_id, InvoiceNumber=None),
    )

    issuer, integration = issuer_and_integration()
    DynamoIssuers(TABLE).put(issuer.model_copy(update={"archive_source_pdf": True}))  # its PDF is checked below
    integrations = DynamoIntegrations(TABLE)
    integrations.put(integration)
    invoices = DynamoInvoiceRepository(TABLE)
    budget = dynamo_request_budget(TABLE, 600)
    spiris = HttpSpirisApi(
        str(sandbox.base_url),
        lambda: token,
        before_request=budget.before_request,
        sleep=lambda s: None,
        file_origins=(str(sandbox.base_url).rstrip("/"),),  # the sandbox serves its files itself
    )

    def sync() -> Any:
        return sync_integration(
            "int-1",
            SyncServices(
                integrations=integrations,
                issuers=DynamoIssuers(TABLE),
                invoices=invoices,
                decisions=DynamoDecisionStore(TABLE),
                spiris_for=lambda _integration: spiris,
                render_queue=SqsWorkQueue(aws.render_queue_url),
                documents=S3DocumentStore(BUCKET),
            ),
            now=datetime.now(UTC),
        )

    result = sync()

    selected = {name for name, (_, chosen, _) in cases.items() if chosen}
    rendered = aws.drain(aws.render_queue_url)
    assert {m["invoice_id"] for m in rendered} == {invoice_id_for("issuer-1", by_name[n]) for n in selected}
    assert result.seen == 14 and result.imported == 5
    ours = invoices.find_by_source("issuer-1", original_id)
    assert ours is not None and ours.hold is True and ours.buyer.org_number == "5560360793"
    assert ours.gross_total == Decimal("1250.00")
    pdf = boto3.client("s3").get_object(Bucket=BUCKET, Key=ours.source_pdf_key)["Body"].read()
    assert pdf.startswith(b"%PDF")

    status, body = call_admin("GET", "/integrations/int-1/reconciliation")
    assert status == 200 and body["first_sync_done"] is True
    listed = {item["source_id"]: (item["selected"], item["reason"]) for item in body["items"]}
    expected = {by_name[name]: (chosen, reason) for name, (_, chosen, reason) in cases.items()}
    expected[credit_id] = (False, "credit_of_unsent_original")
    assert listed == expected  # every source invoice, with its reason; the draft never appears
    assert (body["selected"], body["skipped"]) == (5, 9)
    older = next(item for item in body["items"] if item["source_id"] == by_name["dated before activation"])
    assert older["detail"] == "invoice date 2026-09-15 is before the integration became active on 2026-10-01"
    held_for_the_office(aws, invoices, by_name["dated before activation"], monkeypatch)

    # An idle poll: one request, nothing handed on.
    before = sandbox.get("/_sandbox/stats").json()["requests"]
    sync()
    after = sandbox.get("/_sandbox/stats").json()["requests"]
    spent = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    assert spent == {"GET /v2/customerinvoices": 1}
    assert aws.drain(aws.render_queue_url) == []

    # Paid at the source before dispatch: cancelled with an event.
    sandbox.patch(
        f"/_sandbox/companies/{company_id}/customerinvoices/{original_id}",
        json={"PaymentStatus": 0, "RemainingAmount": 0},
    )
    sync()
    cancelled = invoices.find_by_source("issuer-1", original_id)
    assert (cancelled.status, cancelled.status_reason) == (InvoiceStatus.CANCELLED, "paid")
    assert invoices.events(cancelled.id)[-1].status == "cancelled"


def budget_slots_taken() -> dict[str, int]:
    """The shared Spiris budget's slots taken, by endpoint (all windows)."""
    items = boto3.resource("dynamodb").Table(TABLE).scan()["Items"]
    taken: dict[str, int] = {}
    for item in items:
        if str(item["PK"]).startswith("BUDGET#"):
            endpoint = str(item["PK"]).removeprefix("BUDGET#")
            taken[endpoint] = taken.get(endpoint, 0) + int(item["count"])
    return taken


@pytest.mark.parametrize("archive_source_pdf", [True, False])
def test_a_sync_takes_a_pages_spiris_budget_in_one_counter_write_per_endpoint(  # type: ignore[no-untyped-def]
    aws: Aws, sandbox: httpx.Client, company, archive_source_pdf: bool
) -> None:
    """Five new invoices of one customer: the list, the customer and, when the issuer archives them, the
    five source PDFs each take their slots of the shared budget in one write (the PDFs took four, in blocks
    of 1, 1, 2 and 4): 3 writes, not 6. Not archived (the default): no PDF is read, reserved or stored."""
    company_id, customer_id, token = company
    post(sandbox, f"/_sandbox/companies/{company_id}/customerinvoices", [invoice(n, customer_id) for n in range(1101, 1106)])
    issuer, integration = issuer_and_integration()
    DynamoIssuers(TABLE).put(issuer.model_copy(update={"archive_source_pdf": archive_source_pdf}))
    DynamoIntegrations(TABLE).put(integration)
    budget = dynamo_request_budget(TABLE, 600)
    spiris = HttpSpirisApi(str(sandbox.base_url), lambda: token, before_request=budget.before_request,
                           expect_requests=budget.expect, sleep=lambda s: None,
                           file_origins=(str(sandbox.base_url).rstrip("/"),))
    services = SyncServices(
        integrations=DynamoIntegrations(TABLE), issuers=DynamoIssuers(TABLE), invoices=DynamoInvoiceRepository(TABLE),
        decisions=DynamoDecisionStore(TABLE), spiris_for=lambda _integration: spiris,
        render_queue=SqsWorkQueue(aws.render_queue_url), documents=S3DocumentStore(BUCKET),
    )
    with aws_requests() as requests:
        assert sync_integration("int-1", services, now=datetime.now(UTC)).imported == 5
    budget_writes = [kinds for op, kinds in requests.dynamodb_writes("BUDGET/MINUTE")]
    pdfs = "/v2/customerinvoices/{invoice_id}/pdf"
    if archive_source_pdf:
        assert len(budget_writes) == 3
        assert budget_slots_taken()[pdfs] == 5
        assert requests.of("s3").count(("PutObject", ())) == 5  # the source PDFs, all archived
    else:
        assert len(budget_writes) == 2  # the list and the customer
        assert pdfs not in budget_slots_taken()  # no slot reserved for a PDF never read
        assert requests.of("s3") == []
        stored, _ = DynamoInvoiceRepository(TABLE).list(issuer_id="issuer-1")
        assert len(stored) == 5 and all(i.source_pdf_key is None for i in stored)


def held_for_the_office(
    aws: Aws, invoices: DynamoInvoiceRepository, source_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rendered, it stays held with its reason for the office (admin API), and goes out only when released."""
    from invoice_bridge import wiring
    from invoice_bridge.render.service import RenderServices, render_invoice

    invoice_id = invoice_id_for("issuer-1", source_id)
    dispatch_url = boto3.client("sqs").create_queue(QueueName="dispatch")["QueueUrl"]
    render_invoice(invoice_id, 1, RenderServices(invoices=invoices, issuers=DynamoIssuers(TABLE), documents=S3DocumentStore(BUCKET),
                                                 dispatch_queue=SqsWorkQueue(dispatch_url), notifier=FailureNotifier(RecordingMailer())))
    status, shown = call_admin("GET", f"/invoices/{invoice_id}")
    assert status == 200 and (shown["status"], shown["status_reason"]) == ("held", "dated_before_activation")
    assert aws.drain(dispatch_url) == []  # never out by itself
    monkeypatch.setenv("DISPATCH_QUEUE_URL", dispatch_url)
    wiring.reset()
    assert call_admin("POST", f"/invoices/{invoice_id}/release")[0] == 202
    assert [m["invoice_id"] for m in aws.drain(dispatch_url)] == [invoice_id]


def test_manual_sync_request_and_unknown_integration(aws: Aws) -> None:
    _, integration = issuer_and_integration()
    DynamoIntegrations(TABLE).put(integration)

    status, body = call_admin("POST", "/integrations/int-1/sync")
    assert status == 202 and body["integration_id"] == "int-1"
    assert aws.drain(aws.sync_queue_url) == [
        {"integration_id": "int-1", "issuer_id": integration.issuer_id, "reason": "manual"}]

    assert call_admin("POST", "/integrations/nope/sync")[0] == 404
    assert call_admin("GET", "/integrations/nope/reconciliation")[0] == 404


def test_2500_invoices_modified_while_paging_against_the_sandbox(sandbox: httpx.Client, company) -> None:  # type: ignore[no-untyped-def]
    company_id, customer_id, token = company
    ids = post(
        sandbox,
        f"/_sandbox/companies/{company_id}/customerinvoices",
        [invoice(10_000 + n, customer_id) for n in range(2_500)],
    )["ids"]
    victims = iter(ids[:40:2])
    pages_served = {"n": 0}

    def edit_while_paging(path: str) -> None:
        # Before each list page: edit one invoice that an earlier page already returned.
        if path == "/v2/customerinvoices":
            pages_served["n"] += 1
            victim = next(victims, None) if pages_served["n"] >= 2 else None
            if victim is not None:
                changed = sandbox.patch(
                    f"/_sandbox/companies/{company_id}/customerinvoices/{victim}",
                    json={"YourReference": f"edited before page {pages_served['n']}"},
                )
                assert changed.status_code == 200

    spiris = HttpSpirisApi(
        str(sandbox.base_url),
        lambda: token,
        before_request=edit_while_paging,
        page_size=100,
        sleep=lambda s: None,
    )
    issuer, integration = issuer_and_integration()
    invoices = MemoryInvoices()
    render = ListQueue()

    result = sync_integration(
        "int-1",
        SyncServices(
            integrations=MemoryIntegrations(integration),
            issuers=MemoryIssuers(issuer),
            invoices=invoices,
            decisions=MemoryDecisions(),
            spiris_for=lambda _integration: spiris,
            render_queue=render,
        ),
        now=datetime.now(UTC),
    )

    first_versions = [m["invoice_id"] for m in render.messages if m["version"] == 1]
    assert len(first_versions) == len(set(first_versions)) == 2_500  # each exactly once
    assert set(first_versions) == {invoice_id_for("issuer-1", i) for i in ids}  # 0 missing
    assert len(invoices.items) == 2_500
    assert result.passes >= 2  # the edits were noticed and the window read again
    edited = {invoice_id_for("issuer-1", i) for i in ids[:40:2]}
    assert {m["invoice_id"] for m in render.messages if m["version"] == 2} == edited


class LockedCounter:
    """DynamoMinuteCounter with each conditional update atomic, as DynamoDB makes it (moto does not
    serialise concurrent requests on one item; see test_fetch_budget_dynamo)."""

    def __init__(self) -> None:
        import threading

        from invoice_bridge.adapters.dynamo_budget import DynamoMinuteCounter

        self._inner = DynamoMinuteCounter(TABLE)
        self._lock = threading.Lock()

    def try_take(self, endpoint: str, minute: str, limit: int, expires_at: int, slots: int = 1) -> bool:
        with self._lock:
            return self._inner.try_take(endpoint, minute, limit, expires_at, slots)


def test_four_consumers_with_injected_faults_lose_no_page(aws: Aws, sandbox: httpx.Client) -> None:
    import threading

    from invoice_bridge.adapters.spiris_api import SpirisRetryable
    from invoice_bridge.fetch.budget import RequestBudget

    budget = RequestBudget(LockedCounter(), 600)
    consumers = []
    for n in range(4):
        # One company and one user per integration.
        company_id = post(
            sandbox,
            "/_sandbox/companies",
            {"name": f"Bolag {n} AB", "corporate_identity_number": "556123-4567", "modules": {"api": True}},
        )["id"]
        seeded = Seed(company_id, company_id, email=f"user{n}@example.se", password="pw")
        post(
            sandbox,
            "/_sandbox/users",
            {
                "email": seeded.email,
                "password": seeded.password,
                "companies": [company_id],
                "full_access": True,
            },
        )
        token = connect(sandbox, seeded)["access_token"]
        customer_id = post(sandbox, f"/_sandbox/companies/{seeded.company_id}/customers", CUSTOMER)["id"]
        ids = post(
            sandbox,
            f"/_sandbox/companies/{seeded.company_id}/customerinvoices",
            [invoice(20_000 + n * 1000 + k, customer_id) for k in range(300)],
        )["ids"]
        consumers.append((token, ids))
    assert sandbox.post("/_sandbox/faults", json={"rate_429": 0.10, "rate_5xx": 0.05}).status_code == 204

    outcomes: dict[int, tuple[set[str], list[str], int]] = {}

    def consume(n: int) -> None:
        token, _ = consumers[n]
        issuer, integration = issuer_and_integration()
        integrations, invoices, render = MemoryIntegrations(integration), MemoryInvoices(), ListQueue()
        decisions = MemoryDecisions()
        spiris = HttpSpirisApi(
            str(sandbox.base_url),
            lambda: token,
            before_request=budget.before_request,
            page_size=50,
            sleep=lambda s: None,
        )
        retries = 0
        while True:  # the SQS redelivery of a sync that ran out of client retries
            try:
                sync_integration(
                    "int-1",
                    SyncServices(
                        integrations=integrations,
                        issuers=MemoryIssuers(issuer),
                        invoices=invoices,
                        decisions=decisions,
                        spiris_for=lambda _integration: spiris,
                        render_queue=render,
                    ),
                    now=datetime.now(UTC),
                )
                break
            except SpirisRetryable:
                retries += 1
                assert retries < 20
        outcomes[n] = (
            {i.source_id for i in invoices.items.values()},
            [m["invoice_id"] for m in render.messages],
            retries,
        )

    threads = [threading.Thread(target=consume, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    for n, (_, ids) in enumerate(consumers):
        ingested, handed_on, _ = outcomes[n]
        assert ingested == set(ids)  # 0 pages lost
        assert len(handed_on) == len(set(handed_on)) == 300  # each exactly once
    stats = sandbox.get("/_sandbox/stats").json()
    assert all(count <= 600 for count in stats["max_requests_per_minute"].values())
    assert stats["requests"]["GET /v2/customerinvoices"] >= 4 * 6  # 6 pages of 50 each, plus the failed ones
