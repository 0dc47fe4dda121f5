"""Fidelity: our invoice must say what the source invoice says, to the öre.

Totals, VAT per rate, row count and due date are reconciled with the Spiris `CustomerInvoice`. Any
difference is returned (and the invoice is failed with it, never sent).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ..mapping import _local_date, source_vat_by_rate
from ..models.common import round_ore
from ..models.invoice import Invoice
from ..models.spiris import CustomerInvoice

ZERO = Decimal("0")


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
    check("due_date", invoice.due_date, _local_date(source.DueDate))
    check("currency", invoice.currency, (source.CurrencyCode or "SEK").upper())
    return differences
