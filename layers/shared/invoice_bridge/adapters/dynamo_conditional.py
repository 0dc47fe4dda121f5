"""One conditional write, alone or with companion items in one transaction: the way the invoice and
the delivery ledger move their state machines (every move conditional, a lost race a ConflictError).

The SDK sends a write again when its answer is lost (a timeout, a dropped connection, a 5xx), and the
first attempt may have been applied: the retry then finds its own write there. It must not read that as
a lost race. A transaction carries a `ClientRequestToken` (one per call, the same on every retry):
DynamoDB answers a retry within 10 minutes with the first attempt's success and applies nothing again.
A single-item write has no token: it carries a marker of its own (`write_id`, new per call), refuses to
apply over its own marker, and asks for the item on a failed condition (`ALL_OLD`, no extra capacity):
an item carrying the call's marker is the call's own write, applied by an earlier attempt.

DynamoDB may also refuse a write for now, not for its data: another transaction is at one of its items
(a transaction cancelled with `TransactionConflict`, a single write's TransactionConflictException), or
throttling outlasted the SDK's retries. Neither DynamoDB nor the SDK retries a cancelled transaction or a
TransactionConflictException. Both functions raise StoreBusy then (nothing of the write was applied): the
caller decides whether to send it again.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar, cast

from botocore.exceptions import ClientError

from ..ports import ConflictError, StoreBusy
from .aws import bounded_chunks, table

_T = TypeVar("_T")

# A transaction's cancellation reasons that mean "not now" (the others, "None" apart, are about the data).
BUSY_REASONS = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})
# A request's errors that mean the same, after the SDK's own retries of those it retries.
_BUSY_ERRORS = frozenset({"TransactionConflictException", "ThrottlingException",
                          "ProvisionedThroughputExceededException", "RequestLimitExceeded"})

# The attribute that marks an item with the single-item write that last wrote it (`write_if`).
WRITE_ID = "write_id"
_SET_CLAUSE = re.compile(r"\s*SET\s", re.IGNORECASE)


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
    ConflictError(`conflict`) when its condition does not hold. An SDK retry that finds this call's own
    write (its first attempt was applied, its answer lost) is the success it is; so is a retry refused for
    now (StoreBusy otherwise) when the item carries this call's marker: an earlier attempt was applied."""
    ((kind, write),) = operation.items()
    write_id = uuid.uuid4().hex
    arguments = _marked({k: v for k, v in write.items() if k != "TableName"}, kind, write_id)
    try:
        if kind == "Put":
            table(write["TableName"]).put_item(**arguments)
        else:
            table(write["TableName"]).update_item(**arguments)
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        if code in _BUSY_ERRORS and _retried(exc) and _carries(write, write_id):
            return  # an earlier attempt of this call was applied; its answer was lost
        busy_for_now(exc, f"the write of {_key_of(write)}")
        if code != "ConditionalCheckFailedException":
            raise
        if not _written_by(exc, write_id):
            raise ConflictError(conflict) from None


def _retried(exc: ClientError) -> bool:
    """The SDK sent the request more than once: an attempt before the one answered may have been applied."""
    return int(exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)) > 0


def _carries(write: dict[str, Any], write_id: str) -> bool:
    """The written item carries this call's marker now (one strongly consistent read of it); False when the
    read fails too (busy, or a function not allowed to read the item): the caller then reports busy."""
    try:
        stored = table(write["TableName"]).get_item(
            Key=write.get("Key") or {name: write["Item"][name] for name in ("PK", "SK") if name in write["Item"]},
            ConsistentRead=True,
            ProjectionExpression="#write_id", ExpressionAttributeNames={"#write_id": WRITE_ID},
        ).get("Item") or {}
    except ClientError:
        return False
    return bool(stored.get(WRITE_ID) == write_id)


def busy_for_now(exc: ClientError, what: str) -> None:
    """Raise StoreBusy from `exc` when DynamoDB refused `what` (a write, a transaction) for now: nothing of
    it was applied."""
    code = exc.response["Error"]["Code"]
    if code in _BUSY_ERRORS:
        raise StoreBusy(f"the table refused {what} for now ({code})") from exc


def _key_of(write: dict[str, Any]) -> str:
    """The written item's partition key, for a message."""
    key = write.get("Key") or write.get("Item") or {}
    return str(key.get("PK", "an item"))


def _written_by(failed: ClientError, write_id: str) -> bool:
    """The item the failed condition found carries this call's marker."""
    return bool(found_item(failed).get(WRITE_ID, {}).get("S") == write_id)


def found_item(failed: ClientError) -> dict[str, Any]:
    """The item a write's failed condition found, in the wire format ({"S": …}), when the write asked for
    it (`ReturnValuesOnConditionCheckFailure=ALL_OLD`); empty when there was none."""
    return cast(dict[str, Any], failed.response).get("Item") or {}


def _marked(arguments: dict[str, Any], kind: str, write_id: str) -> dict[str, Any]:
    """A PutItem/UpdateItem's arguments with the write's marker set, its condition refusing an item that
    carries the marker already (a retry never applies the write twice), and the item returned when the
    condition fails."""
    names = {**arguments.get("ExpressionAttributeNames", {}), "#write_id": WRITE_ID}
    values = {**arguments.get("ExpressionAttributeValues", {}), ":write_id": write_id}
    not_yet = "(attribute_not_exists(#write_id) OR #write_id <> :write_id)"
    condition = arguments.get("ConditionExpression")
    marked = {
        **arguments,
        "ConditionExpression": f"({condition}) AND {not_yet}" if condition else not_yet,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    if kind == "Put":
        marked["Item"] = {**arguments["Item"], WRITE_ID: write_id}
    else:
        expression = str(arguments["UpdateExpression"])
        sets = _SET_CLAUSE.match(expression)
        if sets is None and re.search(r"\bSET\b", expression, re.IGNORECASE):
            raise ValueError(f"the SET clause must come first: {expression}")
        marked["UpdateExpression"] = (f"SET #write_id = :write_id, {expression[sets.end():]}" if sets
                                      else f"SET #write_id = :write_id {expression}")
    return marked


def write_all_if(operations: Sequence[dict[str, Any]]) -> int | None:
    """Write TransactWriteItems operations ({"Put": …} or {"Update": …}, each with or without a condition)
    all or none, in one request. None when written; else the index of the first whose condition did not
    hold. The token makes an SDK retry of an applied transaction a success, not a failed condition.
    StoreBusy (nothing written) when it was cancelled for now: another transaction at one of its items,
    throttling (`BUSY_REASONS`)."""
    first = next(iter(operations[0].values()))
    try:
        table(first["TableName"]).meta.client.transact_write_items(
            TransactItems=list(operations), ClientRequestToken=str(uuid.uuid4())
        )
    except ClientError as exc:
        busy_for_now(exc, "the transaction")
        code = exc.response["Error"]["Code"]
        if code != "TransactionCanceledException":
            raise
        reasons = [reason.get("Code") or "None" for reason in exc.response.get("CancellationReasons", [])]
        if "ConditionalCheckFailed" in reasons:
            return reasons.index("ConditionalCheckFailed")
        busy = sorted(set(reasons) & BUSY_REASONS)
        if busy and set(reasons) <= {*BUSY_REASONS, "None"}:
            raise StoreBusy(f"the transaction was cancelled for now ({', '.join(busy)})") from exc
        raise
    return None


# TransactWriteItems takes at most 100 operations and 4 MB: a chunk stays below both, its size taken from
# the operations' repr (bytes print at up to four characters each, so the estimate is never short).
_TRANSACTION_OPERATIONS, _TRANSACTION_BYTES = 100, 3_000_000


def transaction_chunks(entries: Sequence[tuple[_T, dict[str, Any]]]) -> Iterator[list[tuple[_T, dict[str, Any]]]]:
    """`entries` (anything, its TransactWriteItems operation) in chunks that each fit one transaction."""
    return bounded_chunks(entries, lambda entry: len(repr(entry[1])), most=_TRANSACTION_OPERATIONS,
                          bytes_=_TRANSACTION_BYTES)
