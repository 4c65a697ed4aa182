"""The one-page formula sheet that `make pdf` prints from "The four regimes at a glance".

``tools/print_pdf.py`` prints book/at-a-glance.html from the built site beside the book (the
``printed`` fixture of tests/book/conftest.py, which tests/book/test_site.py::test_pdf uses too).
The PDF must have exactly one page, name each regime and contain no raw TeX, and it must not have
been shrunk below a legible scale.
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("site")]
REGIMES = ["Plain training", "Fine-tuned prompts", "Joint training", "Joint training with task heads"]
MIN_SCALE = 0.55  # below this the formulas print smaller than about 6 pt


@pytest.fixture(scope="module")
def sheet(printed) -> tuple[Path, float]:
    """The formula sheet that tools/print_pdf.py printed beside the book (conftest.py's `printed`),
    and the scale it chose."""
    log = (printed / "print_pdf.log").read_text(encoding="utf-8")
    found = re.search(r"formula-sheet\.pdf \(1 page, scale ([0-9.]+)\)", log)
    assert found, f"tools/print_pdf.py printed no one-page formula sheet:\n{log[-2000:]}"
    return printed / "formula-sheet.pdf", float(found.group(1))


def test_formula_sheet_is_one_legible_page(sheet):
    from pypdf import PdfReader

    path, scale = sheet
    reader = PdfReader(path)
    assert len(reader.pages) == 1, f"{path} has {len(reader.pages)} pages"
    box = reader.pages[0].mediabox
    assert float(box.width) > float(box.height), "the formula sheet is printed in landscape"
    assert scale >= MIN_SCALE, f"the page only fits one sheet at scale {scale}: shorten book/at-a-glance.md"


def test_formula_sheet_names_every_regime_and_shows_no_tex(sheet):
    path, _ = sheet
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    flat = " ".join(text.split())
    assert "The four regimes at a glance" in flat
    missing = [name for name in REGIMES if name not in flat]
    assert not missing, f"regimes missing from the formula sheet: {missing}"
    # The tables of numbers are printed (their rows), the code that computes them is not.
    assert "joint + heads" in flat and "import" not in flat
    raw = [line.strip() for line in text.splitlines() if re.search(r"\\[A-Za-z]{2,}|\$\$|\\[()\[\]]", line)]
    assert not raw, "raw TeX on the formula sheet:\n" + "\n".join(raw[:10])


MIN_TEXT_PT = 8.0  # issue 21: the sheet printed at 7 pt (5 pt in its tables)


def text_sizes(path: Path) -> list[tuple[float, str]]:
    """(printed size in pt, text) of every run of the sheet's text font (DejaVu: prose, tables and
    code; MathJax's own fonts are left out, its sub- and superscripts are rightly smaller)."""
    from pypdf import PdfReader

    sizes = []

    def visit(text, cm, tm, font, size):
        name = str((font or {}).get("/BaseFont", ""))
        if text.strip() and "DejaVu" in name:
            sizes.append((round(abs(size * tm[3] * cm[3]), 2), text.strip()))

    PdfReader(path).pages[0].extract_text(visitor_text=visit)
    return sizes


def test_formula_sheet_text_is_at_least_8_pt(sheet):
    path, _ = sheet
    sizes = text_sizes(path)
    assert len(sizes) > 100, f"too little text measured on {path}: {sizes[:5]}"
    small = sorted(s for s in sizes if s[0] < MIN_TEXT_PT - 0.05)
    assert not small, f"text below {MIN_TEXT_PT} pt on the formula sheet: {small[:10]}"
