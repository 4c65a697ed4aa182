"""Tests for the profiled loss and the gap identities between the regimes."""
import numpy as np
import pytest

from prompticl import load_spec, optimum, population_loss
from prompticl._gaps import plain_excess_loss

import prompticl as p
from prompticl._gaps import centring_cost, finetune_gap, finetune_gap_unwhitened, joint_gap, optimal_biases, profiled_loss
from prompticl._montecarlo import mc_loss
from prompticl._closed_forms import curvature, optimal_W_whitened

SPECS = ["zero-mean", "nonzero-mean", "noisy", "anisotropic", "three-task"]


@pytest.mark.parametrize("name", SPECS)
@pytest.mark.parametrize("n", [1, 4, 20])
def test_gap_identities(name, n):
    spec = p.load_spec(name)
    losses = {k: float(v[0]) for k, v in p.optimal_losses(spec, [n]).items()}
    assert losses["plain"] - losses["finetune"] == pytest.approx(finetune_gap(spec, n), rel=1e-9, abs=1e-12)
    assert losses["finetune"] - losses["joint"] == pytest.approx(joint_gap(spec, n), rel=1e-8, abs=1e-12)
    # L_FT is the profiled loss at W_PT, L_JT its minimum.
    assert profiled_loss(spec, n, p.optimum(spec, n, "plain").W) == pytest.approx(losses["finetune"], rel=1e-10)
    assert profiled_loss(spec, n, p.optimum(spec, n, "joint").W) == pytest.approx(losses["joint"], rel=1e-10)


@pytest.mark.parametrize("name", SPECS)
def test_optimal_biases_match_theory_and_are_optimal(name):
    spec = p.load_spec(name)
    n = 6
    for regime in ("finetune", "joint"):
        sol = p.optimum(spec, n, regime)
        c = optimal_biases(spec, n, sol.W)
        np.testing.assert_allclose(c, sol.biases, atol=1e-12)
        base = p.population_loss(spec, n, sol.W, c)
        rng = np.random.default_rng(1)
        for _ in range(5):
            assert p.population_loss(spec, n, sol.W, c + 0.05 * rng.standard_normal(c.shape)) > base


def test_profiled_loss_is_the_stated_quadratic_and_minimised_at_w_jt():
    spec = p.load_spec("noisy")
    n = 5
    mom = p.moments(spec)
    q = curvature("joint", mom, n, spec.noise)
    np.testing.assert_allclose(mom.sigma_bar @ np.linalg.inv(q), optimal_W_whitened("joint", mom, n, spec.noise), atol=1e-12)
    rng = np.random.default_rng(0)
    for _ in range(5):
        w = 0.05 * rng.standard_normal((spec.d, spec.d))
        quad = n * np.trace(w @ q @ w.T) - 2 * n * np.trace(w @ mom.sigma_bar) + np.trace(mom.sigma_bar) + spec.noise**2
        assert profiled_loss(spec, n, w) == pytest.approx(quad, rel=1e-10)
        assert profiled_loss(spec, n, w) > p.optimal_losses(spec, [n])["joint"][0]


def test_profiled_loss_against_monte_carlo():
    spec = p.load_spec("three-task")
    n = 5
    w = p.optimum(spec, n, "plain").W
    mean, se = mc_loss(spec, n, w, optimal_biases(spec, n, w), samples=200_000, rng=np.random.default_rng(3))
    assert abs(mean - profiled_loss(spec, n, w)) < 4 * se


def test_unwhitened_formula_is_right_only_for_isotropic_features():
    iso = p.load_spec("zero-mean")
    assert finetune_gap_unwhitened(iso, 5) == pytest.approx(finetune_gap(iso, 5), rel=1e-10)
    general = p.load_spec("three-task")
    assert abs(finetune_gap_unwhitened(general, 1) - finetune_gap(general, 1)) > 1e-3


def test_no_means_no_gaps_and_gaps_positive_otherwise():
    zero = p.spec_from_dict({"d": 3, "noise": 0.1, "tasks": [{"weight": 0.4, "mean": 0, "cov": 1}, {"weight": 0.6, "mean": 0, "cov": 2}]})
    single = p.spec_from_dict({"d": 3, "noise": 0.1, "tasks": [{"weight": 1.0, "mean": [0.5, 0, 0], "cov": 1}]})
    for n in (1, 10):
        assert abs(finetune_gap(zero, n)) < 1e-12 and abs(joint_gap(zero, n)) < 1e-12
        assert finetune_gap(single, n) > 1e-6 and joint_gap(single, n) > 1e-6


@pytest.mark.parametrize("name", ["zero-mean", "three-task"])
def test_centring_cost_is_what_heads_remove(name):
    spec = p.load_spec(name)
    n = 7
    rng = np.random.default_rng(4)
    for w in (p.optimum(spec, n, "plain").W, 0.05 * rng.standard_normal((spec.d, spec.d))):
        without = profiled_loss(spec, n, w)
        with_heads = p.population_loss(spec, n, w, spec.means, spec.means)
        assert without - with_heads == pytest.approx(centring_cost(spec, n, w), rel=1e-9)
    # whitened closed form n tr(M WᵀW) + n tr(WᵀW) tr M on an isotropic spec
    iso = p.load_spec("zero-mean")
    w = p.optimum(iso, n, "plain").W
    mom = p.moments(iso)
    expected = n * np.trace(mom.mean_part @ w.T @ w) + n * np.trace(w.T @ w) * np.trace(mom.mean_part)
    assert centring_cost(iso, n, w) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("name", ["zero-mean", "noisy", "three-task"])
def test_plain_loss_is_a_completed_square(name):
    spec = load_spec(name)
    rng = np.random.default_rng(7)
    n = 6
    sol = optimum(spec, n, "plain")
    assert plain_excess_loss(spec, n, sol.W) == pytest.approx(0.0, abs=1e-12)
    for _ in range(3):
        W = sol.W + rng.standard_normal((spec.d, spec.d)) * 0.05
        assert population_loss(spec, n, W) == pytest.approx(sol.loss + plain_excess_loss(spec, n, W), rel=1e-10)


@pytest.mark.parametrize("name", SPECS)
@pytest.mark.parametrize("n", [1, 4, 20])
def test_heads_gap_is_the_joint_minus_heads_loss(name, n):
    # L_JT − L_D = n tr(Σ̄(Q_D⁻¹ − Q_J⁻¹)Σ̄), against the two optimal losses computed separately.
    from prompticl._gaps import heads_gap

    spec = p.load_spec(name)
    losses = {k: float(v[0]) for k, v in p.optimal_losses(spec, [n]).items()}
    gap = heads_gap(spec, n)
    assert losses["joint"] - losses["joint-heads"] == pytest.approx(gap, rel=1e-8, abs=1e-12)
    # Every one of these mixtures has task means and within-task spread, so the gap is strict.
    assert gap > 1e-6


def test_heads_gap_vanishes_without_means():
    from prompticl._gaps import heads_gap

    spec = p.scale_means(p.load_spec("zero-mean"), 0.0)
    assert abs(heads_gap(spec, 10)) < 1e-12


def test_heads_gap_is_zero_without_spread_even_without_noise():
    """Sigma_bar = 0 and sigma = 0 make Q_D singular; the gap is 0 (found by the property test of
    tests/unit/test_closed_forms.py, issue 18)."""
    from prompticl import heads_gap, optimal_losses, spec_from_dict

    spec = spec_from_dict({"d": 2, "noise": 0.0, "tasks": [{"weight": 0.5, "mean": [1, 0], "cov": 0},
                                                          {"weight": 0.5, "mean": [0, 1], "cov": 0}]})
    losses = optimal_losses(spec, [3])
    assert heads_gap(spec, 3) == 0.0 == losses["joint"][0] - losses["joint-heads"][0]
