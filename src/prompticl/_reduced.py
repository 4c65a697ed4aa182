"""The reduced model ``ŷ = xᵀ(W_k Xᵀ(y − X m_k) + c_k)`` and its exact maps to and from the attention layer.

The paper's reduced model is the attention layer of :mod:`prompticl._attention` with the label
column of ``A`` and the feature rows of ``b_k`` tied: :func:`reduced_effective` and
:func:`reduced_to_params` embed a reduced model in the layer, :func:`to_reduced` reads a trained
layer back as one (:class:`ReducedView`, with the size of what the reduced model lacks), and
:func:`reduced_estimate` / :func:`reduced_predict` evaluate it on a :class:`~prompticl._sampling.Batch`.
Chapter 02 derives the reduction; chapters 03 and 07 use these maps.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._attention import Effective, AttentionParams, to_params
from ._sampling import Batch


def reduced_effective(
    W: np.ndarray, biases: "np.ndarray | None" = None, centres: "np.ndarray | None" = None
) -> Effective:
    """The reduced model ``xᵀ(W Xᵀ(y − X m_k) + c_k)`` as effective parameters (inverse of :func:`to_reduced`).

    ``A = [W, 0]``, ``b_k = [−m_k; 1]`` and ``c_k`` the biases; ``None`` means zero, and with neither
    biases nor centres there is one task.

    Raises
    ------
    ValueError
        If ``W`` is not square or the biases and centres do not have shape ``(K, d)``.
    """
    W = np.asarray(W, dtype=float)
    if W.ndim != 2 or W.shape[0] != W.shape[1]:
        raise ValueError(f"W must be square, got shape {W.shape}")
    d = W.shape[0]
    given = [np.asarray(a, dtype=float) for a in (biases, centres) if a is not None]
    num_tasks = given[0].shape[0] if given and given[0].ndim == 2 else 1
    for label, arr in (("biases", biases), ("centres", centres)):
        if arr is not None and np.shape(arr) != (num_tasks, d):
            raise ValueError(f"{label} must have shape ({num_tasks}, {d}), got {np.shape(arr)}")
    c = np.zeros((num_tasks, d)) if biases is None else np.array(biases, dtype=float)
    m = np.zeros((num_tasks, d)) if centres is None else np.asarray(centres, dtype=float)
    A = np.hstack([W, np.zeros((d, 1))])
    b = np.hstack([-m, np.ones((num_tasks, 1))])
    return Effective(A, b, c)


def reduced_to_params(
    W: np.ndarray, biases: "np.ndarray | None" = None, centres: "np.ndarray | None" = None
) -> AttentionParams:
    """Raw parameters whose prediction is the reduced model ``xᵀ(W Xᵀ(y − X m_k) + c_k)`` exactly.

    :func:`to_params` of :func:`reduced_effective`: ``K = √D [[W, 0], [0, 0]]`` (the ``√D`` cancels
    the model's scale ``1/√D``, so ``A = [W, 0]``); with centres, task heads ``h_k = [−m_k; 1]``,
    otherwise the fixed read-out ``e_D``; with biases, one prompt token per task,
    ``p_k = (u_k/t, t + m_kᵀu_k/t)`` with ``u_k = W⁻¹c_k`` and a balancing ``t > 0``, which adds
    ``c_k``; without biases, no prompts.

    Raises
    ------
    ValueError
        If the shapes are wrong, or a non-zero bias is requested with a singular ``W`` (only biases
        in the range of ``W`` are reachable by a prompt token).
    """
    eff = reduced_effective(W, biases, centres)
    return to_params(eff, heads=centres is not None, prompts=biases is not None)


@dataclass(frozen=True)
class ReducedView:
    """The trained model read as the reduced model ``ŷ = xᵀ(W_k Xᵀ(y − X m_k) + c_k) + extra``.

    With ``A = [A_x, a_y]`` and ``b_k = [b_kx; b_ky]``: ``W_k = b_ky A_x``, ``m_k = −b_kx / b_ky`` and the
    features the reduced model lacks are ``a_y (yᵀX b_kx + yᵀy b_ky)``, measured by ``extra``.

    Attributes
    ----------
    W : ndarray, shape (K, d, d)
    centres : ndarray, shape (K, d)
    biases : ndarray, shape (K, d)
    extra : float
        ``‖a_y‖ · max_k ‖b_k‖ / ‖A‖``: zero when the model is exactly a reduced model.
    """

    W: np.ndarray
    centres: np.ndarray
    biases: np.ndarray
    extra: float


def to_reduced(eff: Effective) -> ReducedView:
    """Read effective parameters as the reduced model (see :class:`ReducedView`)."""
    d = eff.A.shape[0]
    Ax, ay = eff.A[:, :d], eff.A[:, d]
    by = eff.b[:, d]
    W = by[:, None, None] * Ax[None]
    with np.errstate(divide="ignore", invalid="ignore"):
        centres = -eff.b[:, :d] / by[:, None]
    extra = float(np.linalg.norm(ay) * np.max(np.linalg.norm(eff.b, axis=1)) / max(np.linalg.norm(eff.A), 1e-300))
    return ReducedView(W, centres, eff.c.copy(), extra)


def reduced_estimate(
    data: "Batch", W: np.ndarray, biases: "np.ndarray | None" = None, centres: "np.ndarray | None" = None
) -> np.ndarray:
    """The reduced model's effective task estimate ``W Xᵀ(y − X m_k) + c_k``, shape (B, d)."""
    resid = data.y
    if centres is not None:
        resid = resid - np.einsum("bnd,bd->bn", data.X, centres[data.task])
    est = np.einsum("ij,bnj,bn->bi", W, data.X, resid, optimize=True)
    if biases is not None:
        est = est + biases[data.task]
    return est


def reduced_predict(
    data: "Batch", W: np.ndarray, biases: "np.ndarray | None" = None, centres: "np.ndarray | None" = None
) -> np.ndarray:
    """Predictions ``ŷ = xᵀ(W Xᵀ(y − X m_k) + c_k)`` of the reduced model, shape (B,)."""
    return np.einsum("bd,bd->b", data.x, reduced_estimate(data, W, biases, centres))
