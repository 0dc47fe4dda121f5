"""Channel policy and the failure e-mails (Swedish and English, printed with `pytest -s`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal

import pytest
from invoice_bridge.dispatch import (
    Failure,
    FailureNotifier,
    NoChannel,
    Route,
    buyer_mail,
    choose_channel,
    render,
)
from invoice_bridge.models.invoice import Invoice, Party, PostalAddress
from invoice_bridge.ports import PrintService, Receiver
from invoice_factory import make_issuer
from port_doubles import RecordingMailer


def _invoice(
    email: str | None = "kund@example.com",
    street: str | None = "Vägen 2",
    language: str = "sv",
    einvoice_key: str | None = "iss1/invoices/inv1/v1/invoice.xml",
) -> Invoice:
    return Invoice(
        einvoice_key=einvoice_key,
        id="inv1",
        issuer_id="iss1",
        integration_id="int1",
        source_id="s1",
        content_hash="h",
        number="1001",
        issue_date=date(2026, 11, 20),
        due_date=date(2026, 12, 20),
        language=language,  # type: ignore[arg-type]
        seller=Party(name="Utställare AB"),
        buyer=Party(
            name="Köpare AB",
            org_number="5567321707",
            email=email,
            address=PostalAddress(street=street, postal_code="41101", city="Göteborg"),
        ),
        rows=[],
        vat_breakdown=[],
        net_total=Decimal("100.00"),
        vat_total=Decimal("25.00"),
        gross_total=Decimal("125.00"),
    )


RECEIVER = Receiver(eia="0007:5567321707", name="Köpare AB")


def test_einvoice_first_then_email_then_print() -> None:
    assert choose_channel(make_issuer(), _invoice(), RECEIVER) == Route("einvoice", "0007:5567321707", operator="PEPPOL")
    assert choose_channel(make_issuer(), _invoice(), None) == Route("email", "kund@example.com")
    assert choose_channel(make_issuer(email_fallback=False), _invoice(), None) == Route("print", "Köpare AB")
    assert choose_channel(make_issuer(), _invoice(email=None), None) == Route("print", "Köpare AB")


def test_no_channel_says_why() -> None:
    none = choose_channel(make_issuer(print_fallback=False), _invoice(email=None), None)
    assert isinstance(none, NoChannel)
    assert none.causes == ("not_reachable", "no_email", "print_fallback_off")
    no_operator = choose_channel(make_issuer(), _invoice(email=None), RECEIVER, operator_available=False)
    assert isinstance(no_operator, NoChannel) and no_operator.causes == (
        "no_operator",
        "no_email",
        "print_needs_operator",
    )
    no_address = choose_channel(make_issuer(), _invoice(email=None, street=None), None)
    assert isinstance(no_address, NoChannel) and "address_no_street" in no_address.causes


def test_the_einvoice_route_is_pinned_to_the_operator_the_lookup_returned() -> None:
    internal = Receiver(eia="0007:5567321707", name="Köpare AB", operator="MAVENTA", network="INTERNAL")
    assert choose_channel(make_issuer(), _invoice(), internal) == Route("einvoice", "0007:5567321707", operator="MAVENTA")


def test_a_letter_needs_every_part_of_the_address_and_says_which_is_missing() -> None:
    invoice = _invoice(email=None)
    invoice.buyer.address.postal_code = " "
    invoice.buyer.address.city = None
    parked = choose_channel(make_issuer(), invoice, None)
    assert isinstance(parked, NoChannel)
    assert parked.causes == ("not_reachable", "no_email", "address_no_postal_code", "address_no_city")
    assert parked.reason.endswith("the buyer's postal address has no postal code; the buyer's postal address has no city")


def test_the_operators_print_settings_decide_the_letter() -> None:
    asked: list[str] = []

    def service(enabled: bool, own: bool) -> Callable[[], PrintService]:
        def read() -> PrintService:
            asked.append("print settings")
            return PrintService(enabled=enabled, own_image=own)
        return read

    off = choose_channel(make_issuer(), _invoice(email=None), None, print_service=service(False, False))
    assert isinstance(off, NoChannel) and off.causes[-1] == "print_off_at_operator"
    template = choose_channel(make_issuer(), _invoice(email=None), None, print_service=service(True, False))
    assert isinstance(template, Route) and template.channel == "print" and "own template" in (template.note or "")
    ours = choose_channel(make_issuer(), _invoice(email=None), None, print_service=service(True, True))
    assert ours == Route("print", "Köpare AB")
    asked.clear()
    choose_channel(make_issuer(), _invoice(), RECEIVER, print_service=service(True, True))
    assert asked == []  # not asked when the letter is not the choice


def test_a_failed_einvoice_goes_on_to_the_next_channel_the_issuer_allows() -> None:
    assert choose_channel(make_issuer(), _invoice(), RECEIVER, exclude=["einvoice"]) == Route("email", "kund@example.com")
    assert choose_channel(make_issuer(), _invoice(email=None), RECEIVER, exclude=["einvoice"]) == Route("print", "Köpare AB")
    none = choose_channel(make_issuer(print_fallback=False), _invoice(email=None), RECEIVER, exclude=["einvoice"])
    assert isinstance(none, NoChannel) and none.causes == ("einvoice_failed", "no_email", "print_fallback_off")


def test_an_invoice_without_an_e_invoice_document_is_never_offered_as_one() -> None:
    """Render makes no e-invoice of what cannot be Peppol-valid (a private person): even when the operator
    knows the buyer, it goes by e-mail, or else as a letter, which carries our PDF and needs no e-invoice."""
    pdf_only = _invoice(einvoice_key=None)
    assert choose_channel(make_issuer(), pdf_only, RECEIVER) == Route("email", "kund@example.com")
    letter = choose_channel(make_issuer(), _invoice(email=None, einvoice_key=None), RECEIVER)
    assert letter == Route("print", "Köpare AB")
    none = choose_channel(make_issuer(print_fallback=False), _invoice(email=None, einvoice_key=None), RECEIVER)
    assert isinstance(none, NoChannel) and none.causes == ("not_an_einvoice", "no_email", "print_fallback_off")
    subject, text = render("failure", "sv", issuer=make_issuer(), invoice=pdf_only,
                           failure=Failure(none.code, none.reason, causes=none.causes))
    assert "fakturan kan inte vara en e-faktura" in text and "utskick med brev är avstängt" in text


@pytest.mark.parametrize(
    ("language", "subject", "phrases"),
    [
        (
            "sv",
            "Faktura 1001 till Köpare AB kunde inte levereras",
            [
                "Orsak: operatören tog inte emot fakturan.",
                "Detaljer från operatören: Invalid buyer reference",
                "Kontrollera fakturans uppgifter",
                "via e-faktura",
                "125.00 SEK",
            ],
        ),
        (
            "en",
            "Invoice 1001 to Köpare AB could not be delivered",
            [
                "Reason: the operator did not accept the invoice.",
                "Details from the operator: Invalid buyer reference",
                "Check the invoice details",
                "by e-invoice",
                "125.00 SEK",
            ],
        ),
    ],
)
def test_failure_email_in_the_issuers_language(language: str, subject: str, phrases: list[str]) -> None:
    mailer = RecordingMailer()
    FailureNotifier(mailer).notify(
        make_issuer(language=language), _invoice(), Failure("rejected", "Invalid buyer reference", "einvoice")
    )
    [mail] = mailer.sent
    print(f"\n--- failure e-mail ({language}) ---\nTo: {mail.to[0]}\nSubject: {mail.subject}\n\n{mail.text}")
    assert mail.to == ["byra@example.com"] and mail.subject == subject
    for phrase in phrases:
        assert phrase in mail.text
    assert "Subject:" not in mail.text and "{%" not in mail.text


def test_outcome_unknown_notice_asks_to_check_before_resending() -> None:
    _, body = render(
        "failure",
        "sv",
        issuer=make_issuer(),
        invoice=_invoice(),
        failure=Failure("outcome_unknown", "x", "email"),
    )
    assert "Fråga kunden innan du skickar om" in body and "Detaljer" not in body


def test_buyer_mail_carries_the_pdf_in_the_invoice_language() -> None:
    mail = buyer_mail(make_issuer(), _invoice(language="en"), b"%PDF")
    assert mail.subject == "Invoice 1001 from Utställare AB" and mail.to == ["kund@example.com"]
    assert [(a.filename, a.content_type, a.body) for a in mail.attachments] == [
        ("invoice-1001.pdf", "application/pdf", b"%PDF")
    ]
    assert "Amount due: 125.00 SEK, due 2026-12-20." in mail.text
    with pytest.raises(ValueError):
        buyer_mail(make_issuer(), _invoice(email=None), b"%PDF")


@pytest.mark.parametrize("language", ["sv", "en"])
def test_every_cause_and_reason_has_words_in_both_languages(language: str) -> None:
    from invoice_bridge.dispatch.policy import CAUSES_EN

    for cause in CAUSES_EN:
        _, body = render("failure", language, issuer=make_issuer(), invoice=_invoice(),
                         failure=Failure("no_channel", "x", causes=(cause,)))
        assert "Orsak: " in body or "Reason: " in body
    _, body = render("failure", language, issuer=make_issuer(), invoice=_invoice(),
                     failure=Failure("unknown_status", "InExchange reports the status 'Parked'", "einvoice"))
    assert "'Parked'" in body and ("portal" in body)
