"""Spiris `CustomerInvoice` → our `Invoice`: the source invoice re-expressed in the office's terms.

Pure and deterministic: the same source, customer and issuer always give the same invoice (id, content hash,
OCR), so a re-sync of an unchanged invoice is recognised and a changed one becomes a new version.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from .identifiers import (
    InvalidIdentifier,
    make_ocr,
    normalize_gln,
    normalize_org_number,
    normalize_vat_number,
    vat_number_from_org_number,
)
from .models.common import STOCKHOLM, Language, round_ore, stockholm_date, utcnow
from .models.invoice import Invoice, InvoiceRow, Party, PaymentDetails, PostalAddress, VatBreakdown
from .models.issuer import Issuer, OfficePayee
from .models.spiris import Customer, CustomerInvoice, CustomerInvoiceRow

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


def _local_date(moment: datetime | None) -> date | None:
    """Spiris sends dates as `2026-10-31T00:00:00` (no offset): that is already the Swedish calendar date."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.date()
    return moment.astimezone(STOCKHOLM).date()


def _canonical(value: Any) -> Any:
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
    "IncludesVat", "ReverseChargeOnConstructionServices", "RotReducedInvoicingType",
)
_HASHED_ROW_FIELDS = (
    "LineNumber", "IsTextRow", "ArticleNumber", "Text", "Quantity", "UnitPrice", "UnitAbbreviation",
    "UnitAbbreviationEnglish", "DiscountPercentage", "IsDiscountInFixedAmount", "DiscountFixedAmount",
    "AmountNoVat", "Amount", "PercentVat", "VatRate", "IsVatFree",
)
_HASHED_CUSTOMER_FIELDS = (
    "Name", "IsPrivatePerson", "CorporateIdentityNumber", "VatNumber", "EdiGlnNumber", "GLN", "ElectronicAddress",
    "EmailAddress", "SalesDocumentLanguage",
)


def content_hash(source: CustomerInvoice, customer: Customer | None) -> str:
    """sha256 over the normalised content that appears on the document (not ModifiedUtc, RemainingAmount, ...)."""
    content = {
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


def _optional(normalise: Any, value: str | None) -> str | None:
    if not value or not value.strip():
        return None
    try:
        return normalise(value)
    except InvalidIdentifier:
        return None


def _language(issuer: Issuer, customer: Customer | None) -> Language:
    preferred = (customer.SalesDocumentLanguage or "").strip().lower()[:2] if customer else ""
    if preferred in ("sv", "en"):
        return preferred  # type: ignore[return-value]
    return issuer.language


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
    org_number = None if is_private else _optional(normalize_org_number, customer and customer.CorporateIdentityNumber)
    gln = _optional(normalize_gln, customer and (customer.EdiGlnNumber or customer.GLN))
    raw_vat = (customer.VatNumber or "").strip() if customer else ""
    vat_number = _optional(normalize_vat_number, raw_vat) if raw_vat.upper().startswith("SE") else (raw_vat or None)
    email = source.CustomerEmail or (customer.EmailAddress if customer else None)
    scheme, endpoint = _buyer_endpoint(source, customer, org_number, gln)
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
            country=(source.InvoiceCountryCode or (customer.InvoiceCountryCode if customer else None) or "SE").upper(),
        ),
        email=email,
        endpoint_scheme=scheme,
        endpoint_id=endpoint,
        is_private_person=is_private,
    )


def _buyer_endpoint(
    source: CustomerInvoice, customer: Customer | None, org_number: str | None, gln: str | None
) -> tuple[str | None, str | None]:
    """The buyer's Peppol address: an explicit `scheme:id` electronic address, else GLN (0088), else org nr (0007)."""
    explicit = source.ElectronicAddress or (customer.ElectronicAddress if customer else None)
    if explicit and ":" in explicit:
        scheme, _, identifier = explicit.strip().partition(":")
        if scheme == "0007" and _optional(normalize_org_number, identifier):
            return "0007", normalize_org_number(identifier)
        if scheme == "0088" and _optional(normalize_gln, identifier):
            return "0088", identifier.strip()
    if gln:
        return "0088", gln
    if org_number:
        return "0007", org_number
    # No Peppol address (private persons, customers without org nr/GLN): the invoice goes by e-mail or post.
    return None, None


def _row(source_row: CustomerInvoiceRow, index: int, *, sign: Decimal, includes_vat: bool, language: Language) -> InvoiceRow:
    if source_row.IsTextRow:
        return InvoiceRow(line_number=index, is_text_row=True, text=source_row.Text or "")
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
    # Credit invoices carry negative amounts in Spiris; a credit note states them positive.
    if sign < 0:
        amount = -amount
        if quantity < 0:  # the sign sits on the quantity or on the price; move it off whichever has it
            quantity = -quantity
        elif unit_price < 0:
            unit_price = -unit_price
    unit = (source_row.UnitAbbreviationEnglish if language == "en" else None) or source_row.UnitAbbreviation
    return InvoiceRow(
        line_number=index,
        article_number=source_row.ArticleNumber,
        text=source_row.Text or "",
        quantity=quantity.normalize() + ZERO if quantity == quantity.to_integral() else quantity,
        unit=unit,
        unit_price=unit_price,
        discount_percent=discount.normalize() + ZERO,
        vat_rate=rate,
        amount=round_ore(amount),
    )


def vat_category(rate: Decimal, reverse_charge: bool) -> str:
    """UNCL5305: S standard, AE reverse charge, E exempt (0 % rows that are not reverse charge)."""
    if rate > 0:
        return "S"
    return "AE" if reverse_charge else "E"


def vat_breakdown(
    rows: list[InvoiceRow], reverse_charge: bool, source_vat: dict[Decimal, Decimal] | None = None
) -> list[VatBreakdown]:
    """One subtotal per (category, rate). The VAT amount is the source's when it gave one for the rate
    (totals 'as the source did'), else taxable × rate rounded to öre."""
    groups: dict[tuple[str, Decimal], Decimal] = {}
    for row in rows:
        if row.is_text_row:
            continue
        key = (vat_category(row.vat_rate, reverse_charge), row.vat_rate)
        groups[key] = groups.get(key, ZERO) + row.amount
    breakdown = []
    for (category, rate), taxable in sorted(groups.items(), key=lambda item: (-item[0][1], item[0][0])):
        computed = round_ore(taxable * rate / HUNDRED) if category == "S" else ZERO
        vat = (source_vat or {}).get(rate, computed) if category == "S" else ZERO
        breakdown.append(VatBreakdown(rate=rate, taxable_amount=taxable, vat_amount=vat, category=category))
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
    reverse_charge = bool(source.ReverseChargeOnConstructionServices or source.ReversedConstructionVatInvoicing)
    if not source.Rows:
        raise UnmappableInvoice("the invoice has no rows")
    ordered = sorted(source.Rows, key=lambda r: (r.LineNumber if r.LineNumber is not None else 0))
    rows = [
        _row(r, i, sign=sign, includes_vat=bool(source.IncludesVat), language=language)
        for i, r in enumerate(ordered, start=1)
    ]
    for row in rows:
        if not row.is_text_row and not ZERO <= row.vat_rate < HUNDRED:
            raise UnmappableInvoice(f"row {row.line_number}: a VAT rate of {row.vat_rate} % makes no sense")
    breakdown = vat_breakdown(rows, reverse_charge, source_vat_by_rate(source, sign))
    net_total = sum((b.taxable_amount for b in breakdown), ZERO)
    vat_total = sum((b.vat_amount for b in breakdown), ZERO)
    # Öresavrundning: Spiris reports it in base currency (TotalRoundings); only meaningful for SEK invoices.
    rounding = round_ore(Decimal(source.TotalRoundings or 0) * sign) + ZERO if currency == "SEK" else ZERO
    number = str(source.InvoiceNumber) if source.InvoiceNumber is not None else source.Id[:8]
    issue_date = _local_date(source.InvoiceDate) or _local_date(source.CreatedUtc) or today or stockholm_date(utcnow())

    if issuer.payee == "office" and office is not None:
        bankgiro = office.bankgiro
        clause_template = office.assignment_clause_en if language == "en" else office.assignment_clause_sv
        payment = PaymentDetails(
            bankgiro=bankgiro,
            ocr=office_ocr(issuer.id, number, length_digit=office.ocr_length_digit),
            payee_name=office.name,
            assignment_clause=clause_template.format(office=office.name, bankgiro=_display_bankgiro(bankgiro)),
        )
    else:
        payment = PaymentDetails(
            bankgiro=issuer.bankgiro,
            plusgiro=issuer.plusgiro,
            iban=issuer.iban,
            ocr=(source.PaymentReferenceNumber or "").strip() or None,
            payee_name=issuer.name,
        )

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
        due_date=_local_date(source.DueDate),
        delivery_date=_local_date(source.DeliveryDate),
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
        gross_total=net_total + vat_total + rounding,
        reverse_charge=reverse_charge,
        payment=payment,
    )


def _display_bankgiro(bankgiro: str) -> str:
    digits = "".join(ch for ch in bankgiro if ch.isdigit())
    return f"{digits[:-4]}-{digits[-4:]}" if len(digits) >= 7 else bankgiro
