"""Spiris (Visma eAccounting API v2) objects exactly as Spiris sends them: PascalCase, every field optional.

Numbers arrive as JSON numbers; the HTTP adapter parses them with `parse_float=Decimal`, so money
never passes through float.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import IntEnum

from pydantic import BaseModel, ConfigDict


class SpirisModel(BaseModel):
    # Spiris adds fields over time; keep what we know, ignore the rest.
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


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
    IsWorkCost: bool | None = None


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
    RotReducedInvoicingType: int | None = None
    EuThirdParty: bool | None = None


class CustomerInvoicePage(SpirisModel):
    Meta: Meta
    Data: list[CustomerInvoice]


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
    ChangedUtc: datetime | None = None
