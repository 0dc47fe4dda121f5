"""The whole product through its HTTP faces only: `python -m sandbox.serve` in its own process, then the
admin API, the consent pages, `/_local/mail` and the sandboxes' control routes. The schedule (every
2 s here) drives polling and delivery confirmations, as EventBridge Scheduler does in AWS."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sandbox.scenario import CONTACT_EMAIL, CONTACT_PASSWORD, Scenario
from sandbox.spiris import DEFAULT_CLIENT_SECRET
from sandbox.vat_cases import ROT_PERSON

# The first request loads the admin handler (a cold start); on a loaded machine that can take more than
# httpx's default 5 s, which is not what these tests are about.
HTTP = httpx.Client(timeout=60.0)

REPO = Path(__file__).resolve().parents[2]
FINAL = {"delivered", "sent", "failed", "cancelled"}


SERVE_LOG: list[Path] = []
SECRETS_SEEN: dict[str, str] = {}  # what must never be logged, collected as the test meets it


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    folder = tmp_path_factory.mktemp("stack")
    SERVE_LOG.append(folder / "serve.log")
    stack_json, log = folder / "stack.json", (folder / "serve.log").open("wb")
    env = {**os.environ, "SCHEDULE_SECONDS": "2"}
    env.pop("AWS_ENDPOINT_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox.serve", "--stack-json", str(stack_json)],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    while not stack_json.exists():
        assert process.poll() is None, (folder / "serve.log").read_text()[-3000:]
        assert time.monotonic() < deadline, "the embedded stack did not come up in 120 s"
        time.sleep(0.2)
    yield json.loads(stack_json.read_text())
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0
    log.close()


def _wait(predicate, timeout: float = 90.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.5)


def test_stack_json_has_the_contract_fields(stack: dict[str, str]) -> None:
    assert set(stack) >= {"api_url", "admin_token", "aws_endpoint_url", "aws_region", "spiris_url", "operator_url"}
    assert stack["aws_region"] == "eu-north-1"
    assert all(stack[k].startswith("http://127.0.0.1:") for k in ("api_url", "aws_endpoint_url", "spiris_url"))


def test_admin_api_refuses_without_the_token_and_changes_nothing(stack: dict[str, str]) -> None:
    body = {"name": "X AB", "org_number": "5560123458", "address": {"street": "a", "postal_code": "1",
            "city": "c"}, "notification_email": "a@b.se", "language": "sv", "f_skatt": True}
    assert HTTP.post(f"{stack['api_url']}/issuers", json=body).status_code == 401
    wrong = HTTP.post(f"{stack['api_url']}/issuers", json=body, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403
    listed = HTTP.get(f"{stack['api_url']}/invoices", headers={"Authorization": f"Bearer {stack['admin_token']}"})
    assert listed.status_code == 200 and listed.json()["items"] == []


def test_invoices_go_from_spiris_to_the_buyers(stack: dict[str, str]) -> None:
    scenario = Scenario(stack["api_url"], stack["admin_token"], stack["spiris_url"], stack["operator_url"])
    scenario.seed_spiris()
    scenario.create_issuer(scenario.seed_operator())
    consent_url = scenario.order_integration()

    mails = HTTP.get(f"{stack['api_url']}/_local/mail").json()
    invitation = [m for m in mails if CONTACT_EMAIL in m["to"]]
    assert len(invitation) == 1 and consent_url in invitation[0]["text"]

    SECRETS_SEEN.update(
        admin_token=stack["admin_token"],
        consent_token=consent_url.rsplit("/", 1)[-1],
        contact_password=CONTACT_PASSWORD,
        spiris_client_secret=DEFAULT_CLIENT_SECRET,
        rot_personal_identity_number=ROT_PERSON,  # on the ROT invoice, never in a log
    )
    assert scenario.consent(consent_url) == 200
    with scenario.admin() as admin:
        integration = admin.get(f"/integrations/{scenario.integration_id}").json()
    assert integration["status"] == "active"
    assert integration["company"]["name"] == "Exempelbolaget AB"

    scenario.sync_now()
    held = _wait(lambda: (lambda items: items if len(items) == scenario.expected_selected else None)(
        [i for i in scenario.invoices() if i["status"] == "held"]))
    assert held, f"expected {scenario.expected_selected} held invoices, got {scenario.invoices()}"
    with scenario.admin() as admin:
        reconciliation = admin.get(f"/integrations/{scenario.integration_id}/reconciliation").json()
    skipped = {str(i["invoice_number"]): i["reason"] for i in reconciliation["items"] if not i["selected"]}
    assert {n: r.split("_electronic")[0] for n, r in skipped.items()} == scenario.expected_skipped

    assert scenario.release_held() == scenario.expected_selected
    final = _wait(lambda: (lambda items: items if all(i["status"] in FINAL for i in items)
                           and sum(i["status"] == "delivered" for i in items) >= 3 else None)(scenario.invoices()))
    assert final, scenario.invoices()
    by_number = {i["number"]: i for i in final}
    assert {n: i["channel"] for n, i in by_number.items()} == {
        "1001": "einvoice", "1002": "einvoice", "1003": "email", "1004": "email", "1005": "print", "1006": "email",
        "1010": "email"}
    assert all(i["status"] == "delivered" for i in final if i["channel"] != "email")
    assert all(i["status"] == "sent" for i in final if i["channel"] == "email")

    # Each document reached the operator exactly once; e-mails carry the PDF.
    documents = HTTP.get(f"{stack['operator_url']}/_sandbox/invoices").json()
    documents = documents["invoices"] if isinstance(documents, dict) else documents
    assert len(documents) == 3 and len({d["uuid"] for d in documents}) == 3
    buyer_mails = [m for m in HTTP.get(f"{stack['api_url']}/_local/mail").json()
                   if any(a.endswith(".pdf") for a in m["attachments"])]
    assert len(buyer_mails) == 4
    rot = by_number["1010"]  # a private person's ROT invoice: a PDF, no e-invoice
    assert rot["einvoice_url"] is None and HTTP.get(rot["pdf_url"]).content.startswith(b"%PDF")

    # The documents are reachable through short-lived links and are what they claim to be.
    sample = by_number["1001"]
    assert HTTP.get(sample["pdf_url"]).content.startswith(b"%PDF")
    assert b"urn:fdc:peppol.eu:2017:poacc:billing:3.0" in HTTP.get(sample["einvoice_url"]).content
    assert [e["status"] for e in sample["events"]][-1] == "delivered"


def test_the_logs_hold_no_secrets(stack: dict[str, str]) -> None:
    """Everything the handlers and the stack logged while the product ran end to end: no admin token,
    consent token, password, client secret, OAuth code or JWT (access tokens are JWTs)."""
    assert SECRETS_SEEN, "runs after the end-to-end test"
    log = SERVE_LOG[0].read_text(errors="replace")
    assert "invoice rendered" in log  # the handlers' logs are really in here
    for name, secret in SECRETS_SEEN.items():
        assert secret not in log, f"{name} appears in the logs"
    assert not re.search(r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.", log), "a JWT appears in the logs"
    assert not re.search(r"[?&](code|state|refresh_token|access_token)=", log), "an OAuth parameter was logged"


def test_no_function_was_refused_an_aws_call(stack: dict[str, str]) -> None:
    """The stack runs each function with its own role only (sandbox/iam) and logs every refusal; in AWS
    a refused call fails too, also where the code survives it (a receipt mail never sent)."""
    assert SECRETS_SEEN, "runs after the end-to-end test"
    log = SERVE_LOG[0].read_text(errors="replace")
    assert [line for line in log.splitlines() if "IAM denied" in line] == []
