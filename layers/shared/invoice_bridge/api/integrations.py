"""Admin routes for integrations: order one (e-mails the consent link), read, re-invite, enable/disable, revoke."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body
from pydantic import BaseModel, EmailStr, Field, SerializerFunctionWrapHandler, model_serializer

from .. import wiring
from ..consent.flow import ConsentFlow, Invitation
from ..dispatch.policy import deliverability_problems
from ..integrations import update_integration
from ..models.common import Language, utcnow
from ..models.integration import Integration, IntegrationStatus
from ..observability import logger
from .errors import ApiError, documented
from .inputs import StrictInput

router = Router()


class IntegrationOrder(StrictInput):
    source: Literal["spiris"] = "spiris"
    contact_name: str = Field(min_length=1, max_length=200)
    contact_email: EmailStr
    language: Language | None = None


class IntegrationPatch(StrictInput):
    enabled: bool


class CompanyOut(BaseModel):
    name: str
    org_number: str
    company_identifier: str | None = None
    customer_id: str | None = None


class IntegrationOut(BaseModel):
    """An integration as the API shows it; `company`, `last_sync_at`, `last_error` only when known."""

    id: str
    issuer_id: str
    source: str
    status: IntegrationStatus
    enabled: bool
    contact_name: str
    contact_email: str
    language: Language
    company: CompanyOut | None = None
    last_sync_at: str | None = Field(default=None, description="ISO 8601 timestamp (UTC)")
    last_error: str | None = None

    @model_serializer(mode="wrap")
    def _leave_out_unknowns(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Absent, not null, when unknown (contract.md: `company?`, `last_sync_at?`, `last_error?`).
        body: dict[str, Any] = handler(self)
        for optional in ("company", "last_sync_at", "last_error"):
            if body.get(optional) is None:
                body.pop(optional, None)
        if isinstance(body.get("company"), dict):
            body["company"] = {k: v for k, v in body["company"].items() if v is not None}
        return body


class IntegrationOrdered(BaseModel):
    id: str
    status: IntegrationStatus
    consent_url: str


class ConsentLink(BaseModel):
    consent_url: str


def integration_view(integration: Integration) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": integration.id,
        "issuer_id": integration.issuer_id,
        "source": integration.source,
        "status": integration.status.value,
        "enabled": integration.enabled,
        "contact_name": integration.contact_name,
        "contact_email": str(integration.contact_email),
        "language": integration.language,
    }
    if integration.company is not None:
        body["company"] = integration.company.model_dump(mode="json", exclude_none=True)
    if integration.last_sync_at is not None:
        body["last_sync_at"] = integration.last_sync_at.isoformat()
    if integration.last_error is not None:
        body["last_error"] = integration.last_error
    return body


def _json(status: int, body: Any) -> Response[Any]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


@router.post(
    "/issuers/<issuer_id>/integrations",
    summary="Order an integration: the contact is e-mailed a link",
    responses=documented(201, "The integration, pending the contact's consent", 404),
)
def order_integration(issuer_id: str, body: Annotated[IntegrationOrder, Body()]) -> Response[IntegrationOrdered]:
    services = wiring.consent_services()
    issuer = services.issuers.get(issuer_id)
    invitation = ConsentFlow(services).order_integration(
        issuer, body.contact_name, str(body.contact_email), body.language
    )
    integration = invitation.integration
    return _json(
        201, {"id": integration.id, "status": integration.status.value, "consent_url": invitation.consent_url}
    )


@router.get(
    "/integrations/<integration_id>", summary="Read an integration", responses=documented(200, "The integration", 404)
)
def get_integration(integration_id: str) -> Response[IntegrationOut]:
    return _json(200, integration_view(wiring.consent_services().integrations.get(integration_id)))


# --- the rules, shared by the admin API and the console (both call these in-process) -------------


def reinvite_integration(integration_id: str) -> Invitation:
    """A fresh consent link, e-mailed to the contact; older links stop working (NotFound; 409 revoked)."""
    services = wiring.consent_services()
    integration = services.integrations.get(integration_id)
    if integration.status == IntegrationStatus.REVOKED:
        # The link would only lead to "expired": the grant is gone and the integration stays revoked.
        raise ApiError(409, "revoked", "a revoked integration cannot be re-invited; order a new one")
    return ConsentFlow(services).reinvite(integration)


def switch_integration(integration_id: str, enabled: bool) -> Integration:
    """Enable or pause; enabling is refused while the issuer's settings cannot deliver (409)."""
    services = wiring.consent_services()
    integration = services.integrations.get(integration_id)
    if integration.status == IntegrationStatus.REVOKED and enabled:
        raise ApiError(409, "revoked", "a revoked integration cannot be enabled; order a new one")
    if enabled:
        # Refused while the issuer's settings cannot deliver: invoices would only pile up as failures.
        issuer = services.issuers.get(integration.issuer_id)
        has_operator = bool(services.operator_credentials and services.operator_credentials.load(issuer.id))
        problems = deliverability_problems(issuer, has_operator=has_operator)
        if problems:
            raise ApiError(
                409,
                "cannot_deliver",
                "the issuer's dispatch settings cannot deliver invoices; fix them before enabling",
                problems,
            )

    def switched(current: Integration) -> Integration:
        # Applied to the integration as stored at the write: a concurrent revoke or status change stands.
        if current.status == IntegrationStatus.REVOKED and enabled:
            raise ApiError(409, "revoked", "a revoked integration cannot be enabled; order a new one")
        status = current.status
        if not enabled and status == IntegrationStatus.ACTIVE:
            status = IntegrationStatus.PAUSED
        elif enabled and status == IntegrationStatus.PAUSED:
            status = IntegrationStatus.ACTIVE
        return current.model_copy(update={"enabled": enabled, "status": status, "updated_at": utcnow()})

    updated = update_integration(services.integrations, integration_id, switched)  # ConflictError → 409
    logger.info("integration switched", extra={"integration_id": integration_id, "enabled": enabled})
    return updated


def revoke_integration(integration_id: str) -> None:
    """Revoke the grant at Spiris and forget the tokens (NotFound)."""
    services = wiring.consent_services()
    ConsentFlow(services).revoke(services.integrations.get(integration_id))


# --- routes --------------------------------------------------------------------------------------


@router.post(
    "/integrations/<integration_id>/invite",
    summary="A fresh consent link, e-mailed again; older links stop working",
    responses=documented(200, "The new consent link", 404, 409),
)
def reinvite(integration_id: str) -> Response[ConsentLink]:
    return _json(200, {"consent_url": reinvite_integration(integration_id).consent_url})


@router.patch(
    "/integrations/<integration_id>",
    summary="Enable or disable (pause) an integration",
    responses=documented(200, "The updated integration", 404, 409),
)
def patch_integration(integration_id: str, body: Annotated[IntegrationPatch, Body()]) -> Response[IntegrationOut]:
    return _json(200, integration_view(switch_integration(integration_id, body.enabled)))


@router.delete(
    "/integrations/<integration_id>",
    summary="Revoke at Spiris and forget the tokens",
    responses=documented(204, "Revoked", 404, content={}),
)
def delete_integration(integration_id: str) -> Response[None]:
    revoke_integration(integration_id)
    return Response(status_code=204)
