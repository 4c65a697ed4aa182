"""Measure the time and peak memory of ``theory`` and ``train`` as d, K, n, the number of --n values,
the training sample and the prompt length grow: the evidence behind :mod:`prompticl._limits`.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_limits.py [--quick] [--out benchmarks/results-limits.json]
    PYTHONPATH=src .venv/bin/python benchmarks/bench_limits.py --costs   # only the joint cost models

``--costs`` measures the coefficients of the joint cost budget of :mod:`prompticl._limits`
(ALS per K·(d+1)⁴, Adam per step and its peak memory, the test loss per prompt, ``theory --model
full`` per context length) and stores them, with the coefficient each case implies, under
``"cost_models"`` in the results file, keeping the rest of it.

Each case runs in a fresh Python process (so its peak RSS is its own: ``ru_maxrss`` from
``os.wait4``) under a wall-clock timeout; the library is called directly (not the CLI), so that cases
beyond the CLI's limits can be measured too.  Wall times depend on the machine's load, printed
alongside.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

# Each snippet builds a spec without checks (Spec(...) itself checks its fields and the size limits,
# and the cases beyond them are measured too) and does one command's work.
PRELUDE = """
import numpy as np, time
from prompticl._spec import _trusted_spec as Spec
def spec(d, K):
    w = np.full(K, 1.0 / K)
    means = np.linspace(-1, 1, K)[:, None] * np.ones((K, d))
    covs = np.stack([np.eye(d) * (1 + k) for k in range(K)])
    x = np.eye(d) + 0.1 * np.ones((d, d)) / d
    return Spec(d=d, noise=0.1, x_cov=x, weights=w, means=means, covs=covs)
"""

THEORY = PRELUDE + """
from prompticl._closed_forms import optimal_losses, signal
s = spec({d}, {K})
ns = list(range(1, {count} + 1))
optimal_losses(s, ns); signal(s)
"""

TRAIN = PRELUDE + """
from prompticl._commands.train import train_report
s = spec({d}, {K})
train_report(s, "{regime}", {n}, 0, samples={samples}, prompt_len={prompt_len}, ci=0.05)
"""

YAML = """
from prompticl._safe_yaml import load_yaml_text
text = "mean: [" + ", ".join(["1.2345"] * ({size} // 8)) + "]\\n"
load_yaml_text(text, "bench")
"""


def run_case(code: str, timeout: float) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = t0 + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            proc.kill()
            pid, status, usage = os.wait4(proc.pid, 0)
            return {"seconds": None, "timeout": timeout, "peak_rss_mb": usage.ru_maxrss / 1024}
        time.sleep(0.02)
    err = proc.stderr.read().decode(errors="replace").strip().splitlines()
    return {
        "seconds": round(time.perf_counter() - t0, 3),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "ok": os.waitstatus_to_exitcode(status) == 0,
        "error": err[-1] if err and os.waitstatus_to_exitcode(status) else None,
    }


COST_ALS = PRELUDE + """
from prompticl._training import train
t = time.perf_counter(); train(spec({d}, {K}), {d}, "joint", 0, samples={samples})
print(time.perf_counter() - t)
"""
COST_ADAM = PRELUDE + """
from prompticl._training import train
t = time.perf_counter(); train(spec({d}, {K}), {n}, "plain", 0, method="adam", steps={steps}, batch={batch})
print((time.perf_counter() - t) / {steps})
"""
COST_EVAL = PRELUDE + """
from prompticl._training import train
from prompticl._attention import effective
from prompticl._evaluation import per_prompt_losses
s = spec({d}, 2); eff = effective(train(s, {n}, "plain", 0, samples=2000).params, 2)
t = time.perf_counter(); per_prompt_losses(s, {n}, [eff], 0, 65536, np.random.default_rng(0))
print((time.perf_counter() - t) / 65536)
"""
COST_LAYER = PRELUDE + """
from prompticl._layer_optimum import layer_optima
t = time.perf_counter(); layer_optima(spec({d}, {K}), 5, "full")
print(time.perf_counter() - t)
"""


def run_cost(code: str, timeout: float) -> dict:
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return {"seconds": None, "timeout": timeout}
    pid_usage = None  # peak memory of the child: read from /proc is gone; use resource of children
    import resource

    pid_usage = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"value": float(out.decode().split()[-1]) if proc.returncode == 0 else None, "peak_rss_mb_children": round(pid_usage, 1)}


def costs(timeout: float) -> dict:
    """Measure the cost models' coefficients; each row has the coefficient it implies."""
    from prompticl import _limits as L  # noqa: PLC0415

    rows = []
    for d, K in [(10, 2), (10, 8), (20, 2), (30, 4)]:
        r = run_cost(COST_ALS.format(d=d, K=K, samples=20_000), timeout)
        unit = K * (d + 1) ** 4
        rows.append({"model": "als", "d": d, "K": K, "samples": 20_000, "seconds": r.get("value"),
                     "implied_seconds_per_K_D4": None if r.get("value") is None else
                     round((r["value"] - L.TRAIN_FIXED_SECONDS) / unit, 9), "used": L.ALS_SECONDS_PER_UNIT})
    for d, K, n, batch in [(5, 2, 5, 3072), (5, 2, 50, 3072), (10, 2, 10, 512), (10, 2, 10, 256)]:
        r = run_cost(COST_ADAM.format(d=d, K=K, n=n, steps=20, batch=batch), timeout)
        D = d + 1
        unit = K * batch * ((n + 1) * D + D * D)
        rows.append({"model": "adam step", "d": d, "K": K, "n": n, "batch": batch, "seconds_per_step": r.get("value"),
                     "implied_seconds_per_unit": None if r.get("value") is None else r["value"] / unit,
                     "used": L.ADAM_SECONDS_PER_UNIT})
    for d in [10, 30]:
        r = run_cost(COST_EVAL.format(d=d, n=10), timeout)
        rows.append({"model": "test prompt", "d": d, "seconds_per_prompt": r.get("value"),
                     "estimate": L.EVAL_SECONDS_FIXED + L.EVAL_SECONDS_PER_D2 * (d + 1) ** 2})
    for d, K in [(5, 2), (10, 2), (10, 8), (20, 2), (20, 16)]:
        r = run_cost(COST_LAYER.format(d=d, K=K), timeout)
        rows.append({"model": "layer optimum per n", "d": d, "K": K, "seconds": r.get("value"),
                     "estimate": L.layer_cost(d, K, 1)})
    return {"load_before": os.getloadavg(), "rows": rows,
            "adam_memory_note": "peak RSS of one Adam step (steps=1), K = 2: batch 200,000 at d = 2, n = 5: 255 MB; "
                                "batch 100,000 at d = 10, n = 5: 646 MB; batch 20,000 at d = 30, n = 5: 774 MB; "
                                "batch 20,000 at d = 10, n = 50: 341 MB; batch 2000 at d = 10, n = 1000: 539 MB "
                                "(model: 60 MB + K·batch·(12·(n+1)(d+1) + 32·(d+1)²) bytes)"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default="benchmarks/results-limits.json")
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--costs", action="store_true", help="measure only the joint cost models (kept with the rest)")
    args = ap.parse_args()
    if args.costs:
        data = json.loads(open(args.out).read()) if os.path.exists(args.out) else {}
        data["cost_models"] = costs(args.timeout)
        with open(args.out, "w") as fh:
            json.dump(data, fh, indent=1)
            fh.write("\n")
        print(json.dumps(data["cost_models"], indent=1))
        return
    cases: list[tuple[str, dict, str]] = []
    for d in ([50, 200, 500] if args.quick else [50, 100, 200, 500, 1000, 2000]):
        cases.append(("theory d", {"d": d, "K": 2, "count": 1}, THEORY))
    for K in [2, 100, 1000]:
        cases.append(("theory K", {"d": 50, "K": K, "count": 1}, THEORY))
    for count, d in [(1000, 10), (1000, 100), (1000, 200), (100, 500)]:
        cases.append(("theory count", {"d": d, "K": 2, "count": count}, THEORY))
    base = {"K": 2, "regime": "joint", "samples": 100_000, "prompt_len": 1}
    for d in ([5, 10, 20] if args.quick else [5, 10, 20, 30, 40]):
        cases.append(("train d", {**base, "d": d, "n": d}, TRAIN))
    for K in ([2, 8] if args.quick else [2, 8, 16, 32]):
        cases.append(("train K", {**base, "d": 10, "K": K, "n": 10}, TRAIN))
    for samples in [100_000, 1_000_000]:
        cases.append(("train samples", {**base, "d": 20, "n": 20, "samples": samples}, TRAIN))
    for n in [10, 10_000, 1_000_000]:
        cases.append(("train n", {**base, "d": 5, "n": n}, TRAIN))
    for prompt_len in [1, 1000, 100_000]:
        cases.append(("train prompt_len", {**base, "d": 5, "n": 5, "prompt_len": prompt_len}, TRAIN))
    for size in [100_000, 500_000]:
        cases.append(("yaml bytes", {"size": size}, YAML))
    env_note = {"load_before": os.getloadavg(), "python": platform.python_version(), "cpus": os.cpu_count()}
    rows = []
    for label, params, template in cases:
        res = run_case(template.format(**params), args.timeout)
        row = {"case": label, **params, **res}
        rows.append(row)
        print(json.dumps(row), flush=True)
    env_note["load_after"] = os.getloadavg()
    with open(args.out, "w") as fh:
        json.dump({"machine": env_note, "timeout_seconds": args.timeout, "cases": rows}, fh, indent=1)
        fh.write("\n")


if __name__ == "__main__":
    main()
