"""Failed queue records come back after a growing backoff (issue 12 point 7), on moto's SQS: the record's
visibility is changed by the batch processor the handlers use, from its receive count and Retry-After."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch import process_partial_response
from invoice_bridge.adapters.sqs_queue import SqsVisibility
from invoice_bridge.backoff import (
    DEFAULT_BACKOFF_SECONDS,
    BackoffBatchProcessor,
    backoff_seconds,
    own_wait_of,
)
from invoice_bridge.messages import DispatchRecord
from invoice_bridge.ports import OperatorUnavailable
from moto import mock_aws

from sandbox.drainer import sqs_event

REGION = "eu-north-1"


class LeaseMet(Exception):
    """A failure that knows when it can be retried, as dispatch's DispatchInProgress does (a lease's end)."""

    def __init__(self, retry_in_seconds: float | None = None) -> None:
        super().__init__("another run holds the lease")
        self.retry_in_seconds = retry_in_seconds


class Throttled(OperatorUnavailable):
    def __init__(self, retry_after_seconds: float) -> None:
        super().__init__("429 Too Many Requests")
        self.retry_after_seconds = retry_after_seconds


@pytest.fixture
def queue() -> Iterator[tuple[Any, str, str]]:
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        url = sqs.create_queue(QueueName="DispatchQueue", Attributes={"VisibilityTimeout": "720"})["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        yield sqs, url, arn


def _receive(sqs: Any, url: str) -> list[dict[str, Any]]:
    return sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages", [])


def _handle(messages: list[dict[str, Any]], arn: str, error: Exception | None, schedule: list[int]) -> dict:  # type: ignore[type-arg]
    processor = BackoffBatchProcessor(DispatchRecord, schedule=lambda: schedule, visibility=SqsVisibility)

    def record_handler(record: DispatchRecord) -> str:
        if error is not None and record.body.invoice_id != "fine":
            raise error
        return "ok"

    return process_partial_response(event=sqs_event(messages, arn), record_handler=record_handler,
                                    processor=processor, context=None)


def test_a_failed_record_comes_back_after_its_backoff_not_the_visibility_timeout(queue) -> None:  # type: ignore[no-untyped-def]
    sqs, url, arn = queue
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"invoice_id": "inv1", "version": 1}))
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"invoice_id": "fine", "version": 1}))
    first = _receive(sqs, url)
    assert len(first) == 2
    response = _handle(first, arn, OperatorUnavailable("operator answered 503"), schedule=[1, 60])
    failed = {m["MessageId"] for m in first if json.loads(m["Body"])["invoice_id"] == "inv1"}
    assert {f["itemIdentifier"] for f in response["batchItemFailures"]} == failed
    assert _receive(sqs, url) == []  # not yet
    time.sleep(1.3)
    [again] = _receive(sqs, url)  # after 1 s, not after the queue's 720 s
    assert again["MessageId"] in failed and again["Attributes"]["ApproximateReceiveCount"] == "2"
    # The second failure waits the second step of the schedule.
    _handle([again], arn, OperatorUnavailable("operator answered 503"), schedule=[1, 60])
    time.sleep(1.3)
    assert _receive(sqs, url) == []


def test_every_record_of_an_entirely_failed_batch_is_reported_not_raised(queue) -> None:  # type: ignore[no-untyped-def]
    """An exception would fail the invocation (Lambda error metrics, the batch as a whole); the partial
    response lists each record, and each has its own backoff."""
    sqs, url, arn = queue
    for n in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"invoice_id": f"inv{n}", "version": 1}))
    messages = _receive(sqs, url)
    response = _handle(messages, arn, OperatorUnavailable("down"), schedule=[1])
    assert len(response["batchItemFailures"]) == 3
    time.sleep(1.3)
    assert len(_receive(sqs, url)) == 3


def test_a_poison_body_backs_off_too(queue) -> None:  # type: ignore[no-untyped-def]
    sqs, url, arn = queue
    sqs.send_message(QueueUrl=url, MessageBody='{"invoice_id": "x", "version": "not-a-number"')
    messages = _receive(sqs, url)
    response = _handle(messages, arn, None, schedule=[1])
    assert [f["itemIdentifier"] for f in response["batchItemFailures"]] == [messages[0]["MessageId"]]
    time.sleep(1.3)
    assert len(_receive(sqs, url)) == 1


def test_retry_after_is_honoured(queue) -> None:  # type: ignore[no-untyped-def]
    sqs, url, arn = queue
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"invoice_id": "inv1", "version": 1}))
    _handle(_receive(sqs, url), arn, Throttled(retry_after_seconds=30), schedule=[1])
    time.sleep(1.3)
    assert _receive(sqs, url) == []  # the operator asked for 30 s


def test_the_schedule() -> None:
    assert [backoff_seconds(n, DEFAULT_BACKOFF_SECONDS) for n in (1, 2, 3, 4, 9)] == [30, 120, 300, 300, 300]
    assert backoff_seconds(1, DEFAULT_BACKOFF_SECONDS, retry_after=90.2) == 91  # never sooner than asked
    assert backoff_seconds(3, DEFAULT_BACKOFF_SECONDS, retry_after=5) == 300  # nor sooner than our own step
    assert backoff_seconds(1, DEFAULT_BACKOFF_SECONDS, retry_after=10**6) == 43_200  # SQS' 12-hour cap


def test_a_failure_with_its_own_wait_comes_back_then_whatever_the_schedule(queue) -> None:  # type: ignore[no-untyped-def]
    """Dispatch's DispatchInProgress knows when the lease it met runs out: back then, sooner than the step
    (1 s, not 60 s) and later than it alike, never beyond SQS's 12 hours."""
    sqs, url, arn = queue
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"invoice_id": "inv1", "version": 1}))
    _handle(_receive(sqs, url), arn, LeaseMet(retry_in_seconds=0.4), schedule=[60])
    time.sleep(1.3)
    [again] = _receive(sqs, url)  # after its own 1 s (0.4 up), not the schedule's 60 s
    _handle([again], arn, LeaseMet(retry_in_seconds=10**6), schedule=[1])
    time.sleep(1.3)
    assert _receive(sqs, url) == []
    assert own_wait_of(LeaseMet(retry_in_seconds=10**6)) == 43_200
    assert own_wait_of(LeaseMet()) is None  # no lease known: the schedule
