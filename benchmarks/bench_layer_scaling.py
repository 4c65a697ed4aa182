"""Time and memory of the layer's certified optimum and of ``train`` against d (issue 23; run by hand).

    nice -n 10 .venv/bin/python benchmarks/bench_layer_scaling.py [--what layer|train|both|cli]
        [--ds 10 20 40 60 100] [--src PATH] [--label after] [--timeout 900] [--out FILE]
        [--samples 2000] [--n 50] [--ci 0.02]

Each point runs in a fresh process (``--src`` selects the package: another checkout's ``src`` gives
the "before" column), which reports its wall time and peak resident memory (``ru_maxrss``):

* ``layer``: :func:`prompticl._layer_optimum.layer_optima`, all four regimes of the full layer at
  n = 50 on the non-zero-mean mixture scaled to d (``bench_layer_optimum.mixture``), 4 starts;
* ``train``: ``prompticl train`` through :func:`prompticl.train` (ALS, joint regime, n = 50) with
  ``--samples`` prompts.
* ``cli``: the command ``prompticl train SPEC --regime joint --n N --samples S --ci CI --allow-long
  --json`` end to end (sampling, ALS, the test loss on fresh prompts, the JSON report) under
  ``/usr/bin/time -v``, SPEC being the same mixture written to a YAML file: user + system CPU
  seconds and the maximum resident set size that ``time`` reports.  Not part of ``both``.

On the shared machine wall time depends on the load; CPU time (``process_time``, single-threaded
BLAS) is the stable measure.  The growth exponent is the least-squares slope of log(CPU time) and log(memory above the interpreter's
baseline) against log(d) over the points that finished.  ``OPENBLAS_NUM_THREADS=1`` is set in the
children, so the numbers are single-threaded.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {bench!r})
from bench_layer_optimum import mixture
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
what, d, samples = {what!r}, {d}, {samples}
spec = mixture(d)
t, c = time.perf_counter(), time.process_time()
if what == "layer":
    from prompticl._layer_optimum import layer_optima
    opts = layer_optima(spec, 50, "full")
    extra = {{"certified": all(bool(o.certified) for o in opts.values()),
              "losses": {{r: o.loss for r, o in opts.items()}}}}
else:
    from prompticl import train
    res = train(spec, 50, "joint", samples=samples, seed=0)
    extra = {{"train_loss": res.train_loss, "iterations": res.iterations}}
wall, cpu = time.perf_counter() - t, time.process_time() - c
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"seconds": wall, "cpu_seconds": cpu, "peak_mib": peak / 1024, "base_mib": base / 1024, **extra}}))
"""


def run_point(what: str, d: int, src: str, samples: int, timeout: float) -> dict:
    env = dict(os.environ, PYTHONPATH=src, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    code = CHILD.format(bench=str(HERE), what=what, d=d, samples=samples)
    t0 = time.perf_counter()
    try:
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"what": what, "d": d, "finished": False, "note": f"over {timeout:g} s"}
    if out.returncode != 0:
        return {"what": what, "d": d, "finished": False, "note": out.stderr.strip().splitlines()[-1][:200]}
    row = json.loads(out.stdout.strip().splitlines()[-1])
    return {"what": what, "d": d, "finished": True, "process_seconds": time.perf_counter() - t0, **row}


def run_cli(d: int, src: str, samples: int, n: int, ci: float, timeout: float) -> dict:
    """``prompticl train`` end to end under ``/usr/bin/time -v`` (CPU seconds, maximum RSS)."""
    import re
    import tempfile

    env = dict(os.environ, PYTHONPATH=src, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    with tempfile.TemporaryDirectory() as tmp:
        spec_path = Path(tmp) / f"nonzero-mean-d{d}.yaml"
        # bench_layer_optimum.mixture(d) as a spec file (JSON is YAML)
        spec_path.write_text(json.dumps({"name": f"nonzero-mean-d{d}", "d": d, "noise": 0.0, "tasks": [
            {"weight": 0.3, "mean": 1.0, "cov": 1}, {"weight": 0.7, "mean": -1.0, "cov": 2}]}))
        cmd = ["/usr/bin/time", "-v", sys.executable, "-m", "prompticl", "train", str(spec_path), "--regime", "joint",
               "--n", str(n), "--samples", str(samples), "--ci", str(ci), "--allow-long", "--no-progress", "--json"]
        t0 = time.perf_counter()
        try:
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"what": "cli", "d": d, "finished": False, "note": f"over {timeout:g} s"}
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        return {"what": "cli", "d": d, "finished": False, "note": out.stderr.strip().splitlines()[0][:200]}

    def field(name: str) -> float:
        return float(re.search(rf"{re.escape(name)}: ([0-9.]+)", out.stderr).group(1))

    report = json.loads(out.stdout)
    return {"what": "cli", "d": d, "finished": True, "command": " ".join(cmd[4:]).replace(tmp + "/", ""),
            "seconds": wall, "cpu_seconds": field("User time (seconds)") + field("System time (seconds)"),
            "peak_mib": field("Maximum resident set size (kbytes)") / 1024, "base_mib": 0.0,
            "test_loss": report.get("test_loss"), "theory": report.get("theory")}


def exponent(rows: list, key: str) -> float | None:
    pts = [(r["d"], r[key]) for r in rows if r.get("finished") and r[key] > 0]
    if len(pts) < 2:
        return None
    x, y = np.log([p[0] for p in pts]), np.log([p[1] for p in pts])
    return float(np.polyfit(x, y, 1)[0])


def merge_rows(data: dict, label: str, result: dict) -> None:
    """Fold ``result`` into ``data[label]``: rows of an earlier run with the same sample size and n are
    kept unless this run measured the same d (so d = 100 can be measured in its own run)."""
    for what, res in result.items():
        if what.startswith("_"):
            continue
        for r in res["rows"]:  # rows of the first version of run_cli named the program twice
            if r.get("command", "").startswith("prompticl prompticl "):
                r["command"] = r["command"][len("prompticl "):]
        old = data.get(label, {}).get(what)
        if old and old.get("samples") == res["samples"] and old.get("n", 50) == res.get("n", 50):
            fresh = {r["d"] for r in res["rows"] if r.get("finished")}
            kept = [r for r in old["rows"] if r["d"] not in fresh and r.get("finished")]
            res["rows"] = sorted(kept + [r for r in res["rows"] if r.get("finished") or r["d"] not in {o["d"] for o in kept}],
                                 key=lambda r: r["d"])
            res["exponents"] = {key: exponent(res["rows"], key) for key in ("seconds", "cpu_seconds", "extra_mib")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--what", choices=["layer", "train", "both", "cli"], default="both")
    parser.add_argument("--ds", type=int, nargs="+", default=[10, 20, 40, 60, 100])
    parser.add_argument("--src", default=str(HERE.parent / "src"), help="the package to measure (its src directory)")
    parser.add_argument("--label", default="after")
    parser.add_argument("--samples", type=int, default=20_000, help="train: prompts in the sample")
    parser.add_argument("--n", type=int, default=50, help="cli: context length")
    parser.add_argument("--ci", type=float, default=0.02, help="cli: relative 95%% half-width of the test loss")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per point")
    parser.add_argument("--out", default="", help="merge the rows into this JSON file under --label")
    parser.add_argument("--merge-from", nargs="+", default=[], metavar="FILE",
                        help="measure nothing: fold the --label rows of these earlier --out files into --out")
    args = parser.parse_args()
    whats = ["layer", "train"] if args.what == "both" else [args.what]
    result = {}
    if args.merge_from:
        for name in args.merge_from:  # in order: a later file's rows win for the same d
            earlier = json.loads(Path(name).read_text())
            for what, res in earlier[args.label].items():
                if what in result:
                    merge_rows({args.label: {what: result[what]}}, args.label, {what: res})
                result[what] = res
            for key, value in earlier.get("info", {}).items():
                if key == args.label:
                    result.setdefault("_info", []).append(value)
        whats = []
    for what in whats:
        rows = []
        for d in args.ds:
            if what == "cli":
                row = run_cli(d, args.src, args.samples, args.n, args.ci, args.timeout)
            else:
                row = run_point(what, d, args.src, args.samples, args.timeout)
            rows.append(row)
            if row["finished"]:
                print(f"{args.label:>7} {what:>5} d = {d:>3}: {row['seconds']:8.2f} s wall, {row['cpu_seconds']:8.2f} s CPU, peak {row['peak_mib']:7.0f} MiB", flush=True)
            else:
                print(f"{args.label:>7} {what:>5} d = {d:>3}: not finished ({row['note']})", flush=True)
            if not row["finished"]:
                break  # larger d would not finish either
        for r in rows:
            if r.get("finished"):
                r["extra_mib"] = max(r["peak_mib"] - r["base_mib"], 1e-3)
        expo = {"seconds": exponent(rows, "seconds"), "cpu_seconds": exponent(rows, "cpu_seconds"),
                "extra_mib": exponent(rows, "extra_mib")}
        print(f"{args.label:>7} {what:>5} growth exponents: CPU time d^{expo['cpu_seconds'] or float('nan'):.2f}, "
              f"memory (above start-up) d^{expo['extra_mib'] or float('nan'):.2f}")
        result[what] = {"rows": rows, "exponents": expo, "samples": args.samples if what != "layer" else None}
        if what == "cli":
            result[what].update(n=args.n, ci=args.ci, note="peak_mib is the whole process's maximum RSS "
                                "(/usr/bin/time -v); extra_mib = peak_mib, so its exponent includes the interpreter")
    if args.out:
        path = Path(args.out)
        data = json.loads(path.read_text()) if path.exists() else {}
        infos = result.pop("_info", None)
        merge_rows(data, args.label, result)
        data.setdefault(args.label, {}).update(result)
        data.setdefault("info", {})[args.label] = infos if infos else {
            "cpus": os.cpu_count(), "load": " ".join(f"{v:.2f}" for v in os.getloadavg()),
            "src": args.src, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
        path.write_text(json.dumps(data, indent=1) + "\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
