"""Tenant isolation on the embedded stack: two issuers, A and B, each connected (by a real consent walk) to
its own Spiris sandbox company. One integration's token can never be used for another issuer's company:

(a) A's token-set ciphertext moved onto B's integration does not decrypt (the KMS encryption context is
    {issuer_id, integration_id}), and B's sync then makes no Spiris call at all, so it reads nothing of A's;
(b) a sync of B imports only B's invoices: every one carries B's issuer_id, and every stored document key
    starts with B's issuer id.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import boto3
import httpx
import pytest
from invoice_bridge.adapters.aws import reset_clients
from invoice_bridge.adapters.kms_tokens import DecryptionFailed, KmsTokenStore
from invoice_bridge.models.integration import Integration

from sandbox.contact import grant_consent
from sandbox.seed import RowSpec, customer, invoice, org_number
from sandbox.spiris.jsonutil import dumps
from sandbox.stack import LocalStack


@dataclass
class Tenant:
    """One issuer of the office, its Spiris company, the contact who consents and the invoices there."""

    name: str
    org: str
    email: str
    password: str
    first_number: int
    company_id: str = ""
    issuer_id: str = ""
    integration_id: str = ""
    buyer: dict[str, Any] = field(default_factory=dict)
    numbers: set[str] = field(default_factory=set)


@dataclass
class World:
    stack: LocalStack
    a: Tenant
    b: Tenant

    def admin(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.stack.api_url,
            headers={"Authorization": f"Bearer {self.stack.admin_token}"},
            timeout=60,
        )

    def spiris(self) -> httpx.Client:
        assert self.stack.spiris_url
        return httpx.Client(base_url=self.stack.spiris_url, timeout=30)

    def add_invoice(self, tenant: Tenant) -> str:
        number = tenant.first_number + len(tenant.numbers)
        source = invoice(
            tenant.buyer, number, [RowSpec(f"Konsulttimmar {tenant.name}", Decimal("3"), Decimal("950.00"))]
        )
        with self.spiris() as spiris:
            spiris.post(
                f"/_sandbox/companies/{tenant.company_id}/customerinvoices",
                content=dumps(source).encode(),
                headers={"Content-Type": "application/json"},
            ).raise_for_status()
        tenant.numbers.add(str(number))
        return str(number)

    def sync(self, tenant: Tenant) -> None:
        with self.admin() as admin:
            admin.post(f"/integrations/{tenant.integration_id}/sync").raise_for_status()
        self.stack.drain_until_idle(timeout=120)

    def invoices(self, issuer_id: str | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": 500}
        if issuer_id:
            params["issuer_id"] = issuer_id
        with self.admin() as admin:
            listed = admin.get("/invoices", params=params)
            listed.raise_for_status()
            return [admin.get(f"/invoices/{i['id']}").json() for i in listed.json()["items"]]

    def integration(self, tenant: Tenant) -> Integration:
        with self.admin() as admin:
            got = admin.get(f"/integrations/{tenant.integration_id}")
            got.raise_for_status()
            body = got.json()
        # Only the two fields the encryption context is made of; the rest is not needed here.
        return Integration(
            id=body["id"], issuer_id=body["issuer_id"], contact_name="x", contact_email=tenant.email
        )

    def integration_status(self, tenant: Tenant) -> str:
        with self.admin() as admin:
            return str(admin.get(f"/integrations/{tenant.integration_id}").json()["status"])

    def document_keys(self) -> list[str]:
        s3 = boto3.client("s3")
        bucket = self.stack.environment["DOCUMENTS_BUCKET"]
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return [obj["Key"] for page in pages for obj in page.get("Contents", [])]

    def spiris_api_calls(self) -> int:
        """Every /v2 (company data) request the Spiris sandbox has served so far."""
        with self.spiris() as spiris:
            requests = spiris.get("/_sandbox/stats").json()["requests"]
        return sum(count for key, count in requests.items() if key.split(" ", 1)[1].startswith("/v2/"))


def connect(world: World, tenant: Tenant, buyer_prefix: str, buyer_number: str) -> None:
    """Spiris company + contact + buyer, the issuer and its integration, and a consent walked by form posts."""
    with world.spiris() as spiris:
        created = spiris.post(
            "/_sandbox/companies",
            json={"name": tenant.name, "corporate_identity_number": tenant.org, "modules": {"api": True}},
        )
        created.raise_for_status()
        tenant.company_id = created.json()["id"]
        spiris.post(
            "/_sandbox/users",
            json={
                "email": tenant.email,
                "password": tenant.password,
                "companies": [tenant.company_id],
                "default_company": tenant.company_id,
                "full_access": True,
            },
        ).raise_for_status()
        tenant.buyer = customer(
            f"Kund till {tenant.name}",
            org_number(buyer_prefix),
            customer_number=buyer_number,
            email=f"ekonomi@{buyer_prefix}.example.se",
        )
        spiris.post(
            f"/_sandbox/companies/{tenant.company_id}/customers",
            content=dumps(tenant.buyer).encode(),
            headers={"Content-Type": "application/json"},
        ).raise_for_status()
    with world.admin() as admin:
        issuer = admin.post(
            "/issuers",
            json={
                "name": tenant.name,
                "org_number": f"{tenant.org[:6]}-{tenant.org[6:]}",
                "vat_number": f"SE{tenant.org}01",
                "address": {
                    "street": "Storgatan 1",
                    "postal_code": "111 22",
                    "city": "Stockholm",
                    "country": "SE",
                },
                "notification_email": tenant.email,
                "language": "sv",
                "bankgiro": "5050-1055",
                "f_skatt": True,
            },
        )
        assert issuer.status_code == 201, issuer.text
        tenant.issuer_id = issuer.json()["id"]
        ordered = admin.post(
            f"/issuers/{tenant.issuer_id}/integrations",
            json={
                "source": "spiris",
                "contact_name": f"Kontakt {tenant.name}",
                "contact_email": tenant.email,
            },
        )
        assert ordered.status_code == 201, ordered.text
        tenant.integration_id = ordered.json()["id"]
        consent_url = ordered.json()["consent_url"]
    outcome = grant_consent(
        consent_url, email=tenant.email, password=tenant.password, company_id=tenant.company_id
    )
    assert outcome.status_code == 200, outcome.html[:500]
    assert world.integration_status(tenant) == "active"


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    # A failing sync message comes back after 1 s (not the template's 1800 s) and reaches the DLQ quickly.
    with LocalStack(run_scheduler=False, queue_visibility_seconds=1) as stack:
        reset_clients()  # boto3 clients cached by earlier tests point at another moto
        a = Tenant(
            "Alfa Bygg AB", org_number("556111222"), "anna@alfabygg.example.se", "Alfa-Lösen-2026!", 2001
        )
        b = Tenant(
            "Beta Konsult AB", org_number("556333444"), "bo@betakonsult.example.se", "Beta-Lösen-2026!", 3001
        )
        running = World(stack=stack, a=a, b=b)
        connect(running, a, "556555666", "21")
        connect(running, b, "556777888", "31")
        for _ in range(3):
            running.add_invoice(a)
        for _ in range(2):
            running.add_invoice(b)
        yield running
        reset_clients()


def test_b_sync_imports_only_b_invoices_under_b_keys(world: World) -> None:
    a, b = world.a, world.b
    world.sync(b)

    everything = world.invoices()  # every issuer's invoices: A has not synced, so all must be B's
    assert everything, "B's sync imported nothing"
    assert {i["issuer_id"] for i in everything} == {b.issuer_id}
    assert {i["number"] for i in everything} == b.numbers
    assert not {i["number"] for i in everything} & a.numbers
    assert world.invoices(a.issuer_id) == []

    invoice_keys = [k for k in world.document_keys() if "/invoices/" in k]
    assert invoice_keys, "B's sync stored no documents"
    assert all(k.startswith(f"{b.issuer_id}/invoices/") for k in invoice_keys), invoice_keys
    b_invoice_ids = {i["id"] for i in everything}
    assert {k.split("/")[2] for k in invoice_keys} <= b_invoice_ids

    # Then A syncs: its invoices arrive under A, B's stay exactly as they were.
    world.sync(a)
    by_issuer = {
        issuer: {i["number"] for i in world.invoices(issuer)} for issuer in (a.issuer_id, b.issuer_id)
    }
    assert by_issuer == {a.issuer_id: a.numbers, b.issuer_id: b.numbers}
    for item in world.invoices():
        prefix = f"{item['issuer_id']}/invoices/{item['id']}/"
        keys = [k for k in world.document_keys() if f"/invoices/{item['id']}/" in k]
        assert keys and all(k.startswith(prefix) for k in keys), (item["number"], keys)


def test_a_token_moved_onto_b_does_not_decrypt_and_b_reads_nothing_of_a(world: World) -> None:
    a, b = world.a, world.b
    env = world.stack.environment
    store = KmsTokenStore(env["TABLE_NAME"], env["TOKEN_KEY_ID"])
    integration_a, integration_b = world.integration(a), world.integration(b)

    # Control: A's token set decrypts under A's own context, and its access token does open A's company,
    # so using it for B would really leak A's books.
    tokens_a = store.load(integration_a)
    assert tokens_a is not None
    with world.spiris() as spiris:
        settings = spiris.get(
            "/v2/companysettings", headers={"Authorization": f"Bearer {tokens_a.tokens.access_token}"}
        )
    assert settings.status_code == 200
    assert settings.json()["CorporateIdentityNumber"].replace("-", "") == a.org
    assert store.load(integration_b) is not None  # B's own token set is fine before the move

    # The attack: copy A's ciphertext onto B's token item (what a bug or a bad restore could do).
    table = boto3.resource("dynamodb").Table(env["TABLE_NAME"])
    item_a = table.get_item(Key={"PK": f"INTEGRATION#{a.integration_id}", "SK": "TOKENS"})["Item"]
    item_b = table.get_item(Key={"PK": f"INTEGRATION#{b.integration_id}", "SK": "TOKENS"})["Item"]
    try:
        attack_with_moved_ciphertext(world, store, integration_b, item_a)
    finally:  # give B its own token set back: the other tests see an intact world
        table.put_item(Item=item_b)
    assert store.load(integration_b) is not None


def attack_with_moved_ciphertext(
    world: World, store: KmsTokenStore, integration_b: Integration, item_a: dict[str, Any]
) -> None:
    a, b = world.a, world.b
    table = boto3.resource("dynamodb").Table(world.stack.environment["TABLE_NAME"])
    table.update_item(
        Key={"PK": f"INTEGRATION#{b.integration_id}", "SK": "TOKENS"},
        UpdateExpression="SET ciphertext = :c",
        ExpressionAttributeValues={":c": item_a["ciphertext"]},
    )
    with pytest.raises(DecryptionFailed):
        store.load(integration_b)

    # A has a new invoice waiting in Spiris: a sync that reached A's company would import it.
    new_number = world.add_invoice(a)
    before_calls = world.spiris_api_calls()
    before = {i["id"]: (i["issuer_id"], i["number"]) for i in world.invoices()}
    dead_letters = world.stack.aws.resources.queue_urls["SyncDeadLetterQueue"]

    world.sync(b)

    # B's sync made no Spiris API call at all (it failed before using any token) and imported nothing.
    assert world.spiris_api_calls() == before_calls
    after = {i["id"]: (i["issuer_id"], i["number"]) for i in world.invoices()}
    assert after == before
    assert new_number not in {number for _, number in after.values()}
    assert all(issuer == b.issuer_id for issuer, number in after.values() if number in b.numbers)
    # The unreadable grant is not retried into the dead-letter queue: B needs a new consent, and the
    # issuer and the office are told (the contact gets a fresh link).
    assert _visible_messages(dead_letters) == 0
    assert world.integration_status(b) == "needs_reconsent"


def _visible_messages(queue_url: str) -> int:
    sqs = boto3.client("sqs")
    deadline = time.monotonic() + 10
    while True:
        attributes = sqs.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )
        count = int(attributes["Attributes"]["ApproximateNumberOfMessages"])
        if count or time.monotonic() > deadline:
            return count
        time.sleep(0.2)


def test_b_consent_link_completed_with_a_company_stores_no_token_for_b(world: World) -> None:
    """The other way to get A's company onto B's integration: someone with Spiris access to both companies
    (an accountant) opens B's consent link and picks A's company. The grant is refused and revoked."""
    a, b = world.a, world.b
    table = boto3.resource("dynamodb").Table(world.stack.environment["TABLE_NAME"])
    tokens_key = {"PK": f"INTEGRATION#{b.integration_id}", "SK": "TOKENS"}
    before = table.get_item(Key=tokens_key, ConsistentRead=True)["Item"]
    status_before = world.integration_status(b)
    with world.spiris() as spiris:
        spiris.post(
            "/_sandbox/users",
            json={
                "email": "redovisare@byra.example.se",
                "password": "Byra-Lösen-2026!",
                "companies": [a.company_id, b.company_id],
                "default_company": None,
                "full_access": True,
            },
        ).raise_for_status()
    with world.admin() as admin:
        invited = admin.post(f"/integrations/{b.integration_id}/invite")
        assert invited.status_code in (200, 201), invited.text
        consent_url = invited.json()["consent_url"]

    outcome = grant_consent(
        consent_url, email="redovisare@byra.example.se", password="Byra-Lösen-2026!", company_id=a.company_id
    )

    assert "Fel företag valdes" in outcome.html or "The wrong company was chosen" in outcome.html
    assert table.get_item(Key=tokens_key, ConsistentRead=True)["Item"]["ciphertext"] == before["ciphertext"]
    # B stays connected to its own company (a failed second attempt never downgrades a working grant),
    # and nothing of A's company was recorded on it.
    with world.admin() as admin:
        after_b = admin.get(f"/integrations/{b.integration_id}").json()
    assert after_b["status"] == status_before
    assert after_b["company"]["org_number"] == b.org
    assert world.integration_status(a) == "active"
