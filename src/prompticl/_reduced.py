"""The reduced model and its exact maps to and from the attention layer

The paper's reduced model ``ŷ = xᵀ(W_k Xᵀ(y − X m_k) + c_k)`` is the attention layer of
``_attention`` with the label column of ``A`` and the feature rows of ``b_k`` tied (chapter 2,
Lemma 2.2; chapter 8, equation (8.1)): ``reduced_effective`` and :func:`reduced_to_params` embed a
reduced model in the layer, :func:`to_reduced` reads a trained layer back as one
(:class:`ReducedView`, with the size of what the reduced model lacks), and ``reduced_estimate`` /
:func:`reduced_predict` evaluate it on a :class:`Batch`.  Chapter 2 derives the reduction; chapters
3, 5, 7 and 8 use these maps.
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
    r"""Raw parameters whose prediction is the reduced model :math:`x^\top(WX^\top(y - Xm_k) + c_k)` exactly.

    The weights of chapter 2, Lemma 2.2 (equation (2.4)), with a factor :math:`\sqrt D` in
    :math:`W_K` that cancels the layer's scale :math:`1/\sqrt D` (so :math:`A = [W\;\,0]`), the
    prompt token of chapter 3 (Lemma 3.1) and the head of chapter 5 (equation (5.1)):

    .. math::

        W_Q = \begin{bmatrix} I_d & 0 \\ 0 & 0 \end{bmatrix}, \qquad
        W_K = \sqrt D \begin{bmatrix} W & 0 \\ 0 & 0 \end{bmatrix}, \qquad
        W_V = I_D,

        h_k = \begin{bmatrix} -m_k \\ 1 \end{bmatrix}, \qquad
        p_k = \begin{bmatrix} u_k/t \\ t + m_k^\top u_k/t \end{bmatrix},\quad u_k = W^{-1}c_k ,

    so that :math:`b_k = h_k` and :math:`c_k = AP_kb_k = (Wu_k/t)\,t`. Without centres the read-out
    is the fixed :math:`e_D` (no heads); without biases there are no prompts, and a task with
    :math:`c_k = 0` gets a zero token. The balancing :math:`t = \|c_k\|^{1/2}` keeps the two factors
    of :math:`c_k` of similar size. (``to_params`` of ``reduced_effective``.)

    Parameters
    ----------
    W : ndarray, shape (d, d)
        Preconditioner :math:`W` (invertible if any bias is non-zero).
    biases : ndarray, shape (K, d), optional
        Task biases :math:`c_k`; given, one prompt token per task.
    centres : ndarray, shape (K, d), optional
        Task centres :math:`m_k`; given, one head per task.

    Returns
    -------
    AttentionParams
        Query, key and value maps, prompt tokens (or ``None``) and heads (or ``None``).

    Raises
    ------
    ValueError
        If the shapes are wrong, or a non-zero bias is requested with a (numerically) singular
        ``W``: the construction inverts :math:`W`, although Lemma 3.1 reaches every bias in the
        range of :math:`W`.
    """
    eff = reduced_effective(W, biases, centres)
    return to_params(eff, heads=centres is not None, prompts=biases is not None)


@dataclass(frozen=True)
class ReducedView:
    r"""A trained layer read as the reduced model, plus the size of what the reduced model lacks.

    Chapter 8, equation (8.1): with :math:`A = [A_x\;\,a_y]` and :math:`b_k = [b_{k,x}; b_{k,y}]`,
    the layer's prediction is
    :math:`x^\top\big(W_kX^\top(y - Xm_k) + c_k + a_y\,y^\top(Xb_{k,x} + y\,b_{k,y})\big)` with
    :math:`W_k = b_{k,y}A_x` and :math:`m_k = -b_{k,x}/b_{k,y}`; the last term, which the reduced model
    lacks, is measured by ``extra``. :func:`to_reduced` builds it.

    Attributes
    ----------
    W : ndarray, shape (K, d, d)
        Per-task preconditioners :math:`W_k = b_{k,y}A_x` (all equal without heads).
    centres : ndarray, shape (K, d)
        Task centres :math:`m_k = -b_{k,x}/b_{k,y}` (``inf``/``nan`` where :math:`b_{k,y} = 0`).
    biases : ndarray, shape (K, d)
        Task biases :math:`c_k`, as in the layer.
    extra : float
        :math:`\|a_y\|\max_k\|b_k\|/\|A\|_F`: zero when the layer is exactly a reduced model.
    """

    W: np.ndarray
    centres: np.ndarray
    biases: np.ndarray
    extra: float


def to_reduced(eff: Effective) -> ReducedView:
    r"""Read effective parameters as the reduced model (see :class:`ReducedView`).

    Chapter 8, equation (8.1) (chapter 2, Lemma 2.2, in general form): with
    :math:`A = [A_x\;\,a_y]` and :math:`b_k = [b_{k,x}; b_{k,y}]`,

    .. math::

        W_k = b_{k,y}A_x, \qquad m_k = -\frac{b_{k,x}}{b_{k,y}}, \qquad
        \text{extra} = \frac{\|a_y\|\,\max_k\|b_k\|}{\|A\|_F} ,

    and the biases :math:`c_k` unchanged. The inverse map, for a reduced model, is
    :func:`reduced_to_params` followed by :func:`effective`.

    Parameters
    ----------
    eff : Effective
        Effective parameters :math:`(A, b_k, c_k)` of a layer.

    Returns
    -------
    ReducedView
        The per-task :math:`W_k`, :math:`m_k`, :math:`c_k` and ``extra``.
    """
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
    r"""Predictions of the reduced model on a batch of prompts.

    The reduced model of chapter 2 (equation (2.5)), with the prompt biases of chapter 3 (equation
    (3.2)) and the head centres of chapter 5 (equation (5.1)), in the original coordinates:

    .. math::

        \hat y = x^\top\big(WX^\top(y - Xm_k) + c_k\big) ,

    one preconditioned gradient step on the centred labels, plus a task bias.

    Parameters
    ----------
    data : Batch
        Prompts (:func:`sample_batch`); ``data.task`` selects :math:`m_k` and :math:`c_k`.
    W : ndarray, shape (d, d)
        Preconditioner :math:`W`.
    biases : ndarray, shape (K, d), optional
        Task biases :math:`c_k` (zero if omitted).
    centres : ndarray, shape (K, d), optional
        Task centres :math:`m_k` (zero if omitted).

    Returns
    -------
    ndarray, shape (B,)
        The predictions :math:`\hat y`.
    """
    return np.einsum("bd,bd->b", data.x, reduced_estimate(data, W, biases, centres))
