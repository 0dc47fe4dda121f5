"""Render benchmark: our fpdf2 PDF (1 and 10 pages, embedded DejaVu) against reportlab rendering the same
document in the same run, plus UBL build and validation. `python -m bench.render`
prints JSON; `make bench` can merge `run()` into out/bench.json.

reportlab is a dev dependency used only here, for the comparison.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from functools import partial
from typing import Any

from invoice_bridge.models.invoice import (
    Invoice,
    InvoiceRow,
    Party,
    PaymentDetails,
    PostalAddress,
    VatBreakdown,
)
from invoice_bridge.models.issuer import Address, Issuer

ROWS_PER_PAGE = 27  # rows that fill one page of our layout


def sample(pages: int) -> tuple[Invoice, Issuer]:
    """A synthetic invoice whose rows fill `pages` pages."""
    issuer = Issuer(id="bench", name="Bench AB", org_number="5560123456",
                    address=Address(street="Gatan 1", postal_code="111 22", city="Stockholm"),
                    notification_email="bench@example.se", bankgiro="5050-1055")
    count = max(1, pages * ROWS_PER_PAGE - 8)
    rows = [InvoiceRow(line_number=i + 1, article_number=f"A-{i:03d}", text=f"Material och arbete, position {i + 1}",
                       quantity=Decimal(1 + i % 4), unit="st", unit_price=Decimal("125.50"), vat_rate=Decimal(25),
                       amount=Decimal(1 + i % 4) * Decimal("125.50")) for i in range(count)]
    net = sum((r.amount for r in rows), Decimal(0))
    vat = (net / 4).quantize(Decimal("0.01"))
    party = Party(name="Kund AB", org_number="5566778899", endpoint_scheme="0007", endpoint_id="5566778899",
                  address=PostalAddress(street="Storgatan 1", postal_code="111 22", city="Stockholm"))
    seller = Party(name="Bench AB", org_number="5560123456", vat_number="SE556012345601", endpoint_scheme="0007",
                   endpoint_id="5560123456", address=PostalAddress(street="Gatan 1", postal_code="111 22",
                                                                    city="Stockholm"))
    invoice = Invoice(id="bench", issuer_id="bench", integration_id="bench", source_id="bench", content_hash="x",
                      number="1", issue_date=date(2026, 11, 1), due_date=date(2026, 12, 1), seller=seller,
                      buyer=party, buyer_reference="Ref", rows=rows,
                      vat_breakdown=[VatBreakdown(rate=Decimal(25), taxable_amount=net, vat_amount=vat)],
                      net_total=net, vat_total=vat, gross_total=net + vat,
                      payment=PaymentDetails(bankgiro="5050-1055", ocr="12345682"))
    return invoice, issuer


def render_reportlab(invoice: Invoice, issuer: Issuer) -> bytes:
    """The same content with reportlab platypus and the same embedded DejaVu font (comparison only)."""
    import io

    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    _register_reportlab_fonts()
    style = ParagraphStyle("n", fontName="DejaVu", fontSize=9)
    title = ParagraphStyle("t", fontName="DejaVu-Bold", fontSize=20)
    data = [["Beskrivning", "Antal", "Enhet", "À-pris", "Rabatt", "Moms", "Belopp"]]
    for row in invoice.rows:
        data.append([f"{row.article_number} {row.text}", str(row.quantity), row.unit or "", f"{row.unit_price:.2f}",
                     "", f"{row.vat_rate} %", f"{row.amount:.2f}"])
    table = Table(data, colWidths=[74 * mm, 16 * mm, 12 * mm, 24 * mm, 14 * mm, 14 * mm, 26 * mm], repeatRows=1)
    table.setStyle(TableStyle([("FONT", (0, 0), (-1, -1), "DejaVu", 8.5),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#1F4E79")),
                               ("TEXTCOLOR", (0, 0), (-1, 0), colors.white), ("ALIGN", (1, 0), (-1, -1), "RIGHT")]))
    buffer = io.BytesIO()

    def footer(canvas: Any, document: Any) -> None:
        canvas.setFont("DejaVu", 7)
        canvas.drawString(15 * mm, 12 * mm, f"{issuer.name}  Org.nr {issuer.org_number}  Godkänd för F-skatt")
        canvas.drawRightString(195 * mm, 8 * mm, f"Sida {document.page}")

    story = [Paragraph("FAKTURA", title), Spacer(1, 8 * mm),
             Paragraph(f"Fakturanummer {invoice.number}<br/>Kund: {invoice.buyer.name}", style), Spacer(1, 6 * mm),
             table, Spacer(1, 6 * mm),
             Paragraph(f"Att betala {invoice.gross_total:.2f} SEK — Bankgiro {invoice.payment.bankgiro} — "
                       f"OCR {invoice.payment.ocr}", style)]
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm,
                            bottomMargin=34 * mm, invariant=1)
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


_reportlab_fonts_registered = False


def _register_reportlab_fonts() -> None:
    global _reportlab_fonts_registered
    if _reportlab_fonts_registered:
        return
    from invoice_bridge.render.pdf import FONTS
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    pdfmetrics.registerFont(TTFont("DejaVu", str(FONTS / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont("DejaVu-Bold", str(FONTS / "DejaVuSans-Bold.ttf")))
    _reportlab_fonts_registered = True


def _median_ms(action: Callable[[], object], repeat: int) -> float:
    action()  # warm
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        timings.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(timings), 2)


def _paired_median_ms(first: Callable[[], object], second: Callable[[], object],
                      repeat: int) -> tuple[float, float]:
    """Medians of two actions timed alternately, so a busy machine slows both alike and the ratio holds."""
    first(), second()  # warm
    timings: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for action, bucket in ((first, timings[0]), (second, timings[1])):
            start = time.perf_counter()
            action()
            bucket.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(timings[0]), 2), round(statistics.median(timings[1]), 2)


def run(repeat: int = 9) -> dict[str, Any]:
    from invoice_bridge.render.pdf import render_pdf, warm_up
    from invoice_bridge.render.ubl import build_ubl
    from invoice_bridge.render.validation import get_validator

    start = time.perf_counter()
    warm_up()
    font_load_ms = round((time.perf_counter() - start) * 1000, 1)
    start = time.perf_counter()
    validator = get_validator()
    rules_compile_ms = round((time.perf_counter() - start) * 1000, 1)
    results: dict[str, Any] = {"font_load_ms": font_load_ms, "rules_compile_ms": rules_compile_ms}
    for pages in (1, 10):
        invoice, issuer = sample(pages)
        fpdf_ms, reportlab_ms = _paired_median_ms(partial(render_pdf, invoice, issuer),
                                                  partial(render_reportlab, invoice, issuer), repeat)
        ubl = build_ubl(invoice, issuer)
        results[f"{pages}_page"] = {
            "fpdf2_ms": fpdf_ms, "reportlab_ms": reportlab_ms, "ratio": round(fpdf_ms / reportlab_ms, 2),
            "fpdf2_bytes": len(render_pdf(invoice, issuer)), "reportlab_bytes": len(render_reportlab(invoice, issuer)),
            "ubl_build_ms": _median_ms(partial(build_ubl, invoice, issuer), repeat),
            "validation_ms": _median_ms(partial(validator.validate, ubl), repeat),
        }
    return results


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
