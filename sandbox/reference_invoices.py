"""The reference invoices of the VAT cases as page images under docs/invoices/ (`make reference-invoices`).

Each case of `sandbox.vat_cases` (and the credit note that credits rows and charges one again) is mapped
and rendered exactly as render does it, and its first page is written as a small PNG (70 dpi, 64 colours).
tests/unit/render/test_reference_invoices.py checks that the committed images are what the code renders.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from invoice_bridge.mapping import to_invoice
from invoice_bridge.models.issuer import Issuer
from invoice_bridge.models.spiris import Customer, CustomerInvoice
from invoice_bridge.render.pdf import render_pdf

from .vat_cases import BY_NAME, CASES, CUSTOMERS, ISSUER, case_invoice

if TYPE_CHECKING:
    from PIL import Image

DOCS = Path(__file__).resolve().parents[1] / "docs" / "invoices"
DPI = 70
COLOURS = 64
# name → (case, credit note?): every case, and one credit note with credited and charged rows.
REFERENCES = {case.name: (case.name, False) for case in CASES} | {"domestic_mixed_credit": ("domestic_mixed", True)}


def reference_pdf(name: str) -> bytes:
    case_name, credit = REFERENCES[name]
    case = BY_NAME[case_name]
    number = 2001 + CASES.index(case)
    original = case_invoice(case, number)
    source = case_invoice(case, number + 1000, credit_of=original) if credit else original
    issuer = Issuer.model_validate({**ISSUER, "id": "issuer-1"})
    invoice = to_invoice(CustomerInvoice.model_validate(source), Customer.model_validate(CUSTOMERS[case.customer]),
                         issuer, "int-1", office=None, original_number=str(number) if credit else None)
    return render_pdf(invoice, issuer)


def first_page(pdf: bytes) -> Image.Image:
    """The first page as pdftoppm draws it, reduced to a small palette (what docs/invoices holds)."""
    from PIL import Image

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "invoice.pdf"
        path.write_bytes(pdf)
        subprocess.run(["pdftoppm", "-r", str(DPI), "-png", "-singlefile", "-f", "1", "-l", "1", str(path),
                        str(Path(folder) / "page")], check=True)
        with Image.open(Path(folder) / "page.png") as page:
            return page.convert("RGB").quantize(COLOURS, method=Image.Quantize.MEDIANCUT)


def main() -> int:
    DOCS.mkdir(parents=True, exist_ok=True)
    for name in REFERENCES:
        first_page(reference_pdf(name)).save(DOCS / f"{name}.png", optimize=True)
        print(DOCS / f"{name}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
