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
    r"$\eta$", r"$\phi$", r"$Z$",  # the new names of a scalar step, the scale class's diagonal, chapter 09's design
    r"$u$", r"$U_k$",  # chapter 08's deterministic mixtures (the collinear direction, the noiseless token map)
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


# (notebook, text that must not come back): a letter that meant two things was renamed there.
RENAMED = [
    ("02-linear-attention-plain.ipynb", "A_1"),  # the feature block of A is A_x everywhere
    ("02-linear-attention-plain.ipynb", "W = wI"),  # a scalar step is eta (w is the estimate of beta)
    ("05-task-heads.ipynb", "w_kI"),  # an isotropic task's best step is omega_k, as omega_ki in chapter 08
    ("08-layer-optimum.ipynb", "\\\\kappa_kw_i"),  # the scale class's diagonal is phi
    ("08-layer-optimum.ipynb", "\\\\pi_ks_k^2"),  # per-task read-out scales are kappa_k, s_k is the anisotropic scale
    ("09-bayes-floor.ipynb", "G^\\\\top G"),  # the whitened context features are Z; G is the Gram matrix
    ("03-finetune-prompts.ipynb", "x^\\\\top A G b$"),  # with a prompt token the attended Gram matrix is G_k = G + p_kp_k^T
]


def test_renamed_symbols_stay_renamed():
    for name, old in RENAMED:
        text = (ROOT / "book" / name).read_text(encoding="utf-8")  # the notebook's JSON: backslashes doubled
        assert old not in text, f"{name} writes {old!r} again (see book/notation.md)"
