"""Render's dispatch messages on SQS (moto), as the RenderFunction's handler sends them: a batch's go out
together at its end (SendMessageBatch), and a message SQS did not take (sandbox/sqs_faults.py: moto never
fails an entry) fails its record, whose retry hands the stored render on again: no invoice stays
`rendered` without its dispatch message."""

from __future__ import annotations

from typing import Any

import pytest
from aws_requests import aws_requests
from invoice_bridge.adapters.s3_documents import S3DocumentStore
from invoice_bridge.adapters.sqs_queue import SqsWorkQueue
from invoice_bridge.dispatch import FailureNotifier
from invoice_bridge.mapping import invoice_id_for
from invoice_bridge.render.service import RenderOutcome, RenderServices, render_invoice
from lambda_functions import FunctionContext, batch_event, cold_start
from sending_support import BUCKET, ISSUER_ID, World, drain

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


class DuplicateRenderMidStore(S3DocumentStore):
    """The documents bucket (moto) where a duplicate of the render message runs to its end while this
    render stores its first document: both read the invoice before either wrote it, as two instances
    handling an SQS duplicate (or two syncs' hand-offs) at once do."""

    def __init__(self, world: World, message: dict[str, Any]) -> None:
        super().__init__(BUCKET)
        self.world, self.message = world, message
        self.duplicate: str | None = None

    def put(self, key: str, data: bytes, content_type: str) -> None:
        if self.duplicate is None:
            self.duplicate = "running"
            self.duplicate = _render(self.world, self.message, S3DocumentStore(BUCKET)).status
        super().put(key, data, content_type)


def _render(world: World, message: dict[str, Any], documents: S3DocumentStore) -> RenderOutcome:
    services = RenderServices(invoices=world.invoices, issuers=world.issuers, documents=documents,
                              dispatch_queue=SqsWorkQueue(world.dispatch_queue_url),
                              notifier=FailureNotifier(world.mailer()))
    return render_invoice(message["invoice_id"], message["version"], services)


@pytest.mark.parametrize("held", [True, False], ids=["held-for-review", "goes-out"])
def test_a_duplicate_render_run_meanwhile_records_the_version_once(world: World, held: bool) -> None:
    """The second writer finds the version rendered by the first (its read was before it): it records
    nothing, appends no event and hands nothing on a second time."""
    world.settings(sending="approve" if held else "automatic")
    source = world.company.add(4331)
    world.sync()
    [message] = drain(world.render_queue_url)
    store = DuplicateRenderMidStore(world, message)

    outcome = _render(world, message, store)

    assert store.duplicate == ("held" if held else "rendered")  # the duplicate ran first to its end
    assert outcome.status == "skipped" and outcome.reasons[0].startswith("moved on to v1")
    invoice_id = world.ours(source.Id)
    assert [e.status for e in world.invoices.events(invoice_id)] == ["queued", "held" if held else "rendered"]
    assert len(world.dispatch_messages()) == (0 if held else 1)
