"""Items as moto stores them, read from its backend in this process: the bench prices a write by the item
before and after it (dynamodb_units.py), which the request does not carry. Reading the backend sends no
request, so the request counts stay what the handlers sent.

Works for the embedded stack's moto server (a thread of this process; the read holds the lock its
DynamoDB requests are served under, so it never sees an item half-written) and for `mock_aws`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table

from sandbox.moto_server import DYNAMODB_LOCK

from .dynamodb_units import IndexSchema, ItemImage, image


def stored_images(region: str, targets: list[tuple[str, Mapping[str, Any]]]) -> list[ItemImage | None]:
    """The stored item of each (table name, item or key in DynamoDB JSON), None where there is none (or
    the table is not moto's in `region`)."""
    with DYNAMODB_LOCK:
        return [_image(_table(region, name), keyed) for name, keyed in targets]


def _table(region: str, name: str) -> Table | None:
    for account in list(dynamodb_backends.keys()):
        backend = dynamodb_backends[account].get(region)  # dict.get: never creates a backend
        table = backend.tables.get(name) if backend is not None else None
        if table is not None:
            return table
    return None


def _image(table: Table | None, keyed: Mapping[str, Any]) -> ItemImage | None:
    if table is None or not all(name in keyed for name in _table_keys(table)):
        return None
    range_key = DynamoType(keyed[table.range_key_attr]) if table.range_key_attr else None
    item = table.get_item(DynamoType(keyed[table.hash_key_attr]), range_key)
    if item is None:
        return None
    attributes = {name: value.to_regular_json() for name, value in item.attrs.items()}
    return image(attributes, _indexes(table))


def _indexes(table: Table) -> list[IndexSchema]:
    indexes = []
    for index in table.global_indexes:
        keys = tuple(k["AttributeName"] for k in index.schema)
        projection = index.projection or {}
        kind = projection.get("ProjectionType", "ALL")
        projected = None
        if kind != "ALL":
            non_key = projection.get("NonKeyAttributes", []) if kind == "INCLUDE" else []
            projected = frozenset([*_table_keys(table), *keys, *non_key])
        indexes.append(IndexSchema(index.name, keys, projected))
    return indexes


def _table_keys(table: Table) -> list[str]:
    return [table.hash_key_attr, *([table.range_key_attr] if table.range_key_attr else [])]
