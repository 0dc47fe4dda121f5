"""Every function of the template, run by the embedded stack with only its own role's permissions,
through one office's story: onboarding, consent, a scheduled sync that refreshes the Spiris token,
render, release, dispatch by e-invoice, e-mail and print, tracking that finds failed deliveries and sends
failed e-invoices on as letters, an SES bounce, the admin's document links, a retry, approval mode with a
change that only dispatch's fresh look at Spiris sees, a revoked grant and a deleted integration. A refused
AWS call fails the step at once: in AWS it is a failure
too, also where the code survives it (a receipt mail that is never sent). The IAM mutation run
(scripts/iam_mutation.py) relies on these steps to notice a missing statement."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import boto3
import httpx
import pytest
from boto3.dynamodb.conditions import Attr
from sns_events import sns_record

from sandbox.scenario import CONTACT_EMAIL, Scenario
from sandbox.stack import LocalStack

NOTIFICATION_EMAIL = "ekonomi@exempelbolaget.se"  # the issuer's, as sandbox.scenario registers it
OPERATOR_CHANNELS = {"einvoice", "print"}


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(run_scheduler=False) as running:
        yield running


@pytest.fixture(scope="module")
def story(stack: LocalStack) -> Scenario:
    return Scenario(stack.api_url, stack.admin_token, stack.spiris_url, stack.operator_url)


@pytest.fixture(autouse=True)
def _no_call_refused(stack: LocalStack) -> Iterator[None]:
    before = len(stack.authorizer.denials)  # type: ignore[union-attr]
    yield
    refusals = [d.message for d in stack.authorizer.denials[before:]]  # type: ignore[union-attr]
    assert refusals == [], refusals


def refusals(stack: LocalStack) -> list[str]:
    return [d.message for d in stack.authorizer.denials]  # type: ignore[union-attr]


def wait_for(stack: LocalStack, predicate: Callable[[], Any], timeout: float = 90.0) -> Any:
    """Poll `predicate` until it is truthy; fail at once when any function was refused a call."""
    deadline = time.monotonic() + timeout
    while True:
        assert not refusals(stack), refusals(stack)
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.3)


def mails_to(stack: LocalStack, address: str) -> list[dict[str, Any]]:
    return [m for m in stack.mail() if address in m["to"]]


def by_number(story: Scenario) -> dict[str, dict[str, Any]]:
    return {i["number"]: i for i in story.invoices()}


def test_the_office_onboards_an_issuer_and_orders_an_integration(stack: LocalStack, story: Scenario) -> None:
    story.seed_spiris()
    story.create_issuer(story.seed_operator())  # admin: issuer, logo (S3 + KMS), operator credentials (KMS)
    consent_url = story.order_integration()
    assert [consent_url in m["text"] for m in mails_to(stack, CONTACT_EMAIL)] == [True]
    story.consent_url = consent_url  # type: ignore[attr-defined]


def test_the_contact_grants_access_and_gets_a_receipt(stack: LocalStack, story: Scenario) -> None:
    spiris = httpx.Client(base_url=stack.spiris_url)
    # A short-lived access token, so that the first sync must refresh it (decrypt, encrypt, lease).
    spiris.post("/_sandbox/config", json={"access_token_lifetime_seconds": 2}).raise_for_status()
    assert story.consent(story.consent_url) == 200  # type: ignore[attr-defined]
    spiris.post("/_sandbox/config", json={"access_token_lifetime_seconds": 3600}).raise_for_status()
    with story.admin() as admin:
        assert admin.get(f"/integrations/{story.integration_id}").json()["status"] == "active"
    assert len(mails_to(stack, CONTACT_EMAIL)) == 2  # the invitation, then the receipt of the grant


def test_the_scheduled_sync_renders_and_the_released_invoices_go_out(stack: LocalStack, story: Scenario) -> None:
    operator = httpx.Client(base_url=stack.operator_url)
    operator.post("/_sandbox/faults", json={"fail_delivery_rate": 1.0, "delivery_delay": 0}).raise_for_status()
    time.sleep(2.5)  # the access token has expired
    assert stack.tick("PollInvoicesFunction")["PollInvoicesFunction.Every5Minutes"] == {"enqueued": 1}
    # The first sync holds what it finds for the office's review; the office releases it.
    wait_for(stack, lambda: len([i for i in story.invoices() if i["status"] == "held"]) == story.expected_selected)
    assert story.release_held() == story.expected_selected

    def all_sent() -> dict[str, dict[str, Any]] | None:
        invoices = by_number(story)
        done = len(invoices) == story.expected_selected and all(i["status"] == "sent" for i in invoices.values())
        return invoices if done else None

    invoices = wait_for(stack, all_sent)
    assert {i["channel"] for i in invoices.values()} == OPERATOR_CHANNELS | {"email"}
    buyer_mails = [m for m in stack.mail() if any(a.endswith(".pdf") for a in m["attachments"])]
    assert len(buyer_mails) == sum(i["channel"] == "email" for i in invoices.values())


def test_tracking_reroutes_failed_einvoices_and_fails_what_is_left(stack: LocalStack, story: Scenario) -> None:
    """The operator fails every delivery. The tracker sends each failed e-invoice on to the issuer's next
    channel (a dispatch message, with its role), which the dispatcher sends; a failed letter has no
    channel left: failed, and the issuer is told."""
    stack.tick("TrackDeliveriesFunction")

    def rerouted_and_sent() -> bool:
        invoices = by_number(story).values()
        settled = all(i["status"] in ("sent", "failed") for i in invoices)
        return settled and not any(i["channel"] == "einvoice" and i["status"] == "sent" for i in invoices)

    wait_for(stack, rerouted_and_sent)
    stack.tick("TrackDeliveriesFunction")  # the letters the e-invoices went on as fail too
    invoices = by_number(story)
    failed = [n for n, i in invoices.items() if i["channel"] in OPERATOR_CHANNELS]
    assert failed and all(invoices[n]["status"] == "failed" for n in failed)
    assert len(mails_to(stack, NOTIFICATION_EMAIL)) == len(failed)


def test_a_bounce_fails_the_email_and_tells_the_issuer(stack: LocalStack, story: Scenario) -> None:
    (emailed, *_) = [i for i in by_number(story).values() if i["channel"] == "email"]
    table = boto3.resource("dynamodb", endpoint_url=stack.aws_endpoint_url, region_name=stack.aws_region)
    items = table.Table(stack.environment["TABLE_NAME"]).scan(
        FilterExpression=Attr("PK").begins_with("SESMSG#") & Attr("invoice_id").eq(emailed["id"]))["Items"]
    message_id = items[0]["PK"].removeprefix("SESMSG#")
    notices_before = len(mails_to(stack, NOTIFICATION_EMAIL))
    bounce = {"eventType": "Bounce", "mail": {"messageId": message_id, "destination": ["buyer@example.se"]},
              "bounce": {"bounceType": "Permanent", "bounceSubType": "General",
                         "bouncedRecipients": [{"emailAddress": "buyer@example.se", "status": "5.1.1"}]}}
    topic = f"arn:aws:sns:{stack.aws_region}:123456789012:SesEventsTopic"
    outcome = stack.handlers.invoke("SesEventsFunction", {"Records": [sns_record(bounce, topic)]})
    assert outcome == {"outcomes": ["failed"]}
    assert by_number(story)[emailed["number"]]["status"] == "failed"
    assert len(mails_to(stack, NOTIFICATION_EMAIL)) == notices_before + 1


def test_the_admin_links_the_documents_and_retries_a_failed_invoice(stack: LocalStack, story: Scenario) -> None:
    invoice = next(i for i in by_number(story).values() if i["channel"] in OPERATOR_CHANNELS)
    assert httpx.get(invoice["pdf_url"]).content.startswith(b"%PDF")  # presigned: the admin's role reads it
    with story.admin() as admin:
        admin.post(f"/invoices/{invoice['id']}/retry").raise_for_status()
    # A retry is a new version: rendered and, no longer held, sent again.
    wait_for(stack, lambda: (lambda i: version(i) > version(invoice) and i["status"] == "sent")(
        by_number(story)[invoice["number"]]))


def test_an_invoice_changed_just_before_sending_waits_for_approval_again(stack: LocalStack, story: Scenario) -> None:
    """Approval mode: the admin lists what waits (the waiting index) and approves; the dispatcher's fresh
    look reads the invoice from Spiris (the integration's token set, the client secret, the shared budget),
    finds it changed since and hands the next version to render, which holds it for a new approval."""
    from sandbox.onboarding import post_json
    from sandbox.seed import RowSpec, customer, invoice, org_number

    with story.admin() as admin:
        admin.patch(f"/issuers/{story.issuer_id}", json={"sending": "approve"}).raise_for_status()
    buyer = customer("Café Solsidan AB", org_number("556345678"), customer_number="12",
                     email="ekonomi@cafesolsidan.se", city="Göteborg")
    spiris = httpx.Client(base_url=stack.spiris_url)
    companies = f"/_sandbox/companies/{story.company_id}/customerinvoices"
    source = invoice(buyer, 1020, [RowSpec("Kaffe", Decimal("3"), Decimal("99.00"))])
    source_id = post_json(spiris, companies, source).json()["id"]
    story.sync_now()

    def waiting(version: int) -> dict[str, Any] | None:
        with story.admin() as admin:
            items = admin.get("/approvals", params={"issuer_id": story.issuer_id}).json()["items"]
        return next((i for i in items if i["number"] == "1020" and i["version"] == version), None)

    first = wait_for(stack, lambda: waiting(1))
    spiris.patch(f"{companies}/{source_id}", json={"YourReference": "Ny referens"}).raise_for_status()
    with story.admin() as admin:
        admin.post(f"/invoices/{first['id']}/approve").raise_for_status()
    wait_for(stack, lambda: waiting(2))  # the approved content changed: never sent, approved again
    with story.admin() as admin:
        admin.post(f"/invoices/{first['id']}/approve").raise_for_status()
    wait_for(stack, lambda: by_number(story)["1020"]["status"] == "sent")
    with story.admin() as admin:
        admin.patch(f"/issuers/{story.issuer_id}", json={"sending": "automatic"}).raise_for_status()


def test_a_revoked_grant_stops_the_integration_and_the_office_hears_of_it(stack: LocalStack, story: Scenario) -> None:
    httpx.post(f"{stack.spiris_url}/_sandbox/faults", json={"revoke_all": True}).raise_for_status()
    mails_before = len(stack.mail())
    story.sync_now()

    def status() -> str | None:
        with story.admin() as admin:
            found = admin.get(f"/integrations/{story.integration_id}").json()["status"]
        return found if found == "needs_reconsent" else None

    wait_for(stack, status)
    wait_for(stack, lambda: len(stack.mail()) > mails_before)


def test_deleting_the_integration_forgets_its_tokens(stack: LocalStack, story: Scenario) -> None:
    with story.admin() as admin:
        admin.delete(f"/integrations/{story.integration_id}").raise_for_status()
    table = boto3.resource("dynamodb", endpoint_url=stack.aws_endpoint_url, region_name=stack.aws_region)
    key = {"PK": f"INTEGRATION#{story.integration_id}", "SK": "TOKENS"}
    assert "Item" not in table.Table(stack.environment["TABLE_NAME"]).get_item(Key=key)


def version(invoice: dict[str, Any]) -> int:
    """The rendered version, from the document link (`.../v{version}/invoice.pdf`)."""
    found = re.search(r"/v(\d+)/invoice\.pdf", invoice.get("pdf_url") or "")
    return int(found.group(1)) if found else 0
