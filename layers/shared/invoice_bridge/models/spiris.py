"""Spiris (Visma eAccounting API v2) objects exactly as Spiris sends them: PascalCase, every field optional.

Numbers arrive as JSON numbers; the HTTP adapter parses them with `parse_float=Decimal`, so money
never passes through float.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import IntEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr, TypeAdapter, ValidationError


class SpirisModel(BaseModel):
    # Spiris adds fields over time; keep what we know, ignore the rest.
    model_config = ConfigDict(extra="ignore", populate_by_name=True, defer_build=True)  # as models.common.Model


class PaymentStatus(IntEnum):
    PAID = 0
    UNPAID = 1
    OVERDUE = 2


class SendType(IntEnum):
    NONE = 0
    AUTOINVOICE_ELECTRONIC = 1
    AUTOINVOICE_PRINT = 2
    AUTOINVOICE_B2C = 3
    KIVRA = 4


class Meta(SpirisModel):
    CurrentPage: int
    PageSize: int
    TotalNumberOfPages: int
    TotalNumberOfResults: int
    ServerTimeUtc: datetime


class VatSpecification(SpirisModel):
    AmountInvoiceCurrency: Decimal | None = None
    VatAmountInvoiceCurrency: Decimal | None = None
    VatPercent: Decimal | None = None


# The field `CustomerInvoice.VatSpecification` shadows the class name inside the class body (its default
# None would be taken as the annotation), so the field is annotated through this alias.
VatSpecificationItem = VatSpecification


class CustomerInvoiceRow(SpirisModel):
    Id: str | None = None
    LineNumber: int | None = None
    IsTextRow: bool = False
    ArticleId: str | None = None
    ArticleNumber: str | None = None
    IsServiceArticle: bool | None = None
    Text: str | None = None
    Quantity: Decimal | None = None
    UnitPrice: Decimal | None = None
    UnitAbbreviation: str | None = None
    UnitAbbreviationEnglish: str | None = None
    DiscountPercentage: Decimal | None = None
    IsDiscountInFixedAmount: bool | None = None
    DiscountFixedAmount: Decimal | None = None
    AmountNoVat: Decimal | None = None
    Amount: Decimal | None = None
    PercentVat: Decimal | None = None
    VatRate: Decimal | None = None
    IsVatFree: bool | None = None
    IsWorkCost: bool | None = None  # ROT/RUT: labour
    WorkCostType: int | None = None
    WorkHours: Decimal | None = None
    MaterialCosts: Decimal | None = None


class RotPerson(SpirisModel):
    """One buyer who claims the ROT/RUT tax reduction (`Persons[]`). The personal identity number is a
    secret: repr, str and log lines show it masked."""

    Ssn: SecretStr | None = None
    Amount: Decimal | None = None


class CreditedBy(SpirisModel):
    CreditInvoiceId: str | None = None


# Alias: inside CustomerInvoice the field `CreditedBy` (default None) shadows the class of the same name.
CreditedByApi = CreditedBy


class CustomerInvoice(SpirisModel):
    """`CustomerInvoiceApi`."""

    Id: str
    InvoiceNumber: int | None = None
    IsCreditInvoice: bool = False
    CustomerId: str | None = None
    CustomerNumber: str | None = None
    CustomerName: str | None = None
    InvoiceCustomerName: str | None = None
    InvoiceAddress1: str | None = None
    InvoiceAddress2: str | None = None
    InvoicePostalCode: str | None = None
    InvoiceCity: str | None = None
    InvoiceCountryCode: str | None = None
    CustomerIsPrivatePerson: bool | None = None
    CustomerEmail: str | None = None
    InvoiceDate: datetime | None = None
    DueDate: datetime | None = None
    DeliveryDate: datetime | None = None
    CurrencyCode: str | None = None
    CurrencyRate: Decimal | None = None
    TotalAmount: Decimal | None = None
    TotalVatAmount: Decimal | None = None
    TotalRoundings: Decimal | None = None
    TotalAmountInvoiceCurrency: Decimal | None = None
    TotalVatAmountInvoiceCurrency: Decimal | None = None
    SetOffAmountInvoiceCurrency: Decimal | None = None
    RemainingAmount: Decimal | None = None
    RemainingAmountInvoiceCurrency: Decimal | None = None
    PaymentStatus: int | None = None
    PaymentDate: datetime | None = None
    VatSpecification: list[VatSpecificationItem] | None = None
    Rows: list[CustomerInvoiceRow] = []
    VoucherId: str | None = None
    VoucherNumber: str | None = None
    CreatedUtc: datetime | None = None
    ModifiedUtc: datetime | None = None
    SendType: int | None = None
    HasAutoInvoiceError: bool | None = None
    IsNotDelivered: bool | None = None
    ElectronicAddress: str | None = None
    ElectronicReference: str | None = None
    EdiServiceDelivererId: str | None = None
    BuyersOrderReference: str | None = None
    OurReference: str | None = None
    YourReference: str | None = None
    PaymentReferenceNumber: str | None = None
    TermsOfPaymentId: str | None = None
    IsSold: bool | None = None
    FactoringInvoiceStatus: int | None = None
    CreditedBy: list[CreditedByApi] | None = None
    ReferringInvoiceId: str | None = None
    IncludesVat: bool | None = None
    ReverseChargeOnConstructionServices: bool | None = None
    ReversedConstructionVatInvoicing: bool | None = None
    RotReducedInvoicingType: int | None = None  # 0 normal, 1 ROT, 2 RUT
    RotReducedInvoicingAmount: Decimal | None = None
    RotReducedInvoicingPercent: Decimal | None = None
    RotReducedInvoicingPropertyName: str | None = None
    RotReducedInvoicingOrgNumber: str | None = None
    RotPropertyType: int | None = None  # 1 apartment (bostadsrätt), 2 property (fastighet)
    Persons: list[RotPerson] | None = None
    WorkHouseOtherCosts: Decimal | None = None
    EuThirdParty: bool | None = None
    PaymentReminderIssued: bool | None = None
    PaymentRemindersCount: int | None = None
    IsQuickInvoice: bool | None = None
    DeliveryCustomerName: str | None = None
    DeliveryAddress1: str | None = None
    DeliveryAddress2: str | None = None
    DeliveryPostalCode: str | None = None
    DeliveryCity: str | None = None
    DeliveryCountryCode: str | None = None


# --- one invoice at a time: a malformed invoice is set apart, never fatal to its page -------------

MAX_REASON_ERRORS = 3
NOT_UNICODE = "the text is not valid Unicode (a lone surrogate)"


@dataclass(frozen=True)
class UnreadableInvoice:
    """A list entry that does not read as a `CustomerInvoice`, with what could still be made out of it.

    `fingerprint` (sha256 of the raw JSON) tells one version from the next when `ModifiedUtc` itself
    cannot be read."""

    source_id: str
    reason: str
    fingerprint: str
    invoice_number: int | None = None
    customer_name: str | None = None
    modified_utc: datetime | None = None


def lone_surrogate_at(value: Any, path: str = "") -> str | None:
    """The path of the first text that is not valid Unicode (a lone UTF-16 surrogate), else None.

    JSON may carry `\\ud800` escapes; Python keeps them as unencodable strings that would fail much later
    (DynamoDB, the PDF, the e-invoice), so they are caught on the way in."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path or "(value)"
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            found = lone_surrogate_at(str(key), path) or lone_surrogate_at(item, f"{path}.{key}".lstrip("."))
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = lone_surrogate_at(item, f"{path}[{index}]")
            if found:
                return found
    return None


def describe_validation_error(exc: ValidationError) -> str:
    """The first few problems as `field: message`, never the input values (they may be personal data)."""
    parts = []
    for error in exc.errors()[:MAX_REASON_ERRORS]:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"]).lstrip(".")
        parts.append(f"{where or 'invoice'}: {error['msg']}")
    more = exc.error_count() - MAX_REASON_ERRORS
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def _fingerprint(raw: Any) -> str:
    encoded = json.dumps(raw, sort_keys=True, default=str, ensure_ascii=True).encode()
    return hashlib.sha256(encoded).hexdigest()


def _lenient(adapter: TypeAdapter[Any], value: Any) -> Any:
    try:
        return adapter.validate_python(value)
    except ValidationError:
        return None


_NUMBER = TypeAdapter(int)
_MOMENT = TypeAdapter(datetime)


def parse_customer_invoice(raw: Any) -> CustomerInvoice | UnreadableInvoice:
    """One `CustomerInvoiceApi` object from a list page, or what is known of it when it cannot be read."""
    if not isinstance(raw, dict):
        return UnreadableInvoice(
            source_id=f"unknown-{_fingerprint(raw)[:16]}",
            reason=f"the list entry is not an invoice object ({type(raw).__name__})",
            fingerprint=_fingerprint(raw),
        )
    surrogate = lone_surrogate_at(raw)
    if surrogate is not None:
        reason = f"{surrogate}: {NOT_UNICODE}"
    else:
        try:
            return CustomerInvoice.model_validate(raw)
        except ValidationError as exc:
            reason = describe_validation_error(exc)
    source_id = raw.get("Id")
    name = raw.get("InvoiceCustomerName") or raw.get("CustomerName")
    fingerprint = _fingerprint(raw)
    return UnreadableInvoice(
        source_id=source_id if isinstance(source_id, str) and source_id and not lone_surrogate_at(source_id)
        else f"unknown-{fingerprint[:16]}",
        reason=reason,
        fingerprint=fingerprint,
        invoice_number=_lenient(_NUMBER, raw.get("InvoiceNumber")),
        customer_name=name if isinstance(name, str) and not lone_surrogate_at(name) else None,
        modified_utc=_lenient(_MOMENT, raw.get("ModifiedUtc")),
    )


class CompanySettings(SpirisModel):
    """`CompanySettingsApi` (the fields we read)."""

    Name: str | None = None
    CorporateIdentityNumber: str | None = None
    CompanyIdentifier: str | None = None
    VatCode: str | None = None
    PeppolId: str | None = None
    Gln: str | None = None
    Address1: str | None = None
    Address2: str | None = None
    PostalCode: str | None = None
    City: str | None = None
    CountryCode: str | None = None
    Email: str | None = None
    CurrencyCode: str | None = None
    BankGiro: str | None = None
    PlusGiro: str | None = None
    Iban: str | None = None
    ProductVariant: int | None = None
    CompanyStatus: int | None = None
    UsesPaymentReferenceNumber: bool | None = None


class Customer(SpirisModel):
    """`CustomerApi` (the fields we read)."""

    Id: str
    CustomerNumber: str | None = None
    Name: str | None = None
    IsPrivatePerson: bool | None = None
    CorporateIdentityNumber: str | None = None
    VatNumber: str | None = None
    EdiGlnNumber: str | None = None
    GLN: str | None = None
    ElectronicAddress: str | None = None
    ElectronicReference: str | None = None
    EmailAddress: str | None = None
    InvoiceAddress1: str | None = None
    InvoiceAddress2: str | None = None
    InvoicePostalCode: str | None = None
    InvoiceCity: str | None = None
    InvoiceCountryCode: str | None = None
    SalesDocumentLanguage: str | None = None
    DeliveryCountryCode: str | None = None
    DeliveryBasedVat: bool | None = None
    ReverseChargeOnConstructionServices: bool | None = None
    ChangedUtc: datetime | None = None
