"""Closed forms between the reduced model and the attention layer

Two classes of chapter 8, between the reduced model and the full attention layer.  Both are checked
against the certified numerical optima of :func:`layer_optimum`.

**Joint training with a shared label shift.**  The layer with ``a_y = 0`` and a shared read-out
``b = [b_x; b_y]`` predicts ``xᵀ(W Xᵀ(y − X m) + c_k)`` with ``W = b_y A_x`` and ``m = −b_x/b_y``.
Since ``y − Xm = X(β − m) + ξ`` and the prompts' ``c_k`` are free, the error ``w − β`` is that of
the reduced joint model on the *shifted* mixture ``β − m`` (means ``μ_k − m``, same covariances),
with biases ``c_k − m``.  Its optimal loss ``L_JT`` depends on the means only through
``M(m) = Σ_k π_k R(μ_k − m)(μ_k − m)ᵀR = M − R mu_barmu_barᵀ R + R(mu_bar − m)(mu_bar − m)ᵀR`` (``R = Σ_x^{1/2}``), and for
fixed ``W`` the loss ``n tr(W Q Wᵀ) − 2n tr(WSigma_bar) + tr Sigma_tilde + σ²`` (:func:`curvature`)
increases with ``M`` in the positive semidefinite order (``M`` enters ``Q`` as ``M + tr(M) I`` and
``tr Sigma_tilde`` as ``tr M``).  Hence the best shift is the mixture mean ``m = mu_bar = Σ_k π_k μ_k`` and the loss
is ``L_JT`` of the centred mixture: ``M → M − Rmu_barmu_barᵀR``.  Shifting is how a shared read-out
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
    r"""The mixture shifted by its mean, the mixture of Theorem 8.2 (Chapter 8).

    .. math::

       \mu_k \mapsto \mu_k - \bar\mu, \qquad \bar\mu = \sum_k \pi_k\mu_k ;

    weights, covariances, :math:`\Sigma_x` and :math:`\sigma` are unchanged.

    Parameters
    ----------
    spec : Spec
        The task mixture.

    Returns
    -------
    Spec
        The centred mixture, named ``"<name> (centred)"``.
    """
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
    r"""Optimal joint-training loss with a shared label shift (Theorem 8.2, Chapter 8).

    The layer with :math:`a_y = 0` and one read-out :math:`b = [b_x; b_y]` attains :math:`L_{\mathrm{JT}}`
    (equation (4.4)) of the centred mixture (:func:`centred_spec`), the best shift being :math:`\bar\mu`:
    with :math:`M_c = M - R\bar\mu\bar\mu^\top R`, :math:`R = \Sigma_x^{1/2}`,

    .. math::

       L_{\mathrm{shift}} = \operatorname{tr}\bar\Sigma - n\operatorname{tr}(W_c\bar\Sigma) + \sigma^2,

       W_c = \bar\Sigma\big((n+1)\bar\Sigma + (\operatorname{tr}\bar\Sigma + \operatorname{tr}M_c + \sigma^2)I + M_c\big)^{-1} .

    It equals ``optimal_losses(centred_spec(spec), ns)["joint"]`` (:func:`optimal_losses`).

    Parameters
    ----------
    spec : Spec
        The task mixture.
    ns : int or sequence of int
        Context lengths, each at least 1.

    Returns
    -------
    ndarray, shape (len(ns),)
        :math:`L_{\mathrm{shift}}` at each context length.
    """
    return optimal_losses(centred_spec(spec), ns)["joint"]


def _single_task(spec: Spec, k: int) -> Spec:
    return Spec(
        d=spec.d, noise=spec.noise, x_cov=spec.x_cov.copy(), weights=np.ones(1), means=spec.means[k : k + 1].copy(),
        covs=spec.covs[k : k + 1].copy(), name=f"{spec.name} task {k}",
    )


def task_optimum_losses(spec: Spec, n: int) -> np.ndarray:
    r"""Each task's own optimum :math:`L_{\mathrm D}` (the task alone, with its own ``W_k``) (Chapter 8).

    Equation (5.5) (Theorem 5.1) applied to the single-task mixture of task ``k``, the bound of
    Theorem 8.3; with :math:`S_k = R\Sigma_kR`, :math:`R = \Sigma_x^{1/2}`:

    .. math::

       L_{\mathrm D}(k) = \operatorname{tr}S_k - n\operatorname{tr}(W_kS_k) + \sigma^2,

       W_k = S_k\big((n+1)S_k + (\operatorname{tr}S_k + \sigma^2)I\big)^{-1} .

    :math:`\sum_k \pi_k L_{\mathrm D}(k)` bounds below every class that shares ``W`` up to per-task
    scales, with equality in :func:`heads_scale_loss` when the scale fit is exact.

    Parameters
    ----------
    spec : Spec
        The task mixture.
    n : int
        Context length.

    Returns
    -------
    ndarray, shape (K,)
        :math:`L_{\mathrm D}(k)` for each task.
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
    r"""Optimal loss of heads with per-task read-out scales :math:`W_k = s_kW` (:math:`a_y = 0`), commuting covariances.

    Theorem 8.3, equation (8.7) (Chapter 8): with :math:`S_k = R\Sigma_kR` commuting, common
    eigenvalues :math:`\lambda_{ki}`, :math:`q_{ki} = (n+1)\lambda_{ki} + \operatorname{tr}S_k + \sigma^2`
    and :math:`\tau_{ki} = \lambda_{ki}/q_{ki}`,

    .. math::

       L_{\mathrm{scale}} = \sum_k \pi_k\Big(\operatorname{tr}S_k + \sigma^2 - n\sum_i \lambda_{ki}\tau_{ki}\Big)
       + n\min_{s,\,w}\sum_{k,i}\pi_kq_{ki}\big(s_kw_i - \tau_{ki}\big)^2 .

    The weighted rank-one fit is solved by alternating exact solves in :math:`s` and :math:`w`, starting
    from :math:`s = 1`; it is exact (zero) when :math:`\tau` has rank one, and then
    :math:`L_{\mathrm{scale}} = \sum_k \pi_k L_{\mathrm D}(k)` (:func:`task_optimum_losses`).

    Parameters
    ----------
    spec : Spec
        The task mixture; its whitened task covariances must commute.
    n : int
        Context length.
    iters : int
        Most alternating sweeps of the fit.
    tol : float
        Stop when a sweep lowers the fit's residual by at most this relative amount.

    Returns
    -------
    float
        :math:`L_{\mathrm{scale}}`.

    Raises
    ------
    ValueError
        If the whitened task covariances :math:`R\Sigma_kR` do not commute.
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
