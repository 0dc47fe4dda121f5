"""The poll fan-out: one sync message per due integration, the stalest first; and sync health."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aws_lambda_powertools.metrics import MetricUnit

from ..models.integration import Integration, IntegrationStatus
from ..observability import logger, metrics
from ..ports import IntegrationRepository, WorkQueue

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _aware(moment: datetime | None) -> datetime:
    if moment is None:
        return _EPOCH
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def is_syncable(integration: Integration) -> bool:
    return integration.enabled and integration.status == IntegrationStatus.ACTIVE


def plan_syncs(
    integrations: list[Integration], now: datetime, min_interval: timedelta = timedelta(0)
) -> list[str]:
    """Ids of the integrations to sync now: active and enabled, not synced within `min_interval`,
    never-synced first, then the stalest."""
    due = [
        i
        for i in integrations
        if is_syncable(i) and (i.last_sync_at is None or _aware(i.last_sync_at) <= now - min_interval)
    ]
    due.sort(key=lambda i: (_aware(i.last_sync_at), i.id))
    return [i.id for i in due]


def enqueue_due_syncs(
    integrations: IntegrationRepository,
    queue: WorkQueue,
    now: datetime,
    min_interval: timedelta = timedelta(0),
) -> list[str]:
    """Send a sync message (`sync_message`) for each due integration; returns their ids."""
    listed = {integration.id: integration for integration in integrations.list()}
    planned = plan_syncs(list(listed.values()), now, min_interval)
    for integration_id in planned:
        queue.send(sync_message(listed[integration_id], "schedule"))
    logger.info("syncs enqueued", extra={"count": len(planned)})
    return planned


def request_sync(integrations: IntegrationRepository, queue: WorkQueue, integration_id: str) -> None:
    """A sync asked for now (admin API). Raises NotFound for an unknown integration."""
    queue.send(sync_message(integrations.get(integration_id), "manual"))


def sync_message(integration: Integration, reason: str) -> dict[str, object]:
    """`{"integration_id", "issuer_id", "reason"}`: the sync reads the integration and its issuer together."""
    return {"integration_id": integration.id, "issuer_id": integration.issuer_id, "reason": reason}


def stale_integrations(
    integrations: list[Integration], now: datetime, max_age: timedelta
) -> list[Integration]:
    """Active, enabled integrations with no successful sync for longer than `max_age` (for GET /failures
    and the staleness metric). A never-synced one counts from its creation."""
    stale = []
    for integration in integrations:
        if not is_syncable(integration):
            continue
        since = _aware(integration.last_success_at or integration.created_at)
        if now - since > max_age:
            stale.append(integration)
    return stale


def report_stale_integrations(integrations: list[Integration], now: datetime, max_age: timedelta) -> int:
    """Emit `StaleIntegrations` (alarmed on > 0) and return the count. The caller flushes metrics
    (a handler's `@metrics.log_metrics`)."""
    stale = stale_integrations(integrations, now, max_age)
    metrics.add_metric(name="StaleIntegrations", unit=MetricUnit.Count, value=len(stale))
    for integration in stale:
        logger.warning(
            "integration has not synced successfully",
            extra={"integration_id": integration.id, "last_success_at": str(integration.last_success_at)},
        )
    return len(stale)
