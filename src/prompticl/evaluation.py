"""Test loss of a trained model with a 95% confidence interval, and summaries across seeds.

The test loss is estimated on fresh prompts, stratified over tasks (``N_k ∝ π_k``), with the query
integrated out analytically (Rao–Blackwellisation): for a prompt with task vector ``β`` and implied
estimate ``w = A G b_k + c_k``, ``E_x[(ŷ − y)²] = (w − β)ᵀΣ_x(w − β) + σ²``.  This is unbiased for the
population loss and has a much smaller variance than squared errors of sampled queries.  The sample
size is chosen from a pilot so that the 95% half-width is at most ``rel_halfwidth`` (0.5%) of the loss.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .attention import AttentionParams, Effective, effective, effective_estimate, gram
from .sampling import sample_batch
from .spec import Spec

__all__ = ["TestLoss", "SeedSummary", "test_loss", "per_prompt_losses", "summarize", "Z95"]

#: Two-sided 95% normal quantile.
Z95 = 1.959963984540054
#: Largest test sample drawn (prompts), whatever the pilot asks for.
MAX_TEST_SAMPLES = 2_000_000
CHUNK = 32_768


@dataclass(frozen=True)
class TestLoss:
    """A test-loss estimate.

    Attributes
    ----------
    loss : float
    ci95 : tuple of float
        95% confidence interval ``loss ± 1.96·se``.
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


def per_prompt_losses(spec: Spec, n: int, eff: Effective, task: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """Rao–Blackwellised losses ``(w − β)ᵀΣ_x(w − β)`` of ``count`` fresh prompts of one task (σ² excluded)."""
    out = []
    done = 0
    while done < count:
        m = min(CHUNK, count - done)
        data = sample_batch(spec, n, m, rng, task=task)
        tokens = np.concatenate([data.X, data.y[..., None]], axis=-1)
        err = effective_estimate(eff, gram(tokens), np.full(m, task)) - data.beta
        out.append(np.einsum("bi,ij,bj->b", err, spec.x_cov, err))
        done += m
    return np.concatenate(out)


def _stratified(spec: Spec, n: int, eff: Effective, per_task: np.ndarray, rng: np.random.Generator):
    means, variances = [], []
    for k, m in enumerate(per_task):
        losses = per_prompt_losses(spec, n, eff, k, int(m), rng)
        means.append(losses.mean())
        variances.append(losses.var(ddof=1))
    pi = spec.weights
    mean = float(pi @ np.array(means)) + spec.noise**2
    se = float(np.sqrt(np.sum(pi**2 * np.array(variances) / per_task)))
    return mean, se


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
    """Test loss of ``model`` on fresh prompts, with a 95% interval of relative half-width ≤ ``rel_halfwidth``.

    A pilot of ``pilot`` prompts estimates the per-prompt variance; the main sample (fresh, so the
    estimate is not conditioned on the pilot) is sized to reach the target with 20% margin, capped
    at ``max_samples``.  Deterministic given ``rng``'s state.
    """
    if not 0 < rel_halfwidth < 1:
        raise ValueError(f"rel_halfwidth must be in (0, 1), got {rel_halfwidth}")
    eff = effective(model, spec.K) if isinstance(model, AttentionParams) else model
    pi = spec.weights
    pilot_k = np.maximum(np.round(pi * pilot).astype(int), 2)
    mean, se = _stratified(spec, n, eff, pilot_k, rng)
    # se scales as 1/√N under proportional allocation: N = N_pilot·(se/target)²
    target = rel_halfwidth * mean / Z95
    need = int(math.ceil(1.2 * pilot_k.sum() * (se / target) ** 2)) if target > 0 else pilot
    total = int(min(max(need, pilot), max_samples))
    per_task = np.maximum(np.round(pi * total).astype(int), 2)
    mean, se = _stratified(spec, n, eff, per_task, rng)
    return TestLoss(mean, (mean - Z95 * se, mean + Z95 * se), se, int(per_task.sum()))


@dataclass(frozen=True)
class SeedSummary:
    """Test losses of several runs (seeds) of one configuration.

    Attributes
    ----------
    mean, sd : float
        Mean and sample standard deviation across seeds.
    best : float
        Smallest test loss (the paper's figures show the minimum over 50 runs).
    best_seed : int
    count : int
    """

    mean: float
    sd: float
    best: float
    best_seed: int
    count: int


def summarize(losses: "list[float] | np.ndarray", seeds: "list[int] | None" = None) -> SeedSummary:
    """Mean, spread and best of per-seed test losses."""
    arr = np.asarray(losses, dtype=float)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError("need a non-empty list of losses")
    seeds = list(range(arr.size)) if seeds is None else list(seeds)
    i = int(np.argmin(arr))
    sd = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
    return SeedSummary(float(arr.mean()), sd, float(arr[i]), int(seeds[i]), int(arr.size))


test_loss.__test__ = False  # a library function, not a pytest test, when imported into test modules
