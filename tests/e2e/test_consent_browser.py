"""The contact person's consent trip in real Chromium (issue 3, "Must show"): the link from the invitation
mail in `/_local/mail`, our explanation page, the Spiris sandbox's login, company picker and approval, and
our result page. Runs against the embedded stack in this process (LocalStack, no schedule).

The Spiris user has two companies and the *other* one set as default company: Visma Online would then skip
the picker (the default-company trap), so the picker showing up proves our `prompt=select_account` works.

Every page is screenshotted into out/screens/ and copied to docs/screens/ so anyone can look at them.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from invoice_bridge.identifiers import format_org_number
from playwright.sync_api import Browser, Page, ViewportSize, expect, sync_playwright

from sandbox.scenario import ISSUER_ORG, Scenario
from sandbox.seed import org_number
from sandbox.stack import LocalStack

REPO = Path(__file__).resolve().parents[2]
SCREENS = REPO / "out" / "screens"
COMMITTED_SCREENS = REPO / "docs" / "screens"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = ViewportSize(width=1024, height=768)
PHONE = ViewportSize(width=390, height=844)

SPIRIS_USER = "karin.karlsson@exempelbolaget.se"
SPIRIS_PASSWORD = "Vinter2026!"
OTHER_ORG = org_number("559011223")


@dataclass
class World:
    stack: LocalStack
    scenario: Scenario
    issuer_company: str
    other_company: str
    browser: Browser

    def admin(self) -> httpx.Client:
        return self.scenario.admin()

    def order_integration(self, contact_email: str) -> tuple[str, str]:
        """Order through the admin API; return the integration id and the link from the invitation mail."""
        with self.admin() as admin:
            ordered = admin.post(
                f"/issuers/{self.scenario.issuer_id}/integrations",
                json={"source": "spiris", "contact_name": "Karin Karlsson", "contact_email": contact_email},
            )
            ordered.raise_for_status()
        mails = httpx.get(f"{self.stack.api_url}/_local/mail", timeout=30).json()
        invitations = [m for m in mails if contact_email in m["to"]]
        assert len(invitations) == 1, f"expected one invitation to {contact_email}, got {len(invitations)}"
        links = re.findall(
            rf"{re.escape(self.stack.api_url)}/consent/[A-Za-z0-9_\-]+", invitations[0]["text"]
        )
        assert links == [ordered.json()["consent_url"]], (
            "the mail's link must be the one returned to the office"
        )
        return ordered.json()["id"], links[0]

    def integration(self, integration_id: str) -> dict[str, Any]:
        with self.admin() as admin:
            got = admin.get(f"/integrations/{integration_id}")
            got.raise_for_status()
            return got.json()  # type: ignore[no-any-return]

    def stored_tokens(self, integration_id: str) -> dict[str, Any] | None:
        dynamodb = boto3.client(
            "dynamodb", endpoint_url=self.stack.aws_endpoint_url, region_name=self.stack.aws_region
        )
        item = dynamodb.get_item(
            TableName=self.stack.environment["TABLE_NAME"],
            Key={"PK": {"S": f"INTEGRATION#{integration_id}"}, "SK": {"S": "TOKENS"}},
        )
        return item.get("Item")

    def spiris_revocations(self) -> int:
        """How often our back end called the sandbox's revocation endpoint."""
        stats = httpx.get(f"{self.stack.spiris_url}/_sandbox/stats", timeout=30).json()
        return sum(n for key, n in stats["requests"].items() if "revocation" in key)


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with LocalStack(run_scheduler=False) as stack:
        assert stack.spiris_url and stack.operator_url
        scenario = Scenario(stack.api_url, stack.admin_token, stack.spiris_url, stack.operator_url)
        with httpx.Client(base_url=stack.spiris_url, timeout=30) as spiris:

            def company(name: str, org: str) -> str:
                created = spiris.post(
                    "/_sandbox/companies",
                    json={"name": name, "corporate_identity_number": org, "modules": {"api": True}},
                )
                created.raise_for_status()
                return created.json()["id"]  # type: ignore[no-any-return]

            issuer_company = company("Exempelbolaget AB", ISSUER_ORG)
            other_company = company("Exempel Fastigheter AB", OTHER_ORG)
            # The other company first (checked by default in the picker) and set as default company.
            spiris.post(
                "/_sandbox/users",
                json={
                    "email": SPIRIS_USER,
                    "password": SPIRIS_PASSWORD,
                    "companies": [other_company, issuer_company],
                    "default_company": other_company,
                    "full_access": True,
                },
            ).raise_for_status()
        scenario.create_issuer(scenario.seed_operator())
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            try:
                yield World(stack, scenario, issuer_company, other_company, browser)
            finally:
                browser.close()


def screenshot(page: Page, name: str) -> None:
    """Write the whole page to out/screens/ and keep a committed copy in docs/screens/."""
    SCREENS.mkdir(parents=True, exist_ok=True)
    COMMITTED_SCREENS.mkdir(parents=True, exist_ok=True)
    target = SCREENS / name
    page.screenshot(path=str(target), full_page=True)
    assert target.stat().st_size > 5_000, f"{name} looks empty"
    shutil.copyfile(target, COMMITTED_SCREENS / name)


@pytest.fixture
def page(world: World) -> Iterator[Page]:
    context = world.browser.new_context(viewport=DESKTOP, locale="sv-SE")
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def walk_to_spiris_approval(
    world: World, page: Page, link: str, *, company_id: str, shots: dict[str, str] | None = None
) -> None:
    """Explanation page → Ge behörighet → Spiris login → company picker → the approval page."""
    shots = shots or {}
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Koppla ert Spiris-företag för fakturering")
    expect(page.get_by_text("Exempelbolaget AB").first).to_be_visible()
    if "explanation" in shots:
        screenshot(page, shots["explanation"])
    page.get_by_role("button", name="Ge behörighet").click()

    page.wait_for_url(f"{world.stack.spiris_url}/connect/authorize?*")
    assert "prompt=select_account" in page.url and "code_challenge_method=S256" in page.url
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
    page.get_by_label("Email").fill(SPIRIS_USER)
    page.get_by_label("Password").fill(SPIRIS_PASSWORD)
    if "login" in shots:
        screenshot(page, shots["login"])
    page.get_by_role("button", name="Log in").click()

    # The user has a default company, yet the picker is shown: prompt=select_account defuses the trap.
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose company")
    expect(page.get_by_role("radio")).to_have_count(2)
    page.locator(f'input[name="company"][value="{company_id}"]').check()
    if "picker" in shots:
        screenshot(page, shots["picker"])
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Allow access")
    if "approve" in shots:
        screenshot(page, shots["approve"])


def test_contact_grants_access_in_a_browser_and_the_integration_is_active(world: World, page: Page) -> None:
    integration_id, link = world.order_integration("karin.karlsson@exempelbolaget.se")
    assert world.integration(integration_id)["status"] == "pending_consent"

    walk_to_spiris_approval(
        world,
        page,
        link,
        company_id=world.issuer_company,
        shots={
            "explanation": "01-explanation.png",
            "login": "02-spiris-login.png",
            "picker": "03-company-picker.png",
            "approve": "04-approve.png",
        },
    )
    # Spiris shows the organisation number in its one form (556677-8808), whatever form it was typed in.
    expect(page.get_by_text(f"Exempelbolaget AB ({format_org_number(ISSUER_ORG)})")).to_be_visible()
    page.get_by_role("button", name="Approve").click()

    page.wait_for_url(f"{world.stack.api_url}/**")
    expect(page.get_by_role("heading", level=1)).to_have_text("Kopplingen är klar")
    expect(page.get_by_text("Klart", exact=True)).to_be_visible()
    screenshot(page, "05-done.png")

    assert world.integration(integration_id)["status"] == "active"
    tokens = world.stored_tokens(integration_id)
    assert tokens is not None, "an active integration must have its (encrypted) tokens stored"

    # The used link now says so instead of offering the button again.
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Länken är redan använd")


def test_explanation_page_reads_on_a_phone(world: World) -> None:
    _, link = world.order_integration("mobil@exempelbolaget.se")
    context = world.browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="sv-SE"
    )
    try:
        phone = context.new_page()
        phone.goto(link)
        button = phone.get_by_role("button", name="Ge behörighet")
        expect(button).to_be_visible()
        # Nothing wider than the screen: no sideways scrolling on a phone.
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        box = button.bounding_box()
        assert box is not None and box["width"] >= PHONE["width"] * 0.7 and box["height"] >= 40
        screenshot(phone, "01b-explanation-phone.png")
    finally:
        context.close()


def test_contact_denies_and_nothing_is_stored(world: World, page: Page) -> None:
    integration_id, link = world.order_integration("neka@exempelbolaget.se")
    walk_to_spiris_approval(world, page, link, company_id=world.issuer_company)
    page.get_by_role("button", name="Deny").click()

    page.wait_for_url(f"{world.stack.api_url}/**")
    expect(page.get_by_role("heading", level=1)).to_have_text("Ni nekade behörigheten")
    screenshot(page, "06-denied.png")
    assert world.integration(integration_id)["status"] != "active"
    assert world.stored_tokens(integration_id) is None

    # A denial does not use up the link: it still opens the explanation page.
    page.goto(link)
    expect(page.get_by_role("button", name="Ge behörighet")).to_be_visible()


def test_wrong_company_is_refused_with_how_to_pick_the_right_one(world: World, page: Page) -> None:
    integration_id, link = world.order_integration("fel.foretag@exempelbolaget.se")
    revocations_before = world.spiris_revocations()
    walk_to_spiris_approval(world, page, link, company_id=world.other_company)
    expect(page.get_by_text(f"Exempel Fastigheter AB ({format_org_number(OTHER_ORG)})")).to_be_visible()
    page.get_by_role("button", name="Approve").click()

    page.wait_for_url(f"{world.stack.api_url}/**")
    expect(page.get_by_role("heading", level=1)).to_have_text("Fel företag valdes")
    expect(page.get_by_text("ta bort valet av standardföretag")).to_be_visible()
    screenshot(page, "07-wrong-company.png")

    got = world.integration(integration_id)
    assert got["status"] != "active" and got["last_error"] == "wrong_company"
    assert world.stored_tokens(integration_id) is None
    assert world.spiris_revocations() > revocations_before, "the wrong company's tokens must be revoked"
