"""Tokens at rest (KMS ciphertext only, bound to their integration) and the refresh broker against the Spiris
sandbox's single-use rotating refresh tokens: the race, and a refused grant."""

from __future__ import annotations

import os
import threading
from datetime import timedelta
from typing import Any

import boto3
import httpx
import pytest
from consent_support import (
    TABLE,
    Spiris,
    authorize_in_sandbox,
    call,
    create_issuer_and_integration,
    json_body,
)
from invoice_bridge.adapters.kms_tokens import DecryptionFailed, KmsTokenStore
from invoice_bridge.api.admin import build_app
from invoice_bridge.api.consent import build_consent_app
from invoice_bridge.consent.refresher import NotConnected, TokenBroker, get_access_token
from invoice_bridge.consent.services import ConsentServices
from invoice_bridge.models.common import utcnow
from invoice_bridge.models.integration import Integration, IntegrationStatus, TokenSet
from invoice_bridge.ports import ConflictError

PASSWORD = "pw-for-the-race"
ROUNDS = int(os.environ.get("REFRESH_RACE_ROUNDS", "200"))


def _tokens(tag: str) -> TokenSet:
    return TokenSet(access_token=f"access-{tag}", refresh_token=f"refresh-{tag}", expires_at=utcnow())


def test_only_ciphertext_is_stored_and_it_is_bound_to_its_integration(aws) -> None:  # type: ignore[no-untyped-def]
    store = KmsTokenStore(TABLE, aws.key_id)
    a = Integration(issuer_id="issuer-a", contact_name="A", contact_email="a@exempel.se")
    b = Integration(issuer_id="issuer-a", contact_name="B", contact_email="b@exempel.se")
    assert store.save(a, _tokens("a-secret-value"), expected_version=None) == 1
    assert store.save(b, _tokens("b"), expected_version=None) == 1

    raw = boto3.client("dynamodb").scan(TableName=TABLE)["Items"]
    assert "a-secret-value" not in str(raw)
    assert store.load(a).tokens.access_token == "access-a-secret-value"  # type: ignore[union-attr]

    # Move a's ciphertext onto b's item: it must not decrypt as b's.
    item_a = next(i for i in raw if i["PK"]["S"] == f"INTEGRATION#{a.id}")
    boto3.client("dynamodb").update_item(
        TableName=TABLE,
        Key={"PK": {"S": f"INTEGRATION#{b.id}"}, "SK": {"S": "TOKENS"}},
        UpdateExpression="SET ciphertext = :c",
        ExpressionAttributeValues={":c": item_a["ciphertext"]},
    )
    with pytest.raises(DecryptionFailed):
        store.load(b)


def test_conditional_write_on_version(aws) -> None:  # type: ignore[no-untyped-def]
    store = KmsTokenStore(TABLE, aws.key_id)
    integration = Integration(issuer_id="i", contact_name="A", contact_email="a@exempel.se")
    store.save(integration, _tokens("1"), expected_version=None)
    assert store.save(integration, _tokens("2"), expected_version=1) == 2
    with pytest.raises(ConflictError):
        store.save(integration, _tokens("stale"), expected_version=1)
    assert store.load(integration).tokens.refresh_token == "refresh-2"  # type: ignore[union-attr]
    # A lease is exclusive until released, and a save by a non-owner is refused.
    assert store.acquire_lease(integration, 2, "me", 30, now=1_000_000_000.0)
    assert not store.acquire_lease(integration, 2, "other", 30, now=1_000_000_001.0)
    with pytest.raises(ConflictError):
        store.save(integration, _tokens("x"), expected_version=2, lease_owner="other")
    assert store.save(integration, _tokens("3"), expected_version=2, lease_owner="me") == 3
    store.delete(integration)
    assert store.load(integration) is None


def connect(services: ConsentServices, spiris: Spiris) -> Integration:
    admin, consent = build_app(), build_consent_app()
    created = json_body(create_issuer_and_integration(admin))
    company = spiris.company("Exempelbolaget AB", "5560360793")
    spiris.user("anna@exempel.se", PASSWORD, [company])
    token = created["consent_url"].rsplit("/", 1)[1]
    start = call(consent, "POST", f"/consent/{token}")
    location = (start.get("headers") or {}).get("Location") or start["multiValueHeaders"]["Location"][0]
    query = authorize_in_sandbox(location, "anna@exempel.se", PASSWORD, company)
    assert call(consent, "GET", "/oauth/callback", query=query)["statusCode"] == 200
    integration = services.integrations.get(created["id"])
    assert integration.status == IntegrationStatus.ACTIVE
    return integration


def expire_access_token(services: ConsentServices, integration: Integration) -> None:
    stored = services.tokens.load(integration)
    assert stored is not None
    expired = stored.tokens.model_copy(update={"expires_at": utcnow() - timedelta(seconds=1)})
    services.tokens.save(integration, expired, expected_version=stored.version)


def test_a_valid_token_is_used_without_refreshing(services, spiris: Spiris) -> None:  # type: ignore[no-untyped-def]
    integration = connect(services, spiris)
    before = spiris.stats()["requests"].get("POST /connect/token", 0)
    first = get_access_token(integration, services)
    assert get_access_token(integration, services) == first
    assert spiris.stats()["requests"].get("POST /connect/token", 0) == before
    # The token works at the API.
    answer = httpx.get(f"{spiris.url}/v2/companysettings", headers={"Authorization": f"Bearer {first}"})
    assert answer.status_code == 200


@pytest.mark.parametrize("rounds", [10, pytest.param(ROUNDS, marks=pytest.mark.slow)])
def test_refresh_race_10_threads(serial_services, spiris: Spiris, rounds: int) -> None:  # type: ignore[no-untyped-def]
    """10 concurrent refreshers per round on an expired token: one refresh, everyone gets the winner's token."""
    services = serial_services
    integration = connect(services, spiris)
    broker = TokenBroker(services, wait_seconds=30, poll_seconds=0.03)
    threads = 10
    errors: list[BaseException] = []
    seen_per_round: list[set[str]] = []
    for _ in range(rounds):
        expire_access_token(services, integration)
        barrier = threading.Barrier(threads)
        results: list[str] = []
        lock = threading.Lock()

        def worker(
            barrier: threading.Barrier = barrier, results: list[str] = results, lock: threading.Lock = lock
        ) -> None:
            try:
                barrier.wait()
                token = broker.get_access_token(integration)
                with lock:
                    results.append(token)
            except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)

        pool = [threading.Thread(target=worker) for _ in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        seen_per_round.append(set(results))
    assert errors == []
    assert all(len(s) == 1 for s in seen_per_round)  # everyone used the winner's token
    assert len(set().union(*seen_per_round)) == rounds  # one refresh per round
    stats = spiris.stats()
    assert stats["refresh_token_reuse"] == 0
    assert services.integrations.get(integration.id).status == IntegrationStatus.ACTIVE
    # One code exchange plus exactly one refresh per round reached the identity server.
    assert stats["requests"]["POST /connect/token"] == 1 + rounds
    # The family is alive: the last access token still reads the API.
    last = broker.get_access_token(integration)
    assert (
        httpx.get(f"{spiris.url}/v2/companysettings", headers={"Authorization": f"Bearer {last}"}).status_code
        == 200
    )


def test_invalid_grant_moves_to_needs_reconsent_alerts_and_reinvites(
    services, spiris: Spiris, mailer
) -> None:  # type: ignore[no-untyped-def]
    integration = connect(services, spiris)
    sent_before = len(mailer.sent)
    assert httpx.post(f"{spiris.url}/_sandbox/faults", json={"revoke_all": True}).status_code == 204
    expire_access_token(services, integration)
    with pytest.raises(NotConnected):
        TokenBroker(services).get_access_token(integration)
    after = services.integrations.get(integration.id)
    assert after.status == IntegrationStatus.NEEDS_RECONSENT
    assert after.last_error == "invalid_grant"
    new_mails = mailer.sent[sent_before:]
    recipients: list[Any] = [m.to for m in new_mails]
    assert ["anna@exempel.se"] in recipients  # a fresh link to the contact
    assert ["ekonomi@exempel.se", "office@keeros.example"] in recipients  # the alert
    alert = next(m for m in new_mails if "office@keeros.example" in m.to)
    assert "förnyas" in alert.subject and "ny länk" in alert.text
    # The fresh link works and the integration remembers it.
    link = next(m for m in new_mails if m.to == ["anna@exempel.se"])
    token = next(w for w in link.text.split() if "/consent/" in w).rsplit("/", 1)[1]
    assert call(build_consent_app(), "GET", f"/consent/{token}")["statusCode"] == 200
