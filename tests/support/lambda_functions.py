"""A function's handler run as Lambda runs it: its module imported as at a cold start (its code directory
first on the path), and an SQS batch event made of the messages waiting on a (moto) queue."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3

from sandbox.drainer import sqs_event

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"


class FunctionContext:
    """The Lambda context a handler gets (Powertools' logger and batch processor read it)."""

    function_name = "test"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:eu-north-1:123456789012:function:test"
    aws_request_id = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def cold_start(function_dir: str) -> ModuleType:
    """Import `functions/<function_dir>/app.py` as Lambda does at a cold start."""
    source = FUNCTIONS / function_dir / "app.py"
    spec = importlib.util.spec_from_file_location(f"_handler_{function_dir}", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(source.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(source.parent))
    return module


def batch_event(queue_url: str, size: int = 10) -> dict[str, Any]:
    """Up to `size` (at most 10) messages received from the queue, as the event source mapping delivers them."""
    sqs = boto3.client("sqs")
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=size, AttributeNames=["All"]).get(
        "Messages", []
    )
    return sqs_event(messages, arn)
