"""Every command of book/sweeps.md, run exactly as written (a shell in a fresh folder holding the
repository's ``grids/``), with what the page says it does.

The smoke-size commands run to the end; the paper-scale sweeps (hours) are started as written and
interrupted once their first rows are saved, and the chapters are then run as written on those
incomplete tables, which they must refuse (the page says so)."""
from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "book" / "sweeps.md"
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
       "PYTHONPATH": str(ROOT / "src"), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def _default_sigint() -> None:
    """In the child: Ctrl-C's default action, even when this run inherited SIGINT ignored (a background job)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def commands() -> list[str]:
    blocks = re.findall(r"^```bash\n(.*?)^```", PAGE.read_text(encoding="utf-8"), re.MULTILINE | re.DOTALL)
    return [line for block in blocks for line in block.splitlines() if line.strip()]


def test_the_page_shows_these_commands():
    """A command added to the page without a test below fails here."""
    assert commands() == [
        "prompticl sweep grids/figure1-smoke.yaml --out figure1-smoke --workers 2",
        "prompticl figures experiments-figure1 --smoke -p results figure1-smoke --out figures-smoke",
        "prompticl sweep grids/figure1-50-seeds.yaml --out figure1-50-seeds --progress",
        "prompticl figures experiments-figure1 -p seeds 50 -p results figure1-50-seeds",
        "prompticl sweep grids/advantage-fine.yaml --out advantage-fine --progress",
        "prompticl figures layer-advantage -f grids/advantage-fine-params.yaml -p results advantage-fine",
    ]


def _shell(cmd: str, cwd: Path, timeout: float = 1800) -> subprocess.CompletedProcess:
    """The command as written, its words split as a shell would (prompticl found on PATH)."""
    return subprocess.run(shlex.split(cmd), cwd=cwd, env=ENV, capture_output=True, text=True, timeout=timeout)


def _interrupted(cmd: str, cwd: Path, out: Path) -> None:
    """Start ``cmd`` as written, wait for its first saved rows, then Ctrl-C it (SIGINT)."""
    proc = subprocess.Popen(shlex.split(cmd), cwd=cwd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True, preexec_fn=_default_sigint)
    deadline = time.monotonic() + 900
    while not list(out.glob("part-*.parquet")):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGINT)  # prompticl and its local workers, as a terminal's Ctrl-C does
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 130, stderr
    assert stderr.decode().splitlines()[-1] == "prompticl: error: interrupted"
    assert "Traceback" not in stderr.decode()  # the workers leave the interrupt to the client


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "grids").symlink_to(ROOT / "grids")
    return tmp_path


def test_every_command_as_written(folder):
    from prompticl import read_sweep

    cmds = commands()
    # A first sweep: runs, then a rerun computes nothing
    run = _shell(cmds[0], folder)
    assert (run.returncode, run.stderr) == (0, "")
    assert run.stdout == "8 points: 8 computed now, 0 already in figure1-smoke, 0 failed\n"
    again = _shell(cmds[0], folder)
    assert (again.returncode, again.stdout) == (0, "8 points: all already in figure1-smoke\n")
    # Chapter 07 draws Figure 1 from it: the plotted best of 2 seeds is the table's smallest loss
    fig = _shell(cmds[1], folder)
    assert fig.returncode == 0, fig.stderr
    data = json.loads((folder / "figures-smoke" / "experiments-figure1.json").read_text())
    table = read_sweep(folder / "figure1-smoke")
    for regime in ("plain", "finetune", "joint", "joint-heads"):
        best = [table[(table.regime == regime) & (table.n == n)]["loss"].min() for n in data["n"]]
        assert data[regime]["best"] == [round(float(b), 10) for b in best]  # save_figure rounds to 10 decimals
    # The paper's scale: the sweeps start and save rows; the chapters refuse the incomplete tables
    _interrupted(cmds[2], folder, folder / "figure1-50-seeds")
    done = len(read_sweep(folder / "figure1-50-seeds"))
    fig1 = _shell(cmds[3], folder)
    assert fig1.returncode != 0 and f"lacks {2200 - done} of the 2200 points of this grid" in fig1.stderr, fig1.stderr
    _interrupted(cmds[4], folder, folder / "advantage-fine")
    fine = read_sweep(folder / "advantage-fine")
    scan = _shell(cmds[5], folder)
    assert scan.returncode != 0 and "lacks" in scan.stderr and "of the 20 points of this grid" in scan.stderr, scan.stderr
    assert len(fine) > 0
