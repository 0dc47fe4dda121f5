"""The PDF renderer's fast paths (prebuilt Latin font embedded whole, text() instead of cell(), no per-render
font re-parsing) draw exactly what fpdf2's own slow paths draw, and keep no state between renders."""

from __future__ import annotations

import copy
import cProfile
import pstats
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from invoice_bridge.render import pdf as pdf_module
from invoice_bridge.render.pdf import render_pdf
from PIL import Image, ImageChops
from render_fixtures import reference_invoices

REFERENCES = reference_invoices()


def _pages(document: bytes, dpi: int = 72) -> list[Image.Image]:
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "invoice.pdf"
        source.write_bytes(document)
        subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(source), str(Path(folder) / "page")], check=True)
        return [Image.open(p).convert("RGB") for p in sorted(Path(folder).glob("page-*.png"))]


def _text_per_page(document: bytes) -> list[str]:
    text = subprocess.run(["pdftotext", "-layout", "-", "-"], input=document, capture_output=True,
                          check=True).stdout.decode()
    return text.split("\f")[:-1]


def _font_subsetter_runs(render: Callable[[], bytes]) -> int:
    """How often fontTools' Subsetter.subset ran during `render` (counted by the profiler, not patched)."""
    profile = cProfile.Profile()
    profile.enable()
    render()
    profile.disable()
    return sum(
        calls
        for (filename, _line, function), (_primitive, calls, *_rest) in pstats.Stats(profile).stats.items()
        if function == "subset" and Path(filename).parent.match("fontTools/subset")
    )


def test_prebuilt_fonts_spare_the_font_subsetting_fpdf2_runs_on_every_render(monkeypatch: pytest.MonkeyPatch) -> None:
    """Why render/pdf.py reaches into fpdf2's output internals (and pyproject.toml pins fpdf2 <2.9 for it):
    fpdf2 runs fontTools' subsetter over every font of every document at output(), most of a one-page
    render's time (bench/render.py measures it); the prebuilt Latin fonts are embedded whole instead.
    Fails when a new fpdf2 no longer has those internals, rather than renders silently slowing down."""
    invoice, issuer, logo = REFERENCES["simple"]
    assert pdf_module._prebuilt_output_producer() is not None  # the pinned fpdf2 has what the fast path uses
    render_pdf(invoice, issuer, logo=logo)  # fonts and templates are built once per process, not per render
    assert _font_subsetter_runs(lambda: render_pdf(invoice, issuer, logo=logo)) == 0

    monkeypatch.setattr(pdf_module, "PREBUILT_VARIANTS", frozenset())  # fpdf2's own path
    render_pdf(invoice, issuer, logo=logo)
    assert _font_subsetter_runs(lambda: render_pdf(invoice, issuer, logo=logo)) >= 2  # regular and bold


@pytest.mark.parametrize("name", ["simple", "long"])
def test_prebuilt_font_draws_the_same_pages_as_fpdf2_subsetting(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    invoice, issuer, logo = REFERENCES[name]
    fast = render_pdf(invoice, issuer, logo=logo)
    monkeypatch.setattr(pdf_module, "PREBUILT_VARIANTS", frozenset())  # fpdf2 subsets a fresh TTFont itself
    subsetted = render_pdf(invoice, issuer, logo=logo)
    assert fast != subsetted  # the two paths really differ in how the font is embedded
    assert _text_per_page(fast) == _text_per_page(subsetted)
    fast_pages, subsetted_pages = _pages(fast), _pages(subsetted)
    assert len(fast_pages) == len(subsetted_pages)
    for fast_page, subsetted_page in zip(fast_pages, subsetted_pages, strict=True):
        assert ImageChops.difference(fast_page, subsetted_page).getbbox() is None


def test_renders_keep_no_state_between_documents() -> None:
    """Glyph maps, fonts and the template are per render: a document comes out the same whatever came before."""
    simple, long = REFERENCES["simple"], REFERENCES["long"]
    first = render_pdf(simple[0], simple[1], logo=simple[2])
    render_pdf(long[0], long[1], logo=long[2])
    greek_buyer = simple[0].buyer.model_copy(update={"name": "Ωmega Λtd"})
    render_pdf(simple[0].model_copy(update={"buyer": greek_buyer}), simple[1], logo=simple[2])  # full font path
    assert render_pdf(simple[0], simple[1], logo=simple[2]) == first


def test_swedish_and_latin_characters_come_out_as_text_with_the_prebuilt_font() -> None:
    invoice, issuer, logo = REFERENCES["simple"]
    name = "Åsa Öberg Ängel åäö ÉéÜü ßØæ Łódź €"
    changed = invoice.model_copy(update={"buyer": invoice.buyer.model_copy(update={"name": name})})
    assert pdf_module._font_variant(changed, issuer) == "latin"
    document = render_pdf(changed, issuer, logo=logo)
    assert b"/FontFile2" in document and b"DejaVu" in document
    assert name in "".join(_text_per_page(document))


def test_long_invoice_repeats_the_table_header_and_numbers_every_page() -> None:
    invoice, issuer, logo = REFERENCES["long"]
    pages = _text_per_page(render_pdf(invoice, issuer, logo=logo))
    assert len(pages) == 3
    for number, page in enumerate(pages, start=1):
        assert f"Sida {number} av 3" in page
    table_pages = [page for page in pages if "Material och arbete" in page]
    assert len(table_pages) == 2  # the totals and payment block moved to page 3
    assert all("Beskrivning" in page and "Belopp" in page for page in table_pages)
    assert f"Faktura {invoice.number} (forts.)" in table_pages[1]
    item_rows = [row for row in invoice.rows if not row.is_text_row]
    assert sum(page.count("Material och arbete, position") for page in table_pages) == len(item_rows)


@pytest.mark.parametrize("style", ["", "B"])
@pytest.mark.parametrize("size", [7, 8.5, 20])
def test_text_width_matches_fpdf2_string_width(style: str, size: float) -> None:
    document = copy.deepcopy(pdf_module._template("latin"))
    document.set_font(pdf_module.FONT, style, size)
    for value in ["", "1\u00a0234,50", "Material och arbete, position 17", "Åäö ÉÜ € -12,5\u00a0%", "W" * 40]:
        assert pdf_module.text_width(document, value) == pytest.approx(document.get_string_width(value), abs=1e-9)
