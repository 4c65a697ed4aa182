"""The training risk's sufficient statistics (:class:`SampleStats`), sampled or exact.

The risk of the effective model ``ŷ = xᵀ(A G b_k + c_k)`` (:mod:`prompticl._risk`) is a polynomial in
per-task moments of ``G = Σ_{t≤n} z_t z_tᵀ`` (the ``n`` context tokens ``z = (x, y)``, query
excluded, no normalisation), ``β`` and their products.  :func:`sample_stats` computes them from a
seeded training sample (chapter 07); :func:`population_stats` gives them *exactly*, so that the same
solver that fits a sample finds the layer's population optimum
(book chapter 08, "Beyond the paper: the layer's own optimum").

Derivation.  Given ``β``, the tokens are i.i.d. ``N(0, C(β))`` with
``C(β) = [[Σ_x, Σ_xβ], [βᵀΣ_x, βᵀΣ_xβ + σ²]]``, so ``G | β`` is Wishart:
``E[G | β] = n C`` and ``E[G_ij G_kl | β] = n² C_ij C_kl + n (C_ik C_jl + C_il C_jk)``.  Averaging over
``β ~ N(μ, S)`` needs ``T = E[C ⊗ C]`` and ``E[β ⊗ C]``.  Only the label column of ``C`` is random:
with ``δ(β) = (Σ_xβ, βᵀΣ_xβ + σ²) ∈ R^D`` (the column ``C[:, y]``), ``C − E C`` is built from
``δ − E δ`` alone, and Gaussian moments up to order four give (``B = Σ_x``, ``ε = β − μ``)

* ``E δ = (Bμ, μᵀBμ + tr(BS) + σ²)``,
* ``Cov δ = [[BSB, 2BSBμ], [·, 4μᵀBSBμ + 2 tr(BSBS)]]`` (odd central moments vanish; the variance
  of a Gaussian quadratic form is ``2 tr((BS)²) + 4μᵀBSBμ``),
* ``Cov(β, δ) = [SB, 2SBμ]``.

Everything is exact (no sampling, no quadrature); the cost is ``O(K D⁴)``, independent of ``n``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._limits import check_context_length
from ._progress import progress_bar
from ._sampling import sample_grams, task_counts
from ._spec import Spec

#: Prompts per chunk when accumulating moments (bounds memory at about 100 MB for n = 50).
CHUNK = 16_384


@dataclass(frozen=True)
class SampleStats:
    """Moments of a training sample, per task, each already divided by the task's sample size.

    Attributes
    ----------
    weights : ndarray, shape (K,)
        Task probabilities π_k (the risk is Σ_k π_k · mean over task k).
    GG : ndarray, shape (K, D, D, D, D)
        Mean of ``G_ij G_lm``.
    BG : ndarray, shape (K, d, D, D)
        Mean of ``β_a G_ij``.
    G : ndarray, shape (K, D, D)
        Mean of ``G``.
    beta : ndarray, shape (K, d)
        Mean of ``β``.
    BB : ndarray, shape (K, d, d)
        Mean of ``ββᵀ``.
    counts : ndarray of int, shape (K,)
    x_cov : ndarray, shape (d, d)
    noise : float
    n : int
    """

    weights: np.ndarray
    GG: np.ndarray
    BG: np.ndarray
    G: np.ndarray
    beta: np.ndarray
    BB: np.ndarray
    counts: np.ndarray
    x_cov: np.ndarray
    noise: float
    n: int


def sample_stats(spec: Spec, n: int, samples: int, rng: np.random.Generator, progress: bool = False) -> SampleStats:
    """Draw a stratified training sample of about ``samples`` prompts and return its moments."""
    d, D, K = spec.d, spec.d + 1, spec.K
    counts = task_counts(spec.weights, samples)
    # G is symmetric: accumulate moments of its D(D+1)/2 distinct entries only (3.4x less work)
    iu, ju = np.triu_indices(D)
    P = iu.size
    GG = np.zeros((K, P, P))
    BG = np.zeros((K, d, P))
    Gm = np.zeros((K, P))
    bm = np.zeros((K, d))
    BB = np.zeros((K, d, d))
    bar = progress_bar(int(counts.sum()), progress, "sampling")
    for k in range(K):
        done = 0
        while done < counts[k]:
            m = int(min(CHUNK, counts[k] - done))
            G, beta = sample_grams(spec, n, m, rng, k)
            Gf = G[:, iu, ju]
            GG[k] += Gf.T @ Gf
            BG[k] += beta.T @ Gf
            Gm[k] += Gf.sum(0)
            bm[k] += beta.sum(0)
            BB[k] += beta.T @ beta
            done += m
            if bar is not None:
                bar.update(m)
        c = counts[k]
        GG[k] /= c
        BG[k] /= c
        Gm[k] /= c
        bm[k] /= c
        BB[k] /= c
    if bar is not None:
        bar.close()
    # index of each (i, j) of the full matrix in the packed upper triangle
    pos = np.empty((D, D), dtype=int)
    pos[iu, ju] = np.arange(P)
    pos[ju, iu] = np.arange(P)
    return SampleStats(
        weights=spec.weights.copy(),
        GG=GG[:, pos[:, :, None, None], pos[None, None, :, :]],
        BG=BG[:, :, pos],
        G=Gm[:, pos],
        beta=bm,
        BB=BB,
        counts=counts,
        x_cov=spec.x_cov.copy(),
        noise=float(spec.noise),
        n=int(n),
    )


def token_covariance(x_cov: np.ndarray, beta: np.ndarray, noise: float) -> np.ndarray:
    """``C(β)``: the covariance of one token ``z = (x, xᵀβ + ξ)`` given the task vector ``β``.

    Chapter 08.  Returns an array of shape (D, D), ``D = d + 1``.
    """
    d = x_cov.shape[0]
    bb = x_cov @ beta
    C = np.empty((d + 1, d + 1))
    C[:d, :d] = x_cov
    C[:d, d] = bb
    C[d, :d] = bb
    C[d, d] = beta @ bb + noise**2
    return C


def _label_index(D: int) -> tuple[np.ndarray, np.ndarray]:
    """For each entry (i, j) of a D×D matrix: does it lie in the label row/column, and which entry of δ it is.

    ``C_ij − E C_ij = δ_p − E δ_p`` with ``p = j`` if ``i`` is the label index, ``p = i`` if ``j`` is,
    and zero otherwise.
    """
    y = D - 1
    i, j = np.indices((D, D))
    mask = (i == y) | (j == y)
    p = np.where(i == y, j, i)
    return mask, p


def _task_moments(
    x_cov: np.ndarray, mean: np.ndarray, cov: np.ndarray, noise: float, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``E[G⊗G]``, ``E[β⊗G]``, ``E[G]``, ``E[ββᵀ]`` of one task (see the module docstring)."""
    B, mu, S = x_cov, mean, cov
    d = B.shape[0]
    D = d + 1
    BSB = B @ S @ B
    BSBmu = BSB @ mu
    Cbar = token_covariance(B, mu, 0.0)
    Cbar[d, d] += np.trace(B @ S) + noise**2
    V = np.empty((D, D))  # Cov δ
    V[:d, :d] = BSB
    V[:d, d] = V[d, :d] = 2 * BSBmu
    V[d, d] = 4 * mu @ BSBmu + 2 * np.trace(B @ S @ B @ S)
    Cbd = np.empty((d, D))  # Cov(β, δ)
    Cbd[:, :d] = S @ B
    Cbd[:, d] = 2 * S @ B @ mu
    mask, p = _label_index(D)
    # E[C_ij C_kl] = E C_ij E C_kl + Cov(C_ij, C_kl)
    cov_C = (mask[:, :, None, None] & mask[None, None, :, :]) * V[p[:, :, None, None], p[None, None, :, :]]
    T = np.einsum("ij,kl->ijkl", Cbar, Cbar) + cov_C
    GG = n**2 * T + n * (np.einsum("ikjl->ijkl", T) + np.einsum("iljk->ijkl", T))
    EbC = np.einsum("a,ij->aij", mu, Cbar) + mask[None] * Cbd[:, p]
    return GG, n * EbC, n * Cbar, S + np.outer(mu, mu)


def population_stats(spec: Spec, n: int) -> SampleStats:
    """Exact per-task population moments of ``(G, β)`` at context length ``n``, as a :class:`SampleStats`.

    Chapter 08.  The fields hold expectations instead of sample means (same layout and
    normalisation), so :func:`prompticl._training.empirical_risk` of these statistics is the exact
    population loss ``E[(ŷ − y)²]`` (label noise included) and :func:`prompticl._als.als` on them
    finds the population optimum.  ``counts`` is zero for every task: no sample was drawn.

    Parameters
    ----------
    spec : Spec
    n : int
        Context length (``>= 1``).
    """
    n = check_context_length(n)
    parts = [_task_moments(spec.x_cov, spec.means[k], spec.covs[k], spec.noise, n) for k in range(spec.K)]
    GG, BG, G, BB = (np.stack(a) for a in zip(*parts))
    return SampleStats(
        weights=spec.weights.copy(),
        GG=GG,
        BG=BG,
        G=G,
        beta=spec.means.copy(),
        BB=BB,
        counts=np.zeros(spec.K, dtype=int),
        x_cov=spec.x_cov.copy(),
        noise=float(spec.noise),
        n=n,
    )
