"""The sync's render messages on SQS (moto): a page's go out in SendMessageBatch requests, and entries SQS
fails on its side (sandbox/sqs_faults.py: moto never does) are sent again or held back with their
decisions, so that no invoice is lost."""

from __future__ import annotations

import json

import boto3
import pytest
from aws_requests import aws_requests
from invoice_bridge.adapters.dynamo_sync import DynamoDecisionStore
from invoice_bridge.adapters.sqs_queue import SqsWorkQueue
from invoice_bridge.fetch.sync import RenderHandOffFailed
from invoice_bridge.mapping import invoice_id_for
from invoice_bridge.ports import QueueMessage
from sending_support import INTEGRATION_ID, ISSUER_ID, TABLE, World, drain

from sandbox.sqs_faults import SqsBatchFaults


def test_an_entry_sqs_failed_once_is_sent_again_and_every_invoice_is_queued_once(
    world: World, sqs_faults: SqsBatchFaults
) -> None:
    sources = [world.company.add(number) for number in range(4100, 4112)]
    sqs_faults.fail(matching=invoice_id_for(ISSUER_ID, sources[4].Id))
    with aws_requests() as requests:
        result = world.sync()
    assert result.imported == 12 and sqs_faults.failed.total() == 1
    assert requests.of("sqs") == [("SendMessageBatch", ())] * 3  # 10 + 2, then the failed entry again
    assert sorted(m["invoice_id"] for m in drain(world.render_queue_url)) == sorted(
        world.ours(s.Id) for s in sources)
    assert len(DynamoDecisionStore(TABLE).get_many(INTEGRATION_ID, [s.Id for s in sources])) == 12


def test_an_entry_sqs_keeps_failing_fails_the_sync_without_its_decision_and_the_retry_hands_it_on(
    world: World, sqs_faults: SqsBatchFaults
) -> None:
    sources = [world.company.add(number) for number in range(4200, 4212)]
    refused = sources[7]
    sqs_faults.fail(3, matching=invoice_id_for(ISSUER_ID, refused.Id))  # every attempt of the sync's adapter

    with pytest.raises(RenderHandOffFailed, match="InternalError"):
        world.sync()

    first_request = sources[:10]  # the sync stops after it; the rest of the page is read by the retry
    queued = [m["invoice_id"] for m in drain(world.render_queue_url)]
    assert sorted(queued) == sorted(world.ours(s.Id) for s in first_request if s is not refused)
    decided = DynamoDecisionStore(TABLE).get_many(INTEGRATION_ID, [s.Id for s in sources])
    assert set(decided) == {s.Id for s in first_request} - {refused.Id}  # "handled" only once handed on
    assert world.integrations.get(INTEGRATION_ID).last_success_at is None  # the window is read again

    result = world.sync()  # the sync message's retry

    assert (result.unchanged, result.imported) == (10, 2)
    assert sorted(m["invoice_id"] for m in drain(world.render_queue_url)) == sorted(
        world.ours(s.Id) for s in (refused, *sources[10:]))
    assert len(DynamoDecisionStore(TABLE).get_many(INTEGRATION_ID, [s.Id for s in sources])) == 12


def test_an_entry_sqs_refuses_as_the_senders_fault_is_not_sent_again(world: World, sqs_faults: SqsBatchFaults) -> None:
    messages = [QueueMessage({"invoice_id": f"inv-{n}", "version": 1}) for n in range(3)]
    sqs_faults.fail(matching='"inv-1"', senders_fault=True)
    with aws_requests() as requests:
        assert SqsWorkQueue(world.render_queue_url).send_many(messages) == {1: "InvalidParameterValue"}
    assert requests.of("sqs") == [("SendMessageBatch", ())]  # once: the same entry would be refused again
    assert sorted(m["invoice_id"] for m in drain(world.render_queue_url)) == ["inv-0", "inv-2"]


def test_on_a_fifo_queue_each_message_keeps_its_versions_deduplication_id_and_group(world: World) -> None:
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="render.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    messages = [QueueMessage({"invoice_id": f"inv-{n}", "version": 1}, deduplication_id=f"inv-{n}-v1")
                for n in (1, 2, 1)]  # the third repeats the first

    assert SqsWorkQueue(url).send_many(messages) == {}

    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                              MessageSystemAttributeNames=["MessageGroupId", "MessageDeduplicationId"])["Messages"]
    assert [(json.loads(m["Body"])["invoice_id"], m["Attributes"]["MessageGroupId"],
             m["Attributes"]["MessageDeduplicationId"]) for m in got] == [
        ("inv-1", "inv-1-v1", "inv-1-v1"), ("inv-2", "inv-2-v1", "inv-2-v1")]


def test_a_batch_stays_within_the_request_size_sqs_takes(world: World) -> None:
    """Three messages of 100 KiB: two requests (256 KiB at most each), all three sent."""
    messages = [QueueMessage({"invoice_id": f"inv-{n}", "padding": "x" * 100 * 1024}) for n in range(3)]
    with aws_requests() as requests:
        assert SqsWorkQueue(world.render_queue_url).send_many(messages) == {}
    assert requests.of("sqs") == [("SendMessageBatch", ())] * 2
    assert sorted(m["invoice_id"] for m in drain(world.render_queue_url)) == ["inv-0", "inv-1", "inv-2"]
