r"""The authors' layer-count ablation: mixtures and rows (chapter 9)

The authors' multi-layer experiment (``MultiLayerLinearAttn`` in their ``prompt_icl.py``) trains
L = 1, 2, 3 residual linear attention layers on two families at d = 10, σ = 0, means ``m·1`` and
covariances ``c·I``, each at three nominal mean-to-total energy ratios ("mu_ratio") 0.1, 0.5, 0.9:

* ``single-task``: one task, ``m = 1``, ``c = 9, 1, 0.1111``, for which the ratio
  ``‖μ‖²/(‖μ‖² + tr Σ) = 1/(1 + c)`` is the nominal one;
* ``two-task``: means ``∓1·1``, weights ½, ``c = 22.8, 2.32, 0.04444``, whose mean share
  ``ρ = tr M / tr Σ̃`` (chapter 6, equation (6.1)) is ``1/(1 + c)`` = 0.042, 0.301, 0.957, not the
  nominal ratio (:func:`authors_layer_spec` gives both).

:func:`layer_ablation` trains ``L = 1..L_max`` layers of one regime at each ``n`` (each depth grown
from the one before, :func:`prompticl.train_deep`), fits the ``L``-step preconditioned gradient-descent
reference (:func:`prompticl.train_gd_steps`), and adds chapter 8's one-layer optimum and the Bayes
floor (:func:`prompticl.bayes_floor`): the rows of chapter 9's ablation figure and of the closing
note's table (``benchmarks/bench_ablation.py``).
"""
from __future__ import annotations

import time
from typing import Sequence

import numpy as np

from ._spec import Spec, spec_from_dict

__all__ = ["AUTHORS_LAYER_COVS", "authors_layer_spec", "layer_ablation"]

#: The authors' covariance scale ``c`` (``Σ = c·I``) of each family and nominal mu_ratio.
AUTHORS_LAYER_COVS = {
    "single-task": {0.1: 9.0, 0.5: 1.0, 0.9: 0.1111},
    "two-task": {0.1: 22.8, 0.5: 2.32, 0.9: 0.04444},
}


def authors_layer_spec(family: str, mu_ratio: float, d: int = 10) -> Spec:
    r"""One mixture of the authors' layer-count ablation (chapter 9).

    ``single-task``: :math:`\beta \sim \mathcal N(\mathbf 1, cI)`; ``two-task``:
    :math:`\beta \sim \tfrac12\mathcal N(-\mathbf 1, cI) + \tfrac12\mathcal N(\mathbf 1, cI)`; ``σ = 0``,
    ``c`` from :data:`AUTHORS_LAYER_COVS`.  Both have mean share

    .. math::

        \rho = \frac{\operatorname{tr}M}{\operatorname{tr}\widetilde\Sigma} = \frac{d}{d + dc} = \frac1{1 + c},

    which is the nominal ratio for one task and not for two (0.042, 0.301, 0.957).

    Parameters
    ----------
    family : str
        ``"single-task"`` or ``"two-task"``.
    mu_ratio : float
        The authors' nominal ratio: 0.1, 0.5 or 0.9.
    d : int
        Dimension (the authors' 10).

    Returns
    -------
    Spec
        Named ``single_task_mu_ratio_0.5`` and so on, as in the authors' code.
    """
    if family not in AUTHORS_LAYER_COVS:
        raise ValueError(f"family must be one of {sorted(AUTHORS_LAYER_COVS)}, got {family!r}")
    covs = AUTHORS_LAYER_COVS[family]
    key = next((r for r in covs if np.isclose(r, mu_ratio)), None)
    if key is None:
        raise ValueError(f"mu_ratio must be one of {sorted(covs)}, got {mu_ratio!r}")
    c = covs[key]
    if family == "single-task":
        tasks = [{"weight": 1.0, "mean": 1.0, "cov": c}]
        name = f"single_task_mu_ratio_{key}"
    else:
        tasks = [{"weight": 0.5, "mean": -1.0, "cov": c}, {"weight": 0.5, "mean": 1.0, "cov": c}]
        name = f"multi_task_mu_ratio_{key}"
    return spec_from_dict({"name": name, "d": d, "noise": 0.0, "tasks": tasks,
                           "description": f"The authors' {family} mixture at nominal mu_ratio {key} (c = {c:g})."})


def layer_ablation(spec: Spec, ns: Sequence[int], regime: str, layers: Sequence[int] = (1, 2, 3), *,
                   attention: str = "linear", samples: int = 1000, test_samples: int = 10000, starts: int = 0,
                   seed: int = 0, gd: bool = True, bayes_samples: int = 2000) -> list[dict]:
    r"""Trained ``L``-layer losses, the ``L``-step reference and the floors over ``n`` (chapter 9).

    For each ``n`` the depths ``1..max(layers)`` are trained in turn, each grown from the one before
    (:func:`prompticl.train_deep`: the validation loss cannot increase with ``L``), and tested on
    fresh prompts with a 95% interval (:func:`prompticl.deep_test_loss`).  The reference is
    :func:`prompticl.train_gd_steps` with ``L`` steps, each grown from the one before in the same way;
    the floor is task-blind for ``plain`` and
    task-aware otherwise (:func:`prompticl.bayes_floor`).

    Parameters
    ----------
    spec : Spec
        The task mixture.
    ns : sequence of int
        Context lengths.
    regime : str
        One of the four regimes.
    layers : sequence of int
        The depths reported (all depths up to the largest are trained).
    attention : str
        ``"linear"`` or ``"softmax"``.
    samples : int
        Training prompts per task (the validation sample is four times as many).
    test_samples : int
        Fresh test prompts per task.
    starts : int
        Random starts per depth besides the chapter-8 and grown starts.
    seed : int
        Seed of every sample.
    gd : bool
        Fit the gradient-descent reference too.
    bayes_samples : int
        Monte Carlo draws of the Bayes floor where it has no closed form.

    Returns
    -------
    list of dict
        One row per ``(n, L)``: ``n, layers, test_loss, se, ci_low, ci_high, train_loss, val_loss,
        gd_loss, gd_se, layer_optimum, bayes, bayes_se, signal, seconds``.
    """
    from ._bayes import bayes_floor
    from ._closed_forms import signal as signal_of
    from ._deep import deep_test_loss, train_deep, train_gd_steps
    from ._layer_optimum import layer_optimum

    signal = signal_of(spec)  # tr Σ̃, the figures' normaliser
    floor = bayes_floor(spec, list(ns), samples=bayes_samples, seed=seed)
    values, ses = floor.by_regime()
    rows = []
    for i, n in enumerate(ns):
        one = float(layer_optimum(spec, n, regime, "full").loss)
        prev = prev_gd = None
        for L in range(1, max(layers) + 1):
            t0 = time.process_time()
            res = train_deep(spec, n, regime, L, attention=attention, samples=samples, starts=starts, seed=seed,
                             warm=prev)
            prev = res
            if gd:
                prev_gd = train_gd_steps(spec, n, regime, L, samples=samples, seed=seed, warm=prev_gd)
            if L not in layers:
                continue
            est = deep_test_loss(spec, res, samples=test_samples, seed=seed + 1)
            row = {"spec": spec.name, "regime": regime, "attention": attention, "n": int(n), "layers": L,
                   "test_loss": est.loss, "se": est.se, "ci_low": est.ci95[0], "ci_high": est.ci95[1],
                   "train_loss": res.train_loss, "val_loss": res.val_loss, "layer_optimum": one,
                   "bayes": float(values[regime][i]), "bayes_se": float(ses[regime][i]), "signal": signal}
            if gd:
                g = deep_test_loss(spec, prev_gd, samples=test_samples, seed=seed + 1)
                row.update(gd_loss=g.loss, gd_se=g.se)
            row["seconds"] = time.process_time() - t0
            rows.append(row)
    return rows
