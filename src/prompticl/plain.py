"""Plain training of the reduced model ``ŷ = xᵀ W Xᵀ y``: the completed square of its loss and the
spectral form of its optimum.

Chapter 2 of the book derives these; the optimum itself (``W_PT``, ``L_PT``) and the loss's matrix
``Q`` live in :mod:`prompticl.theory`, the tokens and the attention model in :mod:`prompticl.attention`.
"""
from __future__ import annotations

import numpy as np

from .spec import Spec
from .theory import curvature, moments, optimal_W_whitened
from .whitening import whiten_parameters

__all__ = [
    "plain_excess_loss",
    "plain_loss_spectral",
]


def plain_excess_loss(spec: Spec, n: int, W: np.ndarray) -> float:
    """``L(W) − L_PT = n tr((W' − W'_PT) Q (W' − W'_PT)ᵀ)`` with ``W' = R W R`` (whitened).

    The completed square of the plain-training loss: it is zero exactly at the optimum and grows
    quadratically with the distance from it, weighted by ``Q`` (:func:`prompticl.theory.curvature`).
    """
    if int(n) != n or n < 1:
        raise ValueError(f"context length must be an integer >= 1, got {n!r}")
    n = int(n)
    mom = moments(spec)
    w_white, _, _ = whiten_parameters(spec, W)
    delta = w_white - optimal_W_whitened("plain", mom, n, spec.noise)
    q = curvature("plain", mom, n, spec.noise)
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
