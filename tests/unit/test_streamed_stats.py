"""The trainer's streamed sample (issue 23) against the sample's stored moment tensors."""
from __future__ import annotations

import numpy as np
import pytest

import prompticl._limits as limits
from prompticl import load_spec, train
from prompticl._risk_moments import sample_stats
from prompticl._sampling import seed_streams
from prompticl._streamed_stats import streamed_stats


def test_streamed_sample_trains_the_same_model(monkeypatch):
    spec = load_spec("nonzero-mean")
    dense = train(spec, 8, "joint", samples=2000, seed=1)
    monkeypatch.setattr(limits, "DENSE_MOMENT_NUMBERS", 0)
    streamed = train(spec, 8, "joint", samples=2000, seed=1)
    assert streamed.train_loss == pytest.approx(dense.train_loss, rel=1e-10)
    # the same predictor: A ⊗ b_k is invariant under the symmetry (A, b) → (sA, b/s), s = −1 included
    a, b = (np.einsum("ij,kl->ijkl", r.eff.A, r.eff.b) for r in (streamed, dense))
    assert np.allclose(a, b, rtol=0, atol=1e-8 * np.abs(b).max())
    assert np.allclose(streamed.eff.c, dense.eff.c, rtol=0, atol=1e-8 * np.abs(dense.eff.c).max())


@pytest.mark.parametrize("cache", [True, False])
def test_streamed_contractions_equal_the_sample_moments(monkeypatch, cache):
    import prompticl._streamed_stats as ss

    if not cache:
        monkeypatch.setattr(ss, "CACHE_BYTES", 0)  # re-draw the sample in every pass
    spec = load_spec("three-task")
    n, d = 7, spec.d
    st = sample_stats(spec, n, 1500, seed_streams(0, n)[0])
    sm = streamed_stats(spec, n, 1500, seed_streams(0, n)[0])
    assert (sm.cache is not None) == cache
    rng = np.random.default_rng(2)
    X = rng.standard_normal((d + 1, d + 1))
    X = X + X.T
    b, Q = rng.standard_normal(d + 1), rng.standard_normal((d + 1, d))
    for k in range(spec.K):
        t = sm.contract(k, X=X, b=b, Q=Q)
        for got, want in ((t["GXG"], st.gxg(k, X)), (t["U"], st.gxg(k, np.outer(b, b))), (t["V"], st.betag(k, b)),
                          (t["w"], st.gbeta(k, Q)), (sm.G[k], st.G[k]), (sm.BB[k], st.BB[k])):
            assert np.allclose(got, want, rtol=1e-12, atol=1e-12 * np.abs(want).max())
