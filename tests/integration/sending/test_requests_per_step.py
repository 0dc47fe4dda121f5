"""What each step writes to DynamoDB for one invoice, counted at the botocore layer on moto (issue 15: a
lean path per invoice). Each write that goes together is one request; the history the office sees is the
same as when each was its own write."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from aws_requests import aws_requests
from invoice_bridge import wiring
from invoice_bridge.adapters.dynamo_budget import dynamo_request_budget
from invoice_bridge.adapters.dynamo_sync import DynamoDecisionStore
from invoice_bridge.adapters.spiris_api import HttpSpirisApi
from invoice_bridge.adapters.sqs_queue import SqsWorkQueue
from invoice_bridge.dispatch.fresh_look import SpirisSourceCheck
from invoice_bridge.fetch.sync import SyncResult, SyncServices, sync_integration
from invoice_bridge.models.delivery import DeliveryState
from invoice_bridge.models.integration import IntegrationStatus
from invoice_bridge.models.invoice import AWAITING_APPROVAL, InvoiceEvent
from invoice_bridge.ports import InvoicePage
from lambda_functions import FunctionContext, batch_event, cold_start
from sending_support import (
    INTEGRATION_ID,
    TABLE,
    World,
    credit_note_fields,
    drain,
    mails_to,
)

from sandbox.onboarding import logo_png


@pytest.mark.parametrize("archive_source_pdf", [True, False])
def test_a_new_invoice_is_imported_with_its_source_link_and_first_events_in_one_write(
    world: World, archive_source_pdf: bool
) -> None:
    """An issuer that archives Spiris' PDF: here the sandbox's PDF link is not on an allowed origin, so the
    import has two events. One that does not (the default) reads no PDF: one event, nothing put in S3."""
    world.settings(archive_source_pdf=archive_source_pdf)
    source = world.company.add(3001)
    with aws_requests() as requests:
        world.sync()
    assert requests.dynamodb_writes("INVOICE/INVOICE", "SOURCE/SOURCE") == [
        ("TransactWriteItems", ("INVOICE/INVOICE", "SOURCE/SOURCE"))
    ]
    shown = world.shown(world.ours(source.Id))
    unavailable = ("source_pdf_unavailable", "the source PDF could not be archived (SpirisFileRefused)")
    assert sorted((e["status"], e["detail"]) for e in shown["events"]) == [
        ("queued", "fetched from Spiris"), *([unavailable] if archive_source_pdf else [])]
    if not archive_source_pdf:
        assert requests.of("s3") == []
    assert world.invoices.find_by_source("issuer-1", source.Id) is not None  # the link is there


def test_an_invoice_imported_twice_keeps_the_first_and_writes_nothing_of_the_second(world: World) -> None:
    """A duplicate sync message run at the same time: the second import finds the invoice there and
    writes no second event."""
    source = world.company.add(3002)
    world.sync()
    invoice = world.invoices.get(world.ours(source.Id))
    events = world.invoices.events(invoice.id)
    duplicate = invoice.model_copy(update={"number": "other"})
    assert world.invoices.create(duplicate, events=[InvoiceEvent(status="queued", detail="again")]) is False
    assert world.invoices.get(invoice.id).number == invoice.number
    assert world.invoices.events(invoice.id) == events


def test_an_e_mail_dispatch_writes_the_outcome_and_the_invoice_status_in_one_request(world: World) -> None:
    source = world.company.add(3003)
    world.sync()
    assert world.render() == ["rendered"]
    [message] = world.dispatch_messages()
    with aws_requests() as requests:
        delivery = world.dispatch(message)
    assert delivery is not None and delivery.state == DeliveryState.SENT
    assert requests.dynamodb_writes() == [
        # after the fresh look, the claim with the intent: the delivery recorded `sending`, the invoice
        # `sending` with its event, one write before the call
        ("TransactWriteItems", ("INVOICE/DELIVERY", "INVOICE/INVOICE")),
        # the outcome: the delivery sent with its SES message lookup, the invoice sent with its event
        ("TransactWriteItems", ("INVOICE/DELIVERY", "INVOICE/INVOICE", "SESMSG/SESMSG")),
    ]
    shown = world.shown(world.ours(source.Id))
    assert shown["status"] == "sent"
    assert [(e["status"], e["detail"]) for e in shown["events"]][-2:] == [
        ("sending", "sending by email"), ("sent", "sent by email")
    ]


def test_a_sync_reads_its_integration_once_and_writes_its_watermark_on_that_copy(world: World) -> None:
    world.company.add(3004)
    with aws_requests() as requests:
        world.sync()
    integration_requests = [op for op, kinds in requests.of("dynamodb") if "INTEGRATION/INTEGRATION" in kinds]
    assert integration_requests == ["BatchGetItem", "PutItem"]  # read with its issuer


class PausedWhileReading(HttpSpirisApi):
    """The office pauses the integration while the sync reads Spiris (a real client, one hook)."""

    def __init__(self, world: World) -> None:
        super().__init__(world.company.url, lambda: str(world.company.tokens["access_token"]), sleep=lambda _s: None)
        self.world = world

    def iter_customer_invoices(self, modified_since: datetime | None) -> Iterator[InvoicePage]:
        integration = self.world.integrations.get(INTEGRATION_ID)
        self.world.integrations.put(integration.model_copy(update={"status": IntegrationStatus.PAUSED}))
        yield from super().iter_customer_invoices(modified_since)


def test_a_change_to_the_integration_during_the_sync_is_kept(world: World) -> None:
    """The watermark is written on the copy read at the start; a pause made meanwhile makes that write
    lose, and the sync's fields go on the integration as it is now."""
    world.company.add(3005)
    services = SyncServices(
        integrations=world.integrations, issuers=world.issuers, invoices=world.invoices,
        decisions=DynamoDecisionStore(TABLE), spiris_for=lambda _integration: PausedWhileReading(world),
        render_queue=SqsWorkQueue(world.render_queue_url), documents=world.documents,
    )
    result = sync_integration(INTEGRATION_ID, services, now=datetime.now(UTC))
    stored = world.integrations.get(INTEGRATION_ID)
    assert stored.status == IntegrationStatus.PAUSED
    assert stored.watermark == result.watermark and stored.last_success_at is not None


# --- what a batch reads once (Lambda hands render up to 5 messages, dispatch up to 10) ----------------


def logo(world: World) -> None:
    world.documents.put("issuer-1/logo.png", logo_png(), "image/png")
    world.settings(logo_key="issuer-1/logo.png", logo_content_type="image/png")


def test_a_render_batch_reads_its_invoices_in_one_request_and_the_issuer_and_its_logo_once(world: World) -> None:
    logo(world)
    for number in (3101, 3102, 3103):
        world.company.add(number)
    world.sync()
    render = cold_start("render")
    with aws_requests() as requests:
        assert render.lambda_handler(batch_event(world.render_queue_url, 5), FunctionContext()) == {
            "batchItemFailures": []}
    # The three invoices with the issuer their messages name in one consistent BatchGetItem
    # (batch_invoices.py), none on its own.
    assert requests.batch_gets() == [Counter({"INVOICE/INVOICE": 3, "ISSUER/ISSUER": 1})]
    assert requests.gets() == Counter()
    assert requests.of("s3").count(("GetObject", ())) == 1  # the logo, printed on each of the three PDFs
    assert len(world.dispatch_messages()) == 3  # all rendered and handed on


def test_the_next_render_batch_reads_the_issuer_again(world: World) -> None:
    """Nothing of a batch's issuer outlives its invocation: a setting the office changes between two
    batches holds for the next one."""
    render = cold_start("render")
    world.company.add(3111)
    world.sync()
    render.lambda_handler(batch_event(world.render_queue_url), FunctionContext())
    world.settings(sending="approve")
    source = world.company.add(3112)
    world.sync()
    render.lambda_handler(batch_event(world.render_queue_url), FunctionContext())
    assert world.invoices.get(world.ours(source.Id)).status_reason == AWAITING_APPROVAL
    assert len(world.dispatch_messages()) == 1  # the first invoice's only



def test_a_dispatch_batch_reads_its_invoices_in_one_request_and_the_issuer_and_the_integration_once(
    world: World,
) -> None:
    """Three e-mail invoices of one issuer in one batch: the invoices, with the issuer and the integration
    their messages name, in one request; the fresh look still reads Spiris for every invoice, right before
    its intent."""
    logo(world)
    for number in (3201, 3202, 3203):
        world.company.add(number)
    world.sync()
    assert world.render() == ["rendered"] * 3
    dispatch = cold_start("dispatch")
    with wiring.override(dispatch_services=world.dispatch_services()), aws_requests() as requests:
        assert dispatch.lambda_handler(batch_event(world.dispatch_queue_url), FunctionContext()) == {
            "batchItemFailures": []}
    assert requests.batch_gets() == [
        Counter({"INVOICE/INVOICE": 3, "ISSUER/ISSUER": 1, "INTEGRATION/INTEGRATION": 1})]
    assert requests.gets() == Counter()
    assert requests.of("s3").count(("GetObject", ())) == 3  # each PDF once; the e-mail carries no logo
    assert [mail["Subject"] is not None for mail in mails_to("@")] == [True] * 3
    # Per invoice two writes, all to the invoice, its delivery and (once sent) its SES message lookup: the
    # claim with the intent (the lease against a duplicate in flight), sent. No idempotency record
    # besides (issue 15: Powertools' PutItem and UpdateItem, keyed `id`, are gone).
    writes = requests.dynamodb_writes()
    assert Counter(op for op, _kinds in writes) == Counter({"TransactWriteItems": 6})
    assert all(kinds and {kind.split("/")[0] for kind in kinds} <= {"INVOICE", "SESMSG"} for _op, kinds in writes)
    # The next batch (invocation) reads the integration again: an integration changed meanwhile is seen.
    world.company.add(3204)
    world.sync()
    assert world.render() == ["rendered"]
    with wiring.override(dispatch_services=world.dispatch_services()), aws_requests() as requests:
        dispatch.lambda_handler(batch_event(world.dispatch_queue_url), FunctionContext())
    assert [read["INTEGRATION/INTEGRATION"] for read in requests.batch_gets()] == [1]


# --- the sync's reads: a page's decisions and source links at once, not two reads per invoice ------------

DECISION, LINK, INVOICE = "INTEGRATION/DECISION", "SOURCE/SOURCE", "INVOICE/INVOICE"
# What every sync reads first, in one request: the integration and the issuer its message names.
START = Counter({"INTEGRATION/INTEGRATION": 1, "ISSUER/ISSUER": 1})


def test_a_sync_reads_a_pages_decisions_and_source_links_in_one_request_each(world: World) -> None:
    for number in range(3100, 3120):
        world.company.add(number)
    with aws_requests() as requests:
        result = world.sync()
    assert result.imported == result.seen == 20
    assert requests.batch_gets() == [START, Counter({DECISION: 20}), Counter({LINK: 20})]
    assert not {DECISION, LINK, INVOICE} & set(requests.gets())  # nothing read per invoice


def test_a_re_read_of_versions_already_decided_reads_their_decisions_only(world: World) -> None:
    """The overlap window of the next sync lists them again: no link, no invoice is read."""
    for number in range(3200, 3220):
        world.company.add(number)
    world.sync()
    with aws_requests() as requests:
        result = world.sync()
    assert result.unchanged == result.seen == 20
    assert requests.batch_gets() == [START, Counter({DECISION: 20})]
    assert not {DECISION, LINK, INVOICE} & set(requests.gets())


def test_changed_invoices_are_read_alone_and_only_they(world: World) -> None:
    sources = [world.company.add(number) for number in range(3300, 3310)]
    world.sync()
    for changed in sources[:2]:
        world.company.change(changed.Id, YourReference="Projekt 7")
    with aws_requests() as requests:
        result = world.sync()
    assert (result.new_versions, result.unchanged) == (2, 8)
    assert requests.batch_gets() == [START, Counter({DECISION: 10}), Counter({LINK: 2})]
    assert requests.gets()[INVOICE] == 2 and not {DECISION, LINK} & set(requests.gets())


def test_a_credit_notes_original_is_found_through_the_links_read_with_the_page(world: World) -> None:
    original = world.company.add(3401)
    world.sync()
    world.company.add(53401, IsCreditInvoice=True, ReferringInvoiceId=original.Id, **credit_note_fields())
    with aws_requests() as requests:
        result = world.sync()
    assert (result.seen, result.reasons) == (2, {"credit_of_unsent_original": 1})  # decided on its original
    assert requests.batch_gets() == [START, Counter({DECISION: 2}), Counter({LINK: 2})]  # the credit note's and the original's
    assert requests.gets()[INVOICE] == 1 and not {DECISION, LINK} & set(requests.gets())  # the original


# --- the sync's hand-offs: a page's render messages in SendMessageBatch requests, not one request each ------


def test_a_sync_hands_a_pages_invoices_on_to_render_ten_to_a_request(world: World) -> None:
    """25 new invoices on one page: 3 SQS requests (0.12 per invoice, where one SendMessage each was 1)."""
    sources = [world.company.add(number) for number in range(3600, 3625)]
    with aws_requests() as requests:
        result = world.sync()
    assert result.imported == 25
    assert requests.of("sqs") == [("SendMessageBatch", ())] * 3
    assert sorted(m["invoice_id"] for m in drain(world.render_queue_url)) == sorted(world.ours(s.Id) for s in sources)
    # Each decision is written after its message went out (a decision says "handled"), and each full request
    # goes out as soon as it is full (render need not wait for the page); the decisions of the page's new
    # versions in one write at its end (25 to a BatchWriteItem).
    sends_and_decisions = [name for name, kinds in requests.sent
                           if name.startswith("sqs.") or (name != "dynamodb.BatchGetItem" and DECISION in kinds)]
    assert sends_and_decisions == ["sqs.SendMessageBatch"] * 3 + ["dynamodb.BatchWriteItem"]


def test_a_sync_writes_one_request_per_new_invoice_and_its_decisions_with_their_render_request(world: World) -> None:
    """Per imported invoice, one write: the invoice with its link and first events (one transaction). Its
    decision, still written after its render message went out, goes with the page's other new versions in
    one BatchWriteItem at the page's end (was an UpdateItem per invoice: 2.05 DynamoDB writes per invoice,
    then one BatchWriteItem per SendMessageBatch: 1.1, now 1.05)."""
    sources = [world.company.add(number) for number in range(3700, 3720)]
    with aws_requests() as requests:
        result = world.sync()
    assert result.imported == 20
    one_import, twenty_decisions = ("TransactWriteItems", (INVOICE, LINK)), ("BatchWriteItem", (DECISION,) * 20)
    assert requests.dynamodb_writes(DECISION, LINK, INVOICE) == [one_import] * 20 + [twenty_decisions]
    assert Counter(name for name, _ in requests.sent) == Counter({
        "dynamodb.TransactWriteItems": 20,  # each import
        "dynamodb.BatchWriteItem": 1, "sqs.SendMessageBatch": 2,  # the decisions; render messages, ten a request
        # the integration with the issuer; the page's decisions; its source links
        "dynamodb.BatchGetItem": 3,
        "dynamodb.PutItem": 1,  # the watermark
    })
    decisions = DynamoDecisionStore(TABLE).get_many(INTEGRATION_ID, [s.Id for s in sources])
    assert {(d.selected, d.reason, d.invoice_id) for d in decisions.values()} == {
        (True, "selected", world.ours(s.Id)) for s in sources}


def test_a_later_decision_on_a_source_invoice_keeps_its_first_sync_entry(world: World) -> None:
    """A source invoice decided before is decided again by an update: its reconciliation entry (the first
    sync's decision) stays. Here the first sync's decision is written with the page's new versions."""
    integration = world.integrations.get(INTEGRATION_ID)
    world.integrations.put(integration.model_copy(update={"first_sync_done": False}))
    source = world.company.add(3801)
    world.sync()
    world.company.change(source.Id, YourReference="Projekt 7")
    with aws_requests() as requests:
        assert world.sync().new_versions == 1
    assert [op for op, _ in requests.dynamodb_writes(DECISION)] == ["UpdateItem"]
    store = DynamoDecisionStore(TABLE)
    [first] = store.reconciliation(INTEGRATION_ID)
    [latest] = store.latest(INTEGRATION_ID)
    assert first.invoice_id == latest.invoice_id == world.ours(source.Id)
    assert first.source_modified_utc is not None and latest.source_modified_utc is not None
    assert first.source_modified_utc < latest.source_modified_utc


class DuplicateSyncMidPage(HttpSpirisApi):
    """A duplicate sync message runs to its end while this sync is in the middle of its page (at its first
    source PDF): what this sync read ahead of the page is stale for every invoice it has not handled yet."""

    def __init__(self, world: World) -> None:
        super().__init__(world.company.url, lambda: str(world.company.tokens["access_token"]), sleep=lambda _s: None)
        self.world = world
        self.duplicate: SyncResult | None = None

    def customer_invoice_pdf(self, invoice_id: str) -> bytes:
        if self.duplicate is None:
            self.duplicate = self.world.sync()
        return super().customer_invoice_pdf(invoice_id)


def test_a_duplicate_sync_run_meanwhile_makes_nothing_twice_though_the_page_was_read_before_it(world: World) -> None:
    """Every import the stale read lets through is the conditional create, which finds the invoice there.
    (The issuer archives Spiris' PDFs: the duplicate runs at the first.)"""
    world.settings(archive_source_pdf=True)
    sources = [world.company.add(number) for number in range(3500, 3505)]
    spiris = DuplicateSyncMidPage(world)
    services = SyncServices(
        integrations=world.integrations, issuers=world.issuers, invoices=world.invoices,
        decisions=DynamoDecisionStore(TABLE), spiris_for=lambda _integration: spiris,
        render_queue=SqsWorkQueue(world.render_queue_url), documents=world.documents,
    )
    result = sync_integration(INTEGRATION_ID, services, now=datetime.now(UTC))
    assert spiris.duplicate is not None and spiris.duplicate.imported == 5
    assert (result.imported, result.unchanged) == (0, 5)
    for source in sources:
        invoice = world.invoices.get(world.ours(source.Id))
        assert (invoice.version, invoice.status) == (1, "queued")
        assert sorted(e.status for e in world.invoices.events(invoice.id)) == ["queued", "source_pdf_unavailable"]
    decisions = DynamoDecisionStore(TABLE).get_many(INTEGRATION_ID, [s.Id for s in sources])
    assert {d.invoice_id for d in decisions.values()} == {world.ours(s.Id) for s in sources}


def test_a_dispatch_batch_takes_its_fresh_looks_budget_in_one_counter_write(world: World) -> None:
    """The batch announces its looks to the shared request budget: one block for five looks, one counter
    write, where a growing series of blocks (1, 1, 2, 4) took four."""
    for number in range(3301, 3306):
        world.company.add(number)
    world.sync()
    assert world.render() == ["rendered"] * 5
    budget = dynamo_request_budget(TABLE, 600)
    services = world.dispatch_services()
    look = SpirisSourceCheck(world.integrations, lambda _integration: world.company.api(
        max_attempts=1, before_request=budget.before_request, expect_requests=budget.expect), office=None)
    dispatch = cold_start("dispatch")
    with wiring.override(dispatch_services=replace(services, fresh_look=look)), aws_requests() as requests:
        assert dispatch.lambda_handler(batch_event(world.dispatch_queue_url), FunctionContext()) == {
            "batchItemFailures": []}
    assert len(mails_to("@")) == 5
    assert requests.dynamodb_writes("BUDGET/MINUTE") == [("UpdateItem", ("BUDGET/MINUTE",))]
