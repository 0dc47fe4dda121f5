"""Spiris errors on the embedded stack (issue 12 §8): a 401 refreshes the token once and retries before
anyone is asked for a new consent; 4005, 4007 and 4034 stop the integration with a message that says
which action the office (or the issuer) must take."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from core_support import integration as current_integration
from core_support import sync

from sandbox.scenario import Scenario
from sandbox.seed import RowSpec, customer, invoice, org_number
from sandbox.spiris.jsonutil import dumps
from sandbox.stack import LocalStack


def _fresh_connection(scenario: Scenario) -> None:
    with scenario.admin() as admin:
        assert scenario.consent(admin.post(f"/integrations/{scenario.integration_id}/invite").json()["consent_url"]) == 200
    assert current_integration(scenario)["status"] == "active"


def test_a_401_refreshes_the_token_once_and_the_sync_goes_on(connected: tuple[LocalStack, Scenario]) -> None:
    stack, scenario = connected
    _fresh_connection(scenario)
    spiris = httpx.Client(base_url=scenario.spiris_url, timeout=30)
    buyer = customer("Kund AB", org_number("556012345"), customer_number="77")
    spiris.post(f"/_sandbox/companies/{scenario.company_id}/customers", json=buyer).raise_for_status()
    new = invoice(buyer, 3001, [RowSpec("Support", Decimal("1"), Decimal("500.00"))])
    spiris.post(
        f"/_sandbox/companies/{scenario.company_id}/customerinvoices",
        content=dumps(new).encode(),
        headers={"Content-Type": "application/json"},
    ).raise_for_status()
    # Spiris stops taking every access token issued so far, long before its exp; the grant itself lives on.
    spiris.post("/_sandbox/faults", json={"expire_access_tokens": True}).raise_for_status()
    before = len(stack.mail())
    token_calls = spiris.get("/_sandbox/stats").json()["requests"].get("POST /connect/token", 0)

    sync(stack, scenario)

    integration = current_integration(scenario)
    assert integration["status"] == "active" and "last_error" not in integration
    assert "3001" in {i["number"] for i in scenario.invoices()}
    assert spiris.get("/_sandbox/stats").json()["requests"]["POST /connect/token"] == token_calls + 1
    assert stack.mail()[before:] == []  # nobody was asked for a new consent


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (4007, "roll utan rätt att läsa kundfakturor"),
        (4005, "godkände inte anropen"),
        (4034, "testklient (sandbox)"),
    ],
)
def test_codes_that_need_the_offices_action_stop_the_integration_and_say_which(
    connected: tuple[LocalStack, Scenario], code: int, words: str
) -> None:
    stack, scenario = connected
    _fresh_connection(scenario)
    spiris = httpx.Client(base_url=scenario.spiris_url, timeout=30)
    spiris.patch(f"/_sandbox/companies/{scenario.company_id}", json={"error_mode": code}).raise_for_status()
    before = len(stack.mail())
    try:
        sync(stack, scenario)
    finally:
        spiris.patch(f"/_sandbox/companies/{scenario.company_id}", json={"error_mode": None}).raise_for_status()

    integration = current_integration(scenario)
    assert integration["status"] == "error"
    assert integration["last_error"].startswith(f"Spiris error {code}: ")
    [alert] = stack.mail()[before:]
    assert set(alert["to"]) == {"ekonomi@exempelbolaget.se", "office@example.com"}
    assert str(code) in alert["text"] and words in alert["text"]  # what to do, in the issuer's language (sv)
    with scenario.admin() as admin:
        problems = admin.get("/failures").json()["integrations"]
    assert [(p["id"], p["problem"]) for p in problems] == [(scenario.integration_id, "error")]
