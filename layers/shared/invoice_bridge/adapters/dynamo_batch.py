"""Many items of the table by key in few requests: BatchGetItem, 100 keys a request; BatchWriteItem,
25 whole items a request (`batch_put`).

DynamoDB may answer a BatchGetItem with only part of the keys (throttling, or a response over 16 MB): the
rest come back as `UnprocessedKeys`, to be asked again after a backoff. A read that makes no progress for
`MAX_ROUNDS_WITHOUT_PROGRESS` rounds gives up with `BatchReadIncomplete`, a `StoreBusy` (the caller's
message is retried; an office's request is answered "busy, try again"): never a partial result taken for
the whole. A BatchWriteItem's `UnprocessedItems` are sent again the same
way, and one that makes no progress gives up with `BatchWriteIncomplete` (nothing is taken as written that
DynamoDB did not write).

GSI1 and GSI2 hold the keys of the items, not the items (KEYS_ONLY, or INCLUDE of the attributes their
filters read; docs/dynamodb.md): a reader queries the index and reads a page's items by key
(`query_items`, `items_behind`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from ..ports import StoreBusy
from .aws import resource, retry_pause, table

MAX_KEYS_PER_REQUEST = 100  # DynamoDB's limit for one BatchGetItem
MAX_PUTS_PER_REQUEST = 25  # and for one BatchWriteItem
MAX_ROUNDS_WITHOUT_PROGRESS = 6

Key = dict[str, str]
T = TypeVar("T")
TABLE_KEYS = ("PK", "SK")


class BatchReadIncomplete(StoreBusy):
    """DynamoDB kept some keys unprocessed past the retries (sustained throttling): busy for now."""


class BatchWriteIncomplete(StoreBusy):
    """DynamoDB kept some items unwritten past the retries (sustained throttling): busy for now."""


class BatchGetter(Protocol):
    """The one call used of the DynamoDB service resource (what a test's stand-in provides)."""

    def batch_get_item(self, **kwargs: Any) -> dict[str, Any]: ...


def batch_get(
    table_name: str,
    keys: Iterable[Key],
    *,
    consistent: bool = True,
    attributes: Sequence[str] = (),
    dynamodb: BatchGetter | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[dict[str, Any]]:
    """The items stored under `keys` (duplicates asked once; missing keys are simply not in the answer),
    in no particular order; with `attributes`, only those of each item."""
    getter = dynamodb or resource("dynamodb")
    pending = _unique(keys)
    found: list[dict[str, Any]] = []
    request: dict[str, Any] = {"ConsistentRead": consistent, **_projection(attributes)}

    def read(batch: list[Key]) -> list[Key]:
        answer = getter.batch_get_item(RequestItems={table_name: {"Keys": batch, **request}})
        found.extend(answer.get("Responses", {}).get(table_name, []))
        unprocessed: list[Key] = answer.get("UnprocessedKeys", {}).get(table_name, {}).get("Keys", [])
        return unprocessed

    _in_rounds(pending, MAX_KEYS_PER_REQUEST, read, sleep, lambda left: BatchReadIncomplete(
        f"{left} keys of {table_name} still unprocessed after {MAX_ROUNDS_WITHOUT_PROGRESS} rounds"))
    return found


class BatchWriter(Protocol):
    """The one call used of the DynamoDB service resource to write (what a test's stand-in provides)."""

    def batch_write_item(self, **kwargs: Any) -> dict[str, Any]: ...


def batch_put(
    table_name: str,
    items: Sequence[dict[str, Any]],
    *,
    dynamodb: BatchWriter | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Put whole `items` (each replaces what is stored under its key; no condition, no update expression:
    BatchWriteItem has neither), 25 to a request. Each item once: DynamoDB refuses a request naming a key
    twice. Returns when every item is written; `BatchWriteIncomplete` when DynamoDB stops taking them."""
    writer = dynamodb or resource("dynamodb")
    pending: list[dict[str, Any]] = [{"PutRequest": {"Item": item}} for item in items]

    def write(batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        answer = writer.batch_write_item(RequestItems={table_name: batch})
        unprocessed: list[dict[str, Any]] = answer.get("UnprocessedItems", {}).get(table_name, [])
        return unprocessed

    _in_rounds(pending, MAX_PUTS_PER_REQUEST, write, sleep, lambda left: BatchWriteIncomplete(
        f"{left} items of {table_name} still unwritten after {MAX_ROUNDS_WITHOUT_PROGRESS} rounds"))


def _in_rounds(
    pending: list[T], size: int, send: Callable[[list[T]], list[T]], sleep: Callable[[float], None],
    incomplete: Callable[[int], Exception],
) -> None:
    """Send `pending` `size` at a time; what DynamoDB leaves unprocessed goes again after `retry_pause`. No
    progress for MAX_ROUNDS_WITHOUT_PROGRESS rounds: `incomplete(how many are left)` is raised."""
    rounds_without_progress = 0
    while pending:
        batch, pending = pending[:size], pending[size:]
        unprocessed = send(batch)
        if not unprocessed:
            rounds_without_progress = 0
            continue
        rounds_without_progress = 0 if len(unprocessed) < len(batch) else rounds_without_progress + 1
        if rounds_without_progress >= MAX_ROUNDS_WITHOUT_PROGRESS:
            raise incomplete(len(unprocessed) + len(pending))
        sleep(retry_pause(rounds_without_progress))
        pending = [*unprocessed, *pending]


def items_behind(
    table_name: str,
    entries: Sequence[Mapping[str, Any]],
    *,
    current: Sequence[str] = (),
    consistent: bool = True,
    attributes: Sequence[str] = (),
) -> list[tuple[Mapping[str, Any], dict[str, Any]]]:
    """The stored item behind each of a page of index `entries`, in the entries' order, each with its entry.
    An item deleted since the index answered is left out, and so, with `current` (index key names), is one
    whose stored keys no longer equal its entry's: it moved since (a status move, a parked decision decided
    again), and a reader of the index asked for where it was, not where it is."""
    wanted = [*attributes, *TABLE_KEYS, *current] if attributes else []
    stored = {
        _table_key(item): item
        for item in batch_get(table_name, [_table_key_dict(e) for e in entries], consistent=consistent,
                              attributes=list(dict.fromkeys(wanted)))
    }
    pairs = []
    for entry in entries:
        item = stored.get(_table_key(entry))
        if item is not None and all(item.get(name) == entry.get(name) for name in current):
            pairs.append((entry, item))
    return pairs


def query_items(
    table_name: str,
    query: Mapping[str, Any],
    *,
    current: Sequence[str] = (),
    consistent: bool = True,
    attributes: Sequence[str] = (),
) -> Iterator[dict[str, Any]]:
    """Every item a query of an index matches, page after page in the index's order: the index answers
    with keys, each page's items are read in one BatchGetItem (`items_behind`, which `current` is for)."""
    kwargs = dict(query)
    while True:
        page = table(table_name).query(**kwargs)
        entries = page.get("Items", [])
        if entries:
            behind = items_behind(table_name, entries, current=current, consistent=consistent, attributes=attributes)
            yield from (item for _, item in behind)
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _table_key(item: Mapping[str, Any]) -> tuple[str, str]:
    return str(item["PK"]), str(item["SK"])


def _table_key_dict(item: Mapping[str, Any]) -> Key:
    return {name: str(item[name]) for name in TABLE_KEYS}


def _projection(attributes: Sequence[str]) -> dict[str, Any]:
    if not attributes:
        return {}
    names = {f"#p{i}": name for i, name in enumerate(attributes)}
    return {"ProjectionExpression": ", ".join(names), "ExpressionAttributeNames": names}


def _unique(keys: Iterable[Key]) -> list[Key]:
    # DynamoDB refuses a request that names one key twice (ValidationException).
    seen: dict[tuple[tuple[str, str], ...], Key] = {}
    for key in keys:
        seen.setdefault(tuple(sorted(key.items())), key)
    return list(seen.values())

