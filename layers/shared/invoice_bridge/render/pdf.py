"""The invoice as a PDF (fpdf2, embedded DejaVu Sans), in Swedish or English.

Layout (A4): logo or issuer name and the document title at the top; invoice facts left and the buyer's
address right (in the window-envelope position); the rows table, continuing over pages with its header
repeated; VAT breakdown and totals; the payment block; the seller's details and "Sida x av y" in the footer.
Fonts are loaded once per process into a template document that each render deep-copies (toolchain.md §5).

Speed (bench/render.py, at or below reportlab's time): the Latin DejaVu subsets are embedded whole from
bytes compressed once per process, instead of fpdf2 re-parsing and subsetting the TTF on every output(); table
cells are drawn with text() at the position cell() would use; text outside the Latin subset falls back to
the full DejaVu Sans, which fpdf2 subsets as usual from a private TTFont.
"""

from __future__ import annotations

import copy
import io
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, time
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..identifiers import InvalidIdentifier, format_bankgiro, format_org_number, format_plusgiro
from ..models.common import STOCKHOLM, Language
from ..models.invoice import Invoice, InvoiceRow
from ..models.issuer import Issuer
from .numbers import format_amount
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


def format_quantity(value: Decimal, language: Language) -> str:
    normalized = value.normalize()
    exponent = normalized.as_tuple().exponent  # an int for every finite amount
    places = max(0, -exponent) if isinstance(exponent, int) else 0
    return format_amount(normalized, language, places=min(places, 4)) if places else format_amount(
        normalized.quantize(Decimal(1)), language, places=0)


def format_percent(value: Decimal, language: Language) -> str:
    return f"{format_quantity(value, language)}\u00a0%"


def text_width(pdf: Any, value: str) -> float:
    """Width (mm) of one line of plain text in the current font: what get_string_width() returns, without
    fpdf2's bidi/markdown fragment parsing (~20x cheaper; the rows table measures every cell)."""
    widths = pdf.current_font.cw
    width: float = sum(widths[ord(ch)] for ch in value) * pdf.font_size_pt * 0.001 / pdf.k
    return width


def put_text(pdf: Any, x: float, y: float, width: float, height: float, value: str, align: str = "L") -> None:
    """Draw `value` where set_xy(x, y) + cell(width, height, value, align=align) would put it (same cell
    margin, same baseline), via text(): cell() costs ~10x more and dominates long invoices. One line, no
    border or fill, the cursor stays where it is; "{nb}" aliases need cell()."""
    if not value:
        return
    dx = width - pdf.c_margin - text_width(pdf, value) if align == "R" else pdf.c_margin
    pdf.text(x + dx, y + 0.5 * height + 0.3 * pdf.font_size, value)


def ink(pdf: Any, color: tuple[int, int, int]) -> None:
    """Text colour, also as the fill colour: PDF paints text with the fill colour, so when both agree fpdf2
    writes no `q rg ... Q` around every text (filled shapes set their own fill colour first)."""
    pdf.set_text_color(*color)
    pdf.set_fill_color(*color)


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
                for number, line in enumerate(column):
                    self.set_font(FONT, "B" if number == 0 else "", 7)
                    ink(self, ACCENT if number == 0 else MUTED)
                    put_text(self, MARGIN + index * width, top + number * 3.4, width - 2, 3.4, line)
            self.set_xy(MARGIN, -10)
            self.set_font(FONT, "", 7)
            ink(self, MUTED)
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


# The Latin variant embeds these prebuilt fonts whole instead of letting fpdf2 subset them per render.
PREBUILT_VARIANTS = frozenset({"latin"})


@lru_cache(maxsize=4)
def _prebuilt_font_stream(path: str) -> tuple[bytes, int]:
    """The compressed font program and its uncompressed length, computed once per process."""
    data = _font_data(path)
    return zlib.compress(data), len(data)


@lru_cache(maxsize=4)
def _glyph_ids_by_name(path: str) -> dict[str, int]:
    from fontTools.ttLib import TTFont

    return dict(TTFont(_font_bytes(path), lazy=True).getReverseGlyphMap())


@lru_cache(maxsize=1)
def _prebuilt_output_producer() -> type[Any] | None:
    """An fpdf2 OutputProducer that embeds each prebuilt Latin font as it is, without fontTools.

    fpdf2 subsets every TrueType font at output(): parsing glyf, pruning and recompiling it takes most of a
    one-page render and mutates the shared TTFont. The Latin fonts are already small subsets (~16 KB
    compressed each), so the whole program is embedded; the CID widths, ToUnicode map and CIDToGIDMap are
    built from the glyphs this document used, exactly as fpdf2 builds them (fpdf2 2.8 output.py, TTF path).
    None when a later fpdf2 no longer has those internals: renders then take fpdf2's own (slower) path.
    """
    from fpdf.fonts import TTFFont

    try:
        from fpdf.output import (  # noqa: F401 - the rest are used by _add_prebuilt_font and _to_unicode_cmap
            LOGGER,
            CIDSystemInfo,
            OutputProducer,
            PDFFont,
            _build_cmap_blocks,
            _tt_font_widths,
        )
    except ImportError:
        return None

    prebuilt_files = {str(FONTS / name) for variant in PREBUILT_VARIANTS for name in FONT_FILES[variant]}

    class PrebuiltFontOutputProducer(OutputProducer):
        def _add_fonts(self, image_objects_per_index: Any, gfxstate_objs_per_name: Any,
                       pattern_objs_per_name: Any) -> dict[int, Any]:
            fonts: list[Any] = sorted(self.fpdf.fonts.values(), key=lambda font: font.i)
            if not all(isinstance(font, TTFFont) and not font.color_font and not font.is_cff
                       and str(font.ttffile) in prebuilt_files for font in fonts):
                return super()._add_fonts(image_objects_per_index, gfxstate_objs_per_name, pattern_objs_per_name)
            font_objs_per_index: dict[int, Any] = {}
            for font in fonts:
                fontname = f"MPDFAA+{font.name}"
                if font.missing_glyphs:
                    LOGGER.warning("Font %s is missing %d glyphs", fontname, len(font.missing_glyphs))
                font_objs_per_index[font.i] = _add_prebuilt_font(self, font, fontname)
                font.subset.pick.cache_clear()  # fpdf2 caches pick() per instance on the class; free them
                font.subset.get_glyph.cache_clear()
            return font_objs_per_index

    return PrebuiltFontOutputProducer


def _add_prebuilt_font(producer: Any, font: Any, fontname: str) -> Any:
    """The PDF objects of one prebuilt font, as fpdf2 2.8's output.py builds them for a TrueType font but
    with the whole (precompressed) font program. Returns the composite (Type0) font object."""
    from fpdf.output import CIDSystemInfo, PDFFont, _tt_font_widths
    from fpdf.syntax import Name, PDFArray, PDFContentStream

    composite_font_obj = PDFFont(subtype="Type0", base_font=fontname, encoding="Identity-H")
    producer._add_pdf_obj(composite_font_obj, "fonts")
    cid_font_obj = PDFFont(subtype="CIDFontType2", base_font=fontname, d_w=font.desc.missing_width,
                           w=_tt_font_widths(font))
    producer._add_pdf_obj(cid_font_obj, "fonts")
    composite_font_obj.descendant_fonts = PDFArray([cid_font_obj])
    to_unicode_obj = _to_unicode_cmap(font)
    producer._add_pdf_obj(to_unicode_obj, "fonts")
    composite_font_obj.to_unicode = to_unicode_obj
    cid_system_info_obj = CIDSystemInfo()
    producer._add_pdf_obj(cid_system_info_obj, "fonts")
    cid_font_obj.c_i_d_system_info = cid_system_info_obj
    font_descriptor_obj: Any = font.desc
    font_descriptor_obj.font_name = Name(fontname)
    producer._add_pdf_obj(font_descriptor_obj, "fonts")
    cid_font_obj.font_descriptor = font_descriptor_obj
    glyph_ids = _glyph_ids_by_name(str(font.ttffile))
    cid_to_gid = bytearray(256 * 256 * 2)
    for glyph, code in font.subset.items():
        if glyph is not None:
            cid_to_gid[code * 2:code * 2 + 2] = glyph_ids.get(glyph.glyph_name, 0).to_bytes(2, "big")
    cid_to_gid_map_obj = PDFContentStream(contents=bytes(cid_to_gid), compress=True)
    producer._add_pdf_obj(cid_to_gid_map_obj, "fonts")
    cid_font_obj.c_i_d_to_g_i_d_map = cid_to_gid_map_obj
    font_file_obj = _precompressed_stream_class()(*_prebuilt_font_stream(str(font.ttffile)))
    producer._add_pdf_obj(font_file_obj, "fonts")
    font_descriptor_obj.font_file2 = font_file_obj
    return composite_font_obj


@lru_cache(maxsize=1)
def _precompressed_stream_class() -> type[Any]:
    from fpdf.syntax import Name, PDFContentStream

    class PrecompressedFontStream(PDFContentStream):
        """A font program compressed once per process; /Length1 is its uncompressed length."""

        def __init__(self, compressed: bytes, raw_length: int) -> None:
            super().__init__(contents=compressed, compress=False)
            self.filter = Name("FlateDecode")
            self.length1 = raw_length

    return PrecompressedFontStream


def _to_unicode_cmap(font: Any) -> Any:
    """The ToUnicode CMap of the glyphs this document used (text extraction, copy and paste)."""
    from fpdf.output import _build_cmap_blocks
    from fpdf.syntax import PDFContentStream

    bf_char = [f"<{code:04X}> <{''.join(f'{point:04X}' for point in glyph.unicode)}>\n"
               for glyph, code in font.subset.items()
               if glyph is not None and isinstance(glyph.unicode, tuple) and glyph.unicode]
    return PDFContentStream((
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n/CIDSystemInfo\n"
        "<</Registry (Adobe)\n/Ordering (UCS)\n/Supplement 0\n>> def\n"
        "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
        "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
        f"{_build_cmap_blocks(bf_char, 'bfchar')}"
        "endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend").encode("latin-1"))


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
def _latin_coverage() -> frozenset[str]:
    """The characters the Latin subset has glyphs for (plus the whitespace the layout never draws)."""
    from fontTools.ttLib import TTFont

    cmap = TTFont(FONTS / FONT_FILES["latin"][0], lazy=True).getBestCmap()
    return frozenset(chr(point) for point in cmap) | frozenset("\n\r\t")


def _font_variant(invoice: Invoice, issuer: Issuer) -> str:
    """The Latin subset when it covers every character of the document, else the full DejaVu Sans."""
    used = set(issuer.name).union(invoice.model_dump_json())
    return "latin" if used <= _latin_coverage() else "full"


def warm_up() -> None:
    """Load the fonts now (call at cold start, outside the first request's latency)."""
    _template("latin")
    _latin_coverage()
    _prebuilt_output_producer()
    for name in FONT_FILES["latin"]:
        _prebuilt_font_stream(str(FONTS / name))
        _glyph_ids_by_name(str(FONTS / name))


def _safe(formatter: Callable[[str], str], value: str | None) -> str | None:
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
        variant = _font_variant(invoice, issuer)
        self.output_producer = _prebuilt_output_producer() if variant in PREBUILT_VARIANTS else None
        self.pdf: Any = copy.deepcopy(_template(variant))
        if self.output_producer is None:
            _private_font_tables(self.pdf)  # only fpdf2's own subsetting mutates the TTFont
        self.is_credit = invoice.document_type == "credit_note"

    # --- helpers -------------------------------------------------------------------------------
    def font(self, size: float, bold: bool = False, color: tuple[int, int, int] = (20, 20, 20)) -> None:
        self.pdf.set_font(FONT, "B" if bold else "", size)
        ink(self.pdf, color)

    def money(self, value: Decimal) -> str:
        return format_amount(value, self.language)

    def label_value(self, x: float, y: float, label: str, value: str, width: float = 80) -> float:
        self.font(7.5, color=MUTED)
        put_text(self.pdf, x, y, 34, 4.4, label)
        self.font(8.5)
        put_text(self.pdf, x + 34, y, width - 34, 4.4, value)
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
        self.font(20, bold=True, color=ACCENT)
        put_text(pdf, 110, MARGIN + 2, 85, 9, title.upper() if self.language == "sv" else title)
        if self.is_credit and self.invoice.original_number:
            self.font(9, color=MUTED)
            put_text(pdf, 110, MARGIN + 12, 85, 5,
                     text(self.language, "original_number", original_number=self.invoice.original_number))

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
        self.font(7, color=MUTED)
        put_text(pdf, x, y, 80, 4, self.t["buyer"].upper())
        y += 5
        self.font(10, bold=True)
        pdf.set_xy(x, y)
        pdf.multi_cell(83, 5, buyer.name, new_x="LEFT", new_y="NEXT")
        self.font(9.5)
        address = buyer.address
        city_line = " ".join(p for p in (address.postal_code, address.city) if p)
        y = float(pdf.get_y())
        country = address.country if address.country and address.country != "SE" else None
        for line in (address.street, address.street2, city_line, country):
            if line:
                put_text(pdf, x, y, 83, 4.8, line)
                y += 4.8
        y += 1.5
        self.font(7.5, color=MUTED)
        for label, value in (
            (self.t["org_number"], _safe(format_org_number, buyer.org_number)),
            (self.t["vat_number"], buyer.vat_number),
            (self.t["gln"], buyer.gln),
        ):
            if value:
                put_text(pdf, x, y, 83, 4, f"{label}: {value}")
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
            put_text(pdf, x + 1.5, y, width - 3, 6.5, self.t[key], align)
            x += width
        pdf.set_xy(MARGIN, y + 7.5)

    def new_page(self, continued: bool) -> None:
        pdf = self.pdf
        pdf.add_page()
        if continued:
            self.font(8, color=MUTED)
            number_label = self.t["credit_note_title" if self.is_credit else "invoice_title"]
            put_text(pdf, MARGIN, MARGIN, CONTENT_WIDTH, 5,
                     f"{number_label} {self.invoice.number} ({self.t['continued']})")
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
            row_color = (90, 90, 90) if row.is_text_row else (20, 20, 20)
            self.font(8.5, color=row_color)
            width = CONTENT_WIDTH - 3 if row.is_text_row else description_width
            description = cells[0] or " "
            # Most descriptions fit on one line: measuring is far cheaper than multi_cell's line breaking.
            fits = "\n" not in description and text_width(pdf, description) <= width - 1
            lines = [description] if fits else pdf.multi_cell(
                width, ROW_LINE_HEIGHT, description, dry_run=True, output="LINES")
            height = max(1, len(lines)) * ROW_LINE_HEIGHT + 1.4
            if pdf.get_y() + height > FOOTER_TOP:
                self.new_page(continued=True)
                self.font(8.5, color=row_color)  # the continued header changed it
            y = pdf.get_y()
            if index % 2 == 1:
                pdf.set_fill_color(*ZEBRA)
                pdf.rect(MARGIN, y, CONTENT_WIDTH, height, style="F")
                pdf.set_fill_color(*row_color)  # back to the text colour: see ink()
            if fits:
                put_text(pdf, MARGIN + 1.5, y + 0.7, width, ROW_LINE_HEIGHT, description)
            else:
                pdf.set_xy(MARGIN + 1.5, y + 0.7)
                pdf.multi_cell(width, ROW_LINE_HEIGHT, "\n".join(lines) if lines else "")
            if not row.is_text_row:
                x = MARGIN + COLUMNS[0][1]
                for (_key, column_width, align), value in zip(COLUMNS[1:], cells[1:], strict=True):
                    put_text(pdf, x + 1.5, y + 0.7, column_width - 3, ROW_LINE_HEIGHT, value, align)
                    x += column_width
            pdf.set_xy(MARGIN, y + height)

    def summary_height(self) -> float:
        invoice = self.invoice
        lines = 4 + len(invoice.vat_breakdown) + len(self.totals()) - 2
        payment = 34 + (12 if invoice.payment.assignment_clause else 0)
        notes = 9 * len(self.legal_notes())
        reduction = self.tax_reduction_height()
        return lines * 5 + payment + notes + reduction

    def vat_label(self, category: str, rate: Decimal) -> str:
        return format_percent(rate, self.language) if category == "S" else self.t[f"vat_category_{category}"]

    def totals(self) -> list[tuple[str, str]]:
        """(label, value) lines above the amount due: net, VAT, VAT in SEK with the rate for a foreign
        currency, rounding, and for ROT/RUT the total incl. VAT and the tax reduction."""
        invoice, t = self.invoice, self.t
        lines = [(t["net_total"], self.money(invoice.net_total)), (t["vat_total"], self.money(invoice.vat_total))]
        if invoice.tax_currency and invoice.tax_currency_vat_total is not None:
            lines.append((text(self.language, "vat_in_tax_currency", currency=invoice.tax_currency),
                          f"{self.money(invoice.tax_currency_vat_total)} {invoice.tax_currency}"))
            if invoice.exchange_rate is not None:
                rate = format_quantity(invoice.exchange_rate, self.language)
                lines.append((t["exchange_rate"], text(self.language, "exchange_rate_value", currency=invoice.currency,
                                                       rate=rate, tax_currency=invoice.tax_currency)))
        if invoice.rounding:
            lines.append((t["rounding"], self.money(invoice.rounding)))
        if invoice.tax_reduction is not None:
            lines.append((t["total_incl_vat"], self.money(invoice.gross_total)))
            lines.append((t["tax_reduction"], self.money(-invoice.tax_reduction.amount)))
        return lines

    def amount_due(self) -> Decimal:
        reduction = self.invoice.tax_reduction
        return reduction.amount_to_pay if reduction is not None else self.invoice.gross_total

    def legal_notes(self) -> list[str]:
        """Why no VAT is charged, once per reason, in the invoice's language (ML 17 kap. 24 § p. 13–14)."""
        keys = dict.fromkeys(b.exemption for b in self.invoice.vat_breakdown if b.exemption)
        return [self.t[f"vatex_{key}"] for key in keys]

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
        self.font(7.5, bold=True, color=MUTED)
        put_text(pdf, MARGIN, y, 22, 4.5, self.t["vat_rate"])
        put_text(pdf, MARGIN + 22, y, 30, 4.5, self.t["vat_basis"], "R")
        put_text(pdf, MARGIN + 52, y, 26, 4.5, self.t["vat_amount"], "R")
        y += 5
        for vat in invoice.vat_breakdown:
            self.font(8.5 if vat.category == "S" else 7.5)  # the category names are longer than a rate
            put_text(pdf, MARGIN, y, 22, 4.5, self.vat_label(vat.category, vat.rate))
            self.font(8.5)
            put_text(pdf, MARGIN + 22, y, 30, 4.5, self.money(vat.taxable_amount), "R")
            put_text(pdf, MARGIN + 52, y, 26, 4.5, self.money(vat.vat_amount), "R")
            y += 4.6
        left_bottom = y
        # Totals (right)
        x_label, x_value = 118.0, PAGE_WIDTH - MARGIN - 32
        y = top + 3
        for label, value in self.totals():
            self.font(8.5, color=MUTED)
            put_text(pdf, x_label, y, x_value - x_label, 5, label)
            self.font(8.5)
            put_text(pdf, x_value - 12, y, 44, 5, value, "R")
            y += 5.2
        y += 1
        pdf.set_fill_color(*ACCENT)
        pdf.rect(x_label - 2, y, PAGE_WIDTH - MARGIN - x_label + 2, 9, style="F")
        self.font(10, bold=True, color=(255, 255, 255))
        put_text(pdf, x_label, y + 1.8, x_value - x_label - 12, 5.5,
                 self.t["credit_total" if self.is_credit else "gross_total"])
        put_text(pdf, x_value - 12, y + 1.8, 44, 5.5, f"{self.money(self.amount_due())} {invoice.currency}", "R")
        y = max(left_bottom, y + 12)
        for note in self.legal_notes():
            self.font(8.5, bold=True)
            pdf.set_xy(MARGIN, y)
            pdf.multi_cell(CONTENT_WIDTH, 4.4, note, new_x="LEFT", new_y="NEXT")
            y = pdf.get_y() + 1.5
        pdf.set_xy(MARGIN, y + 2)
        if invoice.tax_reduction is not None:
            self.tax_reduction_block()
        if not self.is_credit:
            self.payment_block()

    def tax_reduction_entries(self) -> list[tuple[str, str]]:
        reduction, t = self.invoice.tax_reduction, self.t
        if reduction is None:
            return []
        percent = f" ({format_percent(reduction.percent, self.language)})" if reduction.percent else ""
        entries = [(t["labour"], self.money(reduction.labour)), (t["materials"], self.money(reduction.materials)),
                   (t["tax_reduction"] + percent, self.money(reduction.amount))]
        if reduction.property_designation:
            entries.append((t["property_designation"], reduction.property_designation))
        if reduction.cooperative_org_number:
            entries.append((t["cooperative"], _safe(format_org_number, reduction.cooperative_org_number) or ""))
        if reduction.apartment_number:
            entries.append((t["apartment"], reduction.apartment_number))
        if len(entries) % 2:
            entries.append(("", ""))  # each person on a row of its own: the number, then the share
        for person in reduction.persons:
            entries.append((t["personal_identity_number"], person.personal_identity_number.get_secret_value()))
            entries.append((t["share"], self.money(person.amount)))
        return entries

    def tax_reduction_height(self) -> float:
        entries = self.tax_reduction_entries()
        return 18 + 5 * ((len(entries) + 1) // 2) if entries else 0

    def tax_reduction_block(self) -> None:
        """ROT/RUT: labour and materials, the reduction, the property and the buyers with their personal
        identity numbers (Skatteverket's list of what the invoice states)."""
        pdf, reduction = self.pdf, self.invoice.tax_reduction
        assert reduction is not None
        entries = self.tax_reduction_entries()
        top = pdf.get_y()
        self.boxed_entries(top, self.t[f"tax_reduction_{reduction.kind}"], entries, label_width=50,
                           highlight=(self.t["tax_reduction"],))
        y = top + 9.5 + 5 * ((len(entries) + 1) // 2)
        self.font(7.5, color=MUTED)
        put_text(pdf, MARGIN + 3, y, CONTENT_WIDTH - 6, 4.4, self.t["tax_reduction_note"])
        pdf.set_xy(MARGIN, y + 8)

    def boxed_entries(self, top: float, title: str, entries: list[tuple[str, str]], *, extra_height: float = 0,
                      highlight: tuple[str, ...] = (), label_width: float = 30) -> float:
        """A framed block of label/value pairs in two columns under a title; returns the rows' bottom."""
        pdf = self.pdf
        rows = (len(entries) + 1) // 2
        pdf.set_draw_color(*ACCENT)
        pdf.set_line_width(0.4)
        pdf.rect(MARGIN, top, CONTENT_WIDTH, 8 + 5 * rows + extra_height)
        pdf.set_line_width(0.2)
        self.font(8, bold=True, color=ACCENT)
        put_text(pdf, MARGIN + 3, top + 2, 80, 4.5, title.upper())
        y = top + 7.5
        for index, (label, value) in enumerate(entries):
            column_x = MARGIN + 3 + (index % 2) * (CONTENT_WIDTH / 2)
            row_y = y + (index // 2) * 5
            self.font(7.5, color=MUTED)
            put_text(pdf, column_x, row_y, label_width, 4.6, label)
            self.font(9, bold=bool(label) and any(label.startswith(h) for h in highlight))
            put_text(pdf, column_x + label_width, row_y, 85 - label_width, 4.6, value)
        return y + 5 * rows

    def payment_block(self) -> None:
        pdf, invoice, payment = self.pdf, self.invoice, self.invoice.payment
        top = pdf.get_y()
        entries: list[tuple[str, str]] = []
        if payment.bankgiro:
            entries.append((self.t["bankgiro"], _safe(format_bankgiro, payment.bankgiro) or ""))
        if payment.plusgiro:
            entries.append((self.t["plusgiro"], _safe(format_plusgiro, payment.plusgiro) or ""))
        international = [(self.t[key], value) for key, value in (("iban", payment.iban), ("bic", payment.bic)) if value]
        # A buyer abroad pays to the IBAN: it comes first for them.
        entries = international + entries if invoice.buyer.address.country != "SE" else entries + international
        if payment.ocr:
            entries.append((self.t["ocr"], payment.ocr))
        if invoice.due_date:
            entries.append((self.t["due_date"], invoice.due_date.isoformat()))
        entries.append((self.t["gross_total"], f"{self.money(self.amount_due())} {invoice.currency}"))
        if payment.payee_name and payment.assignment_clause:
            entries.insert(0, (self.t["payee"], payment.payee_name))
        bottom = self.boxed_entries(top, self.t["payment"], entries, extra_height=11 if payment.assignment_clause else 0,
                                    highlight=(self.t["ocr"], self.t["bankgiro"]))
        if payment.assignment_clause:
            pdf.set_xy(MARGIN + 3, bottom + 1)
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
        if payment.bic:
            third.append(f"{self.t['bic']}: {payment.bic}")
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
        if self.output_producer is not None:
            return bytes(pdf.output(output_producer_class=self.output_producer))
        return bytes(pdf.output())


def render_pdf(invoice: Invoice, issuer: Issuer, *, logo: bytes | None = None) -> bytes:
    """The invoice PDF. `logo` is the issuer's logo (PNG or JPEG bytes); without one the name is printed."""
    return _Renderer(invoice, issuer, logo).render()
