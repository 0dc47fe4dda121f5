"""One function per Lambda: build the adapters (through `wiring`) and call the domain.

Handlers in `functions/*/app.py` parse their event into a model and call exactly one of these.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from . import wiring
from .observability import logger

if TYPE_CHECKING:  # the queue functions' handlers import the messages; the scheduled ones need none
    from .backoff import BatchWork
    from .messages import DispatchRequest, RenderRecord, RenderRequest, SyncRequest
    from .render.service import RenderServices


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
        integrations.list(), now, timedelta(hours=wiring.operations().stale_sync_hours)
    )
    return planned


class _RenderBatch:
    """The render of one SQS batch (`render_batch`): a record handler with the batch's hand-offs."""

    def __init__(self, services: RenderServices) -> None:
        from .hand_offs import BatchHandOffs

        self._services = services
        self._hand_offs = BatchHandOffs(services.dispatch_queue)

    def __call__(self, record: RenderRecord) -> str:
        from .render.service import render_invoice

        services = replace(self._services, dispatch_queue=self._hand_offs.queue_for(record.messageId))
        return render_invoice(record.body.invoice_id, record.body.version, services).status

    def finish(self) -> Mapping[str, BaseException]:
        return self._hand_offs.send()


def render_batch(requests: Iterable[RenderRequest] = ()) -> BatchWork:
    """The render of one SQS batch (one invocation) of `requests`: their invoices read in one request
    (batch_invoices.py), each issuer and its logo once (batch_issuers.py); the dispatch messages of its
    records sent together at its end, ten a request, and a record whose message the queue did not take
    failed then, to come again (hand_offs.py)."""
    from .batch_invoices import BatchKeys

    return _RenderBatch(wiring.render_services().for_batch(BatchKeys.of(requests)))


def dispatch_batch(requests: Iterable[DispatchRequest] = ()) -> Callable[[DispatchRequest], str | None]:
    """The dispatch of one SQS batch (one invocation) of `requests`: their invoices read in one request
    (batch_invoices.py), each issuer (batch_issuers.py) and each integration (the fresh look's status
    check) once for the batch. Returns the delivery's state, or None when there was nothing to do now.

    The delivery ledger is the only guard (dispatch/service.py), its intent a lease. A duplicate message
    that arrives while the original run is still inside the operator's or SES's call finds the intent
    `sending` under a live lease and goes back to the queue (`DispatchInProgress`), instead of taking the
    open call for a crashed one and reconciling it (an e-mail in flight failed as `outcome_unknown`, an
    e-invoice sent again while the first call is open). Powertools idempotency caught that before, at two
    writes per dispatch in a table of its own (issue 15); the lease costs no request."""
    from .batch_invoices import BatchKeys
    from .dispatch import dispatch_invoice

    services = wiring.dispatch_services().for_batch(BatchKeys.of(requests))

    def dispatch(request: DispatchRequest) -> str | None:
        delivery = dispatch_invoice(request.invoice_id, request.version, services)
        return delivery.state.value if delivery is not None else None

    return dispatch


def dispatch(request: DispatchRequest) -> str | None:
    """One dispatch message on its own: a batch of one (`dispatch_batch`)."""
    return dispatch_batch([request])(request)


def track_deliveries() -> dict[str, int]:
    from .dispatch import track_deliveries as track

    counts: Counter[str] = track(wiring.tracking_services())
    logger.info("deliveries tracked", extra=dict(counts))
    return dict(counts)


def sweep_stuck() -> dict[str, int]:
    """Scheduler tick: hand on invoices whose send delay is over (sending.py), hand on again (or fail
    with a notice) invoices stuck in a step (stuck.py), and send the parked notices that did not go out
    (fetch/parked_notices.py)."""
    from datetime import timedelta

    from .fetch.parked_notices import send_waiting_parked_notices
    from .sending import release_due_invoices
    from .stuck import sweep_stuck_invoices

    settings = wiring.operations()
    services = wiring.sweep_services()
    due = release_due_invoices(invoices=services.invoices, dispatch_queue=services.dispatch_queue, now=_now())
    result = sweep_stuck_invoices(
        services,
        now=_now(),
        stuck_after=timedelta(minutes=settings.stuck_after_minutes),
        give_up_after=timedelta(hours=settings.stuck_give_up_hours),
    )
    notices = send_waiting_parked_notices(wiring.decision_store(), services.issuers, wiring.notify_parked, now=_now())
    return {
        **result.as_dict(), **notices.as_dict(), "due_after_delay": due.due, "handed_on_after_delay": due.handed_on
    }


def sync(request: SyncRequest) -> object:
    """Fetch one integration's invoices. Retryable errors propagate (the message comes back);
    an integration that needs the office's action is already marked and alerted, so it is not retried."""
    from .alerts import notify_integration_stopped
    from .consent.refresher import NotConnected, TokenBroker
    from .fetch.sync import IntegrationFailed, IntegrationNeedsReconsent, sync_integration
    from .ports import DecryptionFailed

    integrations = wiring.integration_repository()
    try:
        return sync_integration(
            request.integration_id, wiring.sync_services(),
            overlap_seconds=wiring.spiris_settings().sync_overlap_seconds, issuer_id=request.issuer_id,
        )
    except NotConnected:
        return None  # the token broker has marked the integration and alerted
    except DecryptionFailed:
        # The stored grant cannot be read (a bad restore, a moved item): only a new consent helps.
        TokenBroker(wiring.consent_services()).mark_needs_reconsent(integrations.get(request.integration_id), "token_unreadable")
        return None
    except IntegrationNeedsReconsent:
        TokenBroker(wiring.consent_services()).alert_needs_reconsent(integrations.get(request.integration_id))
        return None
    except IntegrationFailed as exc:
        office = wiring.office()
        stopped = integrations.get(request.integration_id)
        notify_integration_stopped(
            stopped,
            wiring.issuer_repository().get(stopped.issuer_id),
            error_code=exc.code,
            mailer=wiring.mailer(),
            office_name=office.office_name,
            office_email=office.office_email,
        )
        return None


def ses_notification(message: str) -> str:
    """One SES event notification (the SNS message: SES notification JSON) applied to its e-mail delivery."""
    import json

    from .dispatch.ses_events import apply_ses_notification

    outcome = apply_ses_notification(json.loads(message), wiring.ses_event_services())
    logger.info("SES notification applied", extra={"outcome": outcome})
    return outcome
