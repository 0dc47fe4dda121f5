"""One function per Lambda: build the adapters (through `wiring`) and call the domain.

Handlers in `functions/*/app.py` parse their event into a model and call exactly one of these.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from . import wiring
from .observability import logger

if TYPE_CHECKING:  # the queue functions' handlers import the messages; the scheduled ones need none
    from .messages import DispatchRequest, RenderRequest, SyncRequest


def _now() -> datetime:
    return datetime.now(UTC)


def poll_due_integrations() -> list[str]:
    """Scheduler tick: one sync message per due integration, the stalest first; stale ones alarm."""
    from datetime import timedelta

    from .fetch.schedule import enqueue_due_syncs, report_stale_integrations

    integrations = wiring.integration_repository()
    now = _now()
    planned = enqueue_due_syncs(integrations, wiring.sync_queue(), now)
    report_stale_integrations(
        integrations.list(), now, timedelta(hours=wiring.get_settings().stale_sync_hours)
    )
    return planned


def render(request: RenderRequest) -> str:
    from .dispatch.notify import FailureNotifier
    from .render.service import render_invoice

    outcome = render_invoice(
        request.invoice_id,
        request.version,
        invoices=wiring.invoice_repository(),
        issuers=wiring.issuer_repository(),
        documents=wiring.document_store(),
        dispatch_queue=wiring.dispatch_queue(),
        notifier=FailureNotifier(wiring.mailer()),
    )
    return outcome.status


class _NothingDispatched(Exception):
    """Raised inside the idempotent call when there was nothing to do now (not rendered yet, held, stale),
    so Powertools keeps no record of it: a later message for the same version (render's hand-off after
    all, a release, the sweeper) must run the dispatch, not get this answer back from the store."""


@wiring._cached  # its persistence layer holds a client: forgotten with the other adapters by wiring.reset()
def _idempotent_dispatch():  # type: ignore[no-untyped-def]
    """The dispatch call behind Powertools idempotency, keyed on (invoice, version): a second guard
    in front of the delivery ledger. Built on first use (its persistence layer creates a client).

    What it still catches that the ledger does not (issue 15; it costs two small writes per dispatch): a
    duplicate message that arrives while the original run is still sending. The ledger cannot tell that
    run from a crashed one: it would find the intent `sending` and reconcile, i.e. fail an e-mail in
    flight as `outcome_unknown` (the original's `sent` then loses its conditional write) or send the
    e-invoice again with the same id while the first call is open. The in-progress record sends the
    duplicate back to the queue instead. Completed and failed runs the ledger answers on its own."""
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )

    config = IdempotencyConfig(
        event_key_jmespath='["invoice_id", "version", "retry", "channel"]',
        expires_after_seconds=24 * 3600,
        raise_on_no_idempotency_key=True,
    )
    store = DynamoDBPersistenceLayer(table_name=wiring.get_settings().idempotency_table_name)

    @idempotent_function(data_keyword_argument="request", config=config, persistence_store=store)
    def dispatch_once(request: dict) -> dict:
        from .dispatch import dispatch_invoice
        from .dispatch.fresh_look import SpirisSourceCheck

        delivery = dispatch_invoice(
            request["invoice_id"],
            request["version"],
            invoices=wiring.invoice_repository(),
            issuers=wiring.issuer_repository(),
            ledger=wiring.delivery_ledger(),
            documents=wiring.document_store(),
            operator_for=wiring.operator_for,
            mailer=wiring.mailer(),
            fresh_look=SpirisSourceCheck(wiring.integration_repository(), wiring.spiris_for, office=office_payee()),
            render_queue=wiring.render_queue(),
        )
        if delivery is None:
            raise _NothingDispatched
        return {"state": delivery.state.value}

    return dispatch_once, config


def dispatch(request: DispatchRequest, lambda_context: object | None = None) -> str | None:
    dispatch_once, config = _idempotent_dispatch()
    if lambda_context is not None:
        config.register_lambda_context(lambda_context)
    try:
        return dispatch_once(request=request.model_dump())["state"]  # type: ignore[no-any-return]
    except _NothingDispatched:
        return None


def track_deliveries() -> dict[str, int]:
    from .dispatch import FailureNotifier
    from .dispatch import track_deliveries as track

    counts: Counter[str] = track(
        invoices=wiring.invoice_repository(),
        issuers=wiring.issuer_repository(),
        ledger=wiring.delivery_ledger(),
        operator_for=wiring.operator_for,
        notifier=FailureNotifier(wiring.mailer()),
        dispatch_queue=wiring.dispatch_queue(),
    )
    logger.info("deliveries tracked", extra=dict(counts))
    return dict(counts)


def sweep_stuck() -> dict[str, int]:
    """Scheduler tick: hand on invoices whose send delay is over (sending.py), and hand on again (or fail
    with a notice) invoices stuck in a step (stuck.py)."""
    from datetime import timedelta

    from .dispatch import FailureNotifier
    from .sending import release_due_invoices
    from .stuck import sweep_stuck_invoices

    settings = wiring.get_settings()
    due = release_due_invoices(invoices=wiring.invoice_repository(), dispatch_queue=wiring.dispatch_queue(),
                               now=_now())
    result = sweep_stuck_invoices(
        invoices=wiring.invoice_repository(),
        issuers=wiring.issuer_repository(),
        ledger=wiring.delivery_ledger(),
        render_queue=wiring.render_queue(),
        dispatch_queue=wiring.dispatch_queue(),
        notifier=FailureNotifier(wiring.mailer()),
        now=_now(),
        stuck_after=timedelta(minutes=settings.stuck_after_minutes),
        give_up_after=timedelta(hours=settings.stuck_give_up_hours),
    )
    return {**result.as_dict(), "due_after_delay": due.due, "handed_on_after_delay": due.handed_on}


def office_payee():  # type: ignore[no-untyped-def]
    from .models.issuer import OfficePayee

    settings = wiring.get_settings()
    return OfficePayee(
        name=settings.office_name,
        org_number=settings.office_org_number,
        bankgiro=settings.office_bankgiro,
        ocr_length_digit=settings.office_ocr_length_digit,
    )


def sync(request: SyncRequest) -> object:
    """Fetch one integration's invoices. Retryable errors propagate (the message comes back);
    an integration that needs the office's action is already marked and alerted, so it is not retried."""
    from .adapters.dynamo_budget import dynamo_request_budget
    from .adapters.kms_tokens import DecryptionFailed
    from .adapters.spiris_api import HttpSpirisApi
    from .alerts import notify_integration_stopped, notify_invoice_parked
    from .consent.refresher import AccessTokens, NotConnected, TokenBroker
    from .consent.wiring import consent_services
    from .fetch.sync import IntegrationFailed, IntegrationNeedsReconsent, sync_integration

    settings = wiring.get_settings()
    integrations = wiring.integration_repository()
    integration = integrations.get(request.integration_id)
    budget = dynamo_request_budget(
        settings.table_name, settings.spiris_requests_per_minute, window_seconds=settings.spiris_budget_window_seconds
    )
    access_tokens = AccessTokens(integration)
    spiris = HttpSpirisApi(
        settings.spiris_api_url,
        access_tokens,
        renew_access_token=access_tokens.renew,
        before_request=budget.before_request,
        page_size=settings.spiris_page_size,
        file_origins=tuple(o.strip() for o in settings.spiris_file_origins.split(",") if o.strip()),
        max_file_bytes=settings.spiris_file_max_bytes,
    )
    try:
        return sync_integration(
            integration.id,
            integrations=integrations,
            issuers=wiring.issuer_repository(),
            invoices=wiring.invoice_repository(),
            decisions=wiring.decision_store(),
            spiris=spiris,
            render_queue=wiring.render_queue(),
            documents=wiring.document_store(),
            office=office_payee(),
            overlap_seconds=settings.sync_overlap_seconds,
            notify_parked=lambda issuer, parked: notify_invoice_parked(
                issuer, parked, mailer=wiring.mailer(), office_name=settings.office_name
            ),
        )
    except NotConnected:
        return None  # the token broker has marked the integration and alerted
    except DecryptionFailed:
        # The stored grant cannot be read (a bad restore, a moved item): only a new consent helps.
        TokenBroker(consent_services()).mark_needs_reconsent(integrations.get(integration.id), "token_unreadable")
        return None
    except IntegrationNeedsReconsent:
        TokenBroker(consent_services()).alert_needs_reconsent(integrations.get(integration.id))
        return None
    except IntegrationFailed as exc:
        notify_integration_stopped(
            integrations.get(integration.id),
            wiring.issuer_repository().get(integration.issuer_id),
            error_code=exc.code,
            mailer=wiring.mailer(),
            office_name=settings.office_name,
            office_email=settings.office_email,
        )
        return None


def ses_notification(message: str) -> str:
    """One SES event notification (the SNS message: SES notification JSON) applied to its e-mail delivery."""
    import json

    from .dispatch import FailureNotifier
    from .dispatch.ses_events import apply_ses_notification

    outcome = apply_ses_notification(
        json.loads(message),
        invoices=wiring.invoice_repository(),
        issuers=wiring.issuer_repository(),
        ledger=wiring.delivery_ledger(),
        notifier=FailureNotifier(wiring.mailer()),
    )
    logger.info("SES notification applied", extra={"outcome": outcome})
    return outcome
