"""Count the AWS requests a step makes, at the botocore layer (no patching): an observe-only `before-send`
handler on every botocore session made inside the block. The adapters' cached clients are dropped on entry
and exit, so that the step's clients are made anew and seen.

Each DynamoDB request is kept with the kinds of the items it names (`PK prefix/SK prefix`, e.g.
`INVOICE/EVENT`), so a test can say which items one request wrote."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import botocore.handlers
from invoice_bridge.adapters.aws import reset_clients


@dataclass
class Requests:
    sent: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)  # ("service.Operation", item kinds)

    def of(self, service: str) -> list[tuple[str, tuple[str, ...]]]:
        """(operation, item kinds) of one service's requests, in order."""
        return [(name.split(".", 1)[1], kinds) for name, kinds in self.sent if name.split(".", 1)[0] == service]

    def dynamodb_writes(self, *kinds: str) -> list[tuple[str, tuple[str, ...]]]:
        """The DynamoDB writes that touch an item of one of `kinds` (all writes when none is named)."""
        writes = [(op, k) for op, k in self.of("dynamodb") if op in _WRITES]
        return [(op, k) for op, k in writes if not kinds or set(k) & set(kinds)]

    def gets(self) -> Counter[str]:
        """The DynamoDB GetItem requests, by the kind of item each read."""
        return Counter(kind for op, kinds in self.of("dynamodb") if op == "GetItem" for kind in kinds)

    def batch_gets(self) -> list[Counter[str]]:
        """The DynamoDB BatchGetItem requests, in order: how many keys of each kind each asked for."""
        return [Counter(kinds) for op, kinds in self.of("dynamodb") if op == "BatchGetItem"]

    def clear(self) -> None:
        self.sent.clear()


_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}


def _kind(key: dict[str, Any]) -> str:
    return "/".join(str(key[name]["S"]).split("#")[0] for name in ("PK", "SK"))


def _item_kinds(operation: str, body: Any) -> tuple[str, ...]:
    try:
        payload = json.loads(body or b"{}")
    except (TypeError, ValueError):
        return ()
    if operation == "TransactWriteItems":
        entries = [next(iter(entry.values())) for entry in payload.get("TransactItems", [])]
        return tuple(_kind(entry.get("Item") or entry["Key"]) for entry in entries)
    if operation == "BatchGetItem":  # one kind per key, in order: the test tells the kinds and the count
        return tuple(_kind(key) for table in payload.get("RequestItems", {}).values() for key in table["Keys"])
    if operation == "BatchWriteItem":  # one kind per item written, in order
        return tuple(_kind(w.get("PutRequest", {}).get("Item") or w.get("DeleteRequest", {}).get("Key"))
                     for writes in payload.get("RequestItems", {}).values() for w in writes)
    key = payload.get("Item") or payload.get("Key")
    return (_kind(key),) if isinstance(key, dict) and "PK" in key else ()


@contextmanager
def aws_requests() -> Iterator[Requests]:
    requests = Requests()

    def on_send(request: Any = None, event_name: str = "", **_: Any) -> None:
        _event, service, operation = (event_name.split(".", 2) + ["", ""])[:3]
        service = service.lower()
        kinds = _item_kinds(operation, request.body) if service == "dynamodb" and request is not None else ()
        requests.sent.append((f"{service}.{operation}", kinds))

    handler = ("before-send", on_send)
    botocore.handlers.BUILTIN_HANDLERS.append(handler)
    reset_clients()
    try:
        yield requests
    finally:
        botocore.handlers.BUILTIN_HANDLERS.remove(handler)
        reset_clients()
