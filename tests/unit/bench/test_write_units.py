"""DynamoDB write units as DynamoDB bills them: a write costs the larger of the stored item before and after
it (per started KB, twice in a transaction), plus the writes it makes on each global secondary index.
The pricing rules on their own, then the bench's counter pricing real writes on moto."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from bench.awscalls import TABLE, AwsCallCounter
from bench.dynamodb_units import IndexSchema, ItemImage, WriteUnits, image, item_size, price_write
from sandbox.lambdas import running

INDEXES = [IndexSchema(f"GSI{n}", (f"GSI{n}PK", f"GSI{n}SK")) for n in (1, 2, 3)]  # all ALL, as template.yaml
KEY = {"PK": {"S": "INVOICE#1"}, "SK": {"S": "INVOICE"}}


def _invoice(data_bytes: int, **extra: str) -> dict[str, Any]:
    """An invoice-like item: its keys, `data_bytes` of binary data, and string attributes."""
    return {**KEY, "data": {"B": b"\x00" * data_bytes}, **{k: {"S": v} for k, v in extra.items()}}


def _image(data_bytes: int, **extra: str) -> ItemImage:
    return image(_invoice(data_bytes, **extra), INDEXES)


# --- the rules ------------------------------------------------------------------------------------


def test_item_size_follows_dynamodb_item_size_rules() -> None:
    assert item_size({"name": {"S": "åäö"}}) == 4 + 6  # UTF-8 bytes of name and value
    assert item_size({"n": {"N": "12345"}}) == 1 + 3 + 1  # 1 byte per two significant digits, plus 1
    assert item_size({"n": {"N": "-0.00120"}}) == 1 + 1 + 1  # zeroes trimmed: "12"
    assert item_size({"b": {"B": base64.b64encode(b"\x00" * 2000).decode()}}) == 1 + 2000  # raw bytes
    assert item_size({"b": {"B": b"\x00" * 2000}}) == 1 + 2000
    assert item_size({"t": {"BOOL": True}, "z": {"NULL": True}}) == 2 + 2
    # a list or map: 3 bytes, plus 1 per element, plus the elements (map keys included)
    assert item_size({"l": {"L": [{"S": "ab"}, {"N": "1"}]}}) == 1 + 3 + (1 + 2) + (1 + 2)
    assert item_size({"m": {"M": {"k": {"S": "ab"}}}}) == 1 + 3 + (1 + 1 + 2)
    assert item_size({"l": {"L": []}}) == 1 + 3


def test_an_update_of_a_few_bytes_costs_the_whole_stored_item() -> None:
    before = _image(5000)
    after = _image(5000, s="abc")  # a 3-byte attribute set on a ~5 KB item
    assert before.size < 5 * 1024 and after.size < 5 * 1024
    assert price_write(before, after) == WriteUnits(5.0, {})


def test_the_larger_of_before_and_after_is_billed() -> None:
    assert price_write(_image(5000), _image(1000)).table == 5.0  # shrinking: the item before
    assert price_write(_image(1000), _image(5000)).table == 5.0  # growing: the item after
    assert price_write(None, _image(2500)).table == 3.0  # a new item
    assert price_write(_image(2500), None).table == 3.0  # a delete: the deleted item
    assert price_write(None, None).table == 1.0  # a delete of nothing: at least 1


def test_index_writes_follow_how_the_items_entry_changes() -> None:
    out = _image(1500)
    in_gsi2 = _image(1500, GSI2PK="STATUS#rendered", GSI2SK="2026-12-01T10:00:00Z#1")
    moved = _image(1500, GSI2PK="STATUS#sent", GSI2SK="2026-12-01T10:05:00Z#1")
    # into GSI2: one put of the new entry (2 KB); out of it: one delete of the old entry (2 KB)
    assert price_write(out, in_gsi2) == WriteUnits(2.0, {"GSI2": 2.0})
    assert price_write(in_gsi2, out) == WriteUnits(2.0, {"GSI2": 2.0})
    # a new GSI2 key: delete under the old key + put under the new one
    assert price_write(in_gsi2, moved) == WriteUnits(2.0, {"GSI2": 4.0})
    # the same key, a projected attribute changed: one write of the entry; nothing changed: none
    touched = _image(1500, GSI2PK="STATUS#rendered", GSI2SK="2026-12-01T10:00:00Z#1", note="x")
    assert price_write(in_gsi2, touched) == WriteUnits(2.0, {"GSI2": 2.0})
    assert price_write(in_gsi2, in_gsi2) == WriteUnits(2.0, {})
    # sparse GSI3: an item without its keys is not in it and costs it nothing
    assert "GSI3" not in price_write(out, moved).indexes


def test_a_status_move_that_also_enters_the_sparse_index_pays_each_index() -> None:
    rendered = _image(900, GSI1PK="ISSUER#1", GSI1SK="INVOICE#1", GSI2PK="STATUS#rendered", GSI2SK="t1#1")
    held = _image(900, GSI1PK="ISSUER#1", GSI1SK="INVOICE#1", GSI2PK="STATUS#held", GSI2SK="t2#1",
                  GSI3PK="WAITING#awaiting_approval", GSI3SK="1#t2#1")
    # the table 1; GSI1 keeps its key but its (ALL) entry changed: 1; GSI2 a new key: 2; GSI3 entered: 1
    assert price_write(rendered, held) == WriteUnits(1.0, {"GSI1": 1.0, "GSI2": 2.0, "GSI3": 1.0})


def test_a_transaction_doubles_the_table_writes_not_the_index_writes() -> None:
    before = _image(2500, GSI2PK="STATUS#sending", GSI2SK="t1#1")
    after = _image(2500, GSI2PK="STATUS#sent", GSI2SK="t2#1")
    assert price_write(before, after) == WriteUnits(3.0, {"GSI2": 6.0})
    assert price_write(before, after, transactional=True) == WriteUnits(6.0, {"GSI2": 6.0})


def test_a_write_that_changed_nothing_costs_the_stored_item_and_no_index_writes() -> None:
    stored = _image(3000, GSI2PK="STATUS#sent", GSI2SK="t#1")  # a failed condition leaves it as it was
    assert price_write(stored, stored) == WriteUnits(3.0, {})


# --- the bench's counter, on moto -----------------------------------------------------------------


@pytest.fixture
def counter() -> Iterator[AwsCallCounter]:
    counted = AwsCallCounter()
    counted.install()
    yield counted
    counted.uninstall()


@pytest.fixture
def dynamodb(counter: AwsCallCounter) -> Iterator[Any]:
    """A DynamoDB client on moto, its table keyed and indexed as template.yaml's (GSI1-3, ALL)."""
    with mock_aws():
        client = boto3.session.Session(region_name="eu-north-1").client("dynamodb")
        names = ["PK", "SK", *(f"GSI{n}{k}" for n in (1, 2, 3) for k in ("PK", "SK"))]
        client.create_table(
            TableName="table",
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in names],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": index.name,
                    "KeySchema": [{"AttributeName": index.key_attributes[0], "KeyType": "HASH"},
                                  {"AttributeName": index.key_attributes[1], "KeyType": "RANGE"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
                for index in INDEXES
            ],
        )
        yield client


def _set(**values: str) -> dict[str, Any]:
    return {
        "UpdateExpression": "SET " + ", ".join(f"#{k} = :{k}" for k in values),
        "ExpressionAttributeNames": {f"#{k}": k for k in values},
        "ExpressionAttributeValues": {f":{k}": {"S": v} for k, v in values.items()},
    }


def test_the_counter_prices_an_update_by_the_stored_item_not_the_request(dynamodb: Any, counter: AwsCallCounter) -> None:
    dynamodb.put_item(TableName="table", Item=_invoice(5000))  # set-up, outside every handler
    with running("RenderFunction"):
        dynamodb.update_item(TableName="table", Key=KEY, **_set(s="abc"))

    assert counter.handler_write_units() == {TABLE: 5.0}
    assert counter.handler_units()[0] == 5.0
    # the items read before and after the write are not requests of ours
    assert counter.by_function_operation() == {"RenderFunction": {"dynamodb": {"UpdateItem": 1}}}


def test_the_counter_prices_index_writes_per_index(dynamodb: Any, counter: AwsCallCounter) -> None:
    dynamodb.put_item(TableName="table", Item=_invoice(1500, GSI1PK="ISSUER#1", GSI1SK="INVOICE#1",
                                                        GSI2PK="STATUS#rendered", GSI2SK="t1#1"))
    with running("AdminApiFunction"):  # the move to held at a gate: a new GSI2 key and into GSI3
        dynamodb.update_item(TableName="table", Key=KEY,
                             **_set(GSI2PK="STATUS#held", GSI2SK="t2#1", GSI3PK="WAITING#x", GSI3SK="t2#1"))

    assert counter.handler_write_units() == {TABLE: 2.0, "GSI1": 2.0, "GSI2": 4.0, "GSI3": 2.0}


def test_the_counter_doubles_a_transactions_table_writes(dynamodb: Any, counter: AwsCallCounter) -> None:
    dynamodb.put_item(TableName="table", Item=_invoice(2500, GSI2PK="STATUS#sending", GSI2SK="t1#1"))
    delivery = {"PK": {"S": "INVOICE#1"}, "SK": {"S": "DELIVERY#000001"}, "status": {"S": "sent"}}
    with running("DispatchFunction"):
        dynamodb.transact_write_items(TransactItems=[
            {"Put": {"TableName": "table", "Item": delivery}},
            {"Update": {"TableName": "table", "Key": KEY, **_set(GSI2PK="STATUS#sent", GSI2SK="t2#1")}},
        ])

    # the delivery 2 × 1, the invoice 2 × 3 KB; GSI2 (not doubled): delete + put of a 3 KB entry
    assert counter.handler_write_units() == {TABLE: 8.0, "GSI2": 6.0}


def test_a_failed_condition_is_billed_a_refused_request_is_not(dynamodb: Any, counter: AwsCallCounter) -> None:
    dynamodb.put_item(TableName="table", Item=_invoice(2500, GSI2PK="STATUS#sent", GSI2SK="t#1"))
    with running("TrackDeliveriesFunction"), pytest.raises(ClientError, match="ConditionalCheckFailed"):
        dynamodb.update_item(TableName="table", Key=KEY, ConditionExpression="attribute_not_exists(PK)",
                             **_set(GSI2PK="STATUS#delivered"))
    assert counter.handler_write_units() == {TABLE: 3.0}

    with running("TrackDeliveriesFunction"), pytest.raises(ClientError, match="ValidationException"):
        dynamodb.update_item(TableName="table", Key=KEY, **_set(PK="INVOICE#2"))  # a key: refused
    assert counter.handler_write_units() == {TABLE: 3.0}
