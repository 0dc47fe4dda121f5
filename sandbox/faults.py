"""Queue-delivery faults for the local drainer (the soak): what SQS and Lambda do to a handler in AWS.

`DeliveryFaults` is the drainer's opt-in `invoke_hook` (sandbox/drainer.py). For each received message it
may, independently and at the configured rates:
- duplicate it: send the same body again (SQS is at-least-once; the copy is a new message);
- delay it: send the same body again with DelaySeconds and take the original out of this batch, so the
  handler sees it seconds later and out of order (the original is deleted as if handled);
and for each batch it may crash the invocation:
- before the handler ran (nothing done; every record returns to the queue), or
- after the handler did its work (everything done, but Lambda reports an error, so every record comes
  back and is processed again).
A handler that died mid-way (`StepCrash`, sandbox/step_crashes.py) is a crashed invocation too.

Counts of what was injected are kept in `counts` for the soak's report. A seeded Random makes runs
repeatable (as far as thread timing allows).
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .drainer import Pump
from .step_crashes import StepCrash


class InjectedCrash(RuntimeError):
    """The handler 'crashed' (an injected fault); the drainer returns the whole batch to its queue."""


@dataclass
class DeliveryFaultRates:
    duplicate: float = 0.0  # per message
    delay: float = 0.0  # per message
    delay_seconds: tuple[int, int] = (1, 5)
    crash_before: float = 0.0  # per batch
    crash_after: float = 0.0  # per batch

    def __post_init__(self) -> None:
        for name in ("duplicate", "delay", "crash_before", "crash_after"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ValueError(f"{name} is a probability, got {value}")
        low, high = self.delay_seconds
        if not 0 <= low <= high <= 900:  # SQS DelaySeconds is 0..900
            raise ValueError(f"delay_seconds must be within 0..900, got {self.delay_seconds}")


@dataclass
class DeliveryFaults:
    """The drainer's invoke hook. `sqs` is a boto3 SQS client bound to the stack's moto server."""

    rates: DeliveryFaultRates
    sqs: Any = None  # set once the stack is up (see `attach`)
    seed: int | None = None
    counts: Counter[str] = field(default_factory=Counter)
    enabled: bool = True

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()

    def attach(self, sqs: Any) -> DeliveryFaults:
        self.sqs = sqs
        return self

    def _roll(self, rate: float) -> bool:
        with self._lock:
            return self._random.random() < rate

    def _delay(self) -> int:
        with self._lock:
            return self._random.randint(*self.rates.delay_seconds)

    def __call__(self, pump: Pump, messages: list[dict[str, Any]], invoke: Any) -> Any:
        def invoke_or_crash(batch: list[dict[str, Any]]) -> Any:
            try:
                return invoke(batch)
            except StepCrash as crash:  # the handler died mid-way (sandbox/step_crashes.py)
                raise InjectedCrash(str(crash)) from None

        return self._with_faults(pump, messages, invoke_or_crash)

    def _with_faults(self, pump: Pump, messages: list[dict[str, Any]], invoke: Any) -> Any:
        if not self.enabled or self.sqs is None:
            return invoke(messages)
        # Not a fault: how many deliveries were a failed message coming back (by backoff or timeout).
        redelivered = sum(int((m.get("Attributes") or {}).get("ApproximateReceiveCount", "1")) > 1 for m in messages)
        if redelivered:
            self.counts["redelivered"] += redelivered
        handled_now = []
        for message in messages:
            if self._roll(self.rates.duplicate):
                self.sqs.send_message(QueueUrl=pump.queue_url, MessageBody=message["Body"])
                self.counts["duplicated"] += 1
            if self._roll(self.rates.delay):
                self.sqs.send_message(
                    QueueUrl=pump.queue_url, MessageBody=message["Body"], DelaySeconds=self._delay()
                )
                self.counts["delayed"] += 1
                continue  # the delayed copy replaces it; the drainer deletes the original
            handled_now.append(message)
        if self._roll(self.rates.crash_before):
            self.counts["crashed_before"] += 1
            raise InjectedCrash(f"{pump.function}: injected crash before the handler ran")
        result = invoke(handled_now) if handled_now else {"batchItemFailures": []}
        if self._roll(self.rates.crash_after):
            self.counts["crashed_after"] += 1
            raise InjectedCrash(f"{pump.function}: injected crash after the handler did its work")
        return result
