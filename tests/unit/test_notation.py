"""The notation page (book/notation.md) defines every symbol the chapters reuse (issue 18).

Each symbol below is the first cell of a table row (alone or among others, as in "$t$, $\\tau$"),
written as the page writes it in TeX.  The list is the issue's: the letters that meant two things,
and the symbols the page lacked.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGE = (ROOT / "book" / "notation.md").read_text(encoding="utf-8")

SYMBOLS = [
    r"$S$", r"$s_k$", r"$\delta$", r"$T$", r"$N$", r"$w$", r"$A = [A_x\;\, a_y]$", r"$G$",  # reused letters
    r"$E$", r"$t$", r"$\tau$", r"$\alpha_k$", r"$\gamma_k$", r"$C(\beta)$", r"$\ell(\beta)$", r"$B$",  # once missing
    r"$\lambda$", r"$q_{ki}$", r"$F^\star$", r"$\varepsilon_N$", r"$p$", r"$\kappa_k$",
]


def _first_cells() -> list[str]:
    return [m.group(1) for m in re.finditer(r"^\| ([^|]+?) \|", PAGE, flags=re.MULTILINE)]


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_the_notation_page_defines(symbol):
    cells = _first_cells()
    assert any(symbol in [part.strip() for part in cell.split(", ")] or cell == symbol for cell in cells), (
        f"book/notation.md has no row for {symbol}")


def test_no_symbol_has_two_rows():
    seen = {}
    for cell in _first_cells():
        for part in cell.split(", "):
            seen.setdefault(part.strip(), []).append(cell)
    # y is the query's label and the vector of example labels; its second row says so ("the size tells")
    twice = {s: c for s, c in seen.items() if len(c) > 1 and s.startswith("$") and s != "$y$"}
    assert twice == {}, f"symbols defined in two rows of book/notation.md: {twice}"


def test_chapter_02_writes_the_feature_block_as_in_the_notation():
    text = (ROOT / "book" / "02-linear-attention-plain.ipynb").read_text(encoding="utf-8")
    assert "A_1" not in text and "A_x" in text
