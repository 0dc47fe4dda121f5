"""Many items by key in few requests (adapters/dynamo_batch.py), on moto: a page's sync decisions and source
links. DynamoDB may leave keys unprocessed (throttling, or a response over 16 MB); they are asked again,
and a read that never completes fails instead of passing for a whole one."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from aws_requests import aws_requests
from invoice_bridge.adapters import dynamo_batch
from invoice_bridge.adapters.aws import resource
from invoice_bridge.adapters.dynamo_batch import BatchReadIncomplete, batch_get
from invoice_bridge.adapters.dynamo_invoices import DynamoInvoiceRepository
from invoice_bridge.adapters.dynamo_sync import DynamoDecisionStore
from invoice_bridge.fetch.decisions import SyncDecision
from invoice_bridge.models.invoice import Invoice, Party
from moto import mock_aws

from sandbox.aws import create_template_table

TABLE = "t"
DECISION = "INTEGRATION/DECISION"


@pytest.fixture(autouse=True)
def table() -> Iterator[None]:
    with mock_aws():
        create_template_table(TABLE)
        yield


def _decide(store: DynamoDecisionStore, source_id: str, detail: str = "") -> SyncDecision:
    decision = SyncDecision(source_id=source_id, selected=True, reason="booked", detail=detail,
                            source_modified_utc=datetime(2026, 11, 1, 9, tzinfo=UTC), issuer_id="iss1")
    store.record("int1", decision, first_sync=False)
    return decision


def _invoice(source_id: str) -> Invoice:
    return Invoice(id=f"inv-{source_id}", issuer_id="iss1", integration_id="int1", source_id=source_id,
                   content_hash="h", number="1001", issue_date=date(2026, 11, 1), seller=Party(name="Säljare AB"),
                   buyer=Party(name="Köpare AB"), rows=[], vat_breakdown=[], net_total=Decimal("100.00"),
                   vat_total=Decimal("25.00"), gross_total=Decimal("125.00"))


def test_a_pages_decisions_are_read_100_keys_a_request() -> None:
    store = DynamoDecisionStore(TABLE)
    decided = {d.source_id: d for d in (_decide(store, f"src{n}") for n in range(250))}
    with aws_requests() as requests:
        found = store.get_many("int1", [*decided, "never-seen-1", "never-seen-2"])
    assert found == decided
    assert requests.batch_gets() == [Counter({DECISION: 100}), Counter({DECISION: 100}), Counter({DECISION: 52})]
    assert store.get_many("int2", list(decided)) == {}  # another integration's decisions are its own


def test_source_links_name_our_invoices_and_a_key_asked_twice_is_asked_once() -> None:
    """DynamoDB refuses a request that names one key twice (moto too): a credit note in the page that
    refers to another invoice of the same page asks for that link twice."""
    invoices = DynamoInvoiceRepository(TABLE)
    assert invoices.create(_invoice("src1")) and invoices.create(_invoice("src2"))
    links = invoices.source_links("iss1", ["src1", "src2", "src1", "src3"])
    assert links == {"src1": "inv-src1", "src2": "inv-src2"}
    assert invoices.source_links("iss2", ["src1"]) == {}


def test_keys_left_unprocessed_by_a_response_over_16_mb_are_asked_again() -> None:
    """DynamoDB (and moto) stop a BatchGetItem answer at 16 MB and return the rest as UnprocessedKeys."""
    store = DynamoDecisionStore(TABLE)
    decided = {d.source_id: d for d in (_decide(store, f"big{n}", detail="x" * 380_000) for n in range(48))}
    with aws_requests() as requests:
        found = store.get_many("int1", list(decided))
    assert found == decided
    first, *again = requests.batch_gets()
    assert first == Counter({DECISION: 48}) and again and sum(c[DECISION] for c in again) < 48


class Throttled:
    """The DynamoDB resource as it answers a throttled BatchGetItem: the first `times` requests process no
    key (each comes back in UnprocessedKeys); after them the real one (moto) answers."""

    def __init__(self, times: int) -> None:
        self.times = times
        self.requests: list[dict[str, Any]] = []

    def batch_get_item(self, **kwargs: Any) -> dict[str, Any]:
        self.requests.append(kwargs)
        if len(self.requests) <= self.times:
            return {"Responses": {TABLE: []}, "UnprocessedKeys": kwargs["RequestItems"]}
        return resource("dynamodb").batch_get_item(**kwargs)  # type: ignore[no-any-return]


def test_throttled_keys_are_asked_again_consistently_after_a_backoff() -> None:
    store = DynamoDecisionStore(TABLE)
    for n in range(3):
        _decide(store, f"src{n}")
    keys = [{"PK": "INTEGRATION#int1", "SK": f"DECISION#src{n}"} for n in range(3)]
    throttled, slept = Throttled(times=2), []
    items = batch_get(TABLE, keys, dynamodb=throttled, sleep=slept.append)
    assert sorted(i["source_id"] for i in items) == ["src0", "src1", "src2"]
    assert len(throttled.requests) == 3 and len(slept) == 2
    for request in throttled.requests:
        assert request["RequestItems"][TABLE] == {"Keys": keys, "ConsistentRead": True}


def test_a_read_that_stays_throttled_fails_instead_of_passing_for_a_whole_one() -> None:
    keys = [{"PK": "INTEGRATION#int1", "SK": "DECISION#src0"}]
    throttled, slept = Throttled(times=1_000), []
    with pytest.raises(BatchReadIncomplete):
        batch_get(TABLE, keys, dynamodb=throttled, sleep=slept.append)
    assert len(throttled.requests) == dynamo_batch.MAX_ROUNDS_WITHOUT_PROGRESS
    assert len(slept) == dynamo_batch.MAX_ROUNDS_WITHOUT_PROGRESS - 1
    assert all(0 <= seconds <= 2.0 for seconds in slept)
