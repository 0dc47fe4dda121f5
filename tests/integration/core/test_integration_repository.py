"""Integration writes are conditional on the version they read (issue 12 §9): a concurrent revoke or
change is never overwritten; callers redo their change on the integration as it is now."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from invoice_bridge.adapters.dynamo_integrations import DynamoIntegrations
from invoice_bridge.integrations import update_integration
from invoice_bridge.models.integration import Integration, IntegrationStatus
from invoice_bridge.ports import ConflictError
from moto import mock_aws

from sandbox.aws import create_template_table


@pytest.fixture
def integrations() -> Iterator[DynamoIntegrations]:
    with mock_aws():
        create_template_table("t")
        yield DynamoIntegrations("t")


def _new() -> Integration:
    return Integration(issuer_id="iss", contact_name="Anna", contact_email="anna@exempel.se",
                       status=IntegrationStatus.ACTIVE)


def test_a_write_from_a_stale_read_is_refused(integrations: DynamoIntegrations) -> None:
    created = _new()
    integrations.put(created)
    assert created.version == 1
    office, sync = integrations.get(created.id), integrations.get(created.id)

    office.status = IntegrationStatus.REVOKED
    integrations.put(office)
    sync.last_error = "Spiris unavailable; retrying"
    with pytest.raises(ConflictError):
        integrations.put(sync)

    stored = integrations.get(created.id)
    assert (stored.status, stored.last_error, stored.version) == (IntegrationStatus.REVOKED, None, 2)
    with pytest.raises(ConflictError):  # an id that exists cannot be created again either
        integrations.put(created.model_copy(update={"version": 0}))


def test_update_redoes_the_change_on_what_is_stored_now(integrations: DynamoIntegrations) -> None:
    created = _new()
    integrations.put(created)
    calls: list[IntegrationStatus] = []

    def record_sync_failure(current: Integration) -> Integration:
        calls.append(current.status)
        if len(calls) == 1:  # the office revokes between our read and our write
            revoke = integrations.get(created.id)
            revoke.status = IntegrationStatus.REVOKED
            integrations.put(revoke)
        return current.model_copy(update={"last_error": "Spiris unavailable; retrying"})

    stored = update_integration(integrations, created.id, record_sync_failure)

    assert calls == [IntegrationStatus.ACTIVE, IntegrationStatus.REVOKED]
    assert (stored.status, stored.last_error) == (IntegrationStatus.REVOKED, "Spiris unavailable; retrying")
    assert integrations.get(created.id).status == IntegrationStatus.REVOKED
