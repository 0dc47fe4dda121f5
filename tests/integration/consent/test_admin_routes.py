"""Issuer and integration admin routes through the resolver, with API Gateway REST events, on moto."""

from __future__ import annotations

import struct
import zlib
from typing import Any

import boto3
import pytest
from consent_support import BUCKET, ISSUER_ORG, PUBLIC_BASE_URL, TABLE, call, json_body, post_integration
from invoice_bridge.api.admin import build_app
from invoice_bridge.consent.secrets_ import token_hash


def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


ISSUER_BODY: dict[str, Any] = {
    "name": "Exempelbolaget AB",
    "org_number": "556036-0793",
    "vat_number": "se 556036079301",
    "address": {"street": "Exempelvägen 2", "postal_code": "222 33", "city": "Lund", "country": "SE"},
    "notification_email": "ekonomi@exempel.se",
    "language": "sv",
    "bankgiro": "123-4567",
    "f_skatt": True,
}


@pytest.fixture
def app(services):  # type: ignore[no-untyped-def]
    return build_app()


def create_issuer(app: Any, **overrides: Any) -> dict[str, Any]:
    response = call(app, "POST", "/issuers", body={**ISSUER_BODY, **overrides})
    assert response["statusCode"] == 201, response["body"]
    return json_body(response)


def test_create_issuer_normalises_org_and_vat_numbers(app: Any) -> None:
    issuer = create_issuer(app)
    assert issuer["org_number"] == ISSUER_ORG
    assert issuer["vat_number"] == f"SE{ISSUER_ORG}01"
    got = call(app, "GET", f"/issuers/{issuer['id']}")
    assert got["statusCode"] == 200
    assert json_body(got)["name"] == "Exempelbolaget AB"


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"org_number": "556036-0794"}, "invalid_org_number"),  # wrong Luhn check digit
        ({"vat_number": "SE556036079302"}, "invalid_vat_number"),
        ({"vat_number": "SE556559423001"}, "vat_number_mismatch"),  # valid, but another company's
        ({"notification_email": "not-an-address"}, "invalid_request"),
        ({"language": "de"}, "invalid_request"),
        ({"iban": "SE4550000000058398257466", "bic": "ESSE SE"}, "invalid_bic"),
    ],
)
def test_create_issuer_refuses_bad_input_with_4xx_and_stores_nothing(
    app: Any, overrides: dict, code: str
) -> None:
    response = call(app, "POST", "/issuers", body={**ISSUER_BODY, **overrides})
    assert 400 <= response["statusCode"] < 500
    assert json_body(response)["error"]["code"] == code
    assert boto3.client("dynamodb").scan(TableName=TABLE)["Count"] == 0


def test_patch_issuer_settings(app: Any) -> None:
    issuer = create_issuer(app)
    response = call(
        app,
        "PATCH",
        f"/issuers/{issuer['id']}",
        body={"payee": "office", "dispatch": {"print_fallback": False}},
    )
    assert response["statusCode"] == 200, response["body"]
    body = json_body(response)
    assert body["payee"] == "office"
    assert body["dispatch"] == {"attach_pdf": True, "email_fallback": True, "print_fallback": False}
    assert json_body(call(app, "GET", f"/issuers/{issuer['id']}"))["payee"] == "office"
    bad = call(app, "PATCH", f"/issuers/{issuer['id']}", body={"payee": "bank"})
    assert bad["statusCode"] == 422


def test_the_sending_mode_and_the_send_delay_are_issuer_settings(app: Any) -> None:
    """contract.md §3: `sending` (automatic/approve) and `send_delay_hours` (0–72) on PATCH /issuers/{id}."""
    issuer = create_issuer(app)
    assert (issuer["sending"], issuer["send_delay_hours"]) == ("automatic", 0)
    patched = call(app, "PATCH", f"/issuers/{issuer['id']}", body={"sending": "approve", "send_delay_hours": 72})
    assert patched["statusCode"] == 200, patched["body"]
    stored = json_body(call(app, "GET", f"/issuers/{issuer['id']}"))
    assert (stored["sending"], stored["send_delay_hours"]) == ("approve", 72)
    for refused in ({"sending": "manual"}, {"sending": None}, {"send_delay_hours": 73}, {"send_delay_hours": -1},
                    {"send_delay_hours": 1.5}, {"send_delay_hours": True}, {"send_delay_hours": None}):
        answer = call(app, "PATCH", f"/issuers/{issuer['id']}", body=refused)
        assert answer["statusCode"] == 422, refused
    stored = json_body(call(app, "GET", f"/issuers/{issuer['id']}"))
    assert (stored["sending"], stored["send_delay_hours"]) == ("approve", 72)  # nothing refused was stored
    created = create_issuer(app, sending="approve", send_delay_hours=4)
    assert (created["sending"], created["send_delay_hours"]) == ("approve", 4)


def test_archiving_spiris_pdf_is_an_issuer_setting_off_by_default(app: Any) -> None:
    """`archive_source_pdf`: off when created, and for an issuer stored before the setting existed; PATCH
    turns it on and off; only a boolean is taken."""
    issuer = create_issuer(app)
    assert issuer["archive_source_pdf"] is False
    patched = call(app, "PATCH", f"/issuers/{issuer['id']}", body={"archive_source_pdf": True})
    assert patched["statusCode"] == 200, patched["body"]
    assert json_body(call(app, "GET", f"/issuers/{issuer['id']}"))["archive_source_pdf"] is True
    for refused in ({"archive_source_pdf": None}, {"archive_source_pdf": "sometimes"}):
        assert call(app, "PATCH", f"/issuers/{issuer['id']}", body=refused)["statusCode"] == 422, refused
    assert json_body(call(app, "GET", f"/issuers/{issuer['id']}"))["archive_source_pdf"] is True
    boto3.resource("dynamodb").Table(TABLE).update_item(
        Key={"PK": f"ISSUER#{issuer['id']}", "SK": "ISSUER"}, UpdateExpression="REMOVE archive_source_pdf")
    assert json_body(call(app, "GET", f"/issuers/{issuer['id']}"))["archive_source_pdf"] is False
    assert create_issuer(app, archive_source_pdf=True)["archive_source_pdf"] is True


def test_the_issuers_bic_goes_with_its_iban_for_buyers_abroad(app: Any) -> None:
    issuer = create_issuer(app, iban="SE4550000000058398257466", bic="esse se ss")
    assert (issuer["iban"], issuer["bic"]) == ("SE4550000000058398257466", "ESSESESS")
    patched = call(app, "PATCH", f"/issuers/{issuer['id']}", body={"bic": "NDEASESSXXX"})
    assert patched["statusCode"] == 200 and json_body(patched)["bic"] == "NDEASESSXXX"
    refused = call(app, "PATCH", f"/issuers/{issuer['id']}", body={"bic": "NDEA"})
    assert refused["statusCode"] == 422 and json_body(refused)["error"]["code"] == "invalid_bic"


def test_unknown_issuer_is_404(app: Any) -> None:
    response = call(app, "GET", "/issuers/nope")
    assert response["statusCode"] == 404
    assert json_body(response)["error"]["code"] == "not_found"


def test_logo_upload_checks_type_size_and_magic_bytes(app: Any) -> None:
    issuer = create_issuer(app)
    path = f"/issuers/{issuer['id']}/logo"
    png = tiny_png()
    ok = call(app, "PUT", path, raw=png, headers={"Content-Type": "image/png"})
    assert ok["statusCode"] == 204, ok["body"]
    stored = boto3.client("s3").get_object(Bucket=BUCKET, Key=f"{issuer['id']}/logo")
    assert stored["Body"].read() == png
    assert stored["ContentType"] == "image/png"
    assert json_body(call(app, "GET", f"/issuers/{issuer['id']}"))["has_logo"] is True

    assert call(app, "PUT", path, raw=png, headers={"Content-Type": "image/gif"})["statusCode"] == 415
    assert call(app, "PUT", path, raw=png, headers={"Content-Type": "image/jpeg"})["statusCode"] == 400
    big = png + b"\x00" * (1024 * 1024)
    assert call(app, "PUT", path, raw=big, headers={"Content-Type": "image/png"})["statusCode"] == 413


def test_operator_credentials_are_stored_encrypted_and_never_returned(app: Any, services) -> None:  # type: ignore[no-untyped-def]
    issuer = create_issuer(app)
    secret = "maventa-api-key-very-secret"
    body = {"provider": "maventa", "company_uuid": "0f1e2d3c-aaaa-bbbb-cccc-001122334455", "api_key": secret}
    response = call(app, "PUT", f"/issuers/{issuer['id']}/operator", body=body)
    assert response["statusCode"] == 204
    item = boto3.client("dynamodb").get_item(
        TableName=TABLE, Key={"PK": {"S": f"ISSUER#{issuer['id']}"}, "SK": {"S": "OPERATOR"}}
    )["Item"]
    assert secret not in str(item)
    assert services.operator_credentials.load(issuer["id"]) == (
        "maventa",
        {"company_uuid": body["company_uuid"], "api_key": secret},
    )
    shown = call(app, "GET", f"/issuers/{issuer['id']}")
    assert secret not in shown["body"]
    assert json_body(shown)["operator_provider"] == "maventa"
    wrong = call(app, "PUT", f"/issuers/{issuer['id']}/operator", body={"provider": "inexchange"})
    assert wrong["statusCode"] == 422
    assert secret not in wrong["body"]


def test_order_integration_mails_the_contact_and_reinvite_kills_old_links(app: Any, mailer) -> None:  # type: ignore[no-untyped-def]
    issuer = create_issuer(app)
    order = {"source": "spiris", "contact_name": "Anna Andersson", "contact_email": "anna@exempel.se"}
    response = call(app, "POST", f"/issuers/{issuer['id']}/integrations", body=order)
    assert response["statusCode"] == 201, response["body"]
    created = json_body(response)
    assert created["status"] == "pending_consent"
    assert created["consent_url"].startswith(f"{PUBLIC_BASE_URL}/consent/")
    token = created["consent_url"].rsplit("/", 1)[1]
    assert len(token) >= 43
    assert [m.to for m in mailer.sent] == [["anna@exempel.se"]]
    assert created["consent_url"] in mailer.sent[0].text
    assert created["consent_url"] in (mailer.sent[0].html or "")
    assert "Ge behörighet" in mailer.sent[0].text

    # Only the hash is stored.
    items = boto3.client("dynamodb").scan(TableName=TABLE)["Items"]
    assert token not in str(items)
    assert any(i["PK"]["S"] == f"INVITATION#{token_hash(token)}" for i in items)

    got = json_body(call(app, "GET", f"/integrations/{created['id']}"))
    assert got == {
        "id": created["id"],
        "issuer_id": issuer["id"],
        "source": "spiris",
        "status": "pending_consent",
        "enabled": True,
        "contact_name": "Anna Andersson",
        "contact_email": "anna@exempel.se",
        "language": "sv",
    }

    from invoice_bridge.api.consent import build_consent_app

    consent = build_consent_app()
    assert call(consent, "GET", f"/consent/{token}")["statusCode"] == 200
    again = call(app, "POST", f"/integrations/{created['id']}/invite")
    assert again["statusCode"] == 200
    new_url = json_body(again)["consent_url"]
    assert new_url != created["consent_url"]
    assert len(mailer.sent) == 2
    assert call(consent, "GET", f"/consent/{token}")["statusCode"] == 410
    assert call(consent, "GET", f"/consent/{new_url.rsplit('/', 1)[1]}")["statusCode"] == 200


def test_order_integration_refuses_bad_input(app: Any) -> None:
    issuer = create_issuer(app)
    bad = call(
        app,
        "POST",
        f"/issuers/{issuer['id']}/integrations",
        body={"source": "fortnox", "contact_name": "A", "contact_email": "a@b.se"},
    )
    assert bad["statusCode"] == 422
    missing = call(
        app,
        "POST",
        "/issuers/nope/integrations",
        body={"source": "spiris", "contact_name": "A", "contact_email": "a@b.se"},
    )
    assert missing["statusCode"] == 404


def test_enable_disable_and_revoke_pending_integration(app: Any, mailer) -> None:  # type: ignore[no-untyped-def]
    issuer = create_issuer(app)
    created = json_body(post_integration(app, issuer["id"], contact_name="A", contact_email="a@exempel.se"))
    off = call(app, "PATCH", f"/integrations/{created['id']}", body={"enabled": False})
    assert off["statusCode"] == 200
    assert json_body(off)["enabled"] is False
    assert (
        call(app, "PATCH", f"/integrations/{created['id']}", body={"enabled": "maybe"})["statusCode"] == 422
    )
    gone = call(app, "DELETE", f"/integrations/{created['id']}")
    assert gone["statusCode"] == 204
    assert json_body(call(app, "GET", f"/integrations/{created['id']}"))["status"] == "revoked"
    assert call(app, "PATCH", f"/integrations/{created['id']}", body={"enabled": True})["statusCode"] == 409
    mails_before = len(mailer.sent)
    again = call(app, "POST", f"/integrations/{created['id']}/invite")
    assert again["statusCode"] == 409 and json_body(again)["error"]["code"] == "revoked"
    assert len(mailer.sent) == mails_before  # no link e-mailed that could only say "expired"


def test_openapi_describes_the_issuer_and_integration_routes(app: Any) -> None:
    response = call(app, "GET", "/openapi.json")
    assert response["statusCode"] == 200
    paths = json_body(response)["paths"]
    assert {"post"} <= set(paths["/issuers"])
    assert {"get", "patch"} <= set(paths["/issuers/{issuer_id}"])
    assert "put" in paths["/issuers/{issuer_id}/logo"] and "put" in paths["/issuers/{issuer_id}/operator"]
    assert "post" in paths["/issuers/{issuer_id}/integrations"]
    assert {"get", "patch", "delete"} <= set(paths["/integrations/{integration_id}"])
    assert "post" in paths["/integrations/{integration_id}/invite"]


def test_enabling_is_refused_while_the_settings_cannot_deliver(app: Any) -> None:
    issuer = create_issuer(app)  # no operator account; print fallback is on by default
    created = json_body(post_integration(app, issuer["id"], contact_name="A", contact_email="a@exempel.se"))
    refused = call(app, "PATCH", f"/integrations/{created['id']}", body={"enabled": True})
    assert refused["statusCode"] == 409
    error = json_body(refused)["error"]
    assert error["code"] == "cannot_deliver" and any("operator" in d for d in error["details"])

    patched = call(
        app,
        "PATCH",
        f"/issuers/{issuer['id']}",
        body={"dispatch": {"attach_pdf": True, "email_fallback": True, "print_fallback": False}},
    )
    assert patched["statusCode"] == 200
    assert call(app, "PATCH", f"/integrations/{created['id']}", body={"enabled": True})["statusCode"] == 200
