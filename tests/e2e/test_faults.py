"""The drainer's fault hook (sandbox/faults.py) against moto's SQS: what each injected fault does."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from sandbox.drainer import Pump
from sandbox.faults import DeliveryFaultRates, DeliveryFaults, InjectedCrash
from sandbox.template import SqsEvent


@pytest.fixture
def queue() -> Iterator[tuple[Any, Pump]]:
    with mock_aws():
        sqs = boto3.client("sqs", region_name="eu-north-1")
        url = sqs.create_queue(QueueName="RenderQueue")["QueueUrl"]
        source = SqsEvent(name="Render", queue="RenderQueue", batch_size=10, report_batch_item_failures=True)
        yield sqs, Pump("RenderFunction", source, url, "arn:aws:sqs:eu-north-1:123456789012:RenderQueue")


def _received(sqs: Any, pump: Pump, bodies: list[str]) -> list[dict[str, Any]]:
    for body in bodies:
        sqs.send_message(QueueUrl=pump.queue_url, MessageBody=body)
    return sqs.receive_message(QueueUrl=pump.queue_url, MaxNumberOfMessages=10)["Messages"]


def _visible_bodies(sqs: Any, pump: Pump) -> list[str]:
    got = sqs.receive_message(QueueUrl=pump.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    return sorted(m["Body"] for m in got.get("Messages", []))


def test_a_duplicate_is_the_same_body_sent_again_and_the_batch_still_runs(queue: tuple[Any, Pump]) -> None:
    sqs, pump = queue
    faults = DeliveryFaults(DeliveryFaultRates(duplicate=1.0), seed=1).attach(sqs)
    seen: list[list[str]] = []
    result = faults(pump, _received(sqs, pump, ["a", "b"]), lambda batch: seen.append(
        [m["Body"] for m in batch]) or {"batchItemFailures": []})
    assert result == {"batchItemFailures": []}
    assert sorted(seen[0]) == ["a", "b"]
    assert _visible_bodies(sqs, pump) == ["a", "b"]  # the copies, waiting for the next receive
    assert faults.counts["duplicated"] == 2


def test_a_delayed_message_leaves_this_batch_and_comes_back_later(queue: tuple[Any, Pump]) -> None:
    sqs, pump = queue
    faults = DeliveryFaults(DeliveryFaultRates(delay=1.0, delay_seconds=(30, 30)), seed=1).attach(sqs)
    calls: list[int] = []
    result = faults(pump, _received(sqs, pump, ["a"]), lambda batch: calls.append(len(batch)))
    assert calls == [] and result == {"batchItemFailures": []}
    attrs = sqs.get_queue_attributes(QueueUrl=pump.queue_url, AttributeNames=["ApproximateNumberOfMessagesDelayed"])
    assert attrs["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "1"


def test_a_crash_before_never_runs_the_handler(queue: tuple[Any, Pump]) -> None:
    sqs, pump = queue
    faults = DeliveryFaults(DeliveryFaultRates(crash_before=1.0), seed=1).attach(sqs)
    calls: list[int] = []
    with pytest.raises(InjectedCrash, match="before"):
        faults(pump, _received(sqs, pump, ["a"]), lambda batch: calls.append(len(batch)))
    assert calls == []


def test_a_crash_after_runs_the_handler_and_still_fails_the_batch(queue: tuple[Any, Pump]) -> None:
    sqs, pump = queue
    faults = DeliveryFaults(DeliveryFaultRates(crash_after=1.0), seed=1).attach(sqs)
    calls: list[int] = []
    with pytest.raises(InjectedCrash, match="after"):
        faults(pump, _received(sqs, pump, ["a", "b"]), lambda batch: calls.append(len(batch)))
    assert calls == [2]


def test_switched_off_it_only_calls_the_handler(queue: tuple[Any, Pump]) -> None:
    sqs, pump = queue
    faults = DeliveryFaults(DeliveryFaultRates(duplicate=1.0, crash_before=1.0), enabled=False).attach(sqs)
    assert faults(pump, _received(sqs, pump, ["a"]), lambda batch: "done") == "done"
    assert faults.counts == {}


def test_rates_are_probabilities() -> None:
    with pytest.raises(ValueError, match="probability"):
        DeliveryFaultRates(duplicate=1.5)
    with pytest.raises(ValueError, match="delay_seconds"):
        DeliveryFaultRates(delay_seconds=(5, 1000))
