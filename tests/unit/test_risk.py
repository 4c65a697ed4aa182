"""The training risk's sufficient statistics (prompticl.sufficient_stats)."""
from __future__ import annotations

import numpy as np
import pytest

from prompticl import load_spec
from prompticl.attention import Effective, effective_estimate
from prompticl.sampling import sample_grams, task_counts
from prompticl.sufficient_stats import empirical_risk, sample_stats


def test_empirical_risk_is_exact_on_the_sample():
    spec = load_spec("three-task")
    n, N = 4, 600
    st = sample_stats(spec, n, N, np.random.default_rng(0))
    rng = np.random.default_rng(0)  # replay the same draws
    counts = task_counts(spec.weights, N)
    rng_e = np.random.default_rng(9)
    D = spec.d + 1
    eff = Effective(rng_e.standard_normal((spec.d, D)), rng_e.standard_normal((spec.K, D)), rng_e.standard_normal((spec.K, spec.d)))
    total = 0.0
    for k, m in enumerate(counts):
        G, beta = sample_grams(spec, n, int(m), rng, k)
        err = effective_estimate(eff, G, np.full(m, k)) - beta
        total += spec.weights[k] * np.einsum("bi,ij,bj->b", err, spec.x_cov, err).mean()
    assert empirical_risk(st, eff) == pytest.approx(total + spec.noise**2, rel=1e-10)
