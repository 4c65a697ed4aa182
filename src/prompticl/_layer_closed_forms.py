"""Closed forms for two classes between the reduced model and the full attention layer (chapter 08).

Both are checked against the certified numerical optima of :mod:`prompticl._layer_optimum`.

**Joint training with a shared label shift.**  The layer with ``a_y = 0`` and a shared read-out
``b = [b_x; b_y]`` predicts ``xᵀ(W Xᵀ(y − X m) + c_k)`` with ``W = b_y A_x`` and ``m = −b_x/b_y``.
Since ``y − Xm = X(β − m) + ξ`` and the prompts' ``c_k`` are free, the error ``w − β`` is that of
the reduced joint model on the *shifted* mixture ``β − m`` (means ``μ_k − m``, same covariances),
with biases ``c_k − m``.  Its optimal loss ``L_JT`` depends on the means only through
``M(m) = Σ_k π_k R(μ_k − m)(μ_k − m)ᵀR = M − R μ̄μ̄ᵀ R + R(μ̄ − m)(μ̄ − m)ᵀR`` (``R = Σ_x^{1/2}``), and for
fixed ``W`` the loss ``n tr(W Q Wᵀ) − 2n tr(WΣ̄) + tr Σ̃ + σ²`` (:func:`prompticl._closed_forms.curvature`)
increases with ``M`` in the positive semidefinite order (``M`` enters ``Q`` as ``M + tr(M) I`` and
``tr Σ̃`` as ``tr M``).  Hence the best shift is the mixture mean ``m = μ̄ = Σ_k π_k μ_k`` and the loss
is ``L_JT`` of the centred mixture: ``M → M − Rμ̄μ̄ᵀR``.  Shifting is how a shared read-out
reproduces the overall-zero-mean case.

**Heads with per-task read-out scales (commuting covariances).**  With heads and ``a_y = 0`` the
layer realises ``W_k = s_k W`` (one shared ``W``, per-task scales ``s_k = b_{k,y}``) and task
centres.  Centres ``m_k = μ_k`` and biases ``c_k = μ_k`` remain optimal, so task ``k`` costs the
zero-mean one-step loss ``L_k(V) = n tr(V Q_k Vᵀ) − 2n tr(V S_k) + tr S_k + σ²`` at ``V = s_kW``, with
``S_k = RΣ_kR`` and ``Q_k = (n+1)S_k + (tr S_k + σ²)I``.  If the ``S_k`` commute, with common
eigenvectors ``u_i`` and eigenvalues ``λ_ki``, off-diagonal entries of ``W`` in that basis only add
``Σ q_kj W_ij² ≥ 0``, so ``W`` is diagonal there and

``L = Σ_k π_k (tr S_k + σ² − n Σ_i λ_ki²/q_ki) + n Σ_{k,i} π_k q_ki (s_k w_i − λ_ki/q_ki)²``,

``q_ki = (n+1)λ_ki + tr S_k + σ²``: a weighted rank-one fit of ``T_ki = λ_ki/q_ki``.  When ``T`` is
rank one (isotropic tasks ``S_k = a_k I``; or σ = 0 with proportional covariances) the fit is
exact and every task attains its own single-task optimum, ``L = Σ_k π_k L_D(task k)``; otherwise
the small fit is solved numerically here (an alternating exact solve in ``s`` and ``w``).
"""
from __future__ import annotations

import numpy as np

from ._spec import Spec
from ._closed_forms import optimal_losses

def centred_spec(spec: Spec) -> Spec:
    """The mixture shifted by its mean: task means ``μ_k − μ̄``, ``μ̄ = Σ_k π_k μ_k`` (chapter 08)."""
    mean = spec.weights @ spec.means
    return Spec(
        d=spec.d,
        noise=spec.noise,
        x_cov=spec.x_cov.copy(),
        weights=spec.weights.copy(),
        means=spec.means - mean,
        covs=spec.covs.copy(),
        name=spec.name + " (centred)",
        description=spec.description,
    )


def joint_shift_losses(spec: Spec, ns: "int | list[int]") -> np.ndarray:
    """Optimal joint-training loss with a shared label shift: ``L_JT`` with ``M → M − Rμ̄μ̄ᵀR`` (chapter 08).

    Equals :func:`prompticl._closed_forms.optimal_losses` ``["joint"]`` of :func:`centred_spec`; the optimal
    shift is ``μ̄`` (see the module docstring).
    """
    return optimal_losses(centred_spec(spec), ns)["joint"]


def _single_task(spec: Spec, k: int) -> Spec:
    return Spec(
        d=spec.d, noise=spec.noise, x_cov=spec.x_cov.copy(), weights=np.ones(1), means=spec.means[k : k + 1].copy(),
        covs=spec.covs[k : k + 1].copy(), name=f"{spec.name} task {k}",
    )


def task_optimum_losses(spec: Spec, n: int) -> np.ndarray:
    """Each task's own optimum ``L_D`` (task alone, its own ``W_k``), shape (K,) (chapter 08).

    ``Σ_k π_k`` of these bounds below every class that shares ``W`` up to per-task scales, with
    equality in :func:`heads_scale_loss` when the scale fit is exact.
    """
    return np.array([optimal_losses(_single_task(spec, k), [n])["joint-heads"][0] for k in range(spec.K)])


def _common_eigenbasis(mats: np.ndarray, rtol: float = 1e-10) -> np.ndarray:
    """Eigenvectors shared by commuting symmetric matrices; ``ValueError`` if they do not commute."""
    scale = max(float(np.abs(mats).max()), 1e-300)
    for a in mats:
        for b in mats:
            if np.abs(a @ b - b @ a).max() > rtol * scale**2:
                raise ValueError("the whitened task covariances do not commute")
    # a generic combination separates the joint eigenspaces (fixed weights: deterministic)
    coeffs = 1.0 + np.sqrt(2.0) * np.arange(1, mats.shape[0] + 1) / (mats.shape[0] + 1)
    _, vecs = np.linalg.eigh(np.einsum("k,kij->ij", coeffs, mats))
    return vecs


def heads_scale_loss(spec: Spec, n: int, *, iters: int = 10_000, tol: float = 1e-15) -> float:
    """Optimal loss of heads with per-task read-out scales ``W_k = s_k W`` (``a_y = 0``), commuting covariances.

    Chapter 08; see the module docstring for the reduction to a weighted rank-one fit.

    Raises
    ------
    ValueError
        If the whitened task covariances ``RΣ_kR`` do not commute.
    """
    w = spec.whitened()
    U = _common_eigenbasis(w.covs)
    lam = np.einsum("ia,kij,ja->ka", U, w.covs, U)  # λ_ki
    s2 = spec.noise**2
    tr = np.trace(w.covs, axis1=1, axis2=2)
    q = (n + 1) * lam + (tr + s2)[:, None]
    pi = w.weights[:, None]
    base = float(np.sum(w.weights * (tr + s2)) - n * np.sum(pi * np.divide(lam**2, q, out=np.zeros_like(q), where=q > 0)))
    T = np.divide(lam, q, out=np.zeros_like(q), where=q > 0)
    om = pi * q
    # weighted rank-one fit min Σ ω_ki (s_k w_i − T_ki)², alternating exact solves from s = 1
    s = np.ones(spec.K)
    prev = np.inf
    for _ in range(iters):
        wv = np.einsum("ki,ki,k->i", om, T, s) / np.maximum(np.einsum("ki,k->i", om, s**2), 1e-300)
        s = np.einsum("ki,ki,i->k", om, T, wv) / np.maximum(np.einsum("ki,i->k", om, wv**2), 1e-300)
        resid = float(np.sum(om * (np.outer(s, wv) - T) ** 2))
        if prev - resid <= tol * max(resid, 1e-300):
            break
        prev = resid
    return base + n * resid
