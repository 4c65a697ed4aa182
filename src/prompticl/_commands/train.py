"""``prompticl train SPEC --regime R --n N [--layers L] [--attention linear|softmax] [--seed S] [--json]``.

Trains the one-layer linear attention model in one regime (:mod:`prompticl._training`), estimates
its test loss on fresh prompts with a 95% interval (:mod:`prompticl._evaluation`) and compares it
with the regime's closed form (:mod:`prompticl._closed_forms`).  With ``--layers`` or
``--attention``, trains ``L`` residual layers with JAX instead (:mod:`prompticl._deep`) and adds the
one-layer certified optimum (``layer_optimum``) and the Bayes floor (``bayes``, ``bayes_se``).

Chapter 7 (experiments) explains the comparison; the deeper models (:mod:`prompticl._deep`) have
no chapter yet.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from .._evaluation import distance_to_optimum, test_loss
from .._limits import (BUDGET_SECONDS, MAX_DEEP_LAYERS, MAX_PROMPT_LEN, MAX_TRAIN_D, MAX_TRAIN_K, MAX_TRAIN_N,
                       SAMPLE_WORK, check_adam, check_budget, check_deep, check_train, check_train_budget, deep_cost)
from .._safe_yaml import escape_control
from .._sampling import seed_streams
from .._closed_forms import moments, optimum, signal
from .._regimes import REGIMES, REGIME_TITLES
from .._training import DEFAULT_TRAIN_SAMPLES, TrainResult, train
from . import CLIError
from ._common import add_spec_argument, parse_whole_number, positive_int, require_signal

__all__ = ["register", "run", "train_report", "deep_report", "parameter_summary", "require_full_rank", "require_well_scaled"]


def _nonneg_int(text: str) -> int:
    return parse_whole_number(text, 0, 2**32 - 1)


#: Fewest training prompts for ALS: fewer leave the least-squares fit underdetermined (with 1 the
#: trainer fitted 4 prompts and reported a negative training loss).
MIN_SAMPLES = 1000
#: Adam's defaults on the command line.  The authors ran 100,000 steps of 3072 prompts per task,
#: about 2.5 hours here (0.1 s per step at d = 10); 2000 steps of 256 prompts take about a minute
#: at d = 10, K = 2, n = 10 and reach the optimum's W within a few percent (benchmarks/results-limits.json).
ADAM_STEPS = 2000
ADAM_BATCH = 256


def _samples(text: str) -> int:
    return parse_whole_number(text, MIN_SAMPLES, 10**9)


def _fraction(text: str) -> float:
    try:
        if not text.isascii() or text != text.strip() or "_" in text:
            raise ValueError(text)
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 0.5], got {escape_control(repr(text))[:60]}") from None
    if not 0 < value <= 0.5:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 0.5], got {escape_control(repr(text))[:60]}")
    return value


def require_full_rank(spec, regime: str) -> None:
    """Refuse a prompt regime whose optimal attention is singular (a task covariance of lower rank).

    The trainer maps its solution back to raw parameters through the matrix ``[A; b_kᵀ]``, which must
    be invertible for a prompt token to carry the task bias; it is when the second moment the regime
    fits (Σ̃ for finetune, Σ̄ for joint and joint-heads, whitened) is positive definite.
    """
    if regime == "plain":
        return
    mom = moments(spec)
    num, label = (mom.sigma_tilde, "E[beta beta^T]") if regime == "finetune" else (mom.sigma_bar, "the within-task covariance")
    eig = np.linalg.eigvalsh(num)
    if eig[0] <= 1e-8 * max(float(eig[-1]), 1e-300):
        raise CLIError(
            f"--regime {regime} needs {label} of spec {spec.name!r} to be positive definite, with smallest/largest "
            f"eigenvalue above 1e-8 (it is {eig[0] / max(float(eig[-1]), 1e-300):.3g}): otherwise the trained attention is then singular and a prompt token cannot carry the task "
            "bias; give every task a positive definite cov, or use --regime plain"
        )


#: Largest ratio between the scales of a spec that ``train`` accepts (scales: |mean entries| and
#: the square roots of the covariance and x_cov diagonals, i.e. standard deviations).  The trainer
#: works in double precision on sample moments: means of ±1e6 with covariances 1e-12 (a ratio of
#: 1e12) trained to a loss 41% above the optimum without a word.
MAX_SCALE_RATIO = 1e6
#: Signal range of ``train`` (every number 1e-50 gave a loss 124% above the optimum).
SIGNAL_RANGE = (1e-30, 1e30)


def require_well_scaled(spec) -> None:
    """Refuse a spec too badly scaled for the trainer (the closed forms of ``theory`` are not affected)."""
    sig = signal(spec)
    if not SIGNAL_RANGE[0] <= sig <= SIGNAL_RANGE[1]:
        raise CLIError(
            f"spec {escape_control(spec.name)!r} has signal tr Sigma_tilde = {sig:.3g}; train needs it within "
            f"{SIGNAL_RANGE[0]:g} .. {SIGNAL_RANGE[1]:g} (rescale every mean by s and covariance by s^2: the losses scale by s^2)"
        )
    scales = np.concatenate([np.abs(spec.means).ravel(), np.sqrt(np.abs(np.diagonal(spec.covs, axis1=1, axis2=2))).ravel(),
                             np.sqrt(np.abs(np.diagonal(spec.x_cov)))])
    scales = scales[scales > 0]
    ratio = float(scales.max() / scales.min())
    if ratio > MAX_SCALE_RATIO:
        raise CLIError(
            f"spec {escape_control(spec.name)!r} is badly scaled for training: its means and standard deviations span "
            f"{scales.min():.3g} .. {scales.max():.3g} (ratio {ratio:.2g}); train needs a ratio <= {MAX_SCALE_RATIO:g}, "
            "since its double-precision sample moments cannot resolve both (theory is exact at any scale)"
        )


def register(subparsers: "argparse._SubParsersAction") -> None:
    """Add the ``train`` subcommand."""
    parser = subparsers.add_parser(
        "train",
        help="train the one-layer linear attention model in one regime and test it against theory",
        description="Train the one-layer linear attention model (query/key/value maps, task prompt "
        "tokens, optional task heads) in one regime, then estimate its test loss on fresh prompts "
        "with a 95%% confidence interval and compare it with the regime's closed form.",
    )
    parser.epilog = (
        f"limits (measured, see prompticl._limits): d <= {MAX_TRAIN_D}, K <= {MAX_TRAIN_K} tasks, n <= {MAX_TRAIN_N}, "
        f"samples x (d+1)^2 <= {SAMPLE_WORK:.3g}, prompt length <= {MAX_PROMPT_LEN}; prompt regimes need a "
        "positive definite within-task covariance"
    )
    add_spec_argument(parser)
    parser.add_argument("--regime", required=True, choices=REGIMES, help="training regime")
    parser.add_argument("--n", "-n", dest="n", metavar="N", type=positive_int, required=True, help="context length")
    parser.add_argument("--seed", type=_nonneg_int, default=0, help="seed of the run (default 0)")
    parser.add_argument(
        "--method",
        choices=("als", "adam"),
        default="als",
        help="als: alternating least squares on a training sample (default); adam: the authors' "
        "optimiser on the raw parameters (slow)",
    )
    parser.add_argument(
        "--samples", type=_samples, default=DEFAULT_TRAIN_SAMPLES,
        help=f"training prompts for als, at least {MIN_SAMPLES} (default %(default)s)"
    )
    parser.add_argument("--steps", type=positive_int, default=ADAM_STEPS,
                        help="Adam steps (default %(default)s: about a minute or two at d = 10; the authors ran 100000)")
    parser.add_argument("--batch", type=positive_int, default=ADAM_BATCH,
                        help="Adam prompts per task and step (default %(default)s; the authors used 3072)")
    parser.add_argument("--allow-long", action="store_true",
                        help=f"run even when the estimated time exceeds the budget of {BUDGET_SECONDS:.0f} s")
    parser.add_argument("--prompt-len", type=positive_int, default=1, help="prompt tokens per task (default 1)")
    parser.add_argument(
        "--ci", type=_fraction, default=0.005, help="target 95%% half-width of the test loss, relative (default 0.005)"
    )
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bar on stderr (default: when stderr is a terminal)")
    parser.add_argument("--layers", type=lambda t: parse_whole_number(t, 1, MAX_DEEP_LAYERS), default=None,
                        help=f"train L = 1..{MAX_DEEP_LAYERS} residual attention layers with JAX (L-BFGS on a fixed "
                        "sample, float64; needs the 'deep' extra); adds layer_optimum and bayes to the report")
    parser.add_argument("--attention", choices=("linear", "softmax"), default=None,
                        help="with --layers: linear scores (default) or a softmax over the prompt and context tokens")
    parser.add_argument("--starts", type=lambda t: parse_whole_number(t, 0, 20), default=3,
                        help="with --layers: random starts of L-BFGS besides chapter 8's optimum (one linear layer) "
                        "and the grown shallower model (deeper ones); softmax needs at least 1 (default %(default)s)")
    parser.add_argument("--deep-samples", type=lambda t: parse_whole_number(t, 100, 10**6), default=2000,
                        help="with --layers: training prompts per task (default %(default)s)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)


def parameter_summary(spec, result: TrainResult) -> dict:
    """The trained model's distance to the regime's optimum and the sizes of its raw parameters."""
    p = result.params
    return {
        **distance_to_optimum(result.eff, optimum(spec, result.n, result.regime)),
        "prompt_tokens": 0 if p.prompts is None else int(p.prompts.shape[1]),
        "heads": p.heads is not None,
        "norms": {name: float(np.linalg.norm(getattr(p, name))) for name in ("Q", "K", "V", "prompts", "heads")
                  if getattr(p, name) is not None},
    }


def train_report(spec, regime: str, n: int, seed: int, *, method: str = "als", samples: int = DEFAULT_TRAIN_SAMPLES,
                 steps: int = ADAM_STEPS, batch: int = ADAM_BATCH, prompt_len: int = 1, ci: float = 0.005,
                 progress: bool = False) -> dict:
    """Train, test and compare; the JSON payload of ``prompticl train``."""
    kwargs: dict = {"prompt_len": prompt_len, "progress": progress}
    if method == "als":
        kwargs["samples"] = samples
    else:
        kwargs.update(steps=steps, batch=batch)
    result = train(spec, n, regime, seed, method=method, **kwargs)
    t0 = time.perf_counter()
    est = test_loss(spec, n, result.params, seed_streams(seed, n)[2], rel_halfwidth=ci)
    eval_seconds = time.perf_counter() - t0
    theory = optimum(spec, n, regime).loss
    return {
        "spec": spec.name,
        "regime": regime,
        "n": int(n),
        "seed": int(seed),
        "method": method,
        "test_loss": est.loss,
        "ci95": [est.ci95[0], est.ci95[1]],
        "test_samples": est.samples,
        "theory": theory,
        "rel_gap": est.loss / theory - 1.0,
        "signal": signal(spec),
        "train_loss": result.train_loss,
        "iterations": result.iterations,
        "seconds": result.seconds,
        "eval_seconds": eval_seconds,
        "params": parameter_summary(spec, result),
    }


def format_report(r: dict) -> str:
    """Readable lines for a :func:`train_report`."""
    lo, hi = r["ci95"]
    p = r["params"]
    w = "n/a" if p["W_rel_distance"] is None else f"{p['W_rel_distance']:.2%}"
    return "\n".join([
        f"spec {escape_control(r['spec'])}, regime {r['regime']} ({REGIME_TITLES[r['regime']]}), n = {r['n']}, seed {r['seed']}, "
        f"method {r['method']}",
        f"test loss   {r['test_loss']:.5g}  (95% CI [{lo:.5g}, {hi:.5g}], {r['test_samples']} fresh prompts)",
        f"theory      {r['theory']:.5g}  (closed form of the reduced model; gap {r['rel_gap']:+.2%})",
        f"normalised  {r['test_loss'] / r['signal']:.5g} vs {r['theory'] / r['signal']:.5g}  (divided by tr Sigma_tilde)",
        f"training    {r['seconds']:.2f} s, {r['iterations']} iterations, training loss {r['train_loss']:.5g}",
        f"parameters  W relative distance to the optimum {w}, label-column features {p['extra_features']:.3g}",
    ])


def deep_report(spec, regime: str, n: int, seed: int, layers: int, attention: str, *, samples: int = 2000,
                starts: int = 3) -> dict:
    """Train ``layers`` layers with JAX, test, and compare; the JSON payload of ``prompticl train --layers``."""
    from .._bayes import bayes_floor
    from .._deep import deep_test_loss, train_deep
    from .._layer_optimum import layer_optima

    result = train_deep(spec, n, regime, layers, attention=attention, samples=samples, starts=starts, seed=seed)
    t0 = time.perf_counter()
    est = deep_test_loss(spec, result, seed=seed)
    eval_seconds = time.perf_counter() - t0
    theory = optimum(spec, n, regime).loss
    layer_opt = layer_optima(spec, n, "full")[regime].loss
    floor = bayes_floor(spec, [n])
    values, ses = floor.by_regime()
    return {
        "spec": spec.name,
        "regime": regime,
        "n": int(n),
        "seed": int(seed),
        "method": "lbfgs",
        "layers": int(layers),
        "attention": attention,
        "test_loss": est.loss,
        "ci95": [est.ci95[0], est.ci95[1]],
        "test_samples": est.samples,
        "theory": theory,
        "rel_gap": est.loss / theory - 1.0,
        "layer_optimum": layer_opt,
        "bayes": values[regime][0],
        "bayes_se": ses[regime][0],
        "signal": signal(spec),
        "train_loss": result.train_loss,
        "val_loss": result.val_loss,
        "iterations": result.iterations,
        "seconds": result.seconds,
        "eval_seconds": eval_seconds,
        "params": {
            "train_samples": int(samples * spec.K),
            "start_losses": [float(v) for v in result.start_losses],
            "norms": {name: float(np.linalg.norm(v)) for name, v in result.params.items() if v is not None},
        },
    }


def format_deep(r: dict) -> str:
    """Readable lines for a :func:`deep_report`."""
    lo, hi = r["ci95"]
    sig = r["signal"]
    return "\n".join([
        f"spec {escape_control(r['spec'])}, regime {r['regime']} ({REGIME_TITLES[r['regime']]}), n = {r['n']}, seed {r['seed']}, "
        f"{r['layers']} {r['attention']} attention layer{'s' if r['layers'] > 1 else ''} (L-BFGS, float64)",
        f"test loss      {r['test_loss']:.5g}  (95% CI [{lo:.5g}, {hi:.5g}], {r['test_samples']} fresh prompts)",
        f"one layer      {r['layer_optimum']:.5g}  (chapter 8's certified optimum of the layer)",
        f"theory         {r['theory']:.5g}  (closed form of the reduced model; gap {r['rel_gap']:+.2%})",
        f"Bayes floor    {r['bayes']:.5g} +- {r['bayes_se']:.2g}  ({'task-blind' if r['regime'] == 'plain' else 'task-aware'})",
        f"normalised     {r['test_loss'] / sig:.5g} / {r['layer_optimum'] / sig:.5g} / {r['bayes'] / sig:.5g}  "
        "(trained / one layer / Bayes, divided by tr Sigma_tilde)",
        f"training       {r['seconds']:.1f} s, {r['iterations']} iterations, training loss {r['train_loss']:.5g}, "
        f"validation {r['val_loss']:.5g} (test - train {r['test_loss'] - r['train_loss']:+.3g})",
    ])


def run_deep(args: argparse.Namespace) -> int:
    """``train --layers``: refuse bad combinations and too-long runs before any work, then train."""
    import importlib.util

    spec = args.spec
    layers = args.layers or 1
    attention = args.attention or "linear"
    if args.method != "als" or args.prompt_len != 1:
        raise CLIError("--layers/--attention train with L-BFGS and one prompt token per task: leave out --method and --prompt-len")
    check_deep(spec.d, spec.K, args.n, layers)
    if attention == "softmax" and args.starts == 0:
        raise CLIError("--attention softmax has no certified start: give --starts 1 or more")
    check_budget(deep_cost(spec.d, spec.K, args.n, layers, args.deep_samples, args.starts + 1),
                 f"train --layers {layers} at d = {spec.d}, K = {spec.K} tasks, n = {args.n} with {args.starts} starts "
                 f"and {args.deep_samples} prompts per task", args.allow_long, "lower --starts or --deep-samples")
    if importlib.util.find_spec("jax") is None:
        raise CLIError("--layers and --attention need JAX: pip install 'prompticl[deep]'")
    report = deep_report(spec, args.regime, args.n, args.seed, layers, attention, samples=args.deep_samples,
                         starts=args.starts)
    print(json.dumps(report) if args.json else format_deep(report))
    return 0


def run(args: argparse.Namespace) -> int:
    """Train and print (arguments are validated by the parser before any work)."""
    spec = args.spec
    require_signal(spec)
    require_well_scaled(spec)
    if getattr(args, "layers", None) is not None or getattr(args, "attention", None) is not None:
        return run_deep(args)
    require_full_rank(spec, args.regime)
    check_train(spec.d, spec.K, args.n, args.samples if args.method == "als" else 0, args.prompt_len)
    if args.method == "als" and args.samples < 2 * (spec.d + 1) ** 2:
        raise CLIError(f"--samples {args.samples} at d = {spec.d}: the least-squares fit needs at least 2(d+1)^2 = "
                       f"{2 * (spec.d + 1) ** 2} training prompts")
    if args.method == "adam":
        check_adam(spec.d, spec.K, args.n, args.batch, args.steps)
    check_train_budget(spec.d, spec.K, args.n, method=args.method, samples=args.samples, steps=args.steps,
                       batch=args.batch, ci=args.ci, allow_long=args.allow_long)
    progress = sys.stderr.isatty() if args.progress is None else args.progress
    report = train_report(args.spec, args.regime, args.n, args.seed, method=args.method, samples=args.samples,
                          steps=args.steps, batch=args.batch, prompt_len=args.prompt_len, ci=args.ci,
                          progress=progress)
    print(json.dumps(report) if args.json else format_report(report))
    return 0
