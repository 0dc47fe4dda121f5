"""The soak's crashes between a stored result and the message that follows (sandbox/step_crashes.py): each
point matches only its own hand-off, and crashes once per hand-off, so the retry gets through."""

from __future__ import annotations

import pytest

from sandbox.step_crashes import POINT_NAMES, StepCrash, StepCrashes

QUEUES = {"RenderQueue": "http://sqs/render", "DispatchQueue": "http://sqs/dispatch"}
RENDER_MESSAGE = {"QueueUrl": QUEUES["RenderQueue"], "MessageBody": '{"invoice_id": "i1", "version": 1}'}


def _invoice_put(status: str, version: int = 1) -> dict[str, object]:
    return {"TableName": "t", "Item": {"PK": {"S": "INVOICE#i1"}, "SK": {"S": "INVOICE"}, "status": {"S": status},
                                       "version": {"N": str(version)}}}


def _crashes(**rates: float) -> StepCrashes:
    named = dict(zip(("sync", "render", "changed", "tracking", "reroute"), POINT_NAMES, strict=True))
    return StepCrashes({named[key]: rate for key, rate in rates.items()}, seed=1, queue_urls=QUEUES)


def test_a_point_crashes_its_own_hand_off_once_and_lets_the_retry_through() -> None:
    crashes = _crashes(sync=1.0)
    with pytest.raises(StepCrash):
        crashes.before_call("SyncIntegrationFunction", "sqs", "SendMessage", RENDER_MESSAGE)
    crashes.before_call("SyncIntegrationFunction", "sqs", "SendMessage", RENDER_MESSAGE)  # the retry
    other = {**RENDER_MESSAGE, "MessageBody": '{"invoice_id": "i2", "version": 1}'}
    with pytest.raises(StepCrash):
        crashes.before_call("SyncIntegrationFunction", "sqs", "SendMessage", other)
    assert crashes.counts == {"sync→render": 2}
    assert crashes.missed() == []


def test_a_hand_off_made_once_without_a_crash_never_crashes_when_it_is_made_again() -> None:
    """A retried sync hands on again what it handed on before its crash: only new hand-offs may crash, so
    every retry gets further than the last one."""
    crashes = _crashes(sync=0.5)
    bodies = [{**RENDER_MESSAGE, "MessageBody": f'{{"invoice_id": "i{n}", "version": 1}}'} for n in range(40)]
    first_round = []
    for body in bodies:
        try:
            crashes.before_call("SyncIntegrationFunction", "sqs", "SendMessage", body)
            first_round.append(body)
        except StepCrash:
            pass
    assert 0 < crashes.counts["sync→render"] < len(bodies)
    for body in bodies:  # every one again: the crashed and the sent alike get through
        crashes.before_call("SyncIntegrationFunction", "sqs", "SendMessage", body)
    assert len(first_round) + crashes.counts["sync→render"] == len(bodies)


def _batch(*numbers: int) -> dict[str, object]:
    return {"QueueUrl": QUEUES["RenderQueue"], "Entries": [
        {"Id": str(n), "MessageBody": f'{{"invoice_id": "i{n}", "version": 1}}'} for n in numbers]}


def test_a_batch_is_judged_by_its_messages_so_a_retry_that_re_sends_them_gets_through() -> None:
    """The sync sends a page's render messages in one SendMessageBatch: the retry re-sends the same ones
    (whole, split, or with others handed on before the crash) and must not die on them again."""
    crashes = _crashes(sync=1.0)
    with pytest.raises(StepCrash):
        crashes.before_call("SyncIntegrationFunction", "sqs", "SendMessageBatch", _batch(1, 2, 3))
    crashes.before_call("SyncIntegrationFunction", "sqs", "SendMessageBatch", _batch(1, 2, 3))  # the retry
    crashes.before_call("SyncIntegrationFunction", "sqs", "SendMessageBatch", _batch(3, 1))  # regrouped
    crashes.before_call("SyncIntegrationFunction", "sqs", "SendMessage",
                        {**RENDER_MESSAGE, "MessageBody": '{"invoice_id": "i2", "version": 1}'})  # sent alone
    with pytest.raises(StepCrash):  # a message not handed on before makes it a new hand-off
        crashes.before_call("SyncIntegrationFunction", "sqs", "SendMessageBatch", _batch(1, 2, 4))
    crashes.before_call("SyncIntegrationFunction", "sqs", "SendMessageBatch", _batch(4))
    assert crashes.counts == {"sync→render": 2}


def test_other_callers_and_queues_are_left_alone() -> None:
    crashes = _crashes(sync=1.0, render=0.0)
    crashes.before_call("RenderFunction", "sqs", "SendMessage", RENDER_MESSAGE)  # not the sync
    crashes.before_call("SyncIntegrationFunction", "sqs", "SendMessage",
                        {**RENDER_MESSAGE, "QueueUrl": QUEUES["DispatchQueue"]})
    crashes.before_call("SyncIntegrationFunction", "sqs", "GetQueueAttributes", {"QueueUrl": QUEUES["RenderQueue"]})
    assert not crashes.counts and crashes.missed() == ["sync→render"]


def test_dispatch_crashes_after_the_ledger_before_the_invoice_is_sent() -> None:
    crashes = _crashes(tracking=1.0)
    crashes.before_call("DispatchFunction", "dynamodb", "PutItem", _invoice_put("sending"))  # the claim: not it
    with pytest.raises(StepCrash):
        crashes.before_call("DispatchFunction", "dynamodb", "TransactWriteItems",
                            {"TransactItems": [{"Put": _invoice_put("sent")}]})
    crashes.before_call("DispatchFunction", "dynamodb", "PutItem", _invoice_put("sent"))  # the retry
    with pytest.raises(StepCrash):  # the next version is another hand-off
        crashes.before_call("DispatchFunction", "dynamodb", "PutItem", _invoice_put("sent", version=2))


def _invoice_update(status: str, version: int = 1) -> dict[str, object]:
    """An invoice's move as the adapter writes it: an update of every attribute, its event appended."""
    return {"TableName": "t", "Key": {"PK": {"S": "INVOICE#i1"}, "SK": {"S": "INVOICE"}},
            "UpdateExpression": "SET #a0 = :a0, #a1 = :a1, #events = list_append(if_not_exists(#events, :none), "
                                ":events) REMOVE #r0",
            "ExpressionAttributeNames": {"#a0": "status", "#a1": "version", "#events": "events", "#r0": "channel"},
            "ExpressionAttributeValues": {":a0": {"S": status}, ":a1": {"N": str(version)}, ":none": {"L": []},
                                          ":events": {"L": []}}}


def test_dispatch_crashes_before_an_invoice_update_to_sent_alone_or_with_its_delivery() -> None:
    """The move to `sent` is an update of the invoice item, in the outcome's transaction or on its own."""
    crashes = _crashes(tracking=1.0)
    crashes.before_call("DispatchFunction", "dynamodb", "UpdateItem", _invoice_update("sending"))  # not it
    outcome = {"TransactItems": [
        {"Put": {"TableName": "t", "Item": {"PK": {"S": "INVOICE#i1"}, "SK": {"S": "DELIVERY#000001"}}}},
        {"Update": _invoice_update("sent")},
    ]}
    with pytest.raises(StepCrash):
        crashes.before_call("DispatchFunction", "dynamodb", "TransactWriteItems", outcome)
    crashes.before_call("DispatchFunction", "dynamodb", "TransactWriteItems", outcome)  # the retry
    with pytest.raises(StepCrash):  # the next version, moved on its own, is another hand-off
        crashes.before_call("DispatchFunction", "dynamodb", "UpdateItem", _invoice_update("sent", version=2))
    assert crashes.counts == {"dispatch→tracking (sent, not yet recorded)": 2}


def test_switched_off_or_unknown_points() -> None:
    crashes = _crashes(sync=1.0)
    crashes.enabled = False
    crashes.before_call("SyncIntegrationFunction", "sqs", "SendMessage", RENDER_MESSAGE)
    with pytest.raises(ValueError, match="unknown crash points"):
        StepCrashes({"sync→dispatch": 1.0})


def test_the_first_new_hand_off_at_each_point_crashes_whatever_the_draws() -> None:
    """A small run reaches a point a few times only: at a low rate it could miss it and prove nothing
    there. The first new hand-off at each point with a rate crashes for sure; the rest are drawn."""
    crashes = _crashes(sync=0.001, render=0.001)
    with pytest.raises(StepCrash):
        crashes.before_call("SyncIntegrationFunction", "sqs", "SendMessageBatch", _batch(1, 2))
    with pytest.raises(StepCrash):
        crashes.before_call("RenderFunction", "sqs", "SendMessage", {
            "QueueUrl": QUEUES["DispatchQueue"], "MessageBody": '{"invoice_id": "i1", "version": 1}'})
    for n in range(3, 40):  # drawn at 0.001 from here on (seed 1: none of these)
        crashes.before_call("SyncIntegrationFunction", "sqs", "SendMessageBatch", _batch(n))
    assert crashes.counts == {"sync→render": 1, "render→dispatch": 1}
    drawn_only = StepCrashes({"sync→render": 0.001}, seed=1, queue_urls=QUEUES, first_for_sure=False)
    drawn_only.before_call("SyncIntegrationFunction", "sqs", "SendMessageBatch", _batch(1, 2))
    assert not drawn_only.counts
