"""Amounts as the office writes them, in Swedish or English: the invoice PDF's and the console's.

Apart from the PDF (pdf.py) so that the console formats amounts without loading the PDF's module and the
invoice and issuer models it imports (its cold start; tests/unit/wiring/test_lean_cold_starts.py).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..models.common import Language


def format_amount(value: Decimal, language: Language, places: int = 2) -> str:
    """12500 → "12 500,00" (sv) / "12,500.00" (en); no float involved."""
    quantized = value.quantize(Decimal(1).scaleb(-places)) if places else value
    sign = "-" if quantized < 0 else ""
    whole, _, fraction = f"{abs(quantized):f}".partition(".")
    groups: list[str] = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    if language == "sv":
        body = "\u00a0".join(groups) + ("," + fraction if fraction else "")
    else:
        body = ",".join(groups) + ("." + fraction if fraction else "")
    return sign + body
