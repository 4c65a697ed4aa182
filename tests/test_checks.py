"""Tests for the Monte Carlo helpers, the whitening map and the plain-training algebra.

Closed forms are compared with Monte Carlo at four standard errors (fixed seeds, so the outcome is
deterministic); algebraic identities are compared at floating-point tolerance.
"""
import numpy as np
import pytest

from prompticl import load_spec, moments, optimum, population_loss, signal, spec_names
from prompticl.attention import reduced_to_params
from prompticl.checks import (
    max_z_score,
    mc_signal,
    mc_task_second_moment,
    mc_wishart_sas,
    mean_and_se,
)
from prompticl.plain import plain_excess_loss
from prompticl.sampling import mc_loss, reduced_predict, sample_batch
from prompticl.spec import with_overrides
from prompticl.theory import curvature, wishart_sas
from prompticl.whitening import unwhiten_parameters, whiten_parameters

Z_TOL = 4.0  # four standard errors


def test_mean_and_se_matches_definition():
    v = np.array([1.0, 2.0, 4.0, 7.0])
    mean, se = mean_and_se(v)
    assert mean == pytest.approx(3.5)
    assert se == pytest.approx(np.sqrt(((v - 3.5) ** 2).sum() / 3) / 2)
    with pytest.raises(ValueError):
        mean_and_se(np.array([1.0]))


def test_max_z_score_flags_deterministic_mismatch():
    assert max_z_score([1.0, 2.0], [0.5, 0.0], [1.5, 2.0]) == pytest.approx(1.0)
    assert max_z_score([1.0], [0.0], [1.1]) == np.inf
    with pytest.raises(ValueError):
        max_z_score([1.0], [-1.0], [1.0])


@pytest.mark.parametrize("name", ["zero-mean", "nonzero-mean", "three-task"])
def test_second_moment_and_signal_match_monte_carlo(name):
    spec = load_spec(name)
    rng = np.random.default_rng(1)
    est, se = mc_task_second_moment(spec, 200_000, rng)
    assert max_z_score(est, se, moments(spec).sigma_tilde) < Z_TOL
    sig, sig_se = mc_signal(spec, 200_000, rng)
    assert abs(sig - signal(spec)) < Z_TOL * sig_se


def test_monte_carlo_detects_a_wrong_target():
    # The check must be able to fail: dropping the mean part M is far outside the tolerance.
    spec = load_spec("zero-mean")
    est, se = mc_task_second_moment(spec, 50_000, np.random.default_rng(2))
    assert max_z_score(est, se, moments(spec).sigma_bar) > 10 * Z_TOL


@pytest.mark.parametrize("n", [1, 3, 8])
def test_wishart_identity(n):
    rng = np.random.default_rng(3)
    b = rng.standard_normal((4, 4))
    a = b + b.T
    est, se = mc_wishart_sas(a, n, 100_000, rng)
    assert max_z_score(est, se, wishart_sas(a, n)) < Z_TOL
    cov = load_spec("three-task").x_cov
    est, se = mc_wishart_sas(a, n, 100_000, rng, cov=cov)
    assert max_z_score(est, se, wishart_sas(a, n, cov)) < Z_TOL
    # without the n tr(A) I term the identity is visibly wrong
    assert max_z_score(est, se, n * (n + 1) * cov @ a @ cov) > Z_TOL


def test_wishart_nonsymmetric_form():
    # E[SAS] = n² A + n Aᵀ + n tr(A) I for any square A (book exercise).
    rng = np.random.default_rng(4)
    a = rng.standard_normal((3, 3))
    n = 4
    est, se = mc_wishart_sas(a, n, 100_000, rng)
    assert max_z_score(est, se, n**2 * a + n * a.T + n * np.trace(a) * np.eye(3)) < Z_TOL


@pytest.mark.parametrize("name", spec_names())
def test_whitening_preserves_the_loss(name):
    spec = load_spec(name)
    rng = np.random.default_rng(5)
    n = 7
    W = rng.standard_normal((spec.d, spec.d)) / (n * spec.d)
    c = rng.standard_normal((spec.K, spec.d))
    m = rng.standard_normal((spec.K, spec.d))
    white = spec.whitened()
    w2, c2, m2 = whiten_parameters(spec, W, c, m)
    assert population_loss(white, n, w2, c2, m2) == pytest.approx(population_loss(spec, n, W, c, m), rel=1e-10)
    back = unwhiten_parameters(spec, w2, c2, m2)
    for x, y in zip(back, (W, c, m)):
        np.testing.assert_allclose(x, y, atol=1e-12)


def test_whitening_predictions_agree_pointwise():
    spec = load_spec("three-task")
    rng = np.random.default_rng(6)
    data = sample_batch(spec, 5, 50, rng)
    W = rng.standard_normal((4, 4))
    c = rng.standard_normal((3, 4))
    m = rng.standard_normal((3, 4))
    r_inv = np.linalg.inv(spec.x_sqrt)
    white = type(data)(data.X @ r_inv, data.y, data.x @ r_inv, data.y_query, data.beta @ spec.x_sqrt, data.task)
    w2, c2, m2 = whiten_parameters(spec, W, c, m)
    np.testing.assert_allclose(reduced_predict(white, w2, c2, m2), reduced_predict(data, W, c, m), rtol=1e-9, atol=1e-9)


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


def test_curvature_gives_the_theory_optimum():
    spec = load_spec("anisotropic")
    mom = moments(spec)
    n = 9
    q = curvature("plain", mom, n, spec.noise)
    np.testing.assert_allclose(mom.sigma_tilde @ np.linalg.inv(q), optimum(spec, n, "plain").W, atol=1e-12)


def test_population_loss_matches_monte_carlo_at_plain_optimum():
    spec = with_overrides(load_spec("zero-mean"), noise=0.5)
    n = 10
    sol = optimum(spec, n, "plain")
    mean, se = mc_loss(spec, n, sol.W, samples=100_000, rng=np.random.default_rng(8))
    assert abs(mean - sol.loss) < Z_TOL * se


def test_bad_inputs_raise():
    spec = load_spec("zero-mean")
    with pytest.raises(ValueError):
        whiten_parameters(spec, np.eye(3))
    with pytest.raises(ValueError):
        plain_excess_loss(spec, 0, np.eye(10))
    with pytest.raises(ValueError):
        mc_wishart_sas(np.ones((2, 3)), 2, 10, np.random.default_rng(0))
    with pytest.raises(ValueError):
        reduced_to_params(np.ones((2, 3)))


@pytest.mark.parametrize("name", ["zero-mean", "noisy", "anisotropic", "three-task"])
def test_spectral_form_of_plain_loss(name):
    from prompticl import optimal_losses
    from prompticl.plain import plain_loss_spectral

    spec = load_spec(name)
    ns = [1, 4, 25]
    expected = optimal_losses(spec, ns)["plain"]
    got = [plain_loss_spectral(moments(spec).sigma_tilde, n, spec.noise) for n in ns]
    np.testing.assert_allclose(got, expected, rtol=1e-10)
