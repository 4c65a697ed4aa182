"""Closed forms of the layer beyond the reduced model (prompticl._layer_closed_forms), against the certified
optimum of prompticl._layer_optimum."""
import numpy as np
import pytest

from prompticl import load_spec, optimal_losses, spec_from_dict
from prompticl._reduced import to_reduced
from prompticl._layer_optimum import layer_optimum
from prompticl._layer_closed_forms import centred_spec, heads_scale_loss, joint_shift_losses, task_optimum_losses
from support import DIAG3, SHAPES, SYMMETRIC, examples



@pytest.mark.parametrize("spec_data,n", [(None, 50), (SYMMETRIC, 50), (DIAG3, 7)])
def test_joint_shift_closed_form(spec_data, n):
    spec = load_spec("nonzero-mean") if spec_data is None else spec_from_dict(spec_data)
    closed = joint_shift_losses(spec, [n])[0]
    opt = layer_optimum(spec, n, "joint", "shift")
    assert opt.loss == pytest.approx(closed, rel=1e-10)
    # the optimal shift m = −b_x/b_y is the mixture mean
    shift = to_reduced(opt.eff).centres[0]
    assert np.allclose(shift, spec.weights @ spec.means, atol=1e-6)
    # the best shift is the mixture mean: the shifted model of the centred mixture gains nothing more
    cen = centred_spec(spec)
    assert layer_optimum(cen, n, "joint", "reduced").loss == pytest.approx(closed, rel=1e-10)


@pytest.mark.parametrize("spec_data,n", [(SHAPES, 10), (SHAPES, 50), (DIAG3, 5)])
def test_heads_scale_closed_form(spec_data, n):
    spec = spec_from_dict(spec_data)
    assert layer_optimum(spec, n, "joint-heads", "scale").loss == pytest.approx(heads_scale_loss(spec, n), rel=1e-10)


def test_isotropic_tasks_each_reach_their_own_optimum():
    spec = spec_from_dict(SHAPES)
    for n in (10, 50):
        assert heads_scale_loss(spec, n) == pytest.approx(spec.weights @ task_optimum_losses(spec, n), rel=1e-12)
    # and that is strictly below the reduced closed form L_D
    assert heads_scale_loss(spec, 10) < optimal_losses(spec, [10])["joint-heads"][0] * (1 - 0.01)


def test_heads_scale_rejects_non_commuting_covariances():
    with pytest.raises(ValueError, match="do not commute"):
        heads_scale_loss(load_spec("three-task"), 5)


# ----------------------------------------------------------------- the label column with heads (issue 18)

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from prompticl import Effective, empirical_risk, optimum, population_stats  # noqa: E402


@st.composite
def _heads_mixtures(draw):
    """Random mixtures with Σ_x = I: rank-deficient or full covariances, or proportional ones, any σ."""
    d = draw(st.integers(1, 4))
    K = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**32 - 1))
    kind = draw(st.sampled_from(["random", "proportional", "equal"]))
    noise = draw(st.sampled_from([0.0, 0.3, 1.0]))
    n = draw(st.integers(1, 60))
    rng = np.random.default_rng(seed)
    weights = rng.uniform(0.1, 1.0, K)
    weights /= weights.sum()
    base = rng.standard_normal((d, d))
    base = base @ base.T + 0.1 * np.eye(d)
    tasks = []
    for w in weights:
        if kind == "random":
            a = rng.standard_normal((d, d)) * rng.uniform(0.2, 1.5)
            cov = a @ a.T + 0.05 * np.eye(d)
        else:
            cov = base * (rng.uniform(0.2, 3.0) if kind == "proportional" else 1.0)
        tasks.append({"weight": float(w), "mean": (1.5 * rng.standard_normal(d)).tolist(), "cov": cov.tolist()})
    return spec_from_dict({"d": d, "noise": noise, "tasks": tasks}), n, kind


def _label_derivative(spec, n):
    """The derivative of Proposition 'label column with heads' (chapter 08), written out here."""
    sol = optimum(spec, n, "joint-heads")
    d, sig2 = spec.d, spec.noise**2
    D = [sol.W @ ((n + 1) * S + (np.trace(S) + sig2) * np.eye(d)) - S for S in spec.covs]
    grad = 2 * n * sum(p * Dk @ mu for p, Dk, mu in zip(spec.weights, D, spec.means))
    return sol, D, grad


@settings(max_examples=examples(60), deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(_heads_mixtures())
def test_label_column_derivative_at_the_reduced_heads_optimum(case):
    """dL/da_y = 2n Σ_k π_k D_k μ_k (a finite difference of the library's exact loss agrees),
    Σ_k π_k D_k = 0, and D_k = 0 for all k exactly when the covariances are equal, or σ = 0 and
    they are proportional.  Claims: layer-label-heads-grad."""
    spec, n, kind = case
    sol, D, grad = _label_derivative(spec, n)
    st_ = population_stats(spec, n)
    A = np.hstack([sol.W, np.zeros((spec.d, 1))])
    b = np.hstack([-sol.centres, np.ones((spec.K, 1))])
    base = empirical_risk(st_, Effective(A, b, sol.biases))
    h = 1e-5
    fd = np.empty(spec.d)
    for i in range(spec.d):
        step = np.zeros_like(A)
        step[i, -1] = h
        fd[i] = (empirical_risk(st_, Effective(A + step, b, sol.biases))
                 - empirical_risk(st_, Effective(A - step, b, sol.biases))) / (2 * h)
    scale = 1e-6 * (1 + abs(base)) * (1 + np.abs(fd).max())
    np.testing.assert_allclose(fd, grad, atol=scale)
    np.testing.assert_allclose(sum(p * Dk for p, Dk in zip(spec.weights, D)), 0, atol=1e-10)
    vanishes = all(np.allclose(Dk, 0, atol=1e-10) for Dk in D)
    s_bar = sum(p * S for p, S in zip(spec.weights, spec.covs))
    alpha = [np.trace(S) / np.trace(s_bar) for S in spec.covs]
    proportional = all(np.allclose(S, a * s_bar, atol=1e-9) for S, a in zip(spec.covs, alpha))
    expected = proportional and (spec.noise == 0 or np.allclose(alpha, 1, atol=1e-9))
    assert expected or kind == "random" or spec.noise > 0  # the strategy reaches both sides
    assert vanishes == expected, (kind, spec.noise, [np.abs(Dk).max() for Dk in D])
    if vanishes:
        assert np.allclose(grad, 0, atol=1e-9)


def test_label_column_gains_on_crossed_means():
    """The counterexample to 'with heads only the per-task scale helps' (chapter 08): reduced = scale
    = L_D = 1.5831588 and label = full = 1.5791216 at n = 10."""
    spec = spec_from_dict({"d": 2, "noise": 1.0, "tasks": [
        {"weight": 0.5, "mean": [1.5, 0.0], "cov": [2.0, 0.05]},
        {"weight": 0.5, "mean": [0.0, -1.5], "cov": [0.05, 2.0]}]})
    _, _, grad = _label_derivative(spec, 10)
    assert np.linalg.norm(grad) > 1.0
    l_d = optimal_losses(spec, [10])["joint-heads"][0]
    assert l_d == pytest.approx(1.5831588, abs=1e-7)
    for model, value in (("scale", 1.5831588), ("label", 1.5791216), ("full", 1.5791216)):
        o = layer_optimum(spec, 10, "joint-heads", model)
        assert o.certified and o.loss == pytest.approx(value, abs=1e-7), model


@settings(max_examples=examples(25), deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 6), st.integers(-30, 30).map(lambda i: i / 10), st.integers(-30, 30).map(lambda i: i / 10),
       st.sampled_from([0.1, 0.3, 0.5, 0.9]), st.integers(1, 80), st.integers(0, 2**32 - 1))
def test_deterministic_collinear_mixture_reaches_zero_in_the_full_layer(d, m1, m2, w, n, seed):
    """Chapter 08 (and 06, pf-ex-deterministic): with σ = 0, Σ_k = 0 and collinear means μ_k = m_k u,
    the full layer a_y = u, A_x = -a_y μ_2ᵀ, b = [-μ_1; 1], c_k = μ_k has loss 0, and prompt tokens
    realise those biases; the reduced class at W = ηI stays above 0.
    Claims: layer-deterministic-zero, pf-deterministic-infimum."""
    from hypothesis import assume

    assume(abs(m1 - m2) > 0.05)
    rng = np.random.default_rng(seed)
    u = rng.standard_normal(d)
    spec = spec_from_dict({"d": d, "noise": 0.0, "tasks": [
        {"weight": w, "mean": (m1 * u).tolist(), "cov": 0.0}, {"weight": 1 - w, "mean": (m2 * u).tolist(), "cov": 0.0}]})
    A = np.hstack([-np.outer(u, spec.means[1]), u[:, None]])
    b = np.concatenate([-spec.means[0], [1.0]])
    # a token p with (u^T-free) A p = u (p_y - μ_2ᵀp_x) and pᵀb = p_y - μ_1ᵀp_x; pick pᵀb = 1
    prompts = []
    for m in (m1, m2):
        t = (m - 1.0) / ((m1 - m2) * (u @ u))
        p = np.concatenate([t * u, [1.0 + m1 * t * (u @ u)]])
        prompts.append(p)
    c = np.stack([A @ p * (p @ b) for p in prompts])
    np.testing.assert_allclose(c, spec.means, atol=1e-9 * (1 + np.abs(spec.means).max()))
    scale = 1.0 + float(spec.weights @ np.sum(spec.means**2, axis=1))
    loss = empirical_risk(population_stats(spec, n), Effective(A, np.tile(b, (2, 1)), c))
    assert abs(loss) <= 1e-9 * scale**2
    from prompticl import optimal_biases, population_loss

    W = 1e-3 * np.eye(d)
    assert population_loss(spec, n, W, optimal_biases(spec, n, W)) > 0


def _symmetric_mixture(d, seed, noise):
    rng = np.random.default_rng(seed)
    centre, half = rng.standard_normal(d), rng.standard_normal(d)
    a = rng.standard_normal((d, d))
    cov = (a @ a.T / d + 0.2 * np.eye(d)).tolist()
    return spec_from_dict({"d": d, "noise": noise, "tasks": [
        {"weight": 0.5, "mean": (centre + half).tolist(), "cov": cov},
        {"weight": 0.5, "mean": (centre - half).tolist(), "cov": cov}]})


@settings(max_examples=examples(8), deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 3), st.integers(0, 2**32 - 1), st.sampled_from([0.0, 0.5]), st.integers(1, 30))
def test_symmetric_mixture_shift_optimum_is_stationary_in_the_label_column(d, seed, noise, n):
    """Chapter 08, Proposition 'mixtures symmetric about their mean': the joint shift optimum is a
    stationary point of the class label (a central difference of the exact loss in a_y vanishes).
    Claims: layer-symmetric-stationary."""
    spec = _symmetric_mixture(d, seed, noise)
    opt, st_ = layer_optimum(spec, n, "joint", "shift"), population_stats(spec, n)
    assert opt.certified
    A = opt.eff.A
    h = 1e-6 * max(1.0, np.linalg.norm(A))
    for i in range(d):
        step = np.zeros_like(A)
        step[i, -1] = h
        slope = (empirical_risk(st_, Effective(A + step, opt.eff.b, opt.eff.c))
                 - empirical_risk(st_, Effective(A - step, opt.eff.b, opt.eff.c))) / (2 * h)
        assert abs(slope) * np.linalg.norm(A) <= 1e-5 * opt.loss, (i, slope)


def _random_mixture(rng, d, K, noise, *, deterministic=False):
    """K tasks with random weights, means and (unless deterministic) covariances, and random Σ_x."""
    a = rng.standard_normal((d, d))
    tasks = []
    for w in rng.dirichlet(np.ones(K)):
        c = rng.standard_normal((d, d))
        cov = 0.0 if deterministic else (c @ c.T / d + 0.05 * np.eye(d)).tolist()
        tasks.append({"weight": float(w), "mean": (rng.uniform(0.2, 3.0) * rng.standard_normal(d)).tolist(), "cov": cov})
    return spec_from_dict({"d": d, "noise": noise, "x_cov": (a @ a.T / d + 0.3 * np.eye(d)).tolist(), "tasks": tasks})


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 8), st.integers(1, 4), st.sampled_from([0.0, 0.3, 2.0]), st.integers(1, 10**6),
       st.integers(0, 2**32 - 1))
def test_reduced_joint_context_gain_fades_as_the_means_take_over(d, K, noise, n, seed):
    """Chapter 08, Proposition 'without heads the context fades as ρ → 1':
    1 - n(1 - ρ) <= (L_JT - σ²)/tr Σ̄ <= 1 on random mixtures (any Σ_x, any noise, any n).
    Claims: layer-context-fades."""
    from prompticl import mean_share, moments

    spec = _random_mixture(np.random.default_rng(seed), d, K, noise)
    ratio = (optimal_losses(spec, [n])["joint"][0] - noise**2) / np.trace(moments(spec).sigma_bar)
    rho = mean_share(spec)
    assert 1 - n * (1 - rho) - 1e-9 <= ratio <= 1 + 1e-9


@settings(max_examples=20, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 4), st.integers(1, 60), st.integers(0, 2**32 - 1))
def test_deterministic_mixtures_where_loss_zero_is_attained(d, n, seed):
    """Chapter 08, Theorem 'deterministic mixtures' on random mixtures (random Σ_x):
    part 1: three distinct collinear means defeat the two-task construction, whichever tasks A and b serve;
    part 2: with heads b_k = [-μ_k; 1], A = [I, 0] and the tokens p_k = [μ_k; 1 + |μ_k|²] give loss 0 for any means;
    part 4: with σ > 0 the certified joint optimum of the full layer is σ² = L_JT.
    (The construction for two collinear means is the test above.)
    Claims: layer-deterministic-domain."""
    rng = np.random.default_rng(seed)
    u = rng.standard_normal(d)
    m = rng.permutation([rng.uniform(0.3, 2.0), -rng.uniform(0.3, 2.0), rng.uniform(2.5, 4.0)])
    three = spec_from_dict({"d": d, "noise": 0.0, "tasks": [
        {"weight": w, "mean": (mk * u).tolist(), "cov": 0.0} for w, mk in zip(rng.dirichlet(np.ones(3)), m)]})
    st3 = population_stats(three, n)
    for ka in range(3):
        for kb in range(3):
            if ka != kb:
                A = np.hstack([-np.outer(u, three.means[ka]), u[:, None]])
                b = np.concatenate([-three.means[kb], [1.0]])
                assert empirical_risk(st3, Effective(A, np.tile(b, (3, 1)), three.means.copy())) > 1e-6
    spec = _random_mixture(rng, d, 3, 0.0, deterministic=True)
    A = np.hstack([np.eye(d), np.zeros((d, 1))])
    b = np.hstack([-spec.means, np.ones((3, 1))])
    p = np.hstack([spec.means, 1 + np.sum(spec.means**2, axis=1, keepdims=True)])
    np.testing.assert_allclose(np.einsum("ij,kj,kl,kl->ki", A, p, p, b), spec.means, atol=1e-12 * (1 + np.abs(p).max() ** 2))
    size = max(np.linalg.norm(g) ** 2 for g in population_stats(spec, n).G) * (1 + np.abs(b).max() ** 2)
    assert abs(empirical_risk(population_stats(spec, n), Effective(A, b, spec.means.copy()))) <= 1e-13 * size
    noisy = _random_mixture(rng, d, 2, 0.5, deterministic=True)
    opt = layer_optimum(noisy, n, "joint", "full")
    assert opt.loss == pytest.approx(0.25, rel=1e-8) and optimal_losses(noisy, [n])["joint"][0] == pytest.approx(0.25, rel=1e-12)
