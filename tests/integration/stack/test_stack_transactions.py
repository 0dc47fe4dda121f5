"""The embedded moto server's TransactWriteItems (sandbox/moto_server.py backs up only the named items):
still all or nothing, as DynamoDB's."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from sandbox.stack import LocalStack

TABLE = "transactions-test"


@pytest.fixture(scope="module")
def ddb(stack: LocalStack) -> Any:
    client = stack.aws.client("dynamodb")
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"},
                              {"AttributeName": "SK", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for n in range(20):  # other items, which a transaction must leave as they are
        client.put_item(TableName=TABLE, Item={"PK": {"S": f"OTHER#{n}"}, "SK": {"S": "X"}, "n": {"N": str(n)}})
    return client


def _put(pk: str, state: str, condition: str | None = None) -> dict[str, Any]:
    put: dict[str, Any] = {"TableName": TABLE, "Item": {"PK": {"S": pk}, "SK": {"S": "R"}, "state": {"S": state}}}
    if condition:
        put["ConditionExpression"] = condition
    return {"Put": put}


def _state(ddb: Any, pk: str) -> str | None:
    item = ddb.get_item(TableName=TABLE, Key={"PK": {"S": pk}, "SK": {"S": "R"}}, ConsistentRead=True).get("Item")
    return item["state"]["S"] if item else None


def test_a_transaction_writes_every_item(ddb: Any) -> None:
    ddb.transact_write_items(TransactItems=[_put("A", "one"), _put("B", "one")])
    assert (_state(ddb, "A"), _state(ddb, "B")) == ("one", "one")


def test_a_failed_condition_writes_nothing(ddb: Any) -> None:
    ddb.put_item(TableName=TABLE, Item={"PK": {"S": "C"}, "SK": {"S": "R"}, "state": {"S": "old"}})
    ddb.update_item(TableName=TABLE, Key={"PK": {"S": "C"}, "SK": {"S": "R"}},
                    UpdateExpression="SET extra = :x", ExpressionAttributeValues={":x": {"S": "kept"}})
    with pytest.raises(ClientError) as failed:
        ddb.transact_write_items(TransactItems=[
            _put("C", "new"),  # applied first, then rolled back
            {"Update": {"TableName": TABLE, "Key": {"PK": {"S": "D"}, "SK": {"S": "R"}},
                        "UpdateExpression": "SET #s = :s", "ExpressionAttributeNames": {"#s": "state"},
                        "ExpressionAttributeValues": {":s": {"S": "new"}}}},
            _put("E", "new", condition="attribute_exists(PK)"),  # E does not exist: the transaction fails
        ])
    assert failed.value.response["Error"]["Code"] == "TransactionCanceledException"
    item = ddb.get_item(TableName=TABLE, Key={"PK": {"S": "C"}, "SK": {"S": "R"}}, ConsistentRead=True)["Item"]
    assert item["state"]["S"] == "old" and item["extra"]["S"] == "kept"
    assert _state(ddb, "D") is None and _state(ddb, "E") is None
    assert len(ddb.scan(TableName=TABLE)["Items"]) == 20 + 2 + 1  # OTHER#*, A and B, C


def test_an_update_in_a_failed_transaction_is_undone(ddb: Any) -> None:
    ddb.put_item(TableName=TABLE, Item={"PK": {"S": "F"}, "SK": {"S": "R"}, "state": {"S": "before"}})
    with pytest.raises(ClientError):
        ddb.transact_write_items(TransactItems=[
            {"Update": {"TableName": TABLE, "Key": {"PK": {"S": "F"}, "SK": {"S": "R"}},
                        "UpdateExpression": "SET #s = :s", "ExpressionAttributeNames": {"#s": "state"},
                        "ExpressionAttributeValues": {":s": {"S": "after"}}}},
            _put("G", "new", condition="attribute_exists(PK)"),
        ])
    assert _state(ddb, "F") == "before"


def _add_one(client: Any, token: str) -> None:
    client.transact_write_items(ClientRequestToken=token, TransactItems=[{"Update": {
        "TableName": TABLE, "Key": {"PK": {"S": "COUNTED"}, "SK": {"S": "X"}},
        "UpdateExpression": "ADD n :one", "ExpressionAttributeValues": {":one": {"N": "1"}}}}])


def test_a_transaction_whose_answer_is_lost_is_applied_once(stack: LocalStack, ddb: Any) -> None:
    """The server honours ClientRequestToken as DynamoDB does: the SDK's retry of a transaction that was
    applied (its answer lost over HTTP) is answered, not applied again."""
    from sandbox.lost_responses import lose_dynamodb_answers, writes_item

    with lose_dynamodb_answers(writes_item(["TransactWriteItems"], "COUNTED")) as answers:
        _add_one(stack.aws.client("dynamodb"), "lost-answer-token")
    assert answers.lost == {"TransactWriteItems": 1} and answers.sent == {"TransactWriteItems": 2}
    item = ddb.get_item(TableName=TABLE, Key={"PK": {"S": "COUNTED"}, "SK": {"S": "X"}}, ConsistentRead=True)
    assert item["Item"]["n"] == {"N": "1"}
