from __future__ import annotations

from datetime import date
from decimal import Decimal

from invoice_bridge.identifiers import is_valid_ocr
from invoice_bridge.mapping import content_hash, invoice_id_for, to_invoice, vat_percent
from invoice_bridge.models.spiris import CustomerInvoiceRow
from render_fixtures import CUSTOMER, CUSTOMER_GLN, ISSUER, OFFICE, credit_source, row, simple_source, source

D = Decimal


def test_invoice_id_is_deterministic_per_issuer_and_source() -> None:
    first = to_invoice(simple_source(), CUSTOMER, ISSUER, "int-1", office=None)
    again = to_invoice(simple_source(), CUSTOMER, ISSUER, "int-1", office=None)
    assert first.id == again.id == invoice_id_for(ISSUER.id, simple_source().Id)
    assert first.content_hash == again.content_hash
    other_issuer = ISSUER.model_copy(update={"id": "issuer-2"})
    assert to_invoice(simple_source(), CUSTOMER, other_issuer, "int-1", office=None).id != first.id


def test_content_hash_ignores_payment_state_but_not_content() -> None:
    base = simple_source()
    paid = base.model_copy(update={"RemainingAmount": D(0), "PaymentStatus": 0, "ModifiedUtc": None})
    assert content_hash(paid, CUSTOMER) == content_hash(base, CUSTOMER)
    rows = [r.model_copy() for r in base.Rows]
    rows[0] = rows[0].model_copy(update={"Text": "Konsulttimmar november"})
    assert content_hash(base.model_copy(update={"Rows": rows}), CUSTOMER) != content_hash(base, CUSTOMER)
    assert content_hash(base.model_copy(update={"DueDate": None}), CUSTOMER) != content_hash(base, CUSTOMER)
    # 10.0 and 10 are the same amount
    rows2 = [r.model_copy() for r in base.Rows]
    rows2[0] = rows2[0].model_copy(update={"Quantity": D("10.000")})
    assert content_hash(base.model_copy(update={"Rows": rows2}), CUSTOMER) == content_hash(base, CUSTOMER)


def test_vat_rate_scale_fraction_or_percent() -> None:
    assert vat_percent(CustomerInvoiceRow(VatRate=D("0.25"))) == D(25)
    assert vat_percent(CustomerInvoiceRow(VatRate=D("25"))) == D(25)
    assert vat_percent(CustomerInvoiceRow(VatRate=D("0.06"))) == D(6)
    assert vat_percent(CustomerInvoiceRow(PercentVat=D("12"))) == D(12)
    assert vat_percent(CustomerInvoiceRow(VatRate=D("0.25"), IsVatFree=True)) == D(0)
    assert vat_percent(CustomerInvoiceRow(IsTextRow=True, VatRate=None)) == D(0)
    percent_scale = source(2001, [row(0, "x", "2", "100", vat="25")])
    invoice = to_invoice(percent_scale, CUSTOMER, ISSUER, "int-1", office=None)
    assert invoice.vat_breakdown[0].rate == D(25)


def test_simple_invoice_fields() -> None:
    invoice = to_invoice(simple_source(), CUSTOMER, ISSUER, "int-1", office=None)
    assert invoice.number == "1042" and invoice.document_type == "invoice"
    assert invoice.issue_date == date(2026, 10, 31) and invoice.due_date == date(2026, 11, 30)
    assert invoice.seller.org_number == "5560123456" and invoice.seller.vat_number == "SE556012345601"
    assert (invoice.buyer.endpoint_scheme, invoice.buyer.endpoint_id) == ("0007", "5566778899")
    assert invoice.payment.ocr == "104203" and invoice.payment.bankgiro == "5805-6201"
    assert [r.is_text_row for r in invoice.rows] == [False, True, False, False]
    assert invoice.rows[2].discount_percent == D(10) and invoice.rows[2].amount == D("673.65")
    assert {(b.rate, b.taxable_amount, b.vat_amount) for b in invoice.vat_breakdown} == {
        (D(25), D("10673.65"), D("2668.41")), (D(6), D("395.00"), D("23.70"))}
    assert invoice.gross_total == D("13761.00") and invoice.rounding == D("0.24")


def test_gln_buyer_gets_0088_endpoint() -> None:
    invoice = to_invoice(simple_source(), CUSTOMER_GLN, ISSUER, "int-1", office=None)
    assert (invoice.buyer.endpoint_scheme, invoice.buyer.endpoint_id) == ("0088", "7300009060115")
    assert invoice.buyer.org_number == "2321000016"


def test_credit_invoice_becomes_positive_credit_note() -> None:
    invoice = to_invoice(credit_source(), CUSTOMER, ISSUER, "int-1", office=None, original_number="1042")
    assert invoice.document_type == "credit_note" and invoice.original_number == "1042"
    assert invoice.original_source_id == "00000000-0000-4000-8000-000000001042"
    assert invoice.rows[0].amount == D("2000.00") and invoice.rows[0].quantity == D(2)
    assert invoice.gross_total == D("2500.00") and str(invoice.rounding) == "0.00"


def test_office_payee_replaces_payment_details() -> None:
    issuer = ISSUER.model_copy(update={"payee": "office"})
    invoice = to_invoice(simple_source(), CUSTOMER, issuer, "int-1", office=OFFICE)
    assert invoice.payment.bankgiro == OFFICE.bankgiro and invoice.payment.plusgiro is None
    assert invoice.payment.payee_name == OFFICE.name
    assert is_valid_ocr(invoice.payment.ocr or "", length_digit=True)
    assert "1042" in (invoice.payment.ocr or "")
    assert invoice.payment.assignment_clause and "Byrån Redovisning AB" in invoice.payment.assignment_clause
    assert "5050-1055" in invoice.payment.assignment_clause
    plain = OFFICE.model_copy(update={"ocr_length_digit": False})
    without = to_invoice(simple_source(), CUSTOMER, issuer, "int-1", office=plain)
    assert is_valid_ocr(without.payment.ocr or "", length_digit=False)
    assert len(without.payment.ocr or "") == len(invoice.payment.ocr or "") - 1
    english = to_invoice(simple_source(), CUSTOMER, issuer.model_copy(update={"language": "en"}), "int-1",
                         office=OFFICE)
    assert (english.payment.assignment_clause or "").startswith("This claim has been assigned")
