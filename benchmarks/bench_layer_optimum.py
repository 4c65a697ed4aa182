"""Benchmark of the layer's certified optimum (run by hand, not a timed test).

    .venv/bin/python benchmarks/bench_layer_optimum.py [--quick] [--out benchmarks/results-layer-optimum.json]

Measures, on this machine, one point = the full layer's certified optimum in all four regimes
(:func:`prompticl._layer_optimum.layer_optima`, exact population moments, 4 starts each) on the
non-zero-mean mixture scaled to dimension d (weights 0.3/0.7, means ±1·1, covariances I and 2I):
wall time, CPU time and peak traced memory (tracemalloc, numpy buffers included) for
d ∈ {10, 20, 40} and several n.  Also checks that every optimum is certified and that the
reduced-class optimum equals the closed form.

Target: under 2 s per point at d = 10, whatever n is (no samples are drawn).  BLAS threads matter on
a loaded machine: set OPENBLAS_NUM_THREADS=1 to measure single-threaded (the printed info says which).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
import tracemalloc

import numpy as np

from prompticl import optimal_losses, spec_from_dict
from prompticl._layer_optimum import layer_optima
from prompticl._figures.export import write_atomic
from prompticl._regimes import REGIMES

DS = [10, 20, 40]
NS = [1, 10, 50, 1000]
TARGET_SECONDS_D10 = 2.0


def _load() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:  # pragma: no cover - not on every platform
        return "n/a"


def mixture(d: int):
    """The non-zero-mean mixture of chapter 07 in dimension d."""
    return spec_from_dict(
        {"d": d, "noise": 0.0, "tasks": [{"weight": 0.3, "mean": 1.0, "cov": 1}, {"weight": 0.7, "mean": -1.0, "cov": 2}]},
        f"nonzero-mean-d{d}",
    )


def one_point(d: int, n: int) -> dict:
    spec = mixture(d)
    tracemalloc.start()
    w0, c0 = time.perf_counter(), time.process_time()
    opts = layer_optima(spec, n, "full")
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    closed = optimal_losses(spec, [n])
    return {
        "d": d, "n": n, "wall_seconds": wall, "cpu_seconds": cpu, "peak_mib": peak / 2**20,
        "certified": all(o.certified for o in opts.values()),
        "max_stationarity": max(o.stationarity for o in opts.values()),
        "min_hessian_eig": min(o.min_hessian_eig for o in opts.values()),
        "losses": {r: opts[r].loss for r in REGIMES},
        "closed_forms": {r: float(closed[r][0]) for r in REGIMES},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="d = 10 only")
    parser.add_argument("--out", default="", help="write all numbers to this JSON file")
    args = parser.parse_args()
    info = {"machine": platform.machine(), "cpus": os.cpu_count(), "numpy": np.__version__, "load_before": _load(),
            "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "unset")}
    print(f"machine: {info['cpus']} CPUs, numpy {info['numpy']}, load average {info['load_before']}, "
          f"OPENBLAS_NUM_THREADS={info['OPENBLAS_NUM_THREADS']}")
    print(f"{'d':>4}{'n':>6}{'wall s':>9}{'cpu s':>9}{'peak MiB':>10}  certified  max stat.  min eig")
    rows = []
    for d in ([10] if args.quick else DS):
        for n in NS:
            row = one_point(d, n)
            rows.append(row)
            print(f"{d:>4}{n:>6}{row['wall_seconds']:>9.2f}{row['cpu_seconds']:>9.2f}{row['peak_mib']:>10.1f}  "
                  f"{str(row['certified']):>9}  {row['max_stationarity']:.1e}  {row['min_hessian_eig']:.1e}", flush=True)
    d10 = [r["wall_seconds"] for r in rows if r["d"] == 10]
    print(f"d = 10: max {max(d10):.2f} s per point over n = {NS} (target < {TARGET_SECONDS_D10} s)")
    info["load_after"] = _load()
    if args.out:
        write_atomic(args.out, json.dumps({"info": info, "points": rows}, indent=1) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
