"""Fidelity: our invoice must say what the source invoice says, to the öre, and all the law asks it to say.

Totals, VAT per rate (and in SEK for a foreign currency), row count, due date and the ROT/RUT reduction are
reconciled with the Spiris `CustomerInvoice` by `reconcile` (in words: `disagreement`) wherever an invoice is
mapped from a source in hand: at the sync, which parks a version with any difference and never sends it
(fetch/sync.py), and at dispatch's fresh look, whose next version of an invoice changed just before sending
fails with them (dispatch/fresh_look.py). Render, which reads no source, checks what holds within the invoice (`internal_differences`, and its sums) and
`content_problems`: what a document would lack (the buyer's VAT number for reverse charge, the persons and
the property of a ROT/RUT invoice).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ..mapping import local_date, source_vat_by_rate
from ..models.common import round_ore
from ..models.invoice import Invoice
from ..models.spiris import CustomerInvoice
from ..vat import missing_buyer_vat_number

ZERO = Decimal("0")
# The stage, and the start of the status reason, of a version that does not agree with its source (or fails
# its own arithmetic, render/service.py): "fidelity failed: ...".
FIDELITY = "fidelity"
# How many differences a disagreement names (a parked version's detail, a failed version's reason and notice).
FIDELITY_DIFFERENCES_SHOWN = 5
# Spiris converts the VAT to SEK itself; our check of its figure against rate × VAT allows for its rounding.
TAX_CURRENCY_TOLERANCE = Decimal("1.00")


@dataclass(frozen=True)
class Difference:
    field: str
    ours: str
    source: str

    def __str__(self) -> str:
        return f"{self.field}: ours {self.ours}, source {self.source}"


def reconcile(invoice: Invoice, source: CustomerInvoice) -> list[Difference]:
    """The differences between our invoice and its source; empty when they agree."""
    differences: list[Difference] = []
    sign = Decimal(-1) if source.IsCreditInvoice else Decimal(1)

    def check(field: str, ours: object, theirs: object) -> None:
        if ours != theirs:
            differences.append(Difference(field, str(ours), str(theirs)))

    check("row_count", len(invoice.rows), len(source.Rows))

    source_net = sum((round_ore(Decimal(r.AmountNoVat)) * sign for r in source.Rows
                      if not r.IsTextRow and r.AmountNoVat is not None), ZERO)
    if any(not r.IsTextRow and r.AmountNoVat is not None for r in source.Rows):
        check("net_total", invoice.net_total, source_net)
    check("sum_of_rows", invoice.net_total, sum((r.amount for r in invoice.rows if not r.is_text_row), ZERO))
    check("vat_total_of_breakdown", invoice.vat_total, sum((v.vat_amount for v in invoice.vat_breakdown), ZERO))
    check("gross_total_arithmetic", invoice.gross_total, invoice.net_total + invoice.vat_total + invoice.rounding)

    source_vat = source_vat_by_rate(source, sign)
    if source_vat:
        ours_by_rate = {v.rate: v.vat_amount for v in invoice.vat_breakdown if v.category == "S"}
        for rate in sorted(set(source_vat) | set(ours_by_rate)):
            check(f"vat_{rate}%", ours_by_rate.get(rate, ZERO), source_vat.get(rate, ZERO))
        taxable_source: dict[Decimal, Decimal] = {}
        for spec in source.VatSpecification or []:
            if spec.VatPercent is None or spec.AmountInvoiceCurrency is None:
                continue
            raw = Decimal(spec.VatPercent)
            rate = (raw * 100 if raw <= 1 else raw).quantize(Decimal("0.01")).normalize() + ZERO
            taxable_source[rate] = taxable_source.get(rate, ZERO) + round_ore(Decimal(spec.AmountInvoiceCurrency)) * sign
        ours_taxable = {v.rate: v.taxable_amount for v in invoice.vat_breakdown if v.category == "S"}
        for rate in sorted(r for r in taxable_source if r > 0):
            check(f"taxable_{rate}%", ours_taxable.get(rate, ZERO), taxable_source[rate])

    for breakdown in invoice.vat_breakdown:
        # The stated VAT must be the rate applied to the basis (EN 16931 BR-CO-17 allows ±1; we allow 1 öre/row).
        expected = round_ore(breakdown.taxable_amount * breakdown.rate / 100)
        tolerance = Decimal("0.01") * max(1, len(invoice.rows))
        if abs(breakdown.vat_amount - expected) > tolerance:
            differences.append(Difference(f"vat_calculation_{breakdown.rate}%", str(breakdown.vat_amount),
                                          f"{expected} (= basis × rate)"))

    if source.TotalVatAmountInvoiceCurrency is not None:
        check("vat_total", invoice.vat_total, round_ore(Decimal(source.TotalVatAmountInvoiceCurrency)) * sign)
    if source.TotalAmountInvoiceCurrency is not None:
        check("gross_total", invoice.gross_total, round_ore(Decimal(source.TotalAmountInvoiceCurrency)) * sign)
    check("due_date", invoice.due_date, local_date(source.DueDate))
    check("currency", invoice.currency, (source.CurrencyCode or "SEK").upper())
    differences.extend(_tax_currency_differences(invoice, source, sign))
    differences.extend(_tax_reduction_differences(invoice, source, sign))
    differences.extend(internal_differences(invoice))
    return differences


def disagreement(invoice: Invoice, source: CustomerInvoice) -> str | None:
    """In words, how `invoice` (mapped from `source`) does not say what `source` says, to the öre; None when
    they agree. The differences name fields and amounts only, never personal data. Raises what the check
    raises on a source it cannot read (the caller treats that as a source it cannot map)."""
    differences = reconcile(invoice, source)
    if not differences:
        return None
    shown = "; ".join(str(d) for d in differences[:FIDELITY_DIFFERENCES_SHOWN])
    more = len(differences) - FIDELITY_DIFFERENCES_SHOWN
    return "it does not agree with what Spiris booked: " + shown + (f"; and {more} more" if more > 0 else "")


def internal_differences(invoice: Invoice) -> list[Difference]:
    """What must hold within our invoice whatever its source says: the VAT in SEK agrees with the rate, a
    ROT/RUT reduction is shared by its persons, is at most the labour, and the buyer pays the rest."""
    differences = []
    if invoice.tax_currency_vat_total is not None and invoice.exchange_rate is not None:
        converted = round_ore(invoice.vat_total * invoice.exchange_rate)
        if abs(converted - invoice.tax_currency_vat_total) > TAX_CURRENCY_TOLERANCE:
            differences.append(Difference("vat_total_sek_at_rate", str(invoice.tax_currency_vat_total),
                                          f"{converted} (= VAT × rate {invoice.exchange_rate})"))
    reduction = invoice.tax_reduction
    if reduction is None:
        return differences
    shares = sum((p.amount for p in reduction.persons), ZERO)
    if reduction.persons and shares != reduction.amount:
        differences.append(Difference("tax_reduction_persons", str(shares), f"{reduction.amount} (the reduction)"))
    if abs(reduction.amount) > abs(reduction.labour):
        differences.append(Difference("tax_reduction_labour", str(reduction.labour), f"at least {reduction.amount}"))
    if reduction.amount_to_pay != invoice.gross_total - reduction.amount:
        differences.append(Difference("amount_to_pay", str(reduction.amount_to_pay),
                                      f"{invoice.gross_total - reduction.amount} (= total - reduction)"))
    return differences


def _tax_currency_differences(invoice: Invoice, source: CustomerInvoice, sign: Decimal) -> list[Difference]:
    """A foreign-currency invoice states its VAT in SEK, as Spiris has it."""
    if invoice.currency == "SEK":
        return []
    if source.TotalVatAmount is None or invoice.tax_currency_vat_total is None:
        return [Difference("vat_total_sek", str(invoice.tax_currency_vat_total), "missing at the source")]
    theirs = round_ore(Decimal(source.TotalVatAmount)) * sign
    if invoice.tax_currency_vat_total != theirs:
        return [Difference("vat_total_sek", str(invoice.tax_currency_vat_total), str(theirs))]
    return []


def _tax_reduction_differences(invoice: Invoice, source: CustomerInvoice, sign: Decimal) -> list[Difference]:
    """ROT/RUT as Spiris has it: the kind and the reduction."""
    reduction = invoice.tax_reduction
    kind = {1: "rot", 2: "rut"}.get(source.RotReducedInvoicingType or 0)
    if (reduction is None) != (kind is None):
        return [Difference("tax_reduction", reduction.kind if reduction else "none", kind or "none")]
    if reduction is None:
        return []
    theirs = round_ore(Decimal(source.RotReducedInvoicingAmount or 0)) * sign
    if reduction.amount != theirs:
        return [Difference("tax_reduction", str(reduction.amount), str(theirs))]
    return []


def content_problems(invoice: Invoice) -> list[str]:
    """What the law asks of the document that this invoice cannot state (empty: nothing is missing). Each
    starts with a stable reason code; none of them quotes a personal identity number."""
    problems = []
    missing_vat = missing_buyer_vat_number(invoice)
    if missing_vat:
        problems.append(missing_vat)
    reduction = invoice.tax_reduction
    if reduction is not None:
        if not reduction.persons:
            problems.append(f"tax_reduction_person_missing: a {reduction.kind.upper()} invoice names the buyer(s) "
                            "who claim the reduction with their personal identity number (Persons in Spiris)")
        if reduction.kind == "rot" and not (reduction.property_designation or reduction.cooperative_org_number):
            problems.append("tax_reduction_property_missing: a ROT invoice states the property designation, or the "
                            "housing cooperative's org number and the apartment number")
    return problems
