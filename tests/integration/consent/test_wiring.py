"""The default wiring the Lambda handlers use: services from Settings, the client secret from SSM (moto)."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlsplit

import boto3
import httpx
import pytest
from consent_support import TABLE, Aws, Spiris, call, create_issuer_and_integration, header, json_body
from invoice_bridge import wiring
from invoice_bridge.api.admin import build_app
from invoice_bridge.api.consent import build_consent_app


def test_handlers_build_services_from_settings_and_ssm(
    aws: Aws, spiris: Spiris, monkeypatch: pytest.MonkeyPatch
) -> None:
    boto3.client("ssm").put_parameter(
        Name="/test/spiris-secret", Value="sandbox-client-secret", Type="SecureString"
    )
    boto3.client("sesv2").create_email_identity(EmailIdentity="invoices@keeros.example")
    for name, value in {
        "TABLE_NAME": TABLE,
        "TOKEN_KEY_ID": aws.key_id,
        "PUBLIC_BASE_URL": "https://bridge.example.com",
        "SPIRIS_IDENTITY_URL": spiris.url,
        "SPIRIS_API_URL": spiris.url,
        "SPIRIS_CLIENT_ID": "invoice-bridge-local",
        "SPIRIS_CLIENT_SECRET_PARAMETER": "/test/spiris-secret",
        "SENDER_EMAIL": "invoices@keeros.example",
    }.items():
        monkeypatch.setenv(name, value)
    wiring.reset()

    admin = build_app()
    created = create_issuer_and_integration(admin)
    assert created["statusCode"] == 201, created["body"]  # e-mailed through SES (moto)
    token = json_body(created)["consent_url"].rsplit("/", 1)[1]
    started = call(build_consent_app(), "POST", f"/consent/{token}")
    assert started["statusCode"] == 303
    location = header(started, "Location")
    assert location is not None and parse_qs(urlsplit(location).query)["client_id"] == [
        "invoice-bridge-local"
    ]

    # The secret read from SSM is the one the identity server accepts (HTTP Basic on the token endpoint).
    identity = wiring.consent_services().identity
    with pytest.raises(Exception) as refused:
        identity.refresh("not-a-refresh-token")
    assert type(refused.value).__name__ == "InvalidGrant"  # not invalid_client: the secret was right
    wrong = httpx.post(
        f"{spiris.url}/connect/token",
        data={"grant_type": "refresh_token", "refresh_token": "x"},
        headers={"Authorization": "Basic " + base64.b64encode(b"invoice-bridge-local:nope").decode()},
    )
    assert wrong.status_code == 401
