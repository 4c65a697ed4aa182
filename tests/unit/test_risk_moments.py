"""Exact population moments: against sample moments, against Monte Carlo risk, against the closed forms."""
import numpy as np
import pytest

from prompticl import load_spec, optimal_losses, optimum, population_loss
from prompticl._attention import Effective, context_tokens, effective_predict, gram
from prompticl._reduced import reduced_effective
from prompticl._montecarlo import Z_TOL, max_z_score, mean_and_se
from prompticl._risk_moments import population_stats, token_covariance
from prompticl._sampling import sample_batch
from prompticl._regimes import REGIMES
from prompticl._sampling import sample_grams
from prompticl._risk import empirical_risk



@pytest.mark.parametrize("n", [3, 6])  # n < d (token path) and n >= d (Bartlett path) of sample_grams
def test_exact_moments_match_sample_moments(n):
    spec = load_spec("three-task")
    st = population_stats(spec, n)
    rng = np.random.default_rng(11)
    D = spec.d + 1
    iu, ju = np.triu_indices(D)
    for k in range(spec.K):
        G, beta = sample_grams(spec, n, 40_000, rng, k)
        Gf = G[:, iu, ju]
        checks = [
            (Gf, st.G[k][iu, ju]),
            (Gf[:, :, None] * Gf[:, None, :], st.GG[k][iu, ju][:, iu, ju]),
            (beta[:, :, None] * Gf[:, None, :], st.BG[k][:, iu, ju]),
            (beta, st.beta[k]),
            (beta[:, :, None] * beta[:, None, :], st.BB[k]),
        ]
        for draws, exact in checks:
            mean, se = mean_and_se(draws)
            assert max_z_score(mean, se, exact) < Z_TOL


def test_token_covariance_is_the_covariance_of_a_token():
    spec = load_spec("three-task")
    beta = np.array([0.5, -1.0, 2.0, 0.3])
    rng = np.random.default_rng(3)
    x = rng.standard_normal((200_000, spec.d)) @ spec.x_sqrt
    z = np.column_stack([x, x @ beta + spec.noise * rng.standard_normal(x.shape[0])])
    mean, se = mean_and_se(z[:, :, None] * z[:, None, :])
    assert max_z_score(mean, se, token_covariance(spec.x_cov, beta, spec.noise)) < Z_TOL


@pytest.mark.parametrize("name,n", [("three-task", 4), pytest.param("nonzero-mean", 12, marks=pytest.mark.slow), ("noisy", 3)])
def test_exact_risk_matches_monte_carlo_at_random_parameters(name, n):
    spec = load_spec(name)
    st = population_stats(spec, n)
    rng = np.random.default_rng(5)
    d, K, D = spec.d, spec.K, spec.d + 1
    eff = Effective(
        rng.standard_normal((d, D)) / (n * D), rng.standard_normal((K, D)), 0.3 * rng.standard_normal((K, d))
    )
    errs = []
    for _ in range(8):
        data = sample_batch(spec, n, 25_000, rng)
        pred = effective_predict(eff, gram(context_tokens(data.X, data.y)), data.x, data.task)
        errs.append((pred - data.y_query) ** 2)
    mean, se = mean_and_se(np.concatenate(errs))
    assert abs(empirical_risk(st, eff) - mean) < Z_TOL * se


@pytest.mark.parametrize("name", ["three-task", "nonzero-mean", "noisy", "anisotropic"])
@pytest.mark.parametrize("n", [1, 7, 50])
def test_exact_risk_of_the_reduced_optimum_is_the_closed_form(name, n):
    spec = load_spec(name)
    st = population_stats(spec, n)
    closed = optimal_losses(spec, [n])
    for regime in REGIMES:
        sol = optimum(spec, n, regime)
        eff = reduced_effective(sol.W, sol.biases, sol.centres)
        assert empirical_risk(st, eff) == pytest.approx(closed[regime][0], rel=1e-12)


def test_exact_risk_equals_population_loss_at_random_reduced_parameters():
    spec = load_spec("three-task")
    rng = np.random.default_rng(8)
    for n in (1, 2, 9):
        st = population_stats(spec, n)
        W = rng.standard_normal((spec.d, spec.d)) / n
        biases, centres = rng.standard_normal((2, spec.K, spec.d))
        eff = reduced_effective(W, biases, centres)
        assert empirical_risk(st, eff) == pytest.approx(population_loss(spec, n, W, biases, centres), rel=1e-12)


def test_population_stats_rejects_a_bad_context_length():
    with pytest.raises(ValueError, match="integer >= 1"):
        population_stats(load_spec("zero-mean"), 0)
