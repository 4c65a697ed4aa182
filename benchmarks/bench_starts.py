"""Should the layer optimum's default of 4 starts change?  (issue 23; run by hand)

    OPENBLAS_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/bench_starts.py [--out FILE]

Two experiments on :func:`prompticl._layer_optimum.layer_optimum` (full class):

* beyond the command line (n = 500 and 5000) on the mixtures of ``benchmarks/global_search.py``:
  the relative miss of 4, 8 and 16 starts against the exhaustive search's best value stored in
  ``benchmarks/results-global-search.json``;
* at the command line's largest context length for ``--model full`` (n = 1000), on those mixtures and
  on the mean-share family at rho = 0.9, 0.99, 0.999 (d = 10): the relative miss of 4 starts against 16.

Each row has the CPU seconds of the call, so the cost of more starts is on record too.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from global_search import SPECS  # noqa: E402

from prompticl import mean_share_family, spec_from_dict  # noqa: E402
from prompticl._layer_optimum import layer_optimum  # noqa: E402

REGIMES = ("plain", "joint", "joint-heads")


def run(spec, n, regime, starts):
    t = time.process_time()
    o = layer_optimum(spec, n, regime, "full", starts=starts)
    return o.loss, o.starts_at_best, time.process_time() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(HERE / "results-starts.json"))
    args = parser.parse_args()
    search = {(r["spec"], r["n"], r["regime"]): r["search_best"]
              for r in json.loads((HERE / "results-global-search.json").read_text())["rows"]}
    specs = {name: spec_from_dict(data) for name, data in SPECS.items()}
    beyond = []
    for (name, n, regime), best in search.items():
        if n < 500:
            continue
        row = {"spec": name, "n": n, "regime": regime, "search_best": best}
        for starts in (4, 8, 16):
            loss, at_best, cpu = run(specs[name], n, regime, starts)
            row[f"miss_{starts}"], row[f"at_best_{starts}"], row[f"cpu_{starts}"] = (loss - best) / best, at_best, cpu
        beyond.append(row)
        print(f"{name:>14} n = {n:>4} {regime:>11}: miss " + ", ".join(f"{s} starts {row[f'miss_{s}']:+.1e}" for s in (4, 8, 16)), flush=True)
    specs.update({f"mean-share {r}": mean_share_family(r) for r in (0.9, 0.99, 0.999)})
    at_limit = []
    for name, spec in specs.items():
        for regime in REGIMES:
            (l4, b4, c4), (l16, b16, c16) = run(spec, 1000, regime, 4), run(spec, 1000, regime, 16)
            at_limit.append({"spec": name, "n": 1000, "regime": regime, "loss_4": l4, "at_best_4": b4, "cpu_4": c4,
                             "loss_16": l16, "at_best_16": b16, "cpu_16": c16, "miss_4": (l4 - l16) / l16})
            print(f"{name:>16} n = 1000 {regime:>11}: 4 starts miss {(l4 - l16) / l16:+.1e} against 16 ({b4}/4 at best)", flush=True)
    summary = {
        "beyond_misses_over_1e-9": {s: sum(r[f"miss_{s}"] > 1e-9 for r in beyond) for s in (4, 8, 16)},
        "beyond_worst_miss": {s: max(r[f"miss_{s}"] for r in beyond) for s in (4, 8, 16)},
        "beyond_cases": len(beyond),
        "limit_cases": len(at_limit),
        "limit_worst_miss_4": max(r["miss_4"] for r in at_limit),
        "limit_cpu_4": sum(r["cpu_4"] for r in at_limit), "limit_cpu_16": sum(r["cpu_16"] for r in at_limit),
    }
    print(json.dumps(summary, indent=1))
    Path(args.out).write_text(json.dumps({"summary": summary, "beyond": beyond, "at_limit": at_limit,
                                          "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
