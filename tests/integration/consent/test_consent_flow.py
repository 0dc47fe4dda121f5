"""The whole consent flow through the public resolver, against the Spiris sandbox over real HTTP, on moto.

Every refusal must leave no token stored and answer with a page that says what to do.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import httpx
import pytest
from consent_support import (
    ISSUER_ORG,
    PUBLIC_BASE_URL,
    TABLE,
    Spiris,
    authorize_in_sandbox,
    call,
    create_issuer_and_integration,
    header,
    json_body,
)
from invoice_bridge.api.admin import build_app
from invoice_bridge.api.consent import build_consent_app
from invoice_bridge.consent.secrets_ import token_hash

PASSWORD = "correct horse battery staple"


@dataclass
class Setup:
    admin: Any
    consent: Any
    integration_id: str
    token: str
    issuer_company: str
    other_company: str


def services_tokens(s: Setup):  # type: ignore[no-untyped-def]
    from invoice_bridge import wiring

    services = wiring.consent_services()
    return services.tokens.load(services.integrations.get(s.integration_id)).tokens


def token_items() -> list[dict[str, Any]]:
    items = boto3.client("dynamodb").scan(TableName=TABLE)["Items"]
    return [i for i in items if i["SK"]["S"] == "TOKENS"]


def integration(admin: Any, integration_id: str) -> dict[str, Any]:
    return json_body(call(admin, "GET", f"/integrations/{integration_id}"))


@pytest.fixture
def setup(services, spiris: Spiris) -> Setup:  # type: ignore[no-untyped-def]
    admin = build_app()
    created = json_body(create_issuer_and_integration(admin, language="en"))
    issuer_company = spiris.company("Exempelbolaget AB", "556036-0793")
    other_company = spiris.company("Annat Bolag AB", "5565594230")  # compact, as some companies are stored
    spiris.user("anna@exempel.se", PASSWORD, [issuer_company, other_company], default=other_company)
    return Setup(
        admin,
        build_consent_app(),
        created["id"],
        created["consent_url"].rsplit("/", 1)[1],
        issuer_company,
        other_company,
    )


def start(s: Setup) -> str:
    response = call(s.consent, "POST", f"/consent/{s.token}")
    assert response["statusCode"] == 303, response.get("body")
    location = header(response, "Location")
    assert location
    return location


def finish(s: Setup, query: dict[str, str]) -> dict[str, Any]:
    return call(s.consent, "GET", "/oauth/callback", query=query)


def test_scanner_gets_and_head_change_nothing_then_grant_succeeds(
    setup: Setup, spiris: Spiris, mailer, caplog, capfd
) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG, logger="invoice-bridge")
    s = setup
    before = boto3.client("dynamodb").scan(TableName=TABLE)["Items"]
    first = call(s.consent, "GET", f"/consent/{s.token}")
    call(s.consent, "GET", f"/consent/{s.token}")
    head = call(s.consent, "HEAD", f"/consent/{s.token}")
    assert boto3.client("dynamodb").scan(TableName=TABLE)["Items"] == before
    assert first["statusCode"] == 200 and head["statusCode"] == 200 and head["body"] == ""
    assert "Grant access" in first["body"] and '<form method="post">' in first["body"]
    assert "Exempelbolaget AB" in first["body"] and "556036-0793" in first["body"]
    assert header(first, "Cache-Control") == "no-store"
    assert header(first, "Content-Type") == "text/html; charset=utf-8"

    location = start(s)
    parts = urlsplit(location)
    params = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert location.startswith(f"{spiris.url}/connect/authorize?")
    assert params["prompt"] == "select_account"
    assert params["code_challenge_method"] == "S256" and len(params["code_challenge"]) == 43
    assert params["redirect_uri"] == f"{PUBLIC_BASE_URL}/oauth/callback"
    assert params["scope"] == "ea:api offline_access ea:sales_readonly"
    assert params["acr_values"] == "service:44643EB1-3F76-4C1C-A672-402AE8085934"
    assert params["response_type"] == "code"
    # Only the hash of the state is stored.
    states = [i for i in boto3.client("dynamodb").scan(TableName=TABLE)["Items"] if i["SK"]["S"] == "STATE"]
    assert [i["PK"]["S"] for i in states] == [f"STATE#{token_hash(params['state'])}"]

    query = authorize_in_sandbox(location, "anna@exempel.se", PASSWORD, s.issuer_company)
    done = finish(s, query)
    assert done["statusCode"] == 200
    assert "The connection is done" in done["body"]
    got = integration(s.admin, s.integration_id)
    assert got["status"] == "active"
    assert got["company"]["org_number"] == ISSUER_ORG
    assert got["company"]["customer_id"] == s.issuer_company
    assert len(token_items()) == 1
    assert mailer.sent[-1].to == ["anna@exempel.se"] and "connected" in mailer.sent[-1].subject

    # The link is used now; replaying the callback (same state and code) stores nothing new.
    assert call(s.consent, "GET", f"/consent/{s.token}")["statusCode"] == 410
    replay = finish(s, query)
    assert replay["statusCode"] == 400 and "already used" in replay["body"]

    # No secret in any line our code logged (Powertools writes JSON lines to stdout).
    stored = services_tokens(s)
    secrets = [
        s.token,
        query["code"],
        query["state"],
        PASSWORD,
        "sandbox-client-secret",
        stored.access_token,
        stored.refresh_token,
    ]
    ours = [
        r.getMessage() + str(r.__dict__)
        for r in caplog.records
        if r.name.startswith(("invoice", "aws_lambda"))
    ]
    lines = capfd.readouterr().out.splitlines() + ours
    assert any("integration connected" in line for line in lines)
    for line in lines:
        assert not any(secret in line for secret in secrets), line


def test_access_denied_keeps_integration_pending_with_last_error(setup: Setup) -> None:
    query = authorize_in_sandbox(
        start(setup), "anna@exempel.se", PASSWORD, setup.issuer_company, decision="deny"
    )
    assert query["error"] == "access_denied"
    page = finish(setup, query)
    assert "You denied the access" in page["body"]
    got = integration(setup.admin, setup.integration_id)
    assert got["status"] == "pending_consent" and got["last_error"] == "access_denied"
    assert token_items() == []
    # The link still works for a second try.
    assert call(setup.consent, "GET", f"/consent/{setup.token}")["statusCode"] == 200


def test_wrong_company_is_revoked_and_not_kept(setup: Setup, spiris: Spiris) -> None:
    query = authorize_in_sandbox(start(setup), "anna@exempel.se", PASSWORD, setup.other_company)
    page = finish(setup, query)
    assert "The wrong company was chosen" in page["body"]
    assert "unset the default company" in page["body"]
    assert "556559-4230" in page["body"] and "556036-0793" in page["body"]
    got = integration(setup.admin, setup.integration_id)
    assert got["status"] == "pending_consent" and got["last_error"] == "wrong_company"
    assert token_items() == []
    assert spiris.stats()["requests"].get("POST /connect/revocation") == 1
    assert call(setup.consent, "GET", f"/consent/{setup.token}")["statusCode"] == 200


@pytest.mark.parametrize(
    ("patch", "user_full_access", "page_text", "last_error"),
    [
        ({"modules": {"api": False}}, True, "The API add-on is not active", "module_missing"),
        ({}, False, "The user has no access in Spiris", "no_access"),
        ({"error_mode": 4004}, True, "error code 4004", "spiris_4004"),  # company inactive
    ],
)
def test_module_missing_and_no_access(
    setup: Setup, spiris: Spiris, patch, user_full_access, page_text, last_error
) -> None:  # type: ignore[no-untyped-def]
    if patch:
        httpx.patch(f"{spiris.url}/_sandbox/companies/{setup.issuer_company}", json=patch).raise_for_status()
    spiris.user(
        "anna@exempel.se", PASSWORD, [setup.issuer_company, setup.other_company], full_access=user_full_access
    )
    page = finish(
        setup, authorize_in_sandbox(start(setup), "anna@exempel.se", PASSWORD, setup.issuer_company)
    )
    assert page_text in page["body"]
    got = integration(setup.admin, setup.integration_id)
    assert got["status"] == "error" and got["last_error"] == last_error
    assert token_items() == []


def test_unknown_tampered_and_expired_state(setup: Setup, services) -> None:  # type: ignore[no-untyped-def]
    location = start(setup)
    query = authorize_in_sandbox(location, "anna@exempel.se", PASSWORD, setup.issuer_company)
    tampered = finish(setup, {**query, "state": query["state"][:-2] + "xx"})
    # Unknown state: no integration is known, so the page is in Swedish (the default language).
    assert tampered["statusCode"] == 400 and "kunde inte kopplas till någon förfrågan" in tampered["body"]
    assert finish(setup, {"code": query["code"]})["statusCode"] == 400
    # Expire the real state (the record's expires_at is in epoch seconds and re-checked in code).
    boto3.client("dynamodb").update_item(
        TableName=TABLE,
        Key={"PK": {"S": f"STATE#{token_hash(query['state'])}"}, "SK": {"S": "STATE"}},
        UpdateExpression="SET expires_at = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
    )
    expired = finish(setup, query)
    assert expired["statusCode"] == 400 and "took too long" in expired["body"]
    assert token_items() == []
    assert integration(setup.admin, setup.integration_id)["status"] == "pending_consent"


def test_code_replay_and_wrong_verifier_store_nothing(setup: Setup) -> None:
    # A code obtained for one state, presented with another state (whose verifier does not match).
    first = authorize_in_sandbox(start(setup), "anna@exempel.se", PASSWORD, setup.issuer_company)
    second_location = start(setup)
    second = authorize_in_sandbox(second_location, "anna@exempel.se", PASSWORD, setup.issuer_company)
    wrong_verifier = finish(setup, {"code": first["code"], "state": second["state"]})
    assert wrong_verifier["statusCode"] == 400 and "did not accept the sign-in" in wrong_verifier["body"]
    assert token_items() == []
    # The first code was spent by that attempt: presenting it with its own state is a replay.
    replay = finish(setup, first)
    assert replay["statusCode"] == 400 and "did not accept the sign-in" in replay["body"]
    assert token_items() == []


def test_unknown_and_expired_links(setup: Setup, services) -> None:  # type: ignore[no-untyped-def]
    unknown = call(setup.consent, "GET", "/consent/not-a-real-token")
    assert unknown["statusCode"] == 404 and "Länken hittades inte" in unknown["body"]
    assert call(setup.consent, "POST", "/consent/not-a-real-token")["statusCode"] == 404
    boto3.client("dynamodb").update_item(
        TableName=TABLE,
        Key={"PK": {"S": f"INVITATION#{token_hash(setup.token)}"}, "SK": {"S": "INVITATION"}},
        UpdateExpression="SET expires_at = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
    )
    expired = call(setup.consent, "GET", f"/consent/{setup.token}")
    assert expired["statusCode"] == 410 and "has expired" in expired["body"]
    assert call(setup.consent, "POST", f"/consent/{setup.token}")["statusCode"] == 410


def test_delete_revokes_at_spiris_and_forgets_tokens(setup: Setup, spiris: Spiris, services) -> None:  # type: ignore[no-untyped-def]
    finish(setup, authorize_in_sandbox(start(setup), "anna@exempel.se", PASSWORD, setup.issuer_company))
    assert len(token_items()) == 1
    stored = services.tokens.load(services.integrations.get(setup.integration_id))
    assert call(setup.admin, "DELETE", f"/integrations/{setup.integration_id}")["statusCode"] == 204
    assert token_items() == []
    assert integration(setup.admin, setup.integration_id)["status"] == "revoked"
    refused = httpx.post(
        f"{spiris.url}/connect/token",
        data={"grant_type": "refresh_token", "refresh_token": stored.tokens.refresh_token},
        auth=("invoice-bridge-local", "sandbox-client-secret"),
    )
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"


# --- races (issue 12 §9): the invitation is consumed first; integration writes are conditional ---------


def _before_company_read(services, action) -> None:  # type: ignore[no-untyped-def]
    """Run `action` once while a callback is between its checks and its writes: the callback reads the
    connected company right after the code exchange."""
    read_company = services.read_company
    pending = [action]

    def interleaved(access_token: str):  # type: ignore[no-untyped-def]
        while pending:
            pending.pop()()
        return read_company(access_token)

    services.read_company = interleaved


def test_two_grants_finished_from_one_link_connect_once(setup: Setup, spiris: Spiris, services) -> None:  # type: ignore[no-untyped-def]
    # The contact pressed "Grant access" in two tabs and approved in both.
    first = authorize_in_sandbox(start(setup), "anna@exempel.se", PASSWORD, setup.issuer_company)
    second = authorize_in_sandbox(start(setup), "anna@exempel.se", PASSWORD, setup.issuer_company)
    pages: dict[str, dict[str, Any]] = {}
    _before_company_read(services, lambda: pages.setdefault("second", finish(setup, second)))

    pages["first"] = finish(setup, first)

    assert "The connection is done" in pages["second"]["body"]
    assert pages["first"]["statusCode"] == 410 and "already been used" in pages["first"]["body"]
    assert integration(setup.admin, setup.integration_id)["status"] == "active"
    # The grant that connected is the one stored; the other was revoked at Spiris, not left dangling.
    assert len(token_items()) == 1
    assert spiris.stats()["requests"].get("POST /connect/revocation") == 1
    stored = services_tokens(setup)
    refreshed = httpx.post(
        f"{spiris.url}/connect/token",
        data={"grant_type": "refresh_token", "refresh_token": stored.refresh_token},
        auth=("invoice-bridge-local", "sandbox-client-secret"),
    )
    assert refreshed.status_code == 200


def test_a_revoke_while_the_consent_is_finished_is_never_overwritten(setup: Setup, spiris: Spiris, services) -> None:  # type: ignore[no-untyped-def]
    query = authorize_in_sandbox(start(setup), "anna@exempel.se", PASSWORD, setup.issuer_company)
    revoked: list[int] = []
    _before_company_read(
        services,
        lambda: revoked.append(call(setup.admin, "DELETE", f"/integrations/{setup.integration_id}")["statusCode"]),
    )

    page = finish(setup, query)

    assert revoked == [204]
    assert integration(setup.admin, setup.integration_id)["status"] == "revoked"
    assert token_items() == []  # the grant that came in after the revoke is not kept...
    assert spiris.stats()["requests"].get("POST /connect/revocation") == 1  # ...and is revoked at Spiris
    assert "The connection is done" not in page["body"] and "no longer valid" in page["body"]


def test_a_callback_the_table_refuses_for_now_asks_to_reload_and_the_same_link_then_connects(
    setup: Setup,
) -> None:
    """Another transaction at the state's item (sandbox/dynamodb_conflicts.py; moto never refuses): the state
    is taken first, so nothing was used up and the contact's reload of the same callback connects."""
    from sandbox.dynamodb_conflicts import conflict_dynamodb_writes

    location = start(setup)
    state = parse_qs(urlsplit(location).query)["state"][0]
    query = authorize_in_sandbox(location, "anna@exempel.se", PASSWORD, setup.issuer_company)
    with conflict_dynamodb_writes({f"STATE#{token_hash(state)}"}, transactions=99, single_writes=99) as refused:
        busy = finish(setup, query)

    assert sum(refused.refused.values()) + len(refused.cancelled) >= 1
    assert busy["statusCode"] == 503, busy.get("body")
    assert int(header(busy, "Retry-After") or 0) >= 1 and header(busy, "Cache-Control") == "no-store"
    assert "Reload the page in a moment" in busy["body"]
    assert integration(setup.admin, setup.integration_id)["status"] == "pending_consent"

    done = finish(setup, query)

    assert done["statusCode"] == 200 and "The connection is done" in done["body"]
    assert integration(setup.admin, setup.integration_id)["status"] == "active"
