"""Our `Invoice` as a Peppol BIS Billing 3.0 UBL 2.1 Invoice or CreditNote (with the Swedish SE-R-* rules)."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from decimal import Decimal

from ..models.invoice import Invoice, InvoiceRow, Party
from ..models.issuer import Issuer
from ..vat import EXEMPTION_CODES, has_category
from .texts import payment_terms_text, texts_for

CUSTOMIZATION_ID = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
PROFILE_ID = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
NS_INVOICE = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
NS_CREDIT_NOTE = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
F_SKATT = "Godkänd för F-skatt"
R120_SLACK = Decimal("0.02")

ET.register_namespace("cac", CAC)
ET.register_namespace("cbc", CBC)

# Our unit abbreviations (Spiris "st", "h", ...) → UN/ECE Recommendation 20 codes; C62 ("one") otherwise.
UNIT_CODES = {
    "st": "H87", "st.": "H87", "pcs": "H87", "pc": "H87", "styck": "H87",
    "h": "HUR", "tim": "HUR", "timme": "HUR", "timmar": "HUR", "hour": "HUR", "hours": "HUR",
    "dag": "DAY", "dagar": "DAY", "day": "DAY", "days": "DAY", "mån": "MON", "månad": "MON", "month": "MON",
    "kg": "KGM", "g": "GRM", "m": "MTR", "km": "KMT", "m2": "MTK", "m²": "MTK", "m3": "MTQ", "l": "LTR",
    "år": "ANN", "year": "ANN", "vecka": "WEE", "week": "WEE", "min": "MIN",
}


def unit_code(unit: str | None) -> str:
    return UNIT_CODES.get((unit or "").strip().lower(), "C62")


def _amount(value: Decimal) -> str:
    return f"{value:.2f}"


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text if text not in ("-0", "") else "0"


class _Builder:
    def __init__(self, root: ET.Element, currency: str) -> None:
        self.root = root
        self.currency = currency

    def cbc(self, parent: ET.Element, name: str, text: str | None, **attrs: str) -> ET.Element | None:
        if text is None or str(text).strip() == "":
            return None  # PEPPOL-EN16931-R008: no empty elements
        element = ET.SubElement(parent, f"{{{CBC}}}{name}", attrs)
        element.text = str(text)
        return element

    def money(self, parent: ET.Element, name: str, value: Decimal) -> None:
        self.cbc(parent, name, _amount(value), currencyID=self.currency)

    def cac(self, parent: ET.Element, name: str) -> ET.Element:
        return ET.SubElement(parent, f"{{{CAC}}}{name}")


def _address(b: _Builder, parent: ET.Element, party: Party) -> None:
    address = b.cac(parent, "PostalAddress")
    b.cbc(address, "StreetName", party.address.street)
    b.cbc(address, "AdditionalStreetName", party.address.street2)
    b.cbc(address, "CityName", party.address.city)
    b.cbc(address, "PostalZone", party.address.postal_code)
    country = b.cac(address, "Country")
    b.cbc(country, "IdentificationCode", party.address.country or "SE")


def _seller(b: _Builder, parent: ET.Element, invoice: Invoice, issuer: Issuer) -> None:
    seller = invoice.seller
    party = b.cac(b.cac(parent, "AccountingSupplierParty"), "Party")
    b.cbc(party, "EndpointID", seller.endpoint_id, schemeID=seller.endpoint_scheme or "0007")
    b.cbc(b.cac(party, "PartyName"), "Name", seller.name)
    _address(b, party, seller)
    if seller.vat_number and not has_category(invoice, "O"):  # BR-O-02: no VAT identifiers with O
        scheme = b.cac(party, "PartyTaxScheme")
        b.cbc(scheme, "CompanyID", seller.vat_number)
        b.cbc(b.cac(scheme, "TaxScheme"), "ID", "VAT")
    if issuer.f_skatt:
        # SE-R-005: the seller's non-VAT tax registration states exactly "Godkänd för F-skatt".
        scheme = b.cac(party, "PartyTaxScheme")
        b.cbc(scheme, "CompanyID", F_SKATT)
        b.cbc(b.cac(scheme, "TaxScheme"), "ID", "TAX")
    legal = b.cac(party, "PartyLegalEntity")
    b.cbc(legal, "RegistrationName", seller.name)
    b.cbc(legal, "CompanyID", seller.org_number, schemeID="0007")
    if seller.email:
        b.cbc(b.cac(party, "Contact"), "ElectronicMail", seller.email)


def _buyer(b: _Builder, parent: ET.Element, invoice: Invoice) -> None:
    buyer = invoice.buyer
    party = b.cac(b.cac(parent, "AccountingCustomerParty"), "Party")
    b.cbc(party, "EndpointID", buyer.endpoint_id, schemeID=buyer.endpoint_scheme or "0007")
    if buyer.gln:
        b.cbc(b.cac(party, "PartyIdentification"), "ID", buyer.gln, schemeID="0088")
    b.cbc(b.cac(party, "PartyName"), "Name", buyer.name)
    _address(b, party, buyer)
    if buyer.vat_number and not has_category(invoice, "O"):
        scheme = b.cac(party, "PartyTaxScheme")
        b.cbc(scheme, "CompanyID", buyer.vat_number)
        b.cbc(b.cac(scheme, "TaxScheme"), "ID", "VAT")
    legal = b.cac(party, "PartyLegalEntity")
    b.cbc(legal, "RegistrationName", buyer.name)
    if buyer.org_number:
        b.cbc(legal, "CompanyID", buyer.org_number, schemeID="0007")
    if buyer.email or invoice.buyer_reference:
        contact = b.cac(party, "Contact")
        b.cbc(contact, "Name", invoice.buyer_reference)
        b.cbc(contact, "ElectronicMail", buyer.email)


def _payee(b: _Builder, parent: ET.Element, invoice: Invoice) -> None:
    """BG-10: when the office is payee (a payee other than the seller)."""
    payee = b.cac(parent, "PayeeParty")
    b.cbc(b.cac(payee, "PartyName"), "Name", invoice.payment.payee_name)


def _payment_means(b: _Builder, root: ET.Element, invoice: Invoice, is_credit: bool) -> None:
    payment = invoice.payment
    accounts: list[tuple[str, str, str | None]] = []  # (means code, account, financial institution)
    if payment.bankgiro:
        accounts.append(("30", "".join(c for c in payment.bankgiro if c.isdigit()), "SE:BANKGIRO"))
    if payment.plusgiro:
        accounts.append(("30", "".join(c for c in payment.plusgiro if c.isdigit()), "SE:PLUSGIRO"))
    if payment.iban:
        # UBL-SR-47: all payment means of a document carry the same code; 30 (credit transfer) covers IBAN too.
        # The BIC is the financial institution's id; a buyer abroad pays by IBAN, so it comes first for them.
        iban = ("30", payment.iban.replace(" ", "").upper(), payment.bic)
        if invoice.buyer.address.country != "SE":
            accounts.insert(0, iban)
        else:
            accounts.append(iban)
    for position, (code, account_id, branch) in enumerate(accounts):
        means = b.cac(root, "PaymentMeans")
        b.cbc(means, "PaymentMeansCode", code)
        if is_credit and invoice.due_date and position == 0:  # UBL-SR-45: at most one due date
            b.cbc(means, "PaymentDueDate", invoice.due_date.isoformat())
        b.cbc(means, "PaymentID", payment.ocr or invoice.number)
        account = b.cac(means, "PayeeFinancialAccount")
        b.cbc(account, "ID", account_id)
        b.cbc(account, "Name", payment.payee_name)
        if branch:
            b.cbc(b.cac(account, "FinancialInstitutionBranch"), "ID", branch)


def _tax_category(b: _Builder, parent: ET.Element, name: str, category: str, rate: Decimal) -> ET.Element:
    element = b.cac(parent, name)
    b.cbc(element, "ID", category)
    if category != "O":  # BR-O-05: outside the scope of VAT has no rate
        b.cbc(element, "Percent", _plain(rate))
    return element


def einvoice_obstacle(invoice: Invoice) -> str | None:
    """Why this invoice cannot be a Peppol-valid e-invoice (None: it can). Such an invoice is never offered
    as an e-invoice: it goes by e-mail or letter with our PDF."""
    buyer = invoice.buyer
    if buyer.is_private_person or invoice.tax_reduction is not None:
        return "the buyer is a private person; e-invoices over Peppol go to companies"
    if not buyer.endpoint_id:
        return "the buyer has no electronic address (no org number, GLN or VAT number with a Peppol scheme)"
    if has_category(invoice, "O") and any(b.category != "O" for b in invoice.vat_breakdown):
        return "rows outside the scope of VAT (O) cannot share an e-invoice with other VAT categories (BR-O-11)"
    return None


def _delivery(b: _Builder, root: ET.Element, invoice: Invoice) -> None:
    """BG-13. An intra-community supply states the delivery date and the country delivered to (BR-IC-11/12);
    without its own delivery date the goods were delivered on the invoice date (Spiris' default)."""
    intra_community = has_category(invoice, "K")
    delivery_date = invoice.delivery_date or (invoice.issue_date if intra_community else None)
    if delivery_date is None and not intra_community:
        return
    delivery = b.cac(root, "Delivery")
    b.cbc(delivery, "ActualDeliveryDate", delivery_date.isoformat() if delivery_date else None)
    if intra_community:
        place = invoice.delivery_address or invoice.buyer.address
        address = b.cac(b.cac(delivery, "DeliveryLocation"), "Address")
        b.cbc(address, "StreetName", place.street)
        b.cbc(address, "CityName", place.city)
        b.cbc(address, "PostalZone", place.postal_code)
        b.cbc(b.cac(address, "Country"), "IdentificationCode", place.country)


def _tax_totals(b: _Builder, root: ET.Element, invoice: Invoice) -> None:
    """The VAT breakdown in the invoice currency, and the VAT total in SEK for a foreign currency (BT-111,
    PEPPOL-EN16931-R054: a second TaxTotal with only the amount)."""
    texts = texts_for(invoice.language)
    tax_total = b.cac(root, "TaxTotal")
    b.money(tax_total, "TaxAmount", invoice.vat_total)
    for vat in invoice.vat_breakdown:
        subtotal = b.cac(tax_total, "TaxSubtotal")
        b.money(subtotal, "TaxableAmount", vat.taxable_amount)
        b.money(subtotal, "TaxAmount", vat.vat_amount)
        category = _tax_category(b, subtotal, "TaxCategory", vat.category, vat.rate)
        if vat.exemption:
            b.cbc(category, "TaxExemptionReasonCode", EXEMPTION_CODES.get(vat.exemption))
            b.cbc(category, "TaxExemptionReason", texts[f"vatex_{vat.exemption}"])
        b.cbc(b.cac(category, "TaxScheme"), "ID", "VAT")
    if invoice.tax_currency and invoice.tax_currency_vat_total is not None:
        in_tax_currency = b.cac(root, "TaxTotal")
        b.cbc(in_tax_currency, "TaxAmount", _amount(invoice.tax_currency_vat_total), currencyID=invoice.tax_currency)


def _line_price(row: InvoiceRow) -> tuple[Decimal, Decimal, Decimal | None, Decimal | None]:
    """(quantity, net price, gross price, price allowance) so that qty × net ≈ line amount (PEPPOL R120)
    and the net price is never negative (BR-27): a negative line carries the sign in the quantity."""
    quantity = row.quantity if row.quantity != 0 else Decimal(1)
    gross = abs(row.unit_price)
    if (row.amount < 0) != (quantity < 0):
        quantity = -quantity
    allowance = gross * row.discount_percent / Decimal(100) if row.discount_percent else None
    net = gross - allowance if allowance is not None else gross
    if abs(quantity * net - row.amount) > R120_SLACK:
        # The source's price does not reproduce its own line amount (VAT-inclusive prices, fixed discounts):
        # state the effective net price instead.
        net = (row.amount / quantity).quantize(Decimal("0.000001"))
        return quantity, abs(net), None, None
    return quantity, net, (gross if allowance is not None else None), allowance


def build_ubl(invoice: Invoice, issuer: Issuer, *, pdf: bytes | None = None) -> bytes:
    """The UBL document (UTF-8 bytes). `pdf` is attached as an AdditionalDocumentReference when given.
    The parts are added in the order the UBL schema requires."""
    is_credit = invoice.document_type == "credit_note"
    root_ns = NS_CREDIT_NOTE if is_credit else NS_INVOICE
    root = ET.Element(f"{{{root_ns}}}{'CreditNote' if is_credit else 'Invoice'}")
    b = _Builder(root, invoice.currency)
    texts = texts_for(invoice.language)

    _header(b, root, invoice, texts, is_credit)
    _document_references(b, root, invoice, texts, is_credit, pdf)
    _seller(b, root, invoice, issuer)
    _buyer(b, root, invoice)
    if invoice.payment.assignment_clause and invoice.payment.payee_name:
        _payee(b, root, invoice)
    _delivery(b, root, invoice)
    _payment_means(b, root, invoice, is_credit)
    terms = payment_terms_text(invoice)
    if terms:
        b.cbc(b.cac(root, "PaymentTerms"), "Note", terms)
    _tax_totals(b, root, invoice)
    _monetary_totals(b, root, invoice)
    _lines(b, root, invoice, is_credit)

    # The document namespace is the default one (as in the Peppol examples); re-registered per call because
    # Invoice and CreditNote share the empty prefix.
    ET.register_namespace("", root_ns)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document


def _header(b: _Builder, root: ET.Element, invoice: Invoice, texts: dict[str, str], is_credit: bool) -> None:
    """Profile, number, dates, type code, the one note and the currencies."""
    b.cbc(root, "CustomizationID", CUSTOMIZATION_ID)
    b.cbc(root, "ProfileID", PROFILE_ID)
    b.cbc(root, "ID", invoice.number)
    b.cbc(root, "IssueDate", invoice.issue_date.isoformat())
    if not is_credit and invoice.due_date:
        b.cbc(root, "DueDate", invoice.due_date.isoformat())
    b.cbc(root, "CreditNoteTypeCode" if is_credit else "InvoiceTypeCode", "381" if is_credit else "380")
    notes = []
    if invoice.reverse_charge:
        notes.append(texts["reverse_charge"])
    if invoice.payment.assignment_clause:
        notes.append(invoice.payment.assignment_clause)
    if notes:
        b.cbc(root, "Note", " ".join(notes))  # PEPPOL-EN16931-R002: at most one note
    b.cbc(root, "DocumentCurrencyCode", invoice.currency)
    if invoice.tax_currency and invoice.tax_currency_vat_total is not None:
        b.cbc(root, "TaxCurrencyCode", invoice.tax_currency)


def _document_references(
    b: _Builder, root: ET.Element, invoice: Invoice, texts: dict[str, str], is_credit: bool, pdf: bytes | None
) -> None:
    """Buyer and order references, the credited invoice, and our PDF as an attachment."""
    # PEPPOL-EN16931-R003: a buyer reference or an order reference is mandatory; fall back to our number.
    b.cbc(root, "BuyerReference", invoice.buyer_reference or invoice.order_reference or invoice.number)
    if invoice.order_reference:
        b.cbc(b.cac(root, "OrderReference"), "ID", invoice.order_reference)
    if is_credit and invoice.original_number:
        b.cbc(b.cac(b.cac(root, "BillingReference"), "InvoiceDocumentReference"), "ID", invoice.original_number)
    if pdf is not None:
        reference = b.cac(root, "AdditionalDocumentReference")
        b.cbc(reference, "ID", invoice.number)
        b.cbc(reference, "DocumentDescription", texts["credit_note_title" if is_credit else "invoice_title"])
        attachment = b.cac(reference, "Attachment")
        b.cbc(attachment, "EmbeddedDocumentBinaryObject", base64.b64encode(pdf).decode("ascii"),
              mimeCode="application/pdf", filename=f"{invoice.number}.pdf")


def _monetary_totals(b: _Builder, root: ET.Element, invoice: Invoice) -> None:
    totals = b.cac(root, "LegalMonetaryTotal")
    b.money(totals, "LineExtensionAmount", invoice.net_total)
    b.money(totals, "TaxExclusiveAmount", invoice.net_total)
    b.money(totals, "TaxInclusiveAmount", invoice.net_total + invoice.vat_total)
    if invoice.rounding:
        b.money(totals, "PayableRoundingAmount", invoice.rounding)
    b.money(totals, "PayableAmount", invoice.gross_total)


def _text_notes(rows: list[InvoiceRow]) -> tuple[dict[int, list[str]], list[str]]:
    """The text rows before each item row (by its line number), and those after the last item row."""
    before: dict[int, list[str]] = {}
    pending: list[str] = []
    for row in rows:
        if row.is_text_row:
            pending.append(row.text)
        else:
            before[row.line_number] = pending
            pending = []
    return before, pending


def _lines(b: _Builder, root: ET.Element, invoice: Invoice, is_credit: bool) -> None:
    line_tag, quantity_tag = ("CreditNoteLine", "CreditedQuantity") if is_credit else ("InvoiceLine", "InvoicedQuantity")
    item_rows = [row for row in invoice.rows if not row.is_text_row]
    text_rows_before, trailing = _text_notes(invoice.rows)
    for position, row in enumerate(item_rows, start=1):
        line = b.cac(root, line_tag)
        b.cbc(line, "ID", str(position))
        # Text rows have no place in UBL lines; they travel as the note of the next item line.
        note = " ".join(text_rows_before.get(row.line_number, []) + (trailing if position == len(item_rows) else []))
        b.cbc(line, "Note", note.strip() or None)
        quantity, net, gross, allowance = _line_price(row)
        b.cbc(line, quantity_tag, _plain(quantity), unitCode=unit_code(row.unit))
        b.money(line, "LineExtensionAmount", row.amount)
        item = b.cac(line, "Item")
        b.cbc(item, "Name", (row.text or row.article_number or "-")[:200].replace("\n", " "))
        if row.article_number:
            b.cbc(b.cac(item, "SellersItemIdentification"), "ID", row.article_number)
        classified = _tax_category(b, item, "ClassifiedTaxCategory", row.vat_category, row.vat_rate)
        b.cbc(b.cac(classified, "TaxScheme"), "ID", "VAT")
        price = b.cac(line, "Price")
        b.cbc(price, "PriceAmount", _plain(net), currencyID=invoice.currency)
        if allowance is not None and gross is not None:
            charge = b.cac(price, "AllowanceCharge")
            b.cbc(charge, "ChargeIndicator", "false")
            b.cbc(charge, "Amount", _plain(allowance), currencyID=invoice.currency)
            b.cbc(charge, "BaseAmount", _plain(gross), currencyID=invoice.currency)
