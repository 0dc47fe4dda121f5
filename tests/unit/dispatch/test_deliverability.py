"""Enabling an integration is refused while the issuer's dispatch settings cannot deliver anything."""

from __future__ import annotations

import pytest
from invoice_bridge.dispatch import deliverability_problems
from invoice_bridge.models.issuer import Address, DispatchSettings, Issuer


def issuer(**dispatch: bool) -> Issuer:
    return Issuer(
        name="Utställare AB",
        org_number="5560360793",
        address=Address(street="Gatan 1", postal_code="11122", city="Stockholm"),
        notification_email="byra@example.com",
        dispatch=DispatchSettings(**dispatch),
    )


@pytest.mark.parametrize(
    ("settings", "has_operator"),
    [
        ({}, True),  # defaults with an operator: every channel open
        ({"print_fallback": False}, False),  # e-mail only is enough for buyers with an address
        ({"email_fallback": False, "print_fallback": False}, True),  # e-invoice only
        ({"attach_pdf": False, "print_fallback": False}, True),
    ],
)
def test_deliverable_settings_have_no_problems(settings: dict[str, bool], has_operator: bool) -> None:
    assert deliverability_problems(issuer(**settings), has_operator=has_operator) == []


def test_no_operator_and_no_email_fallback_cannot_deliver() -> None:
    problems = deliverability_problems(issuer(email_fallback=False, print_fallback=False), has_operator=False)
    assert problems == [
        "no channel can deliver: there is no e-invoice operator account and e-mail fallback is off"
    ]


def test_print_fallback_needs_an_operator() -> None:
    problems = deliverability_problems(issuer(), has_operator=False)
    assert len(problems) == 1 and "print fallback needs an e-invoice operator account" in problems[0]


def test_both_problems_are_listed_together() -> None:
    problems = deliverability_problems(issuer(email_fallback=False), has_operator=False)
    assert len(problems) == 2
    assert problems[0].startswith("no channel can deliver") and problems[1].startswith("print fallback needs")


def test_letters_do_not_need_the_pdf_embedded_in_the_einvoice() -> None:
    """The letter carries our PDF itself (Maventa: in the ZIP; InExchange: the rendered document)."""
    assert deliverability_problems(issuer(attach_pdf=False), has_operator=True) == []
