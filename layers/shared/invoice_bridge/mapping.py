"""Spiris `CustomerInvoice` → our `Invoice`: the source invoice re-expressed in the office's terms.

Pure and deterministic: the same source, customer and issuer always give the same invoice (id, content hash,
OCR), so a re-sync of an unchanged invoice is recognised and a changed one becomes a new version.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from pydantic import BaseModel, SecretStr

from .identifiers import (
    EAS_GLN,
    EAS_SE_ORG_NUMBER,
    InvalidIdentifier,
    foreign_org_endpoint,
    make_ocr,
    normalize_foreign_vat_number,
    normalize_gln,
    normalize_org_number,
    normalize_vat_number,
    vat_endpoint,
    vat_number_from_org_number,
)
from .models.common import LANGUAGES, STOCKHOLM, Language, round_ore, stockholm_date, utcnow
from .models.invoice import (
    Invoice,
    InvoiceRow,
    Party,
    PaymentDetails,
    PostalAddress,
    TaxReduction,
    TaxReductionPerson,
    VatBreakdown,
    VatCategory,
)
from .models.issuer import Issuer, OfficePayee
from .models.spiris import Customer, CustomerInvoice, CustomerInvoiceRow
from .vat import VatSituation, row_category, vat_situation

# Namespace of the deterministic invoice ids (uuid5 over issuer id and Spiris invoice id).
INVOICE_ID_NAMESPACE = uuid.UUID("6f1d2a4e-91b3-5c0e-8a7d-3b2f1e0c9d84")
HUNDRED = Decimal("100")
ZERO = Decimal("0")


class UnmappableInvoice(ValueError):
    """The source invoice cannot be re-expressed as ours. The message says why, in words that may be shown
    to the office and the issuer (no input values: they may be personal data)."""


def invoice_id_for(issuer_id: str, source_id: str) -> str:
    return uuid.uuid5(INVOICE_ID_NAMESPACE, f"{issuer_id}:{source_id}").hex


def vat_percent(row: CustomerInvoiceRow) -> Decimal:
    """The row's VAT rate in percent.

    Spiris' scale for `VatRate`/`PercentVat` is not documented (spiris-api.md §2.4: 0.25 or 25 [U]). No
    real Swedish rate is between 0 and 1 percent, so a value <= 1 is a fraction (0.25 → 25 %) and anything
    larger is already a percentage.
    """
    if row.IsTextRow or row.IsVatFree:
        return ZERO
    raw = row.VatRate if row.VatRate is not None else row.PercentVat
    if raw is None:
        return ZERO
    raw = Decimal(raw)
    percent = raw * HUNDRED if raw <= 1 else raw
    return percent.quantize(Decimal("0.01")).normalize() + ZERO  # + 0 turns -0 into 0


def local_date(moment: datetime | None) -> date | None:
    """Spiris sends dates as `2026-10-31T00:00:00` (no offset): that is already the Swedish calendar date."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.date()
    return moment.astimezone(STOCKHOLM).date()


def _canonical(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return _canonical(value.model_dump())
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")  # 10.0 and 10 are the same amount
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return value


# Fields that change without changing the document (payment state, bookkeeping timestamps) are left out.
_HASHED_INVOICE_FIELDS = (
    "InvoiceNumber", "IsCreditInvoice", "CustomerId", "CustomerNumber", "CustomerName", "InvoiceCustomerName",
    "InvoiceAddress1", "InvoiceAddress2", "InvoicePostalCode", "InvoiceCity", "InvoiceCountryCode",
    "CustomerIsPrivatePerson", "CustomerEmail", "InvoiceDate", "DueDate", "DeliveryDate", "CurrencyCode",
    "TotalAmount", "TotalVatAmount", "TotalRoundings", "TotalAmountInvoiceCurrency",
    "TotalVatAmountInvoiceCurrency", "VatSpecification", "ElectronicAddress", "ElectronicReference",
    "BuyersOrderReference", "OurReference", "YourReference", "PaymentReferenceNumber", "ReferringInvoiceId",
    "IncludesVat", "ReverseChargeOnConstructionServices", "ReversedConstructionVatInvoicing",
    "RotReducedInvoicingType", "RotReducedInvoicingAmount", "RotReducedInvoicingPercent",
    "RotReducedInvoicingPropertyName", "RotReducedInvoicingOrgNumber", "RotPropertyType", "Persons",
    "CurrencyRate", "DeliveryCountryCode",
)
_HASHED_ROW_FIELDS = (
    "LineNumber", "IsTextRow", "ArticleNumber", "Text", "Quantity", "UnitPrice", "UnitAbbreviation",
    "UnitAbbreviationEnglish", "DiscountPercentage", "IsDiscountInFixedAmount", "DiscountFixedAmount",
    "AmountNoVat", "Amount", "PercentVat", "VatRate", "IsVatFree", "IsServiceArticle", "IsWorkCost",
)
_HASHED_CUSTOMER_FIELDS = (
    "Name", "IsPrivatePerson", "CorporateIdentityNumber", "VatNumber", "EdiGlnNumber", "GLN", "ElectronicAddress",
    "EmailAddress", "SalesDocumentLanguage", "InvoiceCountryCode", "DeliveryCountryCode", "DeliveryBasedVat",
    "ReverseChargeOnConstructionServices",
)


def content_hash(source: CustomerInvoice, customer: Customer | None) -> str:
    """sha256 over the normalised content that appears on the document (not ModifiedUtc, RemainingAmount, ...)."""
    content: dict[str, Any] = {
        "invoice": {name: getattr(source, name) for name in _HASHED_INVOICE_FIELDS},
        "rows": [{name: getattr(row, name) for name in _HASHED_ROW_FIELDS} for row in source.Rows],
        "customer": {name: getattr(customer, name) for name in _HASHED_CUSTOMER_FIELDS} if customer else None,
    }
    content["invoice"]["VatSpecification"] = [
        spec.model_dump() for spec in (source.VatSpecification or [])
    ]
    encoded = json.dumps(_canonical(content), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def office_ocr(issuer_id: str, invoice_number: str, *, length_digit: bool) -> str:
    """The office's OCR for one issuer's invoice: a 4-digit issuer prefix + the invoice number's digits.

    The office collects for many issuers on one bankgiro, so the invoice number alone would collide; the
    prefix is a stable hash of the issuer id. Deterministic: a re-render gives the same reference.
    """
    issuer_prefix = int(hashlib.sha256(issuer_id.encode()).hexdigest(), 16) % 10_000
    digits = "".join(ch for ch in invoice_number if ch.isdigit()) or "0"
    return make_ocr(f"{issuer_prefix:04d}{int(digits)}", length_digit=length_digit)


def _optional(normalise: Callable[[str], str], value: str | None) -> str | None:
    if not value or not value.strip():
        return None
    try:
        return normalise(value)
    except InvalidIdentifier:
        return None


def _language(issuer: Issuer, customer: Customer | None) -> Language:
    preferred = (customer.SalesDocumentLanguage or "").strip().lower()[:2] if customer else ""
    return LANGUAGES.get(preferred, issuer.language)


def _seller(issuer: Issuer) -> Party:
    org_number = normalize_org_number(issuer.org_number)
    vat_number = _optional(normalize_vat_number, issuer.vat_number) or vat_number_from_org_number(org_number)
    return Party(
        name=issuer.name,
        org_number=org_number,
        vat_number=vat_number,
        address=PostalAddress(
            street=issuer.address.street,
            postal_code=issuer.address.postal_code,
            city=issuer.address.city,
            country=issuer.address.country,
        ),
        email=str(issuer.notification_email),
        endpoint_scheme="0007",
        endpoint_id=org_number,
    )


def _buyer(source: CustomerInvoice, customer: Customer | None) -> Party:
    is_private = bool(source.CustomerIsPrivatePerson or (customer and customer.IsPrivatePerson))
    registration = customer.CorporateIdentityNumber if customer else None
    org_number = None if is_private else _optional(normalize_org_number, registration)
    gln = _optional(normalize_gln, (customer.EdiGlnNumber or customer.GLN) if customer else None)
    vat_number = _buyer_vat_number(customer)
    email = source.CustomerEmail or (customer.EmailAddress if customer else None)
    country = (source.InvoiceCountryCode or (customer.InvoiceCountryCode if customer else None) or "SE").upper()
    scheme, endpoint = (None, None) if is_private else _buyer_endpoint(
        source, customer, country=country, org_number=org_number, gln=gln, vat_number=vat_number
    )
    name = source.InvoiceCustomerName or source.CustomerName or (customer.Name if customer else None) or "-"
    return Party(
        name=name,
        org_number=org_number,
        vat_number=vat_number,
        gln=gln,
        address=PostalAddress(
            street=source.InvoiceAddress1 or (customer.InvoiceAddress1 if customer else None),
            street2=source.InvoiceAddress2 or (customer.InvoiceAddress2 if customer else None),
            postal_code=source.InvoicePostalCode or (customer.InvoicePostalCode if customer else None),
            city=source.InvoiceCity or (customer.InvoiceCity if customer else None),
            country=country,
        ),
        email=email,
        endpoint_scheme=scheme,
        endpoint_id=endpoint,
        is_private_person=is_private,
    )


def _buyer_vat_number(customer: Customer | None) -> str | None:
    """The buyer's VAT number, normalised and checked; one that does not check out counts as missing (a wrong
    VAT number on a reverse-charge invoice is as bad as none)."""
    raw = (customer.VatNumber or "").strip() if customer else ""
    return _optional(normalize_foreign_vat_number, raw)


def _buyer_endpoint(
    source: CustomerInvoice,
    customer: Customer | None,
    *,
    country: str,
    org_number: str | None,
    gln: str | None,
    vat_number: str | None,
) -> tuple[str | None, str | None]:
    """The buyer's Peppol address, from every identifier the buyer has, in this order: an explicit `scheme:id`
    electronic address, the GLN (0088), the Swedish org number (0007), a Norwegian or Danish registration
    number (0192, 0184), the VAT number with its country's scheme. None: the buyer has no electronic address
    and is not offered an e-invoice (the invoice goes by e-mail or letter)."""
    explicit = _explicit_endpoint(source.ElectronicAddress or (customer.ElectronicAddress if customer else None))
    if explicit:
        return explicit
    if gln:
        return EAS_GLN, gln
    if org_number:
        return EAS_SE_ORG_NUMBER, org_number
    registration = (customer.CorporateIdentityNumber or "") if customer else ""
    foreign = foreign_org_endpoint(country, registration) if registration else None
    if foreign:
        return foreign
    by_vat = vat_endpoint(vat_number) if vat_number else None
    return by_vat if by_vat else (None, None)


def _explicit_endpoint(address: str | None) -> tuple[str, str] | None:
    """A Spiris `ElectronicAddress` written as `scheme:id` (e.g. `0007:5560360793`); the schemes the Peppol rules
    check are checked here too, so a mistyped address is skipped instead of failing the e-invoice."""
    if not address or ":" not in address:
        return None
    scheme, _, identifier = (part.strip() for part in address.strip().partition(":"))
    if not (len(scheme) == 4 and scheme.isdigit() and identifier):
        return None
    if scheme == EAS_SE_ORG_NUMBER:
        org_number = _optional(normalize_org_number, identifier)
        return (scheme, org_number) if org_number else None
    if scheme == EAS_GLN:
        gln = _optional(normalize_gln, identifier)
        return (scheme, gln) if gln else None
    for country in ("NO", "DK"):
        checked = foreign_org_endpoint(country, identifier)
        if checked and checked[0] == scheme:
            return checked
    if scheme in ("0192", "0184"):
        return None
    return scheme, identifier


def _row(
    source_row: CustomerInvoiceRow,
    index: int,
    *,
    sign: Decimal,
    includes_vat: bool,
    language: Language,
    situation: VatSituation,
) -> tuple[InvoiceRow, str | None]:
    """One row, and the exemption key of its VAT category (None for S and text rows)."""
    if source_row.IsTextRow:
        return InvoiceRow(line_number=index, is_text_row=True, text=source_row.Text or ""), None
    rate = vat_percent(source_row)
    quantity = Decimal(source_row.Quantity or 0)
    unit_price = Decimal(source_row.UnitPrice or 0)
    if includes_vat:
        # Private-customer invoices carry prices incl. VAT; the document states prices excl. VAT.
        unit_price = (unit_price / (1 + rate / HUNDRED)).quantize(Decimal("0.0001"), ROUND_HALF_UP)
    # DiscountPercentage is a fraction in Spiris (0.1 = 10 %, spiris-api.md §2.4).
    discount = Decimal(source_row.DiscountPercentage or 0) * HUNDRED
    if source_row.AmountNoVat is not None:
        amount = Decimal(source_row.AmountNoVat)
    else:
        amount = quantity * unit_price * (1 - discount / HUNDRED)
    if sign < 0:
        amount = -amount
        quantity, unit_price = _credit_note_signs(quantity, unit_price, amount)
    category, exemption = row_category(source_row, rate, situation)
    unit = (source_row.UnitAbbreviationEnglish if language == "en" else None) or source_row.UnitAbbreviation
    row = InvoiceRow(
        line_number=index,
        article_number=source_row.ArticleNumber,
        text=source_row.Text or "",
        quantity=quantity.normalize() + ZERO if quantity == quantity.to_integral() else quantity,
        unit=unit,
        unit_price=unit_price,
        discount_percent=discount.normalize() + ZERO,
        vat_rate=rate,
        vat_category=category,
        amount=round_ore(amount),
        is_work_cost=bool(source_row.IsWorkCost),
    )
    return row, exemption


def _credit_note_signs(quantity: Decimal, unit_price: Decimal, amount: Decimal) -> tuple[Decimal, Decimal]:
    """Quantity and price of a credit-note row whose amount is already stated positive for what is credited.

    A Spiris credit invoice carries credited rows negative (the sign on the quantity or on the price) and
    may have positive rows too (a fee charged again). On the credit note the price is never negative and the
    quantity carries the row's sign, so quantity × price is the stated amount: a credited row has a positive
    quantity, a row charged again a negative one.
    """
    quantity = abs(quantity) if amount >= 0 else -abs(quantity)
    return quantity, abs(unit_price)


def vat_breakdown(
    rows: list[InvoiceRow],
    exemptions: dict[str, str | None] | None = None,
    source_vat: dict[Decimal, Decimal] | None = None,
) -> list[VatBreakdown]:
    """One subtotal per (category, rate). The VAT amount is the source's when it gave one for the rate
    (totals 'as the source did'), else taxable × rate rounded to öre. `exemptions`: category → exemption key."""
    groups: dict[tuple[VatCategory, Decimal], Decimal] = {}
    for row in rows:
        if row.is_text_row:
            continue
        key = (row.vat_category, row.vat_rate)
        groups[key] = groups.get(key, ZERO) + row.amount
    breakdown = []
    for (category, rate), taxable in sorted(groups.items(), key=lambda item: (-item[0][1], item[0][0])):
        computed = round_ore(taxable * rate / HUNDRED) if category == "S" else ZERO
        vat = (source_vat or {}).get(rate, computed) if category == "S" else ZERO
        breakdown.append(VatBreakdown(
            rate=rate, taxable_amount=taxable, vat_amount=vat, category=category,
            exemption=(exemptions or {}).get(category),
        ))
    return breakdown


def source_vat_by_rate(source: CustomerInvoice, sign: Decimal) -> dict[Decimal, Decimal]:
    result: dict[Decimal, Decimal] = {}
    for spec in source.VatSpecification or []:
        if spec.VatPercent is None or spec.VatAmountInvoiceCurrency is None:
            continue
        raw = Decimal(spec.VatPercent)
        rate = (raw * HUNDRED if raw <= 1 else raw).quantize(Decimal("0.01")).normalize() + ZERO
        result[rate] = result.get(rate, ZERO) + round_ore(Decimal(spec.VatAmountInvoiceCurrency) * sign)
    return result


def tax_currency_fields(source: CustomerInvoice, currency: str, sign: Decimal) -> dict[str, Any]:
    """A foreign-currency invoice states its VAT in SEK too (ML 17 kap. 29 §): Spiris' base-currency VAT
    total (`TotalVatAmount`) and its rate (`CurrencyRate`). Empty for SEK invoices (PEPPOL-EN16931-R005)."""
    if currency == "SEK":
        return {}
    vat_sek = Decimal(source.TotalVatAmount) if source.TotalVatAmount is not None else None
    return {
        "tax_currency": "SEK",
        "tax_currency_vat_total": round_ore(vat_sek * sign) + ZERO if vat_sek is not None else None,
        "exchange_rate": Decimal(source.CurrencyRate) if source.CurrencyRate is not None else None,
    }


ROT, RUT = 1, 2


def _percent(raw: Decimal) -> Decimal:
    """A percentage from Spiris, which sends some as fractions (0.3) and some as percent (30)."""
    value = Decimal(raw)
    return (value * HUNDRED if value <= 1 else value).quantize(Decimal("0.01")).normalize() + ZERO


def tax_reduction(source: CustomerInvoice, rows: list[InvoiceRow], sign: Decimal, gross_total: Decimal) -> TaxReduction | None:
    """ROT or RUT: the labour and materials incl. VAT (from the rows), the reduction and the persons who claim
    it (from Spiris), the property, and what the buyer pays. None for an ordinary invoice."""
    if source.RotReducedInvoicingType not in (ROT, RUT):
        return None
    labour = sum((r.amount * (1 + r.vat_rate / HUNDRED) for r in rows if r.is_work_cost), ZERO)
    materials = sum((r.amount * (1 + r.vat_rate / HUNDRED) for r in rows if not r.is_text_row and not r.is_work_cost),
                    ZERO)
    amount = round_ore(Decimal(source.RotReducedInvoicingAmount or 0) * sign) + ZERO
    apartment = source.RotPropertyType == 1
    property_name = (source.RotReducedInvoicingPropertyName or "").strip() or None
    persons = [
        TaxReductionPerson(personal_identity_number=person.Ssn, amount=round_ore(Decimal(person.Amount or 0) * sign))
        for person in source.Persons or []
        if person.Ssn is not None and person.Ssn.get_secret_value().strip()
    ]
    return TaxReduction(
        kind="rot" if source.RotReducedInvoicingType == ROT else "rut",
        amount=amount,
        percent=_percent(source.RotReducedInvoicingPercent) if source.RotReducedInvoicingPercent else None,
        labour=round_ore(labour) + ZERO,
        materials=round_ore(materials) + ZERO,
        property_designation=None if apartment else property_name,
        apartment_number=property_name if apartment else None,
        cooperative_org_number=(source.RotReducedInvoicingOrgNumber or "").strip() or None,
        persons=persons,
        amount_to_pay=gross_total - amount,
    )


def to_invoice(
    source: CustomerInvoice,
    customer: Customer | None,
    issuer: Issuer,
    integration_id: str,
    *,
    office: OfficePayee | None,
    original_number: str | None = None,
    today: date | None = None,
) -> Invoice:
    """Map one booked Spiris invoice (and its customer) to our invoice for `issuer`.

    `original_number` is the credited invoice's number when the caller knows it (credit invoices).
    `today` (Stockholm's date) is the issue date of an invoice that carries neither InvoiceDate nor CreatedUtc.
    """
    language = _language(issuer, customer)
    is_credit = bool(source.IsCreditInvoice)
    sign = Decimal(-1) if is_credit else Decimal(1)
    currency = (source.CurrencyCode or "SEK").upper()
    rows, exemptions = _rows(source, sign, language, vat_situation(source, customer))
    breakdown = vat_breakdown(rows, exemptions, source_vat_by_rate(source, sign))
    net_total, vat_total, rounding, gross_total = _totals(source, breakdown, currency, sign)
    number = str(source.InvoiceNumber) if source.InvoiceNumber is not None else source.Id[:8]
    issue_date = local_date(source.InvoiceDate) or local_date(source.CreatedUtc) or today or stockholm_date(utcnow())

    return Invoice(
        id=invoice_id_for(issuer.id, source.Id),
        issuer_id=issuer.id,
        integration_id=integration_id,
        source_id=source.Id,
        source_modified_utc=source.ModifiedUtc,
        content_hash=content_hash(source, customer),
        document_type="credit_note" if is_credit else "invoice",
        number=number,
        original_number=original_number if is_credit else None,
        original_source_id=source.ReferringInvoiceId if is_credit else None,
        issue_date=issue_date,
        due_date=local_date(source.DueDate),
        delivery_date=local_date(source.DeliveryDate),
        delivery_address=_delivery_address(source),
        currency=currency,
        language=language,
        seller=_seller(issuer),
        buyer=_buyer(source, customer),
        buyer_reference=(source.YourReference or "").strip() or None,
        our_reference=(source.OurReference or "").strip() or None,
        order_reference=(source.BuyersOrderReference or "").strip() or None,
        rows=rows,
        vat_breakdown=breakdown,
        net_total=net_total,
        vat_total=vat_total,
        rounding=rounding,
        gross_total=gross_total,
        reverse_charge=any(b.category == "AE" for b in breakdown),
        payment=_payment(source, issuer, office, number, language),
        tax_reduction=tax_reduction(source, rows, sign, gross_total),
        **tax_currency_fields(source, currency, sign),
    )


def _totals(
    source: CustomerInvoice, breakdown: list[VatBreakdown], currency: str, sign: Decimal
) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """Net, VAT, rounding and gross total: the net and VAT are the breakdown's sums."""
    net_total = sum((b.taxable_amount for b in breakdown), ZERO)
    vat_total = sum((b.vat_amount for b in breakdown), ZERO)
    # Öresavrundning: Spiris reports it in base currency (TotalRoundings); only meaningful for SEK invoices.
    rounding = round_ore(Decimal(source.TotalRoundings or 0) * sign) + ZERO if currency == "SEK" else ZERO
    return net_total, vat_total, rounding, net_total + vat_total + rounding


def _rows(
    source: CustomerInvoice, sign: Decimal, language: Language, situation: VatSituation
) -> tuple[list[InvoiceRow], dict[str, str | None]]:
    """Our rows in Spiris' line order, and the VAT exemption reason of each category that has one."""
    if not source.Rows:
        raise UnmappableInvoice("the invoice has no rows")
    ordered = sorted(source.Rows, key=lambda r: (r.LineNumber if r.LineNumber is not None else 0))
    mapped = [
        _row(r, i, sign=sign, includes_vat=bool(source.IncludesVat), language=language, situation=situation)
        for i, r in enumerate(ordered, start=1)
    ]
    rows = [row for row, _ in mapped]
    for row in rows:
        if not row.is_text_row and not ZERO <= row.vat_rate < HUNDRED:
            raise UnmappableInvoice(f"row {row.line_number}: a VAT rate of {row.vat_rate} % makes no sense")
    exemptions: dict[str, str | None] = {row.vat_category: exemption for row, exemption in mapped if exemption}
    return rows, exemptions


def _delivery_address(source: CustomerInvoice) -> PostalAddress | None:
    if not source.DeliveryCountryCode:
        return None
    return PostalAddress(
        street=source.DeliveryAddress1,
        street2=source.DeliveryAddress2,
        postal_code=source.DeliveryPostalCode,
        city=source.DeliveryCity,
        country=source.DeliveryCountryCode.strip().upper(),
    )


def _payment(
    source: CustomerInvoice, issuer: Issuer, office: OfficePayee | None, number: str, language: Language
) -> PaymentDetails:
    """Where the buyer pays: the office's bankgiro with its own OCR when the office is payee, else the
    issuer's accounts (IBAN with BIC, for buyers abroad, when the issuer has them)."""
    if issuer.payee == "office" and office is not None:
        bankgiro = office.bankgiro
        clause_template = office.assignment_clause_en if language == "en" else office.assignment_clause_sv
        return PaymentDetails(
            bankgiro=bankgiro,
            ocr=office_ocr(issuer.id, number, length_digit=office.ocr_length_digit),
            payee_name=office.name,
            assignment_clause=clause_template.format(office=office.name, bankgiro=_display_bankgiro(bankgiro)),
        )
    return PaymentDetails(
        bankgiro=issuer.bankgiro,
        plusgiro=issuer.plusgiro,
        iban=issuer.iban,
        bic=issuer.bic if issuer.iban else None,
        ocr=(source.PaymentReferenceNumber or "").strip() or None,
        payee_name=issuer.name,
    )


def _display_bankgiro(bankgiro: str) -> str:
    digits = "".join(ch for ch in bankgiro if ch.isdigit())
    return f"{digits[:-4]}-{digits[-4:]}" if len(digits) >= 7 else bankgiro
