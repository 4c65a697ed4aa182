"""Runs of ``prompticl figures`` (papermill executes chapters): outputs, provenance, failures.

Most tests run the tiny fixture book ``tests/book/fixtures/book`` (two chapters, about a second each);
one runs a real chapter of the book with its smoke parameters.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from prompticl.cli import main
from support import FIXTURES, cli, data, snapshot
from prompticl.figures import (
    build_registry,
)

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
    status, _, stderr = cli(capsys, "beta-curve", "--out", str(out), "--force", "-q")
    assert status == 0, stderr
    assert not (out / "keep.txt").exists() and (out / "beta-curve.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]  # no temporary or moved-aside folder left


def test_failure_midway_leaves_out_as_it_was(capsys, tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "keep.txt").write_text("old results")
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
