"""Golden images: the six reference invoices rendered with pdftoppm -r 50 match the committed PNGs.

Regenerate deliberately with `UPDATE_GOLDEN=1 pytest tests/unit/render/test_golden.py` and look at the diff.
english_eur-1.png was regenerated for issue 13: a foreign-currency invoice states its VAT in SEK and the rate.
The VAT cases' reference images are in docs/invoices (test_reference_invoices.py).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest
from invoice_bridge.render.pdf import render_pdf
from PIL import Image, ImageChops
from render_fixtures import reference_invoices

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
REFERENCES = reference_invoices()
# A pixel differs when any channel moves more than this; a page may have this share of differing pixels.
CHANNEL_TOLERANCE = 16
# One changed digit moves ~10 pixels at 50 dpi, so a page may differ in at most 3 (anti-aliasing noise).
PIXEL_SHARE_TOLERANCE = 3 / (414 * 585)
EXPECTED_PAGES = {"simple": 1, "long": 3, "credit_note": 1, "office_payee": 1, "no_logo": 1, "english_eur": 1}


def _pages(pdf: bytes) -> list[Image.Image]:
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "invoice.pdf"
        source.write_bytes(pdf)
        subprocess.run(["pdftoppm", "-r", "50", "-png", str(source), str(Path(folder) / "page")], check=True)
        return [Image.open(p).convert("RGB") for p in sorted(Path(folder).glob("page-*.png"))]


def _differing_share(actual: Image.Image, expected: Image.Image) -> float:
    if actual.size != expected.size:
        return 1.0
    difference = ImageChops.difference(actual, expected).convert("L").point(lambda v: 255 if v > CHANNEL_TOLERANCE else 0)
    histogram = difference.histogram()
    return histogram[255] / (actual.size[0] * actual.size[1])


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_rendering_matches_golden(name: str) -> None:
    invoice, issuer, logo = REFERENCES[name]
    pages = _pages(render_pdf(invoice, issuer, logo=logo))
    assert len(pages) == EXPECTED_PAGES[name]
    for number, page in enumerate(pages, start=1):
        golden = GOLDEN / f"{name}-{number}.png"
        if os.environ.get("UPDATE_GOLDEN") == "1":
            GOLDEN.mkdir(parents=True, exist_ok=True)
            page.save(golden, optimize=True)
            continue
        assert golden.is_file(), f"missing {golden.name}: run with UPDATE_GOLDEN=1 once and commit the PNGs"
        share = _differing_share(page, Image.open(golden).convert("RGB"))
        assert share <= PIXEL_SHARE_TOLERANCE, f"{golden.name}: {share:.4%} of pixels differ"


def test_golden_comparison_detects_a_change() -> None:
    """The tolerance is tight enough that a changed amount on the page fails the comparison."""
    invoice, issuer, logo = REFERENCES["simple"]
    changed = invoice.model_copy(update={"number": "1047"})  # one digit of the invoice number
    actual = _pages(render_pdf(changed, issuer, logo=logo))[0]
    assert _differing_share(actual, Image.open(GOLDEN / "simple-1.png").convert("RGB")) > PIXEL_SHARE_TOLERANCE


def test_pdf_is_deterministic_and_embeds_the_font() -> None:
    invoice, issuer, logo = REFERENCES["english_eur"]
    first, second = render_pdf(invoice, issuer, logo=logo), render_pdf(invoice, issuer, logo=logo)
    assert first == second
    assert b"/FontFile2" in first and b"DejaVu" in first
    text = subprocess.run(["pdftotext", "-", "-"], input=first, capture_output=True, check=True).stdout.decode()
    assert "Page 1 of 1" in text and "Approved for F-tax" in text and "EUR" in text
    assert "1,732.50" in text


def test_text_outside_the_latin_subset_falls_back_to_the_full_font() -> None:
    invoice, issuer, logo = REFERENCES["simple"]
    greek = invoice.model_copy(update={"buyer": invoice.buyer.model_copy(update={"name": "Ωmega Λtd ООО Ромашка"})})
    pdf = render_pdf(greek, issuer, logo=logo)
    text = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    assert "Ωmega Λtd ООО Ромашка" in text and "Sida 1 av 1" in text and "Godkänd för F-skatt" in text
