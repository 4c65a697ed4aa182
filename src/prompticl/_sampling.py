"""Seeded samplers of prompts, Gram matrices and seed streams

Every draw of the data model goes through this module: :func:`sample_batch` draws prompts as
chapter 1 defines them (Definitions 1.1 and 1.2), :func:`sample_grams` draws their context Gram
matrices directly (the training sample of chapter 7), and :func:`seed_streams` splits one seed into
the independent streams of a run.  The only source of randomness is the generator passed in: a fixed
seed gives identical draws everywhere.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._attention import context_tokens, gram
from ._spec import Spec

@dataclass(frozen=True)
class Batch:
    r"""A batch of ``B`` in-context prompts, as drawn by :func:`sample_batch`.

    Prompt ``b`` is the one of chapter 1 (Definition 1.2): ``n`` examples :math:`(x_i, y_i)` and a
    query :math:`(x, y)` sharing one task :math:`k` and task vector :math:`\beta`.

    Attributes
    ----------
    X : ndarray, shape (B, n, d)
        Context features :math:`X`, rows :math:`x_i^\top`.
    y : ndarray, shape (B, n)
        Context labels :math:`y_i = x_i^\top\beta + \xi_i`.
    x : ndarray, shape (B, d)
        Query features :math:`x`.
    y_query : ndarray, shape (B,)
        Query labels :math:`y = x^\top\beta + \xi` (with noise).
    beta : ndarray, shape (B, d)
        Task vectors :math:`\beta`.
    task : ndarray of int, shape (B,)
        Task indices :math:`k` (0-based).
    """

    X: np.ndarray
    y: np.ndarray
    x: np.ndarray
    y_query: np.ndarray
    beta: np.ndarray
    task: np.ndarray


def sample_batch(
    spec: Spec, n: int, batch: int, rng: np.random.Generator, task: "int | None" = None
) -> Batch:
    r"""Draw ``batch`` prompts of ``n`` examples (plus a query) from the task mixture ``spec``.

    The data model of chapter 1 (Definition 1.1, equation (1.1)): for each prompt independently,

    .. math::

        k \sim \pi, \qquad \beta = \mu_k + \Sigma_k^{1/2} g,

        x_i = R\,g_i, \quad x = R\,g',

        y_i = x_i^\top\beta + \xi_i, \quad y = x^\top\beta + \xi,

    with :math:`R = \Sigma_x^{1/2}`, :math:`\Sigma_k^{1/2}` the symmetric square roots, and all of
    :math:`g, g_i, g' \sim \mathcal N(0, I_d)`, :math:`\xi_i, \xi \sim \mathcal N(0, \sigma^2)`
    independent.

    Parameters
    ----------
    spec : Spec
        The task mixture (:math:`\pi_k, \mu_k, \Sigma_k, \Sigma_x, \sigma`).
    n : int
        Context length (``n >= 0``; ``n = 0`` gives only queries).
    batch : int
        Number of prompts (``>= 1``).
    rng : numpy.random.Generator
        The only source of randomness: a fixed seed gives identical batches.
    task : int, optional
        Draw every prompt from this task (0-based) instead of from the mixture.

    Returns
    -------
    Batch
        The prompts, their task vectors and task indices.

    Raises
    ------
    ValueError
        If ``n < 0``, ``batch < 1`` or ``task`` is not a task index of ``spec``.
    """
    if n < 0 or batch < 1:
        raise ValueError(f"need n >= 0 and batch >= 1, got n={n}, batch={batch}")
    d = spec.d
    if task is None:
        tasks = rng.choice(spec.K, size=batch, p=spec.weights)
    else:
        if not 0 <= task < spec.K:
            raise ValueError(f"task must be in 0..{spec.K - 1}, got {task}")
        tasks = np.full(batch, task)
    beta = spec.means[tasks] + np.einsum("bij,bj->bi", spec.cov_sqrts[tasks], rng.standard_normal((batch, d)))
    r = spec.x_sqrt
    X = rng.standard_normal((batch, n, d)) @ r
    x = rng.standard_normal((batch, d)) @ r
    y = np.einsum("bnd,bd->bn", X, beta) + spec.noise * rng.standard_normal((batch, n))
    y_query = np.einsum("bd,bd->b", x, beta) + spec.noise * rng.standard_normal(batch)
    return Batch(X, y, x, y_query, beta, tasks)


def sample_grams(
    spec: Spec, n: int, batch: int, rng: np.random.Generator, task: int
) -> tuple[np.ndarray, np.ndarray]:
    r"""Context Gram matrices of ``batch`` prompts of one task, and their task vectors.

    Each :math:`G = \sum_{i=1}^n z_iz_i^\top` (chapter 2, Lemma 2.1) is distributed exactly as
    :func:`gram` of :func:`context_tokens` of a :func:`sample_batch` draw with the same ``task``, but
    for :math:`n \ge d` it is drawn without the ``n`` tokens, from the Bartlett decomposition. With
    :math:`X = ZR` (:math:`R = \Sigma_x^{1/2}`) write :math:`Z = UL^\top`, where :math:`L` is lower
    triangular with :math:`L_{ii}^2 \sim \chi^2_{n-i}` (:math:`i = 0, \dots, d-1`) and standard
    normal entries below the diagonal, and :math:`U` (orthonormal columns) is independent of
    :math:`L`. With the context noise :math:`\xi`, :math:`a = U^\top\xi \sim \mathcal N(0, \sigma^2 I_d)`, so

    .. math::

        X^\top X = RLL^\top R, \qquad X^\top y = X^\top X\beta + RLa,

        y^\top y = \beta^\top X^\top X\beta + 2\beta^\top RLa + \|a\|^2 + \sigma^2\chi^2_{n-d},

    and :math:`G = \begin{bmatrix} X^\top X & X^\top y \\ y^\top X & y^\top y \end{bmatrix}`.
    The cost per prompt is :math:`O(d^2)` instead of :math:`O(nd^2)`; for :math:`n < d` the tokens
    are drawn. Chapter 7 trains on these matrices (through :func:`sample_stats`); the draws are
    not the same random numbers as those of :func:`sample_batch`, only the same distribution.

    Parameters
    ----------
    spec : Spec
        The task mixture.
    n : int
        Context length (``>= 0``).
    batch : int
        Number of prompts.
    rng : numpy.random.Generator
        The only source of randomness.
    task : int
        Task index (0-based) of every prompt.

    Returns
    -------
    G : ndarray, shape (batch, d + 1, d + 1)
        Context Gram matrices (query excluded, no normalisation).
    beta : ndarray, shape (batch, d)
        The task vector of each prompt.
    """
    d = spec.d
    if n < d:
        data = sample_batch(spec, n, batch, rng, task=task)
        return gram(context_tokens(data.X, data.y)), data.beta
    beta = spec.means[task] + rng.standard_normal((batch, d)) @ spec.cov_sqrts[task].T
    L = np.zeros((batch, d, d))
    rows, cols = np.tril_indices(d, -1)
    L[:, rows, cols] = rng.standard_normal((batch, rows.size))
    diag = np.arange(d)
    L[:, diag, diag] = np.sqrt(rng.chisquare(n - diag, size=(batch, d)))
    v = spec.x_sqrt @ L  # (batch, d, d): R L
    S = v @ v.transpose(0, 2, 1)
    a = spec.noise * rng.standard_normal((batch, d))
    Sb = np.einsum("bij,bj->bi", S, beta)
    va = np.einsum("bij,bj->bi", v, a)
    xty = Sb + va
    rest = spec.noise**2 * rng.chisquare(n - d, size=batch) if n > d else 0.0
    yty = np.einsum("bi,bi->b", beta, Sb) + 2 * np.einsum("bi,bi->b", beta, va) + np.einsum("bi,bi->b", a, a) + rest
    G = np.empty((batch, d + 1, d + 1))
    G[:, :d, :d] = S
    G[:, :d, d] = xty
    G[:, d, :d] = xty
    G[:, d, d] = yty
    return G, beta


def gram_chunks(spec: Spec, n: int, count: int, rng: np.random.Generator, task: int, chunk: int):
    """``count`` draws of :func:`sample_grams` for one task, in chunks of at most ``chunk`` prompts.

    The one order in which the sampled moments (chapter 7's training statistics, the streamed ones
    and their replays) and the Rao–Blackwellised test losses consume ``rng``: yields ``(G, beta)``
    per chunk.
    """
    done = 0
    while done < count:
        m = int(min(chunk, count - done))
        yield sample_grams(spec, n, m, rng, task)
        done += m


def seed_streams(seed: int, n: int) -> tuple[np.random.Generator, np.random.Generator, np.random.Generator]:
    """Independent generators for the training sample, the initialisation and the test sample of one run.

    Chapter 7 seeds every run of its grid this way: the streams are spawned from one
    ``numpy.random.SeedSequence`` of ``(seed, n)``, so they are deterministic in ``(seed, n)`` and
    never overlap, and the regimes of one run share their training and test samples.

    Parameters
    ----------
    seed : int
        Seed of the run.
    n : int
        Context length of the run (part of the seed, so each length gets its own samples).

    Returns
    -------
    (rng_train, rng_init, rng_test) : tuple of numpy.random.Generator
        The three independent streams.
    """
    ss = np.random.SeedSequence([int(seed), int(n), 0x7072])
    return tuple(np.random.default_rng(s) for s in ss.spawn(3))  # type: ignore[return-value]


def task_counts(weights: np.ndarray, total: int) -> np.ndarray:
    """Stratified per-task sample sizes (at least 2 each) summing to about ``total``."""
    counts = np.maximum(np.round(weights * total).astype(int), 2)
    return counts
