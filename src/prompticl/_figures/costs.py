"""What a chapter's parameters cost: each chapter of the book declares here how its time and memory
grow with its parameters, and ``prompticl figures`` refuses a run estimated beyond the budget
(:data:`BUDGET_SECONDS`, :data:`BUDGET_BYTES`) before any notebook starts, unless ``--allow-long``.

Every range of :mod:`prompticl._figures.ranges` holds alone; these estimates refuse the combinations
that each pass alone but together run for hours or allocate GiBs (a d = 500 spec at 1000 context
lengths, 50 seeds of a million training prompts).  A chapter's estimate is a fixed part (starting a
kernel, imports, the work its parameters do not change) plus the work its parameters drive, priced
with the models of the library calls that do it: Monte Carlo losses (:func:`mc_seconds`), task-moment
draws (:func:`moment_seconds`), closed forms over many context lengths (:func:`closed_seconds`),
training and test losses (chapter 7), the layer's certified optimum
(:func:`prompticl._limits.layer_cost`) and the Bayes floor (:func:`prompticl._limits.bayes_cost`).
The coefficients are measured by ``benchmarks/bench_figure_costs.py`` (``--primitives`` for the
library calls, ``--chapters`` for whole chapters against their estimates; results in
``benchmarks/results-figure-costs.json``) on the shared 2-core machine under load, rounded up.

The declarations live here, beside the registry, not in the notebooks: a notebook's code may change
without touching its cost, and the estimate must be read before the notebook runs.  A chapter that
declares no cost (a notebook of another ``--book``) is not estimated.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from .._limits import DEEP_FIXED_SECONDS, bayes_cost, deep_cost, layer_cost
from .params import RunPlan
from .registry import FigureError

__all__ = ["BUDGET_BYTES", "BUDGET_SECONDS", "CHAPTER_COSTS", "Estimate", "check_plan_cost", "closed_bytes",
           "closed_seconds", "mc_bytes", "mc_seconds", "moment_bytes", "moment_seconds", "plan_cost"]

#: Estimated wall time of one chapter beyond which a run is refused unless ``--allow-long`` (the
#: longest chapter at the book's defaults is estimated well within it).
BUDGET_SECONDS = 1200.0
#: Estimated peak memory beyond which a run is refused unless ``--allow-long`` (chapters that run
#: in parallel with ``--jobs`` add up).
BUDGET_BYTES = 2 * 2**30

#: A kernel's start, the imports (numpy, scipy, matplotlib, pandas) and saving the figures (a smoke
#: run of the shortest chapter took 20 s at load 10 on the 2 cores, about 5 s idle).
KERNEL_SECONDS = 19.0
KERNEL_BYTES = 250e6
#: Monte Carlo losses (:func:`prompticl.mc_loss`, prompts drawn in chunks of 20,000): seconds per
#: prompt, per number of its ``(n+1)·d`` examples and per entry of ``d²`` (at load 15: 75 µs a prompt
#: at d = 10, n = 10; 380 µs at n = 200; 1 ms at d = 100, n = 20).
MC_SECONDS_PER_PROMPT = 5e-6
MC_SECONDS_PER_NUMBER = 1.6e-7
MC_SECONDS_PER_D2 = 7e-8
MC_CHUNK = 20_000
#: Peak bytes per number of one chunk's ``chunk·(n+1)·d`` examples and per entry of its
#: ``chunk·d²`` (measured 16 bytes per example number, 643 MB at d = 10, n = 200; 1.65 GB at d = 100, n = 20).
MC_BYTES_PER_NUMBER = 16.0
MC_BYTES_PER_D2 = 8.0
#: Task-moment draws (:func:`prompticl.mc_task_second_moment`): seconds and bytes per entry of the
#: ``samples·d²`` outer products, all held at once (at load 15: 5.4 s and 372 MB for 200,000 draws at
#: d = 10; 7 s and 814 MB for 5000 at d = 100).
MOMENT_SECONDS_PER_ENTRY = 2.7e-7
MOMENT_BYTES_PER_ENTRY = 20.0
#: Closed forms (:func:`prompticl.optimal_losses`) over ``count`` context lengths: seconds per
#: ``count`` and per ``count·K·(d+1)³``, bytes per ``count·d²`` (at load 15: 7.5 s and 88 MB for 10
#: lengths at d = 500, 33-35 bytes per entry; chapter 6's 600 calls at d = 10: 7e-5 s per length).
CLOSED_SECONDS_PER_N = 1e-4
CLOSED_SECONDS_PER_UNIT = 8e-9
CLOSED_BYTES_PER_ENTRY = 40.0


@dataclass(frozen=True)
class Estimate:
    """A chapter's estimated wall time and peak memory, as parts ``(seconds, bytes, parameters)``:
    the parts' times add up, their memories do not (one part runs at a time)."""

    parts: tuple = ()

    def __add__(self, other: "Estimate") -> "Estimate":
        return Estimate(self.parts + other.parts)

    @property
    def seconds(self) -> float:
        return sum(p[0] for p in self.parts)

    @property
    def bytes(self) -> float:
        return max((p[1] for p in self.parts), default=0.0)

    @property
    def time_driver(self) -> str:
        """The parameters of the part that takes longest."""
        return max(self.parts, key=lambda p: p[0])[2] if self.parts else ""

    @property
    def memory_driver(self) -> str:
        """The parameters of the part that needs most memory."""
        return max(self.parts, key=lambda p: p[1])[2] if self.parts else ""


def _part(seconds: float, n_bytes: float, drivers: str) -> Estimate:
    return Estimate(((seconds, n_bytes, drivers),))


def mc_seconds(samples: int, n: int, d: int) -> float:
    """Seconds of a Monte Carlo loss over ``samples`` prompts of ``n`` examples in dimension ``d``."""
    return samples * (MC_SECONDS_PER_PROMPT + MC_SECONDS_PER_NUMBER * (n + 1) * d + MC_SECONDS_PER_D2 * d * d)


def mc_bytes(samples: int, n: int, d: int) -> float:
    """Peak bytes of that Monte Carlo loss (one chunk of prompts at a time)."""
    return min(samples, MC_CHUNK) * (MC_BYTES_PER_NUMBER * (n + 1) * d + MC_BYTES_PER_D2 * d * d)


def moment_seconds(samples: int, d: int) -> float:
    """Seconds of ``samples`` task draws and their outer products (dimension ``d``)."""
    return MOMENT_SECONDS_PER_ENTRY * samples * d * d


def moment_bytes(samples: int, d: int) -> float:
    """Peak bytes of those draws (all outer products are held at once)."""
    return MOMENT_BYTES_PER_ENTRY * samples * d * d


def closed_seconds(count: int, d: int, K: int) -> float:
    """Seconds of the four regimes' closed forms at ``count`` context lengths (batched solves)."""
    return count * (CLOSED_SECONDS_PER_N + CLOSED_SECONDS_PER_UNIT * K * (d + 1) ** 3)


def closed_bytes(count: int, d: int, K: int = 1) -> float:  # noqa: ARG001 - K: same signature as closed_seconds
    """Peak bytes of those closed forms (one d x d matrix per context length, a few copies)."""
    return CLOSED_BYTES_PER_ENTRY * count * d * d


def _mc(samples: int, n: int, d: int, what: str, times: int = 1) -> Estimate:
    return _part(times * mc_seconds(samples, n, d), mc_bytes(samples, n, d), what)


def _closed(count: int, d: int, K: int, what: str, times: int = 1) -> Estimate:
    return _part(times * closed_seconds(count, d, K), closed_bytes(count, d, K), what)


def _fixed(seconds: float) -> Estimate:
    return _part(KERNEL_SECONDS + seconds, KERNEL_BYTES, "the chapter's fixed work")


Sizes = Mapping[str, Any]


def _in_brief(p: Mapping[str, Any], size: Sizes) -> Estimate:
    d, K = size["spec_name"]
    return _fixed(0.5) + _closed(p["n_max"] + 100, d, K, "n_max")


def _setting(p: Mapping[str, Any], size: Sizes) -> Estimate:
    d, K = size["spec_name"]
    dw, Kw = size["whitening_spec"]
    m = p["moment_samples"]
    # the moment checks also draw signals and noisy labels: 2e-5 s a draw (measured at 500,000 draws)
    draws = _part(moment_seconds(m, d) + moment_seconds(m, dw) + 2e-5 * m,
                     max(moment_bytes(m, d), moment_bytes(m, dw)), "moment_samples")
    return (_fixed(7.0) + draws + _part(p["hist_samples"] * d * 1e-7, p["hist_samples"] * d * 40.0, "hist_samples")
            + _mc(p["loss_samples"], p["whitening_n"], dw, "loss_samples"))


def _plain(p: Mapping[str, Any], size: Sizes) -> Estimate:
    d, K = size["spec_name"]
    grid = p["n_grid"]
    est = _fixed(3.0)
    for n in grid:
        est = est + _mc(p["mc_samples"], n, d, "mc_samples, n_grid", 2)
    line = max(max(grid), p["fixed_n"])
    wd, wn, ws = p["wishart_d"], p["wishart_n"], p["wishart_samples"]
    wishart = _part(2 * ws * (wn * wd * wd + 2 * wd**3) * 4e-8 + ws * 1e-6, 40.0 * min(ws, MC_CHUNK) * (wn + 2 * wd) * wd,
                       "wishart_samples")
    return (est + _mc(p["check_samples"], p["check_n"], d, "check_samples", 3) + _closed(2 * line, d, K, "n_grid")
            + wishart)


def _finetune(p: Mapping[str, Any], size: Sizes) -> Estimate:
    d, K = size["spec_name"]
    dg, Kg = size["general_spec_name"]
    ns = len(p["ns"])
    return (_fixed(3.0) + _closed(ns, d, K, "ns", 4) + _closed(ns, dg, Kg, "ns", 2)
            + _mc(p["mc_samples"], p["mc_n"], d, "mc_samples, mc_n", 2)
            + _closed(1, d, K, "n_perturb", 2 * p["n_perturb"]))


def _joint(p: Mapping[str, Any], size: Sizes) -> Estimate:
    d, K = size["spec_name"]
    ns = len(p["ns"])
    checks = size.get("check_specs", [])
    est = _fixed(7.5) + _closed(ns, d, K, "ns", 2) + _mc(p["mc_samples"], p["mc_n"], d, "mc_samples, mc_n")
    for dc, Kc in checks:
        est = est + _closed(ns, dc, Kc, "check_specs, ns", 4)
    return est + _closed(1, d, K, "n_directions", 6 * p["n_directions"]) + _closed(1, d, K, "mean_scales", len(p["mean_scales"]))


def _heads(p: Mapping[str, Any], size: Sizes) -> Estimate:
    d, K = size["spec_name"]
    ns = len(p["ns"])
    est = _fixed(0.0) + _closed(ns, d, K, "ns", 6) + _mc(p["mc_samples"], p["mc_n"], 10, "mc_samples, mc_n", 2)
    for dc, Kc in size.get("check_specs", []):
        est = est + _closed(ns, dc, Kc, "check_specs, ns", 2)
    # the per-task-scale checks: a layer optimum of each built-in mixture at each of scale_ns
    return est + _part(len(p["scale_ns"]) * 7 * 0.3, KERNEL_BYTES, "scale_ns")


def _prompt_vs_finetune(p: Mapping[str, Any], size: Sizes) -> Estimate:  # noqa: ARG001 - its mixtures are built from d
    d = p["d"]
    ns = len(p["ns"])
    grid = _closed(ns, d, 2, "rho_steps, ns", p["rho_steps"])
    # each (rho, n) cell of the heat map is also checked against the optima and gaps: 0.18 s a cell
    # at d = 10 (measured: 400 cells took 35 s at load 12)
    cells = _part(0.18 * p["rho_steps"] * ns * (d + 1) ** 3 / 11**3, KERNEL_BYTES, "rho_steps, ns")
    mono = _closed(p["mono_n_max"], d, 2, "mono_rho_steps, mono_n_max, mono_sigmas", p["mono_rho_steps"] * len(p["mono_sigmas"]))
    table = _closed(p["search_max"], d, 2, "table_rhos, table_ns, search_max", len(p["table_rhos"]) * 2)
    return _fixed(1.0) + grid + cells + mono + table + _mc(p["mc_samples"], p["mc_n"], d, "mc_samples, mc_n", 2)


#: Chapter 7, per (mixture, n, seed): drawing the training sample (seconds per unit of
#: ``samples·(n+1)·(d+1)²``; 3.3e-5 s a prompt at d = 10, n = 10, load 15), a fixed part, the four
#: regimes' ALS fits (:data:`prompticl._limits.ALS_SECONDS_PER_UNIT` per ``K·(d+1)⁴`` each) and
#: the shared test sample (seconds per unit of ``prompts·(d+1)²``, prompts from ``ci``).
EXP_COMBO_SECONDS = 1.5
EXP_SAMPLE_SECONDS_PER_UNIT = 2.5e-8
EXP_TEST_SECONDS_PER_UNIT = 1.2e-7
#: Chapter 7, per (mixture, n): the layer's certified optimum at d = 10, K = 2 (n = 1 is the
#: slowest), scaled by ``K·(d+1)³``.  Fitted to the chapter's smoke, default and heavier runs
#: (benchmarks/results-figure-costs.json) and raised by :data:`EXP_MARGIN`: the measured times
#: varied by a third with the load.
EXP_LAYER_SECONDS = 8.5
EXP_LAYER_SECONDS_N1 = 12.0
EXP_MARGIN = 1.3


def _experiments(p: Mapping[str, Any], size: Sizes) -> Estimate:
    from .._evaluation import MAX_TEST_SAMPLES  # noqa: PLC0415
    from .._limits import ALS_SECONDS_PER_UNIT  # noqa: PLC0415

    if p.get("results"):  # Figure 1 is drawn from a sweep's table: only the other mixtures train
        mixtures = []
    else:
        mixtures = [(size["spec_name"], p["n_grid"], p["seeds"])]
    mixtures += [(size[k], p["n_grid_other"], p["seeds_other"])
                 for k in ("nonzero_spec_name", "noisy_spec_name", "anisotropic_spec_name")]
    prompts = min(float(MAX_TEST_SAMPLES), 1.2 * (1.96 / p["ci"]) ** 2)
    seconds = 0.0
    for (d, K), grid, seeds in mixtures:
        D = d + 1
        for n in grid:
            run = (EXP_COMBO_SECONDS + EXP_SAMPLE_SECONDS_PER_UNIT * p["train_samples"] * (n + 1) * D * D
                   + 4 * ALS_SECONDS_PER_UNIT * K * D**4 + EXP_TEST_SECONDS_PER_UNIT * prompts * D * D)
            layer = (EXP_LAYER_SECONDS_N1 if n == 1 else EXP_LAYER_SECONDS) * K * D**3 / (2 * 11**3)
            seconds += seeds * run + layer
    d0, K0 = size["spec_name"]
    demo = EXP_COMBO_SECONDS + EXP_SAMPLE_SECONDS_PER_UNIT * p["train_samples"] * 11 * (d0 + 1) ** 2
    # the sample is drawn and the test losses estimated in chunks: memory does not grow with them
    return _fixed(2.0 + demo) + _part(EXP_MARGIN * seconds, KERNEL_BYTES + 100e6,
                                      "seeds, seeds_other, train_samples, n_grid, n_grid_other, ci")


def _layer(p: Mapping[str, Any], size: Sizes) -> Estimate:
    d, K = size["spec_name"]
    tables = [size["spec_name"], *size.get("table_specs", [])]
    est = _fixed(135.0) + _part(sum(layer_cost(dt, Kt, 1) * 4 for dt, Kt in tables), KERNEL_BYTES, "table_specs")
    moments = _part(3 * p["moment_samples"] * 1e-5, 8.0 * 4 * p["moment_samples"] * (p["check_n"] + 1) ** 2 * 11,
                       "moment_samples")
    mc = _part(2 * mc_seconds(p["mc_samples"], p["check_n"], 10), 8.0 * 6 * p["mc_samples"] * (p["check_n"] + 1) * 11,
                  "mc_samples")
    scan = _part(len(p["scan_rhos"]) * len(p["scan_ns"]) * layer_cost(10, 2, 1) * 0.5, KERNEL_BYTES,
                    "scan_rhos, scan_ns")
    # the section "Dimension and the limit rho -> 1": one joint-training optimum per point (measured 0.1-0.4 s
    # at d = 10 under load, about 0.15 of layer_cost's four regimes) and the checks of the theorem (four optima)
    dim = _part(sum(0.15 * layer_cost(dd, 2, 1) for dd in p["dim_ds"]), KERNEL_BYTES, "dim_ds")
    limit = _part(len(p["limit_rhos"]) * len(p["limit_ns"]) * 0.15 * layer_cost(10, 2, 1) + layer_cost(10, 2, 1),
                  KERNEL_BYTES, "limit_rhos, limit_ns")
    return est + moments + mc + (scan if not p.get("results") else Estimate()) + dim + limit


def _bayes(p: Mapping[str, Any], size: Sizes) -> Estimate:
    est = _fixed(11.0)
    for d, K in size.get("spec_names", []):
        est = est + _part(bayes_cost(d, K, p["ns"], p["bayes_samples"]) + layer_cost(d, K, len(p["layer_ns"])),
                             8.0 * 4 * p["bayes_samples"] * max(p["ns"]) * d, "spec_names, ns, bayes_samples, layer_ns")
    est = est + _mc(p["check_samples"], p["check_n"], 10, "check_samples, check_n", 2)
    # the layer-count ablation (d = 10, K <= 2): per mixture, n and depth, one grown fit and one
    # gradient-descent fit (about 2 s of JIT compilation each) plus half the work of deep_cost
    # (early stopping ends most fits before its 300 iterations), the softmax comparison (two one-layer
    # fits), and the test prompts.  Measured: 33 s CPU at the defaults (load 12); the whole chapter
    # 160 s wall at load 15.5 in bench_figure_costs.py, against 50 s before the section
    if "ablation_ns" in p:
        L = max(p["ablation_layers"])
        fits = len(p["ablation_families"]) * len(p["ablation_ratios"]) * len(p["ablation_ns"])
        work = sum(deep_cost(10, 2, n, L, p["deep_samples"], 1) - DEEP_FIXED_SECONDS for n in p["ablation_ns"])
        seconds = (fits * L * 2 * 2.0 + 0.5 * len(p["ablation_families"]) * len(p["ablation_ratios"]) * work
                   + 2 * (2.0 + deep_cost(10, 2, p["softmax_n"], 1, p["deep_samples"], 1) - DEEP_FIXED_SECONDS)
                   + fits * L * 2 * mc_seconds(2 * p["deep_test_samples"], max(p["ablation_ns"]), 10))
        est = est + _part(seconds, KERNEL_BYTES + 8.0 * 3 * p["deep_samples"] * 2 * (max(p["ablation_ns"]) + 2) * 11,
                          "ablation_families, ablation_ratios, ablation_ns, ablation_layers, deep_samples, deep_test_samples, softmax_n")
    return est


#: Each chapter of the book: its cost as a function of its effective parameters and the sizes
#: (d, K) of the specs they name (:attr:`prompticl._figures.params.RunPlan.sizes`).
CHAPTER_COSTS: dict[str, Callable[[Mapping[str, Any], Sizes], Estimate]] = {
    "in-brief": _in_brief,
    "01-setting": _setting,
    "02-linear-attention-plain": _plain,
    "03-finetune-prompts": _finetune,
    "04-joint-training": _joint,
    "05-task-heads": _heads,
    "06-prompt-vs-finetune": _prompt_vs_finetune,
    "07-experiments": _experiments,
    "08-layer-optimum": _layer,
    "09-bayes-floor": _bayes,
}


def plan_cost(plan: RunPlan) -> dict[str, Estimate]:
    """The estimate of every chapter of ``plan`` that declares its cost (in :data:`CHAPTER_COSTS`)."""
    out = {}
    for chapter in plan.chapters:
        declared = CHAPTER_COSTS.get(chapter.name)
        if declared is None:
            continue
        try:
            out[chapter.name] = declared(plan.parameters[chapter.name], plan.sizes.get(chapter.name, {}))
        except (KeyError, TypeError, ValueError):  # a chapter of another --book that shares a name with ours
            continue
    return out


def _duration(seconds: float) -> str:
    from .._limits import _duration as duration  # noqa: PLC0415

    return duration(seconds)


def _gib(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:.1f} GiB"


def check_plan_cost(plan: RunPlan, jobs: int = 1, allow_long: bool = False) -> dict[str, Estimate]:
    """Refuse ``plan`` if a chapter's estimated time exceeds :data:`BUDGET_SECONDS`, or the estimated
    peak memory (the ``jobs`` largest chapters at once) exceeds :data:`BUDGET_BYTES`, unless
    ``allow_long``.  The time budget is per chapter: it guards against parameters that blow a
    chapter up, and ``--all`` at the book's defaults is always within it.  Returns the estimates.

    Raises
    ------
    FigureError
        One line: the chapter, its estimate, the parameters that drive it, the budget and the flag
        that allows it.
    """
    costs = plan_cost(plan)
    if allow_long or not costs:
        return costs
    lanes = max(1, min(jobs, len(costs)))
    by_memory = sorted(costs.items(), key=lambda kv: kv[1].bytes, reverse=True)
    peak = sum(e.bytes for _, e in by_memory[:lanes])
    if peak > BUDGET_BYTES:
        name, est = by_memory[0]
        together = f" ({_gib(peak)} with --jobs {jobs})" if lanes > 1 and peak > est.bytes * 1.001 else ""
        raise FigureError(
            f"chapter {name} with these parameters needs about {_gib(est.bytes)} of memory{together} (estimated from "
            f"measured costs; driven by {est.memory_driver}); the budget is {_gib(BUDGET_BYTES)}: lower those "
            "parameters" + (" or --jobs" if together else "") + ", or pass --allow-long to run it anyway"
        )
    name, est = max(costs.items(), key=lambda kv: kv[1].seconds)
    if est.seconds > BUDGET_SECONDS:
        raise FigureError(
            f"chapter {name} with these parameters would take about {_duration(est.seconds)} (estimated from measured "
            f"costs; driven by {est.time_driver}); the budget is {_duration(BUDGET_SECONDS)} per chapter: lower those "
            "parameters, or pass --allow-long to run it anyway"
        )
    return costs
