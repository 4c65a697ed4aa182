"""Test losses with 95% intervals, seed summaries, distance to optimum

Evaluation of a trained model.  The test loss is estimated on fresh prompts, stratified over tasks
(``N_k ∝ π_k``), with the query integrated out analytically (Rao–Blackwellisation): for a prompt
with task vector ``β`` and implied estimate ``w = A G b_k + c_k``,
``E_x[(ŷ − y)²] = (w − β)ᵀΣ_x(w − β) + σ²``.  This is unbiased for the population loss and has a
much smaller variance than squared errors of sampled queries.  The sample size is chosen from a
pilot so that the 95% half-width is at most ``rel_halfwidth`` (0.5%) of the loss.

Chapter 7 (experiments) uses these.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._attention import AttentionParams, Effective, effective, effective_estimate
from ._closed_forms import Solution
from ._montecarlo import Z95
from ._reduced import to_reduced
from ._sampling import gram_chunks, task_counts
from ._spec import Spec

#: Largest test sample drawn (prompts), whatever the pilot asks for.
MAX_TEST_SAMPLES = 2_000_000
CHUNK = 32_768


@dataclass(frozen=True)
class TestLoss:
    """A test-loss estimate with its 95% interval (:func:`test_loss`; chapter 7).

    Attributes
    ----------
    loss : float
        Estimated population loss (label noise included).
    ci95 : tuple of float
        95% confidence interval ``(loss − Z95·se, loss + Z95·se)``, :data:`Z95` ≈ 1.96.
    se : float
        Standard error.
    samples : int
        Test prompts used (pilot excluded).
    """

    __test__ = False  # not a pytest class

    loss: float
    ci95: tuple[float, float]
    se: float
    samples: int

    @property
    def rel_halfwidth(self) -> float:
        """Half-width of the 95% interval relative to the loss."""
        return (self.ci95[1] - self.ci95[0]) / 2 / self.loss


def per_prompt_losses(
    spec: Spec, n: int, effs: "list[Effective]", task: int, count: int, rng: np.random.Generator
) -> np.ndarray:
    """Rao–Blackwellised losses ``(w − β)ᵀΣ_x(w − β)`` of ``count`` fresh prompts of one task (σ² excluded).

    Every model in ``effs`` is evaluated on the same prompts; returns shape (len(effs), count).
    """
    out = []
    for G, beta in gram_chunks(spec, n, count, rng, task, CHUNK):
        tasks = np.full(len(beta), task)
        rows = []
        for eff in effs:
            err = effective_estimate(eff, G, tasks) - beta
            rows.append(np.einsum("bi,ij,bj->b", err, spec.x_cov, err))
        out.append(np.stack(rows))
    return np.concatenate(out, axis=1)


def _stratified(spec: Spec, n: int, effs: "list[Effective]", per_task: np.ndarray, rng: np.random.Generator):
    means, variances = [], []
    for k, m in enumerate(per_task):
        losses = per_prompt_losses(spec, n, effs, k, int(m), rng)
        means.append(losses.mean(axis=1))
        variances.append(losses.var(axis=1, ddof=1))
    pi = spec.weights
    mean = pi @ np.array(means) + spec.noise**2
    se = np.sqrt((pi**2 / per_task) @ np.array(variances))
    return mean, se


def test_losses(
    spec: Spec,
    n: int,
    models: "list[Effective | AttentionParams]",
    rng: np.random.Generator,
    *,
    rel_halfwidth: float = 0.005,
    pilot: int = 4000,
    max_samples: int = MAX_TEST_SAMPLES,
) -> "list[TestLoss]":
    r"""Test losses of several models on shared fresh prompts, each with a 95% interval (chapter 7).

    The estimate is stratified over tasks (``N_k ∝ π_k``) and Rao–Blackwellised over the query: for
    fresh prompts ``i`` of task ``k`` with task vector ``β_i`` and implied estimate
    ``w_i = A G_i b_k + c_k`` (equation (7.1)),

    .. math::

        \hat L = \sum_k \pi_k\,\frac{1}{N_k}\sum_{i \in k}
            (w_i - \beta_i)^\top \Sigma_x (w_i - \beta_i) + \sigma^2 ,
        \qquad
        \mathrm{se} = \Bigl(\sum_k \frac{\pi_k^2\, s_k^2}{N_k}\Bigr)^{1/2},

    with ``s_k²`` the sample variance of the per-prompt terms of task ``k``, and the 95% interval is
    :math:`\hat L \pm z_{0.975}\,\mathrm{se}` (:data:`Z95`, the half-width of :func:`ci_halfwidth`).
    A pilot of ``pilot`` prompts estimates ``se``; the main sample (fresh, so the estimate is not
    conditioned on the pilot) has

    .. math::

        N = \min\Bigl(\max\Bigl(\Bigl\lceil 1.2\,N_{\mathrm{pilot}}
            \max_m \Bigl(\frac{z_{0.975}\,\mathrm{se}_m}{r\,\hat L_m}\Bigr)^2 \Bigr\rceil,\
            N_{\mathrm{pilot}}\Bigr),\ N_{\max}\Bigr)

    prompts (``r`` = ``rel_halfwidth``, ``m`` over the models, ``N_max`` = ``max_samples``), so that
    the most demanding model's half-width is at most ``r`` of its loss unless the cap binds.
    Sharing prompts makes differences between models more precise (common random numbers); each
    interval is valid on its own.  Deterministic given ``rng``'s state.

    Parameters
    ----------
    spec : Spec
        The task mixture.
    n : int
        Context length.
    models : list of Effective or AttentionParams
        The models (raw parameters are read through :func:`effective`).
    rng : numpy.random.Generator
        Source of the test prompts (the third stream of :func:`seed_streams` in chapter 7).
    rel_halfwidth : float
        Target half-width of each 95% interval relative to its loss, in (0, 1).
    pilot : int
        Pilot sample size (prompts).
    max_samples : int
        Largest main sample (prompts).

    Returns
    -------
    list of TestLoss
        One per model, in order; ``samples`` counts the main sample's prompts.

    Raises
    ------
    ValueError
        If ``rel_halfwidth`` is not in (0, 1).
    """
    if not 0 < rel_halfwidth < 1:
        raise ValueError(f"rel_halfwidth must be in (0, 1), got {rel_halfwidth}")
    effs = [effective(m, spec.K) if isinstance(m, AttentionParams) else m for m in models]
    pi = spec.weights
    pilot_k = task_counts(pi, pilot)
    mean, se = _stratified(spec, n, effs, pilot_k, rng)
    # se scales as 1/√N under proportional allocation: N = N_pilot·(se/target)²
    target = rel_halfwidth * mean / Z95
    ratio = np.max(np.where(target > 0, se / np.maximum(target, 1e-300), 0.0))
    need = int(math.ceil(1.2 * pilot_k.sum() * ratio**2))
    total = int(min(max(need, pilot), max_samples))
    per_task = task_counts(pi, total)
    mean, se = _stratified(spec, n, effs, per_task, rng)
    return [
        TestLoss(float(m), (float(m - Z95 * s), float(m + Z95 * s)), float(s), int(per_task.sum()))
        for m, s in zip(mean, se)
    ]


def test_loss(
    spec: Spec,
    n: int,
    model: "Effective | AttentionParams",
    rng: np.random.Generator,
    *,
    rel_halfwidth: float = 0.005,
    pilot: int = 4000,
    max_samples: int = MAX_TEST_SAMPLES,
) -> TestLoss:
    """Test loss of one model on fresh prompts, with a 95% interval (chapter 7).

    The estimate, its interval and the sample-size rule are those of :func:`test_losses`, for one
    model.

    Parameters
    ----------
    spec : Spec
        The task mixture.
    n : int
        Context length.
    model : Effective or AttentionParams
        The model.
    rng : numpy.random.Generator
        Source of the test prompts.
    rel_halfwidth : float
        Target half-width of the 95% interval relative to the loss, in (0, 1).
    pilot : int
        Pilot sample size (prompts).
    max_samples : int
        Largest main sample (prompts).

    Returns
    -------
    TestLoss
        The estimate, its 95% interval and standard error.
    """
    return test_losses(spec, n, [model], rng, rel_halfwidth=rel_halfwidth, pilot=pilot, max_samples=max_samples)[0]


@dataclass(frozen=True)
class SeedSummary:
    """Test losses of several runs (seeds) of one configuration (:func:`summarize`; chapter 7).

    Attributes
    ----------
    mean : float
        Mean across seeds.
    sd : float
        Sample standard deviation across seeds (0 for one seed).
    best : float
        Smallest test loss (the paper's figures show the minimum over 50 runs).
    best_seed : int
        The seed of ``best``.
    count : int
        Number of runs.
    """

    mean: float
    sd: float
    best: float
    best_seed: int
    count: int


def summarize(losses: "list[float] | np.ndarray", seeds: "list[int] | None" = None) -> SeedSummary:
    """Mean, spread and best of per-seed test losses (chapter 7 shows the best run, as the paper).

    Parameters
    ----------
    losses : sequence of float or ndarray
        Test losses, one per run; non-empty and one-dimensional.
    seeds : list of int, optional
        The runs' seeds, aligned with ``losses``; by default ``0, 1, …``.

    Returns
    -------
    SeedSummary
        Mean, sample standard deviation (``ddof=1``), smallest loss and its seed, count.

    Raises
    ------
    ValueError
        If ``losses`` is empty or not one-dimensional.
    """
    arr = np.asarray(losses, dtype=float)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError("need a non-empty list of losses")
    seeds = list(range(arr.size)) if seeds is None else list(seeds)
    i = int(np.argmin(arr))
    sd = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
    return SeedSummary(float(arr.mean()), sd, float(arr[i]), int(seeds[i]), int(arr.size))


test_loss.__test__ = False  # library functions, not pytest tests, when imported into test modules
test_losses.__test__ = False


def distance_to_optimum(eff: Effective, opt: Solution) -> dict:
    r"""Distances of a trained model, read as the reduced model, to a regime's optimum (chapter 7).

    The model is read through :func:`to_reduced` (``A = [A_x, a_y]``, ``W_k = b_{k,y} A_x``) and
    compared with the closed-form optimum ``(W*, c*)`` of :func:`optimum`:

    .. math::

        \frac{\max_k \|W_k - W^\star\|_F}{\|W^\star\|_F}, \qquad
        \frac{\|c - c^\star\|_F}{\|c^\star\|_F}.

    Parameters
    ----------
    eff : Effective
        Effective parameters of the trained model.
    opt : Solution
        The regime's closed-form optimum (:func:`optimum`).

    Returns
    -------
    dict
        ``W_rel_distance`` and ``bias_rel_distance``, the two ratios above (``None`` when the
        denominator is zero), and ``extra_features``, the size ``‖a_y‖·max_k‖b_k‖/‖A‖`` of the
        label-column features the reduced model lacks (:class:`ReducedView`).
    """
    view = to_reduced(eff)
    w_norm = np.linalg.norm(opt.W)
    c_norm = np.linalg.norm(opt.biases)
    return {
        "W_rel_distance": float(max(np.linalg.norm(W - opt.W) for W in view.W) / w_norm) if w_norm > 0 else None,
        "bias_rel_distance": float(np.linalg.norm(view.biases - opt.biases) / c_norm) if c_norm > 0 else None,
        "extra_features": float(view.extra),
    }


