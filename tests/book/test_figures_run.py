"""Runs of ``prompticl figures`` (papermill executes chapters): outputs, provenance, failures.

Most tests run the tiny fixture book ``tests/book/fixtures/book`` (two chapters, about a second each);
one runs a real chapter of the book with its smoke parameters.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from prompticl.cli import main
from support import FIXTURES, cli, data, snapshot
from prompticl._figures import (
    build_registry,
)

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
REAL_BOOK = ROOT / "book"
FORMATS = ("svg", "png", "pdf", "json")


def test_smoke_parameters_and_jobs_2_via_the_installed_command(tmp_path):
    out2, out1 = tmp_path / "j2", tmp_path / "j1"
    cmd = [sys.executable, "-m", "prompticl", "figures", "--book", str(FIXTURES), "--all", "--smoke"]
    par = subprocess.run([*cmd, "--jobs", "2", "--out", str(out2)], capture_output=True, text=True, timeout=300)
    assert par.returncode == 0, par.stderr
    progress = {ln for ln in par.stderr.splitlines() if ln.startswith("[chapter")}
    assert "[chapter 1/2] alpha: cell 6/6" in progress and "[chapter 2/2] beta: cell 3/3" in progress
    seq = subprocess.run([*cmd, "--out", str(out1), "-q"], capture_output=True, text=True, timeout=300)
    assert seq.returncode == 0, seq.stderr
    prov = json.loads((out2 / "provenance.json").read_text())
    assert prov["jobs"] == 2 and prov["parameters"]["alpha"]["n_points"] == 3  # the smoke value
    for name in ("alpha-lines", "alpha-bars", "beta-curve"):
        assert all((out2 / f"{name}.{f}").is_file() for f in FORMATS)
        assert (out2 / f"{name}.json").read_bytes() == (out1 / f"{name}.json").read_bytes()
    assert all(len(v) == 3 for v in data(out2, "alpha-lines")["lines"].values())


# ----------------------------------------------------------------------------------------------
# The real book


def test_real_chapter_regenerates_with_user_parameters(tmp_path):
    """A real chapter (in-brief) with its smoke parameters and a different mixture: the figure's
    numbers are the core's closed forms for that mixture, and differ from the default mixture's."""
    import numpy as np

    import prompticl

    reg = build_registry(REAL_BOOK)
    chapter = reg.chapters["in-brief"]
    n_max = chapter.smoke_parameters["n_max"]
    outs = {}
    for spec_name in ("zero-mean", "nonzero-mean"):
        outs[spec_name] = out = tmp_path / spec_name
        status = main(["figures", "in-brief", "--smoke", "-p", "spec_name", spec_name, "--out", str(out), "-q"])
        assert status == 0
        for name in chapter.figures:
            assert all((out / f"{name}.{f}").is_file() for f in FORMATS), name
        got = data(out, "in-brief-regimes")
        assert got["n"] == list(range(1, n_max + 1))
        spec = prompticl.load_spec(spec_name)
        want = prompticl.optimal_losses(spec, got["n"])
        for regime in prompticl.REGIMES:
            np.testing.assert_allclose(
                np.array(got["normalised_loss"][regime]) * prompticl.signal(spec), want[regime], rtol=1e-8
            )
    assert data(outs["zero-mean"], "in-brief-regimes") != data(outs["nonzero-mean"], "in-brief-regimes")


def test_parameter_change_changes_data_and_rerun_reproduces_it(capsys, tmp_path):
    runs = {}
    for label, extra in (("a", []), ("b", []), ("scaled", ["-p", "scale", "2"])):
        status, _, stderr = cli(capsys, "alpha", *extra, "--out", str(tmp_path / label), "-q")
        assert status == 0, stderr
        runs[label] = tmp_path / label
    for name in ("alpha-lines", "alpha-bars"):
        # Same parameters: identical numbers, byte for byte (JSON and SVG).
        assert (runs["a"] / f"{name}.json").read_bytes() == (runs["b"] / f"{name}.json").read_bytes()
        assert (runs["a"] / f"{name}.svg").read_bytes() == (runs["b"] / f"{name}.svg").read_bytes()
        assert data(runs["scaled"], name) != data(runs["a"], name)
    base, scaled = data(runs["a"], "alpha-lines")["lines"], data(runs["scaled"], "alpha-lines")["lines"]
    assert scaled != base
    for key in base:  # scale multiplies every point: the data change exactly as the parameter says
        assert scaled[key] == pytest.approx([2 * v for v in base[key]], abs=1e-9)


def test_failure_in_parallel_run_leaves_out_as_it_was(capsys, tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "keep.txt").write_text("old results")
    (out / "provenance.json").write_text("{}")  # an earlier output: --force may replace it
    before = snapshot(tmp_path)
    status, stdout, stderr = cli(capsys, "--all", "-p", "fail_midway", "true", "--jobs", "2", "--out", str(out), "--force", "-q")
    assert status == 1 and stdout == ""
    assert stderr.splitlines() == [
        "prompticl: error: chapter alpha failed at cell 4/6: RuntimeError: fixture failure requested"
    ]
    assert snapshot(tmp_path) == before  # beta's files (if it finished first) went with the temporary folder


def test_run_writes_figures_notebook_provenance_and_progress(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, stdout, stderr = cli(capsys, "alpha-lines", "-p", "seed", "3", "-p", "ns", "2,3")
    assert status == 0, stderr
    (out,) = (tmp_path / "_build" / "figures").iterdir()  # the default: a fresh folder
    assert str(out.relative_to(tmp_path)) in stdout
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"alpha-lines.{f}" for f in FORMATS] + ["notebooks", "provenance.json"]
    )  # alpha-bars is drawn by the chapter too, but was not asked for
    assert (out / "alpha-lines.svg").read_text().lstrip().startswith("<?xml")
    assert (out / "alpha-lines.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "alpha-lines.pdf").read_bytes()[:4] == b"%PDF"
    assert sorted(data(out, "alpha-lines")["lines"]) == ["2", "3"]

    prov = json.loads((out / "provenance.json").read_text())
    assert prov["parameters"] == {"alpha": {"seed": 3, "scale": 1.0, "n_points": 5, "ns": [2, 3],
                                            "spec_name": "zero-mean", "fail_midway": False}}
    assert prov["seeds"] == {"alpha": {"seed": 3}}
    assert prov["figures"] == {"alpha": ["alpha-lines"]}
    assert prov["prompticl_version"] == __import__("prompticl").__version__
    assert prov["git_commit"] != ""
    assert prov["specs"]["alpha"]["spec_name"]["builtin"] == "zero-mean"
    assert prov["timings_seconds"]["chapters"]["alpha"] > 0
    assert prov["command"][:3] == ["prompticl", "figures", "alpha-lines"]

    executed = json.loads((out / "notebooks" / "alpha.ipynb").read_text())
    injected = [c for c in executed["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    assert len(injected) == 1 and "seed = 3" in "".join(injected[0]["source"])
    assert ".tmp-" not in json.dumps(executed)  # the temporary folder does not leak into the notebook

    progress = [ln for ln in stderr.splitlines() if ln.startswith("[chapter")]
    assert progress == [f"[chapter 1/1] alpha: cell {i}/6" for i in range(1, 7)]


def test_force_replaces_existing_out(capsys, tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "keep.txt").write_text("old")
    (out / "provenance.json").write_text("{}")  # an earlier output: --force may replace it
    status, _, stderr = cli(capsys, "beta-curve", "--out", str(out), "--force", "-q")
    assert status == 0, stderr
    assert not (out / "keep.txt").exists() and (out / "beta-curve.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]  # no temporary or moved-aside folder left


def test_failure_midway_leaves_out_as_it_was(capsys, tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "keep.txt").write_text("old results")
    (out / "provenance.json").write_text("{}")  # an earlier output: --force may replace it
    before = snapshot(tmp_path)
    status, stdout, stderr = cli(capsys, "alpha-lines", "-p", "fail_midway", "true", "--out", str(out), "--force", "-q")
    assert status == 1 and stdout == ""
    lines = stderr.splitlines()
    assert len(lines) == 1
    assert lines[0] == "prompticl: error: chapter alpha failed at cell 4/6: RuntimeError: fixture failure requested"
    assert snapshot(tmp_path) == before


def test_failure_midway_creates_no_out(capsys, tmp_path):
    out = tmp_path / "new" / "deeper" / "o"
    status, _, _ = cli(capsys, "alpha-lines", "-p", "fail_midway", "true", "--out", str(out), "-q")
    assert status == 1
    assert list(tmp_path.iterdir()) == []  # the parents this run created are gone too


def test_params_file_and_precedence(capsys, tmp_path):
    params = tmp_path / "params.yaml"
    # scale and the alpha section belong to a chapter not being run: accepted (shared files), unused
    params.write_text("seed: 5\noffset: 1\nscale: 3\nbeta:\n  offset: 10\nalpha:\n  seed: 4\n")
    status, _, stderr = cli(capsys, "beta-curve", "-f", str(params), "-p", "seed", "6", "--out", str(tmp_path / "o"), "-q")
    assert status == 0, stderr
    prov = json.loads((tmp_path / "o" / "provenance.json").read_text())
    assert prov["parameters"] == {"beta": {"seed": 6, "offset": 10.0}}  # -p > section > top level
    assert all(v >= 10 for v in data(tmp_path / "o", "beta-curve")["values"])


# ----------------------------------------------------------------------------------------------
# Issue 13: signals, races and folders made during a run (the slow fixture book naps in a cell)

SLOWBOOK = FIXTURES.parent / "slowbook"


def _proc_table() -> dict[int, tuple[int, int, str, str]]:
    """pid -> (parent pid, process group, state, command line) for every process, from /proc."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text(errors="replace")
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        table[int(entry)] = (int(fields[1]), int(fields[2]), fields[0], cmd)
    return table


def _tree(pid: int) -> set[int]:
    table, out, todo = _proc_table(), set(), [pid]
    while todo:
        parent = todo.pop()
        for child, (ppid, *_rest) in table.items():
            if ppid == parent and child not in out:
                out.add(child)
                todo.append(child)
    return out


def _alive(pids) -> list[tuple[int, str]]:
    table = _proc_table()
    return [(p, table[p][3]) for p in pids if p in table and table[p][2] != "Z"]


def _start(out: Path, *extra: str, book: Path = SLOWBOOK) -> subprocess.Popen:
    """A run in a session (and so a process group) of its own, whose leader is the CLI."""
    cmd = [sys.executable, "-m", "prompticl", "figures", "--book", str(book), "-q", "--out", str(out), *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


def _wait_for_kernels(proc: subprocess.Popen, count: int, timeout: float = 120) -> set[int]:
    """Wait until ``count`` kernels of the run are up; return every process of the run's tree."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tree = _tree(proc.pid)
        table = _proc_table()
        if sum("ipykernel" in table[p][3] for p in tree if p in table) >= count:
            time.sleep(1.5)  # let the kernels reach the nap cell
            return tree | _tree(proc.pid)
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    pytest.fail("the run's kernels did not start")


@pytest.mark.parametrize("signame, status", [("SIGINT", 130), ("SIGTERM", 143), ("SIGHUP", 129)])
def test_signal_stops_workers_and_kernels_and_removes_what_the_run_created(tmp_path, signame, status):
    """``--jobs 2``: both pool workers and both kernels are gone after the signal (none orphaned),
    the temporary folder and the parents created for a nested --out are removed, one line, 128 + N."""
    out = tmp_path / "new" / "deeper" / "o"
    proc = _start(out, "--all", "--jobs", "2")
    tree = _wait_for_kernels(proc, 2)
    assert len(tree) >= 4  # two workers and two kernels (and the resource tracker)
    os.kill(proc.pid, getattr(signal, signame))
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == status, stderr
    assert stdout == b""
    assert stderr.decode() == f"prompticl: error: interrupted by {signame}; nothing was written to {out}\n"
    deadline = time.monotonic() + 10
    while (_alive(tree) or [p for p, v in _proc_table().items() if v[1] == proc.pid and v[2] != "Z"]) \
            and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _alive(tree) == []  # workers and kernels (kernels run in sessions of their own)
    assert [p for p, v in _proc_table().items() if v[1] == proc.pid and v[2] != "Z"] == []  # the run's group
    assert list(tmp_path.iterdir()) == []  # no .o.tmp-*, and new/deeper/ are gone too


def test_sigterm_in_a_sequential_run_stops_its_kernel(tmp_path):
    out = tmp_path / "o"
    proc = _start(out, "slow1")
    tree = _wait_for_kernels(proc, 1)
    os.kill(proc.pid, signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143 and len(stderr.splitlines()) == 1, stderr
    time.sleep(0.5)
    assert _alive(tree) == [] and list(tmp_path.iterdir()) == []


def test_two_runs_into_the_same_out_one_wins_the_other_refuses(tmp_path):
    """Without --force, two runs started 1.5 s apart: the first to finish wins; the other exits 2 at
    the move, leaves the winner's folder alone and removes only its own temporary folder."""
    out = tmp_path / "o"
    slow = _start(out, "slow1", "-p", "nap", "8")
    time.sleep(1.5)
    fast = _start(out, "slow1", "-p", "nap", "0")
    f_out, f_err = fast.communicate(timeout=120)
    s_out, s_err = slow.communicate(timeout=120)
    assert fast.returncode == 0, f_err
    assert slow.returncode == 2 and s_out == b"" and len(s_err.splitlines()) == 1, s_err
    assert b"appeared while the run was going" in s_err
    assert data(out, "slow1-line") == {"nap": 0.0}  # the winner's figure
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]


@pytest.mark.parametrize("force", [False, True])
def test_folder_made_by_hand_during_a_run_is_never_deleted(tmp_path, force):
    out = tmp_path / "o"
    proc = _start(out, "slow1", "-p", "nap", "6", *(["--force"] if force else []))
    _wait_for_kernels(proc, 1)
    out.mkdir()
    (out / "important.txt").write_text("data")
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 2 and stdout == b"" and len(stderr.splitlines()) == 1, stderr
    assert b"appeared while the run was going" in stderr
    assert snapshot(out) == {"important.txt": b"data"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]


def test_output_follows_the_umask(tmp_path):
    out = tmp_path / "o"
    proc = subprocess.run(
        [sys.executable, "-c", "import os, sys; os.umask(0o022); from prompticl.cli import main; sys.exit(main(sys.argv[1:]))",
         "figures", "--book", str(FIXTURES), "beta-curve", "-q", "--out", str(out)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    modes = {str(p.relative_to(out)): oct(p.stat().st_mode & 0o777) for p in [out, *out.rglob("*")]}
    assert modes["."] == "0o755" and modes["notebooks"] == "0o755"
    assert {m for name, m in modes.items() if name not in (".", "notebooks")} == {"0o644"}, modes


# --------------------------------------------------------------------------- issue 19: signals and streams


def test_sigkill_of_the_parent_takes_workers_and_kernels_with_it(tmp_path):
    """SIGKILL runs no handler: the workers die by their parent-death signal, and their kernels
    (sessions of their own) by ipykernel's parent poller; nothing writes into the temporary folder
    afterwards."""
    out = tmp_path / "o"
    proc = _start(out, "--all", "--jobs", "2")
    tree = _wait_for_kernels(proc, 2)
    kernels = [p for p in tree if "ipykernel" in _proc_table().get(p, (0, 0, "", ""))[3]]
    assert len(kernels) == 2
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    deadline = time.monotonic() + 15
    while _alive(tree) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _alive(tree) == []
    before = snapshot(tmp_path)
    time.sleep(2)
    assert snapshot(tmp_path) == before  # nobody left to write
    assert not out.exists()


@pytest.mark.parametrize("first, second", [("SIGINT", "SIGTERM"), ("SIGTERM", "SIGINT"), ("SIGINT", "SIGINT")])
def test_a_second_signal_does_not_cut_the_clean_up_short(tmp_path, first, second):
    """Two signals 0.2 s apart: the status of the first, its one line and nothing else, and
    everything removed (the second arrives during the clean-up or the interpreter's exit)."""
    out = tmp_path / "o"
    proc = _start(out, "--all", "--jobs", "2")
    tree = _wait_for_kernels(proc, 2)
    os.kill(proc.pid, getattr(signal, first))
    time.sleep(0.2)
    if proc.poll() is None:
        os.kill(proc.pid, getattr(signal, second))
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + getattr(signal, first), stderr
    assert stdout == b"" and stderr.decode() == f"prompticl: error: interrupted by {first}; nothing was written to {out}\n"
    deadline = time.monotonic() + 10
    while _alive(tree) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _alive(tree) == [] and list(tmp_path.iterdir()) == []


def test_timeout_prints_only_our_line(tmp_path):
    """--timeout 1 on a cell that sleeps: nbclient's 'Timeout waiting for execute reply' is not shown."""
    out = tmp_path / "o"
    proc = subprocess.run([sys.executable, "-m", "prompticl", "figures", "--book", str(SLOWBOOK), "slow1", "-p", "nap", "5",
                           "--timeout", "1", "-q", "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.startswith("prompticl: error: chapter slow1 failed") and proc.stderr.count("\n") == 1, proc.stderr
    assert "CellTimeoutError" in proc.stderr and list(tmp_path.iterdir()) == []


def test_a_run_with_stderr_closed_succeeds_and_prints_only_its_result(tmp_path):
    """``2>&-``: the kernel gets /dev/null as stderr (it died on a closed one), the run succeeds and
    stdout has its result line only."""
    out = tmp_path / "o"
    proc = subprocess.run([sys.executable, "-m", "prompticl", "figures", "--book", str(SLOWBOOK), "slow1", "-p", "nap", "0",
                           "--out", str(out)], stdout=subprocess.PIPE, text=True, timeout=120,
                          preexec_fn=lambda: os.close(2))
    assert proc.returncode == 0, proc.stdout
    assert proc.stdout.splitlines() == ["0 of 0 claims hold for these parameters",
                                        f"wrote 1 figure(s) from 1 chapter(s) to {out} in {proc.stdout.split()[-2]} s"]
    assert (out / "slow1-line.svg").is_file()
