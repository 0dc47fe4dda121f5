"""The invoice as a PDF (fpdf2, embedded DejaVu Sans), in Swedish or English.

Layout (A4): logo or issuer name and the document title at the top; invoice facts left and the buyer's
address right (in the window-envelope position); the rows table, continuing over pages with its header
repeated; VAT breakdown and totals; the payment block; the seller's details and "Sida x av y" in the footer.
Fonts are loaded once per process into a template document that each render deep-copies (toolchain.md §5).
"""

from __future__ import annotations

import copy
import io
from datetime import UTC, datetime, time
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..identifiers import InvalidIdentifier, format_bankgiro, format_org_number, format_plusgiro
from ..models.common import STOCKHOLM, Language
from ..models.invoice import Invoice, InvoiceRow
from ..models.issuer import Issuer
from .texts import payment_terms_text, text, texts_for

if TYPE_CHECKING:
    from fpdf import FPDF

FONTS = Path(__file__).with_name("fonts")
FONT = "DejaVu"
MARGIN = 15.0
PAGE_WIDTH = 210.0
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN
FOOTER_TOP = 297.0 - 34.0  # the table stops above the footer
ACCENT = (31, 78, 121)
MUTED = (95, 99, 104)
RULE = (200, 204, 208)
ZEBRA = (244, 246, 248)

# (key, width mm, align) of the rows table; widths add up to CONTENT_WIDTH.
COLUMNS = (
    ("col_description", 74.0, "L"),
    ("col_quantity", 16.0, "R"),
    ("col_unit", 12.0, "L"),
    ("col_unit_price", 24.0, "R"),
    ("col_discount", 14.0, "R"),
    ("col_vat", 14.0, "R"),
    ("col_amount", 26.0, "R"),
)
ROW_LINE_HEIGHT = 4.6


def format_amount(value: Decimal, language: Language, places: int = 2) -> str:
    """12500 → "12 500,00" (sv) / "12,500.00" (en); no float involved."""
    quantized = value.quantize(Decimal(1).scaleb(-places)) if places else value
    sign = "-" if quantized < 0 else ""
    whole, _, fraction = f"{abs(quantized):f}".partition(".")
    groups = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    if language == "sv":
        body = "\u00a0".join(groups) + ("," + fraction if fraction else "")
    else:
        body = ",".join(groups) + ("." + fraction if fraction else "")
    return sign + body


def format_quantity(value: Decimal, language: Language) -> str:
    normalized = value.normalize()
    places = max(0, -normalized.as_tuple().exponent)  # type: ignore[operator]
    return format_amount(normalized, language, places=min(places, 4)) if places else format_amount(
        normalized.quantize(Decimal(1)), language, places=0)


def format_percent(value: Decimal, language: Language) -> str:
    return f"{format_quantity(value, language)}\u00a0%"


def _document_class() -> type[FPDF]:
    from fpdf import FPDF

    class InvoiceDocument(FPDF):
        """FPDF with our footer: the seller's details and the page number on every page."""

        footer_columns: list[list[str]] = []
        page_label: str = ""

        def footer(self) -> None:
            self.set_y(-30)
            self.set_draw_color(*RULE)
            self.line(MARGIN, self.get_y(), PAGE_WIDTH - MARGIN, self.get_y())
            self.set_y(self.get_y() + 2)
            top = self.get_y()
            width = CONTENT_WIDTH / max(1, len(self.footer_columns))
            for index, column in enumerate(self.footer_columns):
                self.set_xy(MARGIN + index * width, top)
                for number, line in enumerate(column):
                    self.set_font(FONT, "B" if number == 0 else "", 7)
                    self.set_text_color(*(ACCENT if number == 0 else MUTED))
                    self.set_x(MARGIN + index * width)
                    self.cell(width - 2, 3.4, line, new_x="LEFT", new_y="NEXT")
            self.set_xy(MARGIN, -10)
            self.set_font(FONT, "", 7)
            self.set_text_color(*MUTED)
            self.cell(CONTENT_WIDTH, 4, self.page_label.replace("{page}", str(self.page_no())), align="R")

    return InvoiceDocument


FONT_FILES = {
    "latin": ("DejaVuSans-Latin.ttf", "DejaVuSans-Bold-Latin.ttf"),
    "full": ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"),
}


@lru_cache(maxsize=2)
def _template(variant: str = "latin") -> FPDF:
    """A document with the fonts already parsed; deep-copying it is ~5x cheaper than add_font (toolchain.md)."""
    regular, bold = FONT_FILES[variant]
    document = _document_class()(orientation="P", unit="mm", format="A4")
    document.add_font(FONT, "", str(FONTS / regular))
    document.add_font(FONT, "B", str(FONTS / bold))
    document.set_margins(MARGIN, MARGIN, MARGIN)
    document.set_auto_page_break(False)
    document.alias_nb_pages("{nb}")
    return document


def _private_font_tables(document: Any) -> None:
    """fpdf2's deepcopy shares the fontTools TTFont, and subsetting at output() mutates it; give the copy its
    own (lazily loaded) TTFont so every render subsets a pristine font."""
    from fontTools.ttLib import TTFont

    for font in document.fonts.values():
        if getattr(font, "ttfont", None) is not None:
            font.ttfont = TTFont(_font_bytes(str(font.ttffile)), lazy=True, recalcTimestamp=False)


@lru_cache(maxsize=4)
def _font_data(path: str) -> bytes:
    return Path(path).read_bytes()


def _font_bytes(path: str) -> io.BytesIO:
    return io.BytesIO(_font_data(path))


@lru_cache(maxsize=1)
def _latin_coverage() -> frozenset[int]:
    from fontTools.ttLib import TTFont

    return frozenset(TTFont(FONTS / FONT_FILES["latin"][0], lazy=True).getBestCmap())


def _font_variant(invoice: Invoice, issuer: Issuer) -> str:
    """The Latin subset when it covers every character of the document, else the full DejaVu Sans."""
    strings = [issuer.name, invoice.model_dump_json()]
    used = {ord(ch) for string in strings for ch in string if ch not in "\n\r\t"}
    return "latin" if used <= _latin_coverage() else "full"


def warm_up() -> None:
    """Load the fonts now (call at cold start, outside the first request's latency)."""
    _template("latin")
    _latin_coverage()


def _safe(formatter: Any, value: str | None) -> str | None:
    if not value:
        return None
    try:
        return formatter(value)
    except InvalidIdentifier:
        return value


class _Renderer:
    def __init__(self, invoice: Invoice, issuer: Issuer, logo: bytes | None) -> None:
        self.invoice = invoice
        self.issuer = issuer
        self.logo = logo
        self.language: Language = invoice.language
        self.t = texts_for(self.language)
        self.pdf: Any = copy.deepcopy(_template(_font_variant(invoice, issuer)))
        _private_font_tables(self.pdf)
        self.is_credit = invoice.document_type == "credit_note"

    # --- helpers -------------------------------------------------------------------------------
    def font(self, size: float, bold: bool = False, color: tuple[int, int, int] = (20, 20, 20)) -> None:
        self.pdf.set_font(FONT, "B" if bold else "", size)
        self.pdf.set_text_color(*color)

    def money(self, value: Decimal) -> str:
        return format_amount(value, self.language)

    def label_value(self, x: float, y: float, label: str, value: str, width: float = 80) -> float:
        self.pdf.set_xy(x, y)
        self.font(7.5, color=MUTED)
        self.pdf.cell(34, 4.4, label)
        self.font(8.5)
        self.pdf.cell(width - 34, 4.4, value)
        return y + 4.6

    # --- blocks --------------------------------------------------------------------------------
    def header(self) -> None:
        pdf = self.pdf
        if self.logo:
            pdf.image(io.BytesIO(self.logo), x=MARGIN, y=MARGIN, w=62, h=22, keep_aspect_ratio=True)
        else:
            pdf.set_xy(MARGIN, MARGIN + 4)
            self.font(16, bold=True, color=ACCENT)
            pdf.multi_cell(95, 7.5, self.issuer.name)
        title = self.t["credit_note_title" if self.is_credit else "invoice_title"]
        pdf.set_xy(110, MARGIN + 2)
        self.font(20, bold=True, color=ACCENT)
        pdf.cell(85, 9, title.upper() if self.language == "sv" else title, align="L")
        if self.is_credit and self.invoice.original_number:
            pdf.set_xy(110, MARGIN + 12)
            self.font(9, color=MUTED)
            pdf.cell(85, 5, text(self.language, "original_number", original_number=self.invoice.original_number))

    def facts(self) -> float:
        invoice = self.invoice
        y = 46.0
        number_label = self.t["credit_note_number" if self.is_credit else "invoice_number"]
        rows: list[tuple[str, str | None]] = [
            (number_label, invoice.number),
            (self.t["issue_date"], invoice.issue_date.isoformat()),
            (self.t["due_date"], invoice.due_date.isoformat() if invoice.due_date else None),
            (self.t["delivery_date"], invoice.delivery_date.isoformat() if invoice.delivery_date else None),
            (self.t["payment_terms"], payment_terms_text(invoice)),
            (self.t["buyer_reference"], invoice.buyer_reference),
            (self.t["our_reference"], invoice.our_reference),
            (self.t["order_reference"], invoice.order_reference),
        ]
        for label, value in rows:
            if value:
                y = self.label_value(MARGIN, y, label, value, width=90)
        return y

    def buyer(self) -> float:
        pdf, buyer = self.pdf, self.invoice.buyer
        x, y = 112.0, 46.0
        pdf.set_xy(x, y)
        self.font(7, color=MUTED)
        pdf.cell(80, 4, self.t["buyer"].upper())
        y += 5
        self.font(10, bold=True)
        pdf.set_xy(x, y)
        pdf.multi_cell(83, 5, buyer.name, new_x="LEFT", new_y="NEXT")
        self.font(9.5)
        address = buyer.address
        city_line = " ".join(p for p in (address.postal_code, address.city) if p)
        for line in (address.street, address.street2, city_line):
            if line:
                pdf.set_x(x)
                pdf.cell(83, 4.8, line, new_x="LEFT", new_y="NEXT")
        if address.country and address.country != "SE":
            pdf.set_x(x)
            pdf.cell(83, 4.8, address.country, new_x="LEFT", new_y="NEXT")
        y = pdf.get_y() + 1.5
        self.font(7.5, color=MUTED)
        for label, value in (
            (self.t["org_number"], _safe(format_org_number, buyer.org_number)),
            (self.t["vat_number"], buyer.vat_number),
            (self.t["gln"], buyer.gln),
        ):
            if value:
                pdf.set_xy(x, y)
                pdf.cell(83, 4, f"{label}: {value}")
                y += 4
        return y

    def table_header(self) -> None:
        pdf = self.pdf
        y = pdf.get_y()
        pdf.set_fill_color(*ACCENT)
        pdf.rect(MARGIN, y, CONTENT_WIDTH, 6.5, style="F")
        self.font(7.5, bold=True, color=(255, 255, 255))
        x = MARGIN
        for key, width, align in COLUMNS:
            pdf.set_xy(x + 1.5, y)
            pdf.cell(width - 3, 6.5, self.t[key], align=align)
            x += width
        pdf.set_xy(MARGIN, y + 7.5)

    def new_page(self, continued: bool) -> None:
        pdf = self.pdf
        pdf.add_page()
        if continued:
            pdf.set_xy(MARGIN, MARGIN)
            self.font(8, color=MUTED)
            number_label = self.t["credit_note_title" if self.is_credit else "invoice_title"]
            pdf.cell(CONTENT_WIDTH, 5, f"{number_label} {self.invoice.number} ({self.t['continued']})")
            pdf.set_xy(MARGIN, MARGIN + 8)
            self.table_header()

    def row_cells(self, row: InvoiceRow) -> list[str]:
        if row.is_text_row:
            return [row.text, "", "", "", "", "", ""]
        description = f"{row.article_number}  {row.text}" if row.article_number else row.text
        return [
            description,
            format_quantity(row.quantity, self.language),
            row.unit or "",
            self.money(row.unit_price),
            format_percent(row.discount_percent, self.language) if row.discount_percent else "",
            format_percent(row.vat_rate, self.language),
            self.money(row.amount),
        ]

    def rows(self) -> None:
        pdf = self.pdf
        description_width = COLUMNS[0][1] - 3
        for index, row in enumerate(self.invoice.rows):
            cells = self.row_cells(row)
            self.font(8.5, color=(90, 90, 90) if row.is_text_row else (20, 20, 20))
            width = CONTENT_WIDTH - 3 if row.is_text_row else description_width
            description = cells[0] or " "
            # Most descriptions fit on one line: measuring is far cheaper than multi_cell's line breaking.
            fits = "\n" not in description and pdf.get_string_width(description) <= width - 1
            lines = [description] if fits else pdf.multi_cell(
                width, ROW_LINE_HEIGHT, description, dry_run=True, output="LINES")
            height = max(1, len(lines)) * ROW_LINE_HEIGHT + 1.4
            if pdf.get_y() + height > FOOTER_TOP:
                self.new_page(continued=True)
            y = pdf.get_y()
            if index % 2 == 1:
                pdf.set_fill_color(*ZEBRA)
                pdf.rect(MARGIN, y, CONTENT_WIDTH, height, style="F")
            self.font(8.5, color=(90, 90, 90) if row.is_text_row else (20, 20, 20))
            pdf.set_xy(MARGIN + 1.5, y + 0.7)
            if fits:
                pdf.cell(width, ROW_LINE_HEIGHT, description)
            else:
                pdf.multi_cell(width, ROW_LINE_HEIGHT, "\n".join(lines) if lines else "")
            if not row.is_text_row:
                x = MARGIN + COLUMNS[0][1]
                for (_key, column_width, align), value in zip(COLUMNS[1:], cells[1:], strict=True):
                    pdf.set_xy(x + 1.5, y + 0.7)
                    pdf.cell(column_width - 3, ROW_LINE_HEIGHT, value, align=align)
                    x += column_width
            pdf.set_xy(MARGIN, y + height)

    def summary_height(self) -> float:
        invoice = self.invoice
        lines = 4 + len(invoice.vat_breakdown) + (1 if invoice.rounding else 0)
        payment = 34 + (12 if invoice.payment.assignment_clause else 0) + (6 if invoice.reverse_charge else 0)
        return lines * 5 + payment

    def summary(self) -> None:
        pdf, invoice = self.pdf, self.invoice
        if pdf.get_y() + self.summary_height() > FOOTER_TOP:
            self.new_page(continued=False)
            pdf.set_xy(MARGIN, MARGIN + 8)
        pdf.set_draw_color(*RULE)
        top = pdf.get_y() + 2
        pdf.line(MARGIN, top, PAGE_WIDTH - MARGIN, top)
        # VAT breakdown (left)
        y = top + 3
        pdf.set_xy(MARGIN, y)
        self.font(7.5, bold=True, color=MUTED)
        for label, width, align in ((self.t["vat_rate"], 22, "L"), (self.t["vat_basis"], 30, "R"),
                                    (self.t["vat_amount"], 26, "R")):
            pdf.cell(width, 4.5, label, align=align)
        y += 5
        for vat in invoice.vat_breakdown:
            pdf.set_xy(MARGIN, y)
            self.font(8.5)
            rate = format_percent(vat.rate, self.language)
            if vat.category == "AE":
                rate += f" ({self.t['reverse_charge_reason']})"
            pdf.cell(22, 4.5, rate)
            pdf.cell(30, 4.5, self.money(vat.taxable_amount), align="R")
            pdf.cell(26, 4.5, self.money(vat.vat_amount), align="R")
            y += 4.6
        left_bottom = y
        # Totals (right)
        x_label, x_value = 118.0, PAGE_WIDTH - MARGIN - 32
        y = top + 3
        totals = [(self.t["net_total"], invoice.net_total), (self.t["vat_total"], invoice.vat_total)]
        if invoice.rounding:
            totals.append((self.t["rounding"], invoice.rounding))
        for label, value in totals:
            pdf.set_xy(x_label, y)
            self.font(8.5, color=MUTED)
            pdf.cell(x_value - x_label, 5, label)
            self.font(8.5)
            pdf.cell(32, 5, self.money(value), align="R")
            y += 5.2
        y += 1
        pdf.set_fill_color(*ACCENT)
        pdf.rect(x_label - 2, y, PAGE_WIDTH - MARGIN - x_label + 2, 9, style="F")
        pdf.set_xy(x_label, y + 1.8)
        self.font(10, bold=True, color=(255, 255, 255))
        pdf.cell(x_value - x_label - 12, 5.5, self.t["credit_total" if self.is_credit else "gross_total"])
        pdf.cell(44, 5.5, f"{self.money(invoice.gross_total)} {invoice.currency}", align="R")
        y = max(left_bottom, y + 12)
        if invoice.reverse_charge:
            pdf.set_xy(MARGIN, y)
            self.font(8.5, bold=True)
            pdf.cell(CONTENT_WIDTH, 5, self.t["reverse_charge"])
            y += 6
        pdf.set_xy(MARGIN, y + 2)
        if not self.is_credit:
            self.payment_block()

    def payment_block(self) -> None:
        pdf, invoice, payment = self.pdf, self.invoice, self.invoice.payment
        top = pdf.get_y()
        entries: list[tuple[str, str]] = []
        if payment.bankgiro:
            entries.append((self.t["bankgiro"], _safe(format_bankgiro, payment.bankgiro) or ""))
        if payment.plusgiro:
            entries.append((self.t["plusgiro"], _safe(format_plusgiro, payment.plusgiro) or ""))
        if payment.iban:
            entries.append((self.t["iban"], payment.iban))
        if payment.ocr:
            entries.append((self.t["ocr"], payment.ocr))
        if invoice.due_date:
            entries.append((self.t["due_date"], invoice.due_date.isoformat()))
        entries.append((self.t["gross_total"], f"{self.money(invoice.gross_total)} {invoice.currency}"))
        if payment.payee_name and payment.assignment_clause:
            entries.insert(0, (self.t["payee"], payment.payee_name))
        height = 8 + 5 * ((len(entries) + 1) // 2) + (11 if payment.assignment_clause else 0)
        pdf.set_draw_color(*ACCENT)
        pdf.set_line_width(0.4)
        pdf.rect(MARGIN, top, CONTENT_WIDTH, height)
        pdf.set_line_width(0.2)
        pdf.set_xy(MARGIN + 3, top + 2)
        self.font(8, bold=True, color=ACCENT)
        pdf.cell(80, 4.5, self.t["payment"].upper())
        y = top + 7.5
        for index, (label, value) in enumerate(entries):
            column_x = MARGIN + 3 + (index % 2) * (CONTENT_WIDTH / 2)
            row_y = y + (index // 2) * 5
            pdf.set_xy(column_x, row_y)
            self.font(7.5, color=MUTED)
            pdf.cell(30, 4.6, label)
            self.font(9, bold=label in (self.t["ocr"], self.t["bankgiro"]))
            pdf.cell(55, 4.6, value)
        if payment.assignment_clause:
            pdf.set_xy(MARGIN + 3, y + 5 * ((len(entries) + 1) // 2) + 1)
            self.font(8, bold=True)
            pdf.multi_cell(CONTENT_WIDTH - 6, 4.2, payment.assignment_clause)

    def footer_columns(self) -> list[list[str]]:
        seller, issuer = self.invoice.seller, self.issuer
        address = seller.address
        first = [seller.name, address.street or "", " ".join(p for p in (address.postal_code, address.city) if p)]
        second = [self.t["seller"]]
        if seller.org_number:
            second.append(f"{self.t['org_number']}: {_safe(format_org_number, seller.org_number)}")
        if seller.vat_number:
            second.append(f"{self.t['vat_number']}: {seller.vat_number}")
        if issuer.f_skatt:
            second.append(self.t["f_skatt"])
        third = [self.t["payment"]]
        payment = self.invoice.payment
        if payment.bankgiro:
            third.append(f"{self.t['bankgiro']}: {_safe(format_bankgiro, payment.bankgiro)}")
        if payment.plusgiro:
            third.append(f"{self.t['plusgiro']}: {_safe(format_plusgiro, payment.plusgiro)}")
        if payment.iban:
            third.append(f"{self.t['iban']}: {payment.iban}")
        fourth = [seller.email or ""] if seller.email else []
        columns = [first, second, third]
        if fourth:
            columns[0] = first + fourth
        return columns

    def render(self) -> bytes:
        pdf, invoice = self.pdf, self.invoice
        moment = datetime.combine(invoice.issue_date, time(12, 0), tzinfo=STOCKHOLM).astimezone(UTC)
        pdf.set_creation_date(moment)  # deterministic bytes: the date comes from the invoice, not the clock
        title = self.t["credit_note_title" if self.is_credit else "invoice_title"]
        pdf.set_title(f"{title} {invoice.number}")
        pdf.set_author(invoice.seller.name)
        pdf.set_creator("invoice-bridge")
        pdf.set_producer("invoice-bridge")
        pdf.footer_columns = self.footer_columns()
        pdf.page_label = text(self.language, "page", page="{page}", pages="{nb}")
        self.new_page(continued=False)
        self.header()
        y = max(self.facts(), self.buyer()) + 6
        pdf.set_xy(MARGIN, y)
        self.table_header()
        self.rows()
        self.summary()
        return bytes(pdf.output())


def render_pdf(invoice: Invoice, issuer: Issuer, *, logo: bytes | None = None) -> bytes:
    """The invoice PDF. `logo` is the issuer's logo (PNG or JPEG bytes); without one the name is printed."""
    return _Renderer(invoice, issuer, logo).render()
