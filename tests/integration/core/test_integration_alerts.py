"""A grant that breaks after consent never stops silently: the integration changes status, the issuer
and the office are e-mailed, and (for a lost grant) the contact gets a fresh link."""

from __future__ import annotations

import httpx
from core_support import integration as current_integration
from core_support import sync

from sandbox.scenario import CONTACT_EMAIL, Scenario
from sandbox.stack import LocalStack


def test_module_switched_off_stops_the_integration_and_alerts(connected: tuple[LocalStack, Scenario]) -> None:
    stack, scenario = connected
    spiris = httpx.Client(base_url=scenario.spiris_url)
    spiris.patch(f"/_sandbox/companies/{scenario.company_id}", json={"modules": {"api": False}}).raise_for_status()
    before = len(stack.mail())
    sync(stack, scenario)
    integration = current_integration(scenario)
    assert integration["status"] == "error" and "4002" in integration["last_error"]
    alerts = stack.mail()[before:]
    assert len(alerts) == 1
    assert set(alerts[0]["to"]) == {"ekonomi@exempelbolaget.se", "office@example.com"}
    assert "Integration (API)" in alerts[0]["text"]  # what to do, in the issuer's language (sv)
    with scenario.admin() as admin:
        failures = admin.get("/failures").json()
    assert [i["id"] for i in failures["integrations"]] == [scenario.integration_id]
    # Fixed at the source and re-enabled: the integration is left for the office to re-activate; a second
    # sync while it is in error neither calls Spiris nor alerts again.
    spiris.patch(f"/_sandbox/companies/{scenario.company_id}", json={"modules": {"api": True}}).raise_for_status()
    sync(stack, scenario)
    assert len(stack.mail()) == before + 1


def test_revoked_grant_needs_reconsent_alerts_and_sends_a_fresh_link(
    connected: tuple[LocalStack, Scenario],
) -> None:
    stack, scenario = connected
    with scenario.admin() as admin:  # a fresh, active connection for this case
        scenario.consent(admin.post(f"/integrations/{scenario.integration_id}/invite").json()["consent_url"])
    assert current_integration(scenario)["status"] == "active"
    httpx.post(f"{scenario.spiris_url}/_sandbox/faults", json={"revoke_all": True}).raise_for_status()
    before = len(stack.mail())
    sync(stack, scenario)
    assert current_integration(scenario)["status"] == "needs_reconsent"
    new_mail = stack.mail()[before:]
    assert any(CONTACT_EMAIL in m["to"] and "/consent/" in (m["text"] or "") for m in new_mail)
    assert any("ekonomi@exempelbolaget.se" in m["to"] for m in new_mail)
