"""A work queue on SQS: JSON message bodies."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..observability import logger
from ..ports import QueueMessage
from .aws import bounded_chunks, client, retry_pause

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

BATCH_ENTRIES = 10  # SendMessageBatch takes at most 10 entries
BATCH_BYTES = 256 * 1024  # and their bodies at most 256 KiB together (the long-standing limit)
ENTRY_ATTEMPTS = 3  # an entry SQS failed on its side is sent again, after a short pause, this often in all


class SqsWorkQueue:
    def __init__(self, queue_url: str, *, sleep: Callable[[float], None] = time.sleep):
        self._queue_url = queue_url
        self._sleep = sleep

    def send(self, message: Mapping[str, object], deduplication_id: str | None = None) -> None:
        request: dict[str, Any] = {**self._entry(0, QueueMessage(message, deduplication_id))}
        del request["Id"]  # a batch entry's only
        client("sqs").send_message(QueueUrl=self._queue_url, **request)

    def send_many(self, messages: Sequence[QueueMessage]) -> Mapping[int, str]:
        """SendMessageBatch, 10 entries at most per request. SQS may fail single entries of a request that
        succeeds (`Failed`): those it failed on its side are sent again (ENTRY_ATTEMPTS); what still failed,
        or failed through the sender's fault, is returned by position."""
        entries = {position: self._entry(position, message) for position, message in enumerate(messages)}
        not_sent: dict[int, str] = {}
        for attempt in range(1, ENTRY_ATTEMPTS + 1):
            failed = self._send_batches(entries)
            for position, (code, sender_fault) in failed.items():
                if sender_fault or attempt == ENTRY_ATTEMPTS:
                    not_sent[position] = code
            entries = {position: entries[position] for position in sorted(failed) if position not in not_sent}
            if not entries:
                break
            self._sleep(retry_pause(attempt))
        if not_sent:
            logger.warning("messages not sent",
                           extra={"queue": self._queue_url.rsplit("/", 1)[-1], "reasons": sorted(set(not_sent.values()))})
        return not_sent

    def _send_batches(
        self, entries: Mapping[int, SendMessageBatchRequestEntryTypeDef]
    ) -> dict[int, tuple[str, bool]]:
        """Send `entries` (position → entry); the failed ones: position → (code, the sender's fault)."""
        failed: dict[int, tuple[str, bool]] = {}
        for batch in _batches(entries):
            answer = client("sqs").send_message_batch(QueueUrl=self._queue_url, Entries=batch)
            for entry in answer.get("Failed", []):
                failed[int(entry["Id"])] = (entry["Code"], entry["SenderFault"])
        return failed

    def _entry(self, position: int, message: QueueMessage) -> SendMessageBatchRequestEntryTypeDef:
        entry: SendMessageBatchRequestEntryTypeDef = {
            "Id": str(position), "MessageBody": json.dumps(message.body, default=str)
        }
        if message.deduplication_id and self._queue_url.endswith(".fifo"):
            # One group per version: FIFO deduplicates the version's messages, and orders none behind another.
            entry["MessageDeduplicationId"] = entry["MessageGroupId"] = message.deduplication_id
        return entry


def _batches(
    entries: Mapping[int, SendMessageBatchRequestEntryTypeDef],
) -> Iterator[list[SendMessageBatchRequestEntryTypeDef]]:
    return bounded_chunks(entries.values(), lambda entry: len(entry["MessageBody"].encode()),
                          most=BATCH_ENTRIES, bytes_=BATCH_BYTES)


class SqsVisibility:
    """ChangeMessageVisibility of a received message, addressed by its queue's ARN (what an SQS event
    record carries). The queue URL is the client's endpoint + account + name, as SQS builds it."""

    def change_visibility(self, queue_arn: str, receipt_handle: str, seconds: int) -> None:
        sqs = client("sqs")
        account, name = queue_arn.split(":")[4:6]
        queue_url = f"{sqs.meta.endpoint_url.rstrip('/')}/{account}/{name}"
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds)
