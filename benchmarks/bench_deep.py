"""Side by side: the authors' multi-layer PyTorch loop against prompticl's JAX trainer (issue 20, item 4).

The point: L = 2 layers, n = 10, the authors' two-task family at mu_ratio 0.5 (d = 10, means ±1·1,
covariances 2.32·I, weights ½ each, σ = 0), joint training of prompts and attention.

* Theirs: their ``prompt_icl.py`` (UCR-Vision-and-Learning-Group/prompt_ICL, fetched separately and
  NOT part of this repository) is executed up to its experiment loop, in a separate Python with a
  CPU PyTorch (``python3 -m venv /tmp/torchvenv && /tmp/torchvenv/bin/pip install torch==2.13.0``).  Their
  ``MultiLayerLinearAttn``, ``data_generator`` and ``evaluation`` are used as they are; the training
  step is the body of their ``joint_training`` (Adam, lr 1e-3, weight decay 1e-3, batch 3072 fresh
  prompts per task), run with checkpoints: every ``--every`` steps the loss is evaluated with their
  ``evaluation`` (outside the timed part).
* Ours: :func:`prompticl.train_deep` (L-BFGS on a fixed sample, float64, nested warm start) and
  :func:`prompticl.deep_test_loss`.

Reports wall time and loss at equal effort (their loss after our wall time) and at equal loss (their
time to reach our test loss, if reached within ``--steps``).  Writes ``benchmarks/results-deep.json``.

    python benchmarks/bench_deep.py --authors /path/to/prompt_icl.py --torch-python /tmp/torchvenv/bin/python
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

THEIRS = r'''
import json, sys, time, torch
path, steps, every, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(1)
src = open(path).read()
cut = src.index("\nfor r in tqdm(range(num_runs)")
g = {"__file__": path, "__name__": "authors_prompt_icl"}
exec(compile(src[:cut], path, "exec"), g)
torch.manual_seed(seed)
d, n = 10, 10
means = [torch.full((d,), -1.0), torch.full((d,), 1.0)]
covs = [2.32 * torch.eye(d), 2.32 * torch.eye(d)]
noise, weights = [0.0, 0.0], [0.5, 0.5]
model = g["MultiLayerLinearAttn"](d + 1, prompt_size=1, num_tasks=2, L=2)
opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-3)
bsize, task_type = 3072, "prompt"
elapsed, curve = 0.0, []
for it in range(1, steps + 1):
    t0 = time.perf_counter()
    weighted_loss = 0
    for task_id in range(len(means)):   # the body of their joint_training
        data, Xt, Yt = g["data_generator"](bsize, d, n, 1, [means[task_id]], [covs[task_id]], [noise[task_id]], mixture_weights=[1.0])
        opt.zero_grad()
        out = model(data, task_id=task_id, cross_input=Xt, cross_attn=True, task_type=task_type)
        loss = torch.square(out[:, -1] - Yt[:, -1]).mean()
        weighted_loss += weights[task_id] * loss
    weighted_loss.backward()
    opt.step()
    elapsed += time.perf_counter() - t0
    if it % every == 0 or it == steps:
        test = g["evaluation"](model, bsize, d, n, means, covs, noise, weights, task_type, ITN_EVAL=10)
        curve.append({"step": it, "seconds": elapsed, "test_loss": float(test)})
        print(json.dumps(curve[-1]), file=sys.stderr, flush=True)
print(json.dumps({"curve": curve, "torch": torch.__version__}))
'''


def ours(layers: int, samples: int, starts: int) -> dict:
    sys.path.insert(0, str(ROOT / "src"))
    from prompticl import deep_test_loss, spec_from_dict, train_deep

    spec = spec_from_dict({"name": "multi_task_mu_ratio_0.5", "d": 10, "noise": 0.0, "tasks": [
        {"weight": 0.5, "mean": -1.0, "cov": 2.32}, {"weight": 0.5, "mean": 1.0, "cov": 2.32}]})
    t0 = time.perf_counter()
    res = train_deep(spec, 10, "joint", layers, samples=samples, starts=starts, seed=0)
    seconds = time.perf_counter() - t0
    est = deep_test_loss(spec, res, samples=20000, seed=1)
    return {"seconds": seconds, "test_loss": est.loss, "se": est.se, "train_loss": res.train_loss,
            "iterations": res.iterations, "samples_per_task": samples, "starts": starts}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--authors", required=True, help="path of the authors' prompt_icl.py (not in this repository)")
    ap.add_argument("--torch-python", default="/tmp/torchvenv/bin/python")
    ap.add_argument("--steps", type=int, default=2000, help="their Adam steps (they ran 100000)")
    ap.add_argument("--every", type=int, default=250)
    ap.add_argument("--samples", type=int, default=2000, help="our training prompts per task")
    ap.add_argument("--starts", type=int, default=1)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results-deep.json"))
    args = ap.parse_args()
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    import tempfile

    with tempfile.TemporaryDirectory(prefix="bench-deep-") as folder:  # their script makes a results/ folder
        proc = subprocess.run([args.torch_python, "-c", THEIRS, str(Path(args.authors).resolve()),
                               str(args.steps), str(args.every), "0"],
                              check=True, capture_output=True, text=True, env=env, cwd=folder)
    # their script prints at import time (experiment tables, tqdm): the result is the last line
    theirs = json.loads(proc.stdout.strip().splitlines()[-1])
    mine = ours(2, args.samples, args.starts)
    curve = theirs["curve"]
    at_equal_effort = [c for c in curve if c["seconds"] <= mine["seconds"]]
    reached = [c for c in curve if c["test_loss"] <= mine["test_loss"]]
    result = {
        "point": {"family": "multi_task_mu_ratio_0.5", "d": 10, "n": 10, "layers": 2, "regime": "joint"},
        "load_average": os.getloadavg(),
        "theirs": {**theirs, "seconds_per_step": curve[-1]["seconds"] / curve[-1]["step"]},
        "ours": mine,
        "equal_effort": {"seconds": mine["seconds"], "ours": mine["test_loss"],
                         "theirs": at_equal_effort[-1]["test_loss"] if at_equal_effort else None},
        "equal_loss": {"ours_seconds": mine["seconds"],
                       "theirs_seconds": reached[0]["seconds"] if reached else None,
                       "theirs_not_reached_within_steps": None if reached else args.steps},
    }
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
