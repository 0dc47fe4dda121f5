"""Integrations: status and what to do next, the consent link, pause/enable, sync now, revoke (after a
confirmation page) and the first fetch's reconciliation list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from ... import wiring
from ...api.errors import ApiError
from ...api.integrations import reinvite_integration, revoke_integration, switch_integration
from ...fetch.schedule import request_sync, stale_integrations
from ...models.integration import Integration, IntegrationStatus
from ..app import ADMIN, STAFF, ctx_of
from ..queries import every_invoice, held_of, next_step_key

router = Router()


def _stale_ids(integrations: list[Integration]) -> set[str]:
    hours = wiring.operations().stale_sync_hours
    return {i.id for i in stale_integrations(integrations, datetime.now(UTC), timedelta(hours=hours))}


@router.get("/console/integrations", middlewares=[STAFF])
def list_integrations() -> Response[str]:
    ctx = ctx_of(router)
    services = wiring.consent_services()
    wanted = ctx.request.arg("status")
    everything = services.integrations.list()
    shown = [i for i in everything if not wanted or i.status.value == wanted]
    shown.sort(key=lambda i: i.updated_at, reverse=True)
    stale = _stale_ids(everything)
    held = every_invoice(wiring.invoice_repository(), status="held")
    return ctx.render(
        "integrations.html",
        integrations=shown,
        any_integrations=bool(everything),
        wanted=wanted,
        statuses=[s.value for s in IntegrationStatus],
        issuers={i.id: i for i in services.issuers.list()},
        next_steps={i.id: next_step_key(i, stale=i.id in stale, held=len(held_of(held, i.id))) for i in shown},
        stale=stale,
    )


@router.get("/console/integrations/<integration_id>", middlewares=[STAFF])
def show_integration(integration_id: str) -> Response[str]:
    ctx = ctx_of(router)
    services = wiring.consent_services()
    integration = services.integrations.get(integration_id)
    held = held_of(every_invoice(wiring.invoice_repository(), status="held", issuer_id=integration.issuer_id),
                   integration_id)
    stale = integration_id in _stale_ids([integration])
    return ctx.render(
        "integration.html",
        integration=integration,
        issuer=services.issuers.get(integration.issuer_id),
        next_step=next_step_key(integration, stale=stale, held=len(held)),
        held_count=len(held),
        stale=stale,
    )


@router.post("/console/integrations/<integration_id>/invite", middlewares=[ADMIN])
def invite(integration_id: str) -> Response[str]:
    ctx = ctx_of(router)
    try:
        invitation = reinvite_integration(integration_id)
    except ApiError as exc:
        ctx.say("error", "action_refused", message=exc.message)
    else:
        ctx.say("link", "link_sent", link=invitation.consent_url, email=str(invitation.integration.contact_email))
    return ctx.go(f"/console/integrations/{integration_id}")


def _switch(integration_id: str, enabled: bool) -> Response[str]:
    ctx = ctx_of(router)
    try:
        switch_integration(integration_id, enabled)
    except ApiError as exc:
        problems = "; ".join(str(p) for p in exc.details)
        ctx.say("error", "action_refused", message=exc.message + (f" ({problems})" if problems else ""))
    else:
        ctx.say("ok", "enabled" if enabled else "paused")
    return ctx.go(f"/console/integrations/{integration_id}")


@router.post("/console/integrations/<integration_id>/pause", middlewares=[ADMIN])
def pause(integration_id: str) -> Response[str]:
    return _switch(integration_id, False)


@router.post("/console/integrations/<integration_id>/enable", middlewares=[ADMIN])
def enable(integration_id: str) -> Response[str]:
    return _switch(integration_id, True)


@router.post("/console/integrations/<integration_id>/sync", middlewares=[ADMIN])
def sync_now(integration_id: str) -> Response[str]:
    ctx = ctx_of(router)
    request_sync(wiring.integration_repository(), wiring.sync_queue(), integration_id)
    ctx.say("ok", "sync_requested")
    return ctx.go(f"/console/integrations/{integration_id}")


@router.get("/console/integrations/<integration_id>/revoke", middlewares=[ADMIN])
def confirm_revoke(integration_id: str) -> Response[str]:
    ctx = ctx_of(router)
    integration = wiring.consent_services().integrations.get(integration_id)
    return ctx.render(
        "revoke.html", integration=integration, issuer=wiring.consent_services().issuers.get(integration.issuer_id)
    )


@router.post("/console/integrations/<integration_id>/revoke", middlewares=[ADMIN])
def revoke(integration_id: str) -> Response[str]:
    ctx = ctx_of(router)
    revoke_integration(integration_id)
    ctx.say("ok", "revoked")
    return ctx.go(f"/console/integrations/{integration_id}")


@router.get("/console/integrations/<integration_id>/reconciliation", middlewares=[STAFF])
def reconciliation(integration_id: str) -> Response[str]:
    ctx = ctx_of(router)
    services = wiring.consent_services()
    integration = services.integrations.get(integration_id)
    decisions = sorted(
        wiring.decision_store().reconciliation(integration_id),
        key=lambda d: (d.invoice_number is None, d.invoice_number or 0),
    )
    repository = wiring.invoice_repository()
    invoices = {d.invoice_id: repository.get(d.invoice_id) for d in decisions if d.invoice_id}
    return ctx.render(
        "reconciliation.html",
        integration=integration,
        issuer=services.issuers.get(integration.issuer_id),
        decisions=decisions,
        invoices=invoices,
        held=[i for i in invoices.values() if i.status.value == "held"],
    )
