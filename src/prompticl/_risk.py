"""Training risk of the effective model, its gradient and Hessian

The effective model ``ŷ = xᵀ(A G b_k + c_k)`` (:class:`Effective`) has, with the query integrated
out, the risk ``Σ_k π_k E_k[(w − β)ᵀΣ_x(w − β)] + σ²`` with ``w = A G b_k + c_k`` (chapter 8,
Theorem 8.1): a quartic polynomial whose coefficients are the moments of ``G⊗G``, ``β⊗G``, ``G``,
``β`` and ``ββᵀ`` per task (:class:`SampleStats`, sampled or exact).  One function per quantity:
:func:`empirical_risk` (the risk), ``b_quadratic`` (the risk as a quadratic in one task's ``b_k``,
for the least-squares solver) and ``loss_grad_hess`` (risk, gradient, Hessian).  Chapter 7
explains the reduction; chapter 8 uses the gradient and Hessian.
"""
from __future__ import annotations

import numpy as np

from ._attention import Effective
from ._risk_moments import SampleStats


def contract(st, k: int, *, X=None, b=None, Q=None) -> dict:
    """Several contractions of task ``k``'s moments at once: ``E[GXG]`` (``"GXG"``), ``E[(Gb)(Gb)ᵀ]`` and
    ``E[β(Gb)ᵀ]`` (``"U"``, ``"V"``), ``E[GQβ]`` (``"w"``).  Moments that re-draw their sample
    (``prompticl._streamed_stats``) do it in one pass; the others contract one by one."""
    if hasattr(st, "contract"):
        return st.contract(k, X=X, b=b, Q=Q)
    out = {}
    if X is not None:
        out["GXG"] = st.gxg(k, X)
    if b is not None:
        out["U"] = st.gxg(k, np.outer(b, b))
        out["V"] = st.betag(k, b)
    if Q is not None:
        out["w"] = st.gbeta(k, Q)
    return out


def b_quadratic(st: SampleStats, k: int, A: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Task ``k``'s mean risk as ``bᵀ H b + 2 lᵀ b + const`` for fixed ``(A, c_k)`` (O(D³) contractions)."""
    sx = st.x_cov
    M = A.T @ sx @ A
    SA = sx @ A
    t = contract(st, k, X=0.5 * (M + M.T), Q=SA.T)
    H = t["GXG"]
    l = st.G[k] @ (A.T @ sx @ c) - t["w"]
    const = c @ sx @ c - 2 * c @ sx @ st.beta[k] + np.trace(sx @ st.BB[k])
    return 0.5 * (H + H.T), l, float(const)


def empirical_risk(st: SampleStats, eff: Effective) -> float:
    r"""Exact training risk of the effective model at effective parameters, from per-task moments.

    Chapter 7 (the training risk, with the query integrated out) and chapter 8, Theorem 8.1
    (equation (8.6)): with :math:`w = AGb_k + c_k` and :math:`\mathbb E_k` the mean over task
    :math:`k` held in ``st`` (a sample mean, or the exact expectation of :func:`population_stats`),

    .. math::

        \mathcal R(A, b, c) &= \sum_k \pi_k\,\mathbb E_k\bigl[(w - \beta)^\top\Sigma_x(w - \beta)\bigr] + \sigma^2\\
        &= \sum_k \pi_k\Bigl(b_k^\top\,\mathbb E_k[GMG]\,b_k
            + 2\,b_k^\top\bigl(\mathbb E_k[G]A^\top\Sigma_xc_k - \mathbb E_k[GA^\top\Sigma_x\beta]\bigr)\\
        &\qquad\quad + c_k^\top\Sigma_xc_k - 2c_k^\top\Sigma_x\mathbb E_k\beta
            + \operatorname{tr}\bigl(\Sigma_x\mathbb E_k[\beta\beta^\top]\bigr)\Bigr) + \sigma^2,

    with :math:`M = A^\top\Sigma_xA`, so that only the moments of :class:`SampleStats` enter. On
    :func:`population_stats` it is the layer's exact population loss; on :func:`sample_stats`, the
    training risk of the sample (the query integrated out exactly).

    Parameters
    ----------
    st : SampleStats
        Per-task moments (sampled or exact), with the weights :math:`\pi_k`, :math:`\Sigma_x` and
        :math:`\sigma`.
    eff : Effective
        Effective parameters :math:`(A, b_k, c_k)`.

    Returns
    -------
    float
        The risk :math:`\mathcal R(A, b, c)`.
    """
    total = 0.0
    for k, pi in enumerate(st.weights):
        H, l, const = b_quadratic(st, k, eff.A, eff.c[k])
        b = eff.b[k]
        total += pi * (b @ H @ b + 2 * l @ b + const)
    return float(total + st.noise**2)


def loss_grad_hess(st: SampleStats, eff: Effective, order: int):
    """The risk and, for ``order`` ≥ 1 / ≥ 2, its exact gradient / Hessian (``None`` otherwise).

    Gradient and Hessian are in the full coordinates ``z = (vec A, vec b, vec c)`` (chapter 8).
    Per task, with ``U = E[G b bᵀ G]``, ``ḡ = E[G] b``, ``V = E[β (G b)ᵀ]`` and ``M = AᵀΣ_xA``: ``∇_A = 2Σ_x(AU + c ḡᵀ − V)``, ``∇_c = 2Σ_x(Aḡ + c − μ)``,
    ``∇_b = 2(E[GMG] b + E[G]AᵀΣ_x c − E[G AᵀΣ_xβ])``; the Hessian blocks are their derivatives
    (``∇²_AA = 2Σ_x ⊗ U``, ``∇²_cc = 2Σ_x``, ``∇²_bb = 2E[GMG]``, …), weighted by ``π_k``.
    """
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


class RiskPoint:
    """The risk at one point ``(A, b, c)``, its gradient and exact Hessian-vector products (chapter 8).

    Works on any moments with the contractions ``gxg``, ``betag``, ``gbeta`` (:class:`SampleStats`
    or the exact ``ExactMoments``): with ``U = E[G b bᵀ G]``, ``ḡ = E[G] b``, ``V = E[β (Gb)ᵀ]``,
    ``M = AᵀΣ_xA``, ``H = E[G M G]`` and ``w = E[G AᵀΣ_x β]`` per task, the gradient is
    ``∇_A = 2Σ_x(AU + c ḡᵀ − V)``, ``∇_b = 2(H b + E[G]AᵀΣ_x c − w)``, ``∇_c = 2Σ_x(Aḡ + c − μ)``, and a
    Hessian-vector product is its directional derivative, two more contractions per task: O(K D³)
    each, where the dense Hessian of :func:`loss_grad_hess` costs O(K D⁶) to form.
    Coordinates are the full ``z = (vec A, vec b, vec c)``.
    """

    def __init__(self, st, eff: Effective):
        self.st, self.eff = st, eff
        A, b, c = eff.A, eff.b, eff.c
        sx = st.x_cov
        self.SA = sx @ A
        M = A.T @ self.SA
        M = 0.5 * (M + M.T)
        self.terms = []
        loss = float(st.noise**2)
        for k, pi in enumerate(st.weights):
            bk, ck = b[k], c[k]
            U = st.gxg(k, np.outer(bk, bk))
            gb = st.G[k] @ bk
            V = st.betag(k, bk)
            Hm = st.gxg(k, M)
            Hm = 0.5 * (Hm + Hm.T)
            w = st.gbeta(k, self.SA.T)
            Sc = sx @ ck
            loss += pi * float(
                np.sum(self.SA * (A @ U)) + 2 * Sc @ A @ gb - 2 * np.sum(self.SA * V) + ck @ Sc - 2 * Sc @ st.beta[k]
                + np.sum(sx * st.BB[k])
            )
            self.terms.append((U, gb, V, Hm, w, Sc))
        self.loss = loss

    def _split(self, z: np.ndarray):
        d, D = self.eff.A.shape
        K = self.eff.b.shape[0]
        return z[: d * D].reshape(d, D), z[d * D : d * D + K * D].reshape(K, D), z[d * D + K * D :].reshape(K, d)

    def grad(self) -> np.ndarray:
        st, (A, b, c) = self.st, (self.eff.A, self.eff.b, self.eff.c)
        sx = st.x_cov
        gA = np.zeros_like(A)
        gbs, gcs = np.zeros_like(b), np.zeros_like(c)
        for k, pi in enumerate(st.weights):
            U, gb, V, Hm, w, Sc = self.terms[k]
            gA += pi * 2 * sx @ (A @ U + np.outer(c[k], gb) - V)
            gbs[k] = pi * 2 * (Hm @ b[k] + st.G[k] @ (A.T @ Sc) - w)
            gcs[k] = pi * 2 * (self.SA @ gb + Sc - sx @ st.beta[k])
        return np.concatenate([gA.ravel(), gbs.ravel(), gcs.ravel()])

    def hvp(self, z: np.ndarray) -> np.ndarray:
        """Exact Hessian of the risk times ``z`` (full coordinates; a stack of shape (m, nz) at once)."""
        z = np.asarray(z, dtype=float)
        if z.ndim == 1:
            return self.hvp(z[None])[0]
        st, (A, b, c) = self.st, (self.eff.A, self.eff.b, self.eff.c)
        sx = st.x_cov
        d, D = A.shape
        K = b.shape[0]
        nv = z.shape[0]
        dA = z[:, : d * D].reshape(nv, d, D)
        db = z[:, d * D : d * D + K * D].reshape(nv, K, D)
        dc = z[:, d * D + K * D :].reshape(nv, K, d)
        SdA = sx @ dA
        dM = np.swapaxes(dA, -1, -2) @ self.SA
        dM = dM + np.swapaxes(dM, -1, -2)
        dw_Q = np.swapaxes(SdA, -1, -2)
        oA = np.zeros_like(dA)
        ob, oc = np.zeros_like(db), np.zeros_like(dc)
        for k, pi in enumerate(st.weights):
            U, gb, V, Hm, w, Sc = self.terms[k]
            bk, dbk, dck = b[k], db[:, k], dc[:, k]
            X = dbk[:, :, None] * bk
            dU = st.gxg(k, X + np.swapaxes(X, -1, -2))
            dgb = dbk @ st.G[k].T
            dV = st.betag(k, dbk)
            dHm = st.gxg(k, dM)
            dHm = 0.5 * (dHm + np.swapaxes(dHm, -1, -2))
            dw = st.gbeta(k, dw_Q)
            dSc = dck @ sx
            inner = dA @ U + A @ dU + dck[:, :, None] * gb + c[k][:, None] * dgb[:, None, :] - dV
            oA += pi * 2 * (sx @ inner)
            lin = np.einsum("vpi,p->vi", dA, Sc) + dSc @ A  # (dAᵀΣ_xc + AᵀΣ_x dc) per vector
            ob[:, k] = pi * 2 * (dHm @ bk + dbk @ Hm.T + lin @ st.G[k].T - dw)
            oc[:, k] = pi * 2 * (SdA @ gb + dgb @ self.SA.T + dSc)
        return np.concatenate([oA.reshape(nv, -1), ob.reshape(nv, -1), oc.reshape(nv, -1)], axis=1)
