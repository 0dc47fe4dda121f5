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
