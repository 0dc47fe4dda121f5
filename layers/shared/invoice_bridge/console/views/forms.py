"""From the console's HTML forms to the admin API's own request models, and their errors back to fields.

The console builds exactly the models the admin API validates (IssuerCreate, IssuerPatch, operator
credentials, IntegrationOrder) and calls the same functions, so a form is checked by the same rules.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from ...api.errors import ApiError
from ...api.issuers import IssuerCreate, IssuerPatch
from ..web import Form

ADDRESS_FIELDS = ("street", "postal_code", "city", "country")
TEXT_FIELDS = ("name", "org_number", "vat_number", "notification_email", "bankgiro", "plusgiro", "iban")
DISPATCH_FLAGS = ("attach_pdf", "email_fallback", "print_fallback")


def _optional(value: str) -> str | None:
    return value or None


# Issuer fields other parts of the product add to the API's models (approval mode, send delay, BIC):
# the form shows and sends each once the model has it.
LATER_SETTINGS = ("sending", "send_delay_hours")
LATER_TEXT_FIELDS = ("bic",)


def later_settings(model: type[BaseModel] = IssuerPatch) -> list[str]:
    return [name for name in LATER_SETTINGS if name in model.model_fields]


def later_text_fields(model: type[BaseModel] = IssuerPatch) -> list[str]:
    return [name for name in LATER_TEXT_FIELDS if name in model.model_fields]


def issuer_values(form: Form, model: type[BaseModel]) -> dict[str, Any]:
    """The issuer form's fields in the API's shape (empty optional fields are None)."""
    values: dict[str, Any] = {name: _optional(form.get(name)) for name in (*TEXT_FIELDS, *later_text_fields(model))}
    values["address"] = {name: form.get(name) for name in ADDRESS_FIELDS}
    values["address"]["country"] = (values["address"]["country"] or "SE").upper()
    values["language"] = form.get("language", "sv")
    values["payee"] = form.get("payee", "issuer")
    values["f_skatt"] = form.flag("f_skatt")
    values["hold_first_sync"] = form.flag("hold_first_sync")
    values["archive_source_pdf"] = form.flag("archive_source_pdf")
    values["dispatch"] = {name: form.flag(name) for name in DISPATCH_FLAGS}
    for name in later_settings(model):
        if form.get(name):
            values[name] = form.get(name)
    return values


def issuer_create(form: Form) -> IssuerCreate:
    return IssuerCreate.model_validate(issuer_values(form, IssuerCreate))


def issuer_patch(form: Form) -> IssuerPatch:
    return IssuerPatch.model_validate(issuer_values(form, IssuerPatch))


def field_errors(exc: ValidationError | ApiError) -> dict[str, str]:
    """field name → message, from pydantic's errors or an ApiError's details (`loc` ends in the field)."""
    errors: dict[str, str] = {}
    if isinstance(exc, ValidationError):
        items = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
    else:
        items = [d for d in exc.details if isinstance(d, dict)] or [{"loc": [], "msg": exc.message}]
    for item in items:
        loc = [str(part) for part in item.get("loc", []) if str(part) not in ("body",)]
        name = loc[-1] if loc else "_form"
        errors.setdefault(name, str(item.get("msg", "")).removeprefix("Value error, "))
    if isinstance(exc, ApiError) and "_form" not in errors:
        errors["_form"] = exc.message
    return errors
