"""The office sets up an issuer's operator account (PUT/DELETE /issuers/{id}/operator, .../check) through
the admin resolver, on moto (DynamoDB, KMS, SSM) and the operator sandbox over real HTTP (issue 17.3, 17.4):
InExchange client tokens created from the partner key for our id and revoked when replaced or removed;
Maventa's print settings read back and told as warnings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from consent_support import BUCKET, DEFAULT_CLIENT_SECRET, Aws, Spiris, call, json_body, make_settings
from invoice_bridge import wiring
from invoice_bridge.adapters.s3_documents import S3DocumentStore
from invoice_bridge.api.admin import build_app
from invoice_bridge.wiring import build_consent_services
from test_admin_routes import create_issuer

from sandbox.operator import serve

PARTNER_KEY, VENDOR_KEY = "partner-key-very-secret", "vendor-key-very-secret"


@pytest.fixture
def operator_url() -> Iterator[str]:
    server, url = serve(vendor_api_key=VENDOR_KEY, partner_api_key=PARTNER_KEY)
    yield url
    server.shutdown()


@pytest.fixture
def app(aws: Aws, spiris: Spiris, mailer: Any, operator_url: str) -> Iterator[Any]:
    ssm = boto3.client("ssm")
    settings = make_settings(aws, spiris.url).model_copy(update={"operator_url": operator_url,
                                                                  "inexchange_url": operator_url})
    ssm.put_parameter(Name=settings.maventa_vendor_api_key_parameter, Value=VENDOR_KEY, Type="SecureString")
    ssm.put_parameter(Name=settings.inexchange_partner_api_key_parameter, Value=PARTNER_KEY, Type="SecureString")
    built = build_consent_services(settings, client_secret=DEFAULT_CLIENT_SECRET, mailer=mailer,
                                   documents=S3DocumentStore(BUCKET))
    with wiring.override(consent_services=built):
        yield build_app()


def _stats(operator_url: str) -> dict[str, int]:
    return httpx.get(f"{operator_url}/_sandbox/stats").json()  # type: ignore[no-any-return]


def _stored(issuer_id: str) -> tuple[str, dict[str, str]] | None:
    store = wiring.consent_services().operator_credentials
    assert store is not None
    return store.load(issuer_id)


def test_an_inexchange_client_token_is_created_for_our_id_and_revoked_when_replaced(app: Any, operator_url: str) -> None:
    issuer = create_issuer(app)
    httpx.post(f"{operator_url}/_sandbox/inexchange/clients", json={"erp_id": issuer["id"]}).raise_for_status()
    created = call(app, "PUT", f"/issuers/{issuer['id']}/operator", body={"provider": "inexchange"})
    assert created["statusCode"] == 204, created["body"]
    provider, credentials = _stored(issuer["id"]) or ("", {})
    assert provider == "inexchange" and credentials["erp_id"] == issuer["id"]
    token = credentials["client_token"]
    item = boto3.client("dynamodb").scan(TableName="consent-test-table")["Items"]
    assert token not in str(item) and PARTNER_KEY not in str(item)
    shown = call(app, "GET", f"/issuers/{issuer['id']}")
    assert token not in shown["body"] and json_body(shown)["operator_provider"] == "inexchange"

    account = httpx.post(f"{operator_url}/_sandbox/accounts", json={}).json()
    replaced = call(app, "PUT", f"/issuers/{issuer['id']}/operator", body={"provider": "maventa", **account})
    assert replaced["statusCode"] == 204
    assert _stats(operator_url) == {**_stats(operator_url), "client_tokens_created": 1, "client_tokens_revoked": 1}


def test_removing_the_account_revokes_the_token(app: Any, operator_url: str) -> None:
    issuer = create_issuer(app)
    httpx.post(f"{operator_url}/_sandbox/inexchange/clients", json={"erp_id": issuer["id"]}).raise_for_status()
    assert call(app, "PUT", f"/issuers/{issuer['id']}/operator", body={"provider": "inexchange"})["statusCode"] == 204
    removed = call(app, "DELETE", f"/issuers/{issuer['id']}/operator")
    assert removed["statusCode"] == 204
    assert _stored(issuer["id"]) is None and _stats(operator_url)["client_tokens_revoked"] == 1
    assert json_body(call(app, "GET", f"/issuers/{issuer['id']}"))["operator_provider"] is None


def test_a_pasted_client_token_still_works_and_an_unknown_client_is_a_4xx(app: Any, operator_url: str) -> None:
    issuer = create_issuer(app)
    pasted = call(app, "PUT", f"/issuers/{issuer['id']}/operator",
                  body={"provider": "inexchange", "client_token": "pasted-token"})
    assert pasted["statusCode"] == 204
    assert _stored(issuer["id"]) == ("inexchange", {"client_token": "pasted-token"})
    other = create_issuer(app)  # not registered at InExchange under our id
    refused = call(app, "PUT", f"/issuers/{other['id']}/operator", body={"provider": "inexchange"})
    assert refused["statusCode"] == 422 and json_body(refused)["error"]["code"] == "operator_refused"
    assert "ErpId" in json_body(refused)["error"]["message"] and _stored(other["id"]) is None


def test_the_print_settings_are_read_back_and_told_as_warnings(app: Any, operator_url: str) -> None:
    issuer = create_issuer(app)
    account = httpx.post(f"{operator_url}/_sandbox/accounts", json={"print": {"use_own_pdf": False}}).json()
    assert call(app, "PUT", f"/issuers/{issuer['id']}/operator", body={"provider": "maventa", **account})["statusCode"] == 204
    shown = json_body(call(app, "GET", f"/issuers/{issuer['id']}"))
    assert shown["operator_print"]["enabled"] is True and shown["operator_print"]["own_image"] is False
    assert len(shown["warnings"]) == 1 and "own template" in shown["warnings"][0]

    httpx.patch(f"{operator_url}/_sandbox/accounts/{account['company_uuid']}", json={"print": {"enabled": False}})
    checked = call(app, "POST", f"/issuers/{issuer['id']}/operator/check")
    assert checked["statusCode"] == 200
    assert json_body(checked)["warnings"] == [
        "letters cannot be sent: the operator's print service is off for this issuer's account; turn it on in "
        "the operator's portal or turn print_fallback off"]
    no_letters = call(app, "PATCH", f"/issuers/{issuer['id']}", body={"dispatch": {"print_fallback": False}})
    assert json_body(no_letters)["warnings"] == []


def test_the_check_needs_an_account(app: Any) -> None:
    issuer = create_issuer(app)
    answer = call(app, "POST", f"/issuers/{issuer['id']}/operator/check")
    assert answer["statusCode"] == 409 and json_body(answer)["error"]["code"] == "no_operator"
