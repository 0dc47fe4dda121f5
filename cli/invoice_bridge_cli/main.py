"""`invoice-bridge`: argparse commands over the admin API. Exit 0 ok, 1 API error, 2 usage error."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote

import httpx

from .client import AdminApi, ApiError
from .config import ConfigError, resolve_connection
from .output import Output

EXIT_OK, EXIT_API_ERROR, EXIT_USAGE = 0, 1, 2
INVOICE_STATUSES = ("queued", "rendered", "held", "sending", "sent", "delivered", "failed", "cancelled")
PAGE_SIZE = 100
ISSUER_FIELDS = (
    "id", "name", "org_number", "vat_number", "address", "notification_email", "language", "bankgiro",
    "plusgiro", "iban", "bic", "f_skatt", "payee", "dispatch", "hold_first_sync", "archive_source_pdf", "sending",
    "send_delay_hours", "has_logo", "operator_provider", "created_at", "updated_at",
)
INTEGRATION_FIELDS = (
    "id", "issuer_id", "source", "status", "enabled", "contact_name", "contact_email", "language", "company",
    "last_sync_at", "last_error", "consent_url",
)
INVOICE_FIELDS = (
    "id", "issuer_id", "source_id", "number", "type", "buyer", "total", "currency", "status", "status_reason",
    "channel", "send_at", "version", "approval", "updated_at", "pdf_url", "einvoice_url",
)
APPROVAL_COLUMNS = (
    ("number", "number"), ("buyer_name", "buyer"), ("total", "total"), ("currency", "cur"),
    ("issue_date", "date"), ("due_date", "due"), ("version", "v"), ("issuer_id", "issuer"), ("id", "id"),
)
# Held invoices that `release-held` leaves alone: they wait for an approval, or go out by themselves.
NOT_RELEASED_IN_BULK = ("awaiting_approval", "send_delay")
RELEASED_AT_ONCE = 100  # POST /invoices/release takes at most this many ids: a larger set goes in several
INVOICE_COLUMNS = (
    ("number", "number"), ("buyer_name", "buyer"), ("total", "total"), ("currency", "cur"),
    ("status", "status"), ("channel", "channel"), ("updated_at", "updated"), ("id", "id"),
)
REPORT_COLUMNS = (
    ("type", "type"), ("number", "number"), ("buyer", "buyer"), ("channel", "channel"),
    ("status", "status"), ("sent_at", "sent at"), ("message", "message"),
)
_IMAGE_TYPES = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"))


Command = Callable[[AdminApi, Output, argparse.Namespace], int]


class UsageError(Exception):
    """Bad arguments discovered after parsing (exit 2)."""


def _seg(value: str) -> str:
    """An id as one path segment: an id with '/' must not reach another route."""
    return quote(value, safe="")


# --- issuers -------------------------------------------------------------------------------------


def _read_json_file(path: str) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"), parse_float=Decimal)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise UsageError(f"{path} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path} must hold a JSON object")
    return data


def _issuer_body(args: argparse.Namespace, *, creating: bool) -> dict[str, Any]:
    body = _read_json_file(args.body_file) if args.body_file else {}
    for flag in ("name", "org_number", "vat_number", "notification_email", "language", "bankgiro", "plusgiro",
                 "iban", "bic", "f_skatt"):
        value = getattr(args, flag, None)
        if value is not None:
            body[flag] = value
    address = {k: getattr(args, k) for k in ("street", "postal_code", "city", "country") if getattr(args, k, None)}
    if address:
        body["address"] = {**(body.get("address") or {}), **address}
    if not creating:
        if args.payee is not None:
            body["payee"] = args.payee
        dispatch = {k: getattr(args, k) for k in ("attach_pdf", "email_fallback", "print_fallback")
                    if getattr(args, k) is not None}
        if dispatch:
            body["dispatch"] = {**(body.get("dispatch") or {}), **dispatch}
        for flag in ("hold_first_sync", "archive_source_pdf"):
            if getattr(args, flag) is not None:
                body[flag] = getattr(args, flag)
        if args.sending is not None:
            body["sending"] = args.sending
        if args.send_delay_hours is not None:
            body["send_delay_hours"] = args.send_delay_hours
        if not body:
            raise UsageError("nothing to update: give at least one field flag or --json FILE")
        return body
    if creating and "address" in body:
        body["address"].setdefault("country", "SE")
    missing = [f"--{f.replace('_', '-')}" for f in ("name", "org_number", "notification_email") if not body.get(f)]
    missing += [f"--{f.replace('_', '-')}" for f in ("street", "postal_code", "city")
                if not (body.get("address") or {}).get(f)]
    if missing:
        raise UsageError(f"missing {', '.join(missing)} (or give them in --json FILE)")
    return body


def cmd_issuers_list(api: AdminApi, out: Output, args: argparse.Namespace) -> int:
    issuers = [item for page in api.pages("/issuers") for item in page]
    if out.raw_json:
        out.json({"items": issuers})
    else:
        out.table("Issuers", issuers, (("name", "name"), ("org_number", "org number"), ("language", "lang"),
                                       ("payee", "payee"), ("operator_provider", "operator"), ("id", "id")))
    return EXIT_OK


def cmd_issuers_create(api: AdminApi, out: Output, args: argparse.Namespace) -> int:
    issuer = api.post("/issuers", _issuer_body(args, creating=True))
    if out.raw_json:
        out.json(issuer)
    else:
        out.record(f"Issuer created: {issuer.get('name', '')}", issuer, ISSUER_FIELDS)
    return EXIT_OK


def cmd_issuers_show(api: AdminApi, out: Output, args: argparse.Namespace) -> int:
    issuer = api.get(f"/issuers/{_seg(args.issuer_id)}")
    if out.raw_json:
        out.json(issuer)
    else:
        out.record(f"Issuer {issuer.get('name', '')}", issuer, ISSUER_FIELDS)
    return EXIT_OK


def cmd_issuers_update(api: AdminApi, out: Output, args: argparse.Namespace) -> int:
    issuer = api.patch(f"/issuers/{_seg(args.issuer_id)}", _issuer_body(args, creating=False))
    if out.raw_json:
        out.json(issuer)
    else:
        out.record(f"Issuer updated: {issuer.get('name', '')}", issuer, ISSUER_FIELDS)
    return EXIT_OK


def _image_type(data: bytes) -> str:
    for magic, content_type in _IMAGE_TYPES:
        if data.startswith(magic):
            return content_type
    raise UsageError("the logo must be a PNG or JPEG file")


def cmd_issuers_logo(api: AdminApi, out: Output, args: argparse.Namespace) -> int:
    try:
        data = Path(args.file).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {args.file}: {exc.strerror or exc}") from None
    content_type = _image_type(data)
    api.put(f"/issuers/{_seg(args.issuer_id)}/logo", content=data, content_type=content_type)
    _done(out, {"issuer_id": args.issuer_id, "logo": "uploaded", "content_type": content_type, "bytes": len(data)},
          f"Logo uploaded for issuer {args.issuer_id} ({content_type}, {len(data)} bytes)")
    return EXIT_OK


def cmd_issuers_operator(api: AdminApi, out: Output, args: argparse.Namespace) -> int:
    if args.provider == "maventa":
        if not args.company_uuid:
            raise UsageError("--provider maventa needs --company-uuid")
        api_key = args.api_key or getpass.getpass("Maventa API key: ")
        if not api_key:
            raise UsageError("--provider maventa needs --api-key")
        body = {"provider": "maventa", "company_uuid": args.company_uuid, "api_key": api_key}
    else:
        client_token = args.client_token or getpass.getpass("InExchange client token: ")
        if not client_token:
            raise UsageError("--provider inexchange needs --client-token")
        body = {"provider": "inexchange", "client_token": client_token}
    api.put(f"/issuers/{_seg(args.issuer_id)}/operator", body)
    # The credentials are write-only: say that they were stored, never what they were.
    _done(out, {"issuer_id": args.issuer_id, "provider": args.provider, "credentials": "stored"},
          f"{args.provider} credentials stored for issuer {args.issuer_id}")
    return EXIT_OK


# --- integrations --------------------------------------------------------------------------------


def _integration_out(out: Output, title: str, integration: dict[str, Any]) -> None:
    if out.raw_json:
        out.json(integration)
    else:
        out.record(title, integration, INTEGRATION_FIELDS)


def cmd_integrations_order(api: AdminApi, out: Output, args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"source": "spiris", "contact_name": args.contact_name, "contact_email": args.contact_email}
    if args.language:
        body["language"] = args.language
    integration = api.post(f"/issuers/{_seg(args.issuer_id)}/integrations", body)
    _integration_out(out, f"Integration ordered: {args.contact_email} was e-mailed the consent link", integration)
    return EXIT_OK


def cmd_integrations_show(api: AdminApi, out: Output, args: argparse.Namespace) -> int:
    _integration_out(out, "Integration", api.get(f"/integrations/{_seg(args.integration_id)}"))
    return EXIT_OK


def cmd_integrations_invite(api: AdminApi, out: Output, args: argparse.Namespace) -> int:
    answer = api.post(f"/integrations/{_seg(args.integration_id)}/invite")
    _done(out, answer, f"A fresh consent link was e-mailed (older links no longer work):\n{answer.get('consent_url')}")
    return EXIT_OK


def cmd_integrations_sync(api: AdminApi, out: Output, args: argparse.Namespace) -> int:
    answer = api.post(f"/integrations/{_seg(args.integration_id)}/sync")
    _done(out, answer, f"Sync of integration {args.integration_id} queued")
    return EXIT_OK


def _switch(enabled: bool) -> Command:
    def command(api: AdminApi, out: Output, args: argparse.Namespace) -> int:
        integration = api.patch(f"/integrations/{_seg(args.integration_id)}", {"enabled": enabled})
        _integration_out(out, f"Integration {'enabled' if enabled else 'disabled'}", integration)
        return EXIT_OK

    return command


def cmd_integrations_revoke(api: AdminApi, out: Output, args: argparse.Namespace) -> int:
    api.delete(f"/integrations/{_seg(args.integration_id)}")
    _done(out, {"id": args.integration_id, "status": "revoked"},
          f"Integration {args.integration_id} revoked at Spiris; its tokens are forgotten")
    return EXIT_OK


def _reconciliation_row(item: dict[str, Any]) -> dict[str, Any]:
    buyer = item.get("buyer")
    return {
        "number": item.get("invoice_number", item.get("number")),
        "customer": item.get("customer_name") or item.get("customer")
        or (buyer.get("name") if isinstance(buyer, dict) else buyer),
        "amount": item.get("amount", item.get("total")),
        "selected": item.get("selected"),
        "reason": " — ".join(str(p) for p in (item.get("reason"), item.get("detail")) if p),
    }


def cmd_integrations_reconciliation(api: AdminApi, out: Output, args: argparse.Namespace) -> int:
    answer = api.get(f"/integrations/{_seg(args.integration_id)}/reconciliation")
    if out.raw_json:
        out.json(answer)
        return EXIT_OK
    items = answer.get("items") or []
    selected = sum(1 for i in items if i.get("selected"))
    caption = f"{selected} selected, {len(items) - selected} skipped"
    if answer.get("first_sync_done") is False:
        caption += " (the first sync has not finished yet)"
    out.table(f"Reconciliation of integration {args.integration_id}", [_reconciliation_row(i) for i in items],
              (("number", "number"), ("customer", "customer"), ("amount", "amount"), ("selected", "selected"),
               ("reason", "reason")), caption=caption)
    return EXIT_OK


# --- invoices ------------------------------------------------------------------------------------


def _collect(api: AdminApi, out: Output, path: str, params: dict[str, Any], limit: int | None,
             what: str) -> list[dict[str, Any]]:
    """Follow next_cursor to the end (or to --limit), showing progress on stderr while paging."""
    items: list[dict[str, Any]] = []
    with out.progress() as progress:
        task = progress.add_task(f"Fetching {what}", total=None)
        for page in api.pages(path, params):
            items.extend(page)
            progress.update(task, completed=len(items))
            if limit is not None and len(items) >= limit:
                return items[:limit]
    return items


def _invoice_row(invoice: dict[str, Any]) -> dict[str, Any]:
    buyer = invoice.get("buyer") or {}
    return {**invoice, "buyer_name": buyer.get("name") if isinstance(buyer, dict) else buyer}


def _list_params(issuer: str | None, status: str | None, limit: int | None) -> dict[str, Any]:
    return {"issuer_id": issuer, "status": status, "limit": min(limit or PAGE_SIZE, PAGE_SIZE)}


def cmd_invoices_list(api: AdminApi, out: Output, args: argparse.Namespace) -> int:
    invoices = _collect(api, out, "/invoices", _list_params(args.issuer, args.status, args.limit), args.limit,
                        "invoices")
    if out.raw_json:
        out.json({"items": invoices})
    else:
        out.table("Invoices", [_invoice_row(i) for i in invoices], INVOICE_COLUMNS,
                  caption=f"{len(invoices)} invoice(s)")
    return EXIT_OK


def cmd_invoices_show(api: AdminApi, out: Output, args: argparse.Namespace) -> int:
    invoice = api.get(f"/invoices/{_seg(args.invoice_id)}")
    if out.raw_json:
        out.json(invoice)
        return EXIT_OK
    out.record(f"Invoice {invoice.get('number', '')}", invoice, INVOICE_FIELDS)
    out.table("Events", invoice.get("events") or [], (("at", "at"), ("status", "status"), ("detail", "detail")))
    return EXIT_OK


def cmd_invoices_open(api: AdminApi, out: Output, args: argparse.Namespace) -> int:
    invoice = api.get(f"/invoices/{_seg(args.invoice_id)}")
    pdf_url = invoice.get("pdf_url")
    if not pdf_url:
        raise ApiError(None, "no_pdf", f"invoice {args.invoice_id} has no PDF yet (status {invoice.get('status')})")
    target = Path(args.output) if args.output else Path(f"invoice-{_file_part(invoice.get('number') or args.invoice_id)}.pdf")
    data = api.download(pdf_url)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    _done(out, {"id": args.invoice_id, "path": str(target), "bytes": len(data)}, str(target))
    return EXIT_OK


def _file_part(value: Any) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in str(value)) or "invoice"


def cmd_invoices_retry(api: AdminApi, out: Output, args: argparse.Namespace) -> int:
    answer = api.post(f"/invoices/{_seg(args.invoice_id)}/retry")
    _done(out, answer, f"Invoice {args.invoice_id} will be sent again ({(answer or {}).get('status', 'queued')})")
    return EXIT_OK


def cmd_invoices_release(api: AdminApi, out: Output, args: argparse.Namespace) -> int:
    answer = api.post(f"/invoices/{_seg(args.invoice_id)}/release")
    _done(out, answer, f"Invoice {args.invoice_id} released ({(answer or {}).get('status', 'queued')})")
    return EXIT_OK


def cmd_invoices_approve(api: AdminApi, out: Output, args: argparse.Namespace) -> int:
    answer = api.post(f"/invoices/{_seg(args.invoice_id)}/approve")
    status = (answer or {}).get("status", "rendered")
    then = "waits for its send delay" if status == "held" else "goes out"
    _done(out, answer, f"Invoice {args.invoice_id} approved: it {then} ({status})")
    return EXIT_OK


def cmd_approvals_list(api: AdminApi, out: Output, args: argparse.Namespace) -> int:
    items = (api.get("/approvals", {"issuer_id": args.issuer}) or {}).get("items") or []
    if out.raw_json:
        out.json({"items": items})
    else:
        out.table("Waiting for approval", [_invoice_row(i) for i in items], APPROVAL_COLUMNS,
                  caption=f"{len(items)} invoice(s); approve one with: invoices approve ID")
    return EXIT_OK


def _release_batch(api: AdminApi, batch: list[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]], list[str]]:
    """One `POST /invoices/release` of up to RELEASED_AT_ONCE held invoices: (released ids, the rows not
    released with why, the released ids whose message the sweeper hands on). A refusal of the whole request
    (4xx/5xx) counts against each of them; no answer at all stops the command."""
    try:
        answer = api.post("/invoices/release", {"ids": [i["id"] for i in batch]}) or {}
    except ApiError as error:
        if error.status is None:  # the API is gone: stop rather than fail every remaining batch
            raise
        return [], [{**_invoice_row(i), "error": f"{error.code}: {error.message}"} for i in batch], []
    by_id = {i["id"]: i for i in batch}
    failed = [{**_invoice_row(by_id.get(n["id"], {"id": n["id"]})), "error": n.get("reason", "")}
              for n in answer.get("not_released") or []]
    return [a["id"] for a in answer.get("released") or []], failed, list(answer.get("not_handed_on") or [])


def cmd_invoices_release_held(api: AdminApi, out: Output, args: argparse.Namespace) -> int:
    listed = _collect(api, out, "/invoices", _list_params(args.issuer, "held", None), None, "held invoices")
    held = [i for i in listed if i.get("status_reason") not in NOT_RELEASED_IN_BULK]
    released: list[str] = []
    failed: list[dict[str, Any]] = []
    handed_on_later: list[str] = []
    with out.progress(total=len(held)) as progress:
        task = progress.add_task("Releasing held invoices", total=len(held))
        for start in range(0, len(held), RELEASED_AT_ONCE):
            batch = held[start:start + RELEASED_AT_ONCE]
            batch_released, batch_failed, batch_later = _release_batch(api, batch)
            released += batch_released
            failed += batch_failed
            handed_on_later += batch_later
            progress.advance(task, len(batch))
    if out.raw_json:
        out.json({"released": released, "failed": failed, "not_handed_on": handed_on_later})
    else:
        out.message(f"Released {len(released)} of {len(held)} held invoice(s)")
        if handed_on_later:
            out.message(f"{len(handed_on_later)} of them go out with the sweeper's next tick (the queue did not "
                        "take them now)")
        if failed:
            out.table("Not released", failed, (("number", "number"), ("buyer_name", "buyer"), ("id", "id"),
                                               ("error", "error")))
    return EXIT_API_ERROR if failed else EXIT_OK


# --- failures and report -------------------------------------------------------------------------


def _generic_columns(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    keys: list[str] = []
    for row in rows:
        for key, value in row.items():
            if key not in keys and not isinstance(value, list) and key not in {"events"}:
                keys.append(key)
    return [(k, k) for k in keys]


def cmd_failures(api: AdminApi, out: Output, args: argparse.Namespace) -> int:
    answer = api.get("/failures", {"issuer_id": args.issuer})
    if out.raw_json:
        out.json(answer)
        return EXIT_OK
    sections = {"items": answer} if isinstance(answer, list) else answer
    shown = False
    for name, rows in (sections or {}).items():
        if isinstance(rows, list):
            shown = True
            flat = [_invoice_row(r) if "buyer" in r else r for r in rows if isinstance(r, dict)]
            if name == "source_invoices":
                columns: Sequence[tuple[str, str]] = (
                    ("number", "number"), ("kind", "kind"), ("reason", "reason"), ("source_id", "spiris id"),
                    ("issuer_id", "issuer"))
            elif name == "invoices" or (flat and "number" in flat[0]):
                columns = (
                    ("number", "number"), ("buyer_name", "buyer"), ("status", "status"),
                    ("status_reason", "reason"), ("issuer_id", "issuer"), ("id", "id"))
                columns = [c for c in columns if any(c[0] in r for r in flat)] or _generic_columns(flat)
            else:
                columns = _generic_columns(flat)
            out.table(f"Failures: {name.replace('_', ' ')}", flat, columns, caption=f"{len(flat)} item(s)")
    if not shown:
        out.message("Nothing needs attention")
    return EXIT_OK


def cmd_report(api: AdminApi, out: Output, args: argparse.Namespace) -> int:
    params = {"from": args.date_from, "to": args.date_to, "issuer_id": args.issuer}
    if args.csv:
        response = api.request("GET", "/reports/dispatch", params={**{k: v for k, v in params.items() if v},
                                                                  "format": "csv"})
        target = Path(args.csv)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(response.content)
        rows = max(response.text.count("\n") - 1, 0)
        _done(out, {"path": str(target), "rows": rows}, f"{target} ({rows} row(s))")
        return EXIT_OK
    report = api.get("/reports/dispatch", {**params, "format": "json"})
    if out.raw_json:
        out.json(report)
    else:
        rows_ = report.get("rows") or []
        out.table(f"Dispatch report {report.get('from', args.date_from)} – {report.get('to', args.date_to)}",
                  rows_, REPORT_COLUMNS, caption=f"{len(rows_)} row(s)")
    return EXIT_OK


def _done(out: Output, raw: Any, text: str) -> None:
    if out.raw_json:
        out.json(raw)
    else:
        out.message(text)


# --- the parser ----------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors to our stderr stream and exits 2."""

    stderr: TextIO | None = None

    def error(self, message: str) -> Any:
        self.print_usage(self.stderr or sys.stderr)
        raise UsageError(message)

    def _print_message(self, message: str, file: Any = None) -> None:
        if message:
            (file or sys.stderr).write(message)


def _date(value: str) -> str:
    from datetime import date

    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive whole number")
    return number


def _delay_hours(value: str) -> int:
    try:
        hours = int(value)
    except ValueError:
        hours = -1
    if not 0 <= hours <= 72:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of hours from 0 to 72")
    return hours


def build_parser() -> argparse.ArgumentParser:
    connection = argparse.ArgumentParser(add_help=False)
    group = connection.add_argument_group("connection")
    # default=SUPPRESS: the flag may come before or after the subcommand without one resetting the other.
    group.add_argument("--stack", metavar="PATH", default=argparse.SUPPRESS,
                       help="the embedded stack's stack.json (default .local/stack.json)")
    group.add_argument("--api-url", metavar="URL", default=argparse.SUPPRESS, help="the admin API's base URL")
    group.add_argument("--sigv4", action="store_true", default=argparse.SUPPRESS,
                       help="sign requests with your AWS credentials (a deployed stack)")
    group.add_argument("--region", default=argparse.SUPPRESS, help="AWS region for --sigv4 (default AWS_REGION)")
    raw = argparse.ArgumentParser(add_help=False)
    raw.add_argument("--json", dest="raw_json", action="store_true", default=argparse.SUPPRESS,
                     help="print the API's JSON instead of tables")
    common = [connection, raw]

    parser = _Parser(prog="invoice-bridge", description="The office's command line for invoice-bridge.",
                     parents=common)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    def leaf(group_parsers: Any, name: str, handler: Command, help_: str,
             parents: list[argparse.ArgumentParser] | None = None) -> argparse.ArgumentParser:
        sub = group_parsers.add_parser(name, help=help_, description=help_,
                                       parents=common if parents is None else parents)
        sub.set_defaults(handler=handler)
        return sub

    # issuers
    issuers = commands.add_parser("issuers", help="the office's clients").add_subparsers(
        dest="action", required=True, metavar="ACTION", parser_class=_Parser)
    leaf(issuers, "list", cmd_issuers_list, "list issuers")
    for name, handler, creating in (("create", cmd_issuers_create, True), ("update", cmd_issuers_update, False)):
        sub = leaf(issuers, name, handler, f"{name} an issuer", parents=[connection])
        if not creating:
            sub.add_argument("issuer_id")
        sub.add_argument("--json", dest="body_file", metavar="FILE",
                         help="the request body from a JSON file; flags override its fields")
        sub.add_argument("--name")
        sub.add_argument("--org-number")
        sub.add_argument("--vat-number")
        sub.add_argument("--street")
        sub.add_argument("--postal-code")
        sub.add_argument("--city")
        sub.add_argument("--country", help="ISO country code (default SE)")
        sub.add_argument("--notification-email", help="where failed transfers are reported")
        sub.add_argument("--language", choices=("sv", "en"))
        sub.add_argument("--bankgiro")
        sub.add_argument("--plusgiro")
        sub.add_argument("--iban")
        sub.add_argument("--bic", help="with the IBAN, for buyers abroad")
        sub.add_argument("--f-skatt", action=argparse.BooleanOptionalAction, default=None)
        if not creating:
            sub.add_argument("--payee", choices=("issuer", "office"))
            sub.add_argument("--attach-pdf", action=argparse.BooleanOptionalAction, default=None)
            sub.add_argument("--email-fallback", action=argparse.BooleanOptionalAction, default=None)
            sub.add_argument("--print-fallback", action=argparse.BooleanOptionalAction, default=None)
            sub.add_argument("--hold-first-sync", action=argparse.BooleanOptionalAction, default=None)
            sub.add_argument("--archive-source-pdf", action=argparse.BooleanOptionalAction, default=None,
                             help="keep Spiris' own PDF of each invoice (one Spiris request and one S3 PUT each)")
            sub.add_argument("--sending", choices=("automatic", "approve"),
                             help="approve: the office approves each invoice before it goes out")
            sub.add_argument("--send-delay-hours", type=_delay_hours, metavar="0-72",
                             help="hours an invoice waits after its last change at the source")
    leaf(issuers, "show", cmd_issuers_show, "show an issuer").add_argument("issuer_id")
    sub = leaf(issuers, "logo", cmd_issuers_logo, "upload the issuer's logo (PNG or JPEG, at most 1 MB)")
    sub.add_argument("issuer_id")
    sub.add_argument("file")
    sub = leaf(issuers, "operator", cmd_issuers_operator, "store the issuer's e-invoice operator credentials")
    sub.add_argument("issuer_id")
    sub.add_argument("--provider", choices=("maventa", "inexchange"), required=True)
    sub.add_argument("--company-uuid", help="Maventa company UUID")
    sub.add_argument("--api-key", help="Maventa API key (asked for when left out)")
    sub.add_argument("--client-token", help="InExchange client token (asked for when left out)")

    # integrations
    integrations = commands.add_parser("integrations", help="Spiris connections").add_subparsers(
        dest="action", required=True, metavar="ACTION", parser_class=_Parser)
    sub = leaf(integrations, "order", cmd_integrations_order, "order an integration: the contact is e-mailed a link")
    sub.add_argument("issuer_id")
    sub.add_argument("--contact-name", required=True)
    sub.add_argument("--contact-email", required=True)
    sub.add_argument("--language", choices=("sv", "en"))
    integration_actions: list[tuple[str, Command, str]] = [
        ("show", cmd_integrations_show, "show an integration"),
        ("invite", cmd_integrations_invite, "e-mail a fresh consent link"),
        ("sync", cmd_integrations_sync, "sync now"),
        ("enable", _switch(True), "enable (resume) an integration"),
        ("disable", _switch(False), "disable (pause) an integration"),
        ("revoke", cmd_integrations_revoke, "revoke at Spiris and forget the tokens"),
        ("reconciliation", cmd_integrations_reconciliation, "the first sync's list of source invoices"),
    ]
    for name, action, help_ in integration_actions:
        leaf(integrations, name, action, help_).add_argument("integration_id")

    # invoices
    invoices = commands.add_parser("invoices", help="re-created invoices").add_subparsers(
        dest="action", required=True, metavar="ACTION", parser_class=_Parser)
    sub = leaf(invoices, "list", cmd_invoices_list, "list invoices (all pages)")
    sub.add_argument("--issuer", metavar="ISSUER_ID")
    sub.add_argument("--status", choices=INVOICE_STATUSES)
    sub.add_argument("--limit", type=_positive, help="at most this many invoices")
    leaf(invoices, "show", cmd_invoices_show, "an invoice with its events").add_argument("invoice_id")
    sub = leaf(invoices, "open", cmd_invoices_open, "download the invoice's PDF and print its path")
    sub.add_argument("invoice_id")
    sub.add_argument("--output", "-o", metavar="FILE")
    leaf(invoices, "retry", cmd_invoices_retry, "send a failed invoice again").add_argument("invoice_id")
    leaf(invoices, "release", cmd_invoices_release, "let a held invoice go out now").add_argument("invoice_id")
    leaf(invoices, "approve", cmd_invoices_approve, "approve an invoice waiting for approval").add_argument(
        "invoice_id")
    sub = leaf(invoices, "release-held", cmd_invoices_release_held,
               "release every held invoice under review (not those waiting for approval or a send delay)")
    sub.add_argument("--issuer", metavar="ISSUER_ID")

    approvals = commands.add_parser("approvals", help="invoices waiting for the office's approval").add_subparsers(
        dest="action", required=True, metavar="ACTION", parser_class=_Parser)
    sub = leaf(approvals, "list", cmd_approvals_list, "list the invoices waiting for approval")
    sub.add_argument("--issuer", metavar="ISSUER_ID")

    sub = leaf(commands, "failures", cmd_failures, "failed invoices and integrations needing action")
    sub.add_argument("--issuer", metavar="ISSUER_ID")
    sub = leaf(commands, "report", cmd_report, "the dispatch report")
    sub.add_argument("--from", dest="date_from", type=_date, required=True, metavar="YYYY-MM-DD")
    sub.add_argument("--to", dest="date_to", type=_date, required=True, metavar="YYYY-MM-DD")
    sub.add_argument("--issuer", metavar="ISSUER_ID")
    sub.add_argument("--csv", metavar="FILE", help="write the report as CSV to FILE")
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    transport: httpx.BaseTransport | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """The console script. `transport` lets tests put an httpx.MockTransport under the client."""
    err_stream = stderr or sys.stderr
    _Parser.stderr = err_stream
    parser = build_parser()
    out = Output(raw_json=False, stdout=stdout, stderr=stderr)
    try:
        try:
            args = parser.parse_args(argv)
        except SystemExit as exit_:  # --help
            return int(exit_.code or 0)
        out.raw_json = bool(getattr(args, "raw_json", False))
        connection = resolve_connection(
            stack=getattr(args, "stack", None),
            api_url=getattr(args, "api_url", None),
            sigv4=bool(getattr(args, "sigv4", False)),
            region=getattr(args, "region", None),
        )
        with AdminApi(connection, transport=transport) as api:
            return int(args.handler(api, out, args))
    except (UsageError, ConfigError) as exc:
        out.usage_error(str(exc))
        return EXIT_USAGE
    except ApiError as exc:
        out.api_error(exc)
        return EXIT_API_ERROR
    except KeyboardInterrupt:
        out.usage_error("interrupted")
        return 130


if __name__ == "__main__":  # python -m invoice_bridge_cli.main
    sys.exit(main())
