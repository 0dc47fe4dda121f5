"""AWS requests are attributed to the function whose handler the embedded stack runs (Handlers.invoke),
per service and operation; requests outside every handler are the platform's."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from bench.awscalls import PLATFORM, AwsCallCounter
from sandbox.lambdas import Handlers
from sandbox.template import Function, Template

HANDLER = """
import boto3


def lambda_handler(event, context):
    session = boto3.session.Session(region_name="eu-north-1")
    for service, operation in event["calls"]:
        getattr(session.client(service), operation)()
    return context.function_name
"""


@pytest.fixture
def template(tmp_path: Path) -> Template:
    functions = {}
    for logical_id in ("RenderFunction", "DispatchFunction"):
        code = tmp_path / logical_id
        code.mkdir()
        (code / "app.py").write_text(HANDLER)
        functions[logical_id] = Function(
            logical_id=logical_id, code_uri=logical_id, handler="app.lambda_handler", timeout=30,
            memory_size=512, environment={},
        )
    return Template(path=tmp_path / "template.yaml", raw={}, functions=functions)


def test_requests_are_counted_per_function_and_operation(template: Template) -> None:
    counter = AwsCallCounter()
    counter.install()
    try:
        with mock_aws():
            handlers = Handlers(template)
            handlers.invoke("RenderFunction", {"calls": [["s3", "list_buckets"], ["sqs", "list_queues"]]})
            handlers.invoke("DispatchFunction", {"calls": [["s3", "list_buckets"]] * 2})
            boto3.session.Session(region_name="eu-north-1").client("sqs").list_queues()
    finally:
        counter.uninstall()

    assert counter.by_function_operation() == {
        "DispatchFunction": {"s3": {"ListBuckets": 2}},
        "RenderFunction": {"s3": {"ListBuckets": 1}, "sqs": {"ListQueues": 1}},
    }
    assert counter.requests[(PLATFORM, "sqs", "ListQueues")] == 1


def test_the_benchs_own_look_at_the_outcome_counts_in_no_figure(template: Template) -> None:
    from bench.e2e import Invocations, outside_the_figures

    counter, invocations = AwsCallCounter(), Invocations()
    counter.install()
    try:
        with mock_aws():
            handlers = Handlers(template)
            handlers.invoke("RenderFunction", {"calls": [["s3", "list_buckets"]]})  # the pipeline's work
            invocations.record("RenderFunction", 0.0, 1.0)
            with outside_the_figures(counter, invocations):
                handlers.invoke("DispatchFunction", {"calls": [["sqs", "list_queues"]]})
                invocations.record("AdminApiFunction", 1.0, 2.0)
            handlers.invoke("DispatchFunction", {"calls": [["s3", "list_buckets"]]})  # counted again
    finally:
        counter.uninstall()
    assert counter.by_function_operation() == {
        "DispatchFunction": {"s3": {"ListBuckets": 1}}, "RenderFunction": {"s3": {"ListBuckets": 1}}}
    assert set(invocations.durations) == {"RenderFunction"}
