"""The closing note's ablation table: L × mu_ratio × family at n = 5 and 20 (chapter 9, issue 20).

For each of the authors' layer-count mixtures (:func:`prompticl.authors_layer_spec`), regime and n,
trains L = 1..3 linear attention layers (:func:`prompticl.layer_ablation`: chapter-8 start at L = 1,
each depth grown from the one before, early stopping on a validation sample), fits the L-step
preconditioned-GD reference, and adds the Bayes floor.  Rows are appended to the JSON file after each
(family, ratio, regime, n), so an interrupted run leaves a usable partial table.  CPU seconds are
reported per row and in total.  Run it niced on the shared machine:

    OPENBLAS_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/bench_ablation.py
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def main() -> int:
    from prompticl import authors_layer_spec, layer_ablation, mean_share

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--families", nargs="+", default=["two-task", "single-task"])
    ap.add_argument("--ratios", nargs="+", type=float, default=[0.5, 0.1, 0.9])
    ap.add_argument("--regimes", nargs="+", default=["plain", "joint-heads", "joint", "finetune"])
    ap.add_argument("--ns", nargs="+", type=int, default=[5, 20])
    ap.add_argument("--samples", type=int, default=1000, help="training prompts per task")
    ap.add_argument("--test-samples", type=int, default=5000, help="fresh test prompts per task")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results-ablation.json"))
    ap.add_argument("--resume", action="store_true", help="keep the rows of --out and compute only the missing ones")
    ap.add_argument("--redo", nargs="*", default=[], help="with --resume: recompute (replace) the rows of these regimes")
    ap.add_argument("--refit-gd", action="store_true",
                    help="only refit the L-step references of the rows in --out, each grown from the one before")
    args = ap.parse_args()
    if args.refit_gd:
        return refit_gd(Path(args.out))
    t0 = time.process_time()
    result = {"settings": {k: v for k, v in vars(args).items() if k not in ("out", "resume")},
              "load_average_start": os.getloadavg(), "rows": []}
    done = set()
    if args.resume and Path(args.out).exists():
        old = json.loads(Path(args.out).read_text())
        result["rows"] = old["rows"]
        t0 -= old.get("cpu_seconds", 0.0)
        done = {(r["family"], r["mu_ratio"], r["regime"], r["n"]) for r in old["rows"]
                if (r["family"], r["mu_ratio"], r["regime"], r["n"]) and r["regime"] not in args.redo}
    for ratio in args.ratios:
        for family in args.families:
            spec = authors_layer_spec(family, ratio)
            for regime in args.regimes:
                for n in args.ns:
                    if (family, ratio, regime, n) in done:
                        continue
                    rows = layer_ablation(spec, [n], regime, (1, 2, 3), samples=args.samples,
                                          test_samples=args.test_samples, seed=0)
                    for r in rows:
                        r.update(family=family, mu_ratio=ratio, mean_share=mean_share(spec),
                                 validation_per_task=4 * args.samples, gd_grown=True)
                        print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()}),
                              flush=True)
                    result["rows"] = [r for r in result["rows"] if (r["family"], r["mu_ratio"], r["regime"], r["n"])
                                      != (family, ratio, regime, n)] + rows
                    result["cpu_seconds"] = time.process_time() - t0
                    result["load_average_end"] = os.getloadavg()
                    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    return 0


def refit_gd(out: Path) -> int:
    """Replace ``gd_loss``/``gd_se`` of every row by the reference grown step by step (``warm``), as
    :func:`prompticl.layer_ablation` now fits it; the CPU seconds are added to the file's total."""
    from prompticl import authors_layer_spec, deep_test_loss, train_gd_steps

    result = json.loads(out.read_text())
    t0 = time.process_time()
    s = result["settings"]
    groups = {}
    for r in result["rows"]:
        if not r.get("gd_grown"):
            groups.setdefault((r["family"], r["mu_ratio"], r["regime"], r["n"]), []).append(r)
    for (family, ratio, regime, n), rows in groups.items():
        spec = authors_layer_spec(family, ratio)
        prev = None
        for L in range(1, max(r["layers"] for r in rows) + 1):
            prev = train_gd_steps(spec, n, regime, L, samples=s["samples"], seed=0, warm=prev)
            g = deep_test_loss(spec, prev, samples=s["test_samples"], seed=1)
            for r in rows:
                if r["layers"] == L:
                    r.update(gd_loss=g.loss, gd_se=g.se, gd_grown=True)
        print(family, ratio, regime, n, [round(r["gd_loss"], 3) for r in rows], flush=True)
        result["gd_refit_cpu_seconds"] = time.process_time() - t0
        out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
