"""``prompticl sweep``'s bad input: one line on stderr, exit status 2, nothing on stdout, nothing written
and no engine started (the runs on a real scheduler and workers are in tests/book/test_sweep_cluster.py)."""
from __future__ import annotations

import json
import re
import socket
import threading
from pathlib import Path

import pytest

from prompticl import cli
from test_cli import assert_clean_error, listing, run_main

GRID = "mixtures: [zero-mean]\nn: [2, 3]\nregimes: [plain]\nmodel: reduced\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CASES = {
    "yaml-does-not-parse": ({"g.yaml": "mixtures: [zero-mean\n"}, ["g.yaml", "--out", "o"], r"grid file g\.yaml, line \d+.*does not parse"),
    "yaml-alias": ({"g.yaml": "n: &a [1]\nmixtures: [zero-mean]\nmodel: reduced\nx: *a\n"}, ["g.yaml", "--out", "o"], r"anchors"),
    "grid-missing": ({}, ["nowhere.yaml", "--out", "o"], r"cannot read grid file nowhere\.yaml"),
    "grid-is-a-folder": ({"d/x": "x"}, ["d", "--out", "o"], r"it is a folder"),
    "grid-unknown-model": ({"g.yaml": GRID.replace("reduced", "bayes")}, ["g.yaml", "--out", "o"], r"unknown model 'bayes'"),
    "ten-million-points": ({"g.yaml": "mixtures: [zero-mean]\nn: [1, 2, 3, 4, 5]\nregimes: [plain, joint]\nmodel: trained\n"
                                      "seeds: 1000000\n"}, ["g.yaml", "--out", "o"], r"10,000,000 points .*--max-points"),
    "over-max-points": ({"g.yaml": GRID}, ["g.yaml", "--out", "o", "--max-points", "1"], r"2 points .* more than the limit 1"),
    "out-is-a-file": ({"g.yaml": GRID, "o": "mine"}, ["g.yaml", "--out", "o"], r"--out o exists and is not a results folder"),
    "out-has-files": ({"g.yaml": GRID, "o/mine.txt": "mine"}, ["g.yaml", "--out", "o"], r"not a sweep's results"),
    "out-other-grid": ({"g.yaml": GRID, "o/_grid.json": json.dumps({"format": "prompticl-sweep/1", "fingerprint": "x",
                                                                    "points": 7})},
                       ["g.yaml", "--out", "o"], r"holds the results of another grid \(7 points"),
    "out-parent-missing": ({"g.yaml": GRID}, ["g.yaml", "--out", "no/o"], r"its folder no does not exist"),
    "workers-and-scheduler": ({"g.yaml": GRID}, ["g.yaml", "--out", "o", "--workers", "2", "--scheduler", "tcp://x:1"],
                              r"not allowed with argument"),
    "workers-zero": ({"g.yaml": GRID}, ["g.yaml", "--out", "o", "--workers", "0"], r"argument --workers"),
    "out-missing": ({"g.yaml": GRID}, ["g.yaml"], r"--out"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_line_and_writes_nothing(case, capsys, tmp_path, monkeypatch):
    files, argv, pattern = CASES[case]
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    monkeypatch.chdir(tmp_path)
    before = listing(tmp_path)
    threads = threading.active_count()
    rc, out, err = run_main(capsys, ["sweep", *argv])
    assert_clean_error(rc, out, err, pattern)
    assert listing(tmp_path) == before
    assert threading.active_count() == threads  # no Dask client or cluster was started


def test_unreachable_scheduler_is_refused_within_the_timeout(capsys, tmp_path, monkeypatch):
    CONNECT_TIMEOUT = 1  # the 5 s of the command line shortened: the wait, not what is waited for
    monkeypatch.setattr("prompticl._sweep_engine.CONNECT_TIMEOUT", CONNECT_TIMEOUT)
    (tmp_path / "g.yaml").write_text(GRID)
    monkeypatch.chdir(tmp_path)
    port = _free_port()  # nothing listens there
    import time

    t0 = time.monotonic()
    rc, out, err = run_main(capsys, ["sweep", "g.yaml", "--out", "o", "--scheduler", f"tcp://127.0.0.1:{port}"])
    assert_clean_error(rc, out, err, rf"cannot reach the Dask scheduler at tcp://127\.0\.0\.1:{port} within {CONNECT_TIMEOUT} s")
    assert time.monotonic() - t0 < 10 * CONNECT_TIMEOUT  # a bound on a hang, not a speed test
    assert not (tmp_path / "o").exists()


def test_a_complete_folder_is_not_recomputed(capsys, tmp_path, monkeypatch):
    """All points present: the command says so and starts no engine (rows written by the store itself)."""
    from prompticl._sweep_grid import load_grid
    from prompticl._sweep_models import compute_point
    from prompticl._sweep_store import ResultsFolder

    (tmp_path / "g.yaml").write_text(GRID)
    monkeypatch.chdir(tmp_path)
    grid = load_grid("g.yaml")
    points = grid.points()
    ResultsFolder("o", grid.fingerprint(points), len(points), GRID).write([compute_point(p) for p in points])
    before = listing(tmp_path)
    rc, out, err = run_main(capsys, ["sweep", "g.yaml", "--out", "o"])
    assert (rc, err) == (0, "") and out == "2 points: all already in o\n"
    assert listing(tmp_path) == before


def test_the_page_states_the_constants_of_the_code():
    """book/sweeps.md quotes the limit, the connect timeout and the retries: they follow the code."""
    from prompticl._sweep_engine import CONNECT_TIMEOUT, RETRIES
    from prompticl._sweep_grid import MAX_POINTS
    from prompticl._sweep_models import MODELS

    page = " ".join((Path(__file__).resolve().parents[2] / "book" / "sweeps.md").read_text(encoding="utf-8").split())
    assert f"more than {MAX_POINTS:,} points is refused" in page
    assert f"within {CONNECT_TIMEOUT} seconds" in page
    assert {1: "once", 2: "twice"}[RETRIES] in page.split("a task is retried ")[1][:10]
    text = (Path(__file__).resolve().parents[2] / "book" / "sweeps.md").read_text(encoding="utf-8")
    assert re.findall(r"^\| `(\w+)` \|", text, re.MULTILINE)[1:] == list(MODELS)  # the table lists every model
    for name, model in MODELS.items():
        for option, opt in model.options.items():
            assert f"`{option}`" in page and f"default {opt.default}" in page


def test_the_page_quotes_the_measured_times():
    """The timing table of book/sweeps.md is benchmarks/results-sweep.json, rounded."""
    root = Path(__file__).resolve().parents[2]
    page = (root / "book" / "sweeps.md").read_text(encoding="utf-8")
    bench = json.loads((root / "benchmarks" / "results-sweep.json").read_text())
    for name, m in bench["shipped_grids"].items():
        minutes = round(m["estimated_wall_seconds_2_free_cores"] / 60)
        row = f"| `grids/{name}.yaml` | {m['points']:,} | {m['mean_point_cpu_seconds']:.2f} | {m['core_hours']:.2f} core-hours | " \
              f"about {minutes} minute{'' if minutes == 1 else 's'} |"
        assert row in page, row
    fixed = bench["fixed_grid"]
    runs = {r["workers"]: r for r in fixed["runs"]}
    assert f"overhead per task ({1000 * bench['overhead']['per_task_seconds']:.1f} ms," in page
    assert f"grid of {fixed['points']} trained points" in page
    assert f"one worker took\n{runs[1]['wall_seconds']:.1f} s and two took {runs[2]['wall_seconds']:.1f} s: a speed-up of " \
           f"{fixed['speedup_2_over_1']:.2f}" in page
