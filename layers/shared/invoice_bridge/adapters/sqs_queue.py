"""A work queue on SQS: JSON message bodies."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .aws import client


class SqsWorkQueue:
    def __init__(self, queue_url: str):
        self._queue_url = queue_url

    def send(self, message: Mapping[str, object], deduplication_id: str | None = None) -> None:
        kwargs: dict[str, Any] = {"QueueUrl": self._queue_url, "MessageBody": json.dumps(message, default=str)}
        if deduplication_id and self._queue_url.endswith(".fifo"):
            kwargs.update(MessageDeduplicationId=deduplication_id, MessageGroupId=deduplication_id)
        client("sqs").send_message(**kwargs)


class SqsVisibility:
    """ChangeMessageVisibility of a received message, addressed by its queue's ARN (what an SQS event
    record carries). The queue URL is the client's endpoint + account + name, as SQS builds it."""

    def change_visibility(self, queue_arn: str, receipt_handle: str, seconds: int) -> None:
        sqs = client("sqs")
        account, name = queue_arn.split(":")[4:6]
        queue_url = f"{sqs.meta.endpoint_url.rstrip('/')}/{account}/{name}"
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds)
