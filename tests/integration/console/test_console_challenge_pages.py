"""The sign-in pages through the embedded gateway with TOTP required (ConsoleMfa=ON): a user created with
a temporary password chooses a new one, sets up an authenticator app from the key the page shows, and
signs in; the next sign-in asks for the code. Wrong codes are refused (moto checks TOTP strictly here)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from totp import totp, wrong_code

from sandbox.stack import LocalStack

USER = "new.admin@office.example"


class Browser:
    """httpx with the console's cookies kept by hand (they are Secure; the local stack speaks http)."""

    def __init__(self, base: str) -> None:
        self.client = httpx.Client(base_url=base, follow_redirects=False, timeout=60)
        self.cookies: dict[str, str] = {}

    def _keep(self, response: httpx.Response) -> httpx.Response:
        for header in response.headers.get_list("set-cookie"):
            name, value = header.split(";", 1)[0].split("=", 1)
            self.cookies[name] = value
        return response

    def get(self, path: str) -> httpx.Response:
        return self._keep(self.client.get(path, headers=self._cookie()))

    def post(self, path: str, data: dict[str, str]) -> httpx.Response:
        return self._keep(self.client.post(path, data=data, headers=self._cookie()))

    def _cookie(self) -> dict[str, str]:
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items() if v)}


def hidden(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(sandboxes=False, run_drainer=False, run_scheduler=False, parameters={"ConsoleMfa": "ON"}) as s:
        idp = s.aws.client("cognito-idp")
        pool_id = s.aws.resources.refs["ConsoleUserPool"]
        idp.admin_create_user(UserPoolId=pool_id, Username=USER, TemporaryPassword="Temporary-Pass-1",
                              MessageAction="SUPPRESS", UserAttributes=[{"Name": "email", "Value": USER}])
        idp.admin_add_user_to_group(UserPoolId=pool_id, Username=USER, GroupName="office-admins")
        yield s


def sign_in_form(browser: Browser, password: str) -> httpx.Response:
    page = browser.get("/console/sign-in")
    return browser.post("/console/sign-in", {**hidden(page.text), "username": USER, "password": password})


def test_temporary_password_then_totp_set_up_then_code(stack: LocalStack) -> None:
    browser = Browser(stack.api_url)
    page = sign_in_form(browser, "Temporary-Pass-1")
    assert page.status_code == 200 and "Välj ett nytt lösenord" in page.text
    page = browser.post("/console/sign-in/challenge", {**hidden(page.text), "new_password": "My-Own-Pass-2026"})
    assert "Aktivera tvåstegsverifiering" in page.text
    secret = re.search(r'<code class="secret">([^<]+)</code>', page.text)
    assert secret and "otpauth://totp/" in page.text
    refused = browser.post("/console/sign-in/challenge", {**hidden(page.text), "code": wrong_code(secret.group(1))})
    assert refused.status_code == 401 and "Koden stämmer inte" in refused.text
    assert secret.group(1) in refused.text, "the same key again, to try another code"
    page = browser.post("/console/sign-in/challenge", {**hidden(refused.text), "code": totp(secret.group(1))})
    assert page.status_code == 303 and page.headers["location"] == "/console"
    assert browser.get("/console").status_code == 200

    again = Browser(stack.api_url)
    page = sign_in_form(again, "My-Own-Pass-2026")
    assert "Tvåstegsverifiering" in page.text and 'name="code"' in page.text
    page = again.post("/console/sign-in/challenge", {**hidden(page.text), "code": totp(secret.group(1))})
    assert page.status_code == 303 and again.get("/console").status_code == 200


def test_a_sign_in_form_without_its_token_is_refused(stack: LocalStack) -> None:
    browser = Browser(stack.api_url)
    answer = browser.post("/console/sign-in", {"username": USER, "password": "My-Own-Pass-2026"})
    assert answer.status_code == 403 and "__Host-ib-console" not in answer.headers.get("set-cookie", "")
