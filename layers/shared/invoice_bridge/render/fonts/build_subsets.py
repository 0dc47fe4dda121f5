"""Build the Latin subsets of DejaVu Sans that the PDF renderer uses for speed.

Parsing and subsetting the full DejaVu Sans (6,000 glyphs, OpenType layout tables) costs ~100 ms per PDF;
the Latin subset (Basic Latin, Latin-1, Latin Extended-A, punctuation, currency) keeps renders fast: pdf.py
embeds it whole (~16 KB compressed per style) without subsetting it again per PDF. Text outside the subset
makes the renderer fall back to the full fonts. Run: `python build_subsets.py`.
The DejaVu licence (LICENSE-DejaVu.txt) allows modified copies; the family keeps the DejaVu name.
"""

from __future__ import annotations

from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont

HERE = Path(__file__).parent
UNICODE_RANGES = [(0x20, 0x7E), (0xA0, 0x17F), (0x2010, 0x2027), (0x2030, 0x203A), (0x20AC, 0x20AC),
                  (0x2122, 0x2122), (0x2212, 0x2212)]


def build(source: str, target: str) -> None:
    options = subset.Options()
    options.layout_features = []
    options.hinting = False
    options.drop_tables += ["GSUB", "GPOS", "GDEF", "FFTM", "kern"]
    options.name_IDs = ["*"]
    options.notdef_outline = True
    font = TTFont(HERE / source, recalcTimestamp=False)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[c for start, end in UNICODE_RANGES for c in range(start, end + 1)])
    subsetter.subset(font)
    font.save(HERE / target)


if __name__ == "__main__":
    build("DejaVuSans.ttf", "DejaVuSans-Latin.ttf")
    build("DejaVuSans-Bold.ttf", "DejaVuSans-Bold-Latin.ttf")
