"""Each command sends the contract's request (contract.md §3) and shows the answer."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs

import httpx

ISSUER = {
    "id": "iss-1", "name": "Acme AB", "org_number": "5560360793", "vat_number": None,
    "address": {"street": "Gatan 1", "postal_code": "11122", "city": "Stockholm", "country": "SE"},
    "notification_email": "ops@acme.example", "language": "sv", "f_skatt": True, "payee": "issuer",
    "dispatch": {"attach_pdf": True, "email_fallback": True, "print_fallback": True}, "has_logo": False,
}


def _query(request: httpx.Request) -> dict[str, list[str]]:
    return parse_qs(request.url.query.decode())


def test_issuers_create_sends_the_contract_fields_with_the_bearer_token(cli):
    run = cli(
        ["issuers", "create", "--name", "Acme AB", "--org-number", "556036-0793", "--street", "Gatan 1",
         "--postal-code", "11122", "--city", "Stockholm", "--notification-email", "ops@acme.example",
         "--language", "en", "--bankgiro", "5050-1055", "--no-f-skatt"],
        lambda request: httpx.Response(201, json=ISSUER),
    )
    assert run.code == 0, run.stderr
    [request] = run.requests
    assert (request.method, request.url.path) == ("POST", "/issuers")
    assert request.headers["Authorization"] == "Bearer local-admin-token-0123456789"
    assert request.headers["Content-Type"] == "application/json"
    assert run.bodies()[0] == {
        "name": "Acme AB", "org_number": "556036-0793", "notification_email": "ops@acme.example",
        "language": "en", "bankgiro": "5050-1055", "f_skatt": False,
        "address": {"street": "Gatan 1", "postal_code": "11122", "city": "Stockholm", "country": "SE"},
    }
    assert "iss-1" in run.stdout and "Acme AB" in run.stdout


def test_issuers_create_from_a_json_file_with_flags_overriding(cli, tmp_path: Path):
    body_file = tmp_path / "issuer.json"
    body_file.write_text(json.dumps({**{k: ISSUER[k] for k in ("name", "org_number", "address",
                                                               "notification_email")}, "iban": "SE45 5000"}))
    run = cli(["issuers", "create", "--json", str(body_file), "--name", "Acme Sverige AB", "--bic", "ESSESESS"],
              lambda request: httpx.Response(201, json=ISSUER))
    assert run.code == 0, run.stderr
    body = run.bodies()[0]
    assert body["name"] == "Acme Sverige AB"
    assert body["iban"] == "SE45 5000" and body["bic"] == "ESSESESS" and body["address"]["city"] == "Stockholm"


def test_issuers_create_without_required_fields_is_a_usage_error_and_sends_nothing(cli):
    run = cli(["issuers", "create", "--name", "Acme AB"], lambda request: httpx.Response(201, json=ISSUER))
    assert run.code == 2
    assert run.requests == []
    assert "--org-number" in run.stderr and "--city" in run.stderr


def test_global_json_flag_prints_the_raw_answer(cli):
    run = cli(["--json", "issuers", "show", "iss-1"], lambda request: httpx.Response(200, json=ISSUER))
    assert run.code == 0
    assert json.loads(run.stdout) == ISSUER
    assert run.requests[0].url.path == "/issuers/iss-1"


def test_json_flag_also_works_after_the_subcommand(cli):
    run = cli(["issuers", "show", "iss-1", "--json"], lambda request: httpx.Response(200, json=ISSUER))
    assert json.loads(run.stdout)["id"] == "iss-1"


def test_ids_are_one_path_segment(cli):
    run = cli(["issuers", "show", "../invoices"], lambda request: httpx.Response(200, json=ISSUER))
    assert run.requests[0].url.raw_path == b"/issuers/..%2Finvoices"


def test_issuers_update_nests_dispatch_settings(cli):
    run = cli(["issuers", "update", "iss-1", "--payee", "office", "--no-print-fallback", "--attach-pdf"],
              lambda request: httpx.Response(200, json={**ISSUER, "payee": "office"}))
    assert run.code == 0, run.stderr
    assert (run.requests[0].method, run.requests[0].url.path) == ("PATCH", "/issuers/iss-1")
    assert run.bodies()[0] == {"payee": "office", "dispatch": {"attach_pdf": True, "print_fallback": False}}


def test_issuers_update_with_nothing_to_change_is_a_usage_error(cli):
    run = cli(["issuers", "update", "iss-1"], lambda request: httpx.Response(200, json=ISSUER))
    assert run.code == 2 and run.requests == []


def test_issuers_logo_puts_the_image_bytes_with_their_content_type(cli, tmp_path: Path):
    logo = tmp_path / "logo.bin"
    data = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
    logo.write_bytes(data)
    run = cli(["issuers", "logo", "iss-1", str(logo)], lambda request: httpx.Response(204))
    assert run.code == 0, run.stderr
    [request] = run.requests
    assert (request.method, request.url.path) == ("PUT", "/issuers/iss-1/logo")
    assert request.headers["Content-Type"] == "image/png"
    assert request.content == data


def test_issuers_logo_refuses_a_file_that_is_not_png_or_jpeg(cli, tmp_path: Path):
    text = tmp_path / "logo.png"
    text.write_text("not an image")
    run = cli(["issuers", "logo", "iss-1", str(text)], lambda request: httpx.Response(204))
    assert run.code == 2 and run.requests == []


def test_issuers_operator_sends_the_key_but_never_prints_it(cli):
    secret = "mav-secret-key-5f2b9c"
    for argv in (["issuers", "operator", "iss-1"], ["--json", "issuers", "operator", "iss-1"]):
        run = cli([*argv, "--provider", "maventa", "--company-uuid", "c0ffee", "--api-key", secret],
                  lambda request: httpx.Response(204))
        assert run.code == 0, run.stderr
        assert (run.requests[0].method, run.requests[0].url.path) == ("PUT", "/issuers/iss-1/operator")
        assert run.bodies()[0] == {"provider": "maventa", "company_uuid": "c0ffee", "api_key": secret}
        assert secret not in run.stdout + run.stderr
        assert "maventa" in run.stdout


def test_issuers_operator_error_does_not_echo_the_key(cli, api_error):
    secret = "mav-secret-key-5f2b9c"
    run = cli(["issuers", "operator", "iss-1", "--provider", "maventa", "--company-uuid", "c", "--api-key", secret],
              lambda request: api_error(404, "not_found", "issuer iss-1 not found"))
    assert run.code == 1
    assert secret not in run.stdout + run.stderr


def test_integrations_order_posts_the_contact(cli):
    answer = {"id": "int-1", "status": "pending_consent", "consent_url": "http://x/consent/abc"}
    run = cli(["integrations", "order", "iss-1", "--contact-name", "Eva Ek", "--contact-email", "eva@acme.example",
               "--language", "en"], lambda request: httpx.Response(201, json=answer))
    assert run.code == 0, run.stderr
    assert (run.requests[0].method, run.requests[0].url.path) == ("POST", "/issuers/iss-1/integrations")
    assert run.bodies()[0] == {"source": "spiris", "contact_name": "Eva Ek", "contact_email": "eva@acme.example",
                               "language": "en"}
    assert "http://x/consent/abc" in run.stdout and "pending_consent" in run.stdout


def test_integration_actions_use_their_routes(cli):
    integration = {"id": "int-1", "issuer_id": "iss-1", "status": "active", "enabled": True}
    expected = {
        "show": ("GET", "/integrations/int-1", None),
        "invite": ("POST", "/integrations/int-1/invite", None),
        "sync": ("POST", "/integrations/int-1/sync", None),
        "enable": ("PATCH", "/integrations/int-1", {"enabled": True}),
        "disable": ("PATCH", "/integrations/int-1", {"enabled": False}),
        "revoke": ("DELETE", "/integrations/int-1", None),
    }
    answers = {"invite": (200, {"consent_url": "http://x/consent/new"}), "sync": (202, {"integration_id": "int-1"}),
               "revoke": (204, None)}
    for action, (method, path, body) in expected.items():
        status, payload = answers.get(action, (200, integration))
        run = cli(["integrations", action, "int-1"],
                  lambda request, s=status, p=payload: httpx.Response(s, json=p) if p else httpx.Response(s))
        assert run.code == 0, (action, run.stderr)
        [request] = run.requests
        assert (request.method, request.url.path) == (method, path), action
        assert run.bodies()[0] == body, action
    assert "http://x/consent/new" in cli(["integrations", "invite", "int-1"],
                                         lambda r: httpx.Response(200, json={"consent_url": "http://x/consent/new"})).stdout


def test_reconciliation_table_shows_number_customer_amount_selected_reason(cli):
    answer = {
        "integration_id": "int-1", "first_sync_done": True, "selected": 1, "skipped": 1,
        "items": [
            {"source_id": "s1", "invoice_number": 1001, "customer_name": "Kund AB", "amount": "1250.00",
             "selected": True, "reason": "selected"},
            {"source_id": "s2", "invoice_number": 1002, "selected": False, "reason": "paid", "detail": "PaymentStatus 2"},
        ],
    }
    run = cli(["integrations", "reconciliation", "int-1"], lambda request: httpx.Response(200, json=answer))
    assert run.code == 0, run.stderr
    lines = run.stdout.splitlines()
    header = next(line for line in lines if "number" in line and "reason" in line)
    assert [h for h in ("number", "customer", "amount", "selected", "reason") if h in header] == [
        "number", "customer", "amount", "selected", "reason"]
    first = next(line for line in lines if "1001" in line)
    assert "Kund AB" in first and "1250.00" in first and "yes" in first
    second = next(line for line in lines if "1002" in line)
    assert "no" in second and "paid — PaymentStatus 2" in second
    assert "1 selected, 1 skipped" in run.stdout


def _invoice(n: int, status: str = "sent") -> dict:
    return {"id": f"inv-{n}", "issuer_id": "iss-1", "source_id": f"s{n}", "number": str(1000 + n), "type": "invoice",
            "buyer": {"name": f"Kund {n} AB"}, "total": f"{n}99.50", "currency": "SEK", "status": status,
            "channel": "einvoice", "updated_at": "2026-11-20T10:00:00+01:00"}


def test_invoices_list_follows_next_cursor_to_the_end(cli):
    pages = {None: ([_invoice(1), _invoice(2)], "c1"), "c1": ([_invoice(3)], "c2"), "c2": ([_invoice(4)], None)}

    def handler(request: httpx.Request) -> httpx.Response:
        cursor = _query(request).get("cursor", [None])[0]
        items, next_cursor = pages[cursor]
        return httpx.Response(200, json={"items": items, "next_cursor": next_cursor})

    run = cli(["invoices", "list", "--issuer", "iss-1", "--status", "sent"], handler)
    assert run.code == 0, run.stderr
    assert [_query(r).get("cursor") for r in run.requests] == [None, ["c1"], ["c2"]]
    assert all(_query(r)["issuer_id"] == ["iss-1"] and _query(r)["status"] == ["sent"] for r in run.requests)
    for n in (1, 2, 3, 4):
        assert f"Kund {n} AB" in run.stdout and f"{n}99.50" in run.stdout
    assert "4 invoice(s)" in run.stdout


def test_invoices_list_limit_stops_paging(cli):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"items": [_invoice(1), _invoice(2)], "next_cursor": "more"})

    run = cli(["--json", "invoices", "list", "--limit", "3"], handler)
    assert run.code == 0
    assert len(json.loads(run.stdout)["items"]) == 3
    assert len(run.requests) == 2
    assert _query(run.requests[0])["limit"] == ["3"]


def test_invoices_list_rejects_an_unknown_status(cli):
    run = cli(["invoices", "list", "--status", "lost"], lambda request: httpx.Response(200, json={"items": []}))
    assert run.code == 2 and run.requests == []
    assert "invalid choice" in run.stderr


def test_invoices_show_prints_details_and_events(cli):
    detail = {**_invoice(7, "delivered"), "events": [
        {"at": "2026-11-20T10:00:00+01:00", "status": "rendered", "detail": "PDF and e-invoice"},
        {"at": "2026-11-20T10:05:00+01:00", "status": "delivered", "detail": "operator confirmed"}]}
    run = cli(["invoices", "show", "inv-7"], lambda request: httpx.Response(200, json=detail))
    assert run.code == 0
    assert run.requests[0].url.path == "/invoices/inv-7"
    assert "799.50" in run.stdout and "Kund 7 AB" in run.stdout
    assert "Events" in run.stdout and "operator confirmed" in run.stdout and "PDF and e-invoice" in run.stdout


def test_invoices_open_downloads_the_presigned_pdf_without_our_credentials(cli, tmp_path: Path):
    pdf = b"%PDF-1.7 test"
    presigned = "http://127.0.0.1:4566/documents/iss-1/invoices/inv-7/v1/invoice.pdf?X-Amz-Signature=abc"

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/invoices/inv-7":
            return httpx.Response(200, json={**_invoice(7), "events": [], "pdf_url": presigned})
        assert str(request.url) == presigned
        return httpx.Response(200, content=pdf)

    target = tmp_path / "out" / "7.pdf"
    run = cli(["invoices", "open", "inv-7", "--output", str(target)], handler)
    assert run.code == 0, run.stderr
    assert target.read_bytes() == pdf
    assert run.stdout.strip() == str(target)
    assert "Authorization" not in run.requests[1].headers


def test_invoices_open_without_a_pdf_is_an_error(cli, tmp_path: Path):
    run = cli(["invoices", "open", "inv-7", "-o", str(tmp_path / "x.pdf")],
              lambda request: httpx.Response(200, json={**_invoice(7, "queued"), "events": []}))
    assert run.code == 1
    assert "no_pdf" in run.stderr and not (tmp_path / "x.pdf").exists()


def test_invoices_retry_and_release(cli):
    for action in ("retry", "release"):
        run = cli(["invoices", action, "inv-7"], lambda request: httpx.Response(202, json={"id": "inv-7",
                                                                                           "status": "queued"}))
        assert run.code == 0
        assert (run.requests[0].method, run.requests[0].url.path) == ("POST", f"/invoices/inv-7/{action}")


def _release_answer(request: httpx.Request, refused: dict[str, str] | None = None,
                    later: tuple[str, ...] = ()) -> httpx.Response:
    """POST /invoices/release as the API answers it: each id released unless `refused` names it."""
    ids = json.loads(request.content)["ids"]
    refused = refused or {}
    return httpx.Response(200, json={
        "released": [{"id": i, "status": "rendered"} for i in ids if i not in refused],
        "not_released": [{"id": i, "reason": refused[i]} for i in ids if i in refused],
        "not_handed_on": [i for i in ids if i in later]})


def test_release_held_releases_every_held_invoice_in_one_request_and_reports_refusals(cli):
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            cursor = _query(request).get("cursor")
            if cursor is None:
                return httpx.Response(200, json={"items": [_invoice(1, "held"), _invoice(2, "held")], "next_cursor": "p2"})
            return httpx.Response(200, json={"items": [_invoice(3, "held")], "next_cursor": None})
        return _release_answer(request, {"inv-2": "invoice inv-2 is sent, not held"}, later=("inv-3",))

    run = cli(["invoices", "release-held", "--issuer", "iss-1"], handler)
    gets = [r for r in run.requests if r.method == "GET"]
    assert all(_query(r)["status"] == ["held"] and _query(r)["issuer_id"] == ["iss-1"] for r in gets)
    posts = [(r.url.path, json.loads(r.content)) for r in run.requests if r.method == "POST"]
    assert posts == [("/invoices/release", {"ids": ["inv-1", "inv-2", "inv-3"]})]
    assert run.code == 1
    assert "Released 2 of 3" in run.stdout and "is sent, not held" in run.stdout and "1002" in run.stdout
    assert "1 of them go out with the sweeper's next tick" in run.stdout


def test_release_held_sends_at_most_100_ids_a_request_and_a_refused_request_fails_its_own(cli, api_error):
    """250 held invoices: three requests (100, 100, 50); the second refused as a whole (503) lists its 100
    as not released, the others are released; --json lists both."""
    items = [_invoice(n, "held") for n in range(1, 251)]

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json={"items": items, "next_cursor": None})
        if json.loads(request.content)["ids"][0] == "inv-101":
            return api_error(503, "unavailable", "try again")
        return _release_answer(request)

    run = cli(["--json", "invoices", "release-held"], handler)
    sizes = [len(json.loads(r.content)["ids"]) for r in run.requests if r.method == "POST"]
    assert sizes == [100, 100, 50]
    assert run.code == 1
    answer = json.loads(run.stdout)
    assert len(answer["released"]) == 150 and len(answer["failed"]) == 100
    assert answer["failed"][0]["id"] == "inv-101" and "unavailable" in answer["failed"][0]["error"]


def test_failures_passes_the_issuer_and_shows_both_kinds(cli):
    answer = {"invoices": [{**_invoice(5, "failed"), "status_reason": "operator refused: org number"}],
              "integrations": [{"id": "int-9", "issuer_id": "iss-1", "status": "needs_reconsent",
                                "last_error": "refresh token revoked"}]}
    run = cli(["failures", "--issuer", "iss-1"], lambda request: httpx.Response(200, json=answer))
    assert run.code == 0, run.stderr
    assert run.requests[0].url.path == "/failures" and _query(run.requests[0]) == {"issuer_id": ["iss-1"]}
    assert "operator refused: org number" in run.stdout
    assert "needs_reconsent" in run.stdout and "refresh token revoked" in run.stdout


def test_report_to_csv_writes_the_apis_csv(cli, tmp_path: Path):
    csv_text = "type,number,buyer,channel,status,sent_at,message\r\ninvoice,1001,Kund AB,einvoice,sent,2026-11-20,\r\n"
    target = tmp_path / "report.csv"
    run = cli(["report", "--from", "2026-11-01", "--to", "2026-11-30", "--csv", str(target)],
              lambda request: httpx.Response(200, text=csv_text, headers={"Content-Type": "text/csv"}))
    assert run.code == 0, run.stderr
    assert _query(run.requests[0]) == {"from": ["2026-11-01"], "to": ["2026-11-30"], "format": ["csv"]}
    assert target.read_bytes() == csv_text.encode()
    assert str(target) in run.stdout and "1 row(s)" in run.stdout


def test_report_as_a_table(cli):
    answer = {"from": "2026-11-01", "to": "2026-11-30", "columns": [],
              "rows": [{"type": "invoice", "number": "1001", "buyer": "Kund AB", "channel": "email",
                        "status": "sent", "sent_at": "2026-11-20T10:00:00+01:00", "message": ""}]}
    run = cli(["report", "--from", "2026-11-01", "--to", "2026-11-30"], lambda request: httpx.Response(200, json=answer))
    assert run.code == 0
    assert _query(run.requests[0])["format"] == ["json"]
    assert "Kund AB" in run.stdout and "email" in run.stdout


def test_report_with_a_bad_date_is_a_usage_error(cli):
    run = cli(["report", "--from", "2026-13-01", "--to", "2026-11-30"], lambda request: httpx.Response(200))
    assert run.code == 2 and run.requests == []


def test_issuers_update_sets_the_sending_mode_and_the_send_delay(cli):
    run = cli(["issuers", "update", "iss-1", "--sending", "approve", "--send-delay-hours", "24"],
              lambda request: httpx.Response(200, json={**ISSUER, "sending": "approve", "send_delay_hours": 24}))
    assert run.code == 0, run.stderr
    assert run.bodies()[0] == {"sending": "approve", "send_delay_hours": 24}
    assert "approve" in run.stdout and "24" in run.stdout


def test_issuers_update_refuses_a_send_delay_outside_0_to_72_hours(cli):
    for hours in ("73", "-1", "1.5", "a day"):
        run = cli(["issuers", "update", "iss-1", "--send-delay-hours", hours], lambda request: httpx.Response(200))
        assert run.code == 2 and run.requests == [], hours
        assert "0 to 72" in run.stderr


def test_approvals_list_shows_what_waits_for_approval(cli):
    waiting = {**_invoice(4, "held"), "status_reason": "awaiting_approval", "version": 2,
               "issue_date": "2026-11-20", "due_date": "2026-12-20"}
    run = cli(["approvals", "list", "--issuer", "iss-1"], lambda request: httpx.Response(200, json={"items": [waiting]}))
    assert run.code == 0, run.stderr
    assert run.requests[0].url.path == "/approvals" and _query(run.requests[0]) == {"issuer_id": ["iss-1"]}
    row = next(line for line in run.stdout.splitlines() if "1004" in line)
    assert "Kund 4 AB" in row and "2026-12-20" in row and "inv-4" in row
    assert "1 invoice(s)" in run.stdout


def test_invoices_approve_posts_to_its_route_and_says_what_follows(cli):
    for status, then in (("rendered", "goes out"), ("held", "waits for its send delay")):
        run = cli(["invoices", "approve", "inv-7"],
                  lambda request, status=status: httpx.Response(202, json={"id": "inv-7", "status": status}))
        assert run.code == 0, run.stderr
        assert (run.requests[0].method, run.requests[0].url.path) == ("POST", "/invoices/inv-7/approve")
        assert then in run.stdout


def test_invoices_approve_of_an_invoice_not_waiting_is_an_api_error(cli, api_error):
    run = cli(["invoices", "approve", "inv-7"],
              lambda request: api_error(409, "invalid_state", "invoice 1007 is sent, only invoices waiting"))
    assert run.code == 1 and "invalid_state" in run.stderr


def test_release_held_leaves_invoices_waiting_for_approval_or_their_send_delay(cli):
    items = [{**_invoice(1, "held"), "status_reason": "first_sync"},
             {**_invoice(2, "held"), "status_reason": "awaiting_approval"},
             {**_invoice(3, "held"), "status_reason": "send_delay"}]

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json={"items": items, "next_cursor": None})
        return _release_answer(request)

    run = cli(["invoices", "release-held"], handler)
    assert run.code == 0, run.stderr
    assert [json.loads(r.content)["ids"] for r in run.requests if r.method == "POST"] == [["inv-1"]]
    assert "Released 1 of 1" in run.stdout


def test_names_from_invoices_are_plain_text_never_markup(cli):
    hostile = "[bold red]Evil[/bold red] [link=https://evil.example]AB[/link]"
    listed = {"items": [{**_invoice(1), "buyer": {"name": hostile}}], "next_cursor": None}
    run = cli(["invoices", "list"], lambda request: httpx.Response(200, json=listed))
    assert run.code == 0, run.stderr
    assert "[bold red]Evil[/bold red]" in run.stdout and "[link=https://evil.example]AB[/link]" in run.stdout

    detail = {**_invoice(2), "buyer": {"name": hostile}, "events": [{"at": "2026-11-20T10:00:00+01:00",
                                                                     "status": "sent", "detail": "[red]x[/red]"}]}
    run = cli(["invoices", "show", "inv-2"], lambda request: httpx.Response(200, json=detail))
    assert run.code == 0, run.stderr
    assert "[bold red]Evil[/bold red]" in run.stdout

    failing = httpx.Response(409, json={"error": {"code": "[blink]conflict[/blink]", "message": "[b]no[/b]"}})
    run = cli(["invoices", "retry", "inv-2"], lambda request: failing)
    assert "[blink]conflict[/blink]" in run.stderr and "[b]no[/b]" in run.stderr


def test_failures_show_source_invoices_that_could_not_be_read(cli):
    answer = {"invoices": [], "integrations": [], "source_invoices": [
        {"source_id": "c0ffee", "number": "2003", "issuer_id": "iss-1", "integration_id": "int-1",
         "reason": "Rows[0].Quantity: Input should be a valid decimal", "kind": "unreadable"}]}
    run = cli(["failures"], lambda request: httpx.Response(200, json=answer))
    assert run.code == 0, run.stderr
    assert "2003" in run.stdout and "c0ffee" in run.stdout and "Rows[0].Quantity" in run.stdout


def test_issuers_update_turns_archiving_spiris_pdf_on_and_off(cli):
    run = cli(["issuers", "update", "iss-1", "--archive-source-pdf"],
              lambda request: httpx.Response(200, json={**ISSUER, "archive_source_pdf": True}))
    assert run.code == 0, run.stderr
    assert run.bodies()[0] == {"archive_source_pdf": True}
    assert "archive_source_pdf" in run.stdout
    run = cli(["issuers", "update", "iss-1", "--no-archive-source-pdf"], lambda request: httpx.Response(200, json=ISSUER))
    assert run.bodies()[0] == {"archive_source_pdf": False}
