"""docs/invoices/ holds one page image per VAT case, and each is what the code renders today.

Regenerate deliberately with `make reference-invoices` and look at the diff.
"""

from __future__ import annotations

import pytest
from PIL import Image, ImageChops

from sandbox.reference_invoices import DOCS, REFERENCES, first_page, reference_pdf
from sandbox.vat_cases import CASES

CHANNEL_TOLERANCE = 16
# A changed digit moves ~20 pixels at 70 dpi; a page may differ in a few (a poppler or zlib update).
MAX_DIFFERING_PIXELS = 6


def test_every_case_has_its_reference_image() -> None:
    assert {case.name for case in CASES} <= set(REFERENCES)
    assert {p.stem for p in DOCS.glob("*.png")} == set(REFERENCES)


def differing_pixels(rendered: Image.Image, name: str) -> int:
    with Image.open(DOCS / f"{name}.png") as stored:
        expected = stored.convert("RGB")
    assert rendered.size == expected.size
    difference = ImageChops.difference(rendered.convert("RGB"), expected).convert("L").point(
        lambda v: 255 if v > CHANNEL_TOLERANCE else 0)
    return int(difference.histogram()[255])


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_the_reference_image_is_what_the_code_renders(name: str) -> None:
    assert differing_pixels(first_page(reference_pdf(name)), name) <= MAX_DIFFERING_PIXELS, (
        f"docs/invoices/{name}.png is stale: run make reference-invoices")


def test_the_comparison_sees_a_different_invoice() -> None:
    """domestic_12 and domestic_6 differ in a few amounts and texts only: enough to fail the comparison."""
    assert differing_pixels(first_page(reference_pdf("domestic_12")), "domestic_6") > MAX_DIFFERING_PIXELS
