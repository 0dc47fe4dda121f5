"""A Maventa AX-compatible operator for tests and the embedded stack.

Covers what invoice-bridge uses: OAuth2 client credentials, invoice upload with a client-chosen `uuid`
(a repeat returns the existing invoice), invoice status and search by uuid, receiver lookup, the print
route, and fault injection (5xx, timeouts, accepted-then-timed-out, failed deliveries).
Statuses advance lazily: an invoice older than `delivery_delay` seconds is DELIVERED or FAILED when read.
"""

from __future__ import annotations

import base64
import random
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.serving import make_server

TOKEN_LIFETIME_SECONDS = 3600


@dataclass
class Faults:
    rate_5xx: float = 0.0
    timeout_rate: float = 0.0
    accept_then_timeout_rate: float = 0.0
    fail_delivery_rate: float = 0.0
    # How long a "timeout" hangs; longer than the client's timeout.
    hang_seconds: float = 3.0


@dataclass
class OperatorState:
    accounts: dict[str, str] = field(default_factory=dict)  # company uuid -> user api key
    vendor_api_key: str | None = None  # None: any vendor key is accepted
    tokens: dict[str, tuple[str, float]] = field(default_factory=dict)  # token -> (company uuid, expiry)
    receivers: list[dict[str, Any]] = field(default_factory=list)
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> stored invoice
    faults: Faults = field(default_factory=Faults)
    delivery_delay: float = 0.0
    token_requests: int = 0
    lock: threading.RLock = field(default_factory=threading.RLock)
    rng: random.Random = field(default_factory=random.Random)

    def reset(self) -> None:
        with self.lock:
            self.accounts.clear()
            self.tokens.clear()
            self.receivers.clear()
            self.invoices.clear()
            self.faults = Faults()
            self.token_requests = 0


def _error(status: int, code: str, message: str, details: list[str] | None = None) -> tuple[Response, int]:
    return jsonify({"code": code, "message": message, "details": details or []}), status


def _now() -> str:
    return datetime.now(UTC).isoformat()


def create_app(
    state: OperatorState | None = None, *, delivery_delay: float = 0.0, vendor_api_key: str | None = None
) -> Flask:
    state = state or OperatorState(delivery_delay=delivery_delay, vendor_api_key=vendor_api_key)
    app = Flask("operator-sandbox")
    app.config["STATE"] = state

    def roll(rate: float) -> bool:
        return rate > 0 and state.rng.random() < rate

    def company_of_request() -> str | None:
        header = request.headers.get("Authorization", "")
        if not header.lower().startswith("bearer "):
            return None
        entry = state.tokens.get(header[7:].strip())
        if entry is None or entry[1] < time.time():
            return None
        return entry[0]

    def advance(invoice: dict[str, Any]) -> None:
        """PENDING → DELIVERED/FAILED once the delivery delay has passed (lazily, on read)."""
        if invoice["status"] != "PENDING" or time.time() - invoice["_created"] < state.delivery_delay:
            return
        if invoice["_will_fail"]:
            invoice["status"] = "FAILED"
            invoice["actions"].append(
                {
                    "type": "ERROR",
                    "channel": invoice["destination"],
                    "message": "Recipient rejected the invoice",
                    "happened_at": _now(),
                }
            )
        else:
            invoice["status"] = "DELIVERED"
            invoice["actions"].append(
                {
                    "type": "DELIVERED",
                    "channel": invoice["destination"],
                    "message": "Delivered",
                    "happened_at": _now(),
                }
            )

    def view(invoice: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in invoice.items() if not k.startswith("_") and k != "file"}

    def public(invoice: dict[str, Any]) -> dict[str, Any]:
        advance(invoice)
        return view(invoice)

    @app.before_request
    def _faults() -> Any:
        if request.path.startswith("/_sandbox"):
            return None
        if roll(state.faults.timeout_rate):
            time.sleep(state.faults.hang_seconds)  # the client has given up before we do anything
            return _error(504, "timeout", "The operator did not answer in time")
        if roll(state.faults.rate_5xx):
            return _error(503, "service_unavailable", "Temporarily unavailable")
        return None

    # --- AX API --------------------------------------------------------------------------------

    @app.post("/oauth2/token")
    def token() -> Any:
        form = request.form
        state.token_requests += 1
        if form.get("grant_type") != "client_credentials":
            return _error(400, "invalid_parameters", "grant_type must be client_credentials")
        company, secret = form.get("client_id", ""), form.get("client_secret", "")
        vendor = form.get("vendor_api_key", "")
        known = state.accounts.get(company)
        vendor_ok = bool(vendor) and (
            state.vendor_api_key is None or secrets.compare_digest(vendor, state.vendor_api_key)
        )
        if known is None or not secrets.compare_digest(known, secret) or not vendor_ok:
            return _error(401, "auth_unauthorized", "Unauthorized", ["Invalid client credentials"])
        access = secrets.token_urlsafe(24)
        state.tokens[access] = (company, time.time() + TOKEN_LIFETIME_SECONDS)
        return jsonify(
            {
                "access_token": access,
                "token_type": "bearer",
                "expires_in": TOKEN_LIFETIME_SECONDS,
                "scope": form.get("scope") or "global company",
            }
        )

    @app.post("/v1/invoices")
    def upload_invoice() -> Any:
        company = company_of_request()
        if company is None:
            return _error(401, "auth_unauthorized", "Unauthorized")
        upload = request.files.get("file")
        if upload is None:
            return _error(400, "invalid_parameters", "file is required", ["file is missing"])
        form = request.form
        client_uuid = form.get("uuid") or None
        with state.lock:
            if client_uuid:
                for existing in state.invoices.values():
                    if existing["uuid"] == client_uuid and existing["_company"] == company:
                        return jsonify(view(existing)), 201  # a retry: the invoice already exists
            disabled = set(form.getlist("disabled_routes[]"))
            eia = form.get("recipient_eia") or None
            email = form.get("recipient_email") or None
            if eia and "einvoice" not in disabled:
                destination = "EINVOICE"
            elif email and "email" not in disabled:
                destination = "EMAIL"
            elif "print" not in disabled:
                destination = "PRINT"
            else:
                return _error(400, "invalid_parameters", "No route left", ["every route is disabled"])
            invoice_id = str(uuid.uuid4())
            invoice = {
                "id": invoice_id,
                "uuid": client_uuid,
                "status": "PENDING",
                "format": form.get("format") or "PEPPOLBIS30",
                "recipient": {
                    "eia": eia,
                    "operator": form.get("recipient_operator"),
                    "email": email,
                    "name": None,
                    "bid": None,
                    "country": "SE",
                },
                "destination": destination,
                "received_at": _now(),
                "created_at": _now(),
                "file": base64.b64encode(upload.read()).decode("ascii"),
                "filename": upload.filename,
                "actions": [
                    {"type": "RECEIVED", "channel": destination, "message": "Received", "happened_at": _now()}
                ],
                "_company": company,
                "_created": time.time(),
                "_will_fail": roll(state.faults.fail_delivery_rate),
            }
            state.invoices[invoice_id] = invoice
            body = view(invoice)  # an upload answers PENDING; statuses advance on later reads
        if roll(state.faults.accept_then_timeout_rate):
            time.sleep(state.faults.hang_seconds)  # stored, but the client times out before the answer
        return jsonify(body), 201

    @app.get("/v1/invoices/<invoice_id>")
    def get_invoice(invoice_id: str) -> Any:
        company = company_of_request()
        if company is None:
            return _error(401, "auth_unauthorized", "Unauthorized")
        with state.lock:
            invoice = state.invoices.get(invoice_id)
            if invoice is None or invoice["_company"] != company:
                return _error(404, "not_found", "Invoice not found")
            return jsonify(public(invoice))

    @app.get("/v1/invoices")
    def search_invoices() -> Any:
        company = company_of_request()
        if company is None:
            return _error(401, "auth_unauthorized", "Unauthorized")
        wanted_uuid = request.args.get("uuid")
        statuses = set(request.args.getlist("status[]"))
        with state.lock:
            found = [
                public(inv)
                for inv in state.invoices.values()
                if inv["_company"] == company and (wanted_uuid is None or inv["uuid"] == wanted_uuid)
            ]
        if statuses:
            found = [inv for inv in found if inv["status"] in statuses]
        return jsonify(found)

    @app.get("/v1/lookup/receivers")
    def lookup_receivers() -> Any:
        if company_of_request() is None:
            return _error(401, "auth_unauthorized", "Unauthorized")
        bid, eia = request.args.get("bid"), request.args.get("eia")
        if not bid and not eia:
            return _error(400, "invalid_parameters", "bid or eia is required")
        networks = set(request.args.getlist("network[]"))
        result = []
        for receiver in state.receivers:
            eias = receiver["_eias"]
            if (bid and receiver.get("org_number") == bid) or (eia and eia in eias):
                if networks and "PEPPOL" not in networks:
                    continue
                for receiver_eia in eias:
                    if eia and receiver_eia != eia:
                        continue
                    scheme, endpoint = receiver_eia.split(":", 1)
                    result.append(
                        {
                            "eia": receiver_eia,
                            "identifier": {
                                "scheme": "iso6523-actorid-upis",
                                "eaid_code": scheme,
                                "endpoint_id": endpoint,
                            },
                            "network": "PEPPOL",
                            "operator": "PEPPOL",
                            "document_types": [
                                {"document_type": "INVOICE"},
                                {"document_type": "CREDIT_NOTE"},
                            ],
                            "participant": {
                                "id": receiver["id"],
                                "name": receiver["name"],
                                "bid": receiver.get("org_number"),
                                "country": "SE",
                            },
                        }
                    )
        return jsonify(result)

    # --- control -------------------------------------------------------------------------------

    @app.post("/_sandbox/accounts")
    def add_account() -> Any:
        body = request.get_json(force=True)
        company = body.get("company_uuid") or str(uuid.uuid4())
        api_key = body.get("api_key") or secrets.token_urlsafe(16)
        state.accounts[company] = api_key
        if "vendor_api_key" in body:
            state.vendor_api_key = body["vendor_api_key"]
        return jsonify({"company_uuid": company, "api_key": api_key}), 201

    @app.post("/_sandbox/receivers")
    def add_receiver() -> Any:
        body = request.get_json(force=True)
        if not body.get("name") or not (body.get("org_number") or body.get("gln")):
            return _error(400, "invalid_parameters", "name and org_number or gln are required")
        eias = []
        if body.get("org_number"):
            eias.append(f"0007:{body['org_number']}")
        if body.get("gln"):
            eias.append(f"0088:{body['gln']}")
        receiver = {
            "id": str(uuid.uuid4()),
            "name": body["name"],
            "org_number": body.get("org_number"),
            "gln": body.get("gln"),
            "_eias": eias,
        }
        state.receivers.append(receiver)
        return jsonify({k: v for k, v in receiver.items() if not k.startswith("_")} | {"eias": eias}), 201

    @app.get("/_sandbox/invoices")
    def list_all() -> Any:
        with state.lock:
            rows = []
            for inv in state.invoices.values():
                advance(inv)
                rows.append(
                    {
                        k: inv[k]
                        for k in (
                            "id",
                            "uuid",
                            "format",
                            "recipient",
                            "status",
                            "file",
                            "received_at",
                            "destination",
                        )
                    }
                )
        return jsonify(rows)

    @app.post("/_sandbox/faults")
    def set_faults() -> Any:
        body = request.get_json(force=True)
        for name in (
            "rate_5xx",
            "timeout_rate",
            "accept_then_timeout_rate",
            "fail_delivery_rate",
            "hang_seconds",
        ):
            if name in body:
                setattr(state.faults, name, float(body[name]))
        if "delivery_delay" in body:
            state.delivery_delay = float(body["delivery_delay"])
        if "seed" in body:
            state.rng.seed(body["seed"])
        return jsonify(state.faults.__dict__)

    @app.get("/_sandbox/stats")
    def stats() -> Any:
        return jsonify(
            {
                "token_requests": state.token_requests,
                "invoices": len(state.invoices),
                "receivers": len(state.receivers),
            }
        )

    @app.post("/_sandbox/reset")
    def reset() -> Any:
        state.reset()
        return jsonify({"reset": True})

    return app


def serve(host: str = "127.0.0.1", port: int = 0, **app_options: Any) -> tuple[Any, str]:
    """Run the sandbox on a threaded werkzeug server in a daemon thread; returns (server, base_url)."""
    server = make_server(host, port, create_app(**app_options), threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="operator-sandbox", daemon=True)
    thread.start()
    return server, f"http://{host}:{server.server_port}"
