"""The Maventa AX API of the operator sandbox, as strict as the service (reference/einvoice.md §1, §1.7).

- OAuth2 client credentials with scopes; each route needs its scope (`invoice:send`, `lookup`,
  `company:read`); no scope asked means `global company`, which cannot send invoices.
- `POST /v1/invoices`: multipart `file` (an invoice XML, or a ZIP of the XML and the PDF image) and
  `format`; the client's `uuid` becomes the invoice id; a repeated `uuid` is refused (setting). Form
  arrays are read by their real names (`disabled_routes[]`); the bare name is refused as Grape does.
  EIA + operator pin the route: a receiver the pinned operator does not serve ends FAILED, with no
  fallback. Letters are refused while the company's print service is off, or when the XML lacks the
  buyer's postal address.
- `GET /v1/invoices`: direction (default RECEIVED), status[], page, per_page; no `uuid` filter, and
  its invoices carry no `uuid` field. `GET /v1/invoices/{id}`.
- `GET /v1/lookup/receivers`: hits from the PEPPOL, INTERNAL and EXTERNAL networks asked for
  (`network[]`), each with its own operator.
- `GET`/`PATCH /v1/company/settings` (`send_invoice_print`).
"""

from __future__ import annotations

import base64
import secrets
import time
import uuid
from typing import Any

from flask import Flask, Response, jsonify, request

from .documents import UnreadableFile, read_invoice_file
from .state import OperatorState, org_digits

TOKEN_LIFETIME_SECONDS = 3600
_ALIASES = {
    "eui": "eui:open company:read company:write lookup receivables:assignments document:send document:receive "
    "invoice:receive invoice:send analysis",
    "global": "company:read document:receive document:send lookup",
    "company": "company:read company:write",
}
DEFAULT_SCOPE = "global company"
NETWORKS = ("PEPPOL", "INTERNAL", "EXTERNAL")
_ARRAY_FIELDS = ("disabled_routes", "route_order")


def error(status: int, code: str, message: str, details: list[str] | None = None,
          headers: dict[str, str] | None = None) -> tuple[Response, int]:
    response = jsonify({"code": code, "message": message, "details": details or []})
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response, status


def now_iso() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat()


def expand_scopes(scope: str | None) -> frozenset[str]:
    words: set[str] = set()
    for word in (scope or DEFAULT_SCOPE).split():
        words.update(_ALIASES.get(word, word).split())
    return frozenset(words)


def caller(state: OperatorState, *needed: str) -> tuple[str | None, tuple[Response, int] | None]:
    """(company uuid, None) for a valid token with one of `needed` scopes, else (None, the error)."""
    header = request.headers.get("Authorization", "")
    entry = state.tokens.get(header[7:].strip()) if header.lower().startswith("bearer ") else None
    if entry is None or entry[1] < time.time():
        return None, error(401, "auth_unauthorized", "Unauthorized")
    if needed and not set(needed) & entry[2]:
        return None, error(403, "insufficient_scope", "Insufficient scope", [f"needs one of: {', '.join(needed)}"])
    return entry[0], None


def register_maventa(app: Flask, state: OperatorState) -> None:
    _register_token(app, state)
    _register_invoices(app, state)
    _register_lookup_and_settings(app, state)


def _register_token(app: Flask, state: OperatorState) -> None:
    @app.post("/oauth2/token")
    def token() -> Any:
        form = request.form
        state.token_requests += 1
        if form.get("grant_type") != "client_credentials":
            return error(400, "invalid_parameters", "grant_type must be client_credentials")
        company, secret = form.get("client_id", ""), form.get("client_secret", "")
        vendor = form.get("vendor_api_key", "")
        account = state.accounts.get(company)
        vendor_ok = bool(vendor) and (
            state.vendor_api_key is None or secrets.compare_digest(vendor, state.vendor_api_key)
        )
        if account is None or not secrets.compare_digest(account.api_key, secret) or not vendor_ok:
            return error(401, "auth_unauthorized", "Unauthorized", ["Invalid client credentials"])
        access = secrets.token_urlsafe(24)
        scope = form.get("scope") or DEFAULT_SCOPE
        state.tokens[access] = (company, time.time() + TOKEN_LIFETIME_SECONDS, expand_scopes(scope))
        return jsonify({"access_token": access, "token_type": "bearer", "expires_in": TOKEN_LIFETIME_SECONDS,
                        "scope": scope})


def _register_invoices(app: Flask, state: OperatorState) -> None:
    @app.post("/v1/invoices")
    def upload_invoice() -> Any:
        company, refused = caller(state, "invoice:send")
        if refused:
            return refused
        return _upload(state, str(company))

    @app.get("/v1/invoices/<invoice_id>")
    def get_invoice(invoice_id: str) -> Any:
        company, refused = caller(state, "invoice:send", "invoice:receive")
        if refused:
            return refused
        with state.lock:
            invoice = state.invoices.get(invoice_id)
            if invoice is None or invoice["provider"] != "maventa" or invoice["company"] != company:
                return error(404, "not_found", "Invoice not found")
            advance(state, invoice)
            return jsonify(maventa_view(invoice))

    @app.get("/v1/invoices")
    def list_invoices() -> Any:
        company, refused = caller(state, "invoice:send", "invoice:receive")
        if refused:
            return refused
        direction = request.args.get("direction", "RECEIVED")  # unknown filters (e.g. uuid) are ignored
        statuses = set(request.args.getlist("status[]"))
        page = max(1, int(request.args.get("page", 1)))
        per_page = min(100, max(1, int(request.args.get("per_page", 10))))
        with state.lock:
            found = []
            for invoice in state.invoices.values():
                if invoice["provider"] == "maventa" and invoice["company"] == company and direction == "SENT":
                    advance(state, invoice)
                    if not statuses or invoice["status"] in statuses:
                        found.append(maventa_view(invoice))
        return jsonify(found[(page - 1) * per_page : page * per_page])


def _register_lookup_and_settings(app: Flask, state: OperatorState) -> None:
    @app.get("/v1/lookup/receivers")
    def lookup_receivers() -> Any:
        _, refused = caller(state, "lookup")
        if refused:
            return refused
        if "network" in request.args:
            return error(400, "invalid_parameters", "network is invalid", ["network must be an array: network[]"])
        bid, eia = request.args.get("bid"), request.args.get("eia")
        if not bid and not eia:
            return error(400, "invalid_parameters", "bid or eia is required")
        networks = set(request.args.getlist("network[]")) or set(NETWORKS)
        return jsonify(lookup_hits(state, org_digits(bid) if bid else None, eia, networks))

    @app.get("/v1/company/settings")
    def company_settings() -> Any:
        company, refused = caller(state, "company:read")
        if refused:
            return refused
        fields = set(request.args.getlist("fields[]"))
        settings = {"send_invoice_print": dict(state.accounts[str(company)].print_settings)}
        return jsonify({k: v for k, v in settings.items() if not fields or k in fields})

    @app.patch("/v1/company/settings")
    def patch_company_settings() -> Any:
        company, refused = caller(state, "company:write")
        if refused:
            return refused
        changes = (request.get_json(silent=True) or {}).get("send_invoice_print") or {}
        settings = state.accounts[str(company)].print_settings
        settings.update({k: v for k, v in changes.items() if k in settings})
        return "", 204


def _upload(state: OperatorState, company: str) -> Any:
    form = request.form
    for name in _ARRAY_FIELDS:
        if name in form:  # a bare name is a string where Grape wants an Array
            return error(400, "invalid_parameters", f"{name} is invalid", [f"{name} must be an array: {name}[]"])
    upload = request.files.get("file")
    if upload is None:
        return error(400, "invalid_parameters", "file is required", ["file is missing"])
    try:
        parsed = read_invoice_file(upload.read())
    except UnreadableFile as exc:
        return error(400, "invalid_parameters", "file is invalid", [str(exc)])
    invoice_id = form.get("uuid") or str(uuid.uuid4())
    try:
        uuid.UUID(invoice_id)
    except ValueError:
        return error(400, "invalid_parameters", "uuid is invalid", ["uuid must be a UUID"])
    with state.lock:
        existing = state.invoices.get(invoice_id)
        if existing is not None:
            if state.behaviour.duplicate_uuid == "return_existing" and existing["company"] == company:
                return jsonify(maventa_view(existing)), 201
            return error(state.behaviour.duplicate_uuid_status, "invoice_duplicate_uuid",
                         "Invoice with the given uuid already exists", [f"uuid {invoice_id} is taken"])
        route = _route(state, company, form, parsed)
        if isinstance(route, tuple):
            return route
        invoice = _store(state, company, invoice_id, form, parsed, route)
        body = maventa_view(invoice)  # an upload answers PENDING; statuses advance on later reads
    if state.conflict_after_accept():
        return error(409, "invoice_duplicate_uuid", "Invoice with the given uuid already exists",
                     [f"uuid {invoice_id} is taken"])
    if state.roll(state.faults.accept_then_timeout_rate):
        state.count("accept_then_timeout")
        time.sleep(state.faults.hang_seconds)  # stored, but the client times out before the answer
    return jsonify(body), 201


def _route(state: OperatorState, company: str, form: Any, parsed: Any) -> Any:
    """EINVOICE / EMAIL / PRINT, or an error answer (a letter the company cannot send)."""
    disabled = set(form.getlist("disabled_routes[]"))
    if form.get("recipient_eia") and "einvoice" not in disabled:
        return "EINVOICE"
    if form.get("recipient_email") and "email" not in disabled:
        return "EMAIL"
    if "print" in disabled:
        return error(400, "invalid_parameters", "No route left", ["every route is disabled"])
    if not state.accounts[company].print_settings.get("enabled"):
        return error(422, "print_disabled", "Print service is not enabled for the company",
                     ["enable send_invoice_print in the company settings"])
    missing = parsed.missing_address_parts()
    if missing:
        return error(422, "invalid_recipient_address", "Recipient postal address is incomplete",
                     [f"missing: {', '.join(missing)}"])
    return "PRINT"


def _store(state: OperatorState, company: str, invoice_id: str, form: Any, parsed: Any, route: str) -> dict[str, Any]:
    eia, operator = form.get("recipient_eia") or None, form.get("recipient_operator") or None
    fail_message = None
    if route == "EINVOICE" and not route_exists(state, eia, operator):
        # Pinned EIA + operator: Maventa sends there only, with no fallback.
        fail_message = f"Recipient {eia} not found at operator {operator or 'any'}"
    print_image = None
    if route == "PRINT":
        own = parsed.pdf is not None and state.accounts[company].print_settings.get("use_own_pdf")
        print_image = "own" if own else "operator_template"
    invoice = new_document(state, provider="maventa", company=company, document_id=invoice_id,
                           client_id=form.get("uuid") or None, file=parsed, destination=route,
                           fail_message=fail_message)
    invoice.update(format=form.get("format") or "PEPPOLBIS30", print_image=print_image,
                   recipient={"eia": eia, "operator": operator, "email": form.get("recipient_email") or None,
                              "name": parsed.buyer_address.get("name") or None, "bid": None, "country": "SE"})
    state.invoices[invoice_id] = invoice
    return invoice


def new_document(state: OperatorState, *, provider: str, company: str, document_id: str, client_id: str | None,
                 file: Any, destination: str, fail_message: str | None) -> dict[str, Any]:
    """A received document in the shape both APIs keep (the control listing reads it)."""
    will_fail = fail_message is not None or state.roll(state.faults.fail_delivery_rate)
    return {
        "id": document_id, "provider": provider, "company": company, "client_id": client_id,
        "status": "PENDING", "destination": destination, "number": file.number,
        "file": base64.b64encode(file.xml).decode("ascii"), "has_pdf": file.pdf is not None,
        "received_at": now_iso(), "created_at": now_iso(), "print_image": None,
        "actions": [{"type": "RECEIVED", "channel": destination, "message": "Received", "happened_at": now_iso()}],
        "_created": time.time(), "_will_fail": will_fail,
        "_fail_message": fail_message or "Recipient rejected the invoice",
        "_unknown_status": not will_fail and state.roll(state.faults.unknown_status_rate),
    }


def advance(state: OperatorState, invoice: dict[str, Any]) -> None:
    """PENDING → DELIVERED / FAILED (or a status clients do not know) once the delivery delay has passed."""
    if invoice["status"] != "PENDING" or time.time() - invoice["_created"] < state.delivery_delay:
        return
    if invoice["_unknown_status"]:
        invoice["status"] = "PARKED"
        return
    failed = invoice["_will_fail"]
    invoice["status"] = "FAILED" if failed else "DELIVERED"
    invoice["actions"].append({
        "type": "ERROR" if failed else "DELIVERED", "channel": invoice["destination"],
        "message": invoice["_fail_message"] if failed else "Delivered", "happened_at": now_iso(),
    })


def maventa_view(invoice: dict[str, Any]) -> dict[str, Any]:
    """The invoice as GET /v1/invoices/{id} shows it: no `uuid` field (the client's uuid is the id)."""
    return {
        "id": invoice["id"], "status": invoice["status"], "number": invoice["number"], "reference": None,
        "sender": {"eia": None, "bid": None, "name": None, "country": "SE"},
        "recipient": invoice["recipient"], "source_format": invoice["format"], "destination": invoice["destination"],
        "created_at": invoice["created_at"], "received_at": invoice["received_at"], "actions": invoice["actions"],
    }


def route_exists(state: OperatorState, eia: str | None, operator: str | None) -> bool:
    """Whether a receiver takes `eia` at `operator` (the pinned route)."""
    for receiver in state.receivers:
        if eia in receiver["eias"] and (operator is None or operator == receiver["operator"]):
            return True
    return False


def lookup_hits(state: OperatorState, bid: str | None, eia: str | None, networks: set[str]) -> list[dict[str, Any]]:
    hits = []
    for receiver in state.receivers:
        if receiver["network"] not in networks:
            continue
        if not ((bid and receiver.get("org_number") == bid) or (eia and eia in receiver["eias"])):
            continue
        for receiver_eia in receiver["eias"]:
            if eia and receiver_eia != eia:
                continue
            scheme, endpoint = receiver_eia.split(":", 1)
            hits.append({
                "eia": receiver_eia,
                "identifier": {"scheme": "iso6523-actorid-upis", "eaid_code": scheme, "endpoint_id": endpoint},
                "network": receiver["network"],
                "operator": receiver["operator"],
                "document_types": [{"document_type": "INVOICE"}, {"document_type": "CREDIT_NOTE"}],
                "participant": {"id": receiver["id"], "name": receiver["name"], "bid": receiver.get("org_number"),
                                "country": "SE"},
            })
    return hits
