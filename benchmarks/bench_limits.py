"""Measure the time and peak memory of ``theory`` and ``train`` as d, K, n, the number of --n values,
the training sample and the prompt length grow: the evidence behind :mod:`prompticl._limits`.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_limits.py [--quick] [--out benchmarks/results-limits.json]

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

# Each snippet builds a spec with Spec(...) directly (no limit checks) and does one command's work.
PRELUDE = """
import numpy as np, time
from prompticl._spec import Spec
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default="benchmarks/results-limits.json")
    ap.add_argument("--timeout", type=float, default=120.0)
    args = ap.parse_args()
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
