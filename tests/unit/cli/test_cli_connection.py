"""Connection, authentication (bearer, SigV4), error rendering and exit codes."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from invoice_bridge_cli.config import ConfigError, resolve_connection


def test_validation_errors_are_printed_with_their_details_and_exit_1(cli, api_error):
    details = [{"loc": ["body", "org_number"], "msg": "invalid organisation number"}]
    run = cli(["issuers", "create", "--name", "A", "--org-number", "1", "--street", "s", "--postal-code", "1",
               "--city", "c", "--notification-email", "a@b.example"],
              lambda request: api_error(422, "invalid_org_number", "org_number is not valid", details))
    assert run.code == 1
    assert "invalid_org_number" in run.stderr and "HTTP 422" in run.stderr
    assert "org_number is not valid" in run.stderr
    assert "org_number: invalid organisation number" in run.stderr
    assert run.stdout == ""


def test_an_answer_without_the_error_shape_still_exits_1(cli):
    run = cli(["issuers", "show", "x"], lambda request: httpx.Response(403, json={"message": "Missing Authentication Token"}))
    assert run.code == 1
    assert "http_403" in run.stderr and "Missing Authentication Token" in run.stderr


def test_an_unreachable_api_exits_1(cli):
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    run = cli(["issuers", "show", "x"], refuse)
    assert run.code == 1 and "connection_failed" in run.stderr


def test_missing_stack_json_is_a_usage_error(cli, tmp_path: Path):
    run = cli(["--stack", str(tmp_path / "nope.json"), "issuers", "show", "x"], lambda request: httpx.Response(200),
              stack=False)
    assert run.code == 2 and run.requests == []
    assert "nope.json not found" in run.stderr


def test_unknown_command_is_a_usage_error(cli):
    run = cli(["frobnicate"], lambda request: httpx.Response(200))
    assert run.code == 2 and "invalid choice" in run.stderr


def test_default_stack_json_is_read_from_the_current_directory(tmp_path: Path, monkeypatch):
    (tmp_path / ".local").mkdir()
    (tmp_path / ".local" / "stack.json").write_text(json.dumps({"api_url": "http://127.0.0.1:1234/",
                                                                 "admin_token": "tok"}))
    monkeypatch.chdir(tmp_path)
    connection = resolve_connection(stack=None, api_url=None, sigv4=False, region=None)
    assert connection.api_url == "http://127.0.0.1:1234" and connection.admin_token == "tok"
    assert "tok" not in repr(connection)


def test_sigv4_needs_a_region():
    try:
        resolve_connection(stack=None, api_url="https://api.example", sigv4=True, region=None, environ={})
    except ConfigError as exc:
        assert "region" in str(exc)
    else:
        raise AssertionError("no ConfigError")
    connection = resolve_connection(stack=None, api_url="https://api.example", sigv4=True, region=None,
                                    environ={"AWS_REGION": "eu-west-1"})
    assert connection.sigv4_region == "eu-west-1" and connection.admin_token is None


def test_sigv4_signs_each_request_with_the_callers_credentials(cli, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    body = {"source": "spiris", "contact_name": "Eva", "contact_email": "eva@acme.example"}
    run = cli(["--api-url", "https://abc.execute-api.eu-north-1.amazonaws.com/prod", "--sigv4",
               "--region", "eu-north-1", "integrations", "order", "iss-1", "--contact-name", "Eva",
               "--contact-email", "eva@acme.example"],
              lambda request: httpx.Response(201, json={"id": "int-1", "status": "pending_consent",
                                                        "consent_url": "u"}), stack=False)
    assert run.code == 0, run.stderr
    [request] = run.requests
    assert str(request.url) == "https://abc.execute-api.eu-north-1.amazonaws.com/prod/issuers/iss-1/integrations"
    authorization = request.headers["Authorization"]
    amz_date = request.headers["X-Amz-Date"]
    match = re.fullmatch(
        r"AWS4-HMAC-SHA256 Credential=testing/(\d{8})/eu-north-1/execute-api/aws4_request, "
        r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})", authorization)
    assert match, authorization
    assert match.group(1) == amz_date[:8]
    assert "host" in match.group(2).split(";") and "x-amz-date" in match.group(2).split(";")
    assert json.loads(request.content) == body

    # The signature is the one AWS computes for exactly this request, body included.
    check = AWSRequest(method="POST", url=str(request.url), data=request.content,
                       headers={"Content-Type": request.headers["Content-Type"], "X-Amz-Date": amz_date})
    check.context["timestamp"] = amz_date
    signer = SigV4Auth(Credentials("testing", "testing-secret"), "execute-api", "eu-north-1")
    check.headers["X-Amz-Content-SHA256"] = request.headers.get("X-Amz-Content-SHA256", "")
    if not check.headers["X-Amz-Content-SHA256"]:
        del check.headers["X-Amz-Content-SHA256"]
    expected = signer.signature(signer.string_to_sign(check, signer.canonical_request(check)), check)
    assert match.group(3) == expected
    assert dt.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ")


def test_sigv4_without_region_is_a_usage_error(cli, monkeypatch):
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    run = cli(["--api-url", "https://api.example", "--sigv4", "issuers", "show", "x"],
              lambda request: httpx.Response(200), stack=False)
    assert run.code == 2 and run.requests == []


def test_sigv4_signs_every_page_of_a_listing(cli, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret")
    monkeypatch.setenv("AWS_REGION", "eu-north-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)

    def handler(request: httpx.Request) -> httpx.Response:
        more = "cursor" not in request.url.params
        return httpx.Response(200, json={"items": [], "next_cursor": "eyJQSyI6IngifQ==" if more else None})

    run = cli(["--api-url", "https://api.example/prod", "--sigv4", "--json", "invoices", "list"], handler, stack=False)
    assert run.code == 0, run.stderr
    assert len(run.requests) == 2
    assert run.requests[1].url.params["cursor"] == "eyJQSyI6IngifQ=="
    signatures = [r.headers["Authorization"] for r in run.requests]
    assert all(s.startswith("AWS4-HMAC-SHA256 Credential=testing/") and "Bearer" not in s for s in signatures)
    assert signatures[0] != signatures[1]  # each request signed for its own query
