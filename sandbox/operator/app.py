"""The operator sandbox: a Maventa AX-compatible API and an InExchange API on one server, as strict as the
services (sandbox/operator/maventa.py, inexchange.py), with the control routes of contract.md §6.

Statuses advance lazily: a document older than `delivery_delay` seconds is DELIVERED or FAILED when
read. Faults (`POST /_sandbox/faults`) and undocumented behaviours (`POST /_sandbox/settings`) are what
tests and the soak turn on.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from dataclasses import asdict
from typing import Any

from flask import Flask, jsonify, request
from werkzeug.serving import make_server

from .inexchange import inexchange_view, register_inexchange
from .maventa import advance, error, register_maventa
from .state import Behaviour, Faults, InExchangeClient, MaventaAccount, OperatorState, org_digits

NETWORK_OPERATORS = {"PEPPOL": "PEPPOL", "INTERNAL": "MAVENTA"}
_FAULT_FIELDS = [name for name in Faults.__dataclass_fields__]
_BEHAVIOUR_FIELDS = list(Behaviour.__dataclass_fields__)


def create_app(
    state: OperatorState | None = None,
    *,
    delivery_delay: float = 0.0,
    vendor_api_key: str | None = None,
    partner_api_key: str | None = None,
) -> Flask:
    state = state or OperatorState(
        delivery_delay=delivery_delay, vendor_api_key=vendor_api_key, partner_api_key=partner_api_key
    )
    app = Flask("operator-sandbox")
    app.config["STATE"] = state

    @app.before_request
    def _faults() -> Any:
        if request.path.startswith("/_sandbox"):
            return None
        faults = state.faults
        if state.roll(faults.timeout_rate):
            time.sleep(faults.hang_seconds)  # the client has given up before we do anything
            return error(504, "timeout", "The operator did not answer in time")
        retry_after = {"Retry-After": str(int(faults.retry_after_seconds))}
        if state.roll(faults.rate_429):
            state.count("429")
            return error(429, "too_many_requests", "Rate limit exceeded", headers=retry_after)
        if state.roll(faults.rate_5xx):
            state.count("5xx")
            return error(503, "service_unavailable", "Temporarily unavailable", headers=retry_after)
        return None

    register_maventa(app, state)
    register_inexchange(app, state)
    _register_control(app, state)
    return app


def _register_control(app: Flask, state: OperatorState) -> None:
    _register_accounts(app, state)
    _register_receivers_and_documents(app, state)
    _register_faults_and_settings(app, state)


def _register_accounts(app: Flask, state: OperatorState) -> None:
    @app.post("/_sandbox/accounts")
    def add_account() -> Any:
        body = request.get_json(force=True) or {}
        company = body.get("company_uuid") or str(uuid.uuid4())
        api_key = body.get("api_key") or secrets.token_urlsafe(16)
        behaviour = state.behaviour
        print_settings = {"enabled": behaviour.print_enabled, "letter_class": "ECONOMY",
                          "color_scheme": "BLACK_AND_WHITE", "attachment_print": False, "marketing_page": False,
                          "use_own_pdf": behaviour.use_own_pdf, **(body.get("print") or {})}
        state.accounts[company] = MaventaAccount(company, api_key, print_settings)
        if "vendor_api_key" in body:
            state.vendor_api_key = body["vendor_api_key"]
        return jsonify({"company_uuid": company, "api_key": api_key}), 201

    @app.patch("/_sandbox/accounts/<company_uuid>")
    def patch_account(company_uuid: str) -> Any:
        account = state.accounts.get(company_uuid)
        if account is None:
            return error(404, "not_found", "no such account")
        account.print_settings.update((request.get_json(force=True) or {}).get("print") or {})
        return jsonify({"company_uuid": company_uuid, "print": account.print_settings})

    @app.post("/_sandbox/inexchange/clients")
    def add_client() -> Any:
        """A client company registered under the partner with our id for it (`erp_id`)."""
        body = request.get_json(force=True) or {}
        if not body.get("erp_id"):
            return error(400, "invalid_parameters", "erp_id is required")
        with state.lock:
            client = InExchangeClient(erp_id=str(body["erp_id"]), company_id=str(uuid.uuid4()),
                                      name=str(body.get("name") or ""), paper=bool(body.get("paper", True)))
            state.clients[client.erp_id] = client
        return jsonify({"erp_id": client.erp_id, "company_id": client.company_id}), 201

    @app.post("/_sandbox/inexchange/expire_tokens")
    def expire_tokens() -> Any:
        """Every client token (of one client, or all) stops working, as when InExchange expires them."""
        erp_id = (request.get_json(silent=True) or {}).get("erp_id")
        with state.lock:
            for client in state.clients.values():
                if erp_id in (None, client.erp_id):
                    client.tokens.clear()
        return "", 204


def _register_receivers_and_documents(app: Flask, state: OperatorState) -> None:
    @app.post("/_sandbox/receivers")
    def add_receiver() -> Any:
        body = request.get_json(force=True) or {}
        receiver, problem = _receiver(body)
        if problem:
            return error(400, "invalid_parameters", problem)
        state.receivers.append(receiver)
        return jsonify(receiver), 201

    @app.delete("/_sandbox/receivers/<receiver_id>")
    def remove_receiver(receiver_id: str) -> Any:
        """The buyer leaves the network (after a client looked it up and cached the answer)."""
        with state.lock:
            state.receivers[:] = [r for r in state.receivers if r["id"] != receiver_id]
        return "", 204

    @app.get("/_sandbox/invoices")
    def list_all() -> Any:
        with state.lock:
            return jsonify([_control_view(state, document) for document in state.invoices.values()])


def _register_faults_and_settings(app: Flask, state: OperatorState) -> None:
    @app.post("/_sandbox/faults")
    def set_faults() -> Any:
        body = request.get_json(force=True) or {}
        for name in _FAULT_FIELDS:
            if name in body:
                setattr(state.faults, name, float(body[name]))
        if "delivery_delay" in body:
            state.delivery_delay = float(body["delivery_delay"])
        if "seed" in body:
            state.rng.seed(body["seed"])
        return jsonify(asdict(state.faults))

    @app.post("/_sandbox/settings")
    def set_behaviour() -> Any:
        body = request.get_json(force=True) or {}
        unknown = sorted(set(body) - set(_BEHAVIOUR_FIELDS) - {"partner_api_key"})
        if unknown:
            return error(400, "invalid_parameters", f"unknown settings: {', '.join(unknown)}")
        for name in _BEHAVIOUR_FIELDS:
            if name in body:
                setattr(state.behaviour, name, body[name])
        if "partner_api_key" in body:  # the office's InExchange partner key
            state.partner_api_key = body["partner_api_key"]
        return jsonify(asdict(state.behaviour))

    @app.get("/_sandbox/stats")
    def stats() -> Any:
        return jsonify({"token_requests": state.token_requests, "invoices": len(state.invoices),
                        "receivers": len(state.receivers), "client_tokens_created": state.client_tokens_created,
                        "client_tokens_revoked": state.client_tokens_revoked, "injected": dict(state.injected)})

    @app.post("/_sandbox/reset")
    def reset() -> Any:
        state.reset()
        return jsonify({"reset": True})


def _receiver(body: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """A receiver in one network (PEPPOL by default; INTERNAL: the operator's own; EXTERNAL: another
    operator's, named by `operator`). `org_number` may be written any usual way, or be a VAT number."""
    org = org_digits(body.get("org_number") or body.get("vat_number"))
    if not body.get("name") or not (org or body.get("gln")):
        return {}, "name and org_number (or vat_number) or gln are required"
    if (body.get("org_number") or body.get("vat_number")) and org is None:
        return {}, "org_number is not an organisation number (212000-0555, 2120000555 or SE212000055501)"
    network = str(body.get("network") or "PEPPOL").upper()
    if network not in ("PEPPOL", "INTERNAL", "EXTERNAL"):
        return {}, "network is PEPPOL, INTERNAL or EXTERNAL"
    operator = body.get("operator") or NETWORK_OPERATORS.get(network)
    if not operator:
        return {}, "an EXTERNAL receiver needs its operator"
    eias = ([f"0007:{org}"] if org else []) + ([f"0088:{body['gln']}"] if body.get("gln") else [])
    return {
        "id": str(uuid.uuid4()), "name": body["name"], "org_number": org, "gln": body.get("gln"),
        "network": network, "operator": str(operator), "receives_einvoice": bool(body.get("receives_einvoice", True)),
        "eias": eias,
    }, None


def _control_view(state: OperatorState, document: dict[str, Any]) -> dict[str, Any]:
    """Every document as the tests read it: `uuid` is the id the client chose (Maventa `uuid`, InExchange
    `ErpDocumentId`); `status` is PENDING / DELIVERED / FAILED (PARKED: a status clients do not know)."""
    advance(state, document)
    view = {key: document.get(key) for key in (
        "id", "provider", "format", "recipient", "status", "file", "received_at", "destination", "number",
        "print_image", "has_pdf")}
    view["uuid"] = document["client_id"]
    if document["provider"] == "inexchange":
        view["operator_status"] = inexchange_view(state, document)["currentStatus"]["status"]
    return view


def serve(host: str = "127.0.0.1", port: int = 0, **app_options: Any) -> tuple[Any, str]:
    """Run the sandbox on a threaded werkzeug server in a daemon thread; returns (server, base_url)."""
    server = make_server(host, port, create_app(**app_options), threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="operator-sandbox", daemon=True)
    thread.start()
    return server, f"http://{host}:{server.server_port}"
