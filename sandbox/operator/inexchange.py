"""The InExchange API of the operator sandbox (reference/einvoice.md §2, §2.6), for the issuers set up on it.

- Partner level (`APIKey` header): `clientTokens/create` for a client registered under our `erpId`,
  `clientTokens/revoke`.
- Client level (`ClientToken` header; a revoked or unknown token answers 401): `documents` (upload, 201
  with `Location`), `documents/outbound` (send: Electronic to a company the lookup returned, or Paper to
  a complete address; a repeated `ErpDocumentId` is accepted as a new document unless the setting
  refuses it), `invoices/outbound/{id}`, `invoices/outbound/byerpid/{erpId}`, `documents/outbound/list`
  (in no particular order) and `buyerparties/lookup` (`PartyId` required; near matches come back as
  potential matches with `exactHit: false`).
- Errors: `{"message": ..., "modelState": {field: [messages]}}`.
"""

from __future__ import annotations

import secrets
import time
import uuid
from typing import Any

from flask import Flask, Response, jsonify, request

from .documents import UnreadableFile, read_invoice_file
from .maventa import advance, new_document, now_iso
from .state import InExchangeClient, OperatorState, org_digits

RECEIVING = "ReceivingElectronicInvoices"
NOT_RECEIVING = "NotReceivingElectronicInvoices"
_STATUS = {"PENDING": "PendingInPlatform", "DELIVERED": "Delivered", "FAILED": "Error", "PARKED": "Parked"}


def invalid(field: str, message: str, status: int = 400) -> tuple[Response, int]:
    return jsonify({"message": "The request is invalid.", "modelState": {field: [message]}}), status


def denied() -> tuple[Response, int]:
    return jsonify({"message": "Authorization has been denied for this request."}), 401


def client(state: OperatorState) -> InExchangeClient | None:
    """The client whose `ClientToken` the request carries (None: missing, unknown or revoked)."""
    token = request.headers.get("ClientToken", "")
    return state.client_of_token(token) if token else None


def partner_ok(state: OperatorState) -> bool:
    key = request.headers.get("APIKey", "")
    return bool(key and state.partner_api_key and secrets.compare_digest(key, state.partner_api_key))


def register_inexchange(app: Flask, state: OperatorState) -> None:
    _register_client_tokens(app, state)
    _register_documents(app, state)
    _register_reads(app, state)


def _register_client_tokens(app: Flask, state: OperatorState) -> None:
    @app.post("/v1/api/clientTokens/create")
    def create_client_token() -> Any:
        if not partner_ok(state):
            return denied()
        erp_id = str((request.get_json(silent=True) or {}).get("erpId") or "")
        with state.lock:
            found = state.clients.get(erp_id)
            if found is None:
                return invalid("request.ErpId", f"No client company is registered with ErpId '{erp_id}'.")
            token = secrets.token_urlsafe(24)
            found.tokens.add(token)
            state.client_tokens_created += 1
        return jsonify({"token": token})

    @app.post("/v1/api/clientTokens/revoke")
    def revoke_client_token() -> Any:
        if not partner_ok(state):
            return denied()
        token = str((request.get_json(silent=True) or {}).get("clientToken") or "")
        with state.lock:
            owner = state.client_of_token(token)
            if owner is not None:
                owner.tokens.discard(token)
                state.client_tokens_revoked += 1
        return "", 204


def _register_documents(app: Flask, state: OperatorState) -> None:
    @app.post("/v1/api/documents")
    def upload_document() -> Any:
        if client(state) is None:
            return denied()
        body = request.get_data()
        if not body:
            return invalid("document", "The document is empty.")
        document_id = str(uuid.uuid4())
        with state.lock:
            state.uploads[document_id] = {"body": body, "content_type": request.content_type or ""}
        response = Response(status=201)
        response.headers["Location"] = f"{request.host_url.rstrip('/')}/v1/api/documents/{document_id}"
        return response

    @app.post("/v1/api/documents/outbound")
    def send_outbound() -> Any:
        owner = client(state)
        if owner is None:
            return denied()
        return _send(state, owner, request.get_json(silent=True) or {})

    @app.post("/v1/api/buyerparties/lookup")
    def buyer_lookup() -> Any:
        if client(state) is None:
            return denied()
        query = request.get_json(silent=True) or {}
        if not query.get("PartyId"):
            return invalid("search.PartyId", "The PartyId field is required.")
        return jsonify(buyer_parties(state, query))


def _register_reads(app: Flask, state: OperatorState) -> None:
    @app.post("/v1/api/invoices/outbound/<document_id>")
    def outbound_by_id(document_id: str) -> Any:
        owner = client(state)
        if owner is None:
            return denied()
        with state.lock:
            document = state.invoices.get(document_id)
            if document is None or document["provider"] != "inexchange" or document["company"] != owner.erp_id:
                return jsonify({"message": "No document was found."}), 404
            return jsonify(inexchange_view(state, document))

    @app.post("/v1/api/invoices/outbound/byerpid/<erp_document_id>")
    def outbound_by_erp_id(erp_document_id: str) -> Any:
        owner = client(state)
        if owner is None:
            return denied()
        with state.lock:
            mine = [d for d in state.invoices.values() if d["provider"] == "inexchange"
                    and d["company"] == owner.erp_id and d["client_id"] == erp_document_id]
            if not mine:
                return jsonify({"message": "No document was found."}), 404
            return jsonify(inexchange_view(state, mine[0]))

    @app.post("/v1/api/documents/outbound/list")
    def outbound_list() -> Any:
        owner = client(state)
        if owner is None:
            return denied()
        body = request.get_json(silent=True) or {}
        skip, take = int(body.get("skip") or 0), int(body.get("take") or 100)
        with state.lock:
            mine = [d for d in state.invoices.values() if d["provider"] == "inexchange" and d["company"] == owner.erp_id]
            state.rng.shuffle(mine)  # no documented order
            page = [inexchange_view(state, d) for d in mine[skip : skip + take]]
        return jsonify({"documents": page, "totalCount": len(mine)})


def _send(state: OperatorState, owner: InExchangeClient, body: dict[str, Any]) -> Any:
    send_as, document = body.get("SendDocumentAs") or {}, body.get("Document") or {}
    erp_document_id = str(document.get("ErpDocumentId") or "")
    if not erp_document_id:
        return invalid("document.ErpDocumentId", "The ErpDocumentId field is required.")
    with state.lock:
        file = _uploaded(state, document.get("DocumentUri"))
        if file is None:
            return invalid("document.DocumentUri", "The DocumentUri does not refer to an uploaded document.")
        rendered = document.get("RenderedDocumentUri")
        if rendered and _uploaded(state, rendered) is None:
            return invalid("document.RenderedDocumentUri", "The RenderedDocumentUri does not refer to an upload.")
        try:
            parsed = read_invoice_file(file["body"])
        except UnreadableFile as exc:
            return invalid("document", str(exc))
        repeated = any(d["provider"] == "inexchange" and d["company"] == owner.erp_id
                       and d["client_id"] == erp_document_id for d in state.invoices.values())
        if repeated and state.behaviour.inexchange_duplicate_erp_id == "refuse":
            return invalid("document.ErpDocumentId", f"A document with ErpDocumentId '{erp_document_id}' exists.")
        route = _destination(state, owner, send_as)
        if isinstance(route, tuple):
            return route  # the error answer
        destination, recipient = route["destination"], route["recipient"]
        document_id = str(uuid.uuid4())
        stored = new_document(state, provider="inexchange", company=owner.erp_id, document_id=document_id,
                              client_id=erp_document_id, file=parsed, destination=destination, fail_message=None)
        stored.update(format=str(document.get("DocumentFormat") or ""), recipient=recipient,
                      print_image=("own" if rendered else "operator_template") if destination == "PRINT" else None)
        state.invoices[document_id] = stored
    if state.conflict_after_accept():
        return invalid("document.ErpDocumentId", f"A document with ErpDocumentId '{erp_document_id}' exists.", 409)
    if state.roll(state.faults.accept_then_timeout_rate):
        state.count("accept_then_timeout")
        time.sleep(state.faults.hang_seconds)  # stored, but the client times out before the answer
    response = Response(status=201)
    response.headers["Location"] = f"{request.host_url.rstrip('/')}/v1/api/documents/outbound/{document_id}"
    return response


def _destination(state: OperatorState, owner: InExchangeClient, send_as: dict[str, Any]) -> Any:
    """{destination, recipient}, or an error answer (a tuple)."""
    kind = send_as.get("Type")
    if kind == "Electronic":
        recipient_id = str((send_as.get("Electronic") or {}).get("RecipientId") or "")
        receiver = next((r for r in state.receivers if r["id"] == recipient_id), None)
        if receiver is None or not receiver.get("receives_einvoice", True):
            return invalid("document.SendDocumentAs.Electronic.RecipientId", "Unknown or non-receiving RecipientId.")
        return {"destination": "EINVOICE",
                "recipient": {"eia": recipient_id, "operator": "INEXCHANGE", "name": receiver["name"]}}
    if kind == "Paper":
        if not owner.paper:
            return invalid("document.SendDocumentAs.Type", "The paper service is not active for the company.")
        address = (send_as.get("Paper") or {}).get("RecipientAddress") or {}
        missing = [f for f in ("Name", "StreetName", "PostalZone", "City") if not str(address.get(f) or "").strip()]
        if missing:
            return invalid("document.SendDocumentAs.Paper.RecipientAddress", f"Missing: {', '.join(missing)}.")
        return {"destination": "PRINT", "recipient": {"eia": None, "operator": None, "name": address.get("Name")}}
    return invalid("document.SendDocumentAs.Type", f"The Type '{kind}' is not supported here.")


def _uploaded(state: OperatorState, uri: Any) -> dict[str, Any] | None:
    document_id = str(uri or "").rstrip("/").rsplit("/", 1)[-1]
    return state.uploads.get(document_id)


def inexchange_view(state: OperatorState, document: dict[str, Any]) -> dict[str, Any]:
    advance(state, document)
    failed = document["status"] == "FAILED"
    return {
        "id": document["id"], "documentType": "Invoice", "erpDocumentId": document["client_id"],
        "currentStatus": {"status": _STATUS[document["status"]], "time": now_iso()},
        "error": {"message": document["_fail_message"], "status": "Error"} if failed else None,
        "createdAt": document["created_at"],
    }


def buyer_parties(state: OperatorState, query: dict[str, Any]) -> dict[str, Any]:
    """Exact hits on the identifiers asked for; otherwise look-alikes (same name, or the same first six
    digits of the organisation number) as potential matches, `exactHit: false`."""
    org = org_digits(query.get("orgNo")) or org_digits(query.get("vatNo"))
    gln = str(query.get("gln") or "") or None
    exact = [r for r in state.receivers if (org and r.get("org_number") == org) or (gln and r.get("gln") == gln)]
    if exact:
        return {"parties": [_party(r) for r in exact], "potentialMatches": 0, "exactHit": True}
    name = str(query.get("name") or "").strip().lower()
    alike = [r for r in state.receivers
             if (name and r["name"].lower() == name) or (org and (r.get("org_number") or "")[:6] == org[:6])]
    return {"parties": [_party(r) for r in alike], "potentialMatches": len(alike), "exactHit": False}


def _party(receiver: dict[str, Any]) -> dict[str, Any]:
    org = receiver.get("org_number")
    return {
        "companyId": receiver["id"], "name": receiver["name"],
        "orgNo": f"{org[:6]}-{org[6:]}" if org else None, "vatNo": f"SE{org}01" if org else None,
        "gln": receiver.get("gln"), "peppolParticipantIdentifiers": receiver["eias"],
        "receiveElectronicInvoiceCapability": RECEIVING if receiver.get("receives_einvoice", True) else NOT_RECEIVING,
        "sendsElectronicOrderCapability": "NotSendingElectronicOrders", "connected": False,
    }
