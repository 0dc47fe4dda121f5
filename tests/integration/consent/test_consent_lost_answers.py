"""The consent's single-use writes whose answer is lost after DynamoDB applied them (sandbox/lost_responses.py):
botocore's retry meets the call's own write, which is the write done, never "used already" or a 500."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from consent_support import TABLE, Aws
from invoice_bridge.adapters.dynamo_integrations import DynamoInvitations, DynamoOAuthStates
from invoice_bridge.ports import ConflictError, InvitationRecord, OAuthStateRecord

from sandbox.lost_responses import lose_dynamodb_answers, writes_item

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def _invitation() -> InvitationRecord:
    return InvitationRecord(token_hash="h1", integration_id="int1", issuer_id="iss1", created_at=NOW,
                            expires_at=NOW + timedelta(days=7))


def test_an_invitation_used_by_a_call_whose_answer_is_lost_is_used_by_that_call(aws: Aws) -> None:
    invitations = DynamoInvitations(TABLE)
    invitations.create(_invitation())
    with lose_dynamodb_answers(writes_item(["UpdateItem"], "INVITATION#")) as answers:
        invitations.consume("h1", NOW)  # not "invitation already used": the grant goes on
    assert answers.lost == {"UpdateItem": 1} and answers.sent == {"UpdateItem": 2}
    with pytest.raises(ConflictError):  # a second grant from the link still finds it used
        invitations.consume("h1", NOW)


def test_a_use_whose_answer_is_lost_and_whose_retry_the_table_refuses_for_now_is_the_use_it_made(aws: Aws) -> None:
    """The first attempt applied, its answer lost; botocore's retry then meets another transaction at the
    item (TransactionConflictException, not retried). The call reads its marker on the item: it is done,
    not "busy, try again" (which would have the contact try a link already used)."""
    from sandbox.dynamodb_conflicts import conflict_dynamodb_writes

    invitations = DynamoInvitations(TABLE)
    invitations.create(_invitation())
    lost = writes_item(["UpdateItem"], "INVITATION#")
    with conflict_dynamodb_writes((), transactions=0) as conflicts:
        attempts = []

        def matches(operation: str, body: dict) -> bool:  # type: ignore[type-arg]
            if lost(operation, body):
                attempts.append(operation)
                if len(attempts) == 2:  # the retry: another transaction holds the item now
                    conflicts.hold({"INVITATION#h1"}, transactions=0, single_writes=1)
                return True
            return False

        with lose_dynamodb_answers(matches) as answers:
            invitations.consume("h1", NOW)
    assert answers.lost == {"UpdateItem": 1} and conflicts.refused == {"update_item": 1}
    with pytest.raises(ConflictError):  # used: a second grant from the link finds it so
        invitations.consume("h1", NOW)


def test_invitations_and_states_created_by_a_call_whose_answer_is_lost_are_created(aws: Aws) -> None:
    with lose_dynamodb_answers(writes_item(["PutItem"], ""), times=2) as answers:
        DynamoInvitations(TABLE).create(_invitation())
        DynamoOAuthStates(TABLE).create(OAuthStateRecord(
            state_hash="s1", integration_id="int1", invitation_hash="h1", verifier_ciphertext=b"v",
            expires_at=NOW + timedelta(minutes=10)))
    assert answers.lost == {"PutItem": 2}
    assert DynamoInvitations(TABLE).get("h1") is not None


def test_a_token_refresh_whose_answers_are_lost_holds_its_lease_and_saves_its_tokens(aws: Aws) -> None:
    """The refresh lease taken, then the rotated tokens saved: each answer lost once. The lease is this call's
    (not "another worker refreshes", which would wait out the lease), the save is done (not "changed since")."""
    from invoice_bridge.adapters.kms_tokens import KmsTokenStore
    from invoice_bridge.models.common import utcnow
    from invoice_bridge.models.integration import Integration, TokenSet

    store = KmsTokenStore(TABLE, aws.key_id)
    integration = Integration(issuer_id="i", contact_name="A", contact_email="a@exempel.se")
    store.save(integration, TokenSet(access_token="a1", refresh_token="r1", expires_at=utcnow()), expected_version=None)
    rotated = TokenSet(access_token="a2", refresh_token="r2", expires_at=utcnow())
    with lose_dynamodb_answers(writes_item(["UpdateItem"], "INTEGRATION#", "TOKENS"), times=2) as answers:
        assert store.acquire_lease(integration, 1, "me", 30, now=1_000_000_000.0) is True
        assert store.save(integration, rotated, expected_version=1, lease_owner="me") == 2
    assert answers.lost == {"UpdateItem": 2} and answers.sent == {"UpdateItem": 4}
    assert store.load(integration).tokens.refresh_token == "r2"  # type: ignore[union-attr]
    assert not store.acquire_lease(integration, 1, "me", 30, now=1_000_000_001.0)  # a stale version is no lease
