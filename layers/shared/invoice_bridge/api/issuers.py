"""Admin routes for issuers: create, read, update, logo upload and operator credentials (contract.md §3)."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body
from pydantic import BaseModel, Field

from .. import wiring
from ..dispatch.accounts import AccountSetupError, OperatorAccounts, print_warnings
from ..identifiers import (
    InvalidIdentifier,
    normalize_bic,
    normalize_org_number,
    normalize_vat_number,
    vat_number_from_org_number,
)
from ..models.common import Language, utcnow
from ..models.issuer import (
    Address,
    DispatchSettings,
    Issuer,
    IssuerDetails,
    OperatorPrint,
    Payee,
    SendingMode,
)
from ..observability import logger
from ..ports import OperatorError, OperatorUnavailable
from .errors import ApiError, documented
from .inputs import StrictInput, patch_of

router = Router()

MAX_LOGO_BYTES = 1024 * 1024
_LOGO_MAGIC = {"image/png": (b"\x89PNG\r\n\x1a\n",), "image/jpeg": (b"\xff\xd8\xff",)}




# POST /issuers: exactly what the office states about an issuer (no docstring: the schema stays as it was).
class IssuerCreate(IssuerDetails):
    pass


# PATCH /issuers/{id}: any of those details, with the domain's rules; `dispatch` changes only the
# settings it names. mypy cannot follow a base built at import: it sees the strict input model under it.
if TYPE_CHECKING:
    _DispatchPatchBase = StrictInput
else:
    _DispatchPatchBase = patch_of(DispatchSettings)


class DispatchPatch(_DispatchPatchBase):
    pass


if TYPE_CHECKING:
    _IssuerPatchBase = StrictInput
else:
    _IssuerPatchBase = patch_of(IssuerDetails, nested={"dispatch": DispatchPatch})


class IssuerPatch(_IssuerPatchBase):
    pass


class MaventaCredentials(StrictInput):
    provider: Literal["maventa"]
    company_uuid: str = Field(min_length=1, max_length=100)
    api_key: str = Field(min_length=1, max_length=500)


class InExchangeCredentials(StrictInput):
    provider: Literal["inexchange"]
    client_token: str | None = Field(
        default=None,
        min_length=1,
        max_length=2000,
        description="Leave out to have one created from the office's InExchange partner key (erpId: the issuer's id)",
    )


OperatorCredentials = Annotated[MaventaCredentials | InExchangeCredentials, Field(discriminator="provider")]


class IssuerOut(BaseModel):
    """An issuer as the API shows it: the stored issuer without its logo's S3 key, plus `has_logo`."""

    id: str
    name: str
    org_number: str = Field(description="10 digits, no hyphen")
    vat_number: str | None = Field(description="SE + 10 digits + 01")
    address: Address
    notification_email: str
    language: Language
    bankgiro: str | None
    plusgiro: str | None
    iban: str | None
    bic: str | None = None
    f_skatt: bool
    payee: Payee
    dispatch: DispatchSettings
    hold_first_sync: bool
    archive_source_pdf: bool
    sending: SendingMode
    send_delay_hours: int
    logo_content_type: str | None
    operator_provider: Literal["maventa", "inexchange"] | None
    operator_print: OperatorPrint | None = Field(
        default=None, description="The operator's letter service for the account, as last read"
    )
    warnings: list[str] = Field(default_factory=list, description="What the office should know about the set-up")
    created_at: str = Field(description="ISO 8601 timestamp (UTC)")
    updated_at: str = Field(description="ISO 8601 timestamp (UTC)")
    has_logo: bool


class IssuerList(BaseModel):
    items: list[IssuerOut]


_NO_CONTENT: dict[str, Any] = {}  # a 204 has no body
_LOGO_BODY = {
    "requestBody": {
        "required": True,
        "description": f"The logo's bytes, at most {MAX_LOGO_BYTES} bytes",
        "content": {
            media_type: {"schema": {"type": "string", "format": "binary"}} for media_type in _LOGO_MAGIC
        },
    }
}


def normalise_org_number(value: str) -> str:
    """10 digits, no hyphen (identifiers.normalize_org_number); ApiError 422 when it is not valid."""
    try:
        return normalize_org_number(value)
    except InvalidIdentifier:
        raise ApiError(
            422,
            "invalid_org_number",
            "org_number is not a valid Swedish organisation number (10 digits with a correct check digit)",
            [{"loc": ["body", "org_number"], "msg": "invalid organisation number"}],
        ) from None


def normalise_vat_number(value: str, org_number: str) -> str:
    """SE + 10 digits + 01, and it must be the issuer's own org number."""
    try:
        normalized = normalize_vat_number(value)
    except InvalidIdentifier:
        raise ApiError(
            422,
            "invalid_vat_number",
            "vat_number is not a valid Swedish VAT number (SE + organisation number + 01)",
            [{"loc": ["body", "vat_number"], "msg": "invalid VAT number"}],
        ) from None
    if normalized != vat_number_from_org_number(org_number):
        raise ApiError(
            422,
            "vat_number_mismatch",
            "vat_number does not belong to org_number",
            [{"loc": ["body", "vat_number"], "msg": f"expected SE{org_number}01"}],
        )
    return normalized


def normalise_bic(value: str) -> str:
    try:
        return normalize_bic(value)
    except InvalidIdentifier:
        raise ApiError(
            422, "invalid_bic", "bic is not a valid BIC (8 or 11 characters, ISO 9362)",
            [{"loc": ["body", "bic"], "msg": "invalid BIC"}],
        ) from None


def issuer_view(issuer: Issuer) -> dict[str, Any]:
    body = issuer.model_dump(mode="json", exclude={"logo_key"})
    body["has_logo"] = issuer.logo_key is not None
    body["warnings"] = print_warnings(issuer)
    return body


def _json(status: int, body: Any) -> Response[Any]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


# --- the rules, shared by the admin API and the console (both call these in-process) -------------


def create_issuer(body: IssuerCreate) -> Issuer:
    """Check and store a new issuer (ApiError 422 for a bad org/VAT number)."""
    org_number = normalise_org_number(body.org_number)
    values = body.model_dump()
    values["org_number"] = org_number
    values["vat_number"] = normalise_vat_number(body.vat_number, org_number) if body.vat_number else None
    values["bic"] = normalise_bic(body.bic) if body.bic else None
    issuer = Issuer.model_validate(values)
    wiring.consent_services().issuers.put(issuer)
    logger.info("issuer created", extra={"issuer_id": issuer.id})
    return issuer


def update_issuer(issuer_id: str, body: IssuerPatch) -> Issuer:
    """Apply the fields `body` sets (NotFound, ApiError 422)."""
    services = wiring.consent_services()
    issuer = services.issuers.get(issuer_id)
    changes = body.model_dump(exclude_unset=True)
    if changes.get("org_number") is not None:
        changes["org_number"] = normalise_org_number(changes["org_number"])
    org_number = changes.get("org_number") or issuer.org_number
    if changes.get("vat_number"):
        changes["vat_number"] = normalise_vat_number(changes["vat_number"], org_number)
    elif "org_number" in changes and issuer.vat_number and issuer.vat_number[2:12] != org_number:
        raise ApiError(
            422, "vat_number_mismatch", "the stored vat_number does not belong to the new org_number"
        )
    if changes.get("bic"):
        changes["bic"] = normalise_bic(changes["bic"])
    if "dispatch" in changes:
        dispatch = {k: v for k, v in (changes.pop("dispatch") or {}).items() if v is not None}
        changes["dispatch"] = issuer.dispatch.model_copy(update=dispatch)
    for required in ("name", "org_number", "address", "notification_email", "language", "payee", "f_skatt",
                     "hold_first_sync", "archive_source_pdf", "sending", "send_delay_hours"):
        if required in changes and changes[required] is None:
            raise ApiError(422, "invalid_request", f"{required} cannot be null")
    merged = issuer.model_dump()
    merged.update(changes)
    merged["updated_at"] = utcnow()
    updated = Issuer.model_validate(merged)
    services.issuers.put(updated)
    return updated


def store_logo(issuer_id: str, content_type: str, data: bytes) -> None:
    """Check and store the issuer's logo (NotFound; ApiError 400/413/415/503)."""
    services = wiring.consent_services()
    issuer = services.issuers.get(issuer_id)
    if content_type not in _LOGO_MAGIC:
        raise ApiError(415, "unsupported_media_type", "the logo must be sent as image/png or image/jpeg")
    if not data:
        raise ApiError(400, "empty_body", "no logo bytes were sent")
    if len(data) > MAX_LOGO_BYTES:
        raise ApiError(
            413, "logo_too_large", f"the logo is {len(data)} bytes; at most {MAX_LOGO_BYTES} are accepted"
        )
    if not any(data.startswith(magic) for magic in _LOGO_MAGIC[content_type]):
        raise ApiError(
            400, "invalid_image", f"the bytes are not a {content_type.split('/')[1].upper()} image"
        )
    if services.documents is None:
        raise ApiError(503, "unavailable", "no document store configured")
    key = f"{issuer.id}/logo"
    services.documents.put(key, data, content_type)
    services.issuers.put(
        issuer.model_copy(update={"logo_key": key, "logo_content_type": content_type, "updated_at": utcnow()})
    )


def store_operator_credentials(issuer_id: str, body: MaventaCredentials | InExchangeCredentials) -> Issuer:
    """Set up the issuer's operator account: the credentials checked with the operator (an InExchange
    client token created from the partner key when none is given), encrypted and stored, never returned;
    the operator's print settings kept on the issuer. ApiError 422 when the operator refuses, 503 when it
    or the credential store is unavailable; NotFound for an unknown issuer."""
    services = wiring.consent_services()
    issuer = services.issuers.get(issuer_id)
    accounts = _accounts()
    credentials = {k: v for k, v in body.model_dump(exclude={"provider"}).items() if v is not None}
    try:
        checked = accounts.set_up(issuer.id, body.provider, credentials)
    except (AccountSetupError, OperatorError) as exc:
        raise _setup_error(exc) from None
    updated = issuer.model_copy(
        update={"operator_provider": body.provider, "operator_print": checked, "updated_at": utcnow()}
    )
    services.issuers.put(updated)
    logger.info(
        "operator credentials stored",
        extra={"issuer_id": issuer.id, "provider": body.provider, "warnings": print_warnings(updated)},
    )
    return updated


# --- routes --------------------------------------------------------------------------------------


@router.post("/issuers", summary="Create an issuer", responses=documented(201, "The new issuer"))
def post_issuer(body: Annotated[IssuerCreate, Body()]) -> Response[IssuerOut]:
    return _json(201, issuer_view(create_issuer(body)))


@router.get("/issuers", summary="List the issuers", responses=documented(200, "Every issuer"))
def list_issuers() -> Response[IssuerList]:
    return _json(200, {"items": [issuer_view(i) for i in wiring.consent_services().issuers.list()]})


@router.get("/issuers/<issuer_id>", summary="Read an issuer", responses=documented(200, "The issuer", 404))
def get_issuer(issuer_id: str) -> Response[IssuerOut]:
    return _json(200, issuer_view(wiring.consent_services().issuers.get(issuer_id)))


@router.patch(
    "/issuers/<issuer_id>",
    summary="Update an issuer's details and settings (payee, dispatch, sending mode, send delay)",
    responses=documented(200, "The updated issuer", 404),
)
def patch_issuer(issuer_id: str, body: Annotated[IssuerPatch, Body()]) -> Response[IssuerOut]:
    return _json(200, issuer_view(update_issuer(issuer_id, body)))


def _raw_body() -> bytes:
    event = router.current_event
    body = event.body or ""
    if event.is_base64_encoded:
        try:
            return base64.b64decode(body, validate=True)
        except ValueError:
            raise ApiError(400, "invalid_body", "the body is not valid base64") from None
    return body.encode("latin-1", errors="replace") if isinstance(body, str) else bytes(body)


@router.put(
    "/issuers/<issuer_id>/logo",
    summary="Upload the issuer's logo (PNG or JPEG, at most 1 MB)",
    responses=documented(204, "The logo is stored", 400, 404, 413, 415, 503, content=_NO_CONTENT),
    openapi_extensions=_LOGO_BODY,  # the raw body is read from the event, so describe it here
)
def put_logo(issuer_id: str) -> Response[None]:
    wiring.consent_services().issuers.get(issuer_id)  # 404 before anything about the body
    content_type = (router.current_event.headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type not in _LOGO_MAGIC:
        raise ApiError(415, "unsupported_media_type", "the logo must be sent as image/png or image/jpeg")
    store_logo(issuer_id, content_type, _raw_body())
    return Response(status_code=204)


@router.put(
    "/issuers/<issuer_id>/operator",
    summary="Set the issuer's e-invoice operator account (credentials never returned; see GET for warnings)",
    responses=documented(204, "The credentials are stored, encrypted", 404, 422, 503, content=_NO_CONTENT),
)
def put_operator(issuer_id: str, body: Annotated[OperatorCredentials, Body()]) -> Response[None]:
    store_operator_credentials(issuer_id, body)
    return Response(status_code=204)


@router.delete(
    "/issuers/<issuer_id>/operator",
    summary="Remove the issuer's operator account (an InExchange client token is revoked)",
    responses=documented(204, "The account is forgotten", 404, 503, content=_NO_CONTENT),
)
def delete_operator(issuer_id: str) -> Response[None]:
    services = wiring.consent_services()
    issuer = services.issuers.get(issuer_id)
    _accounts().remove(issuer.id)
    services.issuers.put(
        issuer.model_copy(update={"operator_provider": None, "operator_print": None, "updated_at": utcnow()})
    )
    logger.info("operator credentials removed", extra={"issuer_id": issuer.id})
    return Response(status_code=204)


@router.post(
    "/issuers/<issuer_id>/operator/check",
    summary="Read the operator's print settings again (after a change in the operator's portal)",
    responses=documented(200, "The issuer, with the print settings and warnings", 404, 409, 503),
)
def check_operator(issuer_id: str) -> Response[IssuerOut]:
    services = wiring.consent_services()
    issuer = services.issuers.get(issuer_id)
    checked = _accounts().check(issuer.id)
    if checked is None:
        raise ApiError(409, "no_operator", "the issuer has no operator account")
    updated = issuer.model_copy(update={"operator_print": checked, "updated_at": utcnow()})
    services.issuers.put(updated)
    return _json(200, issuer_view(updated))


def _accounts() -> OperatorAccounts:
    accounts = wiring.consent_services().operator_accounts
    if accounts is None:
        raise ApiError(503, "unavailable", "no credential store configured")
    return accounts


def _setup_error(exc: Exception) -> ApiError:
    if isinstance(exc, AccountSetupError):
        return ApiError(422, exc.code, exc.message)
    if isinstance(exc, OperatorUnavailable):
        return ApiError(503, "operator_unavailable", f"the operator did not answer; try again ({exc})")
    return ApiError(422, "operator_refused", f"the operator refused: {exc}")
