"""sandbox.template reads the SAM template: resources, events, auth, intrinsics."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.template import UnresolvedIntrinsic, load_template, resolve

FIXTURE_TEMPLATE = Path(__file__).parent / "fixture" / "template.yaml"


def test_resources_and_queue_redrive_come_from_the_template() -> None:
    tpl = load_template(FIXTURE_TEMPLATE)
    assert set(tpl.tables) == {"Table"}
    assert set(tpl.buckets) == {"Bucket"}
    assert set(tpl.keys) == {"Key"} and tpl.key_aliases == {"Key": ["alias/stack-test"]}
    work = tpl.queues["WorkQueue"]
    assert (work.dead_letter_queue, work.max_receive_count, work.visibility_timeout) == (
        "WorkDeadLetterQueue",
        2,
        1,
    )
    dlq = tpl.queues["WorkDeadLetterQueue"]
    assert (dlq.dead_letter_queue, dlq.visibility_timeout) == (None, 30)
    assert tpl.binary_media_types == ("image/jpeg", "image/png")


def test_functions_events_and_auth() -> None:
    tpl = load_template(FIXTURE_TEMPLATE)
    api = tpl.functions["ApiFunction"]
    assert api.code_uri == "functions/api/" and api.handler == "app.lambda_handler"
    assert (api.timeout, api.memory_size) == (10, 256)
    auth = {e.name: (e.method, e.path, e.auth) for e in api.api_events}
    assert auth["Hello"] == ("GET", "/public/{name}", None)  # Authorizer: NONE overrides the default
    assert auth["GetThing"] == ("GET", "/things/{thing_id}", "AWS_IAM")  # Globals DefaultAuthorizer
    # Globals and own variables merged, own wins; intrinsics kept for later resolution.
    assert api.environment["TABLE_NAME"] == {"Ref": "Table"}
    assert api.environment["WORK_QUEUE_ARN"] == {"Fn::GetAtt": ["WorkQueue", "Arn"]}
    (sqs,) = tpl.functions["WorkerFunction"].sqs_events
    assert (sqs.queue, sqs.batch_size, sqs.report_batch_item_failures) == ("WorkQueue", 10, True)
    (tick,) = tpl.functions["TickFunction"].schedule_events
    assert (tick.kind, tick.expression) == ("ScheduleV2", "rate(1 hour)")


def test_resolve_intrinsics() -> None:
    refs = {"AWS::Region": "eu-north-1", "Q": "http://q", "P": "x"}
    attrs = {("Q", "Arn"): "arn:q"}
    assert (
        resolve({"Fn::Sub": "${AWS::Region}/${Q.Arn}/${!Literal}"}, refs, attrs)
        == "eu-north-1/arn:q/${Literal}"
    )
    assert resolve({"Fn::Sub": ["${a}-${P}", {"a": {"Ref": "Q"}}]}, refs, attrs) == "http://q-x"
    assert resolve({"Fn::Join": [",", [{"Ref": "P"}, "y"]]}, refs, attrs) == "x,y"
    with pytest.raises(UnresolvedIntrinsic, match="Nope"):
        resolve({"Ref": "Nope"}, refs, attrs)


def test_conditions_if_and_no_value() -> None:
    from sandbox.template import NO_VALUE

    conditions = {"HasUrl": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Url"}, ""]}]}}
    value = {"Fn::If": ["HasUrl", {"Ref": "Url"}, {"Ref": "AWS::NoValue"}]}
    assert resolve(value, {"Url": "https://x"}, {}, conditions) == "https://x"
    assert resolve(value, {"Url": ""}, {}, conditions) is NO_VALUE
