"""The invoices of one queue batch read together at its start (invoice_bridge/batch_invoices.py), on moto:
the first read of each is served from one consistent BatchGetItem, any later read of it reads the table
again, a missing invoice is NotFound for its own record only, and a batch read that fails leaves each
record to read its own invoice."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import botocore.handlers
import pytest
from aws_requests import aws_requests
from invoice_bridge import wiring
from invoice_bridge.adapters.aws import reset_clients
from invoice_bridge.adapters.dynamo_batch_reads import DynamoBatchReader
from invoice_bridge.batch_invoices import BatchFirstRead, BatchInvoices, BatchKeys
from invoice_bridge.batch_issuers import BatchIssuers
from invoice_bridge.models.invoice import InvoiceEvent, InvoiceStatus
from invoice_bridge.ports import NotFound
from lambda_functions import FunctionContext, batch_event, cold_start
from sending_support import INTEGRATION_ID, ISSUER_ID, TABLE, World, mails_to

from sandbox.iam.plugin import error_response

INVOICE = "INVOICE/INVOICE"
ISSUER = "ISSUER/ISSUER"
INTEGRATION = "INTEGRATION/INTEGRATION"


def _batch(world: World, *invoice_ids: str) -> BatchInvoices:
    return BatchInvoices(world.invoices, BatchFirstRead(world.invoices, BatchKeys(invoice_ids=invoice_ids)))


def _synced(world: World, *numbers: int) -> list[str]:
    """Our ids of new Spiris invoices, imported; their render messages wait on the render queue."""
    sources = [world.company.add(number) for number in numbers]
    world.sync()
    return [world.ours(source.Id) for source in sources]


def _send_render_message(world: World, invoice_id: str, version: int = 1) -> None:
    body = json.dumps({"invoice_id": invoice_id, "version": version})
    boto3.client("sqs").send_message(QueueUrl=world.render_queue_url, MessageBody=body)


@contextmanager
def batch_reads_refused() -> Iterator[None]:
    """Every BatchGetItem answered as AWS answers a role without dynamodb:BatchGetItem (AccessDenied)."""

    def refuse(model: Any, **_: Any) -> Any:
        return error_response(model, "not authorized to perform: dynamodb:BatchGetItem")

    handler = ("before-call.dynamodb.BatchGetItem", refuse)
    botocore.handlers.BUILTIN_HANDLERS.append(handler)
    reset_clients()
    try:
        yield
    finally:
        botocore.handlers.BUILTIN_HANDLERS.remove(handler)
        reset_clients()


def test_a_second_read_of_an_invoice_reads_the_table_and_sees_what_changed_meanwhile(world: World) -> None:
    """A re-read after a ConflictError must see the invoice as it is now, not as the batch began."""
    first, second = _synced(world, 4001, 4002)
    batch = _batch(world, first, second)
    with aws_requests() as requests:
        assert batch.get(first).status == InvoiceStatus.QUEUED
        # Another run moves it meanwhile (a cancellation by the sync, say).
        seen = world.invoices.get(first)
        world.invoices.transition(seen.model_copy(update={"status": InvoiceStatus.CANCELLED}), {"queued"},
                                  InvoiceEvent(status="cancelled", detail="cancelled in Spiris"))
        requests.clear()
        assert batch.get(first).status == InvoiceStatus.CANCELLED
        assert batch.get(second).status == InvoiceStatus.QUEUED  # still from the batch read
    assert requests.batch_gets() == [] and requests.gets() == Counter({INVOICE: 1})


def test_a_write_through_the_batch_drops_its_copy_of_that_invoice(world: World) -> None:
    first, second = _synced(world, 4011, 4012)
    batch = _batch(world, first, second)
    batch.get(first)
    stored = world.invoices.get(second)
    moved = stored.model_copy(update={"status": InvoiceStatus.CANCELLED})
    batch.transition(moved, {"queued"}, InvoiceEvent(status="cancelled", detail="cancelled"))
    with aws_requests() as requests:
        assert batch.get(second).status == InvoiceStatus.CANCELLED
    assert requests.gets() == Counter({INVOICE: 1})


def test_a_render_batch_with_a_duplicate_message_reads_the_invoice_again_for_the_duplicate(world: World) -> None:
    """SQS may deliver a message twice in one batch: the copy sees the invoice the first record rendered
    (it only hands it on again), not the batch read's `queued`, which would render it a second time."""
    (invoice_id,) = _synced(world, 4021)
    _send_render_message(world, invoice_id)
    render = cold_start("render")
    with aws_requests() as requests:
        assert render.lambda_handler(batch_event(world.render_queue_url, 5), FunctionContext()) == {
            "batchItemFailures": []}
    # The invoice asked once, with the issuer its message named.
    assert requests.batch_gets() == [Counter({INVOICE: 1, ISSUER: 1})]
    assert requests.gets()[INVOICE] == 1  # the duplicate's own read
    assert requests.gets()[ISSUER] == 0
    assert requests.of("s3").count(("PutObject", ())) == 2  # the PDF and the e-invoice, once
    assert [m["invoice_id"] for m in world.dispatch_messages()] == [invoice_id, invoice_id]  # handed on again


def test_a_missing_invoice_fails_its_own_record_only_without_a_read_of_its_own(world: World) -> None:
    present = _synced(world, 4031)
    _send_render_message(world, "no-such-invoice")
    event = batch_event(world.render_queue_url, 5)
    missing_message = next(r["messageId"] for r in event["Records"] if "no-such-invoice" in r["body"])
    render = cold_start("render")
    with aws_requests() as requests:
        response = render.lambda_handler(event, FunctionContext())
    assert response == {"batchItemFailures": [{"itemIdentifier": missing_message}]}
    assert requests.batch_gets() == [Counter({INVOICE: 2, ISSUER: 1})]
    assert requests.gets()[INVOICE] == 0
    assert [m["invoice_id"] for m in world.dispatch_messages()] == present


def test_a_missing_invoice_is_not_found_at_its_read_and_again_at_the_next(world: World) -> None:
    (present,) = _synced(world, 4041)
    batch = _batch(world, present, "no-such-invoice")
    with aws_requests() as requests:
        with pytest.raises(NotFound, match="invoice no-such-invoice not found"):
            batch.get("no-such-invoice")
        assert requests.gets() == Counter()
        with pytest.raises(NotFound):
            batch.get("no-such-invoice")
    assert requests.gets() == Counter({INVOICE: 1})
    assert batch.get(present).id == present


def test_a_refused_batch_read_leaves_each_record_to_read_its_own_invoice(world: World) -> None:
    """The batch read failing (refused, throttled past its retries) must not fail the batch: each record
    reads its invoice on its own, as without a batch read, and renders."""
    ids = _synced(world, 4051, 4052, 4053)
    render = cold_start("render")
    with batch_reads_refused(), aws_requests() as requests:
        assert render.lambda_handler(batch_event(world.render_queue_url, 5), FunctionContext()) == {
            "batchItemFailures": []}
    assert requests.gets()[INVOICE] == 3
    assert sorted(m["invoice_id"] for m in world.dispatch_messages()) == sorted(ids)


def test_a_refused_batch_read_leaves_each_dispatch_record_to_read_its_own_invoice(world: World) -> None:
    _synced(world, 4061, 4062)
    assert world.render() == ["rendered"] * 2
    dispatch = cold_start("dispatch")
    with wiring.override(dispatch_services=world.dispatch_services()), batch_reads_refused(), \
            aws_requests() as requests:
        assert dispatch.lambda_handler(batch_event(world.dispatch_queue_url), FunctionContext()) == {
            "batchItemFailures": []}
    assert requests.gets()[INVOICE] == 2
    assert len(mails_to("@")) == 2


def test_a_message_that_does_not_parse_fails_alone_and_the_rest_of_the_batch_is_read_together(
    world: World,
) -> None:
    """The batch's records are parsed at its start for their invoice ids: a body that does not parse is
    left out there, and fails only its own record, as the processor fails it."""
    present = _synced(world, 4071, 4072)
    boto3.client("sqs").send_message(QueueUrl=world.render_queue_url, MessageBody='{"invoice_id": ""}')
    event = batch_event(world.render_queue_url, 5)
    broken = next(r["messageId"] for r in event["Records"] if '""' in r["body"])
    render = cold_start("render")
    with aws_requests() as requests:
        assert render.lambda_handler(event, FunctionContext()) == {"batchItemFailures": [{"itemIdentifier": broken}]}
    assert requests.batch_gets() == [Counter({INVOICE: 2, ISSUER: 1})]
    assert sorted(m["invoice_id"] for m in world.dispatch_messages()) == sorted(present)


def test_a_dispatch_batch_reads_its_invoices_issuer_and_integration_in_one_request(world: World) -> None:
    """The messages name the issuer and integration (step_messages.py): the batch asks all three kinds at
    once, and neither the issuer's settings nor the fresh look's integration is read on its own."""
    ids = _synced(world, 4081, 4082)
    assert world.render() == ["rendered"] * 2
    messages = [json.loads(r["body"]) for r in batch_event(world.dispatch_queue_url)["Records"]]
    assert {(m["issuer_id"], m["integration_id"]) for m in messages} == {(ISSUER_ID, INTEGRATION_ID)}
    boto3.client("sqs").purge_queue(QueueUrl=world.dispatch_queue_url)
    for message in messages:
        boto3.client("sqs").send_message(QueueUrl=world.dispatch_queue_url, MessageBody=json.dumps(message))
    dispatch = cold_start("dispatch")
    with wiring.override(dispatch_services=world.dispatch_services()), aws_requests() as requests:
        assert dispatch.lambda_handler(batch_event(world.dispatch_queue_url), FunctionContext()) == {
            "batchItemFailures": []}
    assert requests.batch_gets() == [Counter({INVOICE: 2, ISSUER: 1, INTEGRATION: 1})]
    assert (requests.gets()[INVOICE], requests.gets()[ISSUER], requests.gets()[INTEGRATION]) == (0, 0, 0)
    assert len(mails_to("@")) == 2
    assert {world.invoices.get(i).status for i in ids} == {InvoiceStatus.SENT}


def test_a_message_from_before_the_ids_were_carried_reads_its_issuer_and_integration_on_their_own(
    world: World,
) -> None:
    """A message sent by the previous release (invoice and version only) is still dispatched: the batch
    reads its invoice, and the issuer and integration are read as before."""
    (invoice_id,) = _synced(world, 4091)
    assert world.render() == ["rendered"]
    world.dispatch_messages()
    boto3.client("sqs").send_message(QueueUrl=world.dispatch_queue_url,
                                     MessageBody=json.dumps({"invoice_id": invoice_id, "version": 1}))
    with wiring.override(dispatch_services=world.dispatch_services()), aws_requests() as requests:
        assert cold_start("dispatch").lambda_handler(batch_event(world.dispatch_queue_url), FunctionContext()) == {
            "batchItemFailures": []}
    assert requests.batch_gets() == [Counter({INVOICE: 1})]
    assert (requests.gets()[ISSUER], requests.gets()[INTEGRATION]) == (1, 1)
    assert world.invoices.get(invoice_id).status == InvoiceStatus.SENT


def test_an_issuer_written_through_the_batch_is_read_again_not_taken_from_the_batch_read(world: World) -> None:
    (invoice_id,) = _synced(world, 4101)
    first_read = BatchFirstRead(world.invoices, BatchKeys((invoice_id,), (ISSUER_ID,)), DynamoBatchReader(TABLE))
    issuers = BatchIssuers(world.issuers, world.documents, first_read)
    issuer = issuers.get(ISSUER_ID)
    issuers.put(issuer.model_copy(update={"name": "Renamed AB"}))
    with aws_requests() as requests:
        assert issuers.get(ISSUER_ID).name == "Renamed AB"
    assert requests.gets()[ISSUER] == 1
