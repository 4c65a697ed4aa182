"""Every seeded sampler of the data model: prompts, their Gram matrices, seed streams, task counts.

Chapter 01 (the setting) defines the data model; chapter 07 uses the Gram sampler for training and
testing.  A fixed seed gives identical draws everywhere.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._attention import context_tokens, gram
from ._spec import Spec

@dataclass(frozen=True)
class Batch:
    """A batch of in-context prompts.

    Attributes
    ----------
    X : ndarray, shape (B, n, d)
        Context features.
    y : ndarray, shape (B, n)
        Context labels.
    x : ndarray, shape (B, d)
        Query features.
    y_query : ndarray, shape (B,)
        Query labels (with noise).
    beta : ndarray, shape (B, d)
        Task vectors.
    task : ndarray of int, shape (B,)
        Task indices.
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
    """Draw ``batch`` prompts of ``n`` examples (plus a query) from ``spec``.

    Parameters
    ----------
    spec : Spec
    n : int
        Context length (``n >= 0``; ``n = 0`` gives only queries).
    batch : int
        Number of prompts.
    rng : numpy.random.Generator
        The only source of randomness: a fixed seed gives identical batches.
    task : int, optional
        Draw every prompt from this task instead of from the mixture.
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
    """Context Gram matrices ``G = Σ_i z_i z_iᵀ`` of ``batch`` prompts of one task, and their task vectors.

    Distributed exactly as ``gram(context_tokens(X, y))`` of :func:`sample_batch`, but
    for ``n ≥ d`` drawn without the ``n`` tokens, from the Bartlett decomposition: with ``X = Z R``
    (``R = Σ_x^{1/2}``) write ``Z = U Lᵀ``, ``L`` lower triangular with ``L_ii² ~ χ²_{n−i}`` and standard
    normal entries below the diagonal, ``U`` orthonormal columns independent of ``L`` (valid for
    ``n ≥ d``).  Then
    ``XᵀX = R L Lᵀ R``, ``Xᵀξ = R L a`` with ``a = Uᵀξ ~ N(0, σ²I)``, and
    ``‖ξ‖² = ‖a‖² + σ² χ²_{n−d}``.  The cost per prompt is ``O(d²)`` instead of ``O(n d²)``.

    Returns
    -------
    G : ndarray, shape (batch, d + 1, d + 1)
    beta : ndarray, shape (batch, d)
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


def seed_streams(seed: int, n: int) -> tuple[np.random.Generator, np.random.Generator, np.random.Generator]:
    """Independent generators for (training sample, initialisation, test sample) of one run.

    Deterministic in ``(seed, n)``; the three streams never overlap.
    """
    ss = np.random.SeedSequence([int(seed), int(n), 0x7072])
    return tuple(np.random.default_rng(s) for s in ss.spawn(3))  # type: ignore[return-value]


def task_counts(weights: np.ndarray, total: int) -> np.ndarray:
    """Stratified per-task sample sizes (at least 2 each) summing to about ``total``."""
    counts = np.maximum(np.round(weights * total).astype(int), 2)
    return counts
