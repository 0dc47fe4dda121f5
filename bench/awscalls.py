"""Count AWS requests at the boto3 layer, per service and operation, and who made them.

botocore registers `botocore.handlers.BUILTIN_HANDLERS` on every new botocore session, and our adapters
make a new `boto3.session.Session()` per cached client; adding one observe-only `before-send` handler to
that list therefore sees every request of every client created afterwards (ours, Powertools', the
sandbox's) without touching our code. `before-send` fires once per HTTP attempt, so SDK retries count,
as AWS bills them. The handler returns None, which lets botocore send the request as usual.

Requests made inside a Lambda handler are attributed to that function: the embedded stack knows which
function it runs (`sandbox.lambdas.current_function`, set by `Handlers.invoke`); the rest (the emulated
event-source mappings' polling, the bench's own checks) are kept apart as `platform`, not priced as ours.
"""

from __future__ import annotations

import json
import math
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import botocore.handlers

from sandbox.lambdas import current_function as running_function

PLATFORM = "platform"
_scope = threading.local()  # per thread: whether the DynamoDB read just sent was strongly consistent

DYNAMODB_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
DYNAMODB_READS = {"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"}


def current_function() -> str:
    return running_function.get() or PLATFORM


@dataclass
class AwsCallCounter:
    """requests[(function, service, operation)] and DynamoDB request units estimated from item sizes."""

    requests: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    dynamodb_write_units: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
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
        if service.lower() == "dynamodb" and operation in DYNAMODB_WRITES and request is not None:
            units = write_units(operation, request.body)
            with self._lock:
                self.dynamodb_write_units[function] += units
        return None

    def on_after_call(self, http_response: Any = None, model: Any = None, **_: Any) -> None:
        if model is None or model.name not in DYNAMODB_READS or http_response is None:
            return None
        consistent = getattr(_scope, "consistent_read", False)
        units = read_units(model.name, len(http_response.content or b""), consistent)
        with self._lock:
            self.dynamodb_read_units[current_function()] += units
        return None

    # --- lifecycle ------------------------------------------------------------------------------

    def install(self) -> None:
        """Register on every botocore session created from now on (clients made earlier are not seen)."""
        if self._installed:
            return
        botocore.handlers.BUILTIN_HANDLERS.append(("before-send", self.on_before_send))
        botocore.handlers.BUILTIN_HANDLERS.append(("after-call.dynamodb", self.on_after_call))
        self._installed = True

    def uninstall(self) -> None:
        for spec in (("before-send", self.on_before_send), ("after-call.dynamodb", self.on_after_call)):
            if spec in botocore.handlers.BUILTIN_HANDLERS:
                botocore.handlers.BUILTIN_HANDLERS.remove(spec)
        self._installed = False

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

    def handler_units(self) -> tuple[float, float]:
        """(write units, read units) of the handlers' DynamoDB requests."""
        writes = sum(v for k, v in self.dynamodb_write_units.items() if k != PLATFORM)
        reads = sum(v for k, v in self.dynamodb_read_units.items() if k != PLATFORM)
        return writes, reads


def write_units(operation: str, body: bytes | str | None) -> float:
    """On-demand write request units of one write: 1 per started KB per item, twice for transactions.

    The item size is estimated from the request's JSON (attribute names + values), which is what
    DynamoDB bills on within a few bytes."""
    try:
        payload = json.loads(body or b"{}")
    except (TypeError, ValueError):
        return 1.0
    items: list[Any]
    if operation == "BatchWriteItem":
        items = [
            w.get("PutRequest", {}).get("Item") or w.get("DeleteRequest", {}).get("Key")
            for writes in payload.get("RequestItems", {}).values()
            for w in writes
        ]
    elif operation == "TransactWriteItems":
        items = [next(iter(entry.values())) for entry in payload.get("TransactItems", [])]
    else:
        items = [payload.get("Item") or payload]
    factor = 2 if operation == "TransactWriteItems" else 1
    return float(sum(factor * max(1, math.ceil(_item_bytes(item) / 1024)) for item in items))


def _item_bytes(item: Any) -> int:
    """The item's JSON size, with binary values counted by their bytes (DynamoDB bills those, while the
    request carries them base64-encoded, a third larger)."""
    return len(json.dumps(item)) - sum(len(b64) - len(b64) * 3 // 4 for b64 in _binary_values(item))


def _binary_values(value: Any) -> list[str]:
    if isinstance(value, dict):
        if set(value) == {"B"} and isinstance(value["B"], str):
            return [value["B"]]
        return [b for v in value.values() for b in _binary_values(v)]
    if isinstance(value, list):
        return [b for v in value for b in _binary_values(v)]
    return []


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
