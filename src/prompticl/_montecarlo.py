"""Monte Carlo estimators with standard errors, for checking closed forms against simulation.

The chapters state a formula, then compare it with a plain Monte Carlo average drawn from
:mod:`prompticl._sampling`.  Every estimator here returns ``(estimate, standard_error)`` so that the
tolerance of a check can be derived from the sample size (e.g. four standard errors) rather than
chosen by hand.  :func:`check_z` is the one check every chapter and test uses: it fails when an
estimate sits more than ``z_tol`` standard errors from its target, and :data:`Z95` is the one
z of every 95% interval (test losses, error bars).  Chapters 01–05 use these.
"""
from __future__ import annotations

import numpy as np

from ._reduced import reduced_predict
from ._sampling import sample_batch
from ._spec import Spec

def mean_and_se(values: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Sample mean along ``axis`` and its standard error (unbiased sample variance).

    Parameters
    ----------
    values : ndarray
        Independent draws stacked along ``axis`` (at least two).
    axis : int

    Returns
    -------
    (mean, se) : tuple of ndarray (or float for 1-D input)
    """
    values = np.asarray(values, dtype=float)
    count = values.shape[axis]
    if count < 2:
        raise ValueError(f"need at least two draws to estimate a standard error, got {count}")
    mean = values.mean(axis=axis)
    se = values.std(axis=axis, ddof=1) / np.sqrt(count)
    return mean, se


def max_z_score(estimate: np.ndarray, se: np.ndarray, target: np.ndarray) -> float:
    """Largest ``|estimate − target| / se`` over all entries.

    Entries with a zero standard error count as ``0`` if they match exactly and as ``inf``
    otherwise (a deterministic mismatch can never be excused by noise).
    """
    estimate, se, target = (np.asarray(v, dtype=float) for v in (estimate, se, target))
    estimate, se, target = np.broadcast_arrays(estimate, se, target)
    if np.any(se < 0) or not np.all(np.isfinite(se)):
        raise ValueError("standard errors must be finite and non-negative")
    diff = np.abs(estimate - target)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, diff / np.where(se > 0, se, 1.0), np.where(diff == 0, 0.0, np.inf))
    return float(np.max(z)) if z.size else 0.0


#: Two-sided 95% standard-normal quantile Φ⁻¹(0.975): the one z of every 95% interval (tests, figures).
Z95 = 1.959963984540054

#: Default tolerance of a Monte Carlo check, in standard errors (a false alarm about once in 16 000).
Z_TOL = 4.0


def check_z(estimate, se, target, z_tol: float = Z_TOL, what: str = "estimate") -> float:
    """Assert that ``estimate`` lies within ``z_tol`` standard errors of ``target``; return the z-score.

    The single Monte Carlo check of the book (chapters 01–07) and the tests, built on
    :func:`max_z_score`.

    Raises
    ------
    AssertionError
        With the z-score, the tolerance and ``what`` in the message.
    """
    z = max_z_score(estimate, se, target)
    if not z <= z_tol:
        raise AssertionError(f"{what}: {z:.2f} standard errors from its target (tolerance {z_tol:g})")
    return z


def mc_task_second_moment(spec: Spec, samples: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Monte Carlo estimate of the whitened second moment E[β'β'ᵀ], ``β' = Σ_x^{1/2} β``.

    The target is ``prompticl._closed_forms.moments(spec).sigma_tilde``.

    Returns
    -------
    (estimate, se) : ndarray, shape (d, d) each
        Entrywise mean of ``β'β'ᵀ`` over ``samples`` task draws and its standard error.
    """
    data = sample_batch(spec, 0, samples, rng)
    white = data.beta @ spec.x_sqrt  # rows βᵀR, i.e. (Rβ)ᵀ since R is symmetric
    outer = white[:, :, None] * white[:, None, :]
    return mean_and_se(outer, axis=0)


def mc_signal(spec: Spec, samples: int, rng: np.random.Generator) -> tuple[float, float]:
    """Monte Carlo estimate of E[(xᵀβ)²] (noise-free query label) and its standard error.

    The target is ``prompticl._closed_forms.signal(spec)`` = tr Σ̃.
    """
    data = sample_batch(spec, 0, samples, rng)
    clean = np.einsum("bd,bd->b", data.x, data.beta) ** 2
    mean, se = mean_and_se(clean)
    return float(mean), float(se)


def mc_wishart_sas(
    a: np.ndarray,
    n: int,
    samples: int,
    rng: np.random.Generator,
    cov: "np.ndarray | None" = None,
    chunk: int = 20_000,
) -> tuple[np.ndarray, np.ndarray]:
    """Monte Carlo estimate of E[S A S] for ``S = XᵀX``, ``X`` with ``n`` rows ``N(0, Σ)``.

    The target is ``prompticl._closed_forms.wishart_sas(a, n, cov)`` (symmetric ``a``).

    Parameters
    ----------
    a : ndarray, shape (d, d)
        Any square matrix (the closed form in the theory module needs it symmetric).
    n : int
        Number of rows of ``X`` (``n >= 1``).
    samples : int
        Number of independent draws of ``X`` (``>= 2``).
    rng : numpy.random.Generator
    cov : ndarray, shape (d, d), optional
        Row covariance Σ (identity by default).
    chunk : int
        Draws per vectorised block (bounds memory).

    Returns
    -------
    (estimate, se) : ndarray, shape (d, d) each
    """
    a = np.asarray(a, dtype=float)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"a must be a square matrix, got shape {a.shape}")
    if n < 1 or samples < 2:
        raise ValueError(f"need n >= 1 and samples >= 2, got n={n}, samples={samples}")
    d = a.shape[0]
    root = np.eye(d) if cov is None else np.linalg.cholesky(np.asarray(cov, dtype=float)).T
    total = np.zeros((d, d))
    total_sq = np.zeros((d, d))
    done = 0
    while done < samples:
        b = min(chunk, samples - done)
        X = rng.standard_normal((b, n, d)) @ root
        S = np.einsum("bni,bnj->bij", X, X)
        sas = S @ a @ S
        total += sas.sum(axis=0)
        total_sq += (sas**2).sum(axis=0)
        done += b
    mean = total / samples
    var = np.clip(total_sq / samples - mean**2, 0.0, None) * samples / (samples - 1)
    return mean, np.sqrt(var / samples)


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
    independent check of :func:`prompticl._closed_forms.population_loss`.

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
