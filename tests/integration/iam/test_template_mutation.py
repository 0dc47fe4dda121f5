"""A statement missing from a copy of template.yaml makes a real pipeline step fail on the embedded
stack, as the deployed function would: without SQSSendMessagePolicy on the sync queue, the scheduled
poll cannot queue a due integration's sync."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from invoice_bridge.adapters.dynamo_integrations import DynamoIntegrations
from invoice_bridge.models.integration import Integration, IntegrationStatus

from sandbox.iam.mutation import mutate, mutations, write_template
from sandbox.stack import LocalStack, default_template
from sandbox.template import load_yaml

POLL = "PollInvoicesFunction"


def poll_once(template: Path) -> tuple[Any, list[str]]:
    """One scheduled poll with one due integration: the tick's result and the refused actions."""
    with LocalStack(template, sandboxes=False, run_drainer=False, run_scheduler=False) as stack:
        DynamoIntegrations(stack.environment["TABLE_NAME"]).put(Integration(  # set-up: not a function
            issuer_id="i1", contact_name="Anna", contact_email="anna@example.se", status=IntegrationStatus.ACTIVE))
        result = stack.tick(POLL)[f"{POLL}.Every5Minutes"]
        return result, [d.request.action for d in stack.authorizer.denials]  # type: ignore[union-attr]


def test_the_poll_queues_a_due_sync_with_its_role_from_the_template() -> None:
    assert poll_once(default_template()) == ({"enqueued": 1}, [])


def test_without_its_send_statement_the_poll_fails_as_in_aws(tmp_path: Path) -> None:
    original = default_template()
    template = load_yaml(original)
    (sending,) = [m for m in mutations(template) if m.function == POLL and "SyncQueue" in m.label]
    result, refused = poll_once(write_template(mutate(template, sending, original.parent), tmp_path / "t.yaml"))
    assert isinstance(result, ClientError) and result.response["Error"]["Code"] == "AccessDenied"
    assert refused == ["sqs:SendMessage"]
