"""Plot style (prompticl._plotting): one colour per regime, and 95% error bars from the one z."""
from __future__ import annotations

import pytest

from prompticl._montecarlo import Z95
from prompticl._plotting import REGIME_COLORS, ci_halfwidth
from prompticl._regimes import REGIMES


def test_every_regime_has_a_colour_and_the_colours_differ():
    assert list(REGIME_COLORS) == list(REGIMES)
    assert len(set(REGIME_COLORS.values())) == len(REGIMES)


def test_error_bars_use_the_one_z():
    scipy_stats = pytest.importorskip("scipy.stats")
    assert Z95 == pytest.approx(scipy_stats.norm.ppf(0.975), rel=1e-15)
    assert ci_halfwidth(2.0) == 2.0 * Z95


# --- Figure text reads at column width (issue 21) -------------------------------------------------
import json  # noqa: E402
import re  # noqa: E402
from pathlib import Path  # noqa: E402

from prompticl._plotting import COLUMN_INCHES, MIN_FONT_PT, setup_style  # noqa: E402

BOOK = Path(__file__).resolve().parents[2] / "book"
_SIZE_KEYS = ("font.size", "axes.labelsize", "axes.titlesize", "xtick.labelsize", "ytick.labelsize",
              "legend.fontsize", "legend.title_fontsize", "figure.titlesize")


def _chapter_code() -> dict[str, str]:
    return {
        nb.name: "\n".join("".join(c["source"]) for c in json.loads(nb.read_text(encoding="utf-8"))["cells"]
                           if c["cell_type"] == "code")
        for nb in sorted(BOOK.glob("*.ipynb"))
    }


def test_style_text_is_at_least_the_minimum_size():
    pytest.importorskip("seaborn")
    import matplotlib as mpl
    from matplotlib.font_manager import FontProperties

    setup_style()
    small = {k: FontProperties(size=mpl.rcParams[k]).get_size_in_points() for k in _SIZE_KEYS}
    assert not {k: v for k, v in small.items() if v < MIN_FONT_PT}, small
    assert mpl.rcParams["figure.figsize"][0] <= COLUMN_INCHES
    # At the on-screen dpi the smallest text is at least 0.8x the site's 16-px body text.
    assert MIN_FONT_PT / 72 * mpl.rcParams["figure.dpi"] >= 0.8 * 16


def test_chapter_figures_fit_the_column_and_their_text_reads():
    """A figure wider than the column is scaled down, text and all: no chapter draws one, and no
    chapter sets a text size below the minimum."""
    code = _chapter_code()
    assert any("figsize=" in c for c in code.values()), "no chapter sets a figure size: the check checks nothing"
    wide = [f"{nb}: figsize=({w}, ...)" for nb, c in code.items()
            for w in re.findall(r"figsize=\(\s*([0-9.]+)", c) if float(w) > COLUMN_INCHES]
    small = [f"{nb}: {key}={size}" for nb, c in code.items()
             for key, size in re.findall(r"\b(fontsize|labelsize|size)\s*=\s*([0-9.]+)", c) if float(size) < MIN_FONT_PT]
    assert not wide, f"figures wider than the {COLUMN_INCHES}-inch column: {wide}"
    assert not small, f"figure text below {MIN_FONT_PT} pt: {small}"
