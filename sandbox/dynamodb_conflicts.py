"""DynamoDB writes refused because another transaction holds their item, as DynamoDB refuses them (moto never does).

In AWS, a TransactWriteItems one of whose items another transaction (or a write) holds at that moment is
cancelled whole: HTTP 400 `TransactionCanceledException`, with `CancellationReasons` one per operation in
the request's order, `{"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}`
for a contended item and `{"Code": "None"}` for the others. Nothing of it is applied, and neither
DynamoDB nor the SDK retries it (botocore's standard mode retries throttling and 5xx, not this). A single
write (PutItem, UpdateItem, DeleteItem) of an item a transaction holds is refused the same way:
`TransactionConflictException`, "Transaction is ongoing for the item", not retried either. Moto applies
them all.

Reads are refused for now too: a BatchGetItem under throttling answers the keys it did not read as
`UnprocessedKeys` (HTTP 200), for the caller to ask again after a backoff; moto answers every key. Here the
keys of the named items are left unprocessed for the next `batch_reads` BatchGetItems that ask them.

`DynamoDbConflicts` refuses them so: scripted, for the items whose partition key is named. `install()`
swaps moto's backend methods once per process (the mechanism of sandbox/sqs_faults.py), so the request
goes to moto (`mock_aws`'s stubber or the embedded moto server), moto answers with DynamoDB's error body
built by its own exception classes, and botocore parses it as the real one. With nothing scripted, moto
answers as it does.
"""

from __future__ import annotations

import functools
import threading
from collections import Counter
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

ONGOING = "Transaction is ongoing for the item"
_SINGLE_WRITES = ("put_item", "update_item", "delete_item")


@dataclass
class DynamoDbConflicts:
    """Another transaction holds the items whose partition key (`PK`, e.g. `INVOICE#{id}`) is in `items`:
    the next `transactions` TransactWriteItems that write one of them are cancelled (TransactionConflict for
    those operations, None for the others), and the next `single_writes` single writes of one are refused
    (TransactionConflictException). `cancelled` keeps the reason codes answered, one list per transaction;
    `refused` counts the single writes refused, by backend method."""

    items: set[str] = field(default_factory=set)
    transactions: int = 0
    single_writes: int = 0
    batch_reads: int = 0
    cancelled: list[list[str]] = field(default_factory=list)
    refused: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def hold(self, items: Collection[str], *, transactions: int = 1, single_writes: int = 0,
             batch_reads: int = 0) -> None:
        """From now on, another transaction holds `items` for that many transactions and single writes, and
        throttling leaves them unread in that many BatchGetItems."""
        with self._lock:
            self.items, self.transactions, self.single_writes = set(items), transactions, single_writes
            self.batch_reads = batch_reads

    def unread(self, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Of a BatchGetItem's keys, those left unprocessed this time (a scripted read used up), or []."""
        if self.batch_reads <= 0:
            return []
        with self._lock:
            held = [key for key in keys if _partition_key(key) in self.items]
            if self.batch_reads <= 0 or not held:
                return []
            self.batch_reads -= 1
            self.refused["batch_get_item"] += 1
            return held

    def transaction_reasons(self, keys: list[str]) -> list[str] | None:
        """The cancellation codes of a transaction writing items of these partition keys, or None (applied)."""
        if self.transactions <= 0:
            return None
        with self._lock:
            if self.transactions <= 0 or not self.items.intersection(keys):
                return None
            self.transactions -= 1
            codes = ["TransactionConflict" if key in self.items else "None" for key in keys]
            self.cancelled.append(codes)
            return codes

    def refuses_single(self, method: str, key: str) -> bool:
        """Whether this single write of the item of partition key `key` is refused (a scripted one used up)."""
        if self.single_writes <= 0:  # nothing scripted: no lock on every write of the soak
            return False
        with self._lock:
            if self.single_writes <= 0 or key not in self.items:
                return False
            self.single_writes -= 1
            self.refused[method] += 1
            return True

    def reset(self) -> None:
        with self._lock:
            self.items, self.transactions, self.single_writes, self.batch_reads = set(), 0, 0, 0
            self.cancelled.clear()
            self.refused.clear()


DYNAMODB_CONFLICTS = DynamoDbConflicts()  # the process's, as moto's backends are


def _partition_key(attributes: dict[str, Any] | None) -> str:
    return str((attributes or {}).get("PK", {}).get("S", ""))


def install() -> DynamoDbConflicts:
    """Route moto's TransactWriteItems and single writes through `DYNAMODB_CONFLICTS` (once per process)."""
    from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException, TransactionCanceledException
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoDBBackend.transact_write_items
    if getattr(original, "with_conflicts", False):
        return DYNAMODB_CONFLICTS

    @functools.wraps(original)  # keeps moto_server's `item_level_backup` marker: neither is installed twice
    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        operations = [next(iter(entry.values())) for entry in transact_items]
        codes = DYNAMODB_CONFLICTS.transaction_reasons(
            [_partition_key(operation.get("Item") or operation.get("Key")) for operation in operations])
        if codes is not None:  # moto's own answer for a cancelled transaction, with these reasons
            raise TransactionCanceledException([(None if c == "None" else c, ONGOING, None) for c in codes])
        original(self, transact_items)

    def refusing(method: str) -> Any:
        write = getattr(DynamoDBBackend, method)

        def single_write(self: Any, table_name: str, attributes: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
            if DYNAMODB_CONFLICTS.refuses_single(method, _partition_key(attributes)):
                raise DynamodbException(ERROR_TYPE_PREFIX + "TransactionConflictException", ONGOING)
            return write(self, table_name, attributes, *args, **kwargs)

        return single_write

    transact_write_items.with_conflicts = True  # type: ignore[attr-defined]
    for method in _SINGLE_WRITES:
        setattr(DynamoDBBackend, method, refusing(method))
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    DynamoHandler.batch_get_item = _throttling(DynamoHandler.batch_get_item)  # type: ignore[method-assign]
    return DYNAMODB_CONFLICTS


def _throttling(batch_get_item: Any) -> Any:
    """moto's BatchGetItem, leaving the held items' keys unread: they are taken out of the request before
    moto reads it and answered as `UnprocessedKeys`, as DynamoDB answers a throttled read."""

    @functools.wraps(batch_get_item)
    def throttled(self: Any) -> Any:
        left: dict[str, list[dict[str, Any]]] = {}
        for table_name, request in self.body["RequestItems"].items():
            unread = DYNAMODB_CONFLICTS.unread(request["Keys"])
            if unread:
                left[table_name] = unread
                request["Keys"] = [key for key in request["Keys"] if key not in unread]
        answer = batch_get_item(self)
        for table_name, keys in left.items():
            unprocessed = answer.result["UnprocessedKeys"].setdefault(table_name, {"Keys": []})
            unprocessed["Keys"].extend(keys)
        return answer

    return throttled


@contextmanager
def conflict_dynamodb_writes(
    items: Collection[str], *, transactions: int = 1, single_writes: int = 0, batch_reads: int = 0
) -> Iterator[DynamoDbConflicts]:
    """Within the block, another transaction holds `items` (partition keys; see DynamoDbConflicts), and
    throttling leaves them unread in `batch_reads` BatchGetItems. What was refused stays readable after the
    block, until the next one."""
    conflicts = install()
    conflicts.reset()
    conflicts.hold(items, transactions=transactions, single_writes=single_writes, batch_reads=batch_reads)
    try:
        yield conflicts
    finally:
        conflicts.hold((), transactions=0)
