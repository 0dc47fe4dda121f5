"""On the embedded stack every function logs under its own name, even while others log at the same time
through the one Logger the service shares (in Lambda a process is one function; here it is all of them)."""

from __future__ import annotations

import json
import logging
import sys
import threading
import types
from pathlib import Path

import pytest
from invoice_bridge.observability import logger

from sandbox.lambdas import Handlers
from sandbox.template import load_template

HANDLER = '''
import log_probe
from invoice_bridge.observability import logger


@logger.inject_lambda_context
def lambda_handler(event, context):
    log_probe.both_started.wait(timeout=10)  # the other function has injected its context by now
    logger.info("working", extra={"step": event["step"]})
    log_probe.both_logged.wait(timeout=10)
    logger.info("done", extra={"step": event["step"]})
    return event["step"]
'''

TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  FirstFunction:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: first/, Handler: app.lambda_handler, Runtime: python3.12}
  SecondFunction:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: second/, Handler: app.lambda_handler, Runtime: python3.12}
"""


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logger.registered_formatter)
        self.lines: list[dict[str, object]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def handlers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Handlers:
    for folder in ("first", "second"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "app.py").write_text(HANDLER)
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    probe = types.SimpleNamespace(both_started=threading.Barrier(2), both_logged=threading.Barrier(2))
    monkeypatch.setitem(sys.modules, "log_probe", probe)
    return Handlers(load_template(tmp_path / "template.yaml"))


def test_two_functions_logging_at_once_each_log_under_their_own_name(handlers: Handlers) -> None:
    lines = Lines()
    logger.addHandler(lines)  # the Logger hands this to its logging.Logger
    try:
        threads = [
            threading.Thread(target=handlers.invoke, args=(name, {"step": name}))
            for name in ("FirstFunction", "SecondFunction")
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        logger.removeHandler(lines)

    ours = [line for line in lines.lines if line.get("message") in {"working", "done"}]
    assert len(ours) == 4
    for line in ours:
        assert line["function_name"] == line["step"], line
