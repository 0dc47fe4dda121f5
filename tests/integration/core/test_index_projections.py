"""GSI1 and GSI2 hold keys, not items (template.yaml, docs/dynamodb.md): an invoice's move writes only
their small entries, and every reader reads the items behind a page of entries by key.

Moto answers an index query with the projected attributes only, as DynamoDB does (the first test holds it
to that), so a reader that still needed an attribute from the index fails here."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.conditions import Key
from invoice_bridge.adapters.aws import reset_clients, resource, table
from invoice_bridge.adapters.dynamo_invoices import DynamoInvoiceRepository
from invoice_bridge.adapters.dynamo_sync import DynamoDecisionStore
from invoice_bridge.fetch.decisions import SyncDecision
from invoice_bridge.models.invoice import InvoiceEvent, InvoiceStatus
from moto import mock_aws
from test_invoice_repository import _invoice

from bench.awscalls import TABLE, AwsCallCounter
from sandbox.aws import create_template_table
from sandbox.lambdas import running

KEYS = {"PK", "SK"}
PROJECTED = {"GSI1": KEYS | {"GSI1PK", "GSI1SK"}, "GSI2": KEYS | {"GSI2PK", "GSI2SK", "issuer_id", "channel"}}


@pytest.fixture
def repo() -> Iterator[DynamoInvoiceRepository]:
    with mock_aws():
        reset_clients()
        create_template_table("t")
        yield DynamoInvoiceRepository("t")
        reset_clients()


def _stored_with_history(repo: DynamoInvoiceRepository, n: int, status: InvoiceStatus) -> None:
    invoice = _invoice(n)
    invoice.status, invoice.channel = status, "einvoice"
    events = [InvoiceEvent(status="queued", detail="x" * 100) for _ in range(30)]
    assert repo.create(invoice, events)


@pytest.mark.parametrize("index", ["GSI1", "GSI2"])
def test_the_indexes_answer_with_their_projection_only(repo: DynamoInvoiceRepository, index: str) -> None:
    _stored_with_history(repo, 1, InvoiceStatus.FAILED)
    pk = {"GSI1": "ISSUER#iss1", "GSI2": "STATUS#failed"}[index]
    [entry] = table("t").query(IndexName=index, KeyConditionExpression=Key(f"{index}PK").eq(pk))["Items"]

    assert set(entry) == PROJECTED[index]  # no `data`, no `events`: readers must read the item by key


def test_a_move_writes_the_indexes_only_small_entries() -> None:
    counter = AwsCallCounter()
    counter.install()
    try:
        with mock_aws():
            reset_clients()
            create_template_table("t")
            repo = DynamoInvoiceRepository("t")
            _stored_with_history(repo, 1, InvoiceStatus.QUEUED)
            invoice = repo.get("inv1")
            invoice.status = InvoiceStatus.RENDERED
            counter.reset()
            with running("RenderFunction"):
                repo.transition(invoice, [InvoiceStatus.QUEUED], InvoiceEvent(status="rendered"))
            reset_clients()
    finally:
        counter.uninstall()

    units = counter.handler_write_units()
    assert units[TABLE] >= 4  # the item with its history is several KB
    # GSI1's keys never change: no write; GSI2's key moves: delete + put of an entry under 1 KB.
    assert {name: n for name, n in units.items() if name != TABLE} == {"GSI2": 2.0}


def _before_the_batch_read(action: Callable[[], None]) -> Callable[[], None]:
    """Run `action` once, after the index answered and before the items are read by key: what another
    writer can do between the two requests (a botocore event hook on the adapters' client, no patching)."""
    events = resource("dynamodb").meta.client.meta.events
    done: list[bool] = []

    def hook(**_: Any) -> None:
        if not done:
            done.append(True)
            action()

    events.register("before-call.dynamodb.BatchGetItem", hook)
    return lambda: events.unregister("before-call.dynamodb.BatchGetItem", hook)


def _move_to(repo: DynamoInvoiceRepository, invoice_id: str, status: InvoiceStatus) -> Callable[[], None]:
    def move() -> None:
        invoice = repo.get(invoice_id)
        before = invoice.status
        invoice.status = status
        repo.transition(invoice, [before])

    return move


def test_a_listing_leaves_out_an_invoice_that_moved_after_the_index_answered(repo: DynamoInvoiceRepository) -> None:
    _stored_with_history(repo, 1, InvoiceStatus.FAILED)
    _stored_with_history(repo, 2, InvoiceStatus.FAILED)
    stop = _before_the_batch_read(_move_to(repo, "inv1", InvoiceStatus.QUEUED))
    try:
        listed, cursor = repo.list(status="failed")
    finally:
        stop()

    assert [i.id for i in listed] == ["inv2"] and cursor is None
    assert [i.id for i in repo.list(status="queued")[0]] == ["inv1"]


def test_the_sweeper_does_not_take_an_invoice_that_moved_on_for_stuck(repo: DynamoInvoiceRepository) -> None:
    _stored_with_history(repo, 1, InvoiceStatus.SENDING)
    _stored_with_history(repo, 2, InvoiceStatus.SENDING)
    stop = _before_the_batch_read(_move_to(repo, "inv2", InvoiceStatus.SENT))
    try:
        stuck = repo.updated_before("sending", datetime.now(UTC) + timedelta(minutes=1), limit=10)
    finally:
        stop()

    assert [i.id for i in stuck] == ["inv1"]
    assert stuck[0].gross_total == Decimal("125.00")  # read from the item, not the index


def _decided(source_id: str, *, parked: bool) -> SyncDecision:
    return SyncDecision(source_id=source_id, selected=not parked, reason="unreadable" if parked else "new",
                        decided_at=datetime.now(UTC), issuer_id="iss1", parked=parked)


@pytest.mark.parametrize("issuer_id", ["iss1", None])  # GSI1 per issuer, GSI2 all
def test_a_parked_list_leaves_out_a_decision_taken_off_it_after_the_index_answered(
    repo: DynamoInvoiceRepository, issuer_id: str | None
) -> None:
    decisions = DynamoDecisionStore("t")
    for source_id in ("s1", "s2"):
        decisions.record("int1", _decided(source_id, parked=True), first_sync=True)
    stop = _before_the_batch_read(lambda: decisions.record("int1", _decided("s1", parked=False), first_sync=False))
    try:
        parked = decisions.parked(issuer_id)
    finally:
        stop()

    assert [p.decision.source_id for p in parked] == ["s2"]
