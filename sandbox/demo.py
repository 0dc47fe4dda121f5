"""`make run`: the whole product end to end on the embedded stack, through its HTTP faces only.

Create an issuer, order an integration, consent through the Spiris sandbox, fetch, render, hold for
the first sync's review, release, dispatch, confirm; print a summary and write the documents under out/.
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from .scenario import Scenario
from .stack import LocalStack

OUT = Path("out")
TERMINAL = {"delivered", "failed", "cancelled"}


def main() -> int:
    console = Console(file=sys.__stdout__, width=120)
    OUT.mkdir(exist_ok=True)
    # The handlers' JSON logs and EMF metrics go to a file, as CloudWatch would keep them.
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    with open(OUT / "lambda-logs.jsonl", "w") as log_file, contextlib.redirect_stdout(log_file):
        _quiet_handler_logs(log_file)
        return _run(console)


def _quiet_handler_logs(stream: object) -> None:
    import logging

    from invoice_bridge.observability import logger

    for handler in logger.handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(stream)  # type: ignore[arg-type]


def _run(console: Console) -> int:
    with console.status("starting the embedded stack (moto, Spiris and operator sandboxes, handlers)…"):
        stack = LocalStack(run_scheduler=False)
        stack.__enter__()
    try:
        scenario = Scenario(stack.api_url, stack.admin_token, stack.spiris_url or "", stack.operator_url or "")
        console.print(f"[bold]stack up[/] api {stack.api_url} · moto {stack.aws_endpoint_url}")
        scenario.seed_spiris()
        account = scenario.seed_operator()
        scenario.create_issuer(account)
        console.print(f"issuer [cyan]{scenario.issuer_id}[/] created (logo, Maventa account)")
        consent_url = scenario.order_integration()
        mails = [m for m in stack.mail() if "anna.andersson" in ",".join(m["to"])]
        console.print(f"integration ordered; consent e-mail sent to the contact ({len(mails)} mail)")
        status = scenario.consent(consent_url)
        with scenario.admin() as admin:
            integration = admin.get(f"/integrations/{scenario.integration_id}").json()
        console.print(f"consent page answered {status}; integration is [bold]{integration['status']}[/]"
                      f" for {integration.get('company', {}).get('name')}")
        if integration["status"] != "active":
            console.print("[red]consent did not complete[/]")
            return 1
        scenario.sync_now()
        stack.drain_until_idle(120)
        with scenario.admin() as admin:
            reconciliation = admin.get(f"/integrations/{scenario.integration_id}/reconciliation").json()
        _print_reconciliation(console, reconciliation)
        released = scenario.release_held()
        console.print(f"first sync held {released} invoice(s) for review; released them")
        stack.drain_until_idle(120)
        stack.tick()  # the schedules: poll Spiris again and confirm deliveries with the operator
        stack.drain_until_idle(120)
        invoices = scenario.wait(
            lambda: (lambda items: items if all(i["status"] in TERMINAL | {"sent"} for i in items) else None)(
                scenario.invoices()), timeout=60)
        stack.tick()
        stack.drain_until_idle(120)
        invoices = scenario.invoices()
        written = _write_documents(invoices)
        _print_invoices(console, invoices)
        console.print(f"wrote {written} document(s) under {OUT}/")
        ok = len(invoices) >= 5 and all(i["status"] in TERMINAL | {"sent"} for i in invoices)
        return 0 if ok else 1
    finally:
        stack.__exit__(None, None, None)


def _print_reconciliation(console: Console, reconciliation: dict) -> None:
    table = Table(title="First sync: every source invoice and the decision (reconciliation list)")
    for column in ("number", "customer", "amount", "selected", "reason"):
        table.add_column(column)
    for item in reconciliation.get("items", []):
        table.add_row(str(item.get("invoice_number")), item.get("customer_name") or "",
                      f"{item.get('amount')} {item.get('currency')}", "yes" if item["selected"] else "no",
                      item["reason"])
    console.print(table)


def _print_invoices(console: Console, invoices: list[dict]) -> None:
    table = Table(title="Invoices")
    for column in ("number", "type", "buyer", "total", "channel", "status", "last event"):
        table.add_column(column)
    for item in sorted(invoices, key=lambda i: i["number"]):
        last = item["events"][-1]["detail"] if item["events"] else ""
        table.add_row(item["number"], item["type"], item["buyer"]["name"], f"{item['total']} {item['currency']}",
                      item.get("channel") or "-", item["status"], last[:60])
    console.print(table)


def _write_documents(invoices: list[dict]) -> int:
    (OUT / "pdf").mkdir(parents=True, exist_ok=True)
    (OUT / "einvoice").mkdir(parents=True, exist_ok=True)
    written = 0
    for item in invoices:
        for key, folder, suffix in (("pdf_url", "pdf", "pdf"), ("einvoice_url", "einvoice", "xml")):
            if item.get(key):
                body = httpx.get(item[key], timeout=30).content
                (OUT / folder / f"invoice-{item['number']}.{suffix}").write_bytes(body)
                written += 1
    return written


if __name__ == "__main__":
    sys.exit(main())
