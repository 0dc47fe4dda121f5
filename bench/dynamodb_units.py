"""What DynamoDB bills for one item's write, from the item as stored before and after it (on-demand write
request units, the same count as provisioned write capacity units).

The rules, from the DynamoDB Developer Guide:
- Item size (CapacityUnitCalculations.html, "DynamoDB item sizes and formats"): attribute names' UTF-8
  bytes plus values: strings by their UTF-8 bytes, numbers 1 byte per two significant digits + 1, binary
  by its raw bytes (not the base64 the request carries), null and Boolean 1 byte, a list or map 3 bytes
  plus 1 byte per element plus its elements.
- Table write (read-write-operations.html#write-operation-consumption): 1 unit per started KB of the item;
  PutItem and UpdateItem by the larger of the item before and after the write (an UpdateItem of one small
  attribute costs the whole stored item), DeleteItem by the deleted item; a conditional write whose
  condition fails still costs the stored item's size (at least 1); BatchWriteItem prices each item as a
  PutItem or DeleteItem; TransactWriteItems twice (prepare and commit) per item.
- Index writes (GSI.html, "Provisioned throughput considerations for global secondary indexes" → writes):
  on each global secondary index, a write that puts the item into the index costs one write of the new
  index entry, one that takes it out one write (a delete of the old entry), one that changes the item's
  index key two (delete + put), one that changes only projected attributes one write; no write when the
  item is in the index neither before nor after, or its entry is unchanged. "Larger index entries require
  additional write capacity units": each of these writes is per started KB of its entry (a projection of
  ALL is the whole item). The index is maintained after a transaction commits, so its writes are not
  doubled as the table's are.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

KB = 1024
LIST_OR_MAP_OVERHEAD = 3  # bytes, whatever the contents
ELEMENT_OVERHEAD = 1  # byte per element of a list or map


# --- item size ------------------------------------------------------------------------------------


def item_size(attributes: Mapping[str, Any]) -> int:
    """Bytes DynamoDB counts for an item given in DynamoDB JSON ({"name": {"S": "…"}, …})."""
    return sum(_utf8(name) + value_size(value) for name, value in attributes.items())


def value_size(value: Mapping[str, Any]) -> int:
    """Bytes of one typed value ({"S": …}, {"N": …}, {"B": …}, {"L": […]}, {"M": {…}}, sets, BOOL, NULL)."""
    (kind, content), = value.items()
    if kind == "S":
        return _utf8(content)
    if kind == "N":
        return _number_size(content)
    if kind == "B":
        return _binary_size(content)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(_utf8(s) for s in content)
    if kind == "NS":
        return sum(_number_size(n) for n in content)
    if kind == "BS":
        return sum(_binary_size(b) for b in content)
    if kind == "L":
        return LIST_OR_MAP_OVERHEAD + sum(ELEMENT_OVERHEAD + value_size(v) for v in content)
    if kind == "M":
        return LIST_OR_MAP_OVERHEAD + sum(ELEMENT_OVERHEAD + _utf8(k) + value_size(v) for k, v in content.items())
    raise ValueError(f"not a DynamoDB attribute value type: {kind}")


def _utf8(text: str) -> int:
    return len(text.encode("utf-8"))


def _binary_size(content: str | bytes) -> int:
    """Raw bytes: the wire format carries binary as base64 text, moto may keep either."""
    return len(content) if isinstance(content, bytes | bytearray) else len(base64.b64decode(content))


def _number_size(text: str) -> int:
    """1 byte per two significant digits (leading and trailing zeroes trimmed), plus 1."""
    digits = "".join(str(d) for d in Decimal(text).normalize().as_tuple().digits).strip("0")
    return math.ceil(len(digits) / 2) + 1


# --- an item as stored, seen by the table and its indexes ----------------------------------------


@dataclass(frozen=True)
class IndexSchema:
    """A global secondary index: its key attributes and what it projects (None: ALL)."""

    name: str
    key_attributes: tuple[str, ...]
    projected: frozenset[str] | None = None  # KEYS_ONLY/INCLUDE: table keys + index keys (+ non-key)


@dataclass(frozen=True)
class IndexEntry:
    """The item's entry in one index: its index key, its size and what it holds (to see a change)."""

    key: str
    size: int
    content: str


@dataclass(frozen=True)
class ItemImage:
    """One stored item as billing sees it: its size and its entry in each index it is in (sparse)."""

    size: int
    entries: Mapping[str, IndexEntry] = field(default_factory=dict)


def image(attributes: Mapping[str, Any], indexes: Iterable[IndexSchema]) -> ItemImage:
    """The item (DynamoDB JSON) as the table and each of `indexes` hold it."""
    entries = {}
    for index in indexes:
        if not all(name in attributes for name in index.key_attributes):
            continue  # sparse: an item without the index's keys is not in it
        projected = {k: v for k, v in attributes.items() if index.projected is None or k in index.projected}
        entries[index.name] = IndexEntry(
            key=_canonical({k: attributes[k] for k in index.key_attributes}),
            size=item_size(projected),
            content=_canonical(projected),
        )
    return ItemImage(item_size(attributes), entries)


def _canonical(attributes: Mapping[str, Any]) -> str:
    return json.dumps(attributes, sort_keys=True, default=lambda b: base64.b64encode(b).decode())


# --- pricing --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WriteUnits:
    """Write units of one or more item writes: the table's and each index's."""

    table: float = 0.0
    indexes: Mapping[str, float] = field(default_factory=dict)

    @property
    def index_total(self) -> float:
        return sum(self.indexes.values())

    @property
    def total(self) -> float:
        return self.table + self.index_total

    def __add__(self, other: WriteUnits) -> WriteUnits:
        names = set(self.indexes) | set(other.indexes)
        return WriteUnits(
            self.table + other.table,
            {n: self.indexes.get(n, 0.0) + other.indexes.get(n, 0.0) for n in sorted(names)},
        )


def kilobytes(size: int) -> int:
    """Started KB, at least 1: what one write of an item of `size` bytes costs."""
    return max(1, math.ceil(size / KB))


def price_write(before: ItemImage | None, after: ItemImage | None, *, transactional: bool = False) -> WriteUnits:
    """The units one item's write costs, from the item before and after it (None: no item). A write that
    changed nothing (a failed condition) has before == after: the table's units, no index writes."""
    size = max(before.size if before else 0, after.size if after else 0)
    table = float(kilobytes(size) * (2 if transactional else 1))
    names = sorted(set(before.entries if before else ()) | set(after.entries if after else ()))
    indexes = {
        name: float(_index_writes((before.entries if before else {}).get(name),
                                  (after.entries if after else {}).get(name)))
        for name in names
    }
    return WriteUnits(table, {name: units for name, units in indexes.items() if units})


def _index_writes(old: IndexEntry | None, new: IndexEntry | None) -> int:
    if old is None:
        return kilobytes(new.size) if new else 0  # put into the index (or in it neither before nor after)
    if new is None:
        return kilobytes(old.size)  # deleted from the index
    if old.key != new.key:
        return kilobytes(old.size) + kilobytes(new.size)  # delete + put under the new key
    if old.content == new.content:
        return 0
    return kilobytes(max(old.size, new.size))  # the entry's projected attributes updated in place
