"""The steps every story on the embedded stack takes through the HTTP faces: an issuer's company and
contact in the Spiris sandbox, an operator account, the issuer in the admin API (logo, operator
credentials), the ordered integration and the contact's consent. The demo, the soak and the bench
tell different stories with the same steps."""

from __future__ import annotations

import io
from typing import Any

import httpx

from .contact import grant_consent
from .spiris.jsonutil import dumps


def post_json(client: httpx.Client, path: str, value: Any) -> httpx.Response:
    """POST with Decimal written as a JSON number, exactly as Spiris sends amounts."""
    response = client.post(path, content=dumps(value).encode(), headers={"Content-Type": "application/json"})
    response.raise_for_status()
    return response


def logo_png() -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (360, 120), (18, 52, 86))
    draw = ImageDraw.Draw(image)
    draw.ellipse((16, 16, 104, 104), fill=(240, 180, 40))
    draw.rectangle((130, 50, 340, 70), fill=(255, 255, 255))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def spiris_company(spiris: httpx.Client, *, name: str, org: str, contact_email: str, password: str) -> str:
    """A company with the API module and its contact, a user with full access who has it as default."""
    company = spiris.post(
        "/_sandbox/companies", json={"name": name, "corporate_identity_number": org, "modules": {"api": True}}
    )
    company.raise_for_status()
    company_id: str = company.json()["id"]
    spiris.post(
        "/_sandbox/users",
        json={
            "email": contact_email,
            "password": password,
            "companies": [company_id],
            "default_company": company_id,
            "full_access": True,
        },
    ).raise_for_status()
    return company_id


def operator_account(operator: httpx.Client) -> dict[str, str]:
    account = operator.post("/_sandbox/accounts", json={})
    account.raise_for_status()
    return account.json()  # type: ignore[no-any-return]


INEXCHANGE = {"provider": "inexchange"}  # an issuer whose client token is created from the partner key


def create_issuer(
    admin: httpx.Client,
    *,
    name: str,
    org: str,
    notification_email: str,
    account: dict[str, str],
    logo: bytes,
    street: str = "Exempelvägen 2",
    operator: httpx.Client | None = None,
) -> str:
    """The issuer as the office registers it: details, logo and the operator account; its id.

    `account` is a Maventa account (`operator_account`), or `INEXCHANGE`: the issuer is then registered
    as a client company at the InExchange sandbox (through `operator`) under our id for it, and its
    client token is created by our API from the office's partner key."""
    created = admin.post(
        "/issuers",
        json={
            "name": name,
            "org_number": f"{org[:6]}-{org[6:]}",
            "vat_number": f"SE{org}01",
            "address": {"street": street, "postal_code": "222 33", "city": "Lund", "country": "SE"},
            "notification_email": notification_email,
            "language": "sv",
            "bankgiro": "5050-1055",
            "f_skatt": True,
        },
    )
    created.raise_for_status()
    issuer_id: str = created.json()["id"]
    admin.put(f"/issuers/{issuer_id}/logo", content=logo, headers={"Content-Type": "image/png"}).raise_for_status()
    if account.get("provider") == "inexchange":
        if operator is None:
            raise ValueError("an InExchange issuer is registered at the operator sandbox: pass `operator`")
        operator.post("/_sandbox/inexchange/clients", json={"erp_id": issuer_id, "name": name}).raise_for_status()
        admin.put(f"/issuers/{issuer_id}/operator", json={"provider": "inexchange"}).raise_for_status()
        return issuer_id
    admin.put(
        f"/issuers/{issuer_id}/operator",
        json={"provider": "maventa", "company_uuid": account["company_uuid"], "api_key": account["api_key"]},
    ).raise_for_status()
    return issuer_id


def order_integration(admin: httpx.Client, issuer_id: str, *, contact_name: str, contact_email: str) -> dict[str, Any]:
    """The ordered integration (`id`, `consent_url`, …); the consent link goes to the contact by e-mail."""
    ordered = admin.post(
        f"/issuers/{issuer_id}/integrations",
        json={"source": "spiris", "contact_name": contact_name, "contact_email": contact_email},
    )
    ordered.raise_for_status()
    return ordered.json()  # type: ignore[no-any-return]


def consent(consent_url: str, *, contact_email: str, password: str, company_id: str) -> int:
    """The contact follows the link, logs in to Spiris and picks the company; the final page's status."""
    return grant_consent(consent_url, email=contact_email, password=password, company_id=company_id).status_code
