"""The issuer's contact person, without a browser: follows a consent link through our pages and the
Spiris sandbox's login, company picker and approval with plain form POSTs (as a browser would)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx


def _hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]+)"', html)
    if not match:
        raise AssertionError(f"no hidden field {name!r} on the page")
    return match.group(1)


@dataclass
class ConsentOutcome:
    status_code: int
    html: str


def grant_consent(
    consent_url: str,
    *,
    email: str,
    password: str,
    company_id: str | None = None,
    decision: str = "approve",
    timeout: float = 30.0,
) -> ConsentOutcome:
    """Open the link, press the button, log in, pick the company (if asked), approve or deny; returns
    the result page our callback shows."""
    with httpx.Client(timeout=timeout, follow_redirects=False) as client:
        page = client.get(consent_url)
        page.raise_for_status()
        redirect = client.post(consent_url)
        if redirect.status_code != 303:
            return ConsentOutcome(redirect.status_code, redirect.text)
        authorize_url = redirect.headers["location"]
        spiris_base = authorize_url.split("/connect/authorize", 1)[0]
        login = client.get(authorize_url)
        login.raise_for_status()
        page = client.post(
            f"{spiris_base}/connect/authorize/login",
            data={"session": _hidden(login.text, "session"), "email": email, "password": password},
        )
        page.raise_for_status()
        options = re.findall(r'name="company" value="([^"]+)"', page.text)
        if options:
            page = client.post(
                f"{spiris_base}/connect/authorize/company",
                data={"session": _hidden(page.text, "session"), "company": company_id or options[0]},
            )
            page.raise_for_status()
        back = client.post(
            f"{spiris_base}/connect/authorize/consent",
            data={"session": _hidden(page.text, "session"), "decision": decision},
        )
        if back.status_code != 302:
            return ConsentOutcome(back.status_code, back.text)
        result = client.get(back.headers["location"])
        return ConsentOutcome(result.status_code, result.text)
