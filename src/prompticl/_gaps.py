"""The reduced model's loss with the task biases profiled out, and the gaps between the regimes.

``prompticl._closed_forms`` gives each regime's optimum.  The derivation chapters also need the loss at a
*given* preconditioner ``W`` when only the prompts (biases ``c_k``) are optimised, the quadratic that
this profiled loss is in ``W``, and the exact size of the gaps between the regimes.  Everything is in
whitened coordinates unless a docstring says otherwise.  Chapters 02 (the plain loss's completed
square), 03 (fine-tuning gap, centring cost), 04 (joint gap) and 06 use these.
"""
from __future__ import annotations

import numpy as np

from ._limits import check_context_length
from ._spec import Spec
from ._closed_forms import Moments, curvature, mean_fluctuation, moments, one_minus_nW, optimal_W_whitened, population_loss
from ._whitening import whiten_parameters

def optimal_biases(spec: Spec, n: int, W: np.ndarray, centres: "np.ndarray | None" = None) -> np.ndarray:
    """The biases ``c_k`` minimising the loss at a fixed ``W`` (and fixed centres), shape (K, d).

    In the spec's original coordinates ``c_k = μ_k − nWΣ_x(μ_k − m_k)``: the bias cancels the mean
    of the one-step estimate's error.  At the optimal ``W`` this is the bias that
    :func:`prompticl._closed_forms.optimum` returns.
    """
    centres = np.zeros_like(spec.means) if centres is None else np.asarray(centres, dtype=float)
    return spec.means - n * (W @ spec.x_cov @ (spec.means - centres).T).T


def profiled_loss(spec: Spec, n: int, W: np.ndarray) -> float:
    """``min over c_k`` of the population loss at ``W`` (no centres), original coordinates."""
    return population_loss(spec, n, W, optimal_biases(spec, n, W))


def centring_cost(spec: Spec, n: int, W: np.ndarray) -> float:
    """What not centring the labels costs at ``W``: ``Σ_k π_k μ_kᵀ(E[SBS] − n²Σ_xBΣ_x)μ_k``, ``B = WᵀΣ_xW``.

    Original coordinates, ``S = XᵀX``.  Whitened it is ``n tr(M WᵀW) + n tr(WᵀW) tr M``: the variance of
    ``W(S − nΣ_x)μ_k``, which no bias can remove and a centred head removes entirely.
    """
    var_mean = mean_fluctuation(W, n, spec.x_cov)
    return float(np.einsum("k,ki,ij,kj->", spec.weights, spec.means, var_mean, spec.means))


def finetune_gap(spec: Spec, n: int) -> float:
    """``L_PT − L_FT = tr(M (nW_PT − I)ᵀ(nW_PT − I))`` with whitened M and W_PT."""
    mom = moments(spec)
    r = one_minus_nW("plain", mom, n, spec.noise)  # −(nW_PT − I), without the cancellation; r appears squared
    return float(np.trace(mom.mean_part @ r.T @ r))


def joint_gap(spec: Spec, n: int) -> float:
    """``L_FT − L_JT = n tr((W_PT − W_JT) Q (W_PT − W_JT)ᵀ)``, whitened, ``Q = curvature("joint", …)``.

    ``Q`` is the matrix of the profiled loss ``n tr(WQWᵀ) − 2n tr(WΣ̄) + tr Σ̄ + σ²``
    (:func:`prompticl._closed_forms.curvature`), whose minimiser is ``W_JT``.
    """
    mom = moments(spec)
    delta = optimal_W_whitened("plain", mom, n, spec.noise) - optimal_W_whitened("joint", mom, n, spec.noise)
    return float(n * np.trace(delta @ curvature("joint", mom, n, spec.noise) @ delta.T))


def heads_gap(spec: Spec, n: int) -> float:
    """``L_JT − L_D = n tr(Σ̄ (Q_D⁻¹ − Q_J⁻¹) Σ̄)``, whitened (chapter 05, the proof that heads never hurt).

    ``Q_J = curvature("joint", …)`` and ``Q_D = curvature("joint-heads", …)`` differ by
    ``(tr M) I + M``, so the gap is positive exactly when ``M ≠ 0`` and ``Σ̄ ≠ 0``.  The book's page
    "The four regimes at a glance" states it with the other two gaps.
    """
    mom = moments(spec)
    sb = mom.sigma_bar
    q_joint = curvature("joint", mom, n, spec.noise)
    q_heads = curvature("joint-heads", mom, n, spec.noise)
    diff = np.linalg.solve(q_heads, sb) - np.linalg.solve(q_joint, sb)  # (Q_D⁻¹ − Q_J⁻¹) Σ̄
    return float(n * np.trace(sb @ diff))


def finetune_gap_unwhitened(spec: Spec, n: int) -> float:
    """The fine-tuning gap evaluated with the *non-symmetric* products ``Σ_x(·)``, no whitening.

    ``tr(M' (nW' − I)ᵀ(nW' − I))`` with ``Σ̃' = Σ_x E[ββᵀ]``, ``M' = Σ_x Σ_k π_k μ_kμ_kᵀ`` and
    ``W' = Σ̃'((n+1)Σ̃' + (tr Σ̃' + σ²)I)⁻¹``.  It is **not** the fine-tuning gain in general (it is when
    Σ_x is a multiple of the identity); it exists so the book can show the difference.
    """
    sx = spec.x_cov
    m_raw = np.einsum("k,ki,kj->ij", spec.weights, spec.means, spec.means)
    b_raw = np.einsum("k,kij->ij", spec.weights, spec.covs) + m_raw
    st = sx @ b_raw
    mp = sx @ m_raw
    # the plain formula fed with the non-symmetric products (no means part: Σ̄' = Σ̃')
    w = optimal_W_whitened("plain", Moments(st, np.zeros_like(st), st), n, spec.noise)
    r = n * w - np.eye(spec.d)
    return float(np.trace(mp @ r.T @ r))


def plain_excess_loss(spec: Spec, n: int, W: np.ndarray) -> float:
    """``L(W) − L_PT = n tr((W' − W'_PT) Q (W' − W'_PT)ᵀ)`` with ``W' = R W R`` (whitened).

    The completed square of the plain-training loss: it is zero exactly at the optimum and grows
    quadratically with the distance from it, weighted by ``Q`` (:func:`prompticl._closed_forms.curvature`).
    """
    n = check_context_length(n)
    mom = moments(spec)
    w_white, _, _ = whiten_parameters(spec, W)
    delta = w_white - optimal_W_whitened("plain", mom, n, spec.noise)
    q = curvature("plain", mom, n, spec.noise)
    return float(n * np.trace(delta @ q @ delta.T))
