"""A sweep's results folder (prompticl._sweep_store): written atomically part by part, read back once per
point, refused when it is not this grid's, and read by the chapters through ``sweep_rows``."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from prompticl import read_sweep, sweep_rows
from prompticl._spec import load_spec
from prompticl._sweep_grid import parse_grid
from prompticl._sweep_models import compute_point
from prompticl._sweep_store import MANIFEST, ResultsFolder, StoreError

GRID = {"mixtures": ["zero-mean"], "n": [2, 3], "regimes": ["plain", "joint"], "model": "reduced"}


def _folder(path, grid=GRID):
    g = parse_grid(grid)
    points = g.points()
    return ResultsFolder(path, g.fingerprint(points), len(points), "grid text"), points


def test_nothing_is_created_before_the_first_rows(tmp_path):
    folder, points = _folder(tmp_path / "out")
    assert folder.done() == set() and not (tmp_path / "out").exists()
    assert folder.write([]) is None and not (tmp_path / "out").exists()


def test_parts_round_trip_and_pandas_reads_the_folder(tmp_path):
    folder, points = _folder(tmp_path / "out")
    rows = [compute_point(p) for p in points]
    folder.write(rows[:3])
    folder.write(rows[3:] + rows[:1])  # a point written twice is read once
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names[0] == MANIFEST and len(names) == 3 and all(n.startswith("part-") for n in names[1:])
    assert not [n for n in names if n.startswith(".")]  # no temporary file left
    assert folder.done() == {p["hash"] for p in points}
    table = read_sweep(tmp_path / "out")
    assert len(table) == 4 and set(table["point_hash"]) == folder.done()
    assert table["seed"].isna().all()  # exact models have no seed
    assert len(pd.read_parquet(tmp_path / "out")) == 5  # plain pandas sees every part (and skips _grid.json)
    manifest = json.loads((tmp_path / "out" / MANIFEST).read_text())
    assert manifest["fingerprint"] == folder.fingerprint and manifest["points"] == 4


def test_a_reopened_folder_of_the_same_grid_is_accepted(tmp_path):
    folder, points = _folder(tmp_path / "out")
    folder.write([compute_point(points[0])])
    again, _ = _folder(tmp_path / "out")
    assert again.done() == {points[0]["hash"]}


def test_refused_outputs(tmp_path):
    (tmp_path / "file").write_text("mine")
    with pytest.raises(StoreError, match="exists and is not a results folder"):
        _folder(tmp_path / "file")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "mine.txt").write_text("mine")
    with pytest.raises(StoreError, match="not a sweep's results"):
        _folder(tmp_path / "full")
    with pytest.raises(StoreError, match="does not exist"):
        _folder(tmp_path / "no" / "out")
    (tmp_path / "link").symlink_to(tmp_path / "nowhere")
    with pytest.raises(StoreError, match="broken symbolic link"):
        _folder(tmp_path / "link")
    other, points = _folder(tmp_path / "other", {**GRID, "n": [2]})
    other.write([compute_point(points[0])])
    with pytest.raises(StoreError, match="holds the results of another grid"):
        _folder(tmp_path / "other")
    (tmp_path / "empty").mkdir()
    _folder(tmp_path / "empty")  # an empty folder is fine
    assert (tmp_path / "file").read_text() == "mine" and (tmp_path / "full" / "mine.txt").read_text() == "mine"


def test_sweep_rows_finds_the_grid_by_content_and_names_what_is_missing(tmp_path):
    folder, points = _folder(tmp_path / "out")
    rows = [compute_point(p) for p in points]
    folder.write(rows)
    table = read_sweep(tmp_path / "out")
    got = sweep_rows(table, load_spec("zero-mean"), [3, 2], ["joint", "plain"], "reduced")
    assert [(r["n"], r["regime"]) for r in got] == [(3, "joint"), (3, "plain"), (2, "joint"), (2, "plain")]
    assert got[0]["loss"] == next(r["loss"] for r in rows if (r["n"], r["regime"]) == (3, "joint"))
    with pytest.raises(ValueError, match=r"lacks 2 of the 4 points .*n = 5"):
        sweep_rows(table, load_spec("zero-mean"), [2, 5], ["joint", "plain"], "reduced")
    with pytest.raises(ValueError, match=r"lacks 4 of the 4"):  # same name, other content
        sweep_rows(table, load_spec("noisy"), [2, 3], ["joint", "plain"], "reduced")
    with pytest.raises(ValueError, match="not a sweep's results folder"):
        read_sweep(tmp_path)


def test_figures_take_a_results_table_as_an_absolute_path(tmp_path, monkeypatch):
    """``prompticl figures ... -p results PATH``: checked before running, made absolute (chapters run in book/)."""
    from prompticl._figures.params import _check_results
    from prompticl._figures.registry import FigureError

    folder, points = _folder(tmp_path / "out")
    folder.write([compute_point(points[0])])
    monkeypatch.chdir(tmp_path)
    assert _check_results("out", "parameter 'results'") == str(tmp_path / "out")
    (tmp_path / "plain").mkdir()
    for bad in ("nowhere", "plain"):
        with pytest.raises(FigureError, match=rf"parameter 'results': '{bad}' is not a sweep's results table"):
            _check_results(bad, "parameter 'results'")


def test_a_write_cut_short_leaves_the_folder_as_it_was(tmp_path, monkeypatch):
    """A part is written under a hidden temporary name and renamed into place. While its bytes are
    being written, a reader (or a SIGKILL, which runs no clean-up) sees no new part; a write stopped
    there by Ctrl-C leaves neither a part nor a temporary file, and the folder reads as before (the
    sweep recomputes those points)."""
    import prompticl._sweep_store as store

    folder, points = _folder(tmp_path / "out")
    rows = [compute_point(p) for p in points]
    folder.write(rows[:2])
    before = sorted(p.name for p in (tmp_path / "out").iterdir())

    at_the_cut = []

    def interrupted(fd):
        at_the_cut.extend(sorted(p.name for p in (tmp_path / "out").iterdir() if not p.name.startswith(".")))
        raise KeyboardInterrupt

    monkeypatch.setattr(store.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        folder.write(rows[2:])
    monkeypatch.undo()
    assert at_the_cut == before  # what a killed sweep would have left: only whole parts
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == before
    assert folder.done() == {p["hash"] for p in points[:2]}
    assert len(read_sweep(tmp_path / "out")) == 2
