"""Render's dispatch messages on SQS (moto), as the RenderFunction's handler sends them: a batch's go out
together at its end (SendMessageBatch), and a message SQS did not take (sandbox/sqs_faults.py: moto never
fails an entry) fails its record, whose retry hands the stored render on again: no invoice stays
`rendered` without its dispatch message."""

from __future__ import annotations

from typing import Any

from aws_requests import aws_requests
from invoice_bridge.mapping import invoice_id_for
from lambda_functions import FunctionContext, batch_event, cold_start
from sending_support import ISSUER_ID, World, drain

from sandbox.sqs_faults import SqsBatchFaults

SENDS = ("SendMessage", "SendMessageBatch")


def _sends(requests: Any) -> list[str]:
    return [operation for operation, _ in requests.of("sqs") if operation in SENDS]


def test_a_render_batch_hands_its_invoices_on_in_one_request(world: World) -> None:
    sources = [world.company.add(number) for number in (4301, 4302, 4303, 4304, 4305)]
    world.sync()
    render = cold_start("render")
    with aws_requests() as requests:
        answer = render.lambda_handler(batch_event(world.render_queue_url, 5), FunctionContext())
    assert answer == {"batchItemFailures": []}
    assert _sends(requests) == ["SendMessageBatch"]  # one request for the five, not one each
    assert sorted(m["invoice_id"] for m in world.dispatch_messages()) == sorted(world.ours(s.Id) for s in sources)


def test_a_hand_off_sqs_failed_once_is_sent_again_within_the_batch(world: World, sqs_faults: SqsBatchFaults) -> None:
    sources = [world.company.add(number) for number in (4311, 4312, 4313)]
    world.sync()
    sqs_faults.fail(matching=invoice_id_for(ISSUER_ID, sources[1].Id))
    with aws_requests() as requests:
        answer = cold_start("render").lambda_handler(batch_event(world.render_queue_url, 5), FunctionContext())
    assert answer == {"batchItemFailures": []} and sqs_faults.failed.total() == 1
    assert _sends(requests) == ["SendMessageBatch"] * 2  # the three, then the failed entry again
    assert sorted(m["invoice_id"] for m in world.dispatch_messages()) == sorted(world.ours(s.Id) for s in sources)


def test_a_hand_off_sqs_keeps_failing_fails_its_record_whose_retry_hands_the_stored_render_on(
    world: World, sqs_faults: SqsBatchFaults
) -> None:
    sources = [world.company.add(number) for number in (4321, 4322, 4323)]
    world.sync()
    refused = world.ours(sources[1].Id)
    sqs_faults.fail(3, matching=refused)  # every attempt of the adapter
    render = cold_start("render")
    event = batch_event(world.render_queue_url, 5)

    with aws_requests() as requests:
        answer = render.lambda_handler(event, FunctionContext())

    [record] = [r for r in event["Records"] if refused in r["body"]]
    assert answer == {"batchItemFailures": [{"itemIdentifier": record["messageId"]}]}
    assert ("ChangeMessageVisibility", ()) in requests.of("sqs")  # it comes back after its backoff
    assert sorted(m["invoice_id"] for m in world.dispatch_messages()) == sorted(
        world.ours(s.Id) for s in sources if world.ours(s.Id) != refused)
    assert world.invoices.get(refused).status.value == "rendered"  # stored; its message not sent

    with aws_requests() as requests:  # the failed record's next delivery
        answer = render.lambda_handler({"Records": [record]}, FunctionContext())

    assert answer == {"batchItemFailures": []}
    assert not requests.of("s3")  # not rendered again: the stored render is handed on
    assert [m["invoice_id"] for m in drain(world.dispatch_queue_url)] == [refused]
    assert [e["status"] for e in world.shown(refused)["events"]].count("rendered") == 1
