"""Closed-form theory for the reduced (one-step preconditioned GD) model.

The reduced model predicts ``ŷ = xᵀ (W Xᵀ(y − X m_k) + c_k)`` for a shared matrix ``W``, task biases
``c_k`` (what a prompt token can add) and task centres ``m_k`` (what a task-specific head can
subtract; zero without heads).  Everything here is the single source of truth for the formulas that
the book, the command line and the tests use.

All optima are derived in whitened coordinates (``x = Σ_x^{1/2} g``), where the second moments are
symmetric; they are mapped back to the original coordinates before being returned.

Chapters 02 (plain), 03 (fine-tuned prompts), 04 (joint) and 05 (heads) derive them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from ._regimes import REGIMES, check_regime
from ._spec import Spec

@dataclass(frozen=True)
class Moments:
    """Second moments of the task vector in whitened coordinates.

    Attributes
    ----------
    sigma_bar : ndarray, shape (d, d)
        Σ̄ = Σ_x^{1/2} (Σ_k π_k Σ_k) Σ_x^{1/2}, the mixture's within-task covariance.
    mean_part : ndarray, shape (d, d)
        M = Σ_x^{1/2} (Σ_k π_k μ_k μ_kᵀ) Σ_x^{1/2}, the part due to the task means.
    sigma_tilde : ndarray, shape (d, d)
        Σ̃ = Σ̄ + M, the biased second moment E[ββᵀ] that plain training sees.
    """

    sigma_bar: np.ndarray
    mean_part: np.ndarray
    sigma_tilde: np.ndarray


def moments(spec: Spec) -> Moments:
    """Σ̄, M and Σ̃ of ``spec`` (whitened, hence symmetric)."""
    w = spec.whitened()
    sigma_bar = np.einsum("k,kij->ij", w.weights, w.covs)
    mean_part = np.einsum("k,ki,kj->ij", w.weights, w.means, w.means)
    return Moments(sigma_bar, mean_part, sigma_bar + mean_part)


def signal(spec: Spec) -> float:
    """E[(xᵀβ)²] = tr Σ̃, the normaliser of the paper's figures (label noise excluded)."""
    return float(np.trace(moments(spec).sigma_tilde))


def wishart_sas(a: np.ndarray, n: int, cov: "np.ndarray | None" = None) -> np.ndarray:
    """E[S A S] for ``S = XᵀX`` with ``n`` rows ``N(0, Σ)`` and symmetric ``A``.

    Equals ``n(n+1) Σ A Σ + n tr(A Σ) Σ``; with ``Σ = I`` this is the identity the whole theory
    rests on.
    """
    d = a.shape[0]
    cov = np.eye(d) if cov is None else cov
    return n * (n + 1) * cov @ a @ cov + n * np.trace(a @ cov) * cov


def mean_fluctuation(W: np.ndarray, n: int, cov: np.ndarray) -> np.ndarray:
    """``E[SBS] − n²ΣBΣ`` with ``B = WᵀΣW``: the matrix ``F`` such that ``aᵀFa`` is the variance of
    ``W(S − nΣ)a`` measured in ``Σ`` (``S = XᵀX``, rows ``N(0, Σ)``).

    It is what an uncentred task mean ``a`` costs the one-step estimate: a bias cannot remove it, a
    task centre (head) can.
    """
    b = W.T @ cov @ W
    return wishart_sas(b, n, cov) - n**2 * cov @ b @ cov


def _as_ns(ns: "int | Iterable[int]") -> np.ndarray:
    arr = np.atleast_1d(np.asarray(ns))
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer) or np.any(arr < 1):
        raise ValueError(f"context lengths must be integers >= 1, got {ns!r}")
    return arr.astype(int)


def _numerator(regime: str, mom: Moments) -> np.ndarray:
    """The second moment a regime fits: Σ̃ with shared biases only, Σ̄ once the prompts absorb the means."""
    if check_regime(regime) in ("plain", "finetune"):
        return mom.sigma_tilde
    return mom.sigma_bar


def curvature(regime: str, mom: Moments, n: int, noise: float) -> np.ndarray:
    """The matrix ``Q`` of a regime's loss, quadratic in the whitened ``W``: ``W* = num · Q⁻¹``.

    The loss (biases profiled out where the regime trains them) is
    ``n tr(W Q Wᵀ) − 2n tr(W num) + tr num + σ²`` with

    * plain and finetune: ``num = Σ̃``, ``Q = (n+1)Σ̃ + (tr Σ̃ + σ²) I``
    * joint: ``num = Σ̄``, ``Q = (n+1)Σ̄ + (tr Σ̃ + σ²) I + M``
    * joint-heads: ``num = Σ̄``, ``Q = (n+1)Σ̄ + (tr Σ̄ + σ²) I``

    Returns
    -------
    ndarray, shape (d, d)
        Symmetric and ``⪰ (tr + σ²) I``, hence invertible unless the relevant trace and σ vanish.
    """
    # an array of context lengths gives a stack of matrices, shape (len(n), d, d)
    nn = np.asarray(n, dtype=float)[..., None, None] if np.ndim(n) else n
    return nn * _numerator(regime, mom) + _curvature_rest(regime, mom, noise)


def _curvature_rest(regime: str, mom: Moments, noise: float) -> np.ndarray:
    """``Q − n·num`` of :func:`curvature`, built without ``n``.

    It is the matrix of the cancellation-free forms: ``I − nW = (Q − n·num)Q⁻¹`` and the loss
    ``tr num − n tr(W num) = tr(W (Q − n·num))``.  Computing them as written (a difference of two
    numbers that agree to ~1/n) loses all accuracy at large n: at n = 10⁹ the order
    plain ≥ finetune ≥ joint broke.
    """
    num = _numerator(regime, mom)
    d = num.shape[0]
    s2 = noise**2
    if regime == "joint":
        return num + (np.trace(mom.sigma_tilde) + s2) * np.eye(d) + mom.mean_part
    return num + (np.trace(num) + s2) * np.eye(d)


def optimal_W_whitened(regime: str, mom: Moments, n: int, noise: float) -> np.ndarray:
    """The optimal ``W`` of a regime in whitened coordinates, ``num · Q⁻¹`` (see :func:`curvature`).

    * plain and finetune: ``W_PT = Σ̃((n+1)Σ̃ + (tr Σ̃ + σ²) I)⁻¹``
    * joint: ``W_JT = Σ̄((n+1)Σ̄ + (tr Σ̃ + σ²) I + M)⁻¹``
    * joint-heads: ``W_D = Σ̄((n+1)Σ̄ + (tr Σ̄ + σ²) I)⁻¹``
    """
    num = _numerator(regime, mom)
    if not np.any(num):
        # Nothing random to learn: num·Q⁻¹ = 0 whenever Q is invertible, and when it is not (the
        # relevant trace and σ vanish) every W is optimal with zero loss; W = 0 is the minimum-norm choice.
        return np.zeros(np.shape(n) + num.shape)
    q = curvature(regime, mom, n, noise)
    if q.ndim == 2:
        return np.linalg.solve(q.T, num.T).T  # num · q⁻¹
    # a stack over context lengths (see curvature): the same solve, batched
    qt = np.swapaxes(q, -1, -2)
    return np.swapaxes(np.linalg.solve(qt, np.broadcast_to(num.T, qt.shape)), -1, -2)


def one_minus_nW(regime: str, mom: Moments, n: int, noise: float) -> np.ndarray:
    """``I − nW`` for the whitened optimum ``W = num·Q⁻¹``, as ``(Q − n·num)Q⁻¹`` (no cancellation).

    Its entries are O(1/n) while ``nW`` and ``I`` are O(1): the plain difference keeps only about
    ``16 − log10 n`` digits.
    """
    num = _numerator(regime, mom)
    if not np.any(num):
        return np.broadcast_to(np.eye(num.shape[0]), np.shape(n) + num.shape)  # W = 0 (see optimal_W_whitened)
    q = curvature(regime, mom, n, noise)
    rest = np.broadcast_to(_curvature_rest(regime, mom, noise), q.shape)
    return np.swapaxes(np.linalg.solve(q, rest), -1, -2)  # rest·Q⁻¹ = (Q⁻¹·rest)ᵀ, both symmetric


def _optimal_loss_whitened(regime: str, mom: Moments, n: "int | np.ndarray", noise: float) -> "float | np.ndarray":
    # tr num − n tr(W num) + σ² written as tr(W (Q − n·num)) + σ²: every term is O(1/n) and
    # nothing cancels, so the losses keep a relative 1e-12 up to n = 10⁹ (tests/unit/test_hostile.py).
    # n may be an array of context lengths: W is then a stack and the loss an array (optimal_losses).
    w = optimal_W_whitened(regime, mom, n, noise)
    out = np.trace(w @ _curvature_rest(regime, mom, noise), axis1=-2, axis2=-1) + noise**2
    if regime == "finetune" and np.any(mom.mean_part):
        # finetune = plain − tr(M rᵀr) with r = nW − I = −(I − nW).
        r = one_minus_nW(regime, mom, n, noise)
        out = out - np.trace(mom.mean_part @ np.swapaxes(r, -1, -2) @ r, axis1=-2, axis2=-1)
    return float(out) if np.ndim(n) == 0 else np.asarray(out, dtype=float)


@dataclass(frozen=True)
class Solution:
    """The optimum of one regime at one context length, in the spec's original coordinates.

    Attributes
    ----------
    regime : str
    n : int
    W : ndarray, shape (d, d)
        Preconditioner of the reduced model ``ŷ = xᵀ(W Xᵀ(y − X m_k) + c_k)``.
    biases : ndarray, shape (K, d)
        Optimal task biases ``c_k`` (zero for plain training).
    centres : ndarray, shape (K, d)
        Task centres ``m_k`` (the task means with heads, zero otherwise).
    loss : float
        The optimal population loss E[(ŷ − y)²], label noise included.
    """

    regime: str
    n: int
    W: np.ndarray
    biases: np.ndarray
    centres: np.ndarray
    loss: float


def optimum(spec: Spec, n: int, regime: str) -> Solution:
    """Closed-form optimum of ``regime`` for context length ``n``.

    With ``R = Σ_x^{1/2}`` and whitened optimum ``W'``, the original-coordinate preconditioner is
    ``W = R⁻¹ W' R⁻¹`` and the biases are ``c_k = R⁻¹(I − nW')Rμ_k`` (prompt regimes).
    """
    (n_arr,) = _as_ns([n])
    n = int(n_arr)
    mom = moments(spec)
    w_white = optimal_W_whitened(regime, mom, n, spec.noise)
    r = spec.x_sqrt
    r_inv = np.linalg.inv(r)
    W = r_inv @ w_white @ r_inv
    d, k = spec.d, spec.K
    centres = np.zeros((k, d))
    if regime == "plain":
        biases = np.zeros((k, d))
    elif regime in ("finetune", "joint"):
        # c_k minimises ||(n W Σ_x − I) μ_k + c_k||: it cancels the mean of the one-step estimate.
        # I − nWΣ_x = R⁻¹(I − nW')R, with I − nW' from the cancellation-free form.
        biases = (r_inv @ one_minus_nW(regime, mom, n, spec.noise) @ r @ spec.means.T).T
    elif regime == "joint-heads":
        biases = spec.means.copy()
        centres = spec.means.copy()
    else:  # pragma: no cover - optimal_W_whitened has raised already
        raise AssertionError(regime)
    loss = _optimal_loss_whitened(regime, mom, n, spec.noise)
    return Solution(regime, n, W, biases, centres, loss)


def optimal_losses(spec: Spec, ns: "int | Sequence[int]") -> dict[str, np.ndarray]:
    """Optimal population losses of all four regimes for each context length in ``ns``.

    Returns
    -------
    dict
        ``{regime: ndarray of shape (len(ns),)}`` for every regime in :data:`REGIMES`.
    """
    n_arr = _as_ns(ns)
    mom = moments(spec)
    # one batched solve per regime over all context lengths (chapter 06 evaluates 60 000 of them)
    return {regime: _optimal_loss_whitened(regime, mom, n_arr, spec.noise) for regime in REGIMES}


def population_loss(
    spec: Spec,
    n: int,
    W: np.ndarray,
    biases: "np.ndarray | None" = None,
    centres: "np.ndarray | None" = None,
) -> float:
    """Exact population loss E[(ŷ − y)²] of the reduced model at any ``W``, biases and centres.

    The model is ``ŷ = xᵀ(W Xᵀ(y − X m_k) + c_k)`` in the spec's original coordinates.  For task
    ``k`` write ``a = μ_k − m_k``, ``B = WᵀΣ_xW`` and use E[S] = nΣ_x and the Wishart identity
    :func:`wishart_sas`:

    ``L_k = tr(E[(WS − I)ᵀΣ_x(WS − I)] Σ_k) + ||nWΣ_x a + c_k − μ_k||²_{Σ_x}
    + aᵀ(E[SBS] − n²Σ_xBΣ_x)a + nσ² tr(BΣ_x) + σ²``,

    and the loss is Σ_k π_k L_k.

    Parameters
    ----------
    spec : Spec
    n : int
        Context length.
    W : ndarray, shape (d, d)
    biases, centres : ndarray, shape (K, d), optional
        Default to zero.
    """
    (n,) = (int(v) for v in _as_ns([n]))
    d, k = spec.d, spec.K
    if W.shape != (d, d):
        raise ValueError(f"W must have shape ({d}, {d}), got {W.shape}")
    biases = np.zeros((k, d)) if biases is None else np.asarray(biases, dtype=float)
    centres = np.zeros((k, d)) if centres is None else np.asarray(centres, dtype=float)
    for label, arr in (("biases", biases), ("centres", centres)):
        if arr.shape != (k, d):
            raise ValueError(f"{label} must have shape ({k}, {d}), got {arr.shape}")
    sx = spec.x_cov
    s2 = spec.noise**2
    b = W.T @ sx @ W
    esbs = wishart_sas(b, n, sx)
    # E[(WS − I)ᵀ Σ_x (WS − I)]
    m1 = esbs - n * sx @ W.T @ sx - n * sx @ W @ sx + sx
    var_mean = mean_fluctuation(W, n, sx)
    noise_term = n * s2 * np.trace(b @ sx) + s2
    total = 0.0
    for pi, mu, cov, c, m in zip(spec.weights, spec.means, spec.covs, biases, centres):
        a = mu - m
        offset = n * W @ sx @ a + c - mu
        total += pi * (np.trace(m1 @ cov) + offset @ sx @ offset + a @ var_mean @ a + noise_term)
    return float(total)


def plain_loss_spectral(sigma_tilde: np.ndarray, n: int, noise: float) -> float:
    """``L_PT`` from the eigenvalues ``λ_j`` of Σ̃: ``σ² + Σ_j λ_j(λ_j + c) / ((n+1)λ_j + c)``.

    Here ``c = tr Σ̃ + σ²``.  Equal to the trace form of :func:`optimal_losses` (an independent
    route to the same number, and the form that shows the ``1/n`` decay).
    """
    lam = np.clip(np.linalg.eigvalsh(sigma_tilde), 0.0, None)
    c = float(lam.sum()) + noise**2
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(lam > 0, lam * (lam + c) / ((n + 1) * lam + c), 0.0)
    return float(noise**2 + terms.sum())
