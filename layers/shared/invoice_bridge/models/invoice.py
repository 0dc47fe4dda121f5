"""Our invoice: the source invoice re-expressed in the office's terms, ready to render and send."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, PlainSerializer, SecretStr

from .common import Language, Model, Money, utcnow


class InvoiceStatus(StrEnum):
    QUEUED = "queued"
    RENDERED = "rendered"
    HELD = "held"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"


TERMINAL_STATUSES = frozenset({InvoiceStatus.DELIVERED, InvoiceStatus.FAILED, InvoiceStatus.CANCELLED})

# What a held, rendered version waits for besides the office's review (sending.py): its `status_reason`.
AWAITING_APPROVAL = "awaiting_approval"
SEND_DELAY = "send_delay"

Channel = Literal["einvoice", "email", "print"]
DocumentType = Literal["invoice", "credit_note"]
# UNCL5305 as EN 16931 uses it: S standard rate, E exempt, AE reverse charge, K intra-community supply,
# G export outside the EU, O outside the scope of VAT (Z zero rated: not a Swedish case).
VatCategory = Literal["S", "Z", "E", "AE", "K", "G", "O"]
# A personal identity number (personnummer) is a secret everywhere but on the document: masked in repr, str
# and logs; stored (JSON) as it is, because the ROT/RUT invoice must state it.
PersonalIdentityNumber = Annotated[
    SecretStr, PlainSerializer(lambda s: s.get_secret_value(), return_type=str, when_used="json")
]


class PostalAddress(Model):
    street: str | None = None
    street2: str | None = None
    postal_code: str | None = None
    city: str | None = None
    country: str = "SE"


class Party(Model):
    name: str
    org_number: str | None = None
    vat_number: str | None = None
    gln: str | None = None
    address: PostalAddress = Field(default_factory=PostalAddress)
    email: str | None = None
    # Peppol endpoint, e.g. scheme "0007" + id "5561234567".
    endpoint_scheme: str | None = None
    endpoint_id: str | None = None
    is_private_person: bool = False


class InvoiceRow(Model):
    line_number: int
    is_text_row: bool = False
    article_number: str | None = None
    text: str = ""
    quantity: Money = Decimal("0")
    unit: str | None = None
    unit_price: Money = Decimal("0")
    discount_percent: Money = Decimal("0")  # 0..100
    vat_rate: Money = Decimal("0")  # percent, e.g. 25
    vat_category: VatCategory = "S"
    amount: Money = Decimal("0")  # net line amount, excluding VAT, rounded as the source did
    is_work_cost: bool = False  # ROT/RUT: labour (the tax reduction is on labour only)


class VatBreakdown(Model):
    rate: Money  # percent
    taxable_amount: Money
    vat_amount: Money
    category: VatCategory = "S"
    # Why no VAT is charged (categories other than S): a key of the texts ("vatex_<key>") and of
    # vat.EXEMPTION_CODES (the VATEX code in the e-invoice).
    exemption: str | None = None


class TaxReductionPerson(Model):
    personal_identity_number: PersonalIdentityNumber
    amount: Money  # this person's share of the reduction


class TaxReduction(Model):
    """ROT or RUT (husavdrag): the buyer pays the invoice less the reduction; the seller claims the reduction
    from Skatteverket. Amounts include VAT and are stated positive, credit notes included."""

    kind: Literal["rot", "rut"]
    amount: Money
    percent: Money | None = None  # e.g. 30 (ROT) or 50 (RUT)
    labour: Money  # labour incl. VAT (the basis of the reduction)
    materials: Money  # materials and other costs incl. VAT
    property_designation: str | None = None  # fastighetsbeteckning (ROT on a property)
    apartment_number: str | None = None  # lägenhetsnummer in a housing cooperative
    cooperative_org_number: str | None = None  # the housing cooperative's (BRF) org number
    persons: list[TaxReductionPerson] = Field(default_factory=list)
    amount_to_pay: Money


class PaymentDetails(Model):
    bankgiro: str | None = None
    plusgiro: str | None = None
    iban: str | None = None
    bic: str | None = None
    ocr: str | None = None
    payee_name: str | None = None
    assignment_clause: str | None = None  # set when the office is payee


class Approval(Model):
    """The office's approval of an invoice's content (issuers with `sending: approve`). It holds for this
    content only: a change at the source (a new content hash) needs approval again; a retry does not."""

    content_hash: str
    version: int  # the version approved
    by: str  # who approved (an IAM principal, a console user)
    at: datetime = Field(default_factory=utcnow)


class Invoice(Model):
    id: str
    issuer_id: str
    integration_id: str
    source_id: str
    source_modified_utc: datetime | None = None
    content_hash: str  # of the normalised source content; a new hash is a new version
    version: int = 1
    document_type: DocumentType = "invoice"
    number: str
    original_number: str | None = None  # credit notes: the invoice they credit
    original_source_id: str | None = None
    issue_date: date
    due_date: date | None = None
    delivery_date: date | None = None
    delivery_address: PostalAddress | None = None  # where goods went, when the source says
    currency: str = "SEK"
    language: Language = "sv"
    seller: Party
    buyer: Party
    buyer_reference: str | None = None  # "Er referens" / BT-10
    our_reference: str | None = None
    order_reference: str | None = None
    rows: list[InvoiceRow]
    # Set when the rows are too many for the invoice item: they are kept in S3 under this key and `rows`
    # is empty as read from the table (invoice_rows.with_rows loads them).
    rows_key: str | None = None
    vat_breakdown: list[VatBreakdown]
    net_total: Money
    vat_total: Money
    rounding: Money = Decimal("0")
    gross_total: Money  # payable amount incl. VAT and rounding
    reverse_charge: bool = False
    # Foreign currency: Swedish law wants the VAT also in SEK (Spiris' TotalVatAmount, its base currency).
    tax_currency: str | None = None
    tax_currency_vat_total: Money | None = None
    exchange_rate: Money | None = None  # Spiris' CurrencyRate: SEK per unit of the invoice currency
    tax_reduction: TaxReduction | None = None
    payment: PaymentDetails = Field(default_factory=PaymentDetails)
    status: InvoiceStatus = InvoiceStatus.QUEUED
    status_reason: str | None = None
    # Held for the office (first sync with issuer.hold_first_sync, or dated before the integration became
    # active): render sets status held, not dispatch; `hold_reason` says why (a selection reason code).
    hold: bool = False
    hold_reason: str | None = None
    approval: Approval | None = None
    # With an issuer's send delay: not sent before this moment (UTC), set when the version is rendered.
    send_at: datetime | None = None
    channel: Channel | None = None
    pdf_key: str | None = None
    einvoice_key: str | None = None
    source_pdf_key: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


def document_keys(invoice: Invoice, version: int) -> tuple[str, str]:
    """S3 keys of the PDF and the e-invoice rendered for `version` (docs/architecture.md). Every reader
    derives them from the version it works on, never from whatever the invoice item holds now."""
    prefix = f"{invoice.issuer_id}/invoices/{invoice.id}/v{version}"
    return f"{prefix}/invoice.pdf", f"{prefix}/invoice.xml"


class InvoiceEvent(Model):
    at: datetime = Field(default_factory=utcnow)
    status: str
    detail: str = ""
