"""The layer's risk without (d+1)⁴ tensors (issue 23): exact contractions, Hessian-vector products,
the Lanczos certificate and Newton–CG, each against the dense implementation it replaces."""
from __future__ import annotations

import numpy as np
import pytest

import prompticl._layer_optimum as lo
from prompticl import load_spec, spec_from_dict
from prompticl._attention import Effective
from prompticl._risk import RiskPoint, loss_grad_hess
from prompticl._risk_moments import population_moments, population_stats


def _random_spec(seed: int, d: int, K: int):
    rng = np.random.default_rng(seed)
    M = rng.standard_normal((d, d))
    tasks = []
    for w in rng.dirichlet(np.ones(K)):
        C = rng.standard_normal((d, d))
        tasks.append({"weight": float(w), "mean": rng.standard_normal(d).tolist(), "cov": (C @ C.T / d).tolist()})
    return spec_from_dict({"d": d, "noise": 0.4, "x_cov": (M @ M.T / d + 0.5 * np.eye(d)).tolist(), "tasks": tasks}, "r")


@pytest.mark.parametrize("seed,d,K", [(0, 1, 1), (1, 3, 2), (2, 5, 3)])
def test_exact_contractions_equal_the_dense_moments(seed, d, K):
    spec = _random_spec(seed, d, K)
    dense, exact = population_stats(spec, 7), population_moments(spec, 7)
    rng = np.random.default_rng(seed)
    D = d + 1
    X = rng.standard_normal((4, D, D))
    X = X + X.transpose(0, 2, 1)
    b, Q = rng.standard_normal((4, D)), rng.standard_normal((4, D, d))
    for k in range(K):
        for got, want in ((exact.gxg(k, X), dense.gxg(k, X)), (exact.betag(k, b), dense.betag(k, b)),
                          (exact.gbeta(k, Q), dense.gbeta(k, Q)), (exact.G[k], dense.G[k])):
            assert np.allclose(got, want, rtol=1e-12, atol=1e-12 * np.abs(want).max())


def test_hessian_vector_products_equal_the_dense_hessian():
    spec = _random_spec(3, 4, 2)
    rng = np.random.default_rng(0)
    d, D, K = 4, 5, 2
    eff = Effective(rng.standard_normal((d, D)), rng.standard_normal((K, D)), rng.standard_normal((K, d)))
    loss, g, H = loss_grad_hess(population_stats(spec, 6), eff, order=2)
    rp = RiskPoint(population_moments(spec, 6), eff)
    assert rp.loss == pytest.approx(loss, rel=1e-13)
    assert np.allclose(rp.grad(), g, rtol=0, atol=1e-12 * np.abs(g).max())
    Hv = rp.hvp(np.eye(g.size)).T
    assert np.allclose(Hv, H, rtol=0, atol=1e-12 * np.abs(H).max())


@pytest.mark.slow  # more than a second: make test only
def test_lanczos_certificate_and_newton_cg_equal_the_dense_ones(monkeypatch):
    spec = load_spec("three-task")
    dense = lo.layer_optima(spec, 10, "full")
    monkeypatch.setattr(lo, "DENSE_MAX", 0)  # Newton–CG steps and Lanczos (eigsh) everywhere
    sparse = lo.layer_optima(spec, 10, "full")
    for r in dense:
        a, b = dense[r], sparse[r]
        assert b.certified and a.certified
        assert b.loss == pytest.approx(a.loss, rel=1e-10)
        assert b.max_hessian_eig == pytest.approx(a.max_hessian_eig, rel=1e-8)
        assert b.min_hessian_eig == pytest.approx(a.min_hessian_eig, abs=1e-8 * a.max_hessian_eig)
