"""A fresh look before sending (issue 13, point 3; docs/sending.md).

Right before an invoice goes out, before dispatch records the intent (and, at a version's first claim,
before the claim, which is written with the intent), the source invoice is read from Spiris once more,
inside the shared request budget. So a crash during the look only repeats it, and nothing the look finds
can meet an unknown outcome. It finds:

- a reason the selection skips it now (paid, credited, sent another way, a payment reminder, sold):
  `cancel`, with that reason code; gone from the source (404): `cancel`, `not_found_at_source`;
- a change on the document (the content hash of the invoice and its customer differs): `changed`,
  with the invoice mapped from the source as it is now; dispatch makes it the next version, which is
  rendered and gated again, and never sends the old one. That invoice is reconciled with the source it
  was mapped from, as the sync reconciles what it imports (render/fidelity.py `disagreement`): when it
  does not say what Spiris booked (a stated total its own rows do not make), `disagreement` says how,
  and dispatch stores the next version `failed` with it instead (never rendered, never sent; the issuer
  is told, and the sync replaces it once the source is corrected). A change into something that cannot
  be mapped at all (no rows, a VAT rate that makes no sense): `cancel`, `unmappable`; the next sync parks
  that source version with its notice, as it parks any source it cannot map, and selects a correction
  again as a new version;
- anything else (no change, or one outside the document such as a part payment): `unchanged`, it goes.

One request per invoice (`/v2/customerinvoices/{id}`); the customer is read as well only when the
invoice's ModifiedUtc moved since this version was imported.

Nothing goes out unchecked. `SourceUnavailable` (429, 5xx, a timeout, the budget full, a token being
refreshed or refused): the claim is made (or kept) and the message comes back after its backoff; the sweeper fails
the invoice with a notice once it has waited `STUCK_GIVE_UP_HOURS`. `SourceUnreadable` (no grant, the
integration gone or broken, Spiris refusing the company, an answer we cannot read): failed with a notice
now; the office retries it once the integration works again. There is no setting to send unchecked: a
stale invoice does more harm than a late one.
"""

from __future__ import annotations

from collections.abc import Callable
from copy import copy
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from pydantic import ValidationError

from ..consent.refresher import NotConnected, RefreshBusy
from ..fetch.budget import BudgetExhausted
from ..fetch.selection import select
from ..mapping import content_hash
from ..models.integration import Integration, IntegrationStatus
from ..models.invoice import Invoice
from ..models.issuer import Issuer, OfficePayee
from ..models.spiris import Customer, CustomerInvoice
from ..ports import (
    DecryptionFailed,
    IntegrationRepository,
    NotFound,
    SpirisApi,
    SpirisError,
    SpirisNotFound,
    SpirisReauthenticate,
    SpirisRetryable,
)

if TYPE_CHECKING:
    from ..batch_invoices import BatchFirstRead

NOT_FOUND_AT_SOURCE = "not_found_at_source"
CHANGED_AT_SOURCE = "changed_at_source"
UNMAPPABLE_AT_SOURCE = "unmappable"  # the sync's park reason for the same (fetch/sync.py ParkReason)
# Integrations whose grant cannot be used until someone acts (a new consent, a fix at Spiris).
_NOT_READABLE = frozenset(
    {IntegrationStatus.PENDING_CONSENT, IntegrationStatus.NEEDS_RECONSENT, IntegrationStatus.REVOKED,
     IntegrationStatus.ERROR}
)
_UNAVAILABLE = (SpirisRetryable, SpirisReauthenticate, BudgetExhausted, RefreshBusy)
_UNREADABLE = (NotConnected, DecryptionFailed, SpirisError, ValidationError)


@dataclass(frozen=True)
class FreshLook:
    """What the look found (module docstring). `reason`: a selection reason code for `cancel`."""

    outcome: Literal["unchanged", "cancel", "changed"]
    reason: str = ""
    detail: str = ""
    replacement: Invoice | None = None  # `changed`: the invoice as the source has it now
    # `changed`: how `replacement` does not agree with its source (fields and amounts); "" when it does.
    disagreement: str = ""


UNCHANGED = FreshLook("unchanged")

# The look dispatch takes: (the claimed invoice, its issuer) → what the source says now.
SourceCheck = Callable[[Invoice, Issuer], FreshLook]
Remap = Callable[[CustomerInvoice, Customer | None], Invoice]


class SourceUnavailable(Exception):
    """The source cannot be read now; the same look can succeed later (after `retry_after` if known)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SourceUnreadable(Exception):
    """The source cannot be read until someone acts (the integration, Spiris' answer)."""


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def judge(
    invoice: Invoice, source: CustomerInvoice, customer: Callable[[], Customer | None], remap: Remap
) -> FreshLook:
    """What `source` (read just now) means for `invoice` (the version about to go out)."""
    # A credit note was selected because its original had gone out; that stays true.
    originals = {source.ReferringInvoiceId} if invoice.document_type == "credit_note" and source.ReferringInvoiceId \
        else set()
    decision = select(source, sent_source_ids=originals)  # without the date guard: the office released it
    if not decision.selected:
        return FreshLook("cancel", decision.reason, decision.detail)
    if invoice.source_modified_utc and source.ModifiedUtc and \
            _aware(invoice.source_modified_utc) == _aware(source.ModifiedUtc):
        return UNCHANGED
    buyer = customer()
    if content_hash(source, buyer) == invoice.content_hash:
        return UNCHANGED  # a change outside the document (a part payment, a note)
    try:
        replacement = remap(source, buyer)
    except Exception as exc:  # noqa: BLE001 - the sync parks this source version and tells the issuer
        # Changed into something we cannot express (no rows, a VAT rate that makes no sense): the version we
        # have is stale and must not go out; ours is cancelled, and the next sync parks the source with its
        # notice, as for any source it cannot map. A correction is then selected again as a new version.
        return FreshLook("cancel", UNMAPPABLE_AT_SOURCE, f"changed at the source into something that cannot be "
                                                         f"converted ({type(exc).__name__})")
    from ..render.fidelity import disagreement  # only for a change, which is rare: not at the cold start

    return FreshLook("changed", CHANGED_AT_SOURCE, f"changed at the source (ModifiedUtc {source.ModifiedUtc})",
                     replacement, disagreement(replacement, source) or "")


class SpirisSourceCheck:
    """The look through the invoice's integration (`spiris_for` builds its client: token broker and the
    shared request budget). `for_batch`: the same look for one queue batch, each integration read once."""

    def __init__(
        self,
        integrations: IntegrationRepository,
        spiris_for: Callable[[Integration], SpirisApi],
        *,
        office: OfficePayee | None,
        map_invoice: Callable[..., Invoice] | None = None,
    ) -> None:
        if map_invoice is None:
            from ..mapping import to_invoice

            map_invoice = to_invoice
        self._integrations, self._spiris_for = integrations, spiris_for
        self._office, self._map = office, map_invoice
        self._batch_integrations: dict[str, Integration] | None = None
        self._first_read: BatchFirstRead | None = None
        self._looks_to_announce = 0

    def for_batch(self, looks: int = 0, first_read: BatchFirstRead | None = None) -> SpirisSourceCheck:
        """This look for one queue batch (one invocation): each integration read once, for its status
        (the Spiris client is kept longer anyway, wiring.spiris_for). A batch lasts seconds; an integration
        revoked meanwhile shows in Spiris' answer (refused: unreadable, failed with a notice). `looks`: about
        how many invoices the batch will look at, announced to the request budget with the first look (the
        budget is per endpoint, shared by every integration: one counter write for them, not a growing
        series of blocks; a record that ends before its look leaves its slot unused until the window ends).
        `first_read`: the batch's first read, which read the integrations its messages named with its
        invoices (batch_invoices.py)."""
        batch = copy(self)
        batch._batch_integrations = {}
        batch._first_read = first_read
        batch._looks_to_announce = looks
        return batch

    def __call__(self, invoice: Invoice, issuer: Issuer) -> FreshLook:
        spiris = self._spiris_for(self._integration(invoice))
        if self._looks_to_announce:
            spiris.expect_reads(invoices=self._looks_to_announce)
            self._looks_to_announce = 0

        def remap(source: CustomerInvoice, buyer: Customer | None) -> Invoice:
            return self._map(source, buyer, issuer, invoice.integration_id, office=self._office,
                             original_number=invoice.original_number)

        try:
            source = spiris.customer_invoice(invoice.source_id)
            return judge(invoice, source, lambda: _customer(spiris, source.CustomerId), remap)
        except SpirisNotFound:
            return FreshLook("cancel", NOT_FOUND_AT_SOURCE, f"Spiris has no invoice {invoice.source_id} any more")
        except _UNAVAILABLE as exc:
            retry_after = exc.retry_after if isinstance(exc, SpirisRetryable) else None
            raise SourceUnavailable(f"Spiris could not be read now ({type(exc).__name__})", retry_after) from exc
        except _UNREADABLE as exc:
            raise SourceUnreadable(_unreadable_reason(exc)) from exc

    def _integration(self, invoice: Invoice) -> Integration:
        seen = self._batch_integrations
        integration = seen.get(invoice.integration_id) if seen is not None else None
        if integration is None and self._first_read is not None:
            integration = self._first_read.integration(invoice.integration_id)
        if integration is None:
            try:
                integration = self._integrations.get(invoice.integration_id)
            except NotFound:
                raise SourceUnreadable("its Spiris integration no longer exists") from None
            if seen is not None:
                seen[integration.id] = integration
        if integration.status in _NOT_READABLE:
            raise SourceUnreadable(f"its Spiris integration is {integration.status.value}")
        return integration


def _customer(spiris: SpirisApi, customer_id: str | None) -> Customer | None:
    if not customer_id:
        return None
    try:
        return spiris.customer(customer_id)
    except SpirisNotFound:
        return None  # as the sync maps it: the invoice's own buyer fields


def _unreadable_reason(exc: Exception) -> str:
    if isinstance(exc, NotConnected | DecryptionFailed):
        return "its Spiris integration has no usable grant (a new consent is needed)"
    code = exc.code if isinstance(exc, SpirisError) else None
    return f"Spiris refused to read it ({type(exc).__name__}{f' {code}' if code else ''})"
