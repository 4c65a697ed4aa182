"""Plain training of one-layer linear attention: tokens, the reduction to ``ŷ = xᵀ W Xᵀ y`` and
the quadratic form of its loss.

Chapter 2 of the book derives these; the optimum itself (``W_PT``, ``L_PT``) lives in
:mod:`prompticl.theory`, the single source of truth for optimal parameters and losses.
"""
from __future__ import annotations

import numpy as np

from .spec import Spec
from .theory import moments, optimal_W_whitened
from .whitening import whiten_parameters

__all__ = [
    "context_tokens",
    "query_token",
    "reduction_weights",
    "plain_curvature",
    "plain_excess_loss",
    "plain_loss_spectral",
]


def context_tokens(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Tokens ``z_i = [x_i; y_i]``: shape (B, n, d+1) from ``X`` (B, n, d) and ``y`` (B, n)."""
    return np.concatenate([X, y[..., None]], axis=-1)


def query_token(x: np.ndarray) -> np.ndarray:
    """Query token ``[x; 0]``: shape (B, d+1) from ``x`` (B, d); its label slot is empty."""
    return np.concatenate([x, np.zeros(x.shape[:-1] + (1,))], axis=-1)


def reduction_weights(W: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Query, key and value maps on ``R^{d+1}`` whose linear attention computes ``xᵀ W Xᵀ y``.

    ``W_Q = [[Wᵀ, 0], [0, 0]]``, ``W_K = I`` and ``W_V = e_{d+1} e_{d+1}ᵀ``: the scores are
    ``z_iᵀ [W; 0]ᵀ x`` and the value of token ``i`` is its label ``y_i``.

    Returns
    -------
    (W_Q, W_K, W_V) : tuple of ndarray, shape (d+1, d+1) each
    """
    W = np.asarray(W, dtype=float)
    if W.ndim != 2 or W.shape[0] != W.shape[1]:
        raise ValueError(f"W must be square, got shape {W.shape}")
    d = W.shape[0]
    wq = np.zeros((d + 1, d + 1))
    wq[:d, :d] = W.T
    wv = np.zeros((d + 1, d + 1))
    wv[d, d] = 1.0
    return wq, np.eye(d + 1), wv


def plain_curvature(sigma_tilde: np.ndarray, n: int, noise: float) -> np.ndarray:
    """``Q = (n+1) Σ̃ + (tr Σ̃ + σ²) I``, the matrix of the quadratic loss of plain training.

    In whitened coordinates ``L(W) = n tr(W Q Wᵀ) − 2n tr(W Σ̃) + tr Σ̃ + σ²``, so ``W_PT = Σ̃ Q⁻¹``.
    """
    d = sigma_tilde.shape[0]
    return (n + 1) * sigma_tilde + (np.trace(sigma_tilde) + noise**2) * np.eye(d)


def plain_excess_loss(spec: Spec, n: int, W: np.ndarray) -> float:
    """``L(W) − L_PT = n tr((W' − W'_PT) Q (W' − W'_PT)ᵀ)`` with ``W' = R W R`` (whitened).

    The completed square of the plain-training loss: it is zero exactly at the optimum and grows
    quadratically with the distance from it, weighted by ``Q`` (:func:`plain_curvature`).
    """
    if int(n) != n or n < 1:
        raise ValueError(f"context length must be an integer >= 1, got {n!r}")
    n = int(n)
    mom = moments(spec)
    w_white, _, _ = whiten_parameters(spec, W)
    delta = w_white - optimal_W_whitened("plain", mom, n, spec.noise)
    q = plain_curvature(mom.sigma_tilde, n, spec.noise)
    return float(n * np.trace(delta @ q @ delta.T))


def plain_loss_spectral(sigma_tilde: np.ndarray, n: int, noise: float) -> float:
    """``L_PT`` from the eigenvalues ``λ_j`` of Σ̃: ``σ² + Σ_j λ_j(λ_j + c) / ((n+1)λ_j + c)``.

    Here ``c = tr Σ̃ + σ²``.  Equal to the trace form in :mod:`prompticl.theory` (an independent
    route to the same number, and the form that shows the ``1/n`` decay).
    """
    lam = np.clip(np.linalg.eigvalsh(sigma_tilde), 0.0, None)
    c = float(lam.sum()) + noise**2
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(lam > 0, lam * (lam + c) / ((n + 1) * lam + c), 0.0)
    return float(noise**2 + terms.sum())
