"""The small interfaces the domain depends on. Adapters (DynamoDB, S3, SQS, SES, KMS, httpx) implement them.

Domain code takes these as arguments; handlers build the adapters through the cached getters in
`invoice_bridge.wiring`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # annotations only: a function that imports the ports builds only the models it uses
    from .models.delivery import Delivery
    from .models.integration import Integration, TokenSet
    from .models.invoice import Invoice, InvoiceEvent, PostalAddress
    from .models.issuer import Issuer
    from .models.spiris import CompanySettings, Customer, CustomerInvoice, Meta, UnreadableInvoice


class NotFound(Exception):
    """A requested entity does not exist."""


class ConflictError(Exception):
    """A conditional write lost: someone else changed the item first."""


class StoreBusy(Exception):
    """The table refused a write (or a read) for now, not for a reason in the data: another transaction was
    at the item (TransactionConflict), or throttling outlasted the SDK's retries. Nothing of that write was applied; the
    same request can succeed in a moment (`retry_after_seconds`). A write of many that gives up part way
    (`InvoiceRepository.transition_many`) names the records it left unwritten (`not_written`) and those it
    found moved on (`moved_on`); every other record of it was written."""

    def __init__(
        self, message: str, retry_after_seconds: float = 1.0, *,
        not_written: Sequence[str] = (), moved_on: Sequence[str] = (),
    ) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds
        self.not_written = tuple(not_written)
        self.moved_on = tuple(moved_on)


class ItemTooLarge(Exception):
    """The record does not fit in one stored item (DynamoDB's 400 KB), even with its rows kept apart."""


class InvalidGrant(Exception):
    """The identity server refused a code or refresh token (`invalid_grant`): the grant must be renewed."""


class DecryptionFailed(Exception):
    """KMS refused to decrypt: wrong encryption context (moved ciphertext), wrong key or corrupted data."""


# --- Spiris: the errors its adapters classify every failure into ---------------------------------

# Codes that mean "this grant cannot read this company until a person fixes something" (reference §1.8,
# §0 for 4034), with what each means (the integration's last_error says which).
FATAL_CODE_MEANINGS = {
    4002: "the company has no access to the API module (the Integration add-on is off)",
    4003: "the company has not finished the startup guide",
    4004: "the company is not active",
    4005: "the request is not authorised for this company",
    4006: "the grant lacks the scopes to read customer invoices",
    4007: "the consenting user's role lacks permission to read customer invoices",
    4009: "the company's product variant has no invoicing",
    4011: "the consenting user has no access to this company",
    4012: "the licence agreement has not been accepted",
    4034: "a Spiris sandbox client was used against a live company",
}


class SpirisError(Exception):
    """Base of every classified Spiris API failure; `code` is Spiris' ErrorCode when it gave one."""

    code: int | None = None


class SpirisRetryable(SpirisError):
    """429/4010, 5xx, timeouts: the same request can succeed later (after `retry_after` seconds if known)."""

    def __init__(self, message: str, retry_after: float | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


class SpirisReauthenticate(SpirisError):
    """401: the access token is expired or revoked; refresh it (or re-consent when refreshing fails)."""


class SpirisFatal(SpirisError):
    """A 40xx the integration cannot get past on its own (module missing, no access, variant, ...)."""

    code: int  # always given here

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"Spiris error {code}: {message}")
        self.code = code
        self.message = message

    @property
    def meaning(self) -> str:
        """What the code means for the office, in our words (Spiris' own message is for developers)."""
        return FATAL_CODE_MEANINGS.get(self.code, "Spiris refused the request")


class SpirisNotFound(SpirisError):
    """404 / 3000: the resource does not exist (any more)."""


class SpirisRequestError(SpirisError):
    """Any other 4xx (6000 query error, 2000 validation, ...): a bug on our side, not worth retrying."""

    def __init__(self, status: int, code: int | None, message: str) -> None:
        super().__init__(f"Spiris HTTP {status} error {code}: {message}")
        self.status = status
        self.code = code


class SpirisPagingError(SpirisError):
    """The list did not page as documented (the loop guard tripped)."""


class SpirisFileRefused(SpirisError):
    """A temporary file URL we will not fetch (not Spiris' host, not HTTPS, a redirect) or a file over the
    size cap: not retried; the source PDF is best effort, so the invoice goes on without it."""


class SpirisUnreadable(SpirisError):
    """A 2xx answer whose object does not read as the documented shape (one customer, one invoice):
    the invoice that needs it is set apart; the sync goes on."""

class SpirisAccessError(SpirisError):
    """The API refused the connected company or user when the consent read it (e.g. 4002 module missing,
    4011 no access): `code` is Spiris' ErrorCode."""

    def __init__(self, status_code: int, code: int | None, message: str = ""):
        super().__init__(f"Spiris API {status_code} ErrorCode {code}: {message}")
        self.status_code = status_code
        self.code = code


# --- operators and mail: what their adapters raise, so dispatch can tell "not sent" from "maybe sent" --


class OperatorError(Exception):
    """Base of operator failures. Messages never carry credentials or tokens."""


class OperatorOutcomeUnknown(OperatorError):
    """The call may or may not have taken effect (timeout, dropped connection): reconcile before resending."""


class OperatorUnavailable(OperatorError):
    """Nothing happened and the operator may take it later: it answered "try later" (429, 408, 503, other
    5xx) or could not be reached. `retry_after_seconds` is the operator's own Retry-After, when it sent
    one, so the dispatch can wait at least that long before the message comes back."""

    def __init__(self, message: str, retry_after_seconds: float | None = None):
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class OperatorRejected(OperatorError):
    """The operator refused the request (4xx): retrying the same request will not help."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


class MailNotSent(Exception):
    """The mail service refused the message before accepting it: it was certainly not sent, and may be
    sent again later (throttling, a paused account, a setting of ours)."""

    def __init__(self, reason: str, retry_after_seconds: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retry_after_seconds = retry_after_seconds


class MailRejected(MailNotSent):
    """Refused for the message itself (the address is malformed or refused, the content is refused):
    certainly not sent, and sending it again would be refused again. Final."""


class MailOutcomeUnknown(Exception):
    """No definite answer (a timeout, a dropped connection, a server error): the mail may have gone out.
    Never sent again automatically (at most once)."""


# --- persistence -------------------------------------------------------------------------------


class IssuerRepository(Protocol):
    def get(self, issuer_id: str) -> Issuer: ...  # raises NotFound
    def put(self, issuer: Issuer) -> None: ...
    def list(self) -> list[Issuer]: ...


class IntegrationRepository(Protocol):
    def get(self, integration_id: str) -> Integration: ...  # raises NotFound
    def put(self, integration: Integration) -> None: ...
    def list(self, issuer_id: str | None = None) -> list[Integration]: ...


@dataclass(frozen=True)
class BatchRead:
    """What a queue batch's records read first, read together (`BatchReader`): its invoices, and the
    issuers and integrations its messages named. An id not found is not in its mapping."""

    invoices: Mapping[str, Invoice]
    issuers: Mapping[str, Issuer] = field(default_factory=dict)
    integrations: Mapping[str, Integration] = field(default_factory=dict)


class BatchReader(Protocol):
    """Reads invoices, issuers and integrations by id together: one request where the store allows."""

    def read(
        self, invoice_ids: Collection[str], issuer_ids: Collection[str], integration_ids: Collection[str]
    ) -> BatchRead: ...


@dataclass(frozen=True)
class StoredTokens:
    tokens: TokenSet
    version: int  # for conditional writes: one refresher at a time


class TokenStore(Protocol):
    """Token sets, stored only as KMS ciphertext with issuer and integration in the encryption context."""

    def load(self, integration: Integration) -> StoredTokens | None: ...
    def save(self, integration: Integration, tokens: TokenSet, expected_version: int | None) -> int: ...
    def delete(self, integration: Integration) -> None: ...


class InvoiceRepository(Protocol):
    def get(self, invoice_id: str) -> Invoice: ...  # raises NotFound
    # Those of `invoice_ids` that exist, by id, read as `get` reads them, in as few requests as the store allows.
    def get_many(self, invoice_ids: Collection[str]) -> dict[str, Invoice]: ...
    def find_by_source(self, issuer_id: str, source_id: str) -> Invoice | None: ...
    # {source id: our invoice id} of those of `source_ids` that were imported (the links only, read at once).
    def source_links(self, issuer_id: str, source_ids: Collection[str]) -> dict[str, str]: ...
    # A new invoice with its source link and first events, all or none; False if it exists already
    # (nothing of it written).
    def create(self, invoice: Invoice, events: Sequence[InvoiceEvent] = ()) -> bool: ...
    # The invoice written, `events` added to its history in the same request; with `expected_updated_at`
    # only if nobody changed it since (ConflictError, nothing written, otherwise).
    def put(
        self, invoice: Invoice, expected_updated_at: datetime | None = None, events: Sequence[InvoiceEvent] = ()
    ) -> None: ...
    # A status move of one version: only while the stored invoice is still that version in one of
    # `from_statuses`, with its event; ConflictError (nothing written) otherwise; StoreBusy (nothing written)
    # when the store refused the write for now.
    def transition(
        self, invoice: Invoice, from_statuses: Collection[str], event: InvoiceEvent | None = None
    ) -> None: ...
    # `transition` of many invoices (each at most once) in as few requests as the store allows: the ids of
    # those whose condition failed (nothing written for them); the others are written. StoreBusy when the
    # store kept refusing some for now: it names those not written and those moved on; the rest are written.
    def transition_many(self, moves: Sequence[InvoiceMove]) -> list[str]: ...
    def updated_before(self, status: str, before: datetime, limit: int) -> list[Invoice]: ...  # oldest first
    def waiting_for_approval(self, issuer_id: str | None = None) -> list[Invoice]: ...
    def due_to_send(self, now: datetime, limit: int) -> list[Invoice]: ...  # send delay over, earliest first
    def add_event(self, invoice_id: str, event: InvoiceEvent) -> None: ...
    def events(self, invoice_id: str) -> list[InvoiceEvent]: ...
    def list(
        self,
        issuer_id: str | None = None,
        status: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        exclude_channel: str | None = None,
    ) -> tuple[list[Invoice], str | None]: ...
    def updated_between(
        self, status: str, start: datetime, end: datetime, issuer_id: str | None = None
    ) -> Iterator[Invoice]: ...  # invoices of one status last changed in [start, end), oldest first


@dataclass(frozen=True)
class InvoiceMove:
    """An invoice's conditional status move with its event (`InvoiceRepository.transition`'s arguments),
    to be written together with the delivery move that causes it."""

    invoice: Invoice
    from_statuses: Collection[str]
    event: InvoiceEvent
    notes: tuple[InvoiceEvent, ...] = ()  # events that come before `event` in the history, same write


class DeliveryLedger(Protocol):
    """One delivery record per invoice version, moved only by conditional transitions."""

    def get(self, invoice_id: str, version: int) -> Delivery | None: ...
    # The records of many versions at once: {(invoice id, version): delivery}, those without one left out.
    def get_many(self, versions: Collection[tuple[str, int]]) -> dict[tuple[str, int], Delivery]: ...
    # False (nothing written) if it already exists. With `invoice_move` (the claim), the invoice's move in
    # the same request, all or none; ConflictError (nothing written) when the invoice's condition fails.
    def create(self, delivery: Delivery, invoice_move: InvoiceMove | None = None) -> bool: ...
    # ConflictError (nothing written) when the record is not in one of `from_states`. With `invoice_move`,
    # the invoice's move is written in the same request; True if it was, False when its condition no longer
    # held (the delivery is then written alone, and the caller deals with the invoice as with a lost move).
    def transition(
        self, delivery: Delivery, from_states: Sequence[str], invoice_move: InvoiceMove | None = None
    ) -> bool: ...
    # A run-out lease taken over (reconciled): `delivery` (still `sending`, a new `sending_at`) written only if
    # the record is `sending` under `lease_read`, the `sending_at` the run read (None: none); ConflictError
    # (nothing written) when another run took it first or moved the record.
    def take_over(self, delivery: Delivery, lease_read: datetime | None) -> None: ...
    def sent_between(self, start: datetime, end: datetime) -> Iterator[Delivery]: ...  # oldest first


class DocumentStore(Protocol):
    def put(self, key: str, body: bytes, content_type: str) -> None: ...
    def get(self, key: str) -> bytes: ...
    def presign(self, key: str, expires_seconds: int = 300, download_name: str | None = None) -> str: ...


@dataclass(frozen=True)
class QueueMessage:
    """One message to send: its body and, on a FIFO queue, what deduplicates it."""

    body: Mapping[str, object]
    deduplication_id: str | None = None


class WorkQueue(Protocol):
    def send(self, message: Mapping[str, object], deduplication_id: str | None = None) -> None: ...
    # All of `messages`, in as few requests as the queue allows. A request that fails raises (none of its
    # messages may count as sent); messages the queue failed one by one come back as {position: the
    # queue's reason}: the caller must not count them as sent.
    def send_many(self, messages: Sequence[QueueMessage]) -> Mapping[int, str]: ...


# --- outside systems ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    body: bytes


@dataclass(frozen=True)
class Mail:
    to: Sequence[str]
    subject: str
    text: str
    html: str | None = None
    attachments: Sequence[Attachment] = field(default_factory=tuple)


class Mailer(Protocol):
    def send(self, mail: Mail) -> str: ...  # returns the provider's message id


@dataclass(frozen=True)
class InvoicePage:
    meta: Meta
    invoices: list[CustomerInvoice]
    # Entries that could not be read: set apart one by one, so they never stop the page.
    unreadable: list[UnreadableInvoice] = field(default_factory=list)


class SpirisApi(Protocol):
    """The Spiris API for one connected company (an access token is bound to it)."""

    def company_settings(self) -> CompanySettings: ...
    def customer_invoices_page(self, page: int, page_size: int, modified_since: datetime | None) -> InvoicePage: ...
    def iter_customer_invoices(self, modified_since: datetime | None) -> Iterator[InvoicePage]: ...
    def customer_invoice(self, invoice_id: str) -> CustomerInvoice: ...  # one invoice, as it is now
    def customer(self, customer_id: str) -> Customer: ...
    def customer_invoice_pdf(self, invoice_id: str) -> bytes: ...
    # About this many `customer`, `customer_invoice_pdf` and `customer_invoice` reads follow soon (an
    # estimate): the adapter may take their share of the shared request budget at once.
    def expect_reads(self, *, customers: int = 0, pdfs: int = 0, invoices: int = 0) -> None: ...


class SpirisIdentity(Protocol):
    """The Spiris identity server (OAuth2 authorization code with PKCE)."""

    def authorize_url(self, state: str, code_challenge: str, redirect_uri: str) -> str: ...
    def exchange_code(self, code: str, code_verifier: str, redirect_uri: str) -> TokenSet: ...
    def refresh(self, refresh_token: str) -> TokenSet: ...  # raises InvalidGrant
    def revoke(self, refresh_token: str) -> None: ...


@dataclass(frozen=True)
class Receiver:
    """Where the operator's receiver lookup says the buyer takes e-invoices. Sending pins exactly this
    route (address + operator), so it must be the one the lookup returned."""

    eia: str  # e.g. "0007:5561234567" (Maventa), or the operator's own company id (InExchange)
    name: str
    operator: str = "PEPPOL"  # the operator code to pin (Maventa `recipient_operator`)
    network: str = "PEPPOL"  # PEPPOL, INTERNAL (the operator's own) or EXTERNAL (another operator's)


@dataclass(frozen=True)
class OperatorDocument:
    operator_invoice_id: str
    status: str  # PENDING, DELIVERED, FAILED, or UNKNOWN (a status value we do not know; see `message`)
    message: str | None = None


@dataclass(frozen=True)
class PrintService:
    """The operator's letter service for this account, as the operator reports it."""

    enabled: bool
    own_image: bool  # True: the letter is our PDF; False: the operator prints its own template
    detail: str | None = None  # what the operator said, or why we could not tell


@dataclass(frozen=True)
class Letter:
    """A printed letter: our PDF is the image; the XML is the invoice the operator reads it with."""

    pdf: bytes
    xml: bytes
    name: str
    address: PostalAddress


class Operator(Protocol):
    """An e-invoice operator (Maventa AX, InExchange) for one issuer's account."""

    def lookup_receiver(self, org_number: str | None, gln: str | None) -> Receiver | None: ...
    def send_einvoice(self, ubl: bytes, idempotency_id: str, receiver: Receiver) -> OperatorDocument: ...
    def send_print(self, letter: Letter, idempotency_id: str) -> OperatorDocument: ...
    def print_service(self) -> PrintService: ...
    def find(self, idempotency_id: str) -> OperatorDocument | None: ...  # reconcile an unknown outcome
    def status(self, operator_invoice_id: str) -> OperatorDocument: ...


class OperatorCredentialStore(Protocol):
    """An issuer's operator credentials, stored only encrypted (KMS, issuer id in the context)."""

    def save(self, issuer_id: str, provider: str, credentials: dict[str, str]) -> None: ...
    def load(self, issuer_id: str) -> tuple[str, dict[str, str]] | None: ...
    def delete(self, issuer_id: str) -> None: ...


class InExchangePartner(Protocol):
    """InExchange's partner level (the office's partner API key): client tokens for its issuers."""

    def create_client_token(self, erp_id: str) -> str: ...
    def revoke_client_token(self, client_token: str) -> None: ...


# --- consent: invitations (the links mailed to a contact) and OAuth states -------------------------


@dataclass(frozen=True)
class InvitationRecord:
    token_hash: str
    integration_id: str
    issuer_id: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None


@dataclass(frozen=True)
class OAuthStateRecord:
    state_hash: str
    integration_id: str
    invitation_hash: str
    verifier_ciphertext: bytes
    expires_at: datetime
    used_at: datetime | None = None


class StateUnusable(Exception):
    """The state is unknown, expired or already used (`reason` says which)."""

    def __init__(self, reason: str, integration_id: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.integration_id = integration_id


class Invitations(Protocol):
    def create(self, record: InvitationRecord) -> None: ...
    def get(self, token_hash: str) -> InvitationRecord | None: ...
    def consume(self, token_hash: str, at: datetime) -> None: ...


class OAuthStates(Protocol):
    def create(self, record: OAuthStateRecord) -> None: ...
    def take(self, state_hash: str, now: datetime) -> OAuthStateRecord:
        """The state, marked used; StateUnusable when it is unknown, expired or used already."""
        ...
