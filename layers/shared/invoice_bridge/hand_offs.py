"""The messages one queue batch hands on, sent together at the batch's end (SendMessageBatch: one request
for ten messages, where one SendMessage each took ten).

Each message is kept under the record that made it (its SQS message id). A step stores its result first
and hands on after, as when it sent at once: a message the queue did not take (`send_many`'s failed
entries, after its own retries; or the whole request failing) fails its record in the batch's partial
response, so the record comes again and its step, finding its result stored, hands on again. A crash
before the send loses no more than a crash before a single send did: the whole batch comes again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .observability import logger
from .ports import QueueMessage, WorkQueue


class HandOffNotSent(Exception):
    """The queue did not take this record's message: the record must come again (it hands on again)."""

    def __init__(self, record_id: str, reason: str) -> None:
        super().__init__(f"hand-off of record {record_id} not sent: {reason}")
        self.reason = reason


class BatchHandOffs:
    """The messages of one batch's records to `queue`, until `send`."""

    def __init__(self, queue: WorkQueue) -> None:
        self._queue = queue
        self._messages: list[tuple[str, QueueMessage]] = []  # (record id, message), in the order made

    def queue_for(self, record_id: str) -> WorkQueue:
        """The queue as one record's step sees it: what it sends is kept for the batch's `send`."""
        return _RecordQueue(self, record_id)

    def keep(self, record_id: str, message: QueueMessage) -> None:
        self._messages.append((record_id, message))

    def send(self) -> dict[str, HandOffNotSent]:
        """Send every kept message (`send_many`); the records whose message did not go, with why."""
        kept, self._messages = self._messages, []
        if not kept:
            return {}
        try:
            not_sent = dict(self._queue.send_many([message for _, message in kept]))
        except Exception as exc:  # noqa: BLE001 - a failed request counts none of its messages sent; they come again
            logger.warning("hand-offs not sent", extra={"messages": len(kept), "error": type(exc).__name__})
            not_sent = dict.fromkeys(range(len(kept)), type(exc).__name__)
        failed: dict[str, HandOffNotSent] = {}
        for position, reason in not_sent.items():
            record_id = kept[position][0]
            failed.setdefault(record_id, HandOffNotSent(record_id, reason))
        return failed


class _RecordQueue:
    """A `WorkQueue` that keeps one record's messages for its batch (`BatchHandOffs.queue_for`)."""

    def __init__(self, batch: BatchHandOffs, record_id: str) -> None:
        self._batch = batch
        self._record_id = record_id

    def send(self, message: Mapping[str, object], deduplication_id: str | None = None) -> None:
        self._batch.keep(self._record_id, QueueMessage(message, deduplication_id))

    def send_many(self, messages: Sequence[QueueMessage]) -> Mapping[int, str]:
        for message in messages:
            self._batch.keep(self._record_id, message)
        return {}
