"""The sync of one integration: read Spiris from the watermark, decide, import, hand on to render.

Guarantees:
- the window `[watermark - overlap, ServerTimeUtc of the first page]` is read to its last page before
  the watermark moves, so an interrupted sync re-reads instead of skipping (SQS retries the message);
- every source invoice seen gets a recorded decision (selected or skipped, a reason, its ModifiedUtc);
- one invoice that cannot be read or mapped, or whose mapping does not say what Spiris booked (the
  fidelity check, render/fidelity.py: totals, VAT per rate, due date, ROT/RUT against the source in
  hand, no request of its own), is parked (decision `parked`, listed in GET /failures, the issuer told
  once per source version) and never stops the others: the watermark still moves;
- import is idempotent per (issuer, source invoice): the same content is nothing new, changed content
  before dispatch is a new version, paid/credited before dispatch cancels, after dispatch only an event;
- a version handed on to render has its decision recorded only after its render message went out (they go out
  ten to a SendMessageBatch, `_Importer.page`): a decision says "handled", so a sync that dies in between
  finds the version undecided on its retry, and hands it on again. The decisions of a request's versions
  never decided before are written together (one BatchWriteItem), the others one by one.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from ..integrations import update_integration
from ..models.common import stockholm_date
from ..models.integration import Integration, IntegrationStatus
from ..models.invoice import Invoice, InvoiceEvent, InvoiceStatus
from ..models.issuer import Issuer, OfficePayee
from ..models.spiris import Customer, CustomerInvoice, UnreadableInvoice
from ..observability import logger, metrics
from ..ports import (
    BatchReader,
    DocumentStore,
    IntegrationRepository,
    InvoicePage,
    InvoiceRepository,
    IssuerRepository,
    ItemTooLarge,
    QueueMessage,
    SpirisApi,
    SpirisError,
    SpirisFatal,
    SpirisNotFound,
    SpirisReauthenticate,
    SpirisRetryable,
    SpirisUnreadable,
    WorkQueue,
)
from ..step_messages import step_body
from ..versions import next_version
from .decisions import DecisionStore, NotifyParked, SyncDecision
from .schedule import is_syncable
from .selection import Decision, select

NOT_YET_SENT = frozenset(
    {InvoiceStatus.QUEUED, InvoiceStatus.RENDERED, InvoiceStatus.HELD, InvoiceStatus.FAILED}
)
SENT = frozenset({InvoiceStatus.SENDING, InvoiceStatus.SENT, InvoiceStatus.DELIVERED})

MapInvoice = Callable[..., Invoice]
HAND_OFFS_PER_REQUEST = 10  # render messages go out as soon as they fill one SendMessageBatch
_CHANGED_AFTER = {
    False: "changed at the source after sending; not sent again",
    True: "changed at the source while being sent; the fresh look before sending decides",
}


@dataclass(frozen=True)
class SyncServices:
    """What a sync reads and writes through (built by `invoice_bridge.wiring.sync_services`)."""

    integrations: IntegrationRepository
    issuers: IssuerRepository
    invoices: InvoiceRepository
    decisions: DecisionStore
    spiris_for: Callable[[Integration], SpirisApi]  # the integration's Spiris client for one sync
    render_queue: WorkQueue
    documents: DocumentStore | None = None
    office: OfficePayee | None = None
    notify_parked: NotifyParked | None = None
    # Reads the integration with the issuer its message named in one request; None: one after the other.
    batch_reader: BatchReader | None = None


class ParkReason:
    UNREADABLE = "unreadable"  # the source invoice (or its customer) does not read as documented
    UNMAPPABLE = "unmappable"  # it reads, but cannot be re-expressed as ours
    TOO_LARGE = "too_large"  # it does not fit in a stored invoice
    FIDELITY = "fidelity"  # it maps, but ours would not state what Spiris booked (render/fidelity.py)



class _Park(Exception):
    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _mapping_problem(exc: Exception) -> str:
    """What went wrong, in words safe to show (an exception's text may quote personal data; ours does not)."""
    from pydantic import ValidationError

    from ..mapping import UnmappableInvoice
    from ..models.spiris import describe_validation_error

    if isinstance(exc, UnmappableInvoice):
        return str(exc)
    if isinstance(exc, ValidationError):
        return describe_validation_error(exc)
    return f"it cannot be converted ({type(exc).__name__})"


def _check_fidelity(invoice: Invoice, source: CustomerInvoice) -> None:
    """`_Park` when our invoice does not say what its source says, to the öre (a source whose stated totals
    its own rows do not add up to, or one our mapping misreads): it must not go out as it is. The same check
    as dispatch's fresh look makes of a next version it maps (render/fidelity.py `disagreement`)."""
    from ..render.fidelity import disagreement  # on first use only, like the mapping

    try:
        disagrees = disagreement(invoice, source)
    except Exception as exc:  # noqa: BLE001 - one invoice that cannot be checked must not stop the others
        raise _Park(ParkReason.UNMAPPABLE, _mapping_problem(exc)) from exc
    if disagrees:
        raise _Park(ParkReason.FIDELITY, disagrees)


class SyncError(Exception):
    """A sync that cannot go on until someone acts; the caller notifies (alert, failure list)."""

    def __init__(self, integration_id: str, message: str):
        super().__init__(message)
        self.integration_id = integration_id


class IntegrationNeedsReconsent(SyncError):
    """Spiris refused our grant (revoked, expired, changed password): a fresh consent is needed."""


class SyncWindowUnstable(SyncError):
    """Invoices kept changing while the window was paged; the watermark stays for the next poll."""


class RenderHandOffFailed(Exception):
    """Render messages the queue did not take: their decisions wait, and the sync message fails so that its
    retry hands them on (an invoice still `queued` is handed on again, `_Importer._import`)."""

    def __init__(self, integration_id: str, reasons: Collection[str]):
        super().__init__(f"{len(reasons)} render message(s) not sent ({', '.join(sorted(set(reasons)))})")
        self.integration_id = integration_id


class IntegrationFailed(SyncError):
    """Spiris answered with a fatal error (module switched off, no access, ...): status `error`."""

    def __init__(self, integration_id: str, message: str, code: str | None = None):
        super().__init__(integration_id, message)
        self.code = code


@dataclass
class SyncResult:
    integration_id: str
    skipped: bool = False  # not active or not enabled: nothing was read
    first_sync: bool = False
    pages: int = 0
    passes: int = 1
    seen: int = 0
    selected: int = 0
    imported: int = 0
    new_versions: int = 0
    cancelled: int = 0
    unchanged: int = 0
    parked: int = 0
    unstable: bool = False  # the window kept changing while paged: handled, the watermark kept
    watermark: datetime | None = None
    reasons: dict[str, int] = field(default_factory=dict)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _same_version(previous: SyncDecision | None, modified: datetime | None, fingerprint: str | None) -> bool:
    """Whether `previous` was decided on this very version of the source invoice (by ModifiedUtc, or by
    the raw JSON's fingerprint when ModifiedUtc cannot be read)."""
    if previous is None:
        return False
    if modified is not None:
        return previous.source_modified_utc is not None and _aware(previous.source_modified_utc) == _aware(modified)
    return fingerprint is not None and previous.fingerprint == fingerprint


def _told_by_dispatch(existing: Invoice | None, seen: SyncDecision, parked: _Park) -> bool:
    """Whether dispatch's fresh look read this very source version just before sending, found that it does
    not agree with itself, failed our version mapped from it and told the issuer then (dispatch/service.py
    `_fail_next_version`, notified before that write): parking it again tells them nothing new."""
    if parked.reason != ParkReason.FIDELITY or existing is None or existing.status != InvoiceStatus.FAILED:
        return False
    if not (existing.status_reason or "").startswith(ParkReason.FIDELITY):
        return False
    read, modified = existing.source_modified_utc, seen.source_modified_utc
    return read is not None and modified is not None and _aware(read) == _aware(modified)


@dataclass
class _HandOff:
    """A version's render message, and its decision once made: recorded when the message went out."""

    message: QueueMessage
    decision: SyncDecision | None = None
    for_the_office: bool = False
    undecided: bool = False  # no decision was stored on the source invoice when its page was read


def source_pdf_key(invoice: Invoice) -> str:
    return f"{invoice.issuer_id}/invoices/{invoice.id}/v{invoice.version}/source.pdf"


class _Importer:
    """The per-sync state: caches (customers, originals) and counters."""

    def __init__(
        self,
        integration: Integration,
        issuer: Issuer,
        services: SyncServices,
        spiris: SpirisApi,
        *,
        now: datetime,
        first_sync: bool,
        map_invoice: MapInvoice,
        result: SyncResult,
    ):
        self.integration = integration
        self.issuer = issuer
        self.invoices = services.invoices
        self.decisions = services.decisions
        self.spiris = spiris
        self.render_queue = services.render_queue
        self.documents = services.documents
        self.office = services.office
        self.now = now
        self.first_sync = first_sync
        self.map_invoice = map_invoice
        self.result = result
        self.notify_parked = services.notify_parked
        self._customers: dict[str, Customer | None] = {}
        self._originals: dict[str, Invoice | None] = {}
        # A page's decisions and source links, read at its start (`read_ahead`) and kept up to date by this
        # sync's own writes ({source id: decision / our invoice id, None when there is none}). Only a
        # concurrent sync of the same integration (a duplicate message) can make them stale within the
        # page; every write that follows from them is conditional as with a fresh read (the import's
        # `create`, the versions' and cancels' `put` on the invoice read when needed).
        self._decided: dict[str, SyncDecision | None] = {}
        self._linked: dict[str, str | None] = {}
        self._hand_offs: dict[str, _HandOff] = {}  # the page's, by source id, until they go out (`hand_on`)
        # The new decisions of versions whose message went out, until the page records them together.
        self._went_out_new: list[tuple[SyncDecision, bool]] = []

    # --- lookups ---------------------------------------------------------------------------------

    def customer(self, customer_id: str | None) -> Customer | None:
        """Buyer details from customers/{id}, fetched once per sync."""
        if not customer_id:
            return None
        if customer_id not in self._customers:
            try:
                self._customers[customer_id] = self.spiris.customer(customer_id)
            except SpirisNotFound:
                self._customers[customer_id] = None
        return self._customers[customer_id]

    def ours(self, source_id: str) -> Invoice | None:
        """A credit note's original as we have it, read once per sync."""
        if source_id not in self._originals:
            self._originals[source_id] = self._find(source_id)
        return self._originals[source_id]

    def _find(self, source_id: str) -> Invoice | None:
        """Our invoice of a source invoice: the invoice read now, when the link read ahead says there is one."""
        if source_id not in self._linked:
            return self.invoices.find_by_source(self.issuer.id, source_id)
        invoice_id = self._linked[source_id]
        return self.invoices.get(invoice_id) if invoice_id else None

    def _previous_decision(self, source_id: str) -> SyncDecision | None:
        if source_id in self._decided:
            return self._decided[source_id]
        return self.decisions.get(self.integration.id, source_id)

    def read_ahead(self, page: InvoicePage) -> None:
        """Read the page's decisions, then the source links of the versions not decided yet (and of the
        originals their credit notes refer to), each in as few requests as the store allows: not two
        reads per invoice. An overlap re-read of versions already decided reads no link."""
        versions: list[tuple[str, datetime | None, str | None]] = [
            (i.Id, i.ModifiedUtc, None) for i in page.invoices
        ]
        versions += [(u.source_id, u.modified_utc, u.fingerprint) for u in page.unreadable]
        source_ids = [source_id for source_id, _, _ in versions]
        decided = self.decisions.get_many(self.integration.id, source_ids) if source_ids else {}
        self._decided = {source_id: decided.get(source_id) for source_id in source_ids}
        to_look_at = {
            source_id for source_id, modified, fingerprint in versions
            if not _same_version(decided.get(source_id), modified, fingerprint)
        }
        originals = {
            i.ReferringInvoiceId for i in page.invoices
            if i.Id in to_look_at and i.IsCreditInvoice and i.ReferringInvoiceId
            and i.ReferringInvoiceId not in self._originals
        }
        wanted = sorted(to_look_at | originals)
        linked = self.invoices.source_links(self.issuer.id, wanted) if wanted else {}
        self._linked = {source_id: linked.get(source_id) for source_id in wanted}
        self._expect_reads([i for i in page.invoices if i.Id in to_look_at])

    def _expect_reads(self, to_look_at: list[CustomerInvoice]) -> None:
        """Tell Spiris' client about what the page will likely read (its budget takes it in one go): the
        customers of the versions selection takes, and their source PDFs when the issuer archives them (an
        estimate: a credit note's original is not looked at, and a version whose content did not change
        reads no PDF)."""
        likely = [i for i in to_look_at
                  if select(i, sent_source_ids=set(), active_since=self.integration.active_since).selected]
        customers = {i.CustomerId for i in likely if i.CustomerId and i.CustomerId not in self._customers}
        pdfs = len(likely) if self._source_pdf_archive() is not None else 0
        if customers or pdfs:
            self.spiris.expect_reads(customers=len(customers), pdfs=pdfs)

    # --- one source invoice ----------------------------------------------------------------------

    def _already_handled(self, source_id: str, modified: datetime | None, fingerprint: str | None = None) -> bool:
        """Whether this very version was decided before (the overlap window re-reads it): nothing to do, no
        request of its own (a parked notice that did not go out is the sweeper's, fetch/parked_notices.py)."""
        previous = self._previous_decision(source_id)
        if previous is None or not _same_version(previous, modified, fingerprint):
            return False
        self.result.unchanged += 1
        return True

    def handle_unreadable(self, source: UnreadableInvoice) -> None:
        self.result.seen += 1
        if self._already_handled(source.source_id, source.modified_utc, source.fingerprint):
            return
        seen = SyncDecision(
            source_id=source.source_id,
            selected=False,
            reason=ParkReason.UNREADABLE,
            source_modified_utc=source.modified_utc,
            invoice_number=source.invoice_number,
            customer_name=source.customer_name,
            decided_at=self.now,
            issuer_id=self.issuer.id,
            fingerprint=source.fingerprint,
        )
        self._park(seen, _Park(ParkReason.UNREADABLE, source.reason))

    def handle(self, source: CustomerInvoice) -> None:
        self.result.seen += 1
        if self._already_handled(source.Id, source.ModifiedUtc):
            return
        seen = SyncDecision(
            source_id=source.Id,
            selected=False,
            reason="",
            source_modified_utc=source.ModifiedUtc,
            invoice_number=source.InvoiceNumber,
            customer_name=source.InvoiceCustomerName or source.CustomerName,
            amount=source.TotalAmountInvoiceCurrency,
            currency=source.CurrencyCode,
            decided_at=self.now,
            issuer_id=self.issuer.id,
        )
        try:
            self._decide(source, seen)
        except _Park as parked:
            self._park(seen, parked)
        if len(self._hand_offs) >= HAND_OFFS_PER_REQUEST:  # a full request: render need not wait for the page
            self.hand_on(record=False)

    def _decide(self, source: CustomerInvoice, seen: SyncDecision) -> None:
        """Select or skip one source version and record it (`seen`: what is recorded of the version)."""
        sent_originals: set[str] = set()
        if source.IsCreditInvoice and source.ReferringInvoiceId:
            original = self.ours(source.ReferringInvoiceId)
            if original is not None and original.status in SENT:
                sent_originals.add(source.ReferringInvoiceId)
        decision = select(source, sent_source_ids=sent_originals, active_since=self.integration.active_since)

        existing = self._find(source.Id)
        invoice_id: str | None
        if decision.selected:
            invoice_id = self._import(source, existing, decision)
            self.result.selected += 1
        else:
            invoice_id = self._skip(source.Id, source.ModifiedUtc, decision.reason, existing)
        self.result.reasons[decision.reason] = self.result.reasons.get(decision.reason, 0) + 1
        decided = replace(
            seen, selected=decision.selected, reason=decision.reason, detail=decision.detail, invoice_id=invoice_id
        )
        self._record(decided, for_the_office=decision.for_the_office)

    def _record(self, decision: SyncDecision, *, for_the_office: bool = False) -> None:
        waiting = self._hand_offs.get(decision.source_id)
        if waiting is not None:  # recorded once its render message went out (`hand_on`)
            waiting.decision, waiting.for_the_office = decision, for_the_office
            waiting.undecided = decision.source_id in self._decided and self._decided[decision.source_id] is None
            return
        self._store_decision(decision, for_the_office=for_the_office)

    def _store_decision(self, decision: SyncDecision, *, for_the_office: bool) -> None:
        self.decisions.record(self.integration.id, decision, first_sync=self._first_sync_entry(for_the_office))
        self._decided[decision.source_id] = decision

    def _first_sync_entry(self, for_the_office: bool) -> bool:
        """Decisions for the office (and all of the first sync's) go on the reconciliation list."""
        return self.first_sync or for_the_office

    # --- a source invoice that cannot be taken over ------------------------------------------------

    def _park(self, seen: SyncDecision, parked: _Park) -> None:
        """Set one source version apart with its reason: an earlier version of ours that has not gone out is
        cancelled (the source changed), the issuer is told, and the sync goes on."""
        existing = self._find(seen.source_id)
        told = _told_by_dispatch(existing, seen, parked)
        invoice_id = self._skip(seen.source_id, seen.source_modified_utc, parked.reason, existing)
        decision = replace(seen, reason=parked.reason, detail=parked.detail, invoice_id=invoice_id, parked=True)
        self.result.parked += 1
        self.result.reasons[parked.reason] = self.result.reasons.get(parked.reason, 0) + 1
        metrics.add_metric(name="InvoicesParked", unit=MetricUnit.Count, value=1)
        logger.warning(
            "source invoice parked",
            extra={"integration_id": self.integration.id, "source_id": seen.source_id, "reason": parked.reason},
        )
        self._record(replace(decision, notified=told or self._notify(decision)))

    def _notify(self, decision: SyncDecision) -> bool:
        """Tell the issuer; False when the notice could not go out (the sweeper tries again)."""
        if self.notify_parked is None:
            return False
        try:
            self.notify_parked(self.issuer, decision)
        except Exception as exc:  # noqa: BLE001 - a failed notice must not stop the sync; it is retried
            logger.warning(
                "parked invoice not notified",
                extra={"integration_id": self.integration.id, "error": type(exc).__name__},
            )
            return False
        return True

    def _import(self, source: CustomerInvoice, existing: Invoice | None, decision: Decision) -> str:
        if existing is not None and existing.status in SENT:
            # Once sent, never sent again on its own: the change is recorded for the office. While it is
            # being sent, dispatch's fresh look at the source decides (dispatch/fresh_look.py).
            if existing.source_modified_utc is None or source.ModifiedUtc != existing.source_modified_utc:
                self._event(existing.id, "changed_at_source", _CHANGED_AFTER[existing.status == InvoiceStatus.SENDING])
            self.result.unchanged += 1
            return existing.id

        fresh = self._map(source)
        if existing is None:
            return self._import_new(source, fresh, decision)

        if fresh.content_hash == existing.content_hash and existing.status != InvoiceStatus.CANCELLED:
            if existing.status == InvoiceStatus.QUEUED:
                # Imported, never rendered: an earlier sync may have crashed between the import and the
                # hand-off (whatever changed at the source since, outside the content). Hand on again:
                # render is idempotent per version, so a second message costs one read.
                self._render(existing)
            self.result.unchanged += 1
            return existing.id

        return self._replace(existing, fresh)

    def _map(self, source: CustomerInvoice) -> Invoice:
        """The source invoice as ours (with its customer and, for a credit note, the original's number),
        reconciled with the source; `_Park` when it cannot be mapped or does not agree with it."""
        original_number = None
        if source.IsCreditInvoice and source.ReferringInvoiceId:
            original = self.ours(source.ReferringInvoiceId)
            original_number = original.number if original else None
        try:
            customer = self.customer(source.CustomerId)
        except SpirisUnreadable as exc:
            raise _Park(ParkReason.UNREADABLE, str(exc)) from exc
        try:
            invoice = self.map_invoice(
                source,
                customer,
                self.issuer,
                self.integration.id,
                office=self.office,
                original_number=original_number,
                today=stockholm_date(self.now),
            )
        except Exception as exc:  # noqa: BLE001 - one invoice that cannot be mapped must not stop the others
            raise _Park(ParkReason.UNMAPPABLE, _mapping_problem(exc)) from exc
        _check_fidelity(invoice, source)
        return invoice

    def _import_new(self, source: CustomerInvoice, fresh: Invoice, decision: Decision) -> str:
        fresh.hold, fresh.hold_reason = self._hold(decision)
        fresh.created_at = fresh.updated_at = self.now
        pdf_error = self._archive_source_pdf(fresh)
        fetched = "fetched from Spiris" + (f" (held for review: {fresh.hold_reason})" if fresh.hold else "")
        # The invoice, its link and its first events in one write (one request per import).
        events = [self._event_of(InvoiceStatus.QUEUED, fetched), *self._pdf_events(pdf_error)]
        created = self._store(self.invoices.create, fresh, events=events)
        self._linked[source.Id] = fresh.id  # written now, by this import or the one that got there first
        if not created:
            # Imported meanwhile by another sync of this integration (a duplicate message run at the
            # same time): never overwrite it (it may be rendered or sent by now); go on as if found.
            return self._import(source, self.invoices.get(fresh.id), decision)
        self._render(fresh)
        self.result.imported += 1
        return fresh.id

    def _replace(self, existing: Invoice, fresh: Invoice) -> str:
        """Changed before it went out (or selected again after a cancel): a new version replaces it."""
        fresh = next_version(existing, fresh, self.now)
        pdf_error = self._archive_source_pdf(fresh)
        what = (
            "selected again at the source"
            if existing.status == InvoiceStatus.CANCELLED
            else "changed at the source"
        )
        # The new version and its events in one write.
        events = [self._event_of(InvoiceStatus.QUEUED, f"{what}: re-rendered as version {fresh.version}"),
                  *self._pdf_events(pdf_error)]
        self._store(self.invoices.put, fresh, expected_updated_at=existing.updated_at, events=events)
        self._render(fresh)
        self.result.new_versions += 1
        return fresh.id

    def _hold(self, decision: Decision) -> tuple[bool, str | None]:
        """Whether a newly imported invoice waits for the office, and why."""
        if decision.hold:
            return True, decision.reason
        if self.first_sync and self.issuer.hold_first_sync:
            return True, "first_sync"
        return False, None

    def _store(self, write: Callable[..., Any], invoice: Invoice, **kwargs: Any) -> Any:
        try:
            return write(invoice, **kwargs)
        except ItemTooLarge as exc:
            raise _Park(ParkReason.TOO_LARGE, f"the invoice is too large to store ({len(invoice.rows)} rows)") from exc

    def _skip(
        self, source_id: str, modified: datetime | None, reason: str, existing: Invoice | None
    ) -> str | None:
        """Not taken (or not takeable): ours, if any, is cancelled before it goes out, else only noted."""
        if existing is None:
            return None
        if existing.status in NOT_YET_SENT:
            expected = existing.updated_at
            existing.status = InvoiceStatus.CANCELLED
            existing.status_reason = reason
            existing.source_modified_utc = modified
            existing.updated_at = self.now
            cancelled = self._event_of(InvoiceStatus.CANCELLED, f"{reason} at the source before dispatch")
            self.invoices.put(existing, expected_updated_at=expected, events=[cancelled])
            self.result.cancelled += 1
        elif existing.status in SENT:
            when = "while being sent; the fresh look before sending decides" \
                if existing.status == InvoiceStatus.SENDING else "after sending"
            self._event(existing.id, f"source_{reason}", f"{reason} at the source ({when})")
        return existing.id

    # --- side effects ------------------------------------------------------------------------------

    def _event(self, invoice_id: str, status: str, detail: str) -> None:
        self.invoices.add_event(invoice_id, self._event_of(status, detail))

    def _event_of(self, status: str, detail: str) -> InvoiceEvent:
        return InvoiceEvent(at=self.now, status=str(status), detail=detail)

    def _render(self, invoice: Invoice) -> None:
        """Hand the version on to render with the page's other versions (`hand_on`)."""
        message = QueueMessage(step_body(invoice), deduplication_id=f"{invoice.id}-v{invoice.version}")
        self._hand_offs[invoice.source_id] = _HandOff(message)

    # --- one page ----------------------------------------------------------------------------------

    @contextmanager
    def page(self, page: InvoicePage) -> Iterator[None]:
        """Handle one page: its reads ahead first, its render messages ten at a time and the rest at its end,
        and also when the page stops early on an error (the versions imported before it go on to render; a crash sends nothing,
        and the retry hands on what was imported)."""
        self.read_ahead(page)
        try:
            yield
        except Exception:
            self._hand_on_before_leaving()
            raise
        self.hand_on()

    def hand_on(self, *, record: bool = True) -> None:
        """Send the waiting render messages (SendMessageBatch, ten at a time), then record the decisions of
        the versions whose message went out: those of source invoices never decided before together
        (`record_new`, one request for up to 25; with `record` False, as the page fills a request of
        messages, they wait for the page's end: 20 new versions cost one write, not two), the others one by
        one (an update keeps what the item holds of earlier decisions). A crash before the record hands
        those versions on again at the retry, which render's idempotency absorbs, as before.
        `RenderHandOffFailed` when the queue failed some: theirs wait."""
        hand_offs, self._hand_offs = list(self._hand_offs.values()), {}
        not_sent = self.render_queue.send_many([hand_off.message for hand_off in hand_offs]) if hand_offs else {}
        went_out = [(decision, hand_off) for position, hand_off in enumerate(hand_offs)
                    if position not in not_sent and (decision := hand_off.decision) is not None]
        self._went_out_new += [(decision, self._first_sync_entry(hand_off.for_the_office))
                               for decision, hand_off in went_out if hand_off.undecided]
        if record:
            recorded, self._went_out_new = self._went_out_new, []
            if recorded:
                self.decisions.record_new(self.integration.id, recorded)
        for decision, hand_off in went_out:
            if hand_off.undecided:
                self._decided[decision.source_id] = decision
            else:
                self._store_decision(decision, for_the_office=hand_off.for_the_office)
        if not_sent:
            metrics.add_metric(name="RenderHandOffsFailed", unit=MetricUnit.Count, value=len(not_sent))
            raise RenderHandOffFailed(self.integration.id, list(not_sent.values()))

    def _hand_on_before_leaving(self) -> None:
        """`hand_on` on the way out of a failed page: the page's own error is what goes on."""
        try:
            self.hand_on()
        except Exception as exc:  # noqa: BLE001 - undecided, they are handed on by the retry or the next sync
            logger.warning("render messages not sent", extra={"integration_id": self.integration.id,
                                                               "error": type(exc).__name__})

    def _source_pdf_archive(self) -> DocumentStore | None:
        """Where Spiris' own PDFs go: the documents store, for an issuer that archives them; else None."""
        return self.documents if self.issuer.archive_source_pdf else None

    def _archive_source_pdf(self, invoice: Invoice) -> str | None:
        """Keep Spiris' own PDF next to ours when the issuer asks for it (`archive_source_pdf`; off, no
        Spiris request is spent on it): best effort, a failure is an event, never a lost invoice.
        Returns the error's type name on failure."""
        archive = self._source_pdf_archive()
        if archive is None:
            return None
        key = source_pdf_key(invoice)
        try:
            body = self.spiris.customer_invoice_pdf(invoice.source_id)
            archive.put(key, body, "application/pdf")
        except SpirisReauthenticate:
            raise
        except Exception as exc:  # noqa: BLE001 - best effort by design; the reason is kept as an event
            logger.warning(
                "source PDF not archived", extra={"invoice_id": invoice.id, "error": type(exc).__name__}
            )
            return type(exc).__name__
        invoice.source_pdf_key = key
        return None

    def _pdf_events(self, error: str | None) -> list[InvoiceEvent]:
        if error is None:
            return []
        return [self._event_of("source_pdf_unavailable", f"the source PDF could not be archived ({error})")]


def sync_integration(
    integration_id: str,
    services: SyncServices,
    *,
    now: datetime | None = None,
    overlap_seconds: int = 300,
    map_invoice: MapInvoice | None = None,
    max_passes: int = 3,
    issuer_id: str | None = None,
) -> SyncResult:
    """Sync one integration (of `issuer_id`, when the message named it: both are read in one request).
    Raises `IntegrationNeedsReconsent` / `IntegrationFailed` (status set, the caller notifies) and
    re-raises `SpirisRetryable` (the SQS message is retried; the watermark stays)."""
    now = _aware(now or datetime.now(UTC))
    integrations = services.integrations
    integration, issuer_read = _integration_and_issuer(services, integration_id, issuer_id)
    result = SyncResult(integration_id=integration_id)
    if not is_syncable(integration):
        logger.info(
            "integration not syncable", extra={"integration_id": integration_id, "status": integration.status}
        )
        result.skipped = True
        return result
    issuer = issuer_read or services.issuers.get(integration.issuer_id)
    result.first_sync = not integration.first_sync_done

    since = integration.watermark - timedelta(seconds=overlap_seconds) if integration.watermark else None
    spiris = services.spiris_for(integration)
    importer = _Importer(
        integration,
        issuer,
        services,
        spiris,
        now=now,
        first_sync=result.first_sync,
        map_invoice=map_invoice or _default_map_invoice(),
        result=result,
    )
    try:
        new_watermark = _read_stable_window(spiris, since, importer, result, max_passes)
    except SpirisError as exc:
        stopped = _record_spiris_failure(integrations, integration_id, now, exc)
        if stopped is None:
            raise
        raise stopped from exc
    except SyncWindowUnstable:
        _record_unstable(integrations, integration, now, result)
        return result

    # The whole window was read and handed on: only now may the watermark move.
    _record_success(integrations, integration, now, new_watermark, result)
    return result


def _integration_and_issuer(
    services: SyncServices, integration_id: str, issuer_id: str | None
) -> tuple[Integration, Issuer | None]:
    """The integration (NotFound when it is gone), and its issuer when `issuer_id` names it: both in one
    request where the store allows. A message from before issuer ids were carried reads the issuer after."""
    if issuer_id is None or services.batch_reader is None:
        return services.integrations.get(integration_id), None
    read = services.batch_reader.read((), [issuer_id], [integration_id])
    integration = read.integrations.get(integration_id) or services.integrations.get(integration_id)
    return integration, read.issuers.get(integration.issuer_id)


def _default_map_invoice() -> MapInvoice:
    from ..mapping import to_invoice  # on first use only: callers that bring their own mapper skip it

    return to_invoice


def _read_stable_window(
    spiris: SpirisApi, since: datetime | None, importer: _Importer, result: SyncResult, max_passes: int
) -> datetime | None:
    """Read the window until a pass sees no invoice change while paging (at most `max_passes`).
    Returns the new watermark: Spiris' own clock before the first pass."""
    new_watermark: datetime | None = None
    for _ in range(max_passes):
        pass_start, changed_while_paging = _read_window(spiris, since, importer, result)
        if new_watermark is None:
            # Spiris' own clock, taken before the window was read: anything modified while paging is
            # newer and falls in the next window.
            new_watermark = pass_start
        if not changed_while_paging:
            return new_watermark
        # An edit while paging moves an invoice in the list and shifts the ones after it across a page
        # boundary: one could have been skipped, and it is not newer than the watermark. Read again.
        result.passes += 1
        logger.info(
            "invoices changed while paging; reading the window again",
            extra={"integration_id": result.integration_id},
        )
    raise SyncWindowUnstable(result.integration_id, f"invoices kept changing while paging ({max_passes} passes)")


def _record_spiris_failure(
    integrations: IntegrationRepository, integration_id: str, now: datetime, exc: SpirisError
) -> SyncError | None:
    """Note a failed read on the integration. Returns what to raise instead when the office must act,
    None when the Spiris error itself goes on (the message is retried, then dead-lettered)."""
    if isinstance(exc, SpirisReauthenticate):
        _record_failure(
            integrations, integration_id, now, IntegrationStatus.NEEDS_RECONSENT, "Spiris refused the grant"
        )
        metrics.add_metric(name="IntegrationNeedsReconsent", unit=MetricUnit.Count, value=1)
        return IntegrationNeedsReconsent(integration_id, "the integration needs a new consent")
    if isinstance(exc, SpirisFatal):
        # The office's action is needed; last_error says which (e.g. 4007: the user's role lacks permission).
        message = f"Spiris error {exc.code}: {exc.meaning}"
        _record_failure(integrations, integration_id, now, IntegrationStatus.ERROR, message)
        return IntegrationFailed(integration_id, message, str(exc.code))
    if isinstance(exc, SpirisRetryable):
        _record_failure(integrations, integration_id, now, None, "Spiris unavailable; retrying")
    else:  # a request or paging error: our bug or Spiris', retried and then dead-lettered
        _record_failure(integrations, integration_id, now, None, f"Spiris request failed ({type(exc).__name__})")
    return None


def _record_unstable(
    integrations: IntegrationRepository, previous: Integration, now: datetime, result: SyncResult
) -> None:
    """Every invoice read was handled, but one may have slipped past a page boundary while the list
    shifted: the watermark stays, and the next poll reads the window again. Not a failed message: retried
    at once it meets the same edits and ends in the dead-letter queue, where the next poll would have done
    the work anyway. The lag grows until a window settles (no `last_success_at`), so StaleIntegrations
    alarms an integration that never settles."""
    update_integration(integrations, previous.id,
                       lambda current: current.model_copy(update={"last_sync_at": now, "updated_at": now}),
                       read=previous)
    result.unstable = True
    metrics.add_metric(name="SyncWindowUnstable", unit=MetricUnit.Count, value=1)
    logger.warning("invoices kept changing while paging; the next poll reads the window again",
                   extra={"integration_id": previous.id, "passes": result.passes})


def _record_success(
    integrations: IntegrationRepository,
    previous: Integration,
    now: datetime,
    new_watermark: datetime | None,
    result: SyncResult,
) -> None:
    """Move the watermark and the sync's own fields (on the integration read at the start: its version
    guards the write, a change meanwhile is read then); count and log what the sync did."""
    integration_id = previous.id
    previous_success = previous.last_success_at or previous.created_at
    stored = update_integration(integrations, integration_id, lambda current: _succeeded(current, now, new_watermark),
                                read=previous)
    result.watermark = stored.watermark

    metrics.add_metric(
        name="InvoicesFetched", unit=MetricUnit.Count, value=result.imported + result.new_versions
    )
    metrics.add_metric(
        name="SyncLagSeconds",
        unit=MetricUnit.Seconds,
        value=max((now - _aware(previous_success)).total_seconds(), 0),
    )
    logger.info(
        "sync done",
        extra={
            "integration_id": integration_id,
            "first_sync": result.first_sync,
            "pages": result.pages,
            "seen": result.seen,
            "selected": result.selected,
            "imported": result.imported,
            "new_versions": result.new_versions,
            "cancelled": result.cancelled,
            "parked": result.parked,
        },
    )


def _read_window(
    spiris: SpirisApi, since: datetime | None, importer: _Importer, result: SyncResult
) -> tuple[datetime | None, bool]:
    """Read every page of the window once. Returns the first page's ServerTimeUtc and whether any
    invoice read was modified after it (i.e. while paging)."""
    pass_start: datetime | None = None
    changed = False
    for page in spiris.iter_customer_invoices(since):
        if pass_start is None:
            pass_start = _aware(page.meta.ServerTimeUtc)
        result.pages += 1
        with importer.page(page):
            for source in page.invoices:
                if source.ModifiedUtc is not None and _aware(source.ModifiedUtc) > pass_start:
                    changed = True
                importer.handle(source)
            for unreadable in page.unreadable:
                if unreadable.modified_utc is not None and _aware(unreadable.modified_utc) > pass_start:
                    changed = True
                importer.handle_unreadable(unreadable)
    return pass_start, changed


def _succeeded(current: Integration, now: datetime, watermark: datetime | None) -> Integration:
    """The sync's own fields only: a status changed meanwhile (revoked, paused) stays as it is."""
    return current.model_copy(
        update={
            "watermark": watermark if watermark is not None else current.watermark,
            "first_sync_done": True,
            "last_sync_at": now,
            "last_success_at": now,
            "last_error": None,
            "updated_at": now,
        }
    )


def _record_failure(
    integrations: IntegrationRepository,
    integration_id: str,
    now: datetime,
    status: IntegrationStatus | None,
    message: str,
) -> None:
    def failed(current: Integration) -> Integration:
        changes: dict[str, object] = {"last_sync_at": now, "last_error": message, "updated_at": now}
        if status is not None and current.status != IntegrationStatus.REVOKED:  # a revoke meanwhile stands
            changes["status"] = status
        return current.model_copy(update=changes)

    update_integration(integrations, integration_id, failed)
    logger.warning("sync failed", extra={"integration_id": integration_id, "error": message})
