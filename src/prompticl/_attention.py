"""One-layer linear attention with task prompts and heads

Tokens are ``z_i = [x_i; y_i] ∈ R^D`` with ``D = d + 1``; the query token is ``[x; 0]`` (chapter 1,
equation (1.2)).  Task ``k`` prepends its prompt tokens ``p_{k1}, …, p_{km}`` to the context, and the
query attends to prompt and context tokens (not to itself), as in the authors' ``LinearAttn``::

    ŷ = s · h_kᵀ Σ_t (Q q)ᵀ(K z_t) · V z_t = s · h_kᵀ V H Kᵀ Q q,   s = 1/√D,

where ``H = G + P_k``, ``G = Σ_t z_t z_tᵀ`` over the context, ``P_k = Σ_j p_kj p_kjᵀ``, and ``h_k`` is
the task's head (the fixed read-out ``e_D`` without heads).  Because the query's label slot is zero,

    ŷ = xᵀ (A G b_k + c_k),   A = s (Q[:, :d])ᵀ K  (d × D),   b_k = Vᵀ h_k,   c_k = A P_k b_k

(chapter 2, Lemma 2.1, with the factor ``s``; chapter 7, equation (7.1)).

This module holds the raw forward pass on token sequences (:func:`forward_tokens`), the fast path
that uses only ``G`` (:func:`forward_gram`), and the exact maps between the raw parameters
(:class:`AttentionParams`) and the *effective* parameters ``(A, b_k, c_k)`` (:class:`Effective`) in
which the trainer (``_als``) optimises.  The reduced model's maps live in ``_reduced``; the raw
gradients used by Adam in ``_training``.

Chapter 2 derives the reduction to one preconditioned gradient step; chapter 7 trains this model.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

@dataclass(frozen=True)
class AttentionParams:
    r"""Raw parameters of the one-layer linear attention model.

    The layer of chapter 2 (Definition 2.1), with the task-specific prompt tokens of chapter 3 and
    the task heads of chapter 5, as chapter 7 trains it; :func:`forward_tokens` evaluates it.

    Attributes
    ----------
    Q : ndarray, shape (D, D)
        Query map :math:`W_Q` (``D = d + 1``), acting as ``Q @ token``.
    K : ndarray, shape (D, D)
        Key map :math:`W_K`.
    V : ndarray, shape (D, D)
        Value map :math:`W_V`.
    prompts : ndarray, shape (K, m, D) or None
        ``m`` prompt tokens :math:`p_{kj}` per task, prepended to the context; ``None`` means no prompts.
    heads : ndarray, shape (K, D) or None
        Task-specific linear read-outs :math:`h_k` of the attention output; ``None`` reads the label
        coordinate (:math:`h_k = e_D` for every task).
    """

    Q: np.ndarray
    K: np.ndarray
    V: np.ndarray
    prompts: "np.ndarray | None" = None
    heads: "np.ndarray | None" = None

    @property
    def D(self) -> int:  # noqa: N802 - token dimension
        """Token dimension ``d + 1``."""
        return int(self.Q.shape[0])

    @property
    def scale(self) -> float:
        """The attention normalisation ``1/√D`` of the authors' model (it only rescales ``A``)."""
        return 1.0 / np.sqrt(self.D)

    def readouts(self, num_tasks: int) -> np.ndarray:
        """The read-out vector :math:`h_k` of each task, shape (``num_tasks``, D): the heads, or :math:`e_D` for every task."""
        if self.heads is not None:
            return self.heads
        e = np.zeros((num_tasks, self.D))
        e[:, -1] = 1.0
        return e

    def prompt_grams(self, num_tasks: int) -> np.ndarray:
        r"""The prompt Gram matrices :math:`P_k = \sum_j p_{kj}p_{kj}^\top`, shape (``num_tasks``, D, D) (zero without prompts)."""
        if self.prompts is None:
            return np.zeros((num_tasks, self.D, self.D))
        return np.einsum("kmi,kmj->kij", self.prompts, self.prompts)


@dataclass(frozen=True)
class Effective:
    r"""Effective parameters :math:`(A, b_k, c_k)` of the layer: :math:`\hat y = x^\top(AGb_k + c_k)`.

    Chapter 7, equation (7.1) (chapter 2, Lemma 2.1, with prompts and heads); chapter 8 optimises
    the layer in these coordinates. :func:`effective` computes them from :class:`AttentionParams`.

    Attributes
    ----------
    A : ndarray, shape (d, D)
        :math:`A = [A_x\;\,a_y]`, from the query and key maps; its last column :math:`a_y` is the label
        column.
    b : ndarray, shape (K, D)
        Per-task value read-outs :math:`b_k = V^\top h_k` (all rows equal without heads).
    c : ndarray, shape (K, d)
        Per-task biases :math:`c_k = AP_kb_k` contributed by the prompt tokens (zero without prompts).
    """

    A: np.ndarray
    b: np.ndarray
    c: np.ndarray


def context_tokens(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    r"""Context tokens :math:`z_i = [x_i; y_i]` of a batch of prompts.

    Chapter 1, equation (1.2):

    .. math::

        z_i = \begin{bmatrix} x_i \\ y_i \end{bmatrix} \in \mathbb R^{d+1}, \qquad i = 1, \dots, n .

    Parameters
    ----------
    X : ndarray, shape (B, n, d)
        Context features.
    y : ndarray, shape (B, n)
        Context labels.

    Returns
    -------
    ndarray, shape (B, n, d + 1)
        The tokens, one row per example.
    """
    return np.concatenate([X, y[..., None]], axis=-1)


def query_token(x: np.ndarray) -> np.ndarray:
    r"""Query token :math:`z_{\mathrm q} = [x; 0]`: the query features with an empty label slot.

    Chapter 1, equation (1.2):

    .. math::

        z_{\mathrm q} = \begin{bmatrix} x \\ 0 \end{bmatrix} \in \mathbb R^{d+1} .

    Parameters
    ----------
    x : ndarray, shape (B, d)
        Query features.

    Returns
    -------
    ndarray, shape (B, d + 1)
        The query tokens.
    """
    return np.concatenate([x, np.zeros(x.shape[:-1] + (1,))], axis=-1)


def gram(tokens: np.ndarray) -> np.ndarray:
    r"""Gram matrix :math:`G = \sum_t z_tz_t^\top` of each token sequence.

    Chapter 2, Lemma 2.1: the layer sees the prompt only through

    .. math::

        G = \sum_{t=1}^T z_tz_t^\top
          = \begin{bmatrix} X^\top X & X^\top y \\ y^\top X & y^\top y \end{bmatrix}
        \quad\text{(context tokens)} .

    Parameters
    ----------
    tokens : ndarray, shape (B, T, D)
        ``B`` sequences of ``T`` tokens (e.g. :func:`context_tokens`).

    Returns
    -------
    ndarray, shape (B, D, D)
        One Gram matrix per sequence (no normalisation).
    """
    return np.einsum("bti,btj->bij", tokens, tokens, optimize=True)


def forward_tokens(params: AttentionParams, tokens: np.ndarray, query: np.ndarray, task: np.ndarray) -> np.ndarray:
    r"""The layer on raw token sequences, written as attention (the one implementation of the book).

    Chapter 2, Definition 2.1 (equation (2.1)), with the prompt tokens :math:`p_{k1}, \dots,
    p_{km}` of task :math:`k` prepended to the context and its head :math:`h_k` as read-out (chapter
    7): with :math:`s = 1/\sqrt D` (the authors' factor, which only rescales :math:`A`) and the
    attended tokens :math:`(\zeta_1, \dots, \zeta_T) = (p_{k1}, \dots, p_{km}, z_1, \dots, z_n)`,
    :math:`T = m + n`,

    .. math::

        \hat y = s \sum_{t=1}^{T} (h_k^\top W_V \zeta_t)\,(W_K \zeta_t)^\top (W_Q z_{\mathrm q}) .

    No softmax; the query does not attend to itself. The same predictions, from Gram matrices only:
    :func:`forward_gram`.

    Parameters
    ----------
    params : AttentionParams
        Query, key and value maps, prompt tokens and heads.
    tokens : ndarray, shape (B, n, D)
        Context tokens :math:`[x_i; y_i]` (:func:`context_tokens`).
    query : ndarray, shape (B, D)
        Query tokens :math:`[x; 0]` (:func:`query_token`).
    task : ndarray of int, shape (B,)
        Task index of each sequence (selects its prompt tokens and head).

    Returns
    -------
    ndarray, shape (B,)
        The predictions :math:`\hat y`.
    """
    task = np.asarray(task)
    if params.prompts is not None:
        tokens = np.concatenate([params.prompts[task], tokens], axis=1)
    q = query @ params.Q.T  # (B, D)
    k = tokens @ params.K.T  # (B, T, D)
    v = tokens @ params.V.T  # (B, T, D)
    scores = np.einsum("bd,btd->bt", q, k) * params.scale  # linear attention: no softmax
    out = np.einsum("bt,btd->bd", scores, v)
    num_tasks = int(task.max()) + 1 if params.heads is None else params.heads.shape[0]
    read = params.readouts(num_tasks)[task]
    return np.einsum("bd,bd->b", out, read)


def forward_gram(params: AttentionParams, G: np.ndarray, x: np.ndarray, task: np.ndarray) -> np.ndarray:
    r"""Fast path: the predictions of :func:`forward_tokens` from the context Gram matrices alone.

    Chapter 7, equation (7.1) (chapter 2, Lemma 2.1): with the effective parameters of
    :func:`effective`,

    .. math::

        \hat y = x^\top(AGb_k + c_k), \qquad c_k = AP_kb_k ,

    where :math:`G` is the Gram matrix of the context tokens only (the prompt tokens enter through
    :math:`c_k`). Equal to :func:`forward_tokens` up to rounding.

    Parameters
    ----------
    params : AttentionParams
        Raw parameters of the layer.
    G : ndarray, shape (B, D, D)
        Context Gram matrices (:func:`gram`, or :func:`sample_grams`).
    x : ndarray, shape (B, d)
        Query features.
    task : ndarray of int, shape (B,)
        Task index of each prompt.

    Returns
    -------
    ndarray, shape (B,)
        The predictions :math:`\hat y`.
    """
    num_tasks = _num_tasks(params, task)
    return effective_predict(effective(params, num_tasks), G, x, task)


def _num_tasks(params: AttentionParams, task: np.ndarray) -> int:
    if params.heads is not None:
        return params.heads.shape[0]
    if params.prompts is not None:
        return params.prompts.shape[0]
    return int(np.max(task)) + 1


def effective(params: AttentionParams, num_tasks: int) -> Effective:
    r"""The effective parameters :math:`(A, b_k, c_k)` of raw parameters (exact).

    Chapter 2, Lemma 2.1 (equation (2.2)), with the factor :math:`s = 1/\sqrt D` of
    :func:`forward_tokens`, the heads and the prompt Gram matrices :math:`P_k = \sum_j p_{kj}p_{kj}^\top`
    (chapter 7, equation (7.1)):

    .. math::

        A = s\,[\,I_d\;\;0\,]\,W_Q^\top W_K, \qquad b_k = W_V^\top h_k, \qquad c_k = A P_k b_k ,

    with :math:`h_k = e_D` without heads and :math:`P_k = 0` without prompts.

    Parameters
    ----------
    params : AttentionParams
        Raw parameters of the layer.
    num_tasks : int
        Number of tasks :math:`K` (the rows of ``b`` and ``c``).

    Returns
    -------
    Effective
        :math:`(A, b, c)` with :math:`\hat y = x^\top(AGb_k + c_k)`.
    """
    d = params.D - 1
    A = params.scale * params.Q[:, :d].T @ params.K
    b = params.readouts(num_tasks) @ params.V  # rows b_kᵀ = h_kᵀ V
    P = params.prompt_grams(num_tasks)
    c = np.einsum("ij,kjl,kl->ki", A, P, b)
    return Effective(A, b, c)


def to_params(eff: Effective, *, heads: bool, prompt_len: int = 1, prompts: bool = True) -> AttentionParams:
    """Raw parameters that realise the effective parameters exactly.

    ``Q = [I_d 0; 0 0]`` and ``K = √D [A; 0]`` give ``s Q[:, :d]ᵀ K = A``.  Without heads ``V`` is the
    identity with last row ``bᵀ``; with heads ``V = I`` and ``h_k = b_k``.  A prompt must add
    ``c_k = A P_k b_k``: with ``M_k = [A; b_kᵀ]`` invertible, the token ``p = M_k⁻¹ [c_k/t; t]`` has
    ``A p = c_k/t`` and ``b_kᵀp = t``, so ``A p pᵀ b_k = c_k`` for any ``t ≠ 0``; ``m`` copies of
    ``p/√m`` give the same ``P_k``.

    Raises
    ------
    ValueError
        If a non-zero bias is requested without prompts, or ``M_k`` is singular.
    """
    A, b, c = eff.A, eff.b, eff.c
    d, D = A.shape
    num_tasks = b.shape[0]
    if not heads and not np.allclose(b, b[0]):
        raise ValueError("without heads all tasks share one read-out b")
    Q = np.zeros((D, D))
    Q[:d, :d] = np.eye(d)
    K = np.zeros((D, D))
    K[:d] = np.sqrt(D) * A
    if heads:
        V = np.eye(D)
        h = b.copy()
    else:
        V = np.eye(D)
        V[-1] = b[0]
        h = None
    p = None
    if prompts and prompt_len > 0:
        p = np.zeros((num_tasks, prompt_len, D))
        for k in range(num_tasks):
            if not np.any(c[k]):
                continue
            M = np.vstack([A, b[k][None, :]])
            t = np.sqrt(np.linalg.norm(c[k]))  # balances the two factors of c_k = (A p)(b_kᵀp)
            if np.linalg.cond(M) > 1e12:
                raise ValueError(f"task {k}: [A; b_kᵀ] is singular, its bias is not reachable by a prompt")
            token = np.linalg.solve(M, np.concatenate([c[k] / t, [t]]))
            p[k] = token / np.sqrt(prompt_len)
    elif np.any(c):
        raise ValueError("non-zero biases need prompt tokens")
    return AttentionParams(Q, K, V, p, h)


def effective_estimate(eff: Effective, G: np.ndarray, task: np.ndarray) -> np.ndarray:
    """The model's implied task vector ``w = A G b_k + c_k`` for each sequence, shape (B, d)."""
    Gb = np.einsum("bij,bj->bi", G, eff.b[task])
    return Gb @ eff.A.T + eff.c[task]


def effective_predict(eff: Effective, G: np.ndarray, x: np.ndarray, task: np.ndarray) -> np.ndarray:
    """``ŷ = xᵀ(A G b_k + c_k)``, shape (B,)."""
    return np.einsum("bi,bi->b", x, effective_estimate(eff, G, task))


