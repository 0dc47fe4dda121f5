"""The CLI over real HTTP against the embedded stack: issuer, logo, consent, integration actions, errors."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from invoice_bridge_cli import main
from PIL import Image

from sandbox import seed
from sandbox.spiris.jsonutil import dumps
from sandbox.stack import LocalStack

ISSUER_ORG = seed.org_number("556677889")
SPIRIS_EMAIL, SPIRIS_PASSWORD = "eva@acme.example", "correct horse battery"


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        assert self.code == 0, self.stderr
        return json.loads(self.stdout)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(run_scheduler=False, run_drainer=False) as running:
        yield running


@pytest.fixture(scope="module")
def stack_json(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return stack.write_stack_json(tmp_path_factory.mktemp("cli-stack") / ".local" / "stack.json")


def cli(stack_json: Path, *argv: str) -> Run:
    stdout, stderr = io.StringIO(), io.StringIO()
    code = main(["--stack", str(stack_json), *argv], stdout=stdout, stderr=stderr)
    return Run(code, stdout.getvalue(), stderr.getvalue())


def _spiris_post(client: httpx.Client, path: str, body: Any) -> dict[str, Any]:
    response = client.post(path, content=dumps(body), headers={"Content-Type": "application/json"})
    assert response.status_code == 201, response.text
    return response.json()


def _hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def grant_consent(consent_url: str, company_id: str) -> str:
    """What the contact does in a browser: explanation page → Grant → Spiris login → company → Approve."""
    with httpx.Client(timeout=30) as browser:
        page = browser.get(consent_url)
        assert page.status_code == 200
        to_spiris = browser.post(consent_url)
        assert to_spiris.status_code == 303, to_spiris.text
        page = browser.get(to_spiris.headers["location"])
        spiris = httpx.URL(to_spiris.headers["location"])
        base = f"{spiris.scheme}://{spiris.host}:{spiris.port}"
        page = browser.post(f"{base}/connect/authorize/login", data={
            "session": _hidden(page.text, "session"), "email": SPIRIS_EMAIL, "password": SPIRIS_PASSWORD})
        assert page.status_code == 200, page.text
        if 'name="company"' in page.text:
            page = browser.post(f"{base}/connect/authorize/company",
                                data={"session": _hidden(page.text, "session"), "company": company_id})
        back = browser.post(f"{base}/connect/authorize/consent",
                            data={"session": _hidden(page.text, "session"), "decision": "approve"})
        assert back.status_code == 302, back.text
        result = browser.get(back.headers["location"])
        assert result.status_code == 200, result.text
        return result.text


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 20), (10, 90, 160)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_the_whole_office_workflow_through_the_cli(stack: LocalStack, stack_json: Path, tmp_path: Path) -> None:
    # The issuer, its settings and logo.
    created = cli(stack_json, "--json", "issuers", "create", "--name", "Acme AB", "--org-number", ISSUER_ORG,
                  "--street", "Gatan 1", "--postal-code", "111 22", "--city", "Stockholm",
                  "--notification-email", "ops@acme.example").json()
    issuer_id = created["id"]
    assert created["org_number"] == ISSUER_ORG and created["address"]["country"] == "SE"
    updated = cli(stack_json, "--json", "issuers", "update", issuer_id, "--no-print-fallback").json()
    assert updated["dispatch"]["print_fallback"] is False and updated["dispatch"]["email_fallback"] is True
    logo = tmp_path / "logo.png"
    logo.write_bytes(_png())
    assert cli(stack_json, "issuers", "logo", issuer_id, str(logo)).code == 0
    shown = cli(stack_json, "issuers", "show", issuer_id)
    assert shown.code == 0 and "Acme AB" in shown.stdout and issuer_id in shown.stdout
    assert cli(stack_json, "--json", "issuers", "show", issuer_id).json()["has_logo"] is True

    # The issuer's Spiris company and the contact's Spiris user.
    with httpx.Client(base_url=stack.spiris_url, timeout=30) as spiris:
        company_id = _spiris_post(spiris, "/_sandbox/companies", {
            "name": "Acme AB", "corporate_identity_number": f"{ISSUER_ORG[:6]}-{ISSUER_ORG[6:]}",
            "modules": {"api": True}})["id"]
        assert spiris.post("/_sandbox/users", json={"email": SPIRIS_EMAIL, "password": SPIRIS_PASSWORD,
                                                     "companies": [company_id], "full_access": True}).status_code == 201

    # Order the integration; the contact grants access.
    ordered = cli(stack_json, "--json", "integrations", "order", issuer_id, "--contact-name", "Eva Ek",
                  "--contact-email", "eva@acme.example").json()
    integration_id = ordered["id"]
    assert ordered["status"] == "pending_consent" and ordered["consent_url"].startswith(stack.api_url)
    reinvited = cli(stack_json, "--json", "integrations", "invite", integration_id).json()
    assert reinvited["consent_url"] != ordered["consent_url"]
    grant_consent(reinvited["consent_url"], company_id)
    integration = cli(stack_json, "--json", "integrations", "show", integration_id).json()
    assert integration["status"] == "active", integration
    assert integration["company"]["org_number"] == ISSUER_ORG

    # Sync now: the request lands on the SyncQueue (contract: 202; the drainer is off here, so it stays there).
    synced = cli(stack_json, "integrations", "sync", integration_id)
    assert synced.code == 0 and "queued" in synced.stdout
    sqs = boto3.client("sqs", endpoint_url=stack.aws_endpoint_url, region_name=stack.aws_region)
    received = sqs.receive_message(QueueUrl=stack.environment["SYNC_QUEUE_URL"], MaxNumberOfMessages=10)
    messages = [json.loads(m["Body"]) for m in received.get("Messages", [])]
    assert "manual" in [m["reason"] for m in messages if m["integration_id"] == integration_id]
    reconciliation = cli(stack_json, "integrations", "reconciliation", integration_id)
    assert reconciliation.code == 0, reconciliation.stderr
    assert "0 selected, 0 skipped (the first sync has not finished yet)" in reconciliation.stdout

    # Nothing fetched yet: an empty listing, nothing held to release.
    listed = cli(stack_json, "invoices", "list")
    assert listed.code == 0 and "0 invoice(s)" in listed.stdout
    assert cli(stack_json, "--json", "invoices", "list", "--status", "held").json() == {"items": []}
    released = cli(stack_json, "invoices", "release-held", "--issuer", issuer_id)
    assert released.code == 0 and "Released 0 of 0" in released.stdout

    # Pause and resume, then revoke.
    assert cli(stack_json, "--json", "integrations", "disable", integration_id).json()["status"] == "paused"
    assert cli(stack_json, "--json", "integrations", "enable", integration_id).json()["status"] == "active"
    assert cli(stack_json, "integrations", "revoke", integration_id).code == 0
    assert cli(stack_json, "--json", "integrations", "show", integration_id).json()["status"] == "revoked"


def test_operator_credentials_are_stored_and_never_printed(stack: LocalStack, stack_json: Path) -> None:
    issuer_id = cli(stack_json, "--json", "issuers", "create", "--name", "Beta AB", "--org-number",
                    seed.org_number("556000111"), "--street", "Väg 2", "--postal-code", "41101", "--city",
                    "Göteborg", "--notification-email", "ops@beta.example", "--language", "en").json()["id"]
    secret = "maventa-api-key-that-must-stay-secret"
    stored = cli(stack_json, "issuers", "operator", issuer_id, "--provider", "maventa", "--company-uuid",
                 "0b6c3ac4-7f7c-4c35-a0d1-5b8d0d5b1c11", "--api-key", secret)
    assert stored.code == 0, stored.stderr
    shown = cli(stack_json, "--json", "issuers", "show", issuer_id)
    assert shown.json()["operator_provider"] == "maventa"
    assert secret not in stored.stdout + stored.stderr + shown.stdout


def test_api_errors_exit_1_with_the_contract_error(stack: LocalStack, stack_json: Path) -> None:
    missing = cli(stack_json, "issuers", "show", "no-such-issuer")
    assert missing.code == 1 and "not_found" in missing.stderr and "HTTP 404" in missing.stderr
    invalid = cli(stack_json, "issuers", "create", "--name", "X", "--org-number", "5560360794", "--street", "s",
                  "--postal-code", "1", "--city", "c", "--notification-email", "x@x.example")
    assert invalid.code == 1 and "invalid_org_number" in invalid.stderr


def test_a_wrong_admin_token_is_refused(stack: LocalStack, tmp_path: Path) -> None:
    wrong = tmp_path / "stack.json"
    wrong.write_text(json.dumps({**stack.stack_json(), "admin_token": "not-the-token"}))
    refused = cli(wrong, "invoices", "list")
    assert refused.code == 1 and ("401" in refused.stderr or "403" in refused.stderr)
    assert "not-the-token" not in refused.stderr
