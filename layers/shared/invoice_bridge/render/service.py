"""The render capability: one invoice version → PDF + Peppol UBL in S3 → the dispatch queue.

Idempotent on (invoice id, version): a redelivered message for a superseded version does nothing, and one
for a version already rendered renders nothing again but hands it on to dispatch again while it is still
`rendered` (a crash between storing the result and sending the message must not leave it there; dispatch is
idempotent). A rendered version that must wait (the office's review, approval, a send delay: sending.py) is
stored `held` with what it waits for, and not handed on. The status write is conditional on the version and
on the status the render read (`queued` or `held`), so a render never writes over a cancellation, a newer
version, or the same version a duplicate rendered meanwhile. A document that fails the official rules, what
the law asks it to state (`content_problems`) or the invoice's own arithmetic (`_self_check`) fails the
invoice with the reasons, notifies the issuer, counts in `RenderFailed`, and is never queued for dispatch.
Whether the invoice says what its Spiris source says is checked before it gets here, by the sync, which has
the source in hand (fetch/sync.py parks a version that does not agree); render reads no source.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from aws_lambda_powertools.metrics import MetricUnit

from ..batch_invoices import BatchFirstRead, BatchInvoices, BatchKeys
from ..batch_issuers import BatchIssuers, read_logo
from ..dispatch.notify import Failure, FailureNotifier
from ..invoice_rows import with_rows
from ..models.invoice import Invoice, InvoiceEvent, InvoiceStatus
from ..models.invoice import document_keys as document_keys
from ..models.issuer import Issuer
from ..observability import logger, metrics
from ..ports import BatchReader, ConflictError, DocumentStore, InvoiceRepository, IssuerRepository, WorkQueue
from ..sending import REVIEW, hand_on, send_at_for, waiting_for
from .fidelity import FIDELITY, content_problems, internal_differences
from .pdf import render_pdf
from .ubl import build_ubl, einvoice_obstacle
from .validation import ValidationResult, validate_ubl

# A render writes only over a version that is waiting for it; anything else has moved on.
RENDERABLE = frozenset({InvoiceStatus.QUEUED, InvoiceStatus.HELD})


@dataclass(frozen=True)
class RenderServices:
    """What a render reads, stores and hands on through (built by `invoice_bridge.wiring.render_services`)."""

    invoices: InvoiceRepository
    issuers: IssuerRepository
    documents: DocumentStore
    dispatch_queue: WorkQueue
    notifier: FailureNotifier
    # The issuer's logo; None: read from `documents` at each render (`for_batch` reads it once a batch).
    logos: Callable[[Issuer], bytes | None] | None = None
    # Reads a batch's invoices with their issuers in one request; None: the invoices alone (`get_many`).
    batch_reader: BatchReader | None = None

    def for_batch(self, keys: BatchKeys) -> RenderServices:
        """These services for one queue batch (one invocation) of the messages that name `keys`: the
        invoices read with their issuers in one request (batch_invoices.py), each issuer and its logo once
        (batch_issuers.py)."""
        # Render reads no integration: only the invoices and their issuers are asked.
        first_read = BatchFirstRead(self.invoices, replace(keys, integration_ids=()), self.batch_reader)
        batch = BatchIssuers(self.issuers, self.documents, first_read)
        return replace(self, invoices=BatchInvoices(self.invoices, first_read), issuers=batch, logos=batch.logo)

    def logo(self, issuer: Issuer) -> bytes | None:
        return self.logos(issuer) if self.logos is not None else read_logo(issuer, self.documents)


@dataclass
class RenderOutcome:
    invoice_id: str
    version: int
    status: str  # rendered | held | failed | skipped
    reasons: list[str] = field(default_factory=list)
    pdf_key: str | None = None
    einvoice_key: str | None = None


def render_invoice(
    invoice_id: str,
    version: int,
    services: RenderServices,
    *,
    validate: Callable[[bytes], ValidationResult] = validate_ubl,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> RenderOutcome:
    """Render, validate, store and queue one invoice version (reconciled with its source at the sync)."""
    invoices, issuers, documents = services.invoices, services.issuers, services.documents
    dispatch_queue, notifier = services.dispatch_queue, services.notifier
    invoice = invoices.get(invoice_id)
    pdf_key, xml_key = document_keys(invoice, version)
    skipped = _skipped(invoice, version, pdf_key, dispatch_queue)
    if skipped is not None:
        return skipped

    invoice = with_rows(invoice, documents)  # a large invoice keeps its rows in S3
    issuer = issuers.get(invoice.issuer_id)
    refused = _refusal(invoice)
    if refused is not None:
        return _fail(invoices, notifier, issuer, invoice, *refused, now())

    pdf = render_pdf(invoice, issuer, logo=services.logo(issuer))
    # Only a document that can be Peppol-valid is an e-invoice; every rule is enforced on it.
    no_einvoice = einvoice_obstacle(invoice)
    warnings = 0
    if no_einvoice is None:
        ubl = build_ubl(invoice, issuer, pdf=pdf if issuer.dispatch.attach_pdf else None)
        result = validate(ubl)
        if not result.ok:
            reasons = [f"{f.rule_id} [{f.flag}] {f.message}" for f in result.fatal]
            return _fail(invoices, notifier, issuer, invoice, "validation", reasons, now())
        warnings = len(result.warnings)
        documents.put(xml_key, ubl, "application/xml")
    documents.put(pdf_key, pdf, "application/pdf")
    detail = (f"v{version}: PDF rendered; no e-invoice: {no_einvoice}" if no_einvoice else
              f"v{version}: PDF and Peppol BIS 3.0 rendered; {warnings} rule warning(s)")
    rendered = _Rendered(pdf_key, None if no_einvoice else xml_key, detail)
    return _record_rendered(invoices, dispatch_queue, invoice, issuer, rendered, now())


def _skipped(invoice: Invoice, version: int, pdf_key: str, dispatch_queue: WorkQueue) -> RenderOutcome | None:
    """The outcome when this version is not to be rendered (superseded, done already, not renderable)."""
    invoice_id = invoice.id
    if invoice.version != version:
        logger.info("render skipped: superseded version", extra={"invoice_id": invoice_id, "version": version,
                                                                  "current_version": invoice.version})
        return RenderOutcome(invoice_id, version, "skipped", ["superseded"])
    if invoice.pdf_key == pdf_key:  # the key names the version; an invoice without e-invoice has no xml key
        reasons = ["already rendered"]
        if invoice.status == InvoiceStatus.RENDERED:  # stored, but maybe never handed on: hand on again
            hand_on(dispatch_queue, invoice)
            reasons.append("dispatch queued again")
        logger.info("render skipped: version already rendered", extra={"invoice_id": invoice_id, "version": version,
                                                                       "status": invoice.status.value})
        return RenderOutcome(invoice_id, version, "skipped", reasons, pdf_key, invoice.einvoice_key)
    if invoice.status not in RENDERABLE:
        return RenderOutcome(invoice_id, version, "skipped", [f"status {invoice.status}"])
    return None


def _refusal(invoice: Invoice) -> tuple[str, list[str]] | None:
    """Why the invoice must not be rendered (the stage and its reasons), or None: its own arithmetic (which
    needs no source), then what it lacks."""
    differences = _self_check(invoice)
    if differences:
        return FIDELITY, differences
    problems = content_problems(invoice)
    if problems:
        return "content", problems
    return None


@dataclass(frozen=True)
class _Rendered:
    pdf_key: str
    einvoice_key: str | None
    detail: str  # the event's words: what was rendered


def _record_rendered(
    invoices: InvoiceRepository,
    dispatch_queue: WorkQueue,
    invoice: Invoice,
    issuer: Issuer,
    rendered: _Rendered,
    at: datetime,
) -> RenderOutcome:
    """Move the version to rendered (or held, when it waits) and hand it on to dispatch unless it waits."""
    waiting = _gate(invoice, issuer, at)
    status = InvoiceStatus.HELD if waiting else InvoiceStatus.RENDERED
    updated = invoice.model_copy(update={
        "pdf_key": rendered.pdf_key, "einvoice_key": rendered.einvoice_key, "status": status,
        "status_reason": waiting, "send_at": send_at_for(invoice, issuer, at), "updated_at": at,
    })
    detail = rendered.detail + (f"; waits: {waiting}" if waiting else "")
    try:
        # From the status this render read, not any renderable one: a duplicate that rendered the same
        # version meanwhile moved it on (queued → held, a renderable status too), so this writes nothing.
        invoices.transition(updated, {invoice.status}, InvoiceEvent(at=at, status=status.value, detail=detail))
    except ConflictError:  # cancelled, replaced by a newer version, or rendered by a duplicate meanwhile
        return _moved_on(invoices, invoice.id, invoice.version)
    metrics.add_metric(name="InvoicesRendered", unit=MetricUnit.Count, value=1)
    if not waiting:
        hand_on(dispatch_queue, updated)
    logger.info("invoice rendered", extra={"invoice_id": invoice.id, "version": invoice.version,
                                           "status": status.value})
    return RenderOutcome(invoice.id, invoice.version, status.value, [], rendered.pdf_key, updated.einvoice_key)


def _gate(invoice: Invoice, issuer: Issuer, at: datetime) -> str | None:
    """What the rendered version waits for (sending.py), or None. A version already held before it was
    rendered stays held with its reason."""
    gated = invoice.model_copy(update={"send_at": send_at_for(invoice, issuer, at)})
    waiting = waiting_for(gated, issuer, at)
    if waiting is None and invoice.status == InvoiceStatus.HELD:
        return invoice.status_reason or invoice.hold_reason or REVIEW
    return waiting


def _moved_on(invoices: InvoiceRepository, invoice_id: str, version: int) -> RenderOutcome:
    current = invoices.get(invoice_id)
    logger.info("render not stored: the invoice moved on", extra={
        "invoice_id": invoice_id, "version": version, "current_version": current.version,
        "current_status": current.status.value})
    return RenderOutcome(invoice_id, version, "skipped", [f"moved on to v{current.version} {current.status.value}"])


def _self_check(invoice: Invoice) -> list[str]:
    from decimal import Decimal

    problems = []
    rows_total = sum((r.amount for r in invoice.rows if not r.is_text_row), Decimal("0"))
    if rows_total != invoice.net_total:
        problems.append(f"sum_of_rows: ours {invoice.net_total}, rows {rows_total}")
    if invoice.net_total + invoice.vat_total + invoice.rounding != invoice.gross_total:
        problems.append(f"gross_total_arithmetic: {invoice.gross_total}")
    problems.extend(str(d) for d in internal_differences(invoice))  # SEK VAT at the rate, ROT/RUT arithmetic
    return problems


def _fail(invoices: InvoiceRepository, notifier: FailureNotifier, issuer: Issuer, invoice: Invoice, stage: str,
          reasons: list[str], at: datetime) -> RenderOutcome:
    """Notify the issuer (counted in RenderFailed), then fail this version unless it moved on meanwhile.
    Notified first, as dispatch does: a crash repeats the notice rather than loses it."""
    summary = (f"{stage} failed: " + "; ".join(reasons[:20]))[:2000]
    notifier.notify(issuer, invoice, Failure("render_failed", f"{stage} failed: " + "; ".join(reasons[:5])),
                    transfer=False)
    metrics.add_metric(name="RenderFailed", unit=MetricUnit.Count, value=1)
    failed = invoice.model_copy(update={"status": InvoiceStatus.FAILED, "status_reason": summary, "updated_at": at})
    try:
        invoices.transition(failed, {invoice.status},
                            InvoiceEvent(at=at, status=InvoiceStatus.FAILED.value, detail=summary))
    except ConflictError:
        return _moved_on(invoices, invoice.id, invoice.version)
    logger.warning("invoice failed before sending", extra={
        "invoice_id": invoice.id, "version": invoice.version, "stage": stage, "reasons": reasons[:20]})
    return RenderOutcome(invoice.id, invoice.version, "failed", reasons)
