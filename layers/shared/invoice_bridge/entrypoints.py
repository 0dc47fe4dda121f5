"""One function per Lambda: build the adapters (through `wiring`) and call the domain.

Handlers in `functions/*/app.py` parse their event into a model and call exactly one of these.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from functools import cache

from . import wiring
from .messages import DispatchRequest, RenderRequest, SyncRequest
from .observability import logger


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
    from .render.service import render_invoice

    outcome = render_invoice(
        request.invoice_id,
        request.version,
        invoices=wiring.invoice_repository(),
        issuers=wiring.issuer_repository(),
        documents=wiring.document_store(),
        dispatch_queue=wiring.dispatch_queue(),
    )
    return outcome.status


@cache
def _idempotent_dispatch():  # type: ignore[no-untyped-def]
    """The dispatch call behind Powertools idempotency, keyed on (invoice, version): a second guard
    in front of the delivery ledger. Built on first use (its persistence layer creates a client)."""
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )

    config = IdempotencyConfig(
        event_key_jmespath='["invoice_id", "version", "retry"]',
        expires_after_seconds=24 * 3600,
        raise_on_no_idempotency_key=True,
    )
    store = DynamoDBPersistenceLayer(table_name=wiring.get_settings().idempotency_table_name)

    @idempotent_function(data_keyword_argument="request", config=config, persistence_store=store)
    def dispatch_once(request: dict) -> dict:
        from .dispatch import dispatch_invoice

        delivery = dispatch_invoice(
            request["invoice_id"],
            request["version"],
            invoices=wiring.invoice_repository(),
            issuers=wiring.issuer_repository(),
            ledger=wiring.delivery_ledger(),
            documents=wiring.document_store(),
            operator_for=wiring.operator_for,
            mailer=wiring.mailer(),
        )
        return {"state": delivery.state.value if delivery else None}

    return dispatch_once, config


def dispatch(request: DispatchRequest, lambda_context: object | None = None) -> str | None:
    dispatch_once, config = _idempotent_dispatch()
    if lambda_context is not None:
        config.register_lambda_context(lambda_context)
    return dispatch_once(request=request.model_dump())["state"]


def track_deliveries() -> dict[str, int]:
    from .dispatch import FailureNotifier
    from .dispatch import track_deliveries as track

    counts: Counter[str] = track(
        invoices=wiring.invoice_repository(),
        issuers=wiring.issuer_repository(),
        ledger=wiring.delivery_ledger(),
        operator_for=wiring.operator_for,
        notifier=FailureNotifier(wiring.mailer()),
    )
    logger.info("deliveries tracked", extra=dict(counts))
    return dict(counts)


def sync(request: SyncRequest) -> None:
    raise NotImplementedError  # wired once the fetch capability lands
