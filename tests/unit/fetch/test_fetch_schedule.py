"""Poll fan-out (due = active and enabled, stalest first) and sync health."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fetch_doubles import ListQueue, MemoryIntegrations
from invoice_bridge.fetch.schedule import enqueue_due_syncs, plan_syncs, request_sync, stale_integrations
from invoice_bridge.models.integration import Integration, IntegrationStatus

NOW = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)


def integration(name: str, status=IntegrationStatus.ACTIVE, enabled=True, last_sync=None, last_success=None):
    return Integration(
        id=name,
        issuer_id="issuer",
        contact_name="Anna",
        contact_email="anna@example.com",
        status=status,
        enabled=enabled,
        last_sync_at=last_sync,
        last_success_at=last_success,
        created_at=NOW - timedelta(days=10),
    )


def test_only_active_enabled_integrations_are_due_stalest_first() -> None:
    integrations = [
        integration("recent", last_sync=NOW - timedelta(minutes=5)),
        integration("old", last_sync=NOW - timedelta(hours=3)),
        integration("never"),
        integration("paused", status=IntegrationStatus.PAUSED),
        integration("disabled", enabled=False),
        integration("reconsent", status=IntegrationStatus.NEEDS_RECONSENT),
        integration("pending", status=IntegrationStatus.PENDING_CONSENT),
    ]

    assert plan_syncs(integrations, NOW) == ["never", "old", "recent"]
    assert plan_syncs(integrations, NOW, min_interval=timedelta(minutes=10)) == ["never", "old"]


def test_enqueue_sends_one_schedule_message_per_due_integration() -> None:
    repo = MemoryIntegrations(
        integration("a", last_sync=NOW - timedelta(hours=1)),
        integration("b"),
        integration("c", enabled=False),
    )
    queue = ListQueue()

    assert enqueue_due_syncs(repo, queue, NOW) == ["b", "a"]
    assert queue.messages == [
        {"integration_id": "b", "issuer_id": "issuer", "reason": "schedule"},
        {"integration_id": "a", "issuer_id": "issuer", "reason": "schedule"},
    ]


def test_manual_sync_request() -> None:
    queue = ListQueue()
    request_sync(MemoryIntegrations(integration("a")), queue, "a")

    assert queue.messages == [{"integration_id": "a", "issuer_id": "issuer", "reason": "manual"}]


def test_stale_integrations() -> None:
    integrations = [
        integration("fresh", last_success=NOW - timedelta(minutes=30)),
        integration("stale", last_success=NOW - timedelta(hours=7)),
        integration("never_synced"),  # created 10 days ago
        integration("paused_stale", status=IntegrationStatus.PAUSED, last_success=NOW - timedelta(days=3)),
    ]

    stale = stale_integrations(integrations, NOW, max_age=timedelta(hours=6))

    assert [i.id for i in stale] == ["stale", "never_synced"]
