"""Consent pages and e-mails: Swedish and English, self-contained, escaped, with the right status codes."""

from __future__ import annotations

import re

import pytest
from invoice_bridge.consent.pages import bad_state_page, explanation_page, invitation_mail, result_page

KINDS = [
    "done",
    "denied",
    "wrong_company",
    "module_missing",
    "no_access",
    "spiris_refused",
    "unknown_link",
    "used_link",
    "expired_link",
]
VALUES = {
    "company": "Annat AB",
    "org_number": "556036-0793",
    "chosen": "556559-4230",
    "issuer": "Exempel AB",
    "expected": "556036-0793",
    "code": "4004",
}


def assert_self_contained(html: str) -> None:
    assert '<meta name="viewport"' in html
    assert not re.search(r'(src|href)="https?://', html)  # no external assets
    assert "<script" not in html
    assert "<style>" in html


@pytest.mark.parametrize("language", ["sv", "en"])
def test_explanation_page(language: str) -> None:
    page = explanation_page(language, "Keeros Finance", "Exempel <AB>", "556036-0793")
    assert page.status == 200
    assert_self_contained(page.html)
    assert f'<html lang="{language}">' in page.html
    assert '<form method="post">' in page.html and "action=" not in page.html  # posts to its own URL
    assert "Exempel &lt;AB&gt;" in page.html and "Exempel <AB>" not in page.html  # escaped
    assert "Keeros Finance" in page.html and "556036-0793" in page.html
    button = "Ge behörighet" if language == "sv" else "Grant access"
    assert f">{button}</button>" in page.html
    needs = "full behörighet" if language == "sv" else "full program permission"
    assert needs in page.html
    assert "API/Integration" in page.html


@pytest.mark.parametrize("language", ["sv", "en"])
@pytest.mark.parametrize("kind", KINDS)
def test_result_pages(kind: str, language: str) -> None:
    page = result_page(kind, language, "Keeros Finance", **VALUES)
    assert page.status == {"unknown_link": 404, "used_link": 410, "expired_link": 410}.get(kind, 200)
    assert_self_contained(page.html)
    assert "{" not in page.html.split("<body>")[1]  # every placeholder filled


def test_wrong_company_page_says_how_to_fix_the_default_company() -> None:
    sv = result_page("wrong_company", "sv", "Keeros", **VALUES).html
    en = result_page("wrong_company", "en", "Keeros", **VALUES).html
    assert "standardföretag" in sv and "556559-4230" in sv and "556036-0793" in sv
    assert "unset the default company" in en


def test_bad_state_page_is_400() -> None:
    page = bad_state_page("expired", "en", "Keeros")
    assert page.status == 400 and "10 minutes" in page.html


@pytest.mark.parametrize("language", ["sv", "en"])
def test_invitation_mail(language: str) -> None:
    url = "https://bridge.example.com/consent/abc"
    mail = invitation_mail(language, "Keeros", "Exempel AB", "Anna", url, 14)
    assert url in mail.text and f'href="{url}"' in mail.html
    assert "14" in mail.text and "Anna" in mail.text and "Keeros" in mail.subject
