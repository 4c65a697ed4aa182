"""``prompticl theory SPEC --n N [N ...] [--model reduced|full|bayes] [--json]``: the four regimes' optimal losses.

Every number comes from :mod:`prompticl._closed_forms` (``--model reduced``, the closed forms), from
:mod:`prompticl._layer_optimum` (``--model full``, the attention layer's certified optimum) or from
:mod:`prompticl._bayes` (``--model bayes``, the Bayes floor: task-blind for plain, task-aware for the
other three, with Monte Carlo standard errors under ``se``); this module only formats them.

Chapters 2–5 derive the closed forms; chapter 8 the layer's own optimum (``--model full``). The
Bayes floor (``--model bayes``) is derived in :mod:`prompticl._bayes` (its chapter is not written yet).
"""
from __future__ import annotations

import argparse
import json

from .._spec import Spec
from .._layer_optimum import layer_optima
from .._closed_forms import optimal_losses, signal
from .._regimes import REGIMES, REGIME_TITLES
from .._limits import (BUDGET_SECONDS, MAX_BAYES_D, MAX_BAYES_N, MAX_D, MAX_K, MAX_LAYER_D, MAX_LAYER_N,
                       MAX_LAYER_N_VALUES, MAX_N, MAX_N_VALUES, THEORY_WORK, bayes_cost, check_bayes, check_budget,
                       check_layer, check_theory, layer_cost)
from . import CLIError
from .._safe_yaml import escape_control
from ._common import add_n_argument, add_spec_argument, require_signal

__all__ = ["MODELS", "register", "run", "theory_report", "format_table"]

#: ``--model`` choices.
MODELS = ("reduced", "full", "bayes")


class NotCertified(RuntimeError):
    """The layer optimum of some regime at some n failed its certificate (gradient and Hessian checks)."""


def register(subparsers: "argparse._SubParsersAction") -> None:
    """Add the ``theory`` subcommand."""
    parser = subparsers.add_parser(
        "theory",
        help="optimal population losses of the four regimes (closed forms)",
        description="Print the optimal population loss E[(y_hat - y)^2] (label noise included) of "
        "each regime at each context length n, and the same divided by the signal "
        "E[(x'beta)^2] = tr(Sigma_tilde).",
    )
    parser.epilog = (
        f"limits (measured, see prompticl._limits): d <= {MAX_D}, K <= {MAX_K} tasks, n <= {MAX_N}, at most "
        f"{MAX_N_VALUES} values of n and len(n) x d^3 <= {THEORY_WORK:.0e}; spec files up to 512 KB; "
        f"--model full: d <= {MAX_LAYER_D}, n <= {MAX_LAYER_N}, at most {MAX_LAYER_N_VALUES} values of n and an "
        f"estimated time within {BUDGET_SECONDS:.0f} s (--allow-long lifts the time budget); --model bayes: d <= {MAX_BAYES_D}, "
        f"n <= {MAX_BAYES_N} and the same time budget"
    )
    add_spec_argument(parser)
    add_n_argument(parser)
    parser.add_argument(
        "--model",
        choices=MODELS,
        default="reduced",
        help="reduced: closed forms of the reduced model (default); full: the attention layer's own "
        "optimum (exact population moments, certified numerical optimisation); bayes: the Bayes floor, the "
        "least loss of any predictor (plain: task-blind posterior mean under the whole mixture; finetune, "
        "joint, joint-heads: task-aware, under the task's own prior), exact where a closed form exists, "
        "else Monte Carlo with standard errors",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object {n, plain, finetune, joint, joint-heads, signal} "
        "(losses not normalised; --model bayes adds se: {plain: [...], ...}, the standard errors)",
    )
    parser.add_argument("--allow-long", action="store_true",
                        help=f"--model full or bayes: run even when the estimated time exceeds the budget of {BUDGET_SECONDS:.0f} s")
    parser.set_defaults(handler=run)


def theory_report(spec: Spec, ns: "list[int]", model: str = "reduced") -> dict:
    """The JSON payload: context lengths, each regime's optimal losses, and the signal.

    ``model="full"`` gives the layer's certified optimum (:func:`prompticl._layer_optimum.layer_optima`)
    instead of the reduced closed forms; the keys are the same.  An optimum that fails its
    certificate raises :class:`RuntimeError`.

    Returns
    -------
    dict
        ``{"n": [...], "plain": [...], "finetune": [...], "joint": [...], "joint-heads": [...],
        "signal": float}`` with plain Python numbers; losses are population losses (label noise
        included, not normalised) and ``signal`` is tr Σ̃ = E[(xᵀβ)²].  ``model="bayes"`` gives the
        Bayes floors (:func:`prompticl._bayes.bayes_floor`) and adds ``"se"``: the standard errors,
        keyed by regime like the losses (0 where the value is a closed form).
    """
    if model == "full":
        losses = {regime: [] for regime in REGIMES}
        for n in ns:
            for regime, opt in layer_optima(spec, int(n), "full").items():
                if not opt.certified:
                    raise NotCertified(
                        f"the layer optimum of {regime} at n = {n} is not certified "
                        f"(relative stationarity {opt.stationarity:.2e}, smallest Hessian eigenvalue {opt.min_hessian_eig:.2e})"
                    )
                losses[regime].append(opt.loss)
    elif model == "reduced":
        losses = optimal_losses(spec, ns)
    elif model == "bayes":
        from .._bayes import bayes_floor

        losses, ses = bayes_floor(spec, [int(n) for n in ns]).by_regime()
    else:
        raise ValueError(f"unknown model {model!r} (choose from {', '.join(MODELS)})")
    report: dict = {"n": [int(n) for n in ns]}
    report.update({regime: [float(v) for v in losses[regime]] for regime in REGIMES})
    report["signal"] = signal(spec)
    if model == "bayes":
        report["se"] = ses
    return report


def format_table(spec: Spec, report: dict, model: str = "reduced") -> str:
    """A readable table of :func:`theory_report`: raw losses, then losses divided by the signal."""
    sig = report["signal"]
    lines = [f"spec {escape_control(spec.name)}: d = {spec.d}, K = {spec.K} tasks, label noise sigma = {spec.noise:g}"]
    if model == "bayes":
        lines.append("model: the Bayes floor, the least loss of any predictor (posterior mean); plain = task-blind "
                     "(mixture prior), the others = task-aware (the task's own prior); '+-' = Monte Carlo "
                     "standard error, 0 where exact")
    if model == "full":
        lines.append("model: the full attention layer (exact moments; each optimum certified: "
                     "gradient and Hessian checked, best of several starts)")
    lines += [
        ("least" if model == "bayes" else "optimal") + " population loss E[(y_hat - y)^2] per regime (label noise included);",
        f"'/signal' columns divide it by the signal E[(x'beta)^2] = tr(Sigma_tilde) = {sig:.6g}",
        "regimes: " + "; ".join(f"{r} = {REGIME_TITLES[r]}" for r in REGIMES),
        "",
    ]
    width = 16 if model == "bayes" else 12
    head = [f"{'n':>6}"] + [f"{r:>{width}}" for r in REGIMES] + [f"{r + '/signal':>{width + 7}}" for r in REGIMES]
    lines.append("  ".join(head))
    for i, n in enumerate(report["n"]):
        row = [f"{n:>6d}"]
        if model == "bayes":
            cells = [f"{report[r][i]:.4g}+-{report['se'][r][i]:.1g}" for r in REGIMES]
            row += [f"{cell:>{width}}" for cell in cells]
        else:
            row += [f"{report[r][i]:>{width}.6g}" for r in REGIMES]
        row += [f"{report[r][i] / sig:>{width + 7}.6g}" if sig > 0 else f"{'nan':>{width + 7}}" for r in REGIMES]
        lines.append("  ".join(row))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Check the limits and the spec's signal, then compute and print."""
    model = getattr(args, "model", "reduced")
    require_signal(args.spec)
    check_theory(args.spec.d, args.n)
    if model == "bayes":
        from .._bayes import BAYES_SAMPLES

        check_bayes(args.spec.d, args.n)
        check_budget(bayes_cost(args.spec.d, args.spec.K, args.n, BAYES_SAMPLES),
                     f"--model bayes with {len(args.n)} values of --n up to n = {max(args.n)} at d = {args.spec.d}, "
                     f"K = {args.spec.K} tasks", getattr(args, "allow_long", False), "give fewer or smaller values of --n")
        if args.spec.noise == 0 and args.spec.K > 1 and min(args.n) < args.spec.d:
            import numpy as np

            eig = np.linalg.eigvalsh(args.spec.covs)
            if (eig[:, 0] <= 1e-12 * max(eig[:, -1].max(), 1e-300)).any():
                raise CLIError("--model bayes with sigma = 0 and n < d needs positive definite task covariances "
                               "(the noiseless task-blind posterior needs a density of y under every task); "
                               "give the spec some label noise")
    if model == "full":
        check_layer(args.spec.d, args.n, args.spec.K)
        check_budget(layer_cost(args.spec.d, args.spec.K, len(args.n)),
                     f"--model full with {len(args.n)} values of --n at d = {args.spec.d}, K = {args.spec.K} tasks",
                     getattr(args, "allow_long", False), "give fewer values of --n")
    try:
        report = theory_report(args.spec, args.n, model)
    except NotCertified as exc:  # inside the limits, yet the optimiser did not certify: say so plainly
        raise CLIError(f"{exc}; --model reduced gives the closed forms at every n") from None
    if args.json:
        print(json.dumps(report))
    else:
        print(format_table(args.spec, report, model))
    return 0
