"""Consent integration support: moto (DynamoDB, KMS, S3), the Spiris sandbox over real HTTP, API Gateway
REST proxy events, and a browser-less walk through the sandbox's login, company picker and consent pages."""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import httpx
import pytest
from invoice_bridge import wiring
from invoice_bridge.adapters.s3_documents import S3DocumentStore
from invoice_bridge.consent.services import ConsentServices
from invoice_bridge.ports import Mail
from invoice_bridge.settings import ConsentBundleSettings
from invoice_bridge.wiring import build_consent_services
from moto import mock_aws
from rest_events import call

from sandbox.aws import create_template_table
from sandbox.spiris import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SpirisSandboxConfig, serve

TABLE = "consent-test-table"
BUCKET = "consent-test-documents"
PUBLIC_BASE_URL = "https://bridge.example.com"
ISSUER_ORG = "5560360793"  # valid Luhn
OTHER_ORG = "5565594230"


def create_table(name: str = TABLE) -> None:
    create_template_table(name, ddb=boto3.client("dynamodb"))


class RecordingMailer:
    """The Mailer port, keeping what was sent (thread-safe: the refresh race sends from threads)."""

    def __init__(self) -> None:
        self.sent: list[Mail] = []
        self._lock = threading.Lock()

    def send(self, mail: Mail) -> str:
        with self._lock:
            self.sent.append(mail)
        return uuid.uuid4().hex


@dataclass
class Aws:
    key_id: str


@pytest.fixture
def aws() -> Iterator[Aws]:
    with mock_aws():
        wiring.reset()
        create_table()
        boto3.client("s3").create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-north-1"}
        )
        key_id = boto3.client("kms").create_key(Description="tokens")["KeyMetadata"]["KeyId"]
        yield Aws(key_id=key_id)
        wiring.reset()


@pytest.fixture
def serial_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    """A moto server (over real HTTP) whose conditional writes are atomic, as DynamoDB's are."""
    from sandbox.moto_server import AtomicMotoServer

    server = AtomicMotoServer()
    server.start()
    endpoint = server.endpoint_url
    httpx.post(f"{endpoint}/moto-api/reset").raise_for_status()
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    wiring.reset()
    create_table()
    key_id = boto3.client("kms").create_key(Description="tokens")["KeyMetadata"]["KeyId"]
    yield Aws(key_id=key_id)
    wiring.reset()
    server.stop()


@dataclass
class Spiris:
    url: str
    server: Any

    def company(self, name: str, org: str, api: bool = True) -> str:
        body = {"name": name, "corporate_identity_number": org, "modules": {"api": api}}
        response = httpx.post(f"{self.url}/_sandbox/companies", json=body)
        assert response.status_code == 201, response.text
        return response.json()["id"]

    def user(
        self,
        email: str,
        password: str,
        companies: list[str],
        default: str | None = None,
        full_access: bool = True,
    ) -> None:
        body = {
            "email": email,
            "password": password,
            "companies": companies,
            "default_company": default,
            "full_access": full_access,
        }
        response = httpx.post(f"{self.url}/_sandbox/users", json=body)
        assert response.status_code == 201, response.text

    def stats(self) -> dict[str, Any]:
        return httpx.get(f"{self.url}/_sandbox/stats").json()


@pytest.fixture
def spiris() -> Iterator[Spiris]:
    server, url = serve("127.0.0.1", 0, SpirisSandboxConfig())
    yield Spiris(url=url, server=server)
    server.shutdown()


def make_settings(aws: Aws, spiris_url: str) -> ConsentBundleSettings:
    return ConsentBundleSettings(
        table_name=TABLE,
        documents_bucket=BUCKET,
        token_key_id=aws.key_id,
        public_base_url=PUBLIC_BASE_URL,
        spiris_identity_url=spiris_url,
        spiris_api_url=spiris_url,
        spiris_client_id=DEFAULT_CLIENT_ID,
        office_email="office@keeros.example",
    )


@pytest.fixture
def mailer() -> RecordingMailer:
    return RecordingMailer()


def _installed_services(aws: Aws, spiris: Spiris, mailer: RecordingMailer) -> Iterator[ConsentServices]:
    built = build_consent_services(
        make_settings(aws, spiris.url),
        client_secret=DEFAULT_CLIENT_SECRET,
        mailer=mailer,
        documents=S3DocumentStore(BUCKET),
    )
    with wiring.override(consent_services=built):
        yield built


@pytest.fixture
def services(aws: Aws, spiris: Spiris, mailer: RecordingMailer) -> Iterator[ConsentServices]:
    yield from _installed_services(aws, spiris, mailer)


@pytest.fixture
def serial_services(serial_aws: Aws, spiris: Spiris, mailer: RecordingMailer) -> Iterator[ConsentServices]:
    yield from _installed_services(serial_aws, spiris, mailer)


# --- API Gateway REST proxy events ----------------------------------------------------------------


def header(response: dict[str, Any], name: str) -> str | None:
    """A response header, whether the resolver put it under `headers` or `multiValueHeaders`."""
    for key, value in (response.get("headers") or {}).items():
        if key.lower() == name.lower():
            return value
    for key, values in (response.get("multiValueHeaders") or {}).items():
        if key.lower() == name.lower():
            return values[0]
    return None


def json_body(response: dict[str, Any]) -> Any:
    return json.loads(response["body"]) if response.get("body") else None


# --- an issuer and its Spiris integration through the admin routes --------------------------------

ISSUER_FIELDS: dict[str, Any] = {
    "name": "Exempelbolaget AB",
    "org_number": ISSUER_ORG,
    "address": {"street": "Gatan 1", "postal_code": "111 22", "city": "Stockholm"},
    "notification_email": "ekonomi@exempel.se",
}
CONTACT_FIELDS: dict[str, Any] = {
    "source": "spiris",
    "contact_name": "Anna",
    "contact_email": "anna@exempel.se",
}


def post_integration(admin: Any, issuer_id: str, **contact: Any) -> dict[str, Any]:
    """POST /issuers/{issuer_id}/integrations (Anna's contact unless overridden); the raw response."""
    return call(admin, "POST", f"/issuers/{issuer_id}/integrations", body={**CONTACT_FIELDS, **contact})


def create_issuer_and_integration(admin: Any, **issuer_fields: Any) -> dict[str, Any]:
    """Exempelbolaget AB as an issuer (fields overridable) with a Spiris integration for Anna; returns the
    integration POST's raw response (its JSON carries `id` and `consent_url`)."""
    issuer = json_body(call(admin, "POST", "/issuers", body={**ISSUER_FIELDS, **issuer_fields}))
    return post_integration(admin, issuer["id"])


# --- walking the sandbox's authorize pages without a browser --------------------------------------


def _session(html: str) -> str:
    found = re.search(r'name="session" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def authorize_in_sandbox(
    authorize_url: str,
    email: str,
    password: str,
    company_id: str | None,
    decision: str = "approve",
) -> dict[str, str]:
    """Log in, pick the company (when the picker shows), approve or deny; returns the callback's query."""
    with httpx.Client(follow_redirects=False) as http:
        page = http.get(authorize_url)
        assert page.status_code == 200, page.text
        base = f"{urlsplit(authorize_url).scheme}://{urlsplit(authorize_url).netloc}"
        session = _session(page.text)
        page = http.post(
            f"{base}/connect/authorize/login", data={"session": session, "email": email, "password": password}
        )
        assert page.status_code == 200, page.text
        if 'name="company"' in page.text:
            assert company_id is not None
            page = http.post(
                f"{base}/connect/authorize/company", data={"session": session, "company": company_id}
            )
            assert page.status_code == 200, page.text
        back = http.post(f"{base}/connect/authorize/consent", data={"session": session, "decision": decision})
        assert back.status_code == 302, back.text
        location = back.headers["location"]
        assert location.startswith(f"{PUBLIC_BASE_URL}/oauth/callback")
        return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
