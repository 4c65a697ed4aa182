"""Alternating least squares (prompticl._als): every iteration lowers the training risk."""
import numpy as np
import pytest

from prompticl import load_spec
from prompticl._als import als
from prompticl._risk_moments import sample_stats


@pytest.mark.parametrize("heads,with_bias", [(False, False), (False, True), (True, True)])
def test_als_decreases_the_risk_monotonically(heads, with_bias):
    spec = load_spec("zero-mean")
    st = sample_stats(spec, 10, 5000, np.random.default_rng(1))
    b0 = np.random.default_rng(2).standard_normal((spec.K, spec.d + 1))
    if not heads:
        b0 = np.tile(b0[0], (spec.K, 1))
    _, trace = als(st, b0, heads=heads, with_bias=with_bias, max_iter=200)
    r = trace.risks
    assert r.size >= 10
    assert np.all(np.diff(r) <= 1e-10 * r[:-1])
    assert trace.converged
