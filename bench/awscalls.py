"""Count AWS requests at the boto3 layer, per service and operation, and who made them.

botocore registers `botocore.handlers.BUILTIN_HANDLERS` on every new botocore session, and our adapters
make their one `boto3.session.Session()` at their first client (after `install`, which comes before the
stack); adding one observe-only `before-send` handler to that list therefore sees every request of every
client created afterwards (ours, Powertools', the sandbox's) without touching our code. `before-send` fires once per HTTP attempt, so SDK retries count,
as AWS bills them. The handler returns None, which lets botocore send the request as usual.

DynamoDB writes are priced as DynamoDB bills them, by the stored item before and after each write and with
the index writes it causes (dynamodb_units.py): `before-call` reads the items the request names from moto's
backend in this process (moto_items.py; no request of ours), `after-call` reads them again.

Requests made inside a Lambda handler are attributed to that function: the embedded stack knows which
function it runs (`sandbox.lambdas.current_function`, set by `Handlers.invoke`); the rest (the emulated
event-source mappings' polling, the bench's own checks) are kept apart as `platform`, not priced as ours.
"""

from __future__ import annotations

import json
import math
import threading
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import botocore.handlers

from sandbox.lambdas import current_function as running_function

from .dynamodb_units import ItemImage, WriteUnits, price_write
from .moto_items import stored_images

PLATFORM = "platform"
TABLE = "table"  # the table's own write units, beside each index's (by index name)
_PENDING_WRITE = "bench_pending_write"  # in botocore's request context: the items before the write
PendingWrite = tuple[str, list[tuple[str, Mapping[str, Any]]], list[ItemImage | None]]  # region, targets, before
# Failed writes DynamoDB still bills (a false condition: the stored item's size); others (validation) not.
BILLED_FAILURES = {"ConditionalCheckFailedException", "TransactionCanceledException"}
_scope = threading.local()  # per thread: whether the DynamoDB read just sent was strongly consistent

DYNAMODB_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
DYNAMODB_READS = {"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"}


def current_function() -> str:
    return running_function.get() or PLATFORM


@dataclass
class AwsCallCounter:
    """requests[(function, service, operation)]; DynamoDB write units by (function, TABLE or index name),
    read units by function."""

    requests: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    dynamodb_write_units: defaultdict[tuple[str, str], float] = field(default_factory=lambda: defaultdict(float))
    dynamodb_read_units: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _installed: bool = False

    # --- botocore event handlers (observe only; always return None) -----------------------------

    def on_before_send(self, request: Any = None, event_name: str = "", **_: Any) -> None:
        # event_name: "before-send.<service-id>.<Operation>"
        _event, service, operation = (event_name.split(".", 2) + ["", ""])[:3]
        function = current_function()
        with self._lock:
            self.requests[(function, service.lower(), operation)] += 1
        if service.lower() == "dynamodb" and operation in DYNAMODB_READS and request is not None:
            # after-call does not carry the parameters: remember the read's consistency for it
            _scope.consistent_read = b'"ConsistentRead": true' in _as_bytes(request.body)
        return None

    def on_before_call(self, model: Any = None, params: Any = None, context: Any = None, **_: Any) -> None:
        """Before a DynamoDB write is sent (once per call, not per retry): the items it names, as stored."""
        if model is None or model.name not in DYNAMODB_WRITES or context is None or params is None:
            return None
        try:
            payload = json.loads(params.get("body") or b"{}")
        except (TypeError, ValueError):
            return None
        targets = write_targets(model.name, payload)
        region = context.get("client_region") or ""
        pending: PendingWrite = (region, targets, stored_images(region, targets))
        context[_PENDING_WRITE] = pending
        return None

    def on_after_call(self, http_response: Any = None, parsed: Any = None, model: Any = None, context: Any = None,
                      **_: Any) -> None:
        if model is None or http_response is None:
            return None
        if model.name in DYNAMODB_WRITES and context is not None and _PENDING_WRITE in context:
            self._count_write(model.name, http_response.status_code, parsed, context.pop(_PENDING_WRITE))
            return None
        if model.name not in DYNAMODB_READS:
            return None
        consistent = getattr(_scope, "consistent_read", False)
        units = read_units(model.name, len(http_response.content or b""), consistent)
        with self._lock:
            self.dynamodb_read_units[current_function()] += units
        return None

    def _count_write(self, operation: str, status: int, parsed: Any, pending: PendingWrite) -> None:
        error = (parsed or {}).get("Error", {}).get("Code") if status >= 300 else None
        if error is not None and error not in BILLED_FAILURES:
            return
        region, targets, before = pending
        units = price_request(operation, before, stored_images(region, targets))
        function = current_function()
        with self._lock:
            self.dynamodb_write_units[(function, TABLE)] += units.table
            for index, index_units in units.indexes.items():
                self.dynamodb_write_units[(function, index)] += index_units

    # --- lifecycle ------------------------------------------------------------------------------

    def install(self) -> None:
        """Register on every botocore session created from now on (clients made earlier are not seen)."""
        if self._installed:
            return
        botocore.handlers.BUILTIN_HANDLERS.extend(self._handlers())
        self._installed = True

    def uninstall(self) -> None:
        for spec in self._handlers():
            if spec in botocore.handlers.BUILTIN_HANDLERS:
                botocore.handlers.BUILTIN_HANDLERS.remove(spec)
        self._installed = False

    def _handlers(self) -> list[tuple[str, Any]]:
        return [("before-send", self.on_before_send), ("before-call.dynamodb", self.on_before_call),
                ("after-call.dynamodb", self.on_after_call)]

    def copy(self) -> AwsCallCounter:
        """What was counted so far, apart (not installed)."""
        with self._lock:
            return AwsCallCounter(Counter(self.requests), defaultdict(float, self.dynamodb_write_units),
                                  defaultdict(float, self.dynamodb_read_units))

    def since(self, earlier: AwsCallCounter) -> AwsCallCounter:
        """What was counted after `earlier` (a `copy()`), apart."""
        now = self.copy()
        requests = Counter({key: n - earlier.requests[key] for key, n in now.requests.items()
                            if n > earlier.requests[key]})
        writes = defaultdict(float, {k: v - earlier.dynamodb_write_units[k] for k, v in now.dynamodb_write_units.items()})
        reads = defaultdict(float, {k: v - earlier.dynamodb_read_units[k] for k, v in now.dynamodb_read_units.items()})
        return AwsCallCounter(requests, writes, reads)

    def restore(self, earlier: AwsCallCounter) -> None:
        """Count from `earlier` (a `copy()`) on, as if nothing after it had been counted."""
        with self._lock:
            self.requests = Counter(earlier.requests)
            self.dynamodb_write_units = defaultdict(float, earlier.dynamodb_write_units)
            self.dynamodb_read_units = defaultdict(float, earlier.dynamodb_read_units)

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.dynamodb_write_units.clear()
            self.dynamodb_read_units.clear()

    # --- views ----------------------------------------------------------------------------------

    def by_service(self, include_platform: bool = False) -> dict[str, dict[str, int]]:
        """{service: {operation: count}} of the handlers' requests (and the platform's if asked)."""
        result: dict[str, dict[str, int]] = {}
        for (function, service, operation), count in sorted(self.requests.items()):
            if function == PLATFORM and not include_platform:
                continue
            result.setdefault(service, {}).setdefault(operation, 0)
            result[service][operation] += count
        return result

    def by_function(self) -> dict[str, dict[str, int]]:
        result: dict[str, dict[str, int]] = {}
        for (function, service, _operation), count in sorted(self.requests.items()):
            result.setdefault(function, {}).setdefault(service, 0)
            result[function][service] += count
        return result

    def by_function_operation(self) -> dict[str, dict[str, dict[str, int]]]:
        """{function: {service: {operation: count}}} of the handlers (the platform left out)."""
        result: dict[str, dict[str, dict[str, int]]] = {}
        for (function, service, operation), count in sorted(self.requests.items()):
            if function != PLATFORM:
                result.setdefault(function, {}).setdefault(service, {})[operation] = count
        return result

    def handler_write_units(self) -> dict[str, float]:
        """The handlers' DynamoDB write units: {TABLE: the table's, index name: that index's}."""
        result: dict[str, float] = {}
        for (function, target), units in sorted(self.dynamodb_write_units.items()):
            if function != PLATFORM and units:
                result[target] = result.get(target, 0.0) + units
        return result

    def handler_units(self) -> tuple[float, float]:
        """(write units of the table and its indexes, read units) of the handlers' DynamoDB requests."""
        writes = sum(self.handler_write_units().values())
        reads = sum(v for k, v in self.dynamodb_read_units.items() if k != PLATFORM)
        return writes, reads


def write_targets(operation: str, payload: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """(table name, the item or its key) of every item a write request writes, in DynamoDB JSON."""
    if operation == "BatchWriteItem":
        return [
            (table, w.get("PutRequest", {}).get("Item") or w.get("DeleteRequest", {}).get("Key") or {})
            for table, writes in payload.get("RequestItems", {}).items()
            for w in writes
        ]
    if operation == "TransactWriteItems":  # Put, Update, Delete and ConditionCheck: each billed as a write
        entries = [next(iter(entry.values())) for entry in payload.get("TransactItems", [])]
        return [(e.get("TableName", ""), e.get("Item") or e.get("Key") or {}) for e in entries]
    return [(payload.get("TableName", ""), payload.get("Item") or payload.get("Key") or {})]


def price_request(operation: str, before: list[ItemImage | None], after: list[ItemImage | None]) -> WriteUnits:
    """The units of one write request: each item's write priced by the item before and after it."""
    transactional = operation == "TransactWriteItems"
    return sum(
        (price_write(b, a, transactional=transactional) for b, a in zip(before, after, strict=True)), WriteUnits()
    )


def _as_bytes(body: bytes | str | None) -> bytes:
    if body is None:
        return b""
    return body.encode() if isinstance(body, str) else bytes(body)


def read_units(operation: str, response_bytes: int, consistent: bool) -> float:
    """On-demand read request units: per started 4 KB read, half for eventually consistent reads."""
    blocks = max(1, math.ceil(response_bytes / 4096))
    if operation == "TransactGetItems":
        return 2.0 * blocks
    return blocks * (1.0 if consistent else 0.5)
