"""Benchmark of ``prompticl sweep`` on Dask (run by hand, not a timed test).

    OPENBLAS_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/bench_sweep.py [--out benchmarks/results-sweep.json]

Measures, on this machine:

* **scaling**: the wall time of a fixed grid (96 trained points: zero-mean, n = 5, 10, the four
  regimes, 12 seeds (``--seeds``), 10,000 training prompts, ±2% test intervals) in a plain loop, and as Dask tasks on
  a LocalCluster of 1 and of 2 single-threaded worker processes (cluster start-up timed apart);
* **per-task overhead**: 400 closed-form points (``model: reduced``, about a millisecond each) in a
  plain loop and on one Dask worker; the difference per point is what Dask adds to every task;
* **the shipped grids**: the time per point of a sample of points of ``grids/figure1-50-seeds.yaml``
  and ``grids/advantage-fine.yaml`` (spread over their context lengths and mean shares), from which
  the time of each whole grid on 2 cores is estimated (points x mean seconds / 2 / efficiency, with
  the 2-worker efficiency measured above).

The machine is shared: the load average before and after is recorded; times are wall times.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _load() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:  # pragma: no cover
        return "n/a"


def _grid(text: str):
    import yaml

    from prompticl._sweep_grid import parse_grid

    return parse_grid(yaml.safe_load(text), "bench", ROOT, max_points=10**6)


def _loop(points) -> float:
    from prompticl._sweep_models import compute_point

    t0 = time.perf_counter()
    for p in points:
        compute_point(p)
    return time.perf_counter() - t0


def _cpu_of(points) -> float:
    """CPU seconds of the points in this process (the work a worker does, without the machine's load)."""
    from prompticl._sweep_models import compute_point

    return sum(compute_point(p)["cpu_seconds"] for p in points)


def _dask(points, workers: int) -> dict:
    from distributed import Client, LocalCluster, wait

    from prompticl._sweep_models import compute_point

    t0 = time.perf_counter()
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                           silence_logs=logging.ERROR)
    client = Client(cluster)
    client.run(lambda: __import__("prompticl._sweep_models"))  # imports are start-up, not task time
    start = time.perf_counter() - t0
    t1 = time.perf_counter()
    futures = client.map(compute_point, points, key=[f"bench-{workers}-{p['hash']}" for p in points], pure=False)
    wait(futures)
    wall = time.perf_counter() - t1
    client.close()
    cluster.close()
    return {"workers": workers, "startup_seconds": start, "wall_seconds": wall}


def _sample(grid, count: int):
    points = grid.points()
    step = max(1, len(points) // count)
    return points[::step][:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results-sweep.json"))
    parser.add_argument("--sample", type=int, default=12, help="points timed per shipped grid")
    parser.add_argument("--seeds", type=int, default=12,
                        help="seeds of the fixed grid (8 points each; 3 seeds, 3 s of work, was too little to show scaling)")
    args = parser.parse_args()
    from prompticl._figures.export import write_atomic
    from prompticl._sweep_grid import load_grid
    from prompticl._sweep_models import compute_point

    info = {"machine": platform.machine(), "cpus": os.cpu_count(), "load_before": _load(),
            "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "unset")}
    fixed = _grid("mixtures: [zero-mean]\nn: [5, 10]\nmodel: {name: trained, samples: 10000, ci: 0.02}\nseeds: %d\n" % args.seeds).points()
    _loop(fixed[:1])  # warm the imports
    loop_s = _loop(fixed)
    cpu_s = _cpu_of(fixed)
    print(f"fixed grid, {len(fixed)} trained points: plain loop {loop_s:.1f} s wall, {cpu_s:.1f} CPU s")
    scaling = [{"workers": 0, "wall_seconds": loop_s, "what": "plain loop, one process"}]
    for w in (1, 2):
        r = _dask(fixed, w)
        scaling.append(r)
        print(f"  Dask, {w} worker(s): {r['wall_seconds']:.1f} s (+ {r['startup_seconds']:.1f} s cluster start)")
    one, two = scaling[1]["wall_seconds"], scaling[2]["wall_seconds"]
    efficiency = one / (2 * two)

    tiny = _grid("mixtures: [zero-mean, nonzero-mean]\nn: [" + ", ".join(str(n) for n in range(1, 51)) + "]\nmodel: reduced\n").points()
    loop_tiny = _loop(tiny)
    dask_tiny = _dask(tiny, 1)["wall_seconds"]
    overhead = (dask_tiny - loop_tiny) / len(tiny)
    print(f"{len(tiny)} closed-form points: loop {loop_tiny:.2f} s, Dask (1 worker) {dask_tiny:.2f} s: "
          f"{1000 * overhead:.1f} ms per task")

    shipped = {}
    for name in ("figure1-50-seeds", "advantage-fine"):
        grid = load_grid(ROOT / "grids" / f"{name}.yaml")
        rows = [compute_point(p) for p in _sample(grid, args.sample)]
        cpu = statistics.fmean(r["cpu_seconds"] for r in rows)
        wall = statistics.fmean(r["seconds"] for r in rows)
        est = grid.size * cpu / 2 + grid.size * max(overhead, 0.0) / 2  # two free cores
        shipped[name] = {"points": grid.size, "sampled": len(rows), "mean_point_cpu_seconds": cpu,
                         "max_point_cpu_seconds": max(r["cpu_seconds"] for r in rows), "mean_point_wall_seconds": wall,
                         "core_hours": grid.size * cpu / 3600, "estimated_wall_seconds_2_free_cores": est}
        print(f"{name}: {grid.size} points, {cpu:.2f} CPU s per point (sample of {len(rows)}; wall {wall:.2f} s), "
              f"about {est / 60:.0f} min on 2 free cores")

    info["load_after"] = _load()
    result = {"info": info, "fixed_grid": {"points": len(fixed), "cpu_seconds": cpu_s, "runs": scaling,
                                           "speedup_2_over_1": one / two, "efficiency_2": efficiency},
              "overhead": {"points": len(tiny), "loop_seconds": loop_tiny, "dask_seconds": dask_tiny,
                           "per_task_seconds": overhead},
              "shipped_grids": shipped}
    write_atomic(Path(args.out), (json.dumps(result, indent=1) + "\n").encode("utf-8"))
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
