"""Measure the cost models of ``prompticl figures`` (:mod:`prompticl._figures.costs`).

    PYTHONPATH=src .venv/bin/python benchmarks/bench_figure_costs.py --primitives   # the library calls
    PYTHONPATH=src .venv/bin/python benchmarks/bench_figure_costs.py --chapters     # whole chapters (kernels)

``--primitives`` times the library calls the chapters' work is made of (Monte Carlo losses, task
moment draws, closed forms over many context lengths), each in a fresh process, with its peak memory
from :mod:`tracemalloc` (numpy reports its arrays to it), and stores the coefficient each case
implies beside the one :mod:`prompticl._figures.costs` uses.  ``--chapters`` runs every chapter of
the book with its smoke parameters, its defaults and a heavier point through ``prompticl figures``
(one chapter at a time, ``--jobs 1``) and stores the measured seconds beside the estimate.  Both
keep the other section of ``benchmarks/results-figure-costs.json``.  Wall times depend on the
machine's load, recorded alongside.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results-figure-costs.json"

PRELUDE = """
import json, time, tracemalloc
import numpy as np
from prompticl._spec import _trusted_spec as Spec
def spec(d, K):
    w = np.full(K, 1.0 / K)
    means = np.linspace(-1, 1, K)[:, None] * np.ones((K, d))
    covs = np.stack([np.eye(d) * (1 + k) for k in range(K)])
    return Spec(d=d, noise=0.1, x_cov=np.eye(d), weights=w, means=means, covs=covs)
s = spec({d}, {K})
tracemalloc.start()
t = time.perf_counter()
"""
POSTLUDE = """
seconds = time.perf_counter() - t
print(json.dumps({"seconds": seconds, "peak_bytes": tracemalloc.get_traced_memory()[1]}))
"""
CASES = {
    "mc_loss": "from prompticl import mc_loss\nmc_loss(s, {n}, np.eye({d}) / ({n} + 1), samples={samples}, rng=np.random.default_rng(0))",
    "task_moment": "from prompticl import mc_task_second_moment\nmc_task_second_moment(s, {samples}, np.random.default_rng(0))",
    "closed_forms": "from prompticl import optimal_losses\noptimal_losses(s, list(range(1, {count} + 1)))",
}
GRID = {
    "mc_loss": [dict(d=10, K=2, n=10, samples=20000), dict(d=10, K=2, n=50, samples=20000),
                dict(d=10, K=2, n=200, samples=20000), dict(d=50, K=2, n=10, samples=20000),
                dict(d=100, K=2, n=20, samples=20000), dict(d=10, K=2, n=10, samples=100000)],
    "task_moment": [dict(d=10, K=2, samples=200000), dict(d=50, K=2, samples=20000), dict(d=100, K=2, samples=5000)],
    "closed_forms": [dict(d=10, K=2, count=100), dict(d=10, K=2, count=1000), dict(d=100, K=2, count=100),
                     dict(d=200, K=2, count=50), dict(d=500, K=1, count=10)],
}


def primitive(kind: str, case: dict, timeout: float = 600) -> dict:
    code = PRELUDE.format(**case) + CASES[kind].format(**case) + POSTLUDE
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, env=env)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def primitives() -> dict:
    from prompticl._figures import costs as C  # noqa: PLC0415

    rows = []
    for kind, cases in GRID.items():
        for case in cases:
            r = primitive(kind, case)
            est = {"mc_loss": lambda c: (C.mc_seconds(c["samples"], c["n"], c["d"]), C.mc_bytes(c["samples"], c["n"], c["d"])),
                   "task_moment": lambda c: (C.moment_seconds(c["samples"], c["d"]), C.moment_bytes(c["samples"], c["d"])),
                   "closed_forms": lambda c: (C.closed_seconds(c["count"], c["d"], c["K"]), C.closed_bytes(c["count"], c["d"], c["K"])),
                   }[kind](case)
            rows.append({"primitive": kind, **case, **r, "estimate_seconds": round(est[0], 3), "estimate_bytes": round(est[1])})
            print(json.dumps(rows[-1]), flush=True)
    return {"load_before": os.getloadavg(), "rows": rows}


def chapter_run(chapter: str, params: list[str], smoke: bool) -> dict:
    from prompticl._figures import build_registry, plan_run  # noqa: PLC0415
    from prompticl._figures.costs import plan_cost  # noqa: PLC0415

    pairs = list(zip(params[::2], params[1::2]))
    plan = plan_run(build_registry(), [chapter], pairs, smoke=smoke)
    estimate = plan_cost(plan)[chapter]
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "prompticl", "figures", chapter, "-q", "--allow-long", "--out", f"{tmp}/o",
               *(["--smoke"] if smoke else [])]
        for key, value in pairs:
            cmd += ["-p", key, value]
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
        t = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        wall = time.perf_counter() - t
        chapter_seconds = None
        if proc.returncode == 0:
            prov = json.loads(Path(f"{tmp}/o/provenance.json").read_text())
            chapter_seconds = prov["timings_seconds"]["chapters"][chapter]
    return {"chapter": chapter, "smoke": smoke, "parameters": dict(pairs), "status": proc.returncode,
            "error": proc.stderr.strip().splitlines()[-1] if proc.returncode else None,
            "chapter_seconds": chapter_seconds, "wall_seconds": round(wall, 1),
            "estimate_seconds": round(estimate.seconds, 1), "estimate_bytes": round(estimate.bytes)}


#: Heavier points: the parameters that drive each chapter's cost, raised (chapters whose work is
#: Monte Carlo losses like chapter 2's are not repeated).
HEAVY = {
    "in-brief": ["n_max", "1000"],
    "01-setting": ["moment_samples", "500000"],
    "02-linear-attention-plain": ["mc_samples", "100000"],
    "06-prompt-vs-finetune": ["mono_n_max", "1000"],
    "07-experiments": ["train_samples", "30000", "seeds", "1", "n_grid", "1,10", "n_grid_other", "1", "ci", "0.02"],
    "09-bayes-floor": ["bayes_samples", "10000"],
}


def chapters(which: "list[str] | None", points: list[str]) -> list:
    from prompticl._figures import build_registry  # noqa: PLC0415

    rows = []
    for chapter in build_registry().chapters:
        if which and chapter not in which:
            continue
        runs = {"smoke": (True, []), "defaults": (False, []), "heavy": (False, HEAVY.get(chapter))}
        for point in points:
            smoke, params = runs[point]
            if params is None:
                continue
            rows.append({**chapter_run(chapter, params, smoke), "load_before": os.getloadavg()[0]})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def recorded(out: Path) -> list:
    """Rows from a finished ``prompticl figures --all [--smoke]`` run: its per-chapter times."""
    from prompticl._figures import build_registry, plan_run  # noqa: PLC0415
    from prompticl._figures.costs import plan_cost  # noqa: PLC0415

    prov = json.loads((out / "provenance.json").read_text())
    smoke = "--smoke" in prov["command"]
    costs = plan_cost(plan_run(build_registry(), [], run_all=True, smoke=smoke))
    return [{"chapter": c, "smoke": smoke, "parameters": {}, "status": 0, "error": None, "chapter_seconds": t,
             "wall_seconds": None, "estimate_seconds": round(costs[c].seconds, 1), "estimate_bytes": round(costs[c].bytes),
             "source": prov["command_line"], "recorded_utc": prov["created_utc"]}
            for c, t in prov["timings_seconds"]["chapters"].items()]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--primitives", action="store_true")
    ap.add_argument("--chapters", nargs="*", metavar="CHAPTER", help="all chapters, or the ones named")
    ap.add_argument("--points", default="smoke,defaults,heavy", help="which parameter sets (comma-separated)")
    ap.add_argument("--record", metavar="DIR", help="record the chapter times of a finished 'prompticl figures --all' "
                    "run (its provenance.json) as smoke or default rows, instead of running chapters")
    args = ap.parse_args()
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results["machine"] = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    if args.primitives:
        results["primitives"] = primitives()
    if args.chapters is not None or args.record:  # rows of other chapters or points are kept
        new = recorded(Path(args.record)) if args.record else chapters(args.chapters, args.points.split(","))
        key = lambda r: (r["chapter"], r["smoke"], json.dumps(r["parameters"], sort_keys=True))  # noqa: E731
        old = {key(r): r for r in results.get("chapters", {}).get("rows", [])}
        old.update({key(r): r for r in new})
        results["chapters"] = {"rows": sorted(old.values(), key=lambda r: (r["chapter"], not r["smoke"], len(r["parameters"])))}
    if "chapters" in results:  # every row's estimate from the current models, beside its measurement
        from prompticl._figures import build_registry, plan_run  # noqa: PLC0415
        from prompticl._figures.costs import plan_cost  # noqa: PLC0415

        registry = build_registry()
        for row in results["chapters"]["rows"]:
            plan = plan_run(registry, [row["chapter"]], list(row["parameters"].items()), smoke=row["smoke"])
            est = plan_cost(plan)[row["chapter"]]
            row["estimate_seconds"], row["estimate_bytes"] = round(est.seconds, 1), round(est.bytes)
            if row["chapter_seconds"]:
                row["estimate_over_measured"] = round(est.seconds / row["chapter_seconds"], 2)
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
