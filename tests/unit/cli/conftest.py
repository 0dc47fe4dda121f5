"""Run the CLI in-process against an httpx.MockTransport and capture what it sent and printed."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from invoice_bridge_cli import main

API_URL = "http://127.0.0.1:9999"
ADMIN_TOKEN = "local-admin-token-0123456789"


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    requests: list[httpx.Request] = field(default_factory=list)

    def bodies(self) -> list[Any]:
        return [json.loads(r.content) if r.content else None for r in self.requests]


Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def stack_json(tmp_path: Path) -> Path:
    path = tmp_path / ".local" / "stack.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"api_url": API_URL, "admin_token": ADMIN_TOKEN, "aws_region": "eu-north-1"}))
    return path


@pytest.fixture
def cli(stack_json: Path) -> Callable[..., Run]:
    def run(argv: list[str], handler: Handler, *, stack: bool = True) -> Run:
        seen: list[httpx.Request] = []

        def recording(request: httpx.Request) -> httpx.Response:
            request.read()
            seen.append(request)
            return handler(request)

        stdout, stderr = io.StringIO(), io.StringIO()
        args = ["--stack", str(stack_json), *argv] if stack else argv
        code = main(args, transport=httpx.MockTransport(recording), stdout=stdout, stderr=stderr)
        return Run(code, stdout.getvalue(), stderr.getvalue(), seen)

    return run


@pytest.fixture
def api_error() -> Callable[..., httpx.Response]:
    def error(status: int, code: str, message: str, details: list[Any] | None = None) -> httpx.Response:
        return httpx.Response(status, json={"error": {"code": code, "message": message, "details": details or []}})

    return error
