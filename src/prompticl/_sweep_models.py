"""What one point of a sweep computes: the models and ``compute_point``

A sweep point is a plain dictionary (mixture as a spec dictionary, context length, regime, model, the
model's options, seed); :func:`compute_point` turns it into one row of the results table.  It is a
pure function of the point: every random number comes from :func:`seed_streams` of the point's seed
and context length, so any process (a Dask worker on another machine included) computes the same row.

The models are entries of :data:`MODELS`, added with :func:`register_model`:

* ``reduced``: the reduced model's closed form (chapters 2-5), exact, no seed;
* ``full``: the certified optimum of the full attention layer (chapter 8), exact, no seed;
* ``trained``: the one-layer model trained by alternating least squares on a seeded sample and tested
  on fresh prompts with a 95% interval, as ``prompticl train`` does (chapter 7);
* ``deep``: ``layers`` residual attention layers trained with JAX (each depth grown from the one
  before, early-stopped on a validation sample), tested on fresh prompts, with the ``layers``-step
  gradient-descent reference, chapter 8's one-layer optimum and the Bayes floor as extras
  (chapter 9, :func:`prompticl.layer_ablation`).

A later model (a deep or softmax stack, a Bayes predictor) is one more :class:`SweepModel` passed to
:func:`register_model`; nothing else of the sweep changes.  The book's page "Sweeps on a cluster"
(book/sweeps.md) documents them.
"""
from __future__ import annotations

import functools
import hashlib
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

__all__ = ["MODELS", "Option", "SweepModel", "code_fingerprint", "compute_point", "point_hash", "register_model"]


@dataclass(frozen=True)
class Option:
    """One setting of a model in the grid file: its default, a check and what it means."""

    default: Any
    check: Callable[[Any], "str | None"]  # returns why a value is refused, or None
    help: str = ""


@dataclass(frozen=True)
class SweepModel:
    """A model a sweep can evaluate at (mixture, n, regime[, seed]).

    ``run(spec, n, regime, seed, options)`` returns ``loss, ci_low, ci_high, se`` and the model's
    ``extras``; ``validate(spec, ns, regimes, options)`` raises (a :class:`~prompticl.LimitError`, a
    ``CLIError`` or ``ValueError``) before any work when the model cannot serve the grid.
    """

    name: str
    description: str
    seeded: bool
    run: Callable[..., dict]
    validate: Callable[..., None]
    options: Mapping[str, Option] = field(default_factory=dict)
    extras: tuple[str, ...] = ()


#: The models by name (see the module docstring); :func:`register_model` adds one.
MODELS: dict[str, SweepModel] = {}


def register_model(model: SweepModel) -> SweepModel:
    """Make ``model`` available to grid files under ``model.name`` (chapter 7's sweeps)."""
    MODELS[model.name] = model
    return model


def _whole(low: int, high: int) -> Callable[[Any], "str | None"]:
    def check(value: Any) -> "str | None":
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            return f"a whole number in {low} .. {high}"
        return None
    return check


def _fraction(value: Any) -> "str | None":
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 0.5:
        return "a number in (0, 0.5]"
    return None


# --- reduced: the closed forms ---------------------------------------------------------------------
def _run_reduced(spec, n: int, regime: str, seed, options: dict) -> dict:
    from ._closed_forms import optimum

    loss = float(optimum(spec, n, regime).loss)
    return {"loss": loss, "ci_low": loss, "ci_high": loss, "se": 0.0}


def _validate_reduced(spec, ns, regimes, options) -> None:
    from ._limits import check_theory

    check_theory(spec.d, list(ns))


# --- full: the layer's certified optimum -----------------------------------------------------------
def _run_full(spec, n: int, regime: str, seed, options: dict) -> dict:
    from ._layer_optimum import layer_optimum

    opt = layer_optimum(spec, n, regime, "full")
    if not opt.certified:  # an uncertified number is not a result; Dask reports the task as failed
        raise RuntimeError(f"the layer optimum of {regime} at n = {n} is not certified")
    loss = float(opt.loss)
    return {"loss": loss, "ci_low": loss, "ci_high": loss, "se": 0.0, "stationarity": float(opt.stationarity)}


def _validate_full(spec, ns, regimes, options) -> None:
    from ._limits import check_layer

    check_layer(spec.d, [max(ns)], spec.K)  # one n per task: the per-call count limit does not apply


# --- trained: one-layer ALS, tested on fresh prompts -------------------------------------------------
def _run_trained(spec, n: int, regime: str, seed: int, options: dict) -> dict:
    from ._evaluation import test_loss
    from ._layer_optimum import layer_optimum
    from ._risk import empirical_risk
    from ._risk_moments import population_stats
    from ._sampling import seed_streams
    from ._training import train_als

    # The same training sample, initial read-outs and test prompts as `prompticl train` with this seed.
    res = train_als(spec, n, regime, seed, samples=options["samples"])
    est = test_loss(spec, n, res.params, seed_streams(seed, n)[2], rel_halfwidth=options["ci"])
    pop = population_stats(spec, n)
    layer = float(layer_optimum(spec, n, regime, "full", stats=pop).loss)
    exact = float(empirical_risk(pop, res.eff))
    return {"loss": est.loss, "ci_low": est.ci95[0], "ci_high": est.ci95[1], "se": est.se,
            "test_samples": int(est.samples), "train_loss": float(res.train_loss), "iterations": int(res.iterations),
            "layer": layer, "exact_loss": exact}


def _validate_trained(spec, ns, regimes, options) -> None:
    from ._commands._common import require_signal
    from ._commands.train import require_full_rank, require_well_scaled
    from ._limits import check_layer, check_train

    require_signal(spec)
    require_well_scaled(spec)
    for regime in regimes:
        require_full_rank(spec, regime)
    check_train(spec.d, spec.K, max(ns), options["samples"], 1)
    check_layer(spec.d, [max(ns)], spec.K)  # the layer's optimum is each row's reference


register_model(SweepModel("reduced", "the reduced model's closed form (exact)", False, _run_reduced, _validate_reduced))
register_model(SweepModel("full", "the full layer's certified optimum (exact)", False, _run_full, _validate_full,
                          extras=("stationarity",)))
register_model(SweepModel(
    "trained", "one-layer attention trained by ALS, tested on fresh prompts", True, _run_trained, _validate_trained,
    options={"samples": Option(30000, _whole(1000, 10**6), "training prompts per run"),
             "ci": Option(0.005, _fraction, "target relative half-width of the test loss's 95% interval")},
    extras=("test_samples", "train_loss", "iterations", "layer", "exact_loss"),
))


# --- deep: L trained layers with their references (chapter 9) ---------------------------------------
def _attention_kind(value: Any) -> "str | None":
    return None if value in ("linear", "softmax") else "'linear' or 'softmax'"


def _run_deep(spec, n: int, regime: str, seed: int, options: dict) -> dict:
    from ._ablation import layer_ablation

    row = layer_ablation(spec, [n], regime, [options["layers"]], attention=options["attention"],
                         samples=options["samples"], test_samples=options["test_samples"], seed=seed)[0]
    return {"loss": row["test_loss"], "ci_low": row["ci_low"], "ci_high": row["ci_high"], "se": row["se"],
            **{k: float(row[k]) for k in ("train_loss", "val_loss", "gd_loss", "gd_se", "layer_optimum", "bayes",
                                          "bayes_se")}}


def _validate_deep(spec, ns, regimes, options) -> None:
    import importlib.util

    from ._commands._common import require_signal
    from ._commands.train import require_well_scaled
    from ._limits import check_deep, check_layer

    require_signal(spec)
    require_well_scaled(spec)
    check_deep(spec.d, spec.K, max(ns), options["layers"])
    check_layer(spec.d, [max(ns)], spec.K)
    if importlib.util.find_spec("jax") is None:
        raise ValueError("model 'deep' needs JAX: pip install 'prompticl[deep]'")


register_model(SweepModel(
    "deep", "L residual attention layers trained with JAX (grown, early-stopped), with the L-step GD reference and the Bayes floor",
    True, _run_deep, _validate_deep,
    options={"layers": Option(2, _whole(1, 4), "number of residual layers L"),
             "attention": Option("linear", _attention_kind, "'linear' or 'softmax' scores"),
             "samples": Option(1000, _whole(100, 10**6), "training prompts per task (validation: four times as many)"),
             "test_samples": Option(5000, _whole(1000, 10**6), "fresh test prompts per task")},
    extras=("train_loss", "val_loss", "gd_loss", "gd_se", "layer_optimum", "bayes", "bayes_se"),
))


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def point_hash(point: Mapping[str, Any]) -> str:
    """SHA-256 of a point's content: the spec's numbers (not its file name), n, regime, model, options, seed.

    Two points with the same hash compute the same row; a rerun skips the hashes already in the table.
    """
    key = {k: point[k] for k in ("spec", "n", "regime", "model", "options", "seed")}
    return hashlib.sha256(_canonical(key).encode("utf-8")).hexdigest()


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """SHA-256 (first 12 hex digits) of the package's source files: which code computed a row, without git."""
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")) + sorted(root.glob("specs/*.yaml")):
        digest.update(str(path.relative_to(root)).encode("utf-8") + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def compute_point(point: Mapping[str, Any]) -> dict:
    """One row of a sweep's results table: the point's parameters, its loss and interval, the reduced
    model's closed form ``theory``, the seconds it took, the code version and the point's hash.

    The function each Dask task runs (chapter 7's sweeps).

    Parameters
    ----------
    point : mapping
        ``mixture`` (label), ``family``, ``rho``, ``spec`` (a spec dictionary), ``n``, ``regime``,
        ``model``, ``options`` (the model's settings), ``seed`` (``None`` for exact models), ``hash``.

    Returns
    -------
    dict
        The row (plain Python scalars).
    """
    from . import __version__
    from ._closed_forms import optimum
    from ._spec import spec_from_dict

    t0, c0 = time.perf_counter(), time.process_time()
    spec = spec_from_dict(point["spec"])
    model = MODELS[point["model"]]
    n, regime, seed = int(point["n"]), point["regime"], point["seed"]
    out = model.run(spec, n, regime, seed, dict(point["options"]))
    theory = float(optimum(spec, n, regime).loss)
    row = {
        "mixture": point["mixture"], "family": point["family"], "rho": point["rho"], "n": n, "regime": regime,
        "model": model.name, "seed": seed, **{k: point["options"][k] for k in model.options},
        "loss": float(out["loss"]), "ci_low": float(out["ci_low"]), "ci_high": float(out["ci_high"]),
        "se": float(out["se"]), "theory": theory, "rel_gap": float(out["loss"]) / theory - 1.0 if theory else math.nan,
        **{k: out[k] for k in model.extras},
        "seconds": time.perf_counter() - t0,
        # CPU time of this process: what a point costs on a free core, whatever else the machine runs
        "cpu_seconds": time.process_time() - c0,
        "version": __version__, "code": code_fingerprint(), "point_hash": point["hash"],
    }
    return row
