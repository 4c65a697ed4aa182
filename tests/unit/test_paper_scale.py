"""The paper-scale results shown on book/sweeps.md ("What the paper's scale shows"): the two tables
in book/paper-scale/ are complete runs of the shipped grids, and the figures' plotted numbers are
those tables' numbers (the figures were drawn by the page's commands; this checks the link without a
kernel)."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from prompticl import REGIMES, read_sweep
from prompticl._sweep_grid import load_grid
from prompticl._sweep_store import MANIFEST
from support import ROOT

DATA = ROOT / "book" / "paper-scale"
PAGE = ROOT / "book" / "sweeps.md"


@pytest.mark.parametrize("name", ["figure1-50-seeds", "advantage-fine"])
def test_each_table_is_a_complete_run_of_its_shipped_grid(name):
    grid = load_grid(ROOT / "grids" / f"{name}.yaml")
    points = grid.points()
    manifest = json.loads((DATA / name / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["fingerprint"] == grid.fingerprint(points) and manifest["points"] == len(points)
    table = read_sweep(DATA / name)
    assert sorted(table["point_hash"]) == sorted(p["hash"] for p in points)  # every point, once
    assert np.isfinite(table["loss"]).all()


def test_figure_1_plots_the_best_of_the_50_runs_of_the_table():
    table = read_sweep(DATA / "figure1-50-seeds")
    data = json.loads((DATA / "experiments-figure1.json").read_text(encoding="utf-8"))
    assert data["seeds"] == 50 and data["n"] == sorted(set(table["n"]))
    for regime in REGIMES:
        rows = table[table.regime == regime]
        assert (rows.groupby("n").size() == 50).all()
        best = [round(float(rows[rows.n == n]["loss"].min()), 10) for n in data["n"]]
        assert data[regime]["best"] == best, regime


def test_the_advantage_scan_plots_one_minus_layer_over_closed_form():
    table = read_sweep(DATA / "advantage-fine")
    data = json.loads((DATA / "layer-advantage.json").read_text(encoding="utf-8"))
    assert len(data["rho"]) == 100
    by_key = {(round(float(r.rho), 6), int(r.n), r.regime): 1.0 - r.loss / r.theory for r in table.itertuples()}
    ns = sorted(set(table["n"]))
    for regime in REGIMES:
        plotted = np.asarray(data[regime], dtype=float)
        expected = np.array([[by_key[round(rho, 6), n, regime] for n in ns] for rho in data["rho"]])
        np.testing.assert_allclose(plotted, expected, rtol=0, atol=1e-9, err_msg=regime)


def test_the_page_shows_both_figures_and_names_both_tables():
    page = PAGE.read_text(encoding="utf-8")
    for image in re.findall(r"^```\{figure\} (paper-scale/\S+)$", page, re.M):
        assert (ROOT / "book" / image).is_file(), image
    assert "paper-scale/experiments-figure1.png" in page and "paper-scale/layer-advantage.png" in page
    assert "book/paper-scale/figure1-50-seeds" in page and "book/paper-scale/advantage-fine" in page
