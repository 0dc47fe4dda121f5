"""SendMessageBatch entries that SQS fails on its side, as the real service may (moto never does).

SQS answers a SendMessageBatch that it accepted with `Successful` and `Failed` entries: a failed entry
(e.g. `InternalError`, `SenderFault: false`) was not enqueued, while the others were. A sender that
counts the whole request as sent loses those messages. `SqsBatchFaults` fails entries of moto's
SendMessageBatch that way: scripted (the next entries whose body contains a text) or drawn at a rate (the
soak). The failed entries are taken out of the batch before moto enqueues it, and answered as `Failed`.

`install()` swaps moto's backend method once per process; both `mock_aws` and the embedded moto server
(sandbox/moto_server.py) go through it. With nothing scripted and a rate of 0, moto answers as it does.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

# (code, SenderFault): a failure on SQS' side, worth sending again; one the sender caused, which is not.
ON_SQS_SIDE = ("InternalError", False)
SENDERS_FAULT = ("InvalidParameterValue", True)


@dataclass
class SqsBatchFaults:
    """Which SendMessageBatch entries fail. `failed` counts the entries failed, by the text they matched
    (`""` for drawn ones)."""

    rate: float = 0.0
    failed: Counter[str] = field(default_factory=Counter)
    _script: list[list[Any]] = field(default_factory=list)  # [text in the body, entries left, failure]
    _random: random.Random = field(default_factory=random.Random)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, times: int = 1, *, matching: str = "", senders_fault: bool = False) -> None:
        """Fail the next `times` entries whose body contains `matching` (any entry when empty), on SQS' side
        or (`senders_fault`) as an entry SQS refuses."""
        with self._lock:
            self._script.append([matching, times, SENDERS_FAULT if senders_fault else ON_SQS_SIDE])

    def set_rate(self, rate: float, *, seed: int | None = None) -> None:
        """Fail each entry with this probability from now on."""
        if not 0 <= rate <= 1:
            raise ValueError(f"the SQS batch entry failure rate is a probability, got {rate}")
        with self._lock:
            self.rate = rate
            if seed is not None:
                self._random.seed(seed)

    def failure(self, body: str) -> tuple[str, bool] | None:
        """How this entry fails, if it does (a scripted failure is used up by it): (code, SenderFault)."""
        with self._lock:
            for scripted in self._script:
                matching, left, failure = scripted
                if left > 0 and matching in body:
                    scripted[1] -= 1
                    self.failed[matching] += 1
                    return failure
            if self.rate and self._random.random() < self.rate:
                self.failed[""] += 1
                return ON_SQS_SIDE
            return None

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self.failed.clear()
            self.rate = 0.0


SQS_BATCH_FAULTS = SqsBatchFaults()  # the process's, as moto's backends are


def install() -> SqsBatchFaults:
    """Route moto's SendMessageBatch through `SQS_BATCH_FAULTS` (once per process)."""
    from moto.sqs.models import SQSBackend

    original = SQSBackend.send_message_batch
    if getattr(original, "with_entry_faults", False):
        return SQS_BATCH_FAULTS

    def send_message_batch(
        self: Any, queue_name: str, entries: dict[str, dict[str, Any]]
    ) -> tuple[list[Any], list[dict[str, Any]]]:
        if len(entries) > 10:  # refused whole by moto's own checks
            return original(self, queue_name, entries)
        failures = {key: SQS_BATCH_FAULTS.failure(str(entry["MessageBody"])) for key, entry in entries.items()}
        failing = {key: failure for key, failure in failures.items() if failure is not None}
        sent, failed = original(self, queue_name, {k: e for k, e in entries.items() if k not in failing})
        return sent, failed + [
            {"Id": entries[key]["Id"], "SenderFault": sender_fault, "Code": code, "Message": f"{code} (injected)"}
            for key, (code, sender_fault) in sorted(failing.items())
        ]

    send_message_batch.with_entry_faults = True  # type: ignore[attr-defined]
    SQSBackend.send_message_batch = send_message_batch  # type: ignore[method-assign]
    return SQS_BATCH_FAULTS
