"""Control routes (`/_sandbox/...`) that seed companies, users and invoices and inject faults (contract.md §5)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request
from invoice_bridge.identifiers import format_org_number, is_valid_org_number

from .config import SandboxClient
from .jsonutil import json_response, loads
from .state import Company, SandboxState, User, format_utc, new_id

ERROR_MODE_BY_VARIANT = {
    "startup_guide_not_completed": 4003,
    "inactive": 4004,
    "no_invoicing": 4009,
    "licence_not_accepted": 4012,
}


class BadRequest(Exception):
    pass


def control_blueprint(state: SandboxState) -> Blueprint:
    bp = Blueprint("spiris_control", __name__)

    def body() -> Any:
        raw = request.get_data()
        if not raw:
            return {}
        try:
            return loads(raw)
        except ValueError as exc:
            raise BadRequest("body is not JSON") from exc

    @bp.errorhandler(BadRequest)
    def bad_request(exc: BadRequest) -> Response:
        return json_response({"error": str(exc)}, 400)

    def company_or_404(company_id: str) -> Company:
        """By id, or by organisation number written any usual way (`556123-4567`, `5561234567`, `SE…01`)."""
        company = state.companies.get(company_id.lower()) or state.companies.get(company_id)
        if company is None and is_valid_org_number(company_id):
            wanted = format_org_number(company_id)
            company = next((c for c in state.companies.values() if c.corporate_identity_number == wanted), None)
        if company is None:
            raise BadRequest(f"unknown company {company_id}")
        return company

    def apply_company_fields(company: Company, data: dict[str, Any]) -> None:
        if "name" in data:
            company.name = str(data["name"])
        if "corporate_identity_number" in data:
            # Spiris keeps the organisation number in one form (`556123-4567`, reference §2.7), whatever
            # form it was typed in; a number that is not one is refused, as Spiris' own settings page does.
            raw = str(data["corporate_identity_number"])
            if not is_valid_org_number(raw):
                raise BadRequest(f"corporate_identity_number is not a Swedish organisation number: {raw!r}")
            company.corporate_identity_number = format_org_number(raw)
        if isinstance(data.get("modules"), dict) and "api" in data["modules"]:
            company.api_module = bool(data["modules"]["api"])
        if "variant" in data and data["variant"] is not None:
            variant = str(data["variant"]).lower()
            company.variant = variant
            if variant in ERROR_MODE_BY_VARIANT:
                company.error_mode = ERROR_MODE_BY_VARIANT[variant]
            elif variant.isdigit():
                company.error_mode = int(variant)
        if "error_mode" in data:
            company.error_mode = None if data["error_mode"] is None else int(data["error_mode"])
        if isinstance(data.get("settings"), dict):
            company.settings.update(data["settings"])

    @bp.post("/_sandbox/companies")
    def create_company() -> Response:
        data = body()
        if not data.get("name") or not data.get("corporate_identity_number"):
            raise BadRequest("name and corporate_identity_number are required")
        company = Company(id=str(data.get("id") or new_id()).lower(), name="", corporate_identity_number="")
        apply_company_fields(company, data)
        with state.lock:
            state.companies[company.id] = company
        return json_response({"id": company.id}, 201)

    @bp.patch("/_sandbox/companies/<company_id>")
    def update_company(company_id: str) -> Response:
        data = body()
        with state.lock:
            company = company_or_404(company_id)
            apply_company_fields(company, data)
        return json_response({"id": company.id})

    @bp.post("/_sandbox/users")
    def create_user() -> Response:
        data = body()
        email = str(data.get("email", "")).strip().lower()
        if not email or not data.get("password"):
            raise BadRequest("email and password are required")
        companies = [str(c).lower() for c in data.get("companies", [])]
        default = str(data["default_company"]).lower() if data.get("default_company") else None
        with state.lock:
            for company_id in companies:
                company_or_404(company_id)
            existing = state.users.get(email)
            user = User(email=email, password=str(data["password"]), companies=companies, default_company=default,
                        full_access=bool(data.get("full_access", True)))
            if existing is not None:
                user.sub = existing.sub
            state.users[email] = user
        return json_response({"email": email, "sub": user.sub}, 201)

    @bp.post("/_sandbox/clients")
    def create_client() -> Response:
        data = body()
        if not data.get("client_id") or not data.get("client_secret"):
            raise BadRequest("client_id and client_secret are required")
        client = SandboxClient(str(data["client_id"]), str(data["client_secret"]), data.get("redirect_uris"),
                               str(data.get("name", "invoice-bridge")))
        with state.lock:
            state.clients[client.client_id] = client
        return json_response({"client_id": client.client_id}, 201)

    @bp.post("/_sandbox/companies/<company_id>/customers")
    def create_customer(company_id: str) -> Response:
        data = body()
        if not isinstance(data, dict):
            raise BadRequest("a CustomerApi object is required")
        with state.lock:
            company = company_or_404(company_id)
            customer = dict(data)
            customer["Id"] = str(customer.get("Id") or new_id()).lower()
            customer.setdefault("ChangedUtc", format_utc(state.next_modified()))
            customer.setdefault("IsActive", True)
            company.customers[customer["Id"]] = customer
        return json_response({"id": customer["Id"]}, 201)

    def new_invoice(company: Company, data: dict[str, Any]) -> dict[str, Any]:
        invoice = dict(data)
        invoice["Id"] = str(invoice.get("Id") or new_id()).lower()
        stamp = format_utc(state.next_modified())
        invoice["CreatedUtc"] = stamp
        invoice["ModifiedUtc"] = stamp
        if invoice.get("InvoiceNumber") is None:
            invoice["InvoiceNumber"] = 1 + max(
                (int(i.get("InvoiceNumber") or 0) for i in company.invoices.values()), default=1000
            )
        # Booked: a booked invoice always sits on a voucher.
        invoice["VoucherId"] = invoice.get("VoucherId") or new_id()
        invoice["VoucherNumber"] = invoice.get("VoucherNumber") or f"F{invoice['InvoiceNumber']}"
        invoice.setdefault("Rows", [])
        customer = company.customers.get(str(invoice.get("CustomerId") or "").lower())
        if customer is not None:
            invoice.setdefault("CustomerNumber", customer.get("CustomerNumber"))
            invoice.setdefault("CustomerName", customer.get("Name"))
            invoice.setdefault("InvoiceCustomerName", customer.get("Name"))
            invoice.setdefault("CustomerIsPrivatePerson", customer.get("IsPrivatePerson", False))
        return invoice

    @bp.post("/_sandbox/companies/<company_id>/customerinvoices")
    def create_invoices(company_id: str) -> Response:
        """One CustomerInvoiceApi object → {id}; a list of them (bulk seeding) → {ids}."""
        data = body()
        many = isinstance(data, list)
        objects = data if many else [data]
        if not all(isinstance(o, dict) for o in objects):
            raise BadRequest("CustomerInvoiceApi objects are required")
        with state.lock:
            company = company_or_404(company_id)
            ids = []
            for obj in objects:
                invoice = new_invoice(company, obj)
                company.invoices[invoice["Id"]] = invoice
                ids.append(invoice["Id"])
        return json_response({"ids": ids} if many else {"id": ids[0]}, 201)

    @bp.patch("/_sandbox/companies/<company_id>/customerinvoices/<invoice_id>")
    def update_invoice(company_id: str, invoice_id: str) -> Response:
        data = body()
        if not isinstance(data, dict):
            raise BadRequest("an object of fields to change is required")
        with state.lock:
            company = company_or_404(company_id)
            invoice = company.invoices.get(invoice_id.lower())
            if invoice is None:
                return json_response({"error": "unknown invoice"}, 404)
            for key, value in data.items():
                if key not in ("Id", "CreatedUtc", "ModifiedUtc"):
                    invoice[key] = value
            invoice["ModifiedUtc"] = format_utc(state.next_modified())
            return json_response(invoice)

    @bp.post("/_sandbox/companies/<company_id>/customerinvoicedrafts")
    def create_draft(company_id: str) -> Response:
        data = body()
        if not isinstance(data, dict):
            raise BadRequest("a CustomerInvoiceDraftApi object is required")
        with state.lock:
            company = company_or_404(company_id)
            draft = dict(data)
            draft["Id"] = str(draft.get("Id") or new_id()).lower()
            stamp = format_utc(state.next_modified())
            draft.setdefault("CreatedUtc", stamp)
            draft["ModifiedUtc"] = stamp
            draft.setdefault("Rows", [])
            company.drafts[draft["Id"]] = draft
        return json_response({"id": draft["Id"]}, 201)

    @bp.post("/_sandbox/faults")
    def faults() -> Response:
        data = body()
        with state.lock:
            for key in ("rate_429", "rate_5xx", "latency_ms"):
                if key in data:
                    value = float(data[key])
                    if value < 0 or (key != "latency_ms" and value > 1):
                        raise BadRequest(f"{key} out of range")
                    state.faults[key] = value
            if data.get("revoke_all"):
                # "The user changed the password": every grant dies.
                for family in state.families.values():
                    family.revoked = True
            if data.get("expire_access_tokens"):
                # Every access token issued so far is refused (401) before its exp; refresh tokens still work.
                state.rejected_access_tokens |= state.issued_access_tokens
        return Response(b"", status=204)

    @bp.post("/_sandbox/config")
    def reconfigure() -> Response:
        """Switch token and limit behaviour at run time (refresh_token_mode, lifetimes, rate limit)."""
        data = body()
        config = state.config
        with state.lock:
            if "rate_limit_window" in data:
                if data["rate_limit_window"] not in ("sliding", "fixed"):
                    raise BadRequest("rate_limit_window is sliding or fixed")
                config.rate_limit_window = data["rate_limit_window"]
            if "refresh_token_mode" in data:
                if data["refresh_token_mode"] not in ("rotating", "reusable"):
                    raise BadRequest("refresh_token_mode is rotating or reusable")
                config.refresh_token_mode = data["refresh_token_mode"]
            for key in ("access_token_lifetime_seconds", "code_lifetime_seconds", "rate_limit_per_minute",
                        "injected_retry_after_seconds"):
                if key in data:
                    setattr(config, key, int(data[key]))
        return Response(b"", status=204)

    @bp.get("/_sandbox/stats")
    def stats() -> Response:
        with state.lock:
            return json_response({
                "requests": dict(state.requests),
                "max_requests_per_minute": dict(state.max_per_minute),
                "refresh_token_reuse": state.refresh_token_reuse,
            })

    @bp.post("/_sandbox/reset")
    def reset() -> Response:
        state.reset()
        return Response(b"", status=204)

    return bp
