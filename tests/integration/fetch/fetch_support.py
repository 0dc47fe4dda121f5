"""Fetch integration fixtures: moto (DynamoDB, S3, SQS), the Spiris sandbox over real HTTP, REST events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import httpx
import pytest
from invoice_bridge import wiring
from moto import mock_aws
from rest_events import call

from sandbox.aws import create_template_table
from sandbox.spiris import serve

TABLE = "fetch-test-table"
BUCKET = "fetch-test-documents"


def create_table(name: str = TABLE) -> None:
    create_template_table(name, ddb=boto3.client("dynamodb"))


@dataclass
class Aws:
    sync_queue_url: str
    render_queue_url: str

    def drain(self, queue_url: str) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs")
        bodies: list[dict[str, Any]] = []
        while True:
            got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not got:
                return bodies
            for message in got:
                bodies.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    with mock_aws():
        wiring.reset()
        create_table()
        boto3.client("s3").create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-north-1"}
        )
        sqs = boto3.client("sqs")
        sync_url = sqs.create_queue(QueueName="sync")["QueueUrl"]
        render_url = sqs.create_queue(QueueName="render")["QueueUrl"]
        # The admin routes build their adapters from Settings (environment), as in the Lambda.
        monkeypatch.setenv("TABLE_NAME", TABLE)
        monkeypatch.setenv("DOCUMENTS_BUCKET", BUCKET)
        monkeypatch.setenv("SYNC_QUEUE_URL", sync_url)
        monkeypatch.setenv("RENDER_QUEUE_URL", render_url)
        wiring.reset()
        yield Aws(sync_queue_url=sync_url, render_queue_url=render_url)
        wiring.reset()


@pytest.fixture
def sandbox() -> Iterator[httpx.Client]:
    server, base_url = serve("127.0.0.1", 0)
    with httpx.Client(base_url=base_url, timeout=30) as client:
        yield client
    server.shutdown()


def call_admin(method: str, path: str) -> tuple[int, Any]:
    """One admin API request as an API Gateway REST proxy event through the real resolver."""
    from invoice_bridge.api.admin import build_app

    response = call(build_app(), method, path)
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else None
