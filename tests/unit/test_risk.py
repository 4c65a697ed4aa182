"""The training risk (prompticl._risk): exact on the sample, exact gradient and Hessian."""
from __future__ import annotations

import numpy as np
import pytest

from prompticl import load_spec
from prompticl._attention import Effective, effective_estimate
from prompticl._sampling import sample_grams, task_counts
from prompticl._layer_optimum import _pack, _unpack
from prompticl._risk import empirical_risk, loss_grad_hess
from prompticl._risk_moments import population_stats, sample_stats


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


def _random_eff(spec, rng, scale=0.3):
    d, K, D = spec.d, spec.K, spec.d + 1
    return Effective(scale * rng.standard_normal((d, D)), rng.standard_normal((K, D)), rng.standard_normal((K, d)))


def test_gradient_and_hessian_are_exact():
    spec = load_spec("three-task")
    st = population_stats(spec, 5)
    eff = _random_eff(spec, np.random.default_rng(0))
    loss, g, H = loss_grad_hess(st, eff, 2)
    assert loss == pytest.approx(empirical_risk(st, eff), rel=1e-13)
    z, h = _pack(eff), 1e-5
    d, K = spec.d, spec.K
    # the loss is a quartic: central differences are exact up to h² times the third derivative
    gf = np.array([(loss_grad_hess(st, _unpack(z + h * e, d, K), 0)[0] - loss_grad_hess(st, _unpack(z - h * e, d, K), 0)[0])
                   / (2 * h) for e in np.eye(z.size)])
    Hf = np.array([(loss_grad_hess(st, _unpack(z + h * e, d, K), 1)[1] - loss_grad_hess(st, _unpack(z - h * e, d, K), 1)[1])
                   / (2 * h) for e in np.eye(z.size)])
    assert np.abs(gf - g).max() < 1e-7 * np.abs(g).max()
    assert np.abs(Hf - H).max() < 1e-7 * np.abs(H).max()
