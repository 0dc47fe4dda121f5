"""Drive the Spiris sandbox's authorize pages with plain form POSTs, as a browser would."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from sandbox.spiris import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

REDIRECT_URI = "http://127.0.0.1:9/connect/callback"
SCOPES = "ea:api offline_access ea:sales_readonly"


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def hidden_session(html: str) -> str:
    match = re.search(r'name="session" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def company_options(html: str) -> list[str]:
    return re.findall(r'name="company" value="([^"]+)"', html)


@dataclass
class Seed:
    company_id: str
    other_company_id: str
    email: str = "anna@example.se"
    password: str = "correct horse"


def seed(client: httpx.Client, *, default_company: bool = False, full_access: bool = True,
         api_module: bool = True) -> Seed:
    company = client.post("/_sandbox/companies", json={
        "name": "Exempelbolaget AB", "corporate_identity_number": "556123-4567", "modules": {"api": api_module}})
    assert company.status_code == 201
    other = client.post("/_sandbox/companies", json={
        "name": "Andra Bolaget AB", "corporate_identity_number": "559000-0005", "modules": {"api": True}})
    ids = company.json()["id"], other.json()["id"]
    user = {"email": "anna@example.se", "password": "correct horse", "companies": list(ids),
            "full_access": full_access}
    if default_company:
        user["default_company"] = ids[1]  # the wrong one: the trap
    assert client.post("/_sandbox/users", json=user).status_code == 201
    return Seed(ids[0], ids[1])


def authorize_query(challenge: str | None = None, prompt: str | None = "select_account",
                    state: str = "st-1", method: str = "S256") -> str:
    params = {"client_id": DEFAULT_CLIENT_ID, "redirect_uri": REDIRECT_URI, "scope": SCOPES,
              "response_type": "code", "state": state,
              "acr_values": "service:44643EB1-3F76-4C1C-A672-402AE8085934"}
    if prompt:
        params["prompt"] = prompt
    if challenge:
        params["code_challenge"] = challenge
        params["code_challenge_method"] = method
    return "/connect/authorize?" + urlencode(params)


def run_consent(client: httpx.Client, seeded: Seed, *, challenge: str | None = None,
                prompt: str | None = "select_account", company_id: str | None = None,
                decision: str = "approve") -> dict[str, list[str]]:
    """Login → (picker) → consent; returns the query of the redirect back to REDIRECT_URI."""
    page = client.get(authorize_query(challenge, prompt))
    assert page.status_code == 200 and "Log in" in page.text
    page = client.post("/connect/authorize/login", data={
        "session": hidden_session(page.text), "email": seeded.email, "password": seeded.password})
    assert page.status_code == 200, page.text
    if company_options(page.text):
        page = client.post("/connect/authorize/company", data={
            "session": hidden_session(page.text), "company": company_id or seeded.company_id})
        assert page.status_code == 200
    assert "Approve" in page.text and "Deny" in page.text
    back = client.post("/connect/authorize/consent", data={
        "session": hidden_session(page.text), "decision": decision})
    assert back.status_code == 302
    location = back.headers["location"]
    assert location.startswith(REDIRECT_URI + "?")
    return parse_qs(urlsplit(location).query)


def exchange(client: httpx.Client, code: str, verifier: str | None = None) -> httpx.Response:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    if verifier is not None:
        form["code_verifier"] = verifier
    return client.post("/connect/token", data=form, auth=(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET))


def refresh(client: httpx.Client, refresh_token: str) -> httpx.Response:
    return client.post("/connect/token", data={"grant_type": "refresh_token", "refresh_token": refresh_token},
                       auth=(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET))


def connect(client: httpx.Client, seeded: Seed, company_id: str | None = None) -> dict[str, str]:
    """A full consent plus token exchange; returns the token response."""
    verifier, challenge = pkce_pair()
    query = run_consent(client, seeded, challenge=challenge, company_id=company_id)
    response = exchange(client, query["code"][0], verifier)
    assert response.status_code == 200, response.text
    return response.json()
