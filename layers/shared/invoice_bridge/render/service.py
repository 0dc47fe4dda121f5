"""The render capability: one invoice version → PDF + Peppol UBL in S3 → the dispatch queue.

Idempotent on (invoice id, version): a redelivered message for a version that is already rendered (or
superseded) does nothing. A document that fails the official rules or the fidelity check fails the
invoice with the reasons and is never queued for dispatch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..invoice_rows import with_rows
from ..models.invoice import Invoice, InvoiceEvent, InvoiceStatus
from ..models.spiris import CustomerInvoice
from ..observability import logger, metrics
from ..ports import DocumentStore, InvoiceRepository, IssuerRepository, NotFound, WorkQueue
from .fidelity import content_problems, internal_differences, reconcile
from .pdf import render_pdf
from .ubl import build_ubl, einvoice_obstacle
from .validation import ValidationResult, validate_ubl


def document_keys(invoice: Invoice, version: int) -> tuple[str, str]:
    """S3 keys of the rendered documents (docs/architecture.md)."""
    prefix = f"{invoice.issuer_id}/invoices/{invoice.id}/v{version}"
    return f"{prefix}/invoice.pdf", f"{prefix}/invoice.xml"


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
    *,
    invoices: InvoiceRepository,
    issuers: IssuerRepository,
    documents: DocumentStore,
    dispatch_queue: WorkQueue,
    source_loader: Callable[[Invoice], CustomerInvoice | None] | None = None,
    validate: Callable[[bytes], ValidationResult] = validate_ubl,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> RenderOutcome:
    """Render, validate, store and queue one invoice version.

    `source_loader` returns the Spiris source of the invoice for the fidelity check (the sync step stores
    it); without one only the invoice's own arithmetic is reconciled.
    """
    invoice = invoices.get(invoice_id)
    pdf_key, xml_key = document_keys(invoice, version)
    if invoice.version != version:
        logger.info("render skipped: superseded version", extra={"invoice_id": invoice_id, "version": version,
                                                                  "current_version": invoice.version})
        return RenderOutcome(invoice_id, version, "skipped", ["superseded"])
    if invoice.pdf_key == pdf_key:  # the key names the version; an invoice without e-invoice has no xml key
        logger.info("render skipped: version already rendered", extra={"invoice_id": invoice_id, "version": version})
        return RenderOutcome(invoice_id, version, "skipped", ["already rendered"], pdf_key, invoice.einvoice_key)
    if invoice.status not in (InvoiceStatus.QUEUED, InvoiceStatus.HELD):
        return RenderOutcome(invoice_id, version, "skipped", [f"status {invoice.status}"])

    invoice = with_rows(invoice, documents)  # a large invoice keeps its rows in S3
    issuer = issuers.get(invoice.issuer_id)
    logo = None
    if issuer.logo_key:
        try:
            logo = documents.get(issuer.logo_key)
        except NotFound:
            logo = None

    source = source_loader(invoice) if source_loader else None
    differences = [str(d) for d in (reconcile(invoice, source) if source is not None else _self_check(invoice))]
    if differences:
        return _fail(invoices, invoice, version, "fidelity", differences, now())
    problems = content_problems(invoice)
    if problems:
        return _fail(invoices, invoice, version, "content", problems, now())

    pdf = render_pdf(invoice, issuer, logo=logo)
    # Only a document that can be Peppol-valid is an e-invoice; every rule is enforced on it.
    no_einvoice = einvoice_obstacle(invoice)
    if no_einvoice is None:
        ubl = build_ubl(invoice, issuer, pdf=pdf if issuer.dispatch.attach_pdf else None)
        result = validate(ubl)
        if not result.ok:
            reasons = [f"{f.rule_id} [{f.flag}] {f.message}" for f in result.fatal]
            return _fail(invoices, invoice, version, "validation", reasons, now())
        documents.put(xml_key, ubl, "application/xml")
    documents.put(pdf_key, pdf, "application/pdf")
    held = invoice.status == InvoiceStatus.HELD or invoice.hold
    status = InvoiceStatus.HELD if held else InvoiceStatus.RENDERED
    previous_updated_at = invoice.updated_at
    updated = invoice.model_copy(update={
        "pdf_key": pdf_key, "einvoice_key": None if no_einvoice else xml_key, "status": status,
        "status_reason": invoice.hold_reason if held else None, "updated_at": now(),
    })
    invoices.put(updated, expected_updated_at=previous_updated_at)
    detail = (f"v{version}: PDF rendered; no e-invoice: {no_einvoice}" if no_einvoice else
              f"v{version}: PDF and Peppol BIS 3.0 rendered; {len(result.warnings)} rule warning(s)")
    invoices.add_event(invoice_id, InvoiceEvent(at=now(), status=status.value, detail=detail))
    metrics.add_metric(name="InvoicesRendered", unit="Count", value=1)
    if not held:
        dispatch_queue.send({"invoice_id": invoice_id, "version": version},
                            deduplication_id=f"{invoice_id}:v{version}")
    logger.info("invoice rendered", extra={"invoice_id": invoice_id, "version": version, "status": status.value})
    return RenderOutcome(invoice_id, version, status.value, [], pdf_key, updated.einvoice_key)


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


def _fail(invoices: InvoiceRepository, invoice: Invoice, version: int, stage: str, reasons: list[str],
          at: datetime) -> RenderOutcome:
    summary = f"{stage} failed: " + "; ".join(reasons[:20])
    failed = invoice.model_copy(update={"status": InvoiceStatus.FAILED, "status_reason": summary[:2000],
                                        "updated_at": at})
    invoices.put(failed, expected_updated_at=invoice.updated_at)
    invoices.add_event(invoice.id, InvoiceEvent(at=at, status=InvoiceStatus.FAILED.value, detail=summary[:2000]))
    logger.warning("invoice failed before sending",
                   extra={"invoice_id": invoice.id, "version": version, "stage": stage, "reasons": reasons[:20]})
    return RenderOutcome(invoice.id, version, "failed", reasons)
