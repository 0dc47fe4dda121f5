"""SQS partial batch responses whose failed records come back after a growing backoff.

A record that fails stays on its queue and would be seen again only after the queue's visibility timeout
(12 minutes for render and dispatch: six times the function's timeout, as AWS advises). Most failures
are transient (an operator answering 5xx, SES throttling, a lost race), so the failed record's visibility
is set to the backoff of its attempt instead (ChangeMessageVisibility on its receipt handle, the attempt
from ApproximateReceiveCount): 30 s, 2 min, then 5 min for every later attempt by default, and never
sooner than a Retry-After the failure carries (`retry_after_seconds` or `retry_after` on the exception).
A failure that knows when it can be retried (`retry_in_seconds`: dispatch's `DispatchInProgress`, a
delivery's lease that runs out then) comes back then instead, whatever its attempt; 12 hours at most.
The record is still reported failed, so maxReceiveCount and the dead-letter queue work as before.

A record handler may finish work for the whole batch after its last record (`BatchWork.finish`, e.g. the
batch's hand-offs sent together, hand_offs.py): a record that finish names fails there and then, as if
its handler had raised, with its backoff.

`raise_on_entire_batch_failure` is off: a batch whose records all failed is answered with every record
listed, not with an exception, which Lambda would treat as a failure of the invocation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.batch.types import BatchTypeModels
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from .observability import logger

DEFAULT_BACKOFF_SECONDS = (30, 120, 300)
MAX_VISIBILITY_SECONDS = 43_200  # SQS keeps a received message invisible for 12 hours at most


class QueueVisibility(Protocol):
    def change_visibility(self, queue_arn: str, receipt_handle: str, seconds: int) -> None: ...


def backoff_seconds(receive_count: int, schedule: Sequence[int], retry_after: float | None = None) -> int:
    """How long the record stays away after failing its `receive_count`-th delivery (1 = the first)."""
    step = schedule[min(max(receive_count, 1), len(schedule)) - 1] if schedule else 0
    wanted = max(step, math.ceil(retry_after)) if retry_after else step
    return max(0, min(wanted, MAX_VISIBILITY_SECONDS))


def own_wait_of(exception: BaseException | None) -> int | None:
    """The wait a failure sets itself, in place of the schedule (`retry_in_seconds`), if it does: whole
    seconds, never less than it asked, never beyond SQS's limit."""
    value = getattr(exception, "retry_in_seconds", None)
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    return max(0, min(math.ceil(value), MAX_VISIBILITY_SECONDS))


def retry_after_of(exception: BaseException | None) -> float | None:
    """The wait a failure asks for (an operator's or Spiris' Retry-After), if it carries one."""
    for name in ("retry_after_seconds", "retry_after"):
        value = getattr(exception, name, None)
        if isinstance(value, int | float) and value > 0:
            return float(value)
    return None


class BatchWork(Protocol):
    """A record handler with work for the whole batch, done after the last record (`finish`)."""

    def __call__(self, record: Any) -> object: ...

    # The records (by SQS message id) that must come again after all, with why.
    def finish(self) -> Mapping[str, BaseException]: ...


class BackoffBatchProcessor(BatchProcessor):
    """Powertools' SQS BatchProcessor; each failed record comes back after its backoff (module docstring).

    `schedule` and `visibility` are called when a record fails, so building the processor at import time
    reads no settings and creates no client."""

    def __init__(
        self,
        model: BatchTypeModels | None,
        *,
        schedule: Callable[[], Sequence[int]],
        visibility: Callable[[], QueueVisibility],
    ) -> None:
        super().__init__(event_type=EventType.SQS, model=model, raise_on_entire_batch_failure=False)
        self._schedule = schedule
        self._visibility = visibility

    def process(self) -> list[tuple[Any, ...]]:
        results = super().process()
        finish: Callable[[], Mapping[str, BaseException]] | None = getattr(self.handler, "finish", None)
        if finish is not None:
            self._fail_late(results, finish())
        return results

    def _fail_late(self, results: list[tuple[Any, ...]], failed: Mapping[str, BaseException]) -> None:
        """Fail the records `BatchWork.finish` named (they had succeeded), as a raising handler would."""
        for index, result in enumerate(results):
            raw = result[2] if result[0] == "success" else None
            error = failed.get(str(raw.get("messageId"))) if isinstance(raw, dict) else None
            if raw is None or error is None:
                continue
            self.success_messages.remove(raw)
            record = self._to_batch_type(record=raw, event_type=self.event_type, model=self.model)
            results[index] = self.failure_handler(record, (type(error), error, error.__traceback__))

    def failure_handler(self, record: Any, exception: Any) -> Any:
        entry = super().failure_handler(record, exception)
        self._back_off(record, exception[1])
        return entry

    def _back_off(self, record: Any, error: BaseException | None) -> None:
        fields = _sqs_fields(record)
        if fields is None:  # not even an SQS record: the queue's visibility timeout applies
            return
        receipt_handle, receive_count, queue_arn = fields
        own = own_wait_of(error)
        seconds = own if own is not None else backoff_seconds(receive_count, self._schedule(), retry_after_of(error))
        try:
            self._visibility().change_visibility(queue_arn, receipt_handle, seconds)
        except Exception as exc:  # noqa: BLE001 - the record still fails; it returns after the timeout
            logger.warning("backoff not set", extra={"queue_arn": queue_arn, "error": type(exc).__name__})
            return
        logger.info(
            "record failed; back off",
            extra={"queue_arn": queue_arn, "receive_count": receive_count, "seconds": seconds,
                   "error": type(error).__name__},
        )


def _sqs_fields(record: Any) -> tuple[str, int, str] | None:
    """(receipt handle, receive count, queue ARN) of a parsed record (a parser model, or the data class
    Powertools falls back to when the body did not parse)."""
    if isinstance(record, SQSRecord):
        count = record.attributes.approximate_receive_count
        return record.receipt_handle, int(count or 1), record.event_source_arn
    handle = getattr(record, "receiptHandle", None)
    attributes = getattr(record, "attributes", None)
    arn = getattr(record, "eventSourceARN", None)
    if not handle or attributes is None or not arn:
        return None
    return handle, int(getattr(attributes, "ApproximateReceiveCount", 1) or 1), arn
