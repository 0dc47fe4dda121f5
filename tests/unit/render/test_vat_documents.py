"""What the e-invoice and the PDF say about VAT: categories with their reasons, the VAT in SEK, where to pay
from abroad, ROT/RUT; and what render does with an invoice that lacks what the law asks."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest
from invoice_bridge.dispatch.notify import FailureNotifier
from invoice_bridge.models.invoice import InvoiceStatus
from invoice_bridge.render.pdf import render_pdf
from invoice_bridge.render.service import RenderServices, render_invoice
from invoice_bridge.render.ubl import build_ubl, einvoice_obstacle
from invoice_bridge.render.validation import validate_ubl
from port_doubles import MemoryIssuers, RecordingMailer
from render_doubles import MemoryDocuments, MemoryInvoices, MemoryQueue
from test_vat_mapping import OUR_ISSUER, mapped

from sandbox.vat_cases import BY_NAME, ROT_PERSON

CBC = "{urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2}"
CAC = "{urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2}"


def ubl(name: str, **changes: object) -> ET.Element:
    return ET.fromstring(build_ubl(mapped(name, **changes), OUR_ISSUER))


def pdf_text(name: str, *, credit: bool = False) -> str:
    pdf = render_pdf(mapped(name, credit=credit), OUR_ISSUER)
    return subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()


def tax_categories(root: ET.Element) -> list[tuple[str | None, ...]]:
    return [(c.findtext(f"{CBC}ID"), c.findtext(f"{CBC}Percent"), c.findtext(f"{CBC}TaxExemptionReasonCode"),
             c.findtext(f"{CBC}TaxExemptionReason"))
            for c in root.iter(f"{CAC}TaxCategory")]


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("exempt", ("E", "0", None, "Undantagen från skatteplikt enligt 10 kap. mervärdesskattelagen (2023:200)")),
        ("construction_reverse_charge", ("AE", "0", "VATEX-EU-AE", "Omvänd betalningsskyldighet för byggtjänster "
                                                                   "(16 kap. 13 § mervärdesskattelagen)")),
        ("eu_goods", ("K", "0", "VATEX-EU-IC", "Intra-Community supply, exempt (Chapter 10 Section 42 of the Swedish "
                                              "VAT Act, Article 138 of Directive 2006/112/EC)")),
        ("eu_services", ("AE", "0", "VATEX-EU-AE", "Reverse charge (Article 196 of Directive 2006/112/EC)")),
        ("export", ("G", "0", "VATEX-EU-G", "Export outside the EU, exempt (Article 146 of Directive 2006/112/EC)")),
        ("outside_scope", ("O", None, "VATEX-EU-O", "Supply outside Sweden, not subject to Swedish VAT")),
    ],
)
def test_the_e_invoice_states_category_code_and_reason(case: str, expected: tuple) -> None:  # type: ignore[type-arg]
    root = ubl(case)
    assert tax_categories(root) == [expected]
    lines = [c.findtext(f"{CBC}ID") for c in root.iter(f"{CAC}ClassifiedTaxCategory")]
    assert lines == [expected[0]] * len(lines) and lines


def test_not_subject_to_vat_carries_no_vat_identifiers() -> None:
    """BR-O-02: with O the seller's and the buyer's VAT numbers are left out (the PDF still has the seller's)."""
    root = ubl("outside_scope", VatNumber="US123456789")
    schemes = [s.findtext(f"{CAC}TaxScheme/{CBC}ID") for s in root.iter(f"{CAC}PartyTaxScheme")]
    assert schemes == ["TAX"]  # only "Godkänd för F-skatt"
    assert "SE556012345601" in pdf_text("outside_scope")


def test_an_intra_community_supply_states_delivery_date_and_country() -> None:
    root = ubl("eu_goods")
    delivery = root.find(f"{CAC}Delivery")
    assert delivery is not None and delivery.findtext(f"{CBC}ActualDeliveryDate") == "2026-11-02"
    assert delivery.findtext(f"{CAC}DeliveryLocation/{CAC}Address/{CAC}Country/{CBC}IdentificationCode") == "DE"
    assert delivery.findtext(f"{CAC}DeliveryLocation/{CAC}Address/{CBC}CityName") == "Hamburg"


def test_foreign_currency_has_the_tax_currency_and_a_second_tax_total_in_sek() -> None:
    root = ubl("eur")
    assert (root.findtext(f"{CBC}DocumentCurrencyCode"), root.findtext(f"{CBC}TaxCurrencyCode")) == ("EUR", "SEK")
    totals = [(t.find(f"{CBC}TaxAmount").text, t.find(f"{CBC}TaxAmount").get("currencyID"),  # type: ignore[union-attr]
               len(t.findall(f"{CAC}TaxSubtotal"))) for t in root.findall(f"{CAC}TaxTotal")]
    assert totals == [("537.50", "EUR", 1), ("6020.00", "SEK", 0)]
    domestic = ubl("domestic_25")
    assert domestic.find(f"{CBC}TaxCurrencyCode") is None and len(domestic.findall(f"{CAC}TaxTotal")) == 1


def test_a_buyer_abroad_pays_to_iban_and_bic_first() -> None:
    means = ubl("eu_goods").findall(f"{CAC}PaymentMeans")
    accounts = [(m.findtext(f"{CAC}PayeeFinancialAccount/{CBC}ID"),
                 m.findtext(f"{CAC}PayeeFinancialAccount/{CAC}FinancialInstitutionBranch/{CBC}ID")) for m in means]
    assert accounts == [("SE4550000000058398257466", "ESSESESS"), ("58056201", "SE:BANKGIRO")]
    text = pdf_text("eu_goods")
    assert "BIC" in text and "ESSESESS" in text and "SE4550000000058398257466" in text


@pytest.mark.parametrize("case", sorted(BY_NAME))
@pytest.mark.parametrize("credit", [False, True], ids=["invoice", "credit_note"])
def test_every_case_is_peppol_valid_with_every_rule_or_not_an_e_invoice(case: str, credit: bool) -> None:
    invoice = mapped(case, credit=credit)
    if BY_NAME[case].customer in ("rot", "rut"):
        assert einvoice_obstacle(invoice) == "the buyer is a private person; e-invoices over Peppol go to companies"
        return
    assert einvoice_obstacle(invoice) is None
    result = validate_ubl(build_ubl(invoice, OUR_ISSUER, pdf=render_pdf(invoice, OUR_ISSUER)))
    assert result.fatal == [], result.summary()
    assert result.warnings == [], [w.rule_id for w in result.warnings]


@pytest.mark.parametrize("case", sorted(BY_NAME))
def test_the_pdf_carries_the_legal_wording(case: str) -> None:
    text = " ".join(pdf_text(case).split())
    for wording in BY_NAME[case].legal_wording:
        assert wording in text, wording


def test_rot_pdf_states_labour_materials_reduction_person_property_and_amount_to_pay() -> None:
    text = " ".join(pdf_text("rot").split())
    for expected in ("Arbetskostnad inkl. moms 16 800,00", "Material och övrigt inkl. moms 10 500,00",
                     "Skattereduktion (30 %) 5 040,00", "Fastighetsbeteckning TÄBY BJÖRKEN 1:23",
                     f"Personnummer {ROT_PERSON}", "Summa inkl. moms 27 300,00", "Skattereduktion -5 040,00",
                     "Att betala 22 260,00 SEK"):
        assert expected in text, expected


def test_foreign_currency_pdf_states_the_vat_in_sek_and_the_rate() -> None:
    text = " ".join(pdf_text("nok").split())
    assert "Moms i SEK 3 677,55 SEK" in text and "Valutakurs 1 NOK = 0,9712 SEK" in text


# --- render: an invoice the law's content cannot be given for is parked, never sent ------------------------


@pytest.fixture
def render_world():  # type: ignore[no-untyped-def]
    return MemoryInvoices(), MemoryIssuers(OUR_ISSUER), MemoryDocuments(), MemoryQueue()


def _render(world, invoice):  # type: ignore[no-untyped-def]
    invoices, issuers, documents, queue = world
    invoices.put(invoice)
    return render_invoice(invoice.id, invoice.version, RenderServices(invoices=invoices, issuers=issuers, documents=documents,
                                                                      dispatch_queue=queue, notifier=FailureNotifier(RecordingMailer())))


def test_reverse_charge_without_the_buyers_vat_number_is_parked_with_the_reason(render_world) -> None:  # type: ignore[no-untyped-def]
    invoices, _, documents, queue = render_world
    invoice = mapped("eu_services", VatNumber=None)

    outcome = _render(render_world, invoice)

    stored = invoices.get(invoice.id)
    assert outcome.status == "failed" and stored.status == InvoiceStatus.FAILED
    assert (stored.status_reason or "").startswith("content failed: buyer_vat_number_missing: AE ")
    assert queue.messages == [] and documents.objects == {}


def test_rot_without_persons_or_property_is_parked(render_world) -> None:  # type: ignore[no-untyped-def]
    invoices, _, _, queue = render_world
    invoice = mapped("rot")
    assert invoice.tax_reduction is not None
    bare = invoice.model_copy(update={"tax_reduction": invoice.tax_reduction.model_copy(
        update={"persons": [], "property_designation": None})})

    assert _render(render_world, bare).status == "failed"
    reason = invoices.get(bare.id).status_reason or ""
    assert "tax_reduction_person_missing" in reason and "tax_reduction_property_missing" in reason
    assert queue.messages == []


def test_a_private_buyer_gets_a_pdf_and_no_e_invoice(render_world) -> None:  # type: ignore[no-untyped-def]
    invoices, _, documents, queue = render_world
    invoice = mapped("rut")

    outcome = _render(render_world, invoice)

    stored = invoices.get(invoice.id)
    assert outcome.status == "rendered" and (stored.einvoice_key, outcome.einvoice_key) == (None, None)
    assert list(documents.objects) == [stored.pdf_key] and len(queue.messages) == 1


def test_amounts_are_decimal_to_the_ore() -> None:
    invoice = mapped("nok")
    assert all(isinstance(v, Decimal) for v in (invoice.vat_total, invoice.tax_currency_vat_total, invoice.gross_total))
    assert invoice.tax_currency_vat_total == Decimal("3677.55")


def test_without_the_source_render_still_checks_sek_vat_and_rot_arithmetic(render_world) -> None:  # type: ignore[no-untyped-def]
    """The production render has no source to reconcile with: what must hold within the invoice is checked."""
    invoices = render_world[0]
    rot = mapped("rot")
    assert rot.tax_reduction is not None
    wrong_share = rot.model_copy(update={"tax_reduction": rot.tax_reduction.model_copy(
        update={"amount_to_pay": rot.tax_reduction.amount_to_pay + 1})})
    assert _render(render_world, wrong_share).reasons == ["amount_to_pay: ours 22261.00, source 22260.00 (= total - "
                                                          "reduction)"]
    eur = mapped("eur").model_copy(update={"tax_currency_vat_total": Decimal("537.50")})  # the EUR figure as SEK
    outcome = _render(render_world, eur)
    assert outcome.status == "failed" and outcome.reasons[0].startswith("vat_total_sek_at_rate: ours 537.50")
    assert invoices.get(eur.id).status == InvoiceStatus.FAILED
