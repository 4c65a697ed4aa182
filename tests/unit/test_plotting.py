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
