"""Seeded samplers for the data model and the reduced model's predictions."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .spec import Spec

__all__ = ["Batch", "sample_batch", "reduced_predict", "mc_loss"]


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


def reduced_estimate(
    data: Batch, W: np.ndarray, biases: "np.ndarray | None" = None, centres: "np.ndarray | None" = None
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
    data: Batch, W: np.ndarray, biases: "np.ndarray | None" = None, centres: "np.ndarray | None" = None
) -> np.ndarray:
    """Predictions ``ŷ = xᵀ(W Xᵀ(y − X m_k) + c_k)`` of the reduced model, shape (B,)."""
    return np.einsum("bd,bd->b", data.x, reduced_estimate(data, W, biases, centres))


def mc_loss(
    spec: Spec,
    n: int,
    W: np.ndarray,
    biases: "np.ndarray | None" = None,
    centres: "np.ndarray | None" = None,
    *,
    samples: int = 100_000,
    rng: np.random.Generator,
    chunk: int = 20_000,
) -> tuple[float, float]:
    """Monte Carlo estimate of E[(ŷ − y)²] for the reduced model, with its standard error.

    Plain averaging of squared errors over fresh prompts (no variance reduction), so that it is an
    independent check of :func:`prompticl.theory.population_loss`.

    Returns
    -------
    (mean, standard_error) : tuple of float
    """
    total = 0.0
    total_sq = 0.0
    done = 0
    while done < samples:
        b = min(chunk, samples - done)
        data = sample_batch(spec, n, b, rng)
        err = (reduced_predict(data, W, biases, centres) - data.y_query) ** 2
        total += float(err.sum())
        total_sq += float((err**2).sum())
        done += b
    mean = total / samples
    var = max(total_sq / samples - mean**2, 0.0) * samples / max(samples - 1, 1)
    return mean, float(np.sqrt(var / samples))
