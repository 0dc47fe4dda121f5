"""The eAccounting API v2 surface we use: companysettings, customer invoices (+pdf/print), customers, drafts.

Every /v2 call passes, in order: injected latency, bearer-token check (401), injected faults
(429/5xx), the per-(client, endpoint) minute limit (429 / 4010), company and user modes
(4002/4003/4004/4009/4011/4012), then the scope check (4006).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
from flask import Blueprint, Response, g, request
from invoice_bridge.identifiers import vat_number_from_org_number

from .filters import FilterError, compile_filter
from .jsonutil import json_response
from .pdf import invoice_pdf
from .state import Company, SandboxState, TokenFamily, format_utc, new_id, utc_now

SALES_SCOPES = {"ea:sales", "ea:sales_readonly"}
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000

# Codes a company can be switched into (`error_mode`), with the messages Spiris uses.
COMPANY_ERRORS = {
    4003: "ForbiddenRequestException - The startup guide has not been completed for this company.",
    4004: "ForbiddenRequestException - The company is not active.",
    4005: "UnauthorizedRequestException - Unauthorized request.",
    4007: "ForbiddenRequestException - Permission denied: the user's role does not give access to this endpoint.",
    4009: "ForbiddenRequestException - No access due to product variant.",
    4012: "ForbiddenRequestException - The licence agreement has not been accepted.",
    4034: "NotAllowedWithSandboxClientException - A sandbox client cannot access a production company.",
}
VARIANTS_WITHOUT_INVOICING = {"bookkeeping"}


def error_body(code: int, message: str, status: int, errors: list[dict[str, Any]] | None = None) -> Response:
    return json_response(
        {"ErrorCode": code, "DeveloperErrorMessage": message, "ErrorId": new_id(), "Errors": errors}, status
    )


def template_of(rule: str) -> str:
    """Flask rule `/v2/customerinvoices/<invoice_id>` → stats key `/v2/customerinvoices/{invoice_id}`."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


@dataclass
class ApiCaller:
    family: TokenFamily
    company: Company


def api_blueprint(state: SandboxState) -> Blueprint:
    bp = Blueprint("spiris_api", __name__)
    config = state.config

    def unauthorized() -> Response:
        return Response(b"", status=401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})

    @bp.before_request
    def gate() -> Response | None:
        rule = request.url_rule
        template = template_of(rule.rule) if rule is not None else request.path
        with state.lock:
            faults = dict(state.faults)
        if faults["latency_ms"] > 0:
            time.sleep(faults["latency_ms"] / 1000)
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return unauthorized()
        try:
            claims = jwt.decode(header[7:].strip(), config.jwt_secret, algorithms=["HS256"],
                                options={"verify_aud": False, "require": ["exp", "nbf", "jti"]})
        except jwt.PyJWTError:
            return unauthorized()
        family_id = str(claims["jti"]).split(".")[0]
        with state.lock:
            family = state.families.get(family_id)
            if family is None or family.revoked or claims["jti"] in state.rejected_access_tokens:
                return unauthorized()
            company = state.companies.get(family.company_id)
            user = state.users.get(family.user_email)
            roll = state.random.random()
        if company is None or user is None:
            return unauthorized()
        if roll < faults["rate_429"]:
            return too_many(config.injected_retry_after_seconds)
        if roll < faults["rate_429"] + faults["rate_5xx"]:
            return error_body(5000, "InternalServerError - An unexpected error occurred (injected).", 500)
        wait_seconds = state.admit(family.client_id, template)
        if wait_seconds is not None:
            return too_many(wait_seconds)
        mode = company.error_mode
        if mode is not None and mode in COMPANY_ERRORS:
            return error_body(mode, COMPANY_ERRORS[mode], 403)
        if not company.api_module:
            return error_body(4002, "ForbiddenRequestException - No access to module: api_standard", 403)
        if not user.full_access or company.id not in user.companies:
            return error_body(
                4011,
                "ForbiddenRequestException - The authenticated user does not have access to eAccounting "
                "for this company.",
                403,
            )
        if not SALES_SCOPES & set(family.scopes):
            return error_body(4006, "ForbiddenRequestException - No access to scopes: ea:sales", 403)
        if company.variant in VARIANTS_WITHOUT_INVOICING and "customerinvoice" in template:
            return error_body(4009, COMPANY_ERRORS[4009], 403)
        g.caller = ApiCaller(family=family, company=company)
        return None

    def too_many(seconds: int) -> Response:
        return error_body(
            4010,
            f"API calls quota exceeded! maximum admitted {config.rate_limit_per_minute} per Minute. "
            f"Try again in {seconds} seconds.",
            429,
        )

    def company() -> Company:
        return g.caller.company

    def paged(items: list[dict[str, Any]]) -> Response:
        try:
            page = int(request.args.get("$page", "1"))
            page_size = int(request.args.get("$pagesize", str(DEFAULT_PAGE_SIZE)))
        except ValueError:
            return error_body(6000, "QueryParameterError - $page and $pagesize must be integers.", 400)
        if page < 1 or page_size < 1:
            return error_body(6000, "QueryParameterError - $page and $pagesize must be positive.", 400)
        page_size = min(page_size, MAX_PAGE_SIZE)
        total = len(items)
        pages = (total + page_size - 1) // page_size
        data = items[(page - 1) * page_size: page * page_size]
        meta = {
            "CurrentPage": page,
            "PageSize": page_size,
            "TotalNumberOfPages": pages,
            "TotalNumberOfResults": total,
            "ServerTimeUtc": g.server_time,
        }
        return json_response({"Meta": meta, "Data": data})

    def apply_filter(items: list[dict[str, Any]]) -> list[dict[str, Any]] | Response:
        expression = request.args.get("$filter")
        if not expression:
            return items
        try:
            predicate = compile_filter(expression)
        except FilterError as exc:
            return error_body(6000, f"QueryParameterError - {exc}", 400)
        return [item for item in items if predicate(item)]

    @bp.before_request
    def stamp_server_time() -> None:
        # Taken before the data is read, so it is a safe watermark for the next modifiedSinceUtc.
        g.server_time = format_utc(utc_now())

    @bp.get("/v2/companysettings")
    def company_settings() -> Response:
        c = company()
        with state.lock:
            body = company_settings_body(c)
        return json_response(body)

    @bp.get("/v2/customerinvoices")
    def customer_invoices() -> Response:
        since_raw = request.args.get("modifiedSinceUtc")
        since: datetime | None = None
        if since_raw:
            try:
                since = parse_utc(since_raw)
            except ValueError:
                return error_body(6001, "InvalidInput - modifiedSinceUtc is not a valid date-time.", 400)
        with state.lock:
            items = list(company().invoices.values())
        if since is not None:
            items = [i for i in items if parse_utc(i["ModifiedUtc"]) >= since]
        items.sort(key=lambda i: (parse_utc(i["ModifiedUtc"]), i["Id"]))
        filtered = apply_filter(items)
        if isinstance(filtered, Response):
            return filtered
        return paged(filtered)

    def find_invoice(invoice_id: str) -> dict[str, Any] | None:
        with state.lock:
            return company().invoices.get(invoice_id.lower()) or company().invoices.get(invoice_id)

    def not_found(what: str) -> Response:
        return error_body(3000, f"ResourceNotFoundException - {what} not found.", 404)

    @bp.get("/v2/customerinvoices/<invoice_id>")
    def customer_invoice(invoice_id: str) -> Response:
        invoice = find_invoice(invoice_id)
        return json_response(invoice) if invoice else not_found("CustomerInvoice")

    @bp.get("/v2/customerinvoices/<invoice_id>/pdf")
    def customer_invoice_pdf_url(invoice_id: str) -> Response:
        invoice = find_invoice(invoice_id)
        if invoice is None:
            return not_found("CustomerInvoice")
        file_id = new_id()
        with state.lock:
            state.temp_files[file_id] = (invoice_pdf(invoice), time.time() + config.temp_file_lifetime_seconds)
        return json_response({"Url": f"{request.url_root.rstrip('/')}/temp/fileanonymous/{file_id}"})

    @bp.get("/v2/customerinvoices/<invoice_id>/print")
    def customer_invoice_print(invoice_id: str) -> Response:
        invoice = find_invoice(invoice_id)
        if invoice is None:
            return not_found("CustomerInvoice")
        return Response(invoice_pdf(invoice), mimetype="application/pdf")

    def listed(items: list[dict[str, Any]]) -> Response:
        filtered = apply_filter(items)
        return filtered if isinstance(filtered, Response) else paged(filtered)

    def one_of(store: Callable[[], dict[str, dict[str, Any]]], item_id: str, what: str) -> Response:
        with state.lock:
            found = store().get(item_id.lower()) or store().get(item_id)
        return json_response(found) if found else not_found(what)

    @bp.get("/v2/customers")
    def customers() -> Response:
        with state.lock:
            items = sorted(company().customers.values(), key=lambda c: (str(c.get("CustomerNumber")), c["Id"]))
        return listed(items)

    @bp.get("/v2/customers/<customer_id>")
    def customer(customer_id: str) -> Response:
        return one_of(lambda: company().customers, customer_id, "Customer")

    @bp.get("/v2/customerinvoicedrafts")
    def drafts() -> Response:
        with state.lock:
            items = sorted(company().drafts.values(), key=lambda d: d["Id"])
        return listed(items)

    @bp.get("/v2/customerinvoicedrafts/<draft_id>")
    def draft(draft_id: str) -> Response:
        return one_of(lambda: company().drafts, draft_id, "CustomerInvoiceDraft")

    return bp


def temp_file_blueprint(state: SandboxState) -> Blueprint:
    """The anonymous temporary file host (`eaccountingstorage{cc}.vismaonline.com/temp/fileanonymous/...`)."""
    bp = Blueprint("spiris_temp_files", __name__)

    @bp.get("/temp/fileanonymous/<file_id>")
    def temp_file(file_id: str) -> Response:
        with state.lock:
            entry = state.temp_files.get(file_id)
        if entry is None or entry[1] < time.time():
            return Response(b"", status=404)
        return Response(entry[0], mimetype="application/pdf")

    return bp


def parse_utc(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace(" ", "+"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def company_settings_body(company: Company) -> dict[str, Any]:
    body: dict[str, Any] = {
        "Name": company.name,
        "Email": None,
        "Phone": None,
        "MobilePhone": None,
        "Address1": None,
        "Address2": None,
        "CountryCode": "SE",
        "PostalCode": None,
        "City": None,
        "Website": None,
        "CurrencyCode": "SEK",
        "TermsOfPaymentId": None,
        "CorporateIdentityNumber": company.corporate_identity_number,
        "VatCode": vat_number_from_org_number(company.corporate_identity_number),
        "BankGiro": None,
        "PlusGiro": None,
        "BankAccount": None,
        "Iban": None,
        "Gln": None,
        "ProductVariant": 1,
        "TypeOfBusiness": 1,
        "VatPeriod": 1,
        "ActivatedModules": [],
        "CompanyIdentifier": company.id,
        "PeppolId": None,
        "UsesPaymentReferenceNumber": True,
        "NextCustomerInvoiceNumber": 1 + max(
            (int(i.get("InvoiceNumber") or 0) for i in company.invoices.values()), default=0
        ),
        "CompanyStatus": 1,
        "ShowPricesExclVatPC": False,
    }
    body.update(company.settings)
    return body
