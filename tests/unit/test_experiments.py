"""The trained-against-the-layer comparison of chapter 07: run_grid(exact=True), erm_bound, within_tolerance."""
import math

import numpy as np
import pytest

from prompticl import REGIMES, check_z, erm_bound, load_spec, optimal_losses, run_grid, within_tolerance


def test_erm_bound_counts_the_heads_parameters():
    spec = load_spec("zero-mean")  # d = 10, K = 2
    p = 10 * 11 + 2 * 11 + 2 * 10 - 1
    assert erm_bound(spec, 30_000) == pytest.approx(p / 30_000, rel=1e-15)
    assert erm_bound(spec, 30_000, "joint") == erm_bound(spec, 30_000)
    assert erm_bound(spec, 30_000, "finetune") == pytest.approx(math.sqrt(p / 30_000) / 2, rel=1e-15)


def test_within_tolerance_is_z_standard_errors_plus_the_excess():
    # 4 s.e. (0.4) + 1% of 10 (0.1): 0.5 either way
    assert within_tolerance(10.5, 0.1, 10.0, 0.01)
    assert within_tolerance(9.5, 0.1, 10.0, 0.01)
    assert not within_tolerance(10.51, 0.1, 10.0, 0.01)
    assert not within_tolerance(9.49, 0.1, 10.0, 0.01)
    assert not within_tolerance(10.45, 0.1, 10.0, 0.01, z_tol=3.0)


@pytest.mark.parametrize("reduced", [False, True])
def test_run_grid_exact_fields(reduced):
    spec = load_spec("nonzero-mean")
    n, samples = 5, 4000
    recs = run_grid(spec, [n], REGIMES, [0], samples=samples, rel_halfwidth=0.02, reduced=reduced, exact=True)
    closed = optimal_losses(spec, [n])
    for r in recs:
        # the test loss is a Monte Carlo estimate of the trained parameters' exact loss
        check_z(r["test_loss"], r["se"], r["exact_loss"], what=r["regime"])
        assert r["layer_gap"] == pytest.approx(r["test_loss"] / r["layer"] - 1, rel=1e-12)
        assert r["erm_excess"] == pytest.approx(r["exact_loss"] / r["layer"] - 1, rel=1e-12)
        bound = erm_bound(spec, samples, r["regime"])
        if r["regime"] != "finetune":
            assert -1e-7 <= r["erm_excess"] <= bound  # a minimisation: at or above its certified optimum
        else:
            assert abs(r["erm_excess"]) <= bound
        if reduced:
            # the reduced class's certified optimum is the closed form
            assert r["layer"] == pytest.approx(closed[r["regime"]][0], rel=1e-6)
        else:
            assert r["layer"] <= closed[r["regime"]][0] * (1 + 1e-9) or r["regime"] == "finetune"
    if not reduced:
        # on this mixture the layer beats the closed form of joint training
        joint = next(r for r in recs if r["regime"] == "joint")
        assert joint["layer"] < 0.99 * joint["theory"]
    assert np.isfinite([r["exact_loss"] for r in recs]).all()
