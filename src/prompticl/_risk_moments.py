"""Sufficient statistics of the training risk, sampled or exact

The risk of the effective model ``ŷ = xᵀ(A G b_k + c_k)`` (:func:`empirical_risk`, module ``_risk``)
is a polynomial in per-task moments of ``G = Σ_{t≤n} z_t z_tᵀ`` (the ``n`` context tokens
``z = (x, y)``, query excluded, no normalisation), ``β`` and their products, collected in
:class:`SampleStats`.  :func:`sample_stats` computes them from a seeded training sample (chapter 7);
:func:`population_stats` gives them *exactly*, so that the same solver that fits a sample finds the
layer's population optimum (chapter 8, "Beyond the paper: the layer's own optimum").

Derivation (chapter 8, Lemmas 8.1 and 8.2, Proposition 8.1).  Given ``β``, the tokens are i.i.d. ``N(0, C(β))`` with
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
:func:`population_moments` keeps the same expectations as (d+1)²-sized pieces (``E p``, ``E[ppᵀ]``,
``E[βpᵀ]`` of the label column) and contracts them in ``O(D³)`` (:class:`ExactMoments`, issue 23).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._limits import check_context_length
from ._progress import progress_bar
from ._sampling import gram_chunks, task_counts
from ._spec import Spec

#: Prompts per chunk when accumulating moments (bounds memory at about 100 MB for n = 50).
CHUNK = 16_384


@dataclass(frozen=True)
class SampleStats:
    r"""Per-task moments of :math:`(G, \beta)`: the sufficient statistics of the training risk.

    Each moment is a mean over the prompts of one task: a sample mean (:func:`sample_stats`, the
    training sample of chapter 7) or an exact expectation (:func:`population_stats`, chapter 8,
    Proposition 8.1). :math:`G` is the context Gram matrix (query excluded, no normalisation).
    These are the coefficients of the risk of chapter 8, Theorem 8.1, which :func:`empirical_risk`
    evaluates.

    Attributes
    ----------
    weights : ndarray, shape (K,)
        Task probabilities :math:`\pi_k` (the risk is :math:`\sum_k \pi_k` times the mean over task
        :math:`k`).
    GG : ndarray, shape (K, D, D, D, D)
        Mean of :math:`G_{ij}G_{lm}`.
    BG : ndarray, shape (K, d, D, D)
        Mean of :math:`\beta_aG_{ij}`.
    G : ndarray, shape (K, D, D)
        Mean of :math:`G`.
    beta : ndarray, shape (K, d)
        Mean of :math:`\beta`.
    BB : ndarray, shape (K, d, d)
        Mean of :math:`\beta\beta^\top`.
    counts : ndarray of int, shape (K,)
        Prompts drawn per task (zero for exact moments: nothing was drawn).
    x_cov : ndarray, shape (d, d)
        Feature covariance :math:`\Sigma_x`.
    noise : float
        Label-noise standard deviation :math:`\sigma`.
    n : int
        Context length.
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
    r"""Draw a stratified training sample of about ``samples`` prompts and return its moments.

    The training sample of chapter 7: task :math:`k` gets :math:`N_k = \max(\operatorname{round}(\pi_kN), 2)`
    prompts (so the total is about :math:`N`), whose context Gram matrices :math:`G^{(i)}` and task
    vectors :math:`\beta^{(i)}` are drawn by :func:`sample_grams`; the moments are the per-task means

    .. math::

        \widehat{\mathbb E}_k[G\otimes G] = \frac{1}{N_k}\sum_{i=1}^{N_k} G^{(i)}\otimes G^{(i)}, \qquad
        \widehat{\mathbb E}_k[\beta\otimes G] = \frac{1}{N_k}\sum_{i=1}^{N_k} \beta^{(i)}\otimes G^{(i)},

    and likewise for :math:`G`, :math:`\beta` and :math:`\beta\beta^\top`. The risk
    :func:`empirical_risk` of these moments is the training risk of the sample; its cost no longer
    depends on :math:`N` or :math:`n`.

    Parameters
    ----------
    spec : Spec
        The task mixture.
    n : int
        Context length.
    samples : int
        Total number :math:`N` of prompts (approximately; at least two per task).
    rng : numpy.random.Generator
        Source of the sample (e.g. the training stream of :func:`seed_streams`).
    progress : bool
        Show a progress bar.

    Returns
    -------
    SampleStats
        The per-task sample moments, with the counts :math:`N_k`.
    """
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
        for G, beta in gram_chunks(spec, n, counts[k], rng, k, CHUNK):
            Gf = G[:, iu, ju]
            GG[k] += Gf.T @ Gf
            BG[k] += beta.T @ Gf
            Gm[k] += Gf.sum(0)
            bm[k] += beta.sum(0)
            BB[k] += beta.T @ beta
            if bar is not None:
                bar.update(len(beta))
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

    Chapter 8.  Returns an array of shape (D, D), ``D = d + 1``.
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
    r"""Exact per-task population moments of :math:`(G, \beta)` at context length ``n``, as a :class:`SampleStats`.

    Chapter 8, Proposition 8.1 (equations (8.4) and (8.5)). For task :math:`k`, with
    :math:`\beta \sim \mathcal N(\mu, S)`, :math:`\mu = \mu_k`, :math:`S = \Sigma_k`, :math:`B = \Sigma_x`,
    the token covariance :math:`C(\beta)` of Lemma 8.1 (equation (8.2)) and its label column
    :math:`\delta(\beta) = (B\beta,\ \beta^\top B\beta + \sigma^2)`,

    .. math::

        \mathbb E\,\delta &= \bigl(B\mu,\ \mu^\top B\mu + \operatorname{tr}(BS) + \sigma^2\bigr),\\
        \operatorname{Cov}(\beta, \delta) &= \bigl[SB,\ 2SB\mu\bigr],\\
        \operatorname{Cov}\delta &= \begin{pmatrix} BSB & 2BSB\mu\\ 2\mu^\top BSB &
            4\mu^\top BSB\mu + 2\operatorname{tr}(BSBS) \end{pmatrix},\\
        T &= \mathbb E[C\otimes C] = \mathbb E C\otimes\mathbb E C + \operatorname{Cov}(C, C),\\
        \mathbb E[G_{ij}G_{kl}] &= n^2T_{ijkl} + n\bigl(T_{ikjl} + T_{iljk}\bigr),\\
        \mathbb E[\beta_aG_{ij}] & = n\bigl(\mu_a\,\mathbb E C_{ij} + \operatorname{Cov}(\beta_a, C_{ij})\bigr),\\
        \mathbb E G &= n\,\mathbb E C, \qquad \mathbb E\beta = \mu, \qquad
        \mathbb E[\beta\beta^\top] = S + \mu\mu^\top ,

    where :math:`\operatorname{Cov}(C, C)` and :math:`\operatorname{Cov}(\beta, C)` are those of
    :math:`\delta` in the label row and column of :math:`C` and zero elsewhere. The fields hold these
    expectations instead of sample means (same layout and normalisation), so :func:`empirical_risk`
    of them is the exact population loss :math:`\mathbb E[(\hat y - y)^2]` of the layer (Theorem 8.1,
    label noise included), and the trainer's alternating least-squares solver (``_als.als``, as in
    :func:`train_als`) finds the population optimum on them. Exact, with no sampling; the cost is
    :math:`O(KD^4)`, independent of ``n``. ``counts`` is zero for every task: no sample was drawn.

    Parameters
    ----------
    spec : Spec
        The task mixture.
    n : int
        Context length (``>= 1``).

    Returns
    -------
    SampleStats
        The exact per-task moments.

    Raises
    ------
    ValueError
        If ``n`` is not an integer ``>= 1``.
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


# ----------------------------------------------------------------------------- contractions, O(D³)
# The risk, its gradient, Hessian-vector products and the least-squares steps of ALS need the
# moments only through four contractions per task: E[G X G] for a symmetric X, E[β (Gb)ᵀ],
# E[G Q β] and E[G].  ``SampleStats`` evaluates them on its (d+1)⁴ tensor; ``ExactMoments``
# evaluates them in O(D³) without ever forming it.


def _gxg_dense(st: SampleStats, k: int, X: np.ndarray) -> np.ndarray:
    return np.einsum("ijlm,...jl->...im", st.GG[k], X)


def _betag_dense(st: SampleStats, k: int, b: np.ndarray) -> np.ndarray:
    return np.einsum("aij,...j->...ai", st.BG[k], b)


def _gbeta_dense(st: SampleStats, k: int, Q: np.ndarray) -> np.ndarray:
    return np.einsum("aij,...ja->...i", st.BG[k], Q)


SampleStats.gxg = _gxg_dense  # type: ignore[attr-defined]
SampleStats.betag = _betag_dense  # type: ignore[attr-defined]
SampleStats.gbeta = _gbeta_dense  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ExactMoments:
    r"""The exact moments of :func:`population_stats`, kept as (d+1)²-sized pieces (chapter 8).

    Given :math:`\beta`, :math:`C(\beta) = C_0 + e p^\top + p e^\top` with :math:`C_0 =
    \operatorname{diag}(\Sigma_x, 0)`, :math:`e` the label axis and :math:`p(\beta) = (\Sigma_x\beta,
    (\beta^\top\Sigma_x\beta + \sigma^2)/2)`.  The Wishart moments give, for symmetric :math:`X`,
    :math:`\mathbb E[GXG\mid\beta] = n(n+1)\,CXC + n\operatorname{tr}(CX)\,C`, whose average over
    :math:`\beta` needs only :math:`m = \mathbb E p`, :math:`P = \mathbb E[pp^\top]` and
    :math:`R = \mathbb E[\beta p^\top]` (Gaussian moments of :math:`\beta` up to order four).  Every
    contraction then costs :math:`O(D^3)`; nothing of size :math:`D^4` is formed.
    """

    weights: np.ndarray
    C0: np.ndarray
    m: np.ndarray  # (K, D)
    P: np.ndarray  # (K, D, D)
    R: np.ndarray  # (K, d, D)
    G: np.ndarray  # (K, D, D): E[G]
    beta: np.ndarray
    BB: np.ndarray
    counts: np.ndarray
    x_cov: np.ndarray
    noise: float
    n: int

    def gxg(self, k: int, X: np.ndarray) -> np.ndarray:
        """``E_k[G X G]`` for symmetric ``X`` of shape (..., D, D) (a stack is contracted at once)."""
        C0, m, P, n = self.C0, self.m[k], self.P[k], self.n
        xe = X[..., :, -1]
        q = xe @ P
        C0X = C0 @ X
        a = xe @ C0
        v = C0X @ m
        out = n * (n + 1) * (C0X @ C0 + a[..., :, None] * m + m[:, None] * a[..., None, :] + X[..., -1, -1][..., None, None] * P)
        out += n * np.sum(C0 * X, axis=(-2, -1))[..., None, None] * (self.G[k] / n)
        out += 2 * n * (xe @ m)[..., None, None] * C0
        edge = n * (n + 1) * (v + q) + 2 * n * q
        out[..., :, -1] += edge
        out[..., -1, :] += edge
        out[..., -1, -1] += n * (n + 1) * np.sum(X * P, axis=(-2, -1))
        return out

    def betag(self, k: int, b: np.ndarray) -> np.ndarray:
        """``E_k[β (G b)ᵀ]``, shape (..., d, D) for ``b`` of shape (..., D)."""
        R = self.R[k]
        out = self.beta[k][:, None] * (b @ self.C0)[..., None, :] + b[..., -1, None, None] * R
        out[..., :, -1] += b @ R.T
        return self.n * out

    def gbeta(self, k: int, Q: np.ndarray) -> np.ndarray:
        """``E_k[G Q β]``, shape (..., D) for ``Q`` of shape (..., D, d)."""
        R = self.R[k]
        out = (Q @ self.beta[k]) @ self.C0 + Q[..., -1, :] @ R
        out[..., -1] += np.sum(Q * R.T, axis=(-2, -1))
        return self.n * out


def _exact_task(B: np.ndarray, mu: np.ndarray, S: np.ndarray, noise: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``m = E p``, ``P = E[p pᵀ]``, ``R = E[β pᵀ]`` of ``p = (Bβ, (βᵀBβ + σ²)/2)``, ``β ~ N(μ, S)``."""
    d = B.shape[0]
    SB = S @ B
    BSB = B @ SB
    BSBmu = BSB @ mu
    m = np.empty(d + 1)
    m[:d] = B @ mu
    m[d] = 0.5 * (mu @ B @ mu + np.trace(SB) + noise**2)
    cov = np.empty((d + 1, d + 1))
    cov[:d, :d] = BSB
    cov[:d, d] = cov[d, :d] = BSBmu
    cov[d, d] = mu @ BSBmu + 0.5 * np.sum(SB * SB.T)
    R = np.outer(mu, m)
    R[:, :d] += SB
    R[:, d] += SB @ mu
    return m, cov + np.outer(m, m), R


def population_moments(spec: Spec, n: int) -> ExactMoments:
    """The exact moments of :func:`population_stats` as :class:`ExactMoments`: ``O(K d³)``, no (d+1)⁴ tensor (chapter 8)."""
    n = check_context_length(n)
    d = spec.d
    D = d + 1
    C0 = np.zeros((D, D))
    C0[:d, :d] = spec.x_cov
    parts = [_exact_task(spec.x_cov, spec.means[k], spec.covs[k], spec.noise) for k in range(spec.K)]
    m, P, R = (np.stack(a) for a in zip(*parts))
    G = np.stack([n * (C0 + np.outer(np.eye(D)[-1], mk) + np.outer(mk, np.eye(D)[-1])) for mk in m])
    BB = np.stack([spec.covs[k] + np.outer(spec.means[k], spec.means[k]) for k in range(spec.K)])
    return ExactMoments(
        weights=spec.weights.copy(), C0=C0, m=m, P=P, R=R, G=G, beta=spec.means.copy(), BB=BB,
        counts=np.zeros(spec.K, dtype=int), x_cov=spec.x_cov.copy(), noise=float(spec.noise), n=n,
    )
