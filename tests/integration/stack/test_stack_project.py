"""The embedded stack on the project's own template.yaml, with the Spiris and operator sandboxes,
and `python -m sandbox.serve` as `make serve` runs it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import httpx

from sandbox.stack import DEFAULT_TEMPLATE, REPO_ROOT, STACK_JSON_FIELDS, LocalStack
from sandbox.template import load_template

FIXTURE_TEMPLATE = Path(__file__).parent / "fixture" / "template.yaml"


def test_project_template_comes_up_with_its_own_queues_and_sandboxes(tmp_path: Path) -> None:
    tpl = load_template(DEFAULT_TEMPLATE)
    with LocalStack(run_drainer=False, run_scheduler=False) as stack:
        sqs = boto3.client("sqs", endpoint_url=stack.aws_endpoint_url, region_name=stack.aws_region)
        for queue in tpl.queues.values():
            attrs = sqs.get_queue_attributes(
                QueueUrl=stack.aws.resources.queue_urls[queue.logical_id], AttributeNames=["All"]
            )["Attributes"]
            assert attrs["VisibilityTimeout"] == str(queue.visibility_timeout)
            if queue.dead_letter_queue:
                redrive = json.loads(attrs["RedrivePolicy"])
                assert redrive["maxReceiveCount"] == queue.max_receive_count
                assert redrive["deadLetterTargetArn"].endswith(f":{queue.dead_letter_queue}")
        # Every SQS event source of the template has a pump, every table exists.
        assert {p.source.queue for p in stack.drainer.pumps} == {
            e.queue for f in tpl.functions.values() for e in f.sqs_events
        }
        ddb = boto3.client("dynamodb", endpoint_url=stack.aws_endpoint_url, region_name=stack.aws_region)
        assert set(ddb.list_tables()["TableNames"]) == set(tpl.tables)
        # The function environment points at the local pieces.
        env = stack.environment
        assert env["PUBLIC_BASE_URL"] == stack.api_url
        assert env["SPIRIS_API_URL"] == stack.spiris_url and env["OPERATOR_URL"] == stack.operator_url
        ssm = boto3.client("ssm", endpoint_url=stack.aws_endpoint_url, region_name=stack.aws_region)
        secret = ssm.get_parameter(Name=env["SPIRIS_CLIENT_SECRET_PARAMETER"], WithDecryption=True)
        assert secret["Parameter"]["Value"]
        # The admin API refuses a request without the token before any handler runs.
        iam_route = next(e.path for f in tpl.functions.values() for e in f.api_events if e.auth == "AWS_IAM")
        assert httpx.get(stack.api_url + iam_route.replace("{id}", "x")).status_code == 401
        # The sandboxes answer.
        assert httpx.get(f"{stack.spiris_url}/_sandbox/stats").status_code == 200
        assert httpx.get(f"{stack.operator_url}/_sandbox/invoices").status_code == 200

        written = json.loads(stack.write_stack_json(tmp_path / "stack.json").read_text())
        assert tuple(written) == STACK_JSON_FIELDS
        assert written["aws_region"] == "eu-north-1" and written["admin_token"] == stack.admin_token
        assert all(
            written[k].startswith("http://127.0.0.1:") for k in STACK_JSON_FIELDS if k.endswith("_url")
        )


def test_serve_writes_stack_json_and_stops_on_sigterm(tmp_path: Path) -> None:
    stack_json = tmp_path / "stack.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox.serve",
            "--template",
            str(FIXTURE_TEMPLATE),
            "--stack-json",
            str(stack_json),
        ],
        cwd=REPO_ROOT,
        env={**os.environ, "SCHEDULE_SECONDS": "3600"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 90
        while not stack_json.exists():
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            assert time.monotonic() < deadline, "stack.json never written"
            time.sleep(0.2)
        info = json.loads(stack_json.read_text())
        assert set(info) == set(STACK_JSON_FIELDS)
        assert httpx.get(f"{info['api_url']}/things/x").status_code == 401
        ok = httpx.get(
            f"{info['api_url']}/things/x", headers={"Authorization": f"Bearer {info['admin_token']}"}
        )
        assert ok.status_code == 200 and ok.json()["id"] == "x"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        assert not stack_json.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
