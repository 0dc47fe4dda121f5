"""Crashes between a step's stored result and the message that follows it (the soak; issue 12 §2).

Every step stores its result and then hands on: the sync imports an invoice, then sends its render
message; render stores the documents, then sends the dispatch message; dispatch stores the next version
of an invoice changed at the source, then sends its render message; dispatch has the operator's (or
SES's) answer, then records the delivery and the invoice `sent`, one transaction that hands the invoice to
the tracker (a crash before it leaves an intent whose outcome the retry must find out); the tracker
reroutes a failed e-invoice, then sends its dispatch message. A Lambda can die at any of these points
(a timeout, out of memory, the host going away), and what it stored must still be handed on.

`StepCrashes` kills the function right there, at a rate per point (the first new hand-off at each point
for sure) and only the first time a hand-off is made (so the retry gets through even at rate 1): a botocore client plugin
(`PLUGIN`, added to BOTOCORE_EXPERIMENTAL__PLUGINS by the embedded stack, so every handler's client has
it) looks at each call a handler is about to make and raises `StepCrash` before the call that hands on.
`StepCrash` is a BaseException: no `except Exception` in the handler (Powertools' batch processor, the
dispatch giving its lease back, our own) can treat it as a failure and tidy up, as none can when a Lambda dies. The
drainer's fault hook (sandbox/faults.py) turns it into a crashed invocation.
"""

from __future__ import annotations

import random
import re
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .iam.enforcement import current_principal

PLUGIN = "invoice_bridge_step_crashes=sandbox.step_crashes"


class StepCrash(BaseException):
    """The function died between its stored result and the message that follows (an injected fault)."""


# (function, AWS service, operation, the call's parameters, queue URL → logical id) → the call hands on
Matcher = Callable[[str, str, str, Mapping[str, Any], Mapping[str, str]], bool]


@dataclass(frozen=True)
class CrashPoint:
    name: str
    matches: Matcher


def _sends_to(function: str, queue: str) -> Matcher:
    def matches(caller: str, service: str, operation: str, params: Mapping[str, Any],
                queues: Mapping[str, str]) -> bool:
        return (caller == function and service == "sqs" and operation in ("SendMessage", "SendMessageBatch")
                and queues.get(str(params.get("QueueUrl", ""))) == queue)

    return matches


def _plain(value: Any) -> Any:
    """A DynamoDB attribute as the client sends it ({"S": "sent"}) or as the resource takes it ("sent")."""
    return value.get("S", value.get("N")) if isinstance(value, dict) else value


_ASSIGNMENT = re.compile(r"(#\w+) = (:\w+)(?=,|\s|$)")


def _updated_item(update: Mapping[str, Any]) -> Mapping[str, Any]:
    """What an Update writes: its key and every `#name = :value` of its SET clause (an invoice's move is
    an update of the whole item, adapters/dynamo_invoices.py)."""
    names = update.get("ExpressionAttributeNames") or {}
    values = update.get("ExpressionAttributeValues") or {}
    sets = str(update.get("UpdateExpression") or "").split(" REMOVE ")[0]
    assigned = {names.get(name, name): values[value] for name, value in _ASSIGNMENT.findall(sets) if value in values}
    return {**(update.get("Key") or {}), **assigned}


def _written_items(operation: str, params: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    if operation == "PutItem":
        return [params.get("Item") or {}]
    if operation == "UpdateItem":
        return [_updated_item(params)]
    if operation == "TransactWriteItems":
        return [(entry["Put"].get("Item") or {}) if "Put" in entry else _updated_item(entry.get("Update") or {})
                for entry in params.get("TransactItems") or []]
    return []


def _moves_invoice_to_sent(caller: str, service: str, operation: str, params: Mapping[str, Any],
                           queues: Mapping[str, str]) -> bool:
    """Dispatch writes the invoice `sent` (with its delivery, or alone after it): from here the tracker has it."""
    return caller == "DispatchFunction" and service == "dynamodb" and any(
        str(_plain(item.get("PK"))).startswith("INVOICE#") and _plain(item.get("SK")) == "INVOICE"
        and _plain(item.get("status")) == "sent"
        for item in _written_items(operation, params))


def _hand_offs(operation: str, params: Mapping[str, Any]) -> list[str]:
    """What a call hands on: each message body it sends (one SendMessage, or each entry of a batch: a message
    is the same hand-off however it is sent), or the invoice versions it writes (one hand-off)."""
    bodies = [params.get("MessageBody")] if "MessageBody" in params else \
        [entry.get("MessageBody") for entry in params.get("Entries") or []]
    if any(bodies):
        return [str(body) for body in bodies]
    items = _written_items(operation, params)
    return [repr([(_plain(item.get("PK")), _plain(item.get("version"))) for item in items])]


POINTS = (
    CrashPoint("sync→render", _sends_to("SyncIntegrationFunction", "RenderQueue")),
    CrashPoint("render→dispatch", _sends_to("RenderFunction", "DispatchQueue")),
    CrashPoint("dispatch→render (changed at the source)", _sends_to("DispatchFunction", "RenderQueue")),
    CrashPoint("dispatch→tracking (sent, not yet recorded)", _moves_invoice_to_sent),
    CrashPoint("tracking→dispatch (rerouted)", _sends_to("TrackDeliveriesFunction", "DispatchQueue")),
)
POINT_NAMES = tuple(point.name for point in POINTS)


@dataclass
class StepCrashes:
    """Crash at each point (`POINTS`) with its rate (point name → probability per call)."""

    rates: dict[str, float]
    seed: int | None = None
    queue_urls: dict[str, str] = field(default_factory=dict)  # logical id → URL (the stack's queues)
    counts: Counter[str] = field(default_factory=Counter)  # crashes injected, by point
    enabled: bool = True
    # The first new hand-off at each point with a rate crashes for sure, the rest at the rate: a run
    # proves every point it reaches, whatever its draws (a small run reaches some points a few times only).
    first_for_sure: bool = True

    def __post_init__(self) -> None:
        unknown = set(self.rates) - set(POINT_NAMES)
        if unknown:
            raise ValueError(f"unknown crash points {sorted(unknown)}; known: {POINT_NAMES}")
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()
        self._queues: dict[str, str] = {}
        self._seen: set[tuple[str, str]] = set()  # (point, hand-off) made at least once
        self.attach(self.queue_urls)

    def attach(self, queue_urls: Mapping[str, str]) -> StepCrashes:
        """The stack's queues (logical id → URL), once it is up."""
        self.queue_urls = dict(queue_urls)
        self._queues = {url: logical_id for logical_id, url in self.queue_urls.items()}
        return self

    def missed(self) -> list[str]:
        """Points with a rate that never crashed (the run did not prove them)."""
        return [name for name, rate in self.rates.items() if rate > 0 and not self.counts[name]]

    def before_call(self, function: str, service: str, operation: str, params: Mapping[str, Any]) -> None:
        if not self.enabled:
            return
        for point in POINTS:
            rate = self.rates.get(point.name, 0.0)
            if rate and point.matches(function, service, operation, params, self._queues) and \
                    self._crash_now(point.name, _hand_offs(operation, params), rate):
                raise StepCrash(f"{function}: injected crash at {point.name}, before {service}:{operation}")

    def _crash_now(self, point: str, hand_offs: list[str], rate: float) -> bool:
        """At `rate`, when a call makes a hand-off (the same message, the same invoice version) for the first
        time, never when it makes only hand-offs made before: the retry that follows a crash must get
        through, even at rate 1, and a sync that hands on a hundred invoices must not die again on the ones
        it handed on before its last crash (it would run out of receives into its DLQ, which no Lambda dying
        per invocation would do). A batch re-sent with other entries, or split, is judged by its messages."""
        with self._lock:
            new = {(point, hand_off) for hand_off in hand_offs} - self._seen
            if not new:
                return False
            self._seen |= new
            if (self.counts[point] or not self.first_for_sure) and self._random.random() >= rate:
                return False
            self.counts[point] += 1
            return True


_active: StepCrashes | None = None


def activate(crashes: StepCrashes | None) -> None:
    """Crash the stack's handlers as `crashes` says (None: never). One stack per process."""
    global _active
    _active = crashes


def initialize_client_plugin(client: Any) -> None:
    # Last, after boto3's DynamoDB serialisation: the parameters as they go out.
    client.meta.events.register_last("before-parameter-build", _before_call)


def _before_call(params: dict[str, Any], model: Any, **_: Any) -> None:
    crashes, principal = _active, current_principal()
    if crashes is None or principal is None:
        return
    crashes.before_call(principal.function, model.service_model.service_name, model.name, params)
