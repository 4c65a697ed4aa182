"""Mixtures indexed by the mean's share of the signal

A one-parameter family of task mixtures indexed by the mean's share of the signal.

The family keeps everything about a two-task mixture fixed (dimension, task weights, the *shape* of
the task means and of the task covariances, the total signal ``tr Sigma_tilde`` and the label noise) and moves
one knob: the share of the signal carried by the task means,

``ρ = tr M / tr Sigma_tilde``,  with ``M = Σ_k π_k μ_k μ_kᵀ`` and ``Sigma_tilde = Sigma_bar + M``.

Member ``ρ`` has means ``μ_k = t·a_k·1`` and covariances ``Σ_k = s·b_k·I`` (``Σ_x = I``), with
``t, s ≥ 0`` chosen so that ``tr M = ρ·E`` and ``tr Sigma_bar = (1 − ρ)·E``.  With the defaults (shapes of the
paper's Figure 1 mixture, ``E = 25.4``), ``ρ = 8.4/25.4`` is exactly the built-in ``zero-mean`` spec.
``ρ = 0`` has no task means (prompts cannot help), ``ρ = 1`` has deterministic tasks.

Chapter 6 (prompts versus fine-tuning) explores this family.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ._spec import Spec, spec_from_dict, spec_to_dict
from ._closed_forms import moments

#: tr Sigma_tilde of the paper's Figure 1 mixture (``zero-mean``): 10·(0.3·1 + 0.7·2) + 10·(0.3·1.4² + 0.7·0.6²).
DEFAULT_ENERGY = 25.4


def mean_share(spec: Spec) -> float:
    r"""The mean share :math:`\rho` of ``spec``, equation (6.1) of Chapter 6.

    .. math::

       \rho = \frac{\operatorname{tr}M}{\operatorname{tr}\widetilde{\Sigma}} \in [0, 1]

    with the whitened moments of :func:`moments`; zero when there is no signal.

    Parameters
    ----------
    spec : Spec
        The task mixture.

    Returns
    -------
    float
        :math:`\rho`.
    """
    mom = moments(spec)
    total = float(np.trace(mom.sigma_tilde))
    return float(np.trace(mom.mean_part)) / total if total > 0 else 0.0


def mean_share_family(
    rho: float,
    *,
    d: int = 10,
    weights: Sequence[float] = (0.3, 0.7),
    mean_shape: Sequence[float] = (1.4, -0.6),
    cov_shape: Sequence[float] = (1.0, 2.0),
    energy: float = DEFAULT_ENERGY,
    noise: float = 0.0,
) -> Spec:
    r"""The member of the family with mean share ``rho`` (Chapter 6, equation (6.2)).

    Task ``k`` has mean :math:`t\,a_k\mathbf 1` and covariance :math:`s\,b_k I` (:math:`\Sigma_x = I`),
    with :math:`t, s \ge 0` fitted so that :math:`\operatorname{tr}M = \rho E` and
    :math:`\operatorname{tr}\bar\Sigma = (1 - \rho)E`.

    Parameters
    ----------
    rho : float
        Mean-to-total energy ratio ``tr M / tr Sigma_tilde`` in ``[0, 1]``.
    d : int
        Feature dimension (``Σ_x = I``).
    weights : sequence of float
        Task probabilities π_k.
    mean_shape : sequence of float
        ``a_k``: task ``k`` has mean ``t·a_k·1`` (only the shape matters, ``t`` is fitted).
    cov_shape : sequence of float
        ``b_k ≥ 0``: task ``k`` has covariance ``s·b_k·I`` (``s`` is fitted).
    energy : float
        The total signal ``E = tr Sigma_tilde = E[(xᵀβ)²] > 0``.
    noise : float
        Label-noise standard deviation σ.

    Returns
    -------
    Spec
        Validated like a spec file; ``name`` is ``mean-share-<rho>``.

    Raises
    ------
    ValueError
        If ``rho`` is outside ``[0, 1]``, the shapes do not match the weights, or a shape cannot carry
        its share (all ``a_k = 0`` with ``rho > 0``, all ``b_k = 0`` with ``rho < 1``).
    """
    if not (isinstance(rho, (int, float, np.floating)) and math.isfinite(rho) and 0.0 <= rho <= 1.0):
        raise ValueError(f"rho must be a number in [0, 1], got {rho!r}")
    if not (math.isfinite(energy) and energy > 0):
        raise ValueError(f"energy must be positive, got {energy!r}")
    w = np.asarray(weights, dtype=float)
    a = np.asarray(mean_shape, dtype=float)
    b = np.asarray(cov_shape, dtype=float)
    if a.shape != w.shape or b.shape != w.shape:
        raise ValueError(
            f"weights, mean_shape and cov_shape must have the same length, got {w.size}, {a.size}, {b.size}"
        )
    if np.any(b < 0):
        raise ValueError(f"cov_shape must be >= 0, got {b.tolist()}")
    mean_energy = d * float(w @ a**2)  # tr M at t = 1
    cov_energy = d * float(w @ b)  # tr Sigma_bar at s = 1
    if rho > 0 and mean_energy == 0:
        raise ValueError("mean_shape is all zero, so no mixture of this family has rho > 0")
    if rho < 1 and cov_energy == 0:
        raise ValueError("cov_shape is all zero, so no mixture of this family has rho < 1")
    t = math.sqrt(rho * energy / mean_energy) if rho > 0 else 0.0
    s = (1.0 - rho) * energy / cov_energy if rho < 1 else 0.0
    return spec_from_dict(
        {
            "name": f"mean-share-{rho:.4g}",
            "description": f"Two-task family member with mean share rho = {rho:.4g} and tr Sigma_tilde = {energy:.4g}.",
            "d": d,
            "noise": float(noise),
            "tasks": [
                {"weight": float(wk), "mean": float(t * ak), "cov": float(s * bk)} for wk, ak, bk in zip(w, a, b)
            ],
        }
    )


def scale_means(spec: Spec, factor: float) -> Spec:
    r"""A copy of ``spec`` with every task mean multiplied by ``factor`` (Chapter 6).

    :math:`\bar\Sigma` is unchanged and :math:`M` is scaled by ``factor²``.

    Parameters
    ----------
    spec : Spec
        The task mixture.
    factor : float
        The (finite) factor.

    Returns
    -------
    Spec
        The new mixture, named ``<name>-means-x<factor>``.
    """
    if not math.isfinite(factor):
        raise ValueError(f"factor must be finite, got {factor!r}")
    data = spec_to_dict(spec)
    for task in data["tasks"]:
        task["mean"] = [factor * m for m in task["mean"]]
    data["name"] = f"{spec.name}-means-x{factor:.4g}"
    data["title"] = f"{spec.title or spec.name}, means ×{factor:.4g}"  # the original's title no longer fits
    return spec_from_dict(data, spec.name)
