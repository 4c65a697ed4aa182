"""The training risk's sufficient statistics: per-task moments of the Gram matrix and the task vector.

The effective model ``ŷ = xᵀ(A G b_k + c_k)`` (:mod:`prompticl.attention`) has, with the query
integrated out, the risk ``E[(w − β)ᵀΣ_x(w − β)] + σ²`` with ``w = A G b_k + c_k``: a quartic
polynomial whose coefficients are the moments of ``G⊗G``, ``β⊗G``, ``G``, ``β`` and ``ββᵀ`` per task
(:class:`SampleStats`).  :func:`sample_stats` computes them from a seeded training sample; the
optimisers in :mod:`prompticl.training` only ever see these moments.  Chapter 07 explains the reduction.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .attention import Effective
from .progress import progress_bar
from .sampling import sample_grams, task_counts
from .spec import Spec

__all__ = ["SampleStats", "sample_stats", "empirical_risk", "b_quadratic", "layer_loss", "layer_grad_hess", "loss_grad_hess"]

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


def b_quadratic(st: SampleStats, k: int, A: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Task ``k``'s mean risk as ``bᵀ H b + 2 lᵀ b + const`` for fixed ``(A, c_k)``."""
    sx = st.x_cov
    M = A.T @ sx @ A
    H = np.einsum("ijlm,jl->im", st.GG[k], M)
    SA = sx @ A
    l = st.G[k] @ (A.T @ sx @ c) - np.einsum("ai,aij->j", SA, st.BG[k])
    const = c @ sx @ c - 2 * c @ sx @ st.beta[k] + np.trace(sx @ st.BB[k])
    return 0.5 * (H + H.T), l, float(const)


def empirical_risk(st: SampleStats, eff: Effective) -> float:
    """Exact training risk ``Σ_k π_k mean_k[(w − β)ᵀΣ_x(w − β)] + σ²`` at effective parameters."""
    total = 0.0
    for k, pi in enumerate(st.weights):
        H, l, const = b_quadratic(st, k, eff.A, eff.c[k])
        b = eff.b[k]
        total += pi * (b @ H @ b + 2 * l @ b + const)
    return float(total + st.noise**2)


def layer_loss(st: SampleStats, eff: Effective) -> float:
    """``Σ_k π_k E_k[(A G b_k + c_k − β)ᵀΣ_x(…)] + σ²`` (equals :func:`empirical_risk`)."""
    return loss_grad_hess(st, eff, order=0)[0]


def layer_grad_hess(st: SampleStats, eff: Effective) -> tuple[float, np.ndarray, np.ndarray]:
    """Loss, exact gradient and exact Hessian in the full coordinates ``z = (vec A, vec b, vec c)``.

    Chapter 08.  Per task, with ``U = E[G b bᵀ G]``, ``ḡ = E[G] b``, ``V = E[β (G b)ᵀ]`` and
    ``M = AᵀΣ_xA``: ``∇_A = 2Σ_x(AU + c ḡᵀ − V)``, ``∇_c = 2Σ_x(Aḡ + c − μ)``,
    ``∇_b = 2(E[GMG] b + E[G]AᵀΣ_x c − E[G AᵀΣ_xβ])``; the Hessian blocks are their derivatives
    (``∇²_AA = 2Σ_x ⊗ U``, ``∇²_cc = 2Σ_x``, ``∇²_bb = 2E[GMG]``, …), weighted by ``π_k``.
    """
    loss, g, H = loss_grad_hess(st, eff, order=2)
    return loss, g, H


def loss_grad_hess(st: SampleStats, eff: Effective, order: int):
    """The risk and, for ``order`` ≥ 1 / ≥ 2, its exact gradient / Hessian (``None`` otherwise); chapter 08."""
    A, b, c = eff.A, eff.b, eff.c
    sx = st.x_cov
    d, D = A.shape
    K = st.weights.shape[0]
    nA, nb = d * D, K * D
    nz = nA + nb + K * d
    loss = float(st.noise**2)
    g = np.zeros(nz) if order >= 1 else None
    H = np.zeros((nz, nz)) if order >= 2 else None
    SA = sx @ A
    M = A.T @ SA
    for k, pi in enumerate(st.weights):
        GG, BG, Gm, mu, BB = st.GG[k], st.BG[k], st.G[k], st.beta[k], st.BB[k]
        bk, ck = b[k], c[k]
        U = np.einsum("ijlm,j,m->il", GG, bk, bk)
        gb = Gm @ bk
        V = np.einsum("aij,j->ai", BG, bk)
        Sc = sx @ ck
        loss += pi * float(
            np.sum(SA * (A @ U)) + 2 * Sc @ A @ gb - 2 * np.sum(SA * V) + ck @ Sc - 2 * Sc @ mu + np.sum(sx * BB)
        )
        if order < 1:
            continue
        sb = slice(nA + k * D, nA + (k + 1) * D)
        sc = slice(nA + nb + k * d, nA + nb + (k + 1) * d)
        Hm = np.einsum("ijlm,jl->im", GG, M)
        Hm = 0.5 * (Hm + Hm.T)
        gA = 2 * sx @ (A @ U + np.outer(ck, gb) - V)
        g[:nA] += pi * gA.ravel()
        g[sb] += pi * 2 * (Hm @ bk + Gm @ (A.T @ Sc) - np.einsum("ai,aij->j", SA, BG))
        g[sc] += pi * 2 * (SA @ gb + Sc - sx @ mu)
        if order < 2:
            continue
        H[:nA, :nA] += pi * 2 * np.kron(sx, U)
        H[:nA, sc] += pi * 2 * np.einsum("pq,i->piq", sx, gb).reshape(nA, d)
        H[sc, sc] += pi * 2 * sx
        H[sb, sb] += pi * 2 * Hm
        H[sb, sc] += pi * 2 * Gm @ SA.T
        Y = np.einsum("irlm,m->ilr", GG, bk)
        dAb = 2 * np.einsum("pl,lir->pir", SA, Y + Y.transpose(1, 0, 2))
        dAb += 2 * np.einsum("p,ir->pir", Sc, Gm)
        dAb -= 2 * np.einsum("pa,air->pir", sx, BG)
        H[:nA, sb] += pi * dAb.reshape(nA, D)
    if H is not None:
        H[nA:, :nA] = H[:nA, nA:].T
        H[nA + nb :, nA : nA + nb] = H[nA : nA + nb, nA + nb :].T
        H = 0.5 * (H + H.T)
    return loss, g, H


# ----------------------------------------------------------------------------- optimisation and certificate
