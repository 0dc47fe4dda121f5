"""The embedded stack with a connected issuer, for the core tests that follow an integration end to end
(a unique module name: pytest puts every test folder on sys.path)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sandbox.scenario import Scenario
from sandbox.spiris.jsonutil import dumps
from sandbox.stack import LocalStack


@pytest.fixture(scope="module")
def connected() -> Iterator[tuple[LocalStack, Scenario]]:
    """One stack per test module: the scenario's issuer, its operator account and a consented integration."""
    with LocalStack(run_scheduler=False) as stack:
        scenario = Scenario(stack.api_url, stack.admin_token, stack.spiris_url or "", stack.operator_url or "")
        scenario.seed_spiris()
        scenario.create_issuer(scenario.seed_operator())
        assert scenario.consent(scenario.order_integration()) == 200
        yield stack, scenario


def sync(stack: LocalStack, scenario: Scenario, timeout: float = 120) -> None:
    scenario.sync_now()
    stack.drain_until_idle(timeout)


def integration(scenario: Scenario) -> dict:
    with scenario.admin() as admin:
        return admin.get(f"/integrations/{scenario.integration_id}").json()  # type: ignore[no-any-return]


def post_customer(spiris: httpx.Client, company_id: str, body: dict[str, Any]) -> None:
    spiris.post(
        f"/_sandbox/companies/{company_id}/customers",
        content=dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    ).raise_for_status()


def post_invoice(spiris: httpx.Client, company_id: str, body: dict[str, Any]) -> str:
    """A source invoice as raw JSON, so a lone surrogate escape (\\ud800, written `LONE_SURROGATE`) reaches
    the sandbox as Spiris would hold it; its id."""
    text = dumps(body).replace("LONE_SURROGATE", "\\ud800")
    response = spiris.post(
        f"/_sandbox/companies/{company_id}/customerinvoices",
        content=text.encode(),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])
