"""Measure what the argument checks of the public API cost per call (issue 19, item 3).

    PYTHONPATH=src .venv/bin/python benchmarks/bench_validation.py [--out benchmarks/results-validation.json]

For each call, the implementation (``prompticl.<name>.__wrapped__``, the work alone) and the checks
alone (the same wrapper around a function that does nothing) are timed in turn, in CPU time
(:func:`time.process_time`: on the shared machine, wall time mostly measures the other processes),
best of 15 rounds; the overhead is the checks' time, in microseconds and as a share of the work.
(Timing the public function against the implementation gives the same figure, but as the small
difference of two noisy large ones.)  The calls range from the cheapest public function (a colour look-up) to the closed
forms at the built-in specs' d = 10 and a large W check at d = 200.
"""
from __future__ import annotations

import argparse
import functools
import json
import math
import platform
import time
import timeit

import numpy as np

import prompticl as p
from prompticl._validation import validated


def _cases():
    s = p.load_spec("nonzero-mean")  # d = 10, K = 2
    big = p.mean_share_family(0.5, d=200)
    W = 0.1 * np.eye(s.d)
    Wbig = 0.01 * np.eye(200)
    rng = np.random.default_rng(0)
    return {
        "task_color(3)": ("task_color", (3,), {}),
        "ci_halfwidth(0.1)": ("ci_halfwidth", (0.1,), {}),
        "optimum(d=10, n=20)": ("optimum", (s, 20, "joint"), {}),
        "finetune_gap(d=10, n=20)": ("finetune_gap", (s, 20), {}),
        "population_loss(d=10, W, biases, centres)": ("population_loss", (s, 20, W, np.ones((2, 10)), np.ones((2, 10))), {}),
        "sample_batch(d=10, n=20, batch=8)": ("sample_batch", (s, 20, 8, rng), {}),
        "optimal_losses(d=10, 20 values of n)": ("optimal_losses", (s, list(range(1, 21))), {}),
        "population_loss(d=200, W)": ("population_loss", (big, 20, Wbig), {}),
    }


def _best(funcs, args, kwargs, number) -> list:
    """Best CPU time per call of each function, the functions timed in turn in each round."""
    best = [math.inf] * len(funcs)
    for _ in range(15):
        for i, func in enumerate(funcs):
            t = timeit.timeit(lambda: func(*args, **kwargs), number=number, timer=time.process_time) / number
            best[i] = min(best[i], t)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args()
    rows = []
    for label, (name, a, kw) in _cases().items():
        public = getattr(p, name)
        once = timeit.timeit(lambda: public.__wrapped__(*a, **kw), number=1)
        number = max(1, min(5000, int(0.02 / max(once, 1e-7))))
        checks_only = validated(functools.wraps(public.__wrapped__)(lambda *_a, **_k: None), name)
        bare, checks = _best([public.__wrapped__, checks_only], a, kw, number)
        rows.append({"call": label, "work_us": bare * 1e6, "checks_us": checks * 1e6, "share": checks / bare})
        print(f"{label:45s} work {bare * 1e6:10.1f} us   checks {checks * 1e6:7.1f} us ({100 * checks / bare:6.1f} % of the work)")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            json.dump({"machine": platform.platform(), "python": platform.python_version(), "rows": rows}, fh, indent=2)
            fh.write("\n")


if __name__ == "__main__":
    main()
