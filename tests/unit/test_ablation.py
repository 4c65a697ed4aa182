"""The authors' layer-count mixtures and the ablation rows (chapter 9, issue 20)."""
from __future__ import annotations

import numpy as np
import pytest

from prompticl import AUTHORS_LAYER_COVS, authors_layer_spec, mean_share, signal, spec_from_dict


@pytest.mark.parametrize("ratio,single,two", [(0.1, 0.1, 0.0420), (0.5, 0.5, 0.3012), (0.9, 0.9, 0.9575)])
def test_mean_shares_of_the_authors_mixtures(ratio, single, two):
    """One task: the nominal ratio ‖μ‖²/(‖μ‖² + tr Σ) = 1/(1 + c); two tasks: ρ = 1/(1 + c) with their
    covariances, which is not the nominal ratio.  Claims: ex-bayes-ratios."""
    s1, s2 = authors_layer_spec("single-task", ratio), authors_layer_spec("two-task", ratio)
    assert mean_share(s1) == pytest.approx(single, abs=1e-4)
    assert mean_share(s2) == pytest.approx(two, abs=1e-4)
    assert s1.d == s2.d == 10 and s1.noise == s2.noise == 0 and s2.K == 2
    assert np.allclose(s2.weights, 0.5) and signal(s2) == pytest.approx(10 + 10 * AUTHORS_LAYER_COVS["two-task"][ratio])
    assert s2.name == f"multi_task_mu_ratio_{ratio}"


@pytest.mark.parametrize("family,ratio", [("three-task", 0.5), ("two-task", 0.3)])
def test_unknown_family_or_ratio(family, ratio):
    with pytest.raises(ValueError):
        authors_layer_spec(family, ratio)


@pytest.mark.slow  # more than a second: make test only
def test_ablation_rows():
    pytest.importorskip("jax")
    from prompticl import layer_ablation

    tiny = spec_from_dict({"d": 2, "noise": 0.2, "name": "tiny", "tasks": [
        {"weight": 0.4, "mean": [1.0, -0.5], "cov": [0.5, 0.3]}, {"weight": 0.6, "mean": [-0.5, 0.5], "cov": 1.0}]})
    rows = layer_ablation(tiny, [3], "joint", [1, 2], samples=300, test_samples=2000, bayes_samples=200)
    assert [r["layers"] for r in rows] == [1, 2]
    for r in rows:
        assert r["ci_low"] < r["test_loss"] < r["ci_high"] and r["bayes"] <= r["layer_optimum"]
        assert np.isfinite(r["gd_loss"]) and r["n"] == 3
