"""The office's console when DynamoDB refuses for now (sandbox/dynamodb_conflicts.py: another transaction
holds an invoice, or throttling leaves its read unprocessed; moto never does either): a release or an
approval is never a 500 page. The invoices written are released all the same and the page says how many
are not done yet; a click again does the rest. A route that does not handle it answers 503 with Retry-After.

The console runs as its Lambda does: the resolver called with API Gateway's events, signed in by a session
in the table (the sign-in itself is tested in tests/integration/console and the browser test)."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

import boto3
import pytest
from invoice_bridge import wiring
from invoice_bridge.console.app import build_console_app
from invoice_bridge.console.sessions import SignedInUser, open_session
from invoice_bridge.console.web import SESSION_COOKIE
from invoice_bridge.models.invoice import InvoiceStatus
from rest_events import LambdaContext, api_event
from sending_support import World
from test_release_many import held_invoices

from sandbox.dynamodb_conflicts import conflict_dynamodb_writes

HOST = "bridge.example.com"
BY = "released by anna@office.example (console)"


def released_in_console(world: World, invoice_id: str) -> int:
    """How many release events by the signed-in user the invoice's history shows."""
    return sum(e["detail"].startswith(BY) for e in world.shown(invoice_id)["events"])


class Console:
    """A signed-in member of the office's staff posting the console's forms."""

    def __init__(self) -> None:
        user = SignedInUser("anna@office.example", "sub-1", "anna@office.example", ("office-staff",))
        self.cookie, session = open_session(user, wiring.console_sessions(), wiring.console_session_policy(),
                                            datetime.now(UTC))
        self.csrf = session.csrf_token

    def call(self, method: str, path: str, form: list[tuple[str, str]] | None = None) -> dict:  # type: ignore[type-arg]
        headers = {"Host": HOST, "Origin": f"https://{HOST}", "Cookie": f"{SESSION_COOKIE}={self.cookie}",
                   "Accept-Language": "en"}
        body = None
        if form is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            body = urlencode([("csrf", self.csrf), *form])
        response: dict = build_console_app().resolve(api_event(method, path, body, headers), LambdaContext())  # type: ignore[type-arg]
        return response

    def messages(self) -> str:
        """The page the user is sent back to, with the messages the last action left."""
        page = self.call("GET", "/console/approvals")
        assert page["statusCode"] == 200, page["body"][:500]
        return str(page["body"])


@pytest.fixture
def console(world: World, monkeypatch: pytest.MonkeyPatch) -> Console:
    monkeypatch.setenv("CONSOLE_USER_POOL_ID", "eu-north-1_console")
    monkeypatch.setenv("CONSOLE_CLIENT_ID", "console-client")
    # The approvals page names the issuers (consent services, which read Spiris' client secret).
    boto3.client("ssm").put_parameter(Name="/invoice-bridge/spiris-client-secret", Value="s", Type="SecureString")
    wiring.reset()
    return Console()


def test_a_release_of_many_one_of_which_stays_busy_releases_the_others_and_says_one_is_not_done(
    world: World, console: Console,
) -> None:
    ids = held_invoices(world, range(4481, 4485))
    with conflict_dynamodb_writes({f"INVOICE#{ids[2]}"}, transactions=99, single_writes=99):
        response = console.call("POST", "/console/invoices/release", [("invoice_id", i) for i in ids])

    assert response["statusCode"] == 303, response["body"][:500]
    page = console.messages()
    assert "2 invoices are released" in page
    assert "The database was busy just then: 2 of the selected invoices are not done" in page
    # Written in order until the busy one: the first two released and handed on, the rest untouched.
    assert [world.invoices.get(i).status for i in ids] == [InvoiceStatus.RENDERED] * 2 + [InvoiceStatus.HELD] * 2
    assert sorted(m["invoice_id"] for m in world.dispatch_messages()) == sorted(ids[:2])

    again = console.call("POST", "/console/invoices/release", [("invoice_id", i) for i in ids])

    assert again["statusCode"] == 303
    assert "2 invoices are released" in console.messages()
    assert [released_in_console(world, i) for i in ids] == [1] * 4
    assert sorted(m["invoice_id"] for m in world.dispatch_messages()) == sorted(ids[2:])


def test_a_release_whose_read_the_table_keeps_throttling_releases_nothing_and_says_so(
    world: World, console: Console,
) -> None:
    ids = held_invoices(world, range(4491, 4493))
    with conflict_dynamodb_writes({f"INVOICE#{ids[0]}"}, transactions=0, batch_reads=99) as refusals:
        response = console.call("POST", "/console/invoices/release", [("invoice_id", i) for i in ids])

    assert refusals.refused["batch_get_item"] >= 2  # asked again after a pause, never taken as read
    assert response["statusCode"] == 303, response["body"][:500]
    assert "2 of the selected invoices are not done" in console.messages()
    assert [world.invoices.get(i).status for i in ids] == [InvoiceStatus.HELD] * 2 and world.dispatch_messages() == []


def test_releasing_one_invoice_another_transaction_holds_says_nothing_changed(
    world: World, console: Console,
) -> None:
    (invoice_id,) = held_invoices(world, range(4495, 4496))
    with conflict_dynamodb_writes({f"INVOICE#{invoice_id}"}, single_writes=1):
        response = console.call("POST", f"/console/invoices/{invoice_id}/release", [])

    assert response["statusCode"] == 303, response["body"][:500]
    assert "The database was busy just then and nothing was changed" in console.messages()
    assert world.invoices.get(invoice_id).status == InvoiceStatus.HELD

    assert console.call("POST", f"/console/invoices/{invoice_id}/release", [])["statusCode"] == 303
    assert world.invoices.get(invoice_id).status == InvoiceStatus.RENDERED


def test_a_page_whose_read_stays_busy_is_a_503_with_retry_after_not_a_500(world: World, console: Console) -> None:
    ids = held_invoices(world, range(4497, 4498))
    with conflict_dynamodb_writes({f"INVOICE#{ids[0]}"}, transactions=0, batch_reads=99):
        response = console.call("GET", "/console/approvals")

    assert response["statusCode"] == 503, response["body"][:500]
    assert int(response["multiValueHeaders"]["Retry-After"][0]) >= 1
    assert "The database was busy just then. Nothing was lost" in response["body"]
