"""The issuer (utställare): the office's client whose invoices we take over."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BeforeValidator, EmailStr, Field

from .common import Language, Model, new_id, utcnow


class Address(Model):
    street: str = Field(min_length=1, max_length=200)
    postal_code: str = Field(min_length=1, max_length=20)
    city: str = Field(min_length=1, max_length=100)
    country: str = Field(default="SE", pattern=r"^[A-Z]{2}$")


class DispatchSettings(Model):
    attach_pdf: bool = True
    email_fallback: bool = True
    print_fallback: bool = True


Payee = Literal["issuer", "office"]
# automatic: every invoice goes out once rendered; approve: each waits for the office's approval.
SendingMode = Literal["automatic", "approve"]
MAX_SEND_DELAY_HOURS = 72


def _whole_hours(value: object) -> object:
    if isinstance(value, bool):  # JSON true is not 1 hour
        raise ValueError("a whole number of hours is required")
    return value


SendDelayHours = Annotated[int, Field(ge=0, le=MAX_SEND_DELAY_HOURS), BeforeValidator(_whole_hours)]
SENDING_DESCRIPTION = "automatic: every invoice goes out once rendered; approve: each waits for the office's approval"
SEND_DELAY_DESCRIPTION = (
    "hours an invoice waits after its last change at the source before it goes out (0: none); a change "
    "during the wait stops it (paid, credited) or starts the wait again"
)
ARCHIVE_SOURCE_PDF_DESCRIPTION = (
    "keep Spiris' own PDF of each fetched invoice version in our document store (off: Spiris keeps the "
    "original; each archive costs one Spiris request and one S3 PUT per invoice)"
)


class OperatorPrint(Model):
    """The operator's letter service for the issuer's account, as read when the office set it up."""

    enabled: bool | None = None  # None: could not be read (see `detail`)
    own_image: bool | None = None  # False: the operator prints its own template, not our PDF
    detail: str | None = None
    checked_at: datetime = Field(default_factory=utcnow)


class IssuerDetails(Model):
    """What the office states about an issuer (the admin API's and the console's input is this)."""

    name: str = Field(min_length=1, max_length=200)
    org_number: str  # normalised: 10 digits, no hyphen
    vat_number: str | None = None  # normalised: SE + 10 digits + 01
    address: Address
    notification_email: EmailStr
    language: Language = "sv"
    bankgiro: str | None = None
    plusgiro: str | None = None
    iban: str | None = None
    bic: str | None = Field(default=None, description="with the IBAN, for buyers abroad (ISO 9362)")
    f_skatt: bool = True
    payee: Payee = "issuer"
    dispatch: DispatchSettings = Field(default_factory=DispatchSettings)
    # Hold the first sync's invoices for the office's review before anything goes out.
    hold_first_sync: bool = True
    # Archive Spiris' own PDF beside ours (`.../source.pdf`). Off by default: nothing of ours reads it back,
    # and it costs each invoice a request of the poller's scarce Spiris budget. Stored issuers without it: off.
    archive_source_pdf: bool = Field(default=False, description=ARCHIVE_SOURCE_PDF_DESCRIPTION)
    # Guards where Spiris cannot tell (docs/sending.md): the office approves each invoice, and/or every
    # invoice waits this long after its last change at the source before it goes out.
    sending: SendingMode = Field(default="automatic", description=SENDING_DESCRIPTION)
    send_delay_hours: SendDelayHours = Field(default=0, description=SEND_DELAY_DESCRIPTION)


class Issuer(IssuerDetails):
    id: str = Field(default_factory=new_id)
    logo_key: str | None = None  # S3 key of the uploaded logo
    logo_content_type: str | None = None
    operator_provider: Literal["maventa", "inexchange"] | None = None
    operator_print: OperatorPrint | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class OfficePayee(Model):
    """The office's payment details, used instead of the issuer's when the office is payee."""

    name: str
    org_number: str
    bankgiro: str
    assignment_clause_sv: str = (
        "Denna fordran har överlåtits till {office}. Betalning med befriande verkan kan endast ske till "
        "bankgiro {bankgiro}."
    )
    assignment_clause_en: str = (
        "This claim has been assigned to {office}. Payment with discharging effect can only be made to "
        "bankgiro {bankgiro}."
    )
    ocr_length_digit: bool = True
