"""Explicit weights of a one-layer linear-attention model that realise a reduced model.

Convention (stated in the book's task-heads chapter): tokens ``z_i = [x_i; y_i]``, a task prompt token
``p_k`` prepended to the context, query token ``z = [x; 0]``, no softmax and no normalisation.  The
attention output at the query is ``o = W_V G W_Kᵀ W_Q z`` with ``G = p_k p_kᵀ + Σ_i z_i z_iᵀ``, and the
prediction is read through a task head, ``ŷ = v_kᵀ o``.  Hence ``ŷ = xᵀ A G b_k`` with
``A = (W_Qᵀ W_K)[:d, :]`` and ``b_k = W_Vᵀ v_k``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .sampling import Batch

__all__ = ["AttentionWeights", "attention_predict", "reduced_to_attention"]


@dataclass(frozen=True)
class AttentionWeights:
    """Weights of the one-layer linear attention with task prompts and task heads.

    Attributes
    ----------
    wq, wk, wv : ndarray, shape (d+1, d+1)
        Query, key and value maps.
    prompts : ndarray, shape (K, d+1)
        One prompt token ``p_k`` per task.
    heads : ndarray, shape (K, d+1)
        One read-out vector ``v_k`` per task.
    """

    wq: np.ndarray
    wk: np.ndarray
    wv: np.ndarray
    prompts: np.ndarray
    heads: np.ndarray


def attention_predict(data: Batch, weights: AttentionWeights) -> np.ndarray:
    """Prediction ``ŷ = v_kᵀ W_V G W_Kᵀ W_Q [x; 0]`` of the full model on a batch, shape (B,)."""
    z = np.concatenate([data.X, data.y[..., None]], axis=-1)  # (B, n, d+1)
    p = weights.prompts[data.task]  # (B, d+1)
    gram = np.einsum("bni,bnj->bij", z, z) + np.einsum("bi,bj->bij", p, p)
    query = np.concatenate([data.x, np.zeros((data.x.shape[0], 1))], axis=-1)
    key_side = query @ weights.wq.T @ weights.wk  # rows: (W_Kᵀ W_Q z)ᵀ
    out = np.einsum("ij,bjk,bk->bi", weights.wv, gram, key_side)
    return np.einsum("bi,bi->b", weights.heads[data.task], out)


def reduced_to_attention(W: np.ndarray, biases: np.ndarray, centres: np.ndarray) -> AttentionWeights:
    """Weights of the full model whose prediction is ``xᵀ(W Xᵀ(y − X m_k) + c_k)`` exactly.

    ``W_Q = I``, ``W_K = [[W, 0], [0, 0]]`` (so ``A = [W, 0]``), ``W_V = I``, heads ``v_k = [−m_k; 1]``
    and prompts ``p_k = [u_k; 1 + u_kᵀm_k]`` with ``u_k = W⁻¹c_k``: the prompt adds
    ``W u_k (1 + u_kᵀ m_k − u_kᵀ m_k) = c_k``.

    Raises
    ------
    ValueError
        If ``W`` is singular (then only biases in the range of ``W`` are reachable this way).
    """
    d = W.shape[0]
    if np.linalg.matrix_rank(W) < d:
        raise ValueError("W is singular: a prompt token can only add biases in the range of W")
    k = biases.shape[0]
    eye = np.eye(d + 1)
    wk = np.zeros((d + 1, d + 1))
    wk[:d, :d] = W
    u = np.linalg.solve(W, biases.T).T  # (K, d)
    prompts = np.concatenate([u, (1.0 + np.einsum("ki,ki->k", u, centres))[:, None]], axis=1)
    heads = np.concatenate([-centres, np.ones((k, 1))], axis=1)
    return AttentionWeights(eye.copy(), wk, eye.copy(), prompts, heads)
