"""The office releases many held invoices at once (POST /invoices/release: a held first sync), on moto:
the invoices read together (BatchGetItem), each released on its own conditional write with the office's
event, their dispatch messages sent together (SendMessageBatch); a message SQS did not take is reported,
and the sweeper hands that `rendered` invoice on."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from aws_requests import aws_requests
from invoice_bridge.adapters.sqs_queue import SqsWorkQueue
from invoice_bridge.dispatch import FailureNotifier
from invoice_bridge.models.common import utcnow
from invoice_bridge.models.invoice import AWAITING_APPROVAL
from invoice_bridge.stuck import SweepServices, sweep_stuck_invoices
from sending_support import OFFICE_USER, World, drain

from sandbox.sqs_faults import SqsBatchFaults


def held_invoices(world: World, numbers: range) -> list[str]:
    world.settings(sending="approve")  # each rendered version waits for the office
    sources = [world.company.add(number) for number in numbers]
    world.sync()
    assert world.render() == ["held"] * len(sources)
    return [world.ours(source.Id) for source in sources]


def test_releasing_many_reads_them_together_and_hands_them_on_together(world: World) -> None:
    ids = held_invoices(world, range(4401, 4406))
    with aws_requests() as requests:
        status, body = world.admin("POST", "/invoices/release", body={"ids": ids})
    assert status == 200, body
    assert body == {"released": [{"id": i, "status": "rendered"} for i in ids], "not_released": [],
                    "not_handed_on": []}
    # One read for the five, one conditional write each (the release's decision), one send for the five.
    assert Counter(operation for operation, _ in requests.of("dynamodb")) == Counter(
        {"BatchGetItem": 1, "UpdateItem": 5})
    assert [operation for operation, _ in requests.of("sqs")] == ["SendMessageBatch"]
    assert sorted(m["invoice_id"] for m in world.dispatch_messages()) == sorted(ids)
    for invoice_id in ids:
        shown = world.shown(invoice_id)
        assert shown["status"] == "rendered" and shown["approval"]["by"] == OFFICE_USER
        assert shown["events"][-1]["detail"] == f"released by {OFFICE_USER} (it waited: {AWAITING_APPROVAL})"


def test_an_invoice_not_held_or_not_there_is_refused_and_the_others_released(world: World) -> None:
    ids = held_invoices(world, range(4411, 4414))
    world.admin("POST", f"/invoices/{ids[0]}/release")  # released already: rendered now
    drain(world.dispatch_queue_url)

    status, body = world.admin("POST", "/invoices/release", body={"ids": [*ids, "nobody", ids[1]]})

    assert status == 200, body
    assert [r["id"] for r in body["released"]] == ids[1:]  # the one named twice released once
    assert body["not_released"] == [
        {"id": ids[0], "reason": f"invoice {world.invoices.get(ids[0]).number} is rendered, only held invoices can be released"},
        {"id": "nobody", "reason": "invoice nobody not found"},
    ]
    assert sorted(m["invoice_id"] for m in world.dispatch_messages()) == sorted(ids[1:])


def test_a_release_message_sqs_keeps_failing_is_reported_and_the_sweeper_hands_that_invoice_on(
    world: World, sqs_faults: SqsBatchFaults
) -> None:
    ids = held_invoices(world, range(4421, 4424))
    sqs_faults.fail(3, matching=ids[1])  # every attempt of the adapter

    status, body = world.admin("POST", "/invoices/release", body={"ids": ids})

    assert status == 200, body
    assert [r["id"] for r in body["released"]] == ids and body["not_handed_on"] == [ids[1]]
    for message in world.dispatch_messages():  # the two handed on go out
        assert message["invoice_id"] in (ids[0], ids[2])
        world.dispatch(message)
    assert world.invoices.get(ids[1]).status.value == "rendered"  # released, its message not sent

    swept = sweep_stuck_invoices(
        SweepServices(invoices=world.invoices, issuers=world.issuers, ledger=world.ledger,
                      render_queue=SqsWorkQueue(world.render_queue_url),
                      dispatch_queue=SqsWorkQueue(world.dispatch_queue_url),
                      notifier=FailureNotifier(world.mailer())),
        now=utcnow() + timedelta(minutes=20), stuck_after=timedelta(minutes=15), give_up_after=timedelta(hours=24),
    )
    assert swept.handed_on == 1
    assert [m["invoice_id"] for m in world.dispatch_messages()] == [ids[1]]


def test_more_than_a_hundred_at_once_is_refused(world: World) -> None:
    status, _ = world.admin("POST", "/invoices/release", body={"ids": [f"inv-{n}" for n in range(101)]})
    assert status in (400, 422)
