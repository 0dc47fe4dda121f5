"""Issuers: list and search, create and edit, logo, operator credentials, and ordering an integration.

Every change goes through the admin API's own functions (api/issuers.py, api/integrations.py) with its
own request models, so the console checks exactly what the API checks.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from pydantic import ValidationError

from ... import wiring
from ...api.errors import ApiError
from ...api.integrations import IntegrationOrder
from ...api.issuers import (
    InExchangeCredentials,
    MaventaCredentials,
    create_issuer,
    store_logo,
    store_operator_credentials,
    update_issuer,
)
from ...consent.flow import ConsentFlow
from ...models.issuer import Issuer
from ..app import ADMIN, STAFF, ctx_of
from ..pages import Ctx
from .forms import field_errors, issuer_create, issuer_patch, later_settings, later_text_fields

router = Router()
PAGE_SIZE = 25


def _matches(issuer: Issuer, query: str) -> bool:
    digits = "".join(ch for ch in query if ch.isdigit())
    return query.lower() in issuer.name.lower() or bool(digits and digits in issuer.org_number)


@router.get("/console/issuers", middlewares=[STAFF])
def list_issuers() -> Response[str]:
    ctx = ctx_of(router)
    query = ctx.request.arg("q")
    everyone = sorted(wiring.consent_services().issuers.list(), key=lambda i: i.name.lower())
    found = [i for i in everyone if _matches(i, query)] if query else everyone
    asked = ctx.request.arg("page")
    page = int(asked) if asked.isdigit() and int(asked) > 0 else 1
    shown = found[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    return ctx.render(
        "issuers.html", issuers=shown, query=query, page=page, any_issuers=bool(everyone),
        has_next=len(found) > page * PAGE_SIZE,
    )


def _form_page(ctx: Ctx, issuer: Issuer | None, values: dict[str, Any], errors: dict[str, str], status: int = 200) -> Response[str]:
    return ctx.render(
        "issuer_form.html", status, issuer=issuer, values=values, errors=errors, later_settings=later_settings(),
        later_text_fields=later_text_fields(),
    )


def _issuer_defaults(issuer: Issuer | None) -> dict[str, Any]:
    if issuer is None:
        return {"language": "sv", "payee": "issuer", "f_skatt": True, "hold_first_sync": True, "country": "SE",
                "archive_source_pdf": False, "attach_pdf": True, "email_fallback": True, "print_fallback": True}
    values = issuer.model_dump(mode="json")
    values.update(values.pop("address"))
    values.update(values.pop("dispatch"))
    return {k: ("" if v is None else v) for k, v in values.items()}


def _submitted(ctx: Ctx) -> dict[str, Any]:
    form = ctx.request.form()
    values: dict[str, Any] = {name: form.get(name) for name in form.fields}
    for flag in ("f_skatt", "hold_first_sync", "archive_source_pdf", "attach_pdf", "email_fallback", "print_fallback"):
        values[flag] = form.flag(flag)
    return values


@router.get("/console/issuers/new", middlewares=[ADMIN])
def new_issuer() -> Response[str]:
    return _form_page(ctx_of(router), None, _issuer_defaults(None), {})


@router.post("/console/issuers", middlewares=[ADMIN])
def post_issuer() -> Response[str]:
    ctx = ctx_of(router)
    try:
        issuer = create_issuer(issuer_create(ctx.request.form()))
    except (ValidationError, ApiError) as exc:
        return _form_page(ctx, None, _submitted(ctx), field_errors(exc), 422)
    ctx.say("ok", "issuer_created", name=issuer.name)
    return ctx.go(f"/console/issuers/{issuer.id}")


def _issuer_page(
    ctx: Ctx, issuer: Issuer, status: int = 200, order_values: dict[str, str] | None = None,
    order_errors: dict[str, str] | None = None,
) -> Response[str]:
    services = wiring.consent_services()
    logo_url = services.documents.presign(issuer.logo_key) if issuer.logo_key and services.documents else None
    return ctx.render(
        "issuer.html",
        status,
        embeds=[logo_url],
        issuer=issuer,
        logo_url=logo_url,
        integrations=services.integrations.list(issuer.id),
        order_values=order_values or {"contact_name": "", "contact_email": ""},
        order_errors=order_errors or {},
        later_settings=later_settings(),
    )


@router.get("/console/issuers/<issuer_id>", middlewares=[STAFF])
def show_issuer(issuer_id: str) -> Response[str]:
    return _issuer_page(ctx_of(router), wiring.consent_services().issuers.get(issuer_id))


@router.get("/console/issuers/<issuer_id>/edit", middlewares=[ADMIN])
def edit_issuer(issuer_id: str) -> Response[str]:
    ctx = ctx_of(router)
    issuer = wiring.consent_services().issuers.get(issuer_id)
    return _form_page(ctx, issuer, _issuer_defaults(issuer), {})


@router.post("/console/issuers/<issuer_id>", middlewares=[ADMIN])
def post_issuer_changes(issuer_id: str) -> Response[str]:
    ctx = ctx_of(router)
    issuer = wiring.consent_services().issuers.get(issuer_id)
    try:
        update_issuer(issuer_id, issuer_patch(ctx.request.form()))
    except (ValidationError, ApiError) as exc:
        return _form_page(ctx, issuer, _submitted(ctx), field_errors(exc), 422)
    ctx.say("ok", "issuer_saved")
    return ctx.go(f"/console/issuers/{issuer_id}")


@router.post("/console/issuers/<issuer_id>/logo", middlewares=[ADMIN])
def post_logo(issuer_id: str) -> Response[str]:
    ctx = ctx_of(router)
    upload = ctx.request.form().files.get("logo")
    if upload is None:
        ctx.say("error", "logo_missing_file")
    else:
        try:
            store_logo(issuer_id, upload.content_type, upload.data)
        except ApiError as exc:
            ctx.say("error", "action_refused", message=exc.message)
        else:
            ctx.say("ok", "logo_saved")
    return ctx.go(f"/console/issuers/{issuer_id}")


@router.post("/console/issuers/<issuer_id>/operator", middlewares=[ADMIN])
def post_operator(issuer_id: str) -> Response[str]:
    ctx = ctx_of(router)
    form = ctx.request.form()
    try:
        if form.get("provider") == "inexchange":
            credentials: MaventaCredentials | InExchangeCredentials = InExchangeCredentials(
                provider="inexchange", client_token=form.get("client_token") or None
            )
        else:
            credentials = MaventaCredentials(
                provider="maventa", company_uuid=form.get("company_uuid"), api_key=form.get("api_key")
            )
        store_operator_credentials(issuer_id, credentials)
    except (ValidationError, ApiError) as exc:
        ctx.say("error", "action_refused", message="; ".join(f"{k}: {v}" for k, v in field_errors(exc).items()))
    else:
        ctx.say("ok", "operator_saved")
    return ctx.go(f"/console/issuers/{issuer_id}")


@router.post("/console/issuers/<issuer_id>/integrations", middlewares=[ADMIN])
def order_integration(issuer_id: str) -> Response[str]:
    ctx = ctx_of(router)
    form = ctx.request.form()
    services = wiring.consent_services()
    issuer = services.issuers.get(issuer_id)
    try:
        order = IntegrationOrder(contact_name=form.get("contact_name"), contact_email=form.get("contact_email"))
    except ValidationError as exc:
        values = {"contact_name": form.get("contact_name"), "contact_email": form.get("contact_email")}
        return _issuer_page(ctx, issuer, 422, values, field_errors(exc))
    invitation = ConsentFlow(services).order_integration(issuer, order.contact_name, str(order.contact_email), None)
    ctx.say("link", "ordered", link=invitation.consent_url, email=str(order.contact_email))
    return ctx.go(f"/console/integrations/{invitation.integration.id}")
