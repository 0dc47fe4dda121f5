"""The stand-in for DynamoDB's refusals of writes whose item another transaction holds (moto never refuses
them): botocore gets DynamoDB's answer, nothing is applied, the SDK does not retry, and with nothing
scripted moto writes as it does."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from sandbox.dynamodb_conflicts import ONGOING, conflict_dynamodb_writes


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.session.Session(region_name="eu-north-1").client("dynamodb")
        client.create_table(TableName="t", KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}],
                            BillingMode="PAY_PER_REQUEST")
        yield client


def puts(*keys: str) -> list[dict[str, Any]]:
    return [{"Put": {"TableName": "t", "Item": {"PK": {"S": key}}}} for key in keys]


def stored(dynamodb: Any) -> set[str]:
    return {item["PK"]["S"] for item in dynamodb.scan(TableName="t")["Items"]}


def test_a_transaction_writing_a_held_item_is_cancelled_whole_as_dynamodb_cancels_it(dynamodb: Any) -> None:
    with conflict_dynamodb_writes({"B"}, transactions=1) as conflicts:
        with pytest.raises(ClientError) as cancelled:
            dynamodb.transact_write_items(TransactItems=puts("A", "B", "C"))
        assert stored(dynamodb) == set()  # nothing of it applied
        dynamodb.transact_write_items(TransactItems=puts("A", "B", "C"))  # the conflict is over

    answer = cancelled.value.response
    assert answer["Error"]["Code"] == "TransactionCanceledException"
    assert answer["Error"]["Message"] == (
        "Transaction cancelled, please refer cancellation reasons for specific reasons [None, TransactionConflict, None]")
    assert answer["CancellationReasons"] == [
        {"Code": "None"}, {"Code": "TransactionConflict", "Message": ONGOING}, {"Code": "None"}]
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert answer["ResponseMetadata"]["RetryAttempts"] == 0  # the SDK does not retry it, nor does DynamoDB
    assert conflicts.cancelled == [["None", "TransactionConflict", "None"]]
    assert stored(dynamodb) == {"A", "B", "C"}


def test_a_single_write_of_a_held_item_is_refused_and_others_pass(dynamodb: Any) -> None:
    with conflict_dynamodb_writes({"B"}, transactions=0, single_writes=1) as conflicts:
        dynamodb.put_item(TableName="t", Item={"PK": {"S": "A"}})
        with pytest.raises(ClientError) as refused:
            dynamodb.update_item(TableName="t", Key={"PK": {"S": "B"}}, UpdateExpression="SET n = :n",
                                 ExpressionAttributeValues={":n": {"N": "1"}})
        dynamodb.transact_write_items(TransactItems=puts("B"))  # no transaction scripted

    assert refused.value.response["Error"] == {"Code": "TransactionConflictException", "Message": ONGOING}
    assert refused.value.response["ResponseMetadata"]["RetryAttempts"] == 0
    assert conflicts.refused == Counter({"update_item": 1})
    assert stored(dynamodb) == {"A", "B"}


def test_the_stand_in_and_the_item_level_backup_wrap_each_other_once_whatever_the_order(dynamodb: Any) -> None:
    """Both wrap moto's TransactWriteItems once per process. The embedded stack's server installs the
    item-level backup (sandbox/moto_server.py) at each start; one installed again around this stand-in
    nested two backups, and the inner one's swap undid the outer's (AttributeError in every transaction)."""
    from moto.dynamodb.models import DynamoDBBackend

    from sandbox.dynamodb_conflicts import install
    from sandbox.moto_server import install_item_level_transaction_backup

    install_item_level_transaction_backup()
    install()
    installed = DynamoDBBackend.transact_write_items
    install_item_level_transaction_backup()
    install()
    assert DynamoDBBackend.transact_write_items is installed
    dynamodb.transact_write_items(TransactItems=puts("X", "Y"))
    assert {"X", "Y"} <= stored(dynamodb)


def test_a_throttled_batch_read_answers_the_held_keys_unprocessed_and_reads_them_once_it_is_over(
    dynamodb: Any,
) -> None:
    for key in ("A", "B", "C"):
        dynamodb.put_item(TableName="t", Item={"PK": {"S": key}, "n": {"N": "1"}})
    keys = [{"PK": {"S": key}} for key in ("A", "B", "C")]
    with conflict_dynamodb_writes({"B"}, transactions=0, batch_reads=1) as conflicts:
        first = dynamodb.batch_get_item(RequestItems={"t": {"Keys": keys}})
        second = dynamodb.batch_get_item(RequestItems={"t": {"Keys": first["UnprocessedKeys"]["t"]["Keys"]}})

    # As DynamoDB answers a throttled read: 200, what it read, and the rest to ask again.
    assert first["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert sorted(item["PK"]["S"] for item in first["Responses"]["t"]) == ["A", "C"]
    assert first["UnprocessedKeys"] == {"t": {"Keys": [{"PK": {"S": "B"}}]}}
    assert second["Responses"]["t"] == [{"PK": {"S": "B"}, "n": {"N": "1"}}] and second["UnprocessedKeys"] == {}
    assert conflicts.refused == Counter({"batch_get_item": 1})
