"""Test-loss estimation: Rao–Blackwellised estimate vs exact population loss and vs sampled queries."""
import numpy as np
import pytest

from prompticl import load_spec, optimum, population_loss
from prompticl._attention import Effective, context_tokens, effective_predict, gram
from prompticl._reduced import reduced_effective
from prompticl._montecarlo import Z95
from prompticl._evaluation import summarize, test_loss
from prompticl._sampling import sample_batch


@pytest.mark.parametrize("spec_name", ["three-task", "noisy", "nonzero-mean"])
@pytest.mark.parametrize("regime", ["plain", "joint-heads"])
def test_estimate_matches_exact_population_loss(spec_name, regime):
    spec = load_spec(spec_name)
    n = 7
    sol = optimum(spec, n, regime)
    # perturb away from the optimum so the check is not only at a stationary point
    rng = np.random.default_rng(3)
    W = sol.W * (1 + 0.2 * rng.standard_normal(sol.W.shape))
    sol = type(sol)(sol.regime, n, W, sol.biases, sol.centres, sol.loss)
    exact = population_loss(spec, n, sol.W, sol.biases, sol.centres)
    est = test_loss(spec, n, reduced_effective(sol.W, sol.biases, sol.centres), np.random.default_rng(0))
    assert est.rel_halfwidth <= 0.005
    assert abs(est.loss - exact) <= 4 * est.se, (est.loss, exact, est.se)
    assert est.ci95[0] < est.loss < est.ci95[1]


def test_estimate_matches_sampled_queries():
    """The query-integrated loss agrees with plain squared errors of sampled queries (4 combined SE)."""
    spec = load_spec("noisy")
    n = 5
    rng = np.random.default_rng(1)
    eff = Effective(0.05 * rng.standard_normal((spec.d, spec.d + 1)), np.tile(rng.standard_normal(spec.d + 1), (2, 1)),
                    rng.standard_normal((2, spec.d)))
    est = test_loss(spec, n, eff, np.random.default_rng(2), rel_halfwidth=0.01)
    data = sample_batch(spec, n, 200_000, np.random.default_rng(4))
    err = (effective_predict(eff, gram(context_tokens(data.X, data.y)), data.x, data.task) - data.y_query) ** 2
    mc, mc_se = err.mean(), err.std(ddof=1) / np.sqrt(err.size)
    assert abs(est.loss - mc) <= 4 * np.hypot(est.se, mc_se)


def test_deterministic_and_interval():
    spec = load_spec("zero-mean")
    sol = optimum(spec, 3, "joint")
    eff = reduced_effective(sol.W, sol.biases, sol.centres)
    a = test_loss(spec, 3, eff, np.random.default_rng(5))
    b = test_loss(spec, 3, eff, np.random.default_rng(5))
    assert a == b
    half = (a.ci95[1] - a.ci95[0]) / 2
    assert half == pytest.approx(Z95 * a.se)
    with pytest.raises(ValueError):
        test_loss(spec, 3, eff, np.random.default_rng(5), rel_halfwidth=0.0)


def test_summarize():
    s = summarize([3.0, 1.0, 2.0], seeds=[10, 11, 12])
    assert s.mean == pytest.approx(2.0)
    assert s.sd == pytest.approx(1.0)
    assert (s.best, s.best_seed, s.count) == (1.0, 11, 3)
    with pytest.raises(ValueError):
        summarize([])
