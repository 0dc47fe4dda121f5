"""The office releases many held invoices at once (POST /invoices/release: a held first sync), on moto:
the invoices read together (BatchGetItem), each released on its own condition with the office's event,
written together (TransactWriteItems), their dispatch messages sent together (SendMessageBatch); a message SQS did not take is reported,
and the sweeper hands that `rendered` invoice on. A transaction DynamoDB cancels because another holds one of
its items (sandbox/dynamodb_conflicts.py: moto never does) is sent again, then written invoice by invoice; an
invoice still busy is answered 503 "busy" with Retry-After, never a 500."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection
from datetime import timedelta

from aws_requests import aws_requests
from invoice_bridge.adapters.dynamo_invoices import TRANSACTION_ATTEMPTS, DynamoInvoiceRepository
from invoice_bridge.adapters.sqs_queue import SqsWorkQueue
from invoice_bridge.api.admin import build_app
from invoice_bridge.dispatch import FailureNotifier
from invoice_bridge.invoices import release_invoices
from invoice_bridge.models.common import utcnow
from invoice_bridge.models.invoice import AWAITING_APPROVAL, Invoice, InvoiceStatus
from invoice_bridge.stuck import SweepServices, sweep_stuck_invoices
from rest_events import LambdaContext, api_event
from sending_support import OFFICE_USER, TABLE, World, drain

from sandbox.dynamodb_conflicts import conflict_dynamodb_writes
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
    # One read for the five, their conditional writes (the release's decisions) together, one send.
    assert Counter(operation for operation, _ in requests.of("dynamodb")) == Counter(
        {"BatchGetItem": 1, "TransactWriteItems": 1})
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


class ChangedAfterTheRead(DynamoInvoiceRepository):
    """The real repository; the sync stores a next version of one invoice right after the release read it."""

    def __init__(self, table: str, changes: str) -> None:
        super().__init__(table)
        self.changes = changes

    def get_many(self, invoice_ids: Collection[str]) -> dict[str, Invoice]:
        found = super().get_many(invoice_ids)
        current = self.get(self.changes)
        self.put(current.model_copy(update={"version": current.version + 1, "status": InvoiceStatus.QUEUED}))
        return found


def test_an_invoice_that_changed_after_the_read_is_not_released_and_the_others_are(world: World) -> None:
    ids = held_invoices(world, range(4431, 4435))
    invoices = ChangedAfterTheRead(TABLE, changes=ids[2])
    result = release_invoices(ids, invoices=invoices, dispatch_queue=SqsWorkQueue(world.dispatch_queue_url),
                              by=OFFICE_USER)
    assert result.changed == [ids[2]] and result.refused == {} and result.not_handed_on == {}
    assert [invoice.id for invoice in result.released] == [ids[0], ids[1], ids[3]]
    assert sorted(m["invoice_id"] for m in world.dispatch_messages()) == sorted([ids[0], ids[1], ids[3]])
    changed = world.shown(ids[2])
    assert (changed["status"], changed["version"]) == ("queued", 2)  # the next version, left alone
    assert not any(e["detail"].startswith("released by") for e in changed["events"])


def released_by_office(world: World, invoice_id: str) -> int:
    """How many release events the invoice's history shows."""
    return sum(e["detail"].startswith(f"released by {OFFICE_USER}") for e in world.shown(invoice_id)["events"])


def test_a_release_whose_transaction_meets_another_is_sent_again_and_releases_each_once(world: World) -> None:
    ids = held_invoices(world, range(4441, 4446))
    with conflict_dynamodb_writes({f"INVOICE#{ids[2]}"}, transactions=1) as conflicts, aws_requests() as requests:
        status, body = world.admin("POST", "/invoices/release", body={"ids": ids})

    assert status == 200, body
    assert [r["id"] for r in body["released"]] == ids and body["not_released"] == [], body
    # DynamoDB cancelled the first transaction whole (the third item was another's); the second wrote all five.
    assert conflicts.cancelled == [["None", "None", "TransactionConflict", "None", "None"]]
    assert [op for op, _ in requests.dynamodb_writes("INVOICE/INVOICE")] == ["TransactWriteItems", "TransactWriteItems"]
    assert sorted(m["invoice_id"] for m in world.dispatch_messages()) == sorted(ids)
    assert [released_by_office(world, i) for i in ids] == [1] * 5


def test_a_release_whose_transactions_keep_meeting_another_is_written_invoice_by_invoice(world: World) -> None:
    ids = held_invoices(world, range(4451, 4455))
    with conflict_dynamodb_writes({f"INVOICE#{ids[0]}"}, transactions=99) as conflicts, \
            aws_requests() as requests:
        status, body = world.admin("POST", "/invoices/release", body={"ids": ids})

    assert status == 200, body
    assert [r["id"] for r in body["released"]] == ids and body["not_released"] == []
    assert len(conflicts.cancelled) == TRANSACTION_ATTEMPTS  # then one conditional write each
    assert [op for op, _ in requests.dynamodb_writes("INVOICE/INVOICE")] == (
        ["TransactWriteItems"] * TRANSACTION_ATTEMPTS + ["UpdateItem"] * 4)
    assert sorted(m["invoice_id"] for m in world.dispatch_messages()) == sorted(ids)
    for invoice_id in ids:
        assert world.invoices.get(invoice_id).status == InvoiceStatus.RENDERED
        assert released_by_office(world, invoice_id) == 1


def test_a_release_one_invoice_of_which_stays_busy_answers_try_again_and_its_repeat_releases_the_rest(
    world: World,
) -> None:
    ids = held_invoices(world, range(4461, 4465))
    with conflict_dynamodb_writes({f"INVOICE#{ids[1]}"}, transactions=99, single_writes=99):
        status, body = world.admin("POST", "/invoices/release", body={"ids": ids})

    # Not a 500: the office is told what was not released now and to send it again.
    assert status == 503, body
    assert body["error"]["code"] == "busy" and body["error"]["details"] == [{"id": i} for i in ids[1:]]
    assert "3 of 4 invoices could not be released now" in body["error"]["message"]
    # The one written before the busy item was released and handed on; the others are untouched.
    assert [m["invoice_id"] for m in world.dispatch_messages()] == [ids[0]]
    assert [world.invoices.get(i).status for i in ids] == [InvoiceStatus.RENDERED] + [InvoiceStatus.HELD] * 3

    status, body = world.admin("POST", "/invoices/release", body={"ids": ids})

    assert status == 200, body
    assert [r["id"] for r in body["released"]] == ids[1:] and [r["id"] for r in body["not_released"]] == ids[:1]
    assert sorted(m["invoice_id"] for m in world.dispatch_messages()) == sorted(ids[1:])
    assert [released_by_office(world, i) for i in ids] == [1] * 4


def test_a_release_whose_read_the_table_keeps_throttling_answers_try_again_and_releases_nothing(
    world: World,
) -> None:
    ids = held_invoices(world, range(4466, 4469))
    with conflict_dynamodb_writes({f"INVOICE#{ids[1]}"}, transactions=0, batch_reads=99) as refusals:
        status, body = world.admin("POST", "/invoices/release", body={"ids": ids})

    assert refusals.refused["batch_get_item"] >= 2  # asked again after a pause, never taken as read
    assert status == 503, body
    assert body["error"]["code"] == "busy" and body["error"]["details"] == [{"id": i} for i in ids]
    assert "nothing was released" in body["error"]["message"]
    assert [world.invoices.get(i).status for i in ids] == [InvoiceStatus.HELD] * 3 and world.dispatch_messages() == []

    status, body = world.admin("POST", "/invoices/release", body={"ids": ids})

    assert status == 200, body
    assert [r["id"] for r in body["released"]] == ids


def test_releasing_one_invoice_another_transaction_holds_answers_try_again_with_retry_after(world: World) -> None:
    (invoice_id,) = held_invoices(world, range(4471, 4472))
    with conflict_dynamodb_writes({f"INVOICE#{invoice_id}"}, single_writes=1) as conflicts:
        event = api_event("POST", f"/invoices/{invoice_id}/release")
        event["requestContext"]["identity"]["userArn"] = OFFICE_USER
        response = build_app().resolve(event, LambdaContext())

    assert conflicts.refused == Counter({"update_item": 1})
    assert response["statusCode"] == 503, response
    assert int(response["multiValueHeaders"]["Retry-After"][0]) >= 1
    assert json.loads(response["body"])["error"]["code"] == "busy"
    assert world.invoices.get(invoice_id).status == InvoiceStatus.HELD and world.dispatch_messages() == []

    status, body = world.admin("POST", f"/invoices/{invoice_id}/release")  # the office's try again
    assert (status, body) == (202, {"id": invoice_id, "status": "rendered"})
