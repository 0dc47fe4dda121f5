"""One conditional write, alone or with companion items in one transaction: the way the invoice and
the delivery ledger move their state machines (every move conditional, a lost race a ConflictError)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError

from ..ports import ConflictError
from .aws import table


def put_if(put: dict[str, Any], *, also: Sequence[dict[str, Any]] = (), conflict: str) -> None:
    """Write `put` (a TransactWriteItems Put: TableName, Item, ConditionExpression, names, values) if its
    condition holds, with the plain items of `also` (same table) in the same transaction: all or none.
    Raises ConflictError(`conflict`) when the condition does not hold."""
    if not also:
        write_if({"Put": put}, conflict=conflict)
        return
    companions = [{"Put": {"TableName": put["TableName"], "Item": item}} for item in also]
    if write_all_if([{"Put": put}, *companions]) is not None:
        raise ConflictError(conflict)


def write_if(operation: dict[str, Any], *, conflict: str) -> None:
    """One conditional write alone, given as a TransactWriteItems operation ({"Put": …} or {"Update": …});
    ConflictError(`conflict`) when its condition does not hold."""
    ((kind, write),) = operation.items()
    arguments = {k: v for k, v in write.items() if k != "TableName"}
    try:
        if kind == "Put":
            table(write["TableName"]).put_item(**arguments)
        else:
            table(write["TableName"]).update_item(**arguments)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            raise ConflictError(conflict) from None
        raise


def write_all_if(operations: Sequence[dict[str, Any]]) -> int | None:
    """Write TransactWriteItems operations ({"Put": …} or {"Update": …}, each with or without a condition)
    all or none, in one request. None when written; else the index of the first whose condition did not
    hold."""
    first = next(iter(operations[0].values()))
    try:
        table(first["TableName"]).meta.client.transact_write_items(TransactItems=list(operations))
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "TransactionCanceledException":
            raise
        reasons = [reason.get("Code", "None") for reason in exc.response.get("CancellationReasons", [])]
        if "ConditionalCheckFailed" not in reasons:
            raise
        return reasons.index("ConditionalCheckFailed")
    return None
