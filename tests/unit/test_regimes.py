"""The regimes (prompticl._regimes): fixed order, a title each, and the one regime check."""
from __future__ import annotations

import pytest

from prompticl._regimes import REGIME_TITLES, REGIMES, check_regime


def test_order_and_titles():
    assert REGIMES == ("plain", "finetune", "joint", "joint-heads")
    assert list(REGIME_TITLES) == list(REGIMES)


@pytest.mark.parametrize("regime", REGIMES)
def test_check_regime_returns_a_known_regime(regime):
    assert check_regime(regime) == regime


@pytest.mark.parametrize("bad", ["heads", "Plain", "", "joint_heads"])
def test_check_regime_names_the_choices(bad):
    with pytest.raises(ValueError, match=r"unknown regime .*\(choose from plain, finetune, joint, joint-heads\)"):
        check_regime(bad)
