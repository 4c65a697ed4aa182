"""Run time of every ``prompticl`` command of the session plan (run by hand, not a timed test).

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/bench_session_plan.py [--only REGEX] [--skip-long]
        [--out benchmarks/results-session-plan.json]

Each command runs exactly as written (the same extraction as tests/book/test_session_plan_run.py),
one at a time, in a fresh temporary folder. Recorded per command: the wall time, the CPU time of the
command and every process it waited for (its Jupyter kernel included), and the load average before
and after. On a shared machine the wall time grows with the load; the CPU time does not, and for
these single-process commands it is close to the wall time on an idle machine, so the session plan
quotes the wall time when the load stayed below 1.5 and the CPU time otherwise (the JSON says which).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "book"))
from test_session_plan_run import LONG, plan_commands  # noqa: E402  (one source for the command list)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(command: str) -> dict:
    """Run one plan command in a fresh folder; its wall and CPU seconds and the load around it."""
    exe = Path(sys.executable).parent / "prompticl"
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-plan-") as folder:
        cpu0, t0 = _children_cpu(), time.perf_counter()
        proc = subprocess.run([str(exe), *shlex.split(command)[1:]], cwd=folder, env=env,
                              capture_output=True, text=True)
        wall, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
    load_after = os.getloadavg()[0]
    idle = max(load_before, load_after) < 1.5
    summary = re.search(r"(\d+) of (\d+) claims hold", proc.stdout)
    return {
        "command": command, "exit": proc.returncode, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
        "load_before": round(load_before, 2), "load_after": round(load_after, 2),
        "quoted": "wall" if idle else "cpu", "quoted_s": round(wall if idle else cpu),
        "claims": summary.group(0) if summary else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="run only the commands matching this regular expression")
    parser.add_argument("--skip-long", action="store_true", help="leave out the long tier's commands")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results-session-plan.json")
    args = parser.parse_args(argv)
    commands = [c for c in plan_commands()
                if (not args.only or re.search(args.only, c)) and not (args.skip_long and c in LONG)]
    results = json.loads(args.out.read_text()) if args.out.is_file() else {}
    on_page = set(plan_commands())
    results = {c: row for c, row in results.items() if c in on_page}  # a command the page no longer has is dropped
    for command in commands:
        row = measure(command)
        results[command] = row
        print(f"{row['quoted_s']:>6} s ({row['quoted']}; wall {row['wall_s']} s, cpu {row['cpu_s']} s, "
              f"load {row['load_before']}->{row['load_after']}, exit {row['exit']})  {command}", flush=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n")  # after each: a long run may be stopped
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
