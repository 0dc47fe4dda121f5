"""VAT categories, buyer addresses, foreign currency, ROT/RUT and credit-note signs, as mapped from Spiris."""

from __future__ import annotations

from decimal import Decimal

import pytest
from invoice_bridge.mapping import to_invoice
from invoice_bridge.models.invoice import Invoice
from invoice_bridge.models.issuer import Issuer
from invoice_bridge.models.spiris import Customer, CustomerInvoice
from invoice_bridge.vat import missing_buyer_vat_number

from sandbox.vat_cases import BY_NAME, CUSTOMERS, ISSUER, ROT_PERSON, case_invoice

D = Decimal
OUR_ISSUER = Issuer.model_validate({**ISSUER, "id": "issuer-1"})


def mapped(name: str, *, credit: bool = False, **customer_changes: object) -> Invoice:
    case = BY_NAME[name]
    original = case_invoice(case, 2001)
    source = CustomerInvoice.model_validate(case_invoice(case, 3001, credit_of=original) if credit else original)
    customer = Customer.model_validate({**CUSTOMERS[case.customer], **customer_changes})
    return to_invoice(source, customer, OUR_ISSUER, "int-1", office=None, original_number="2001" if credit else None)


@pytest.mark.parametrize(
    ("case", "categories"),
    [
        ("domestic_25", [("S", D(25), None)]),
        ("domestic_mixed", [("S", D(25), None), ("S", D(12), None), ("S", D(6), None)]),
        ("exempt", [("E", D(0), "exempt")]),
        ("construction_reverse_charge", [("AE", D(0), "reverse_charge_construction")]),
        ("eu_goods", [("K", D(0), "intra_community_supply")]),
        ("eu_services", [("AE", D(0), "reverse_charge_services")]),
        ("export", [("G", D(0), "export")]),
        ("outside_scope", [("O", D(0), "outside_scope")]),
    ],
)
def test_each_row_and_breakdown_gets_its_category_and_reason(case: str, categories: list) -> None:  # type: ignore[type-arg]
    invoice = mapped(case)
    assert [(b.category, b.rate, b.exemption) for b in invoice.vat_breakdown] == categories
    assert {r.vat_category for r in invoice.rows} == {c for c, _, _ in categories}
    assert invoice.reverse_charge is (categories[0][0] == "AE")


def test_a_zero_rated_row_abroad_is_goods_or_services_by_its_article() -> None:
    source = case_invoice(BY_NAME["eu_services"], 2001)
    assert mapped("eu_services").vat_breakdown[0].category == "AE"
    source["Rows"][0]["IsServiceArticle"] = False
    as_goods = to_invoice(CustomerInvoice.model_validate(source), Customer.model_validate(CUSTOMERS["fi"]),
                          OUR_ISSUER, "int-1", office=None)
    assert as_goods.vat_breakdown[0].category == "K"


def test_delivery_based_vat_follows_the_delivery_country() -> None:
    """A customer set up for delivery-based VAT is taxed where the goods go: to Germany it is K, not E."""
    source = case_invoice(BY_NAME["exempt"], 2001)
    source["DeliveryCountryCode"] = "DE"
    source["Rows"][0]["IsServiceArticle"] = False
    customer = {**CUSTOMERS["se"], "DeliveryBasedVat": True}
    invoice = to_invoice(CustomerInvoice.model_validate(source), Customer.model_validate(customer), OUR_ISSUER,
                         "int-1", office=None)
    assert invoice.vat_breakdown[0].category == "K"
    customer["DeliveryBasedVat"] = False
    domestic = to_invoice(CustomerInvoice.model_validate(source), Customer.model_validate(customer), OUR_ISSUER,
                          "int-1", office=None)
    assert domestic.vat_breakdown[0].category == "E"


def test_reverse_charge_and_intra_community_supply_need_the_buyers_vat_number() -> None:
    assert missing_buyer_vat_number(mapped("eu_goods")) is None
    without = mapped("eu_goods", VatNumber=None)
    assert (without.vat_breakdown[0].category, without.buyer.vat_number) == ("K", None)
    assert (missing_buyer_vat_number(without) or "").startswith("buyer_vat_number_missing: K ")
    mistyped = mapped("construction_reverse_charge", VatNumber="SE556234567799")  # fails the check digits
    assert (missing_buyer_vat_number(mistyped) or "").startswith("buyer_vat_number_missing: AE ")
    assert missing_buyer_vat_number(mapped("export", VatNumber=None)) is None  # G needs none


@pytest.mark.parametrize(
    ("case", "changes", "endpoint"),
    [
        ("domestic_25", {}, ("0007", "5560360793")),
        ("domestic_25", {"EdiGlnNumber": "7300009060115"}, ("0088", "7300009060115")),
        ("domestic_25", {"ElectronicAddress": "0088:7300009012343"}, ("0088", "7300009012343")),
        ("domestic_25", {"ElectronicAddress": "0007:5560360794"}, ("0007", "5560360793")),  # mistyped: skipped
        ("eu_goods", {}, ("9930", "DE136695976")),
        ("eu_services", {}, ("0213", "FI20774740")),
        ("export", {}, ("0192", "974760673")),
        ("outside_scope", {}, ("0088", "0614141000036")),
        ("outside_scope", {"EdiGlnNumber": None}, (None, None)),
        ("rot", {"EdiGlnNumber": "7300009060115"}, (None, None)),  # a private person has no Peppol address
    ],
)
def test_the_buyer_endpoint_comes_from_every_identifier_the_buyer_has(case: str, changes: dict, endpoint: tuple) -> None:  # type: ignore[type-arg]
    buyer = mapped(case, **changes).buyer
    assert (buyer.endpoint_scheme, buyer.endpoint_id) == endpoint


def test_foreign_currency_carries_the_vat_in_sek_from_spiris() -> None:
    invoice = mapped("eur")
    source = CustomerInvoice.model_validate(case_invoice(BY_NAME["eur"], 2001))
    assert (invoice.currency, invoice.tax_currency, invoice.exchange_rate) == ("EUR", "SEK", D("11.2"))
    assert invoice.vat_total == D("537.50") and invoice.tax_currency_vat_total == source.TotalVatAmount == D("6020.00")
    credit = mapped("eur", credit=True)
    assert credit.tax_currency_vat_total == D("6020.00")  # stated positive on the credit note, like its VAT
    assert mapped("domestic_25").tax_currency is None  # SEK: no tax currency (PEPPOL-EN16931-R005)


def test_foreign_buyers_get_iban_and_bic() -> None:
    payment = mapped("eu_goods").payment
    assert (payment.iban, payment.bic) == ("SE4550000000058398257466", "ESSESESS")


def test_rot_invoice_states_labour_materials_reduction_persons_and_amount_to_pay() -> None:
    invoice = mapped("rot")
    reduction = invoice.tax_reduction
    assert reduction is not None and reduction.kind == "rot" and reduction.percent == D(30)
    assert (reduction.labour, reduction.materials) == (D("16800.00"), D("10500.00"))  # incl. VAT
    assert reduction.amount == D("5040.00") and invoice.gross_total == D("27300.00")
    assert reduction.amount_to_pay == D("22260.00")
    assert (reduction.property_designation, reduction.apartment_number) == ("TÄBY BJÖRKEN 1:23", None)
    assert [p.personal_identity_number.get_secret_value() for p in reduction.persons] == [ROT_PERSON]
    assert ROT_PERSON not in repr(invoice) and ROT_PERSON not in str(reduction)  # masked outside the document
    assert ROT_PERSON in invoice.model_dump_json()  # and kept for the document
    assert Invoice.model_validate_json(invoice.model_dump_json()) == invoice


def test_rut_invoice_in_a_housing_cooperative() -> None:
    reduction = mapped("rut").tax_reduction
    assert reduction is not None and reduction.kind == "rut" and reduction.amount == D("2250.00")
    assert (reduction.apartment_number, reduction.cooperative_org_number) == ("1102", "7696123459")
    assert reduction.property_designation is None


def test_credit_invoice_with_negative_and_positive_rows() -> None:
    """Spiris credits rows negative and may charge something again (positive): on the credit note the credited
    rows are positive and the charged one negative, with quantity × price = amount and no negative price."""
    credit = mapped("domestic_mixed", credit=True)
    original = mapped("domestic_mixed")
    assert credit.document_type == "credit_note" and credit.original_number == "2001"
    credited, charged = credit.rows[:3], credit.rows[3]
    assert [(r.quantity, r.unit_price, r.amount) for r in credited] == [
        (r.quantity, r.unit_price, r.amount) for r in original.rows]
    assert (charged.quantity, charged.unit_price, charged.amount) == (D(-1), D("250.00"), D("-250.00"))
    assert all(r.quantity * r.unit_price == r.amount for r in credit.rows)
    by_rate = {b.rate: b.taxable_amount for b in credit.vat_breakdown}
    assert by_rate[D(25)] == original.vat_breakdown[0].taxable_amount - D("250.00")
    assert credit.net_total == original.net_total - D("250.00")


# domestic_mixed's credit charges a fee again: test_credit_invoice_with_negative_and_positive_rows.
@pytest.mark.parametrize("case", sorted(set(BY_NAME) - {"domestic_mixed"}))
def test_a_full_credit_note_mirrors_its_original(case: str) -> None:
    original, credit = mapped(case), mapped(case, credit=True)
    assert [(b.category, b.rate, b.taxable_amount, b.vat_amount) for b in credit.vat_breakdown] == [
        (b.category, b.rate, b.taxable_amount, b.vat_amount) for b in original.vat_breakdown]
    assert (credit.gross_total, credit.tax_currency_vat_total) == (original.gross_total, original.tax_currency_vat_total)
    if original.tax_reduction is not None:
        assert credit.tax_reduction == original.tax_reduction
