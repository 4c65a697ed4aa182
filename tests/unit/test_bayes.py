"""The Bayes floor (chapter 09): closed forms, Monte Carlo, and the three checks of issue 20."""
from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st, HealthCheck

from prompticl import cli
from prompticl._bayes import _draw_risks, aware_bounds, bayes_floor, posterior_mean
from prompticl._closed_forms import optimal_losses, signal
from prompticl._montecarlo import Z_TOL, mean_and_se
from prompticl._regimes import REGIMES
from prompticl._sampling import sample_batch
from prompticl._spec import load_spec, spec_from_dict
from support import examples


def _spec(d=4, noise=0.3, tasks=None, x_cov=None):
    data = {"d": d, "noise": noise, "tasks": tasks or [{"weight": 0.4, "mean": 1.0, "cov": 0.5},
                                                       {"weight": 0.6, "mean": -0.5, "cov": 1.5}]}
    if x_cov is not None:
        data["x_cov"] = x_cov
    return spec_from_dict(data)


#: Unequal weights and well separated tasks: the task-blind posterior's weights matter.
LOPSIDED = {"d": 2, "noise": 0.5, "tasks": [{"weight": 0.9, "mean": 1.5, "cov": 0.2}, {"weight": 0.1, "mean": -1.5, "cov": 0.2}]}


@pytest.mark.parametrize("name,n", [("three-task", 3), ("three-task", 8), ("noisy", 5), ("lopsided", 1)])
def test_direct_simulation_of_the_posterior_mean_predictor(name, n):
    """Predict with xᵀE[β | D] on fresh prompts (original coordinates, correlated features for
    three-task): the squared error averages to the floor, blind and aware."""
    spec = spec_from_dict(LOPSIDED) if name == "lopsided" else load_spec(name)
    floor = bayes_floor(spec, [n], samples=4000, seed=1)
    rng = np.random.default_rng(7)
    batch = sample_batch(spec, n, 6000, rng)
    for task, value, se in ((None, floor.blind[0], floor.blind_se[0]), (batch.task, floor.aware[0], floor.aware_se[0])):
        beta_hat = posterior_mean(spec, batch.X, batch.y, task)
        losses = (np.einsum("bd,bd->b", batch.x, beta_hat) - batch.y_query) ** 2
        m, s = mean_and_se(losses)
        z = abs(m - value) / np.hypot(s, se)
        assert z < Z_TOL, (task is None, m, value, s, se)


def test_the_posterior_mean_beats_a_wrong_predictor():
    """Control for the simulation above: the task-blind posterior mean used as if aware, or the prior
    mean alone, has a larger loss (so the simulation can tell predictors apart)."""
    spec = load_spec("noisy")
    rng = np.random.default_rng(3)
    batch = sample_batch(spec, 5, 6000, rng)
    blind = posterior_mean(spec, batch.X, batch.y)
    aware = posterior_mean(spec, batch.X, batch.y, batch.task)
    err = lambda b: np.mean((np.einsum("bd,bd->b", batch.x, b) - batch.y_query) ** 2)  # noqa: E731
    assert err(aware) < err(blind) < err(np.zeros_like(blind) + spec.weights @ spec.means)


def test_noiseless_closed_forms_agree_with_monte_carlo():
    """σ = 0, whitened covariances c·I: the task-aware floor is Σ π_k c_k (d − n) below d and 0 from d
    on (exact, se 0); the Monte Carlo of the exact conditional risk gives the same number."""
    spec = load_spec("zero-mean")
    floor = bayes_floor(spec, [0, 3, 9, 10, 15])
    cbar = float(spec.weights @ [c[0, 0] for c in spec.covs])
    assert np.allclose(floor.aware, [cbar * 10, cbar * 7, cbar * 1, 0.0, 0.0]) and not floor.aware_se.any()
    assert floor.exact_aware.all()
    assert floor.blind[3] == floor.blind[4] == 0.0 and floor.exact_blind[3:].all()
    w = spec.whitened()
    for n in (3, 9):
        a, b = _draw_risks(w, n, 500, np.random.default_rng(n), need_blind=True, need_aware=True)
        assert np.allclose(a, cbar * (10 - n), rtol=1e-9)  # the conditional risk is the same for every G
        assert b.mean() >= a.mean() - 1e-9  # blind never below aware


def test_n_zero_is_the_prior():
    spec = load_spec("nonzero-mean")
    floor = bayes_floor(spec, [0])
    w = spec.whitened()
    mbar = spec.weights @ w.means
    assert floor.blind[0] == pytest.approx(signal(spec) - mbar @ mbar)
    assert floor.aware[0] == pytest.approx(float(np.einsum("k,kii->", w.weights, w.covs)))


@pytest.mark.parametrize("name", ["noisy", "three-task"])
def test_noisy_task_aware_floor_within_its_bounds(name):
    spec = load_spec(name)
    ns = [1, 3, 10, 30]
    floor = bayes_floor(spec, ns, samples=2000)
    for i, n in enumerate(ns):
        lo, hi = aware_bounds(spec, n)
        assert lo - Z_TOL * floor.aware_se[i] <= floor.aware[i] <= hi + Z_TOL * floor.aware_se[i]


def test_aware_bounds_are_tight_where_claimed():
    """At σ = 0 the Ky Fan lower bound is the exact value for isotropic covariances."""
    spec = load_spec("zero-mean")
    floor = bayes_floor(spec, [4])
    lo, hi = aware_bounds(spec, 4)
    assert lo == pytest.approx(floor.aware[0]) and hi > lo


def test_one_task_mixture_blind_equals_aware():
    spec = _spec(d=5, noise=0.4, tasks=[{"weight": 1.0, "mean": [1, 0, -1, 2, 0.5], "cov": [2, 1, 0.5, 0.5, 0.1]}])
    floor = bayes_floor(spec, [1, 4, 12], samples=1000)
    assert np.allclose(floor.blind, floor.aware, rtol=1e-10)
    # and a two-task mixture of two equal tasks too: the posterior weights do not matter
    same = _spec(d=5, noise=0.4, tasks=[{"weight": 0.3, "mean": 1.0, "cov": 2.0}, {"weight": 0.7, "mean": 1.0, "cov": 2.0}])
    f2 = bayes_floor(same, [4], samples=1000)
    assert f2.blind[0] == pytest.approx(f2.aware[0], rel=1e-10)


def test_deterministic_and_independent_of_the_other_lengths():
    spec = load_spec("noisy")
    a = bayes_floor(spec, [5, 20], samples=500, seed=3)
    b = bayes_floor(spec, [20], samples=500, seed=3)
    assert a.blind[1] == b.blind[0] and a.aware_se[1] == b.aware_se[0]
    c = bayes_floor(spec, [20], samples=500, seed=4)
    assert c.blind[0] != b.blind[0]


def test_blind_needs_a_density_at_sigma_zero():
    spec = _spec(d=3, noise=0.0, tasks=[{"weight": 0.5, "mean": 1.0, "cov": [1, 1, 0]}, {"weight": 0.5, "mean": -1.0, "cov": 1.0}])
    with pytest.raises(ValueError, match="positive definite"):
        bayes_floor(spec, [1])
    # the task-aware floor alone is defined: n ≥ rank gives 0 for the singular task
    floor = bayes_floor(spec, [3])
    assert floor.aware[0] == 0.0 and floor.blind[0] == 0.0


mixtures = st.builds(
    lambda d, K, noise, means, scales, w, seed: (d, K, noise, means[:K], scales[:K], w[:K], seed),
    st.integers(2, 4), st.integers(1, 3), st.sampled_from([0.0, 0.2, 0.7]),
    st.lists(st.sampled_from([-2.0, -0.7, 0.0, 0.5, 1.5]), min_size=3, max_size=3), st.lists(st.floats(0.2, 3), min_size=3, max_size=3),
    st.lists(st.floats(0.2, 1), min_size=3, max_size=3), st.integers(0, 1000),
)


@settings(max_examples=examples(20), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mixtures, st.sampled_from([1, 2, 5]))
def test_floor_never_above_the_one_layer_optimum(mix, n):
    """Property over random mixtures (anisotropic covariances, correlated features): blind ≤ plain and
    aware ≤ every task-aware regime, and aware ≤ blind, within Monte Carlo error."""
    d, K, noise, means, scales, w, seed = mix
    rng = np.random.default_rng(seed)
    tasks = []
    for k in range(K):
        a = rng.standard_normal((d, d))
        tasks.append({"weight": w[k] / sum(w), "mean": np.round(means[k] * rng.standard_normal(d), 3).tolist(),
                      "cov": (scales[k] * (a @ a.T / d + 0.1 * np.eye(d))).tolist()})
    b = rng.standard_normal((d, d))
    spec = _spec(d=d, noise=noise, tasks=tasks, x_cov=(b @ b.T / d + np.eye(d)).tolist())
    floor = bayes_floor(spec, [n], samples=600, seed=seed)
    opt = optimal_losses(spec, [n])
    slack = Z_TOL * floor.blind_se[0] + 1e-9
    assert floor.blind[0] <= opt["plain"][0] + slack
    for regime in REGIMES[1:]:
        assert floor.aware[0] <= opt[regime][0] + Z_TOL * floor.aware_se[0] + 1e-9
    assert floor.aware[0] <= floor.blind[0] + Z_TOL * np.hypot(floor.aware_se[0], floor.blind_se[0]) + 1e-9


def test_floor_below_the_certified_layer_optimum():
    from prompticl._layer_optimum import layer_optima

    spec = load_spec("three-task")
    floor = bayes_floor(spec, [3])
    opts = layer_optima(spec, 3, "full")
    assert floor.blind[0] + Z_TOL * floor.blind_se[0] < opts["plain"].loss
    for regime in REGIMES[1:]:
        assert floor.aware[0] + Z_TOL * floor.aware_se[0] < opts[regime].loss


def _run(capsys, argv):
    rc = cli.main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.mark.slow  # more than a second: make test only
def test_cli_bayes_json(capsys):
    rc, out, err = _run(capsys, ["theory", "noisy", "--n", "5", "20", "--model", "bayes", "--json"])
    assert rc == 0 and err == ""
    data = json.loads(out)
    assert list(data) == ["n", *REGIMES, "signal", "se"] and list(data["se"]) == list(REGIMES)
    floor = bayes_floor(load_spec("noisy"), [5, 20])
    assert data["plain"] == floor.blind.tolist() and data["se"]["joint"] == floor.aware_se.tolist()
    assert all(data[r] == data["finetune"] for r in REGIMES[1:])
    assert 0 < data["se"]["plain"][0] < 0.01 * data["plain"][0]


def test_cli_bayes_table(capsys):
    rc, out, err = _run(capsys, ["theory", "zero-mean", "--n", "5", "--model", "bayes"])
    assert rc == 0 and "task-blind" in out and "8.5+-0" in out


@pytest.mark.parametrize("argv,needle", [
    (["--n", "20000"], "n <= 10000"),
    (["--n", "5000", "6000", "7000"], "pass --allow-long"),
])
def test_cli_bayes_refuses_before_work(capsys, argv, needle):
    rc, out, err = _run(capsys, ["theory", "noisy", "--model", "bayes", *argv])
    assert rc == 2 and out == "" and needle in err and err.count("\n") == 1


def test_posterior_mean_against_importance_sampling():
    """An independent posterior mean: draw β from the mixture prior (with its weights π_k), weight each
    draw by the likelihood N(y; Xβ, σ²I).  Lopsided weights, so wrong mixture weights show."""
    spec = spec_from_dict(LOPSIDED)
    rng = np.random.default_rng(11)
    batch = sample_batch(spec, 1, 6, rng)
    draws = sample_batch(spec, 0, 400_000, np.random.default_rng(12)).beta  # prior draws of β
    exact = posterior_mean(spec, batch.X, batch.y)
    for i in range(6):
        resid = batch.y[i][None, :] - draws @ batch.X[i].T
        logw = -0.5 * (resid**2).sum(axis=1) / spec.noise**2
        w = np.exp(logw - logw.max())
        w /= w.sum()
        est = w @ draws
        se = np.sqrt((w[:, None] ** 2 * (draws - est) ** 2).sum(axis=0))
        assert np.all(np.abs(est - exact[i]) <= Z_TOL * se + 1e-3), (i, est, exact[i], se)
