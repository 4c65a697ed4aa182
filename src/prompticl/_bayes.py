r"""The Bayes floor: the least loss of any predictor, blind or task-aware

For one prompt ``D = (X, y)`` of ``n`` examples and a query ``x``, the predictor with the least
loss ``E[(ŷ − y)²]`` is the posterior mean ``ŷ = xᵀ E[β | D]`` and its loss is

    ``σ² + E tr(Σ_x Cov(β | D))``                                        (Proposition 9.1)

because the query is independent of ``(β, D)``.  Two floors, one per kind of regime:

* **task-blind** (``plain``): the posterior under the whole mixture prior, a Gaussian mixture whose
  weights depend on ``y`` (:func:`posterior_mean` with ``task=None``);
* **task-aware** (``finetune``, ``joint``, ``joint-heads``): the posterior under the task's own
  Gaussian prior ``N(μ_k, Σ_k)``, whose covariance does not depend on ``y``.

Everything is computed in whitened coordinates (``x = Σ_x^{1/2} g``, ``β' = Σ_x^{1/2}β``), where the
loss is ``σ² + E tr Cov(β' | D)``.  Exact values (standard error 0) where Chapter 9 proves a
closed form:

* ``n = 0``: task-aware ``σ² + tr Σ̄``, task-blind ``σ² + tr Σ̄ + tr M − ‖μ̄‖²``;
* ``σ = 0`` and ``n ≥ rank Σ_k'``: the task-aware posterior covariance is 0 (the context pins β' on
  the range of ``Σ_k'``), so the task-aware floor is 0 when every task has ``n ≥ rank``; with ``σ = 0``
  and ``n ≥ d`` the task-blind floor is 0 as well (least squares recovers β exactly);
* ``σ = 0`` and a whitened covariance ``c I``: ``tr Cov = c (d − n)`` for ``n < d``.

Otherwise the floor is a Monte Carlo average of the **exact** conditional risk ``tr Cov(β' | D)``
over seeded draws of ``D`` (the average over β given ``D`` is done in closed form), reported with its
standard error.

Chapter 9 derives all of it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ._regimes import REGIMES
from ._spec import Spec

__all__ = ["BayesFloor", "bayes_floor", "posterior_mean", "aware_bounds", "BAYES_SAMPLES"]

#: Default Monte Carlo draws of the prompt per context length (the conditional risk is exact, so the
#: standard error is about 1% of the floor or less at d = 10).
BAYES_SAMPLES = 4000
#: Draws per block (bounds memory: a block holds K·block SVDs of n×d matrices).
_BLOCK = 2000
#: Singular values below this fraction of the largest one count as zero (σ = 0 projections).
_RANK_TOL = 1e-10


@dataclass(frozen=True)
class BayesFloor:
    r"""The Bayes floors of a spec at some context lengths (Chapter 9, Proposition 9.1).

    Attributes
    ----------
    n : ndarray of int
        Context lengths.
    blind, blind_se : ndarray
        Task-blind floor (posterior mean under the mixture prior) and its Monte Carlo standard error
        (0 where the value is exact).
    aware, aware_se : ndarray
        Task-aware floor (posterior mean under the task's own prior), averaged over tasks with
        weights π_k, and its standard error (0 where exact).
    exact_blind, exact_aware : ndarray of bool
        Which values are closed forms rather than Monte Carlo.
    samples : int
        Monte Carlo draws per context length.
    seed : int
        The seed of the draws.
    """

    n: np.ndarray
    blind: np.ndarray
    blind_se: np.ndarray
    aware: np.ndarray
    aware_se: np.ndarray
    exact_blind: np.ndarray
    exact_aware: np.ndarray
    samples: int
    seed: int

    def by_regime(self) -> "tuple[dict[str, list[float]], dict[str, list[float]]]":
        """Floors and standard errors keyed by regime: ``plain`` is blind, the other three aware."""
        values = {r: [float(v) for v in (self.blind if r == "plain" else self.aware)] for r in REGIMES}
        ses = {r: [float(v) for v in (self.blind_se if r == "plain" else self.aware_se)] for r in REGIMES}
        return values, ses


def _task_factors(w: Spec) -> np.ndarray:
    """Symmetric square roots B_k of the whitened task covariances, shape (K, d, d)."""
    return w.cov_sqrts


def _component_posteriors(G: np.ndarray, y: np.ndarray, mean: np.ndarray, B: np.ndarray, noise: float,
                          with_likelihood: bool):
    r"""Posterior of β' under one Gaussian prior ``N(mean, B²)`` given ``y = Gβ' + ξ``, batched over prompts.

    With ``A = G B = U diag(s) Vᵀ`` (thin SVD):

    * posterior mean ``mean + B V diag(s/(s² + σ²)) Uᵀ r``, ``r = y − G mean``;
    * trace of the posterior covariance ``tr B² − Σ_j s_j²/(s_j² + σ²) ‖B v_j‖²``;
    * log marginal likelihood of ``y`` (``N(G mean, A Aᵀ + σ² I)``), up to ``−n/2 log 2π``.

    At ``σ = 0`` the ratios become 1 (and ``1/s_j``) on the nonzero singular values: the projection
    onto the row space of ``A``.
    """
    r = y - G @ mean
    A = G @ B
    U, s, Vt = np.linalg.svd(A, full_matrices=False)  # (N, n, q), (N, q), (N, q, d)
    if noise > 0:
        shrink = s**2 / (s**2 + noise**2)
        inv = s / (s**2 + noise**2)
    else:
        keep = s > _RANK_TOL * np.maximum(s[..., :1], 1e-300)
        shrink = keep.astype(float)
        inv = np.where(keep, 1.0 / np.where(keep, s, 1.0), 0.0)
    ur = np.einsum("bnq,bn->bq", U, r)
    post_mean = mean + np.einsum("de,bqe,bq->bd", B, Vt, inv * ur)
    BV = np.einsum("de,bqe->bqd", B, Vt)  # rows B v_j
    tr_cov = np.trace(B @ B) - np.einsum("bq,bq->b", shrink, np.einsum("bqd,bqd->bq", BV, BV))
    tr_cov = np.maximum(tr_cov, 0.0)
    if not with_likelihood:
        return post_mean, tr_cov, None
    n = G.shape[1]
    q = s.shape[1]
    if noise > 0:
        var = s**2 + noise**2
        resid = np.einsum("bn,bn->b", r, r) - np.einsum("bq,bq->b", ur, ur)
        quad = np.einsum("bq,bq->b", ur**2, 1.0 / var) + np.maximum(resid, 0.0) / noise**2
        logdet = np.log(var).sum(axis=1) + (n - q) * np.log(noise**2)
    else:
        # Noiseless, n < d, full-rank prior: y has a density on R^n (A Aᵀ invertible).
        quad = np.einsum("bq,bq->b", ur**2, 1.0 / s**2)
        logdet = np.log(s**2).sum(axis=1)
    return post_mean, tr_cov, -0.5 * (quad + logdet)


def _mixture_posterior(w: Spec, G: np.ndarray, y: np.ndarray, task: "np.ndarray | int | None"):
    """Posterior mean of β' and trace of its posterior covariance, under the mixture (``task=None``)
    or under each prompt's own task (``task`` an index or one index per prompt)."""
    B = _task_factors(w)
    N = G.shape[0]
    if task is not None:
        tasks = np.broadcast_to(np.asarray(task), (N,))
        mean = np.empty((N, w.d))
        tr = np.empty(N)
        for k in np.unique(tasks):
            rows = tasks == k
            m, t, _ = _component_posteriors(G[rows], y[rows], w.means[k], B[k], w.noise, False)
            mean[rows], tr[rows] = m, t
        return mean, tr
    means, trs, logs = [], [], []
    for k in range(w.K):
        m, t, ll = _component_posteriors(G, y, w.means[k], B[k], w.noise, True)
        means.append(m)
        trs.append(t)
        logs.append(ll + np.log(w.weights[k]))
    logs = np.stack(logs, axis=1)  # (N, K)
    post = np.exp(logs - logs.max(axis=1, keepdims=True))
    post /= post.sum(axis=1, keepdims=True)
    means = np.stack(means, axis=1)  # (N, K, d)
    mean = np.einsum("bk,bkd->bd", post, means)
    spread = np.einsum("bk,bk->b", post, ((means - mean[:, None, :]) ** 2).sum(axis=2))
    tr = np.einsum("bk,bk->b", post, np.stack(trs, axis=1)) + spread
    return mean, tr


def posterior_mean(spec: Spec, X: np.ndarray, y: np.ndarray, task: "np.ndarray | int | None" = None) -> np.ndarray:
    r"""The Bayes predictor's task vector ``E[β | X, y]`` for a batch of prompts (Chapter 9).

    Under the mixture prior (``task=None``, the task-blind posterior) or under the prior of each
    prompt's own task (the task-aware posterior).  Prediction for a query ``x`` is ``xᵀ E[β | X, y]``.

    Parameters
    ----------
    spec : Spec
        The task mixture.
    X : ndarray, shape (batch, n, d)
        Context features (original coordinates).
    y : ndarray, shape (batch, n)
        Context labels.
    task : int or ndarray of int, optional
        The task of every prompt (0-based), or one per prompt; ``None`` for the task-blind posterior.

    Returns
    -------
    ndarray, shape (batch, d)
        Posterior means of β in the original coordinates.

    Raises
    ------
    ValueError
        With σ = 0 and ``task=None`` when some task covariance is singular (the noiseless mixture
        posterior needs a density of ``y`` under every task).
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    if task is None:
        _require_blind_defined(spec, X.shape[1])
    w = spec.whitened()
    G = X @ np.linalg.inv(spec.x_sqrt)
    mean_w, _ = _mixture_posterior(w, G, y, task)
    return np.linalg.solve(spec.x_sqrt, mean_w.T).T


def _require_blind_defined(spec: Spec, n: int) -> None:
    if spec.noise == 0 and 0 < n < spec.d and spec.K > 1:
        eig = np.linalg.eigvalsh(spec.covs)
        if (eig[:, 0] <= 1e-12 * max(eig[:, -1].max(), 1e-300)).any():
            raise ValueError("the noiseless task-blind posterior needs positive definite task covariances "
                             "(with sigma = 0 a singular task covariance puts y on a subspace)")


def _ranks(w: Spec) -> np.ndarray:
    eig = np.linalg.eigvalsh(w.covs)
    return (eig > 1e-12 * max(eig.max(), 1e-300)).sum(axis=1)


def _isotropic_scale(cov: np.ndarray) -> "float | None":
    c = float(np.trace(cov)) / cov.shape[0]
    return c if np.allclose(cov, c * np.eye(cov.shape[0]), rtol=0, atol=1e-12 * max(abs(c), 1e-300)) else None


def _exact_aware(w: Spec, n: int) -> "float | None":
    """The task-aware floor where a closed form exists (Theorem 9.1), else ``None``."""
    noise2 = w.noise**2
    if n == 0:
        return noise2 + float(np.einsum("k,kii->", w.weights, w.covs))
    if w.noise > 0:
        return None
    ranks = _ranks(w)
    total = 0.0
    for k in range(w.K):
        if n >= ranks[k]:
            continue
        c = _isotropic_scale(w.covs[k])
        if c is None:
            return None
        total += w.weights[k] * c * (w.d - n)
    return total


def _exact_blind(w: Spec, n: int) -> "float | None":
    noise2 = w.noise**2
    if n == 0:
        mbar = w.weights @ w.means
        second = np.einsum("k,kii->", w.weights, w.covs) + np.einsum("k,kd,kd->", w.weights, w.means, w.means)
        return noise2 + float(second - mbar @ mbar)
    if w.K == 1:
        return _exact_aware(w, n)
    if w.noise == 0 and n >= w.d:
        return 0.0
    return None


def aware_bounds(spec: Spec, n: int) -> "tuple[float, float]":
    r"""Closed-form bounds on the task-aware floor at ``σ > 0`` (Chapter 9, Proposition 9.2).

    Lower (Jensen: ``S ↦ tr((Σ'^{-1} + S/σ²)^{-1})`` is convex and ``E S = nI``):
    ``σ² + Σ_k π_k tr((Σ_k'^{-1} + (n/σ²) I)^{-1})``, written as ``Σ_j λ σ²/(σ² + nλ)`` over the
    eigenvalues λ of Σ_k' (so singular covariances are allowed); at ``σ = 0`` the sum of the
    ``d − n`` smallest eigenvalues (Ky Fan: the posterior covariance is ``Σ'^{1/2}(I − P)Σ'^{1/2}``
    for a rank-``n`` projection ``P``).  Upper: the posterior covariance is
    below the prior's, and for ``n ≥ d + 2`` below ``σ² S^{-1}`` whose mean is ``σ² I/(n − d − 1)``:
    ``σ² + Σ_k π_k min(tr Σ_k', σ² d/(n − d − 1))``.

    Parameters
    ----------
    spec : Spec
        The task mixture.
    n : int
        Context length.

    Returns
    -------
    (lower, upper) : tuple of float
        Bounds on the task-aware floor (both equal ``σ² + tr Σ̄`` at ``n = 0``).
    """
    w = spec.whitened()
    noise2 = w.noise**2
    eig = np.clip(np.linalg.eigvalsh(w.covs), 0.0, None)  # (K, d)
    if noise2 > 0:
        per = (eig * noise2 / (noise2 + n * eig)).sum(axis=1)
    else:
        # Ky Fan: tr Σ(I − P) over rank-n projections P is least on the top-n eigenvectors.
        per = np.array([0.0 if n >= r else float(np.sort(e)[: w.d - n].sum()) for e, r in zip(eig, _ranks(w))])
    lower = noise2 + float(w.weights @ per)
    prior = eig.sum(axis=1)
    if noise2 > 0 and n >= w.d + 2:
        prior = np.minimum(prior, noise2 * w.d / (n - w.d - 1))
    upper = noise2 + float(w.weights @ prior)
    return lower, upper


def bayes_floor(spec: Spec, ns: "int | Sequence[int]", *, samples: int = BAYES_SAMPLES, seed: int = 0) -> BayesFloor:
    r"""Task-blind and task-aware Bayes floors at each context length (Chapter 9, Theorem 9.1).

    Closed forms where they exist (standard error 0); elsewhere the mean of the exact conditional
    risk ``σ² + tr Cov(β' | D)`` over ``samples`` seeded draws of the prompt ``D``, with its standard
    error.  Each context length uses its own stream derived from ``seed``, so a value does not depend
    on which other lengths are asked for.

    Parameters
    ----------
    spec : Spec
        The task mixture.
    ns : int or sequence of int
        Context lengths (``>= 0``).
    samples : int
        Monte Carlo draws per context length (``>= 2``).
    seed : int
        Seed of the draws.

    Returns
    -------
    BayesFloor
        The floors, their standard errors and which values are exact.
    """
    ns_arr = np.atleast_1d(np.asarray(ns, dtype=int))
    if (ns_arr < 0).any():
        raise ValueError(f"context lengths must be >= 0, got {ns_arr.tolist()}")
    if samples < 2:
        raise ValueError(f"need samples >= 2, got {samples}")
    w = spec.whitened()
    out = {key: np.zeros(len(ns_arr)) for key in ("blind", "blind_se", "aware", "aware_se")}
    ex_b = np.zeros(len(ns_arr), dtype=bool)
    ex_a = np.zeros(len(ns_arr), dtype=bool)
    for i, n in enumerate(ns_arr):
        n = int(n)
        aware = _exact_aware(w, n)
        blind = _exact_blind(w, n)
        if aware is not None and blind is None and w.K == 1:
            blind = aware
        if blind is None:
            _require_blind_defined(spec, n)
        if aware is None or blind is None:
            rng = np.random.default_rng([seed, n])
            a_draws, b_draws = _draw_risks(w, n, samples, rng, need_blind=blind is None, need_aware=aware is None)
        if aware is None:
            out["aware"][i], out["aware_se"][i] = _mean_se(a_draws)
        else:
            out["aware"][i], ex_a[i] = aware, True
        if blind is None:
            out["blind"][i], out["blind_se"][i] = _mean_se(b_draws)
        else:
            out["blind"][i], ex_b[i] = blind, True
    return BayesFloor(ns_arr, out["blind"], out["blind_se"], out["aware"], out["aware_se"], ex_b, ex_a,
                      int(samples), int(seed))


def _mean_se(draws: np.ndarray) -> "tuple[float, float]":
    from ._montecarlo import mean_and_se

    m, se = mean_and_se(draws)
    return float(m), float(se)


def _draw_risks(w: Spec, n: int, samples: int, rng: np.random.Generator, *, need_blind: bool, need_aware: bool):
    """Exact conditional risks ``σ² + tr Cov(β' | D)`` at ``samples`` draws of ``D`` from the mixture.

    The task-aware risk is averaged over tasks inside each draw (its weights π_k are known, so there
    is no need to sample the task): the draw is ``Σ_k π_k tr Cov_k(G)`` for one ``G``."""
    noise2 = w.noise**2
    B = _task_factors(w)
    aware, blind = [], []
    done = 0
    while done < samples:
        m = min(_BLOCK, samples - done)
        done += m
        G = rng.standard_normal((m, n, w.d))
        tasks = rng.choice(w.K, size=m, p=w.weights)
        g = rng.standard_normal((m, w.d))
        beta = w.means[tasks] + np.einsum("bij,bj->bi", B[tasks], g)
        y = np.einsum("bnd,bd->bn", G, beta) + w.noise * rng.standard_normal((m, n))
        if need_aware:
            total = np.zeros(m)
            for k in range(w.K):
                _, t, _ = _component_posteriors(G, y, w.means[k], B[k], w.noise, False)
                total += w.weights[k] * t
            aware.append(noise2 + total)
        if need_blind:
            _, t = _mixture_posterior(w, G, y, None)
            blind.append(noise2 + t)
    cat = lambda parts: np.concatenate(parts) if parts else None  # noqa: E731
    return cat(aware), cat(blind)
