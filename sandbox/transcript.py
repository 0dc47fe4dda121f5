"""Record the office's command line running the whole demo against the embedded stack.

`python -m sandbox.transcript` starts `python -m sandbox.serve`, lets the sandboxes stand in for Spiris
and the operator (their control routes seed a company and buyers), and then does everything the office
does with `invoice-bridge`, writing what a terminal would show to docs/cli-transcript.txt.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .contact import grant_consent
from .onboarding import logo_png
from .scenario import CONTACT_EMAIL, CONTACT_PASSWORD, ISSUER_ORG, Scenario

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "invoice_bridge_cli"]


class Recorder:
    def __init__(self, stack_json: Path) -> None:
        self.stack_json = stack_json
        self.lines: list[str] = []
        self.env = {**os.environ, "COLUMNS": "110", "TERM": "dumb", "NO_COLOR": "1"}

    def note(self, text: str) -> None:
        self.lines.append(f"# {text}")

    def run(self, *args: str, show: bool = True) -> str:
        command = [*CLI, "--stack", str(self.stack_json), *args]
        done = subprocess.run(command, cwd=REPO, env=self.env, capture_output=True, text=True, timeout=120)
        if show:
            self.lines.append("$ invoice-bridge " + " ".join(shlex.quote(a) for a in args))
            self.lines.extend((done.stdout + done.stderr).rstrip("\n").splitlines())
            self.lines.append("")
        if done.returncode != 0:
            raise SystemExit(f"invoice-bridge {' '.join(args)} failed: {done.stderr}")
        return done.stdout

    def json(self, *args: str, show: bool = False) -> dict:
        return json.loads(self.run("--json", *args, show=show))  # type: ignore[no-any-return]


def _stockholm_today() -> str:
    """The date in Sweden (the machine's own zone may be another)."""
    from invoice_bridge.models.common import stockholm_date, utcnow

    return stockholm_date(utcnow()).isoformat()


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="transcript-"))
    stack_json = workdir / "stack.json"
    log = (workdir / "serve.log").open("wb")
    serve = subprocess.Popen([sys.executable, "-m", "sandbox.serve", "--stack-json", str(stack_json)], cwd=REPO,
                             env={**os.environ, "SCHEDULE_SECONDS": "3"}, stdout=log, stderr=subprocess.STDOUT)
    try:
        while not stack_json.exists():
            if serve.poll() is not None:
                raise SystemExit("the embedded stack did not start")
            time.sleep(0.2)
        stack = json.loads(stack_json.read_text())
        recorder = Recorder(stack_json)
        scenario = Scenario(stack["api_url"], stack["admin_token"], stack["spiris_url"], stack["operator_url"])
        scenario.seed_spiris()
        account = scenario.seed_operator()
        logo = workdir / "logo.png"
        logo.write_bytes(logo_png())
        recorder.note(f"invoice-bridge against the embedded stack (make serve), {_stockholm_today()}")
        recorder.note("the Spiris and operator sandboxes hold the issuer's company, its buyers and their addresses")
        recorder.lines.append("")
        issuer = recorder.json("issuers", "create", "--name", "Exempelbolaget AB", "--org-number", ISSUER_ORG,
                               "--vat-number", f"SE{ISSUER_ORG}01", "--street", "Exempelvägen 2",
                               "--postal-code", "222 33", "--city", "Lund",
                               "--notification-email", "ekonomi@exempelbolaget.se", "--language", "sv",
                               "--bankgiro", "5050-1055", "--f-skatt", show=True)
        issuer_id = issuer["id"]
        recorder.run("issuers", "show", issuer_id)
        recorder.run("issuers", "logo", issuer_id, str(logo))
        recorder.run("issuers", "operator", issuer_id, "--provider", "maventa",
                     "--company-uuid", account["company_uuid"], "--api-key", account["api_key"])
        ordered = recorder.json("integrations", "order", issuer_id, "--contact-name", "Anna Andersson",
                                "--contact-email", CONTACT_EMAIL, show=True)
        integration_id = ordered["id"]
        recorder.run("integrations", "show", integration_id)
        recorder.note("the contact opens the e-mailed link, grants access and approves in Spiris")
        grant_consent(ordered["consent_url"], email=CONTACT_EMAIL, password=CONTACT_PASSWORD,
                      company_id=scenario.company_id)
        recorder.run("integrations", "show", integration_id)
        recorder.run("integrations", "sync", integration_id)
        _wait(lambda: len(recorder.json("invoices", "list", "--status", "held")["items"]) >= 6)
        recorder.run("integrations", "reconciliation", integration_id)
        recorder.run("invoices", "list", "--issuer", issuer_id)
        recorder.run("invoices", "release-held", "--issuer", issuer_id)
        _wait(lambda: all(i["status"] in ("delivered", "sent", "failed")
                          for i in recorder.json("invoices", "list")["items"]), timeout=120)
        _wait(lambda: sum(i["status"] == "delivered" for i in recorder.json("invoices", "list")["items"]) >= 3,
              timeout=60)
        recorder.run("invoices", "list", "--issuer", issuer_id)
        first = sorted(recorder.json("invoices", "list")["items"], key=lambda i: i["number"])[0]
        recorder.run("invoices", "show", first["id"])
        recorder.run("invoices", "open", first["id"], "--output", str(workdir / "invoice.pdf"))
        recorder.run("failures")
        today = _stockholm_today()
        recorder.run("report", "--from", "2026-01-01", "--to", today)
        # The operator's API key is a secret even in a sandbox: the transcript shows it masked.
        text = "\n".join(recorder.lines).replace(str(workdir), "/tmp/demo").replace(account["api_key"], "********")
        text = text.replace(ordered["consent_url"].rsplit("/", 1)[-1], "<consent-token>")
        target = REPO / "docs" / "cli-transcript.txt"
        target.write_text(text + "\n")
        print(f"wrote {target}")
        return 0
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=60)
        log.close()


def _wait(predicate, timeout: float = 90.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit("timed out waiting for the pipeline")
        time.sleep(1)


if __name__ == "__main__":
    sys.exit(main())
