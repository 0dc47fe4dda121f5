"""The drainer (partial batch failures, visibility, redrive) and the scheduler tick."""

from __future__ import annotations

import json
import time

import boto3
import httpx

from sandbox.drainer import LOCAL_CONCURRENCY, failed_message_ids, sqs_event
from sandbox.stack import DEFAULT_TEMPLATE, LocalStack
from sandbox.template import load_template


def _items(stack: LocalStack, pk_prefix: str) -> dict[str, dict]:
    table = boto3.resource(
        "dynamodb", endpoint_url=stack.aws_endpoint_url, region_name=stack.aws_region
    ).Table("Table")
    return {f"{i['pk']}|{i['sk']}": i for i in table.scan()["Items"] if i["pk"].startswith(pk_prefix)}


def test_partial_batch_failure_redrives_only_failed_messages_to_the_dlq(
    stack: LocalStack, auth: dict
) -> None:
    items = [{"name": f"ok{i}"} for i in range(5)] + [
        {"name": "bad1", "fail": True},
        {"name": "bad2", "fail": True},
    ]
    # Enqueued by a handler reached through the gateway, drained into the worker handler.
    r = httpx.post(f"{stack.api_url}/work", json={"items": items}, headers=auth)
    assert r.status_code == 202, r.text

    stack.drain_until_idle(timeout=30)

    got = _items(stack, "work#")
    for i in range(5):
        assert f"work#ok{i}|done" in got
        assert got[f"work#ok{i}|attempts"]["attempts"] == 1  # deleted after success: never seen again
    for name in ("bad1", "bad2"):
        assert f"work#{name}|done" not in got
        # maxReceiveCount 2: received twice (visible again after the 1 s visibility timeout), then DLQ.
        assert got[f"work#{name}|attempts"]["attempts"] == 2
        assert got[f"work#{name}|attempts"]["receive_count"] == "2"
        assert got[f"work#{name}|attempts"]["source_arn"] == "arn:aws:sqs:eu-north-1:123456789012:WorkQueue"

    sqs = boto3.client("sqs", endpoint_url=stack.aws_endpoint_url, region_name=stack.aws_region)
    dlq = stack.aws.resources.queue_urls["WorkDeadLetterQueue"]
    bodies = []
    while True:
        msgs = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, VisibilityTimeout=30).get(
            "Messages", []
        )
        if not msgs:
            break
        bodies += [json.loads(m["Body"])["name"] for m in msgs]
    assert sorted(bodies) == ["bad1", "bad2"]


def test_failed_message_ids_follows_lambda_rules() -> None:
    ids = ["a", "b", "c"]
    assert failed_message_ids({"batchItemFailures": [{"itemIdentifier": "b"}]}, ids, True) == {"b"}
    assert failed_message_ids({"batchItemFailures": []}, ids, True) == set()
    assert failed_message_ids(None, ids, True) == set()
    # An identifier that is empty or not in the batch fails the whole batch.
    assert failed_message_ids({"batchItemFailures": [{"itemIdentifier": "zz"}]}, ids, True) == set(ids)
    assert failed_message_ids({"batchItemFailures": [{"itemIdentifier": ""}]}, ids, True) == set(ids)
    # Without ReportBatchItemFailures the response is ignored.
    assert failed_message_ids({"batchItemFailures": [{"itemIdentifier": "b"}]}, ids, False) == set()


def test_sqs_event_shape() -> None:
    event = sqs_event(
        [
            {
                "MessageId": "m1",
                "ReceiptHandle": "rh",
                "Body": "{}",
                "MD5OfBody": "99914b932bd37a50b983c5e7c90ae93b",
                "Attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1"},
                "MessageAttributes": {"k": {"StringValue": "v", "DataType": "String"}},
            }
        ],
        "arn:aws:sqs:eu-north-1:123456789012:Q",
    )
    (record,) = event["Records"]
    assert record["eventSource"] == "aws:sqs" and record["awsRegion"] == "eu-north-1"
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["messageAttributes"]["k"] == {
        "stringValue": "v",
        "binaryValue": None,
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }


def test_scheduler_tick_calls_the_scheduled_handler(stack: LocalStack) -> None:
    results = stack.tick()
    assert results == {"TickFunction.Every": {"ticked": True, "function": "TickFunction"}}
    ticks = _items(stack, "tick")
    assert len(ticks) == 1  # this module's first tick
    event = json.loads(next(iter(ticks.values()))["event"])
    assert event["detail-type"] == "Scheduled Event" and event["source"] == "aws.scheduler"
    assert event["resources"][0].startswith("arn:aws:scheduler:eu-north-1:123456789012:schedule/default/")


def test_a_raising_handler_fails_the_batch_and_the_pump_keeps_going(stack: LocalStack) -> None:
    sqs = boto3.client("sqs", endpoint_url=stack.aws_endpoint_url, region_name=stack.aws_region)
    work = stack.aws.resources.queue_urls["WorkQueue"]
    sqs.send_message(QueueUrl=work, MessageBody=json.dumps({"name": "crash1", "crash": True}))
    stack.drain_until_idle(timeout=30)
    sqs.send_message(QueueUrl=work, MessageBody=json.dumps({"name": "after-crash"}))
    stack.drain_until_idle(timeout=30)

    got = _items(stack, "work#")
    assert "work#after-crash|done" in got
    assert "work#crash1|attempts" not in got  # the handler raised before any record ran
    dlq = stack.aws.resources.queue_urls["WorkDeadLetterQueue"]
    msgs = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", [])
    assert [json.loads(m["Body"])["name"] for m in msgs] == ["crash1"]


def test_a_handler_slower_than_the_visibility_timeout_gets_its_message_once(stack: LocalStack) -> None:
    """WorkQueue's visibility timeout is 1 s and several pollers share it (as Lambda's do): the batch is
    kept invisible while its handler runs, as AWS's rule visibility timeout >= function timeout would."""
    assert stack.drainer is not None
    assert [(p.function, p.concurrency) for p in stack.drainer.pumps] == [("WorkerFunction", LOCAL_CONCURRENCY)]
    sqs = boto3.client("sqs", endpoint_url=stack.aws_endpoint_url, region_name=stack.aws_region)
    sqs.send_message(QueueUrl=stack.aws.resources.queue_urls["WorkQueue"],
                     MessageBody=json.dumps({"name": "slow", "sleep": 3}))
    stack.drain_until_idle(timeout=30)

    got = _items(stack, "work#slow")
    assert got["work#slow|attempts"]["attempts"] == 1
    assert "work#slow|done" in got
    assert stack.handlers.concurrency("WorkerFunction") == LOCAL_CONCURRENCY


def test_a_visibility_the_handler_set_is_kept(stack: LocalStack) -> None:
    """A handler backs its failed record off (ChangeMessageVisibility: 60 s) and then works on for longer
    than the queue's 1 s visibility: the drainer neither extends it back to 1 s meanwhile nor resets it
    afterwards, so the record stays away (as in AWS) until it is due."""
    sqs = boto3.client("sqs", endpoint_url=stack.aws_endpoint_url, region_name=stack.aws_region)
    sqs.send_message(QueueUrl=stack.aws.resources.queue_urls["WorkQueue"],
                     MessageBody=json.dumps({"name": "later", "backoff_once": 60, "sleep": 1.5}))
    deadline = time.monotonic() + 20
    while "work#later|attempts" not in _items(stack, "work#later"):
        assert time.monotonic() < deadline, "the message was never handled"
        time.sleep(0.1)
    away_until = time.monotonic() + 6  # > the worker's 4 s timeout and the queue's 1 s visibility
    while time.monotonic() < away_until:
        assert _items(stack, "work#later")["work#later|attempts"]["attempts"] == 1, "came back early"
        time.sleep(0.2)
    # Due now (as if 60 s had passed): it comes back and succeeds.
    handle = _items(stack, "work#later")["work#later|attempts"]["receipt_handle"]
    sqs.change_message_visibility(QueueUrl=stack.aws.resources.queue_urls["WorkQueue"], ReceiptHandle=handle,
                                  VisibilityTimeout=0)
    stack.drain_until_idle(timeout=30)
    got = _items(stack, "work#later")
    assert got["work#later|attempts"]["attempts"] == 2 and "work#later|done" in got


def test_pollers_follow_the_templates_maximum_concurrency() -> None:
    functions = load_template(DEFAULT_TEMPLATE).functions
    assert functions["SyncIntegrationFunction"].sqs_events[0].maximum_concurrency == 5
    assert functions["DispatchFunction"].sqs_events[0].maximum_concurrency == 5


def test_scheduler_fires_every_interval(stack: LocalStack) -> None:
    from sandbox.scheduler import Scheduler

    before = len(_items(stack, "tick"))
    scheduler = Scheduler(stack.template, stack.handlers, interval=0.3)
    scheduler.start()
    try:
        deadline = time.monotonic() + 15
        while len(_items(stack, "tick")) < before + 2:
            assert time.monotonic() < deadline, "scheduler did not fire twice"
            time.sleep(0.1)
    finally:
        scheduler.stop()
