"""Chapter 08 draws its advantage scan from a sweep's table (``-p results``) and plots the same numbers
as computing them (chapter 07's Figure 1 from a table is run by test_sweep_docs.py, as documented)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def test_chapter_08_scan_from_a_table_equals_the_computed_scan(tmp_path):
    from prompticl import REGIMES, layer_advantage, mean_share_family

    # chapter 08's smoke grid: scan_rhos [0.0, 0.8], scan_ns [2, 10]
    (tmp_path / "g.yaml").write_text("mixtures: [{family: mean-share, rho: [0.0, 0.8]}]\nn: [2, 10]\nmodel: full\n")
    run = lambda *a: subprocess.run([sys.executable, "-m", "prompticl", *a], cwd=tmp_path, env=ENV,  # noqa: E731
                                    capture_output=True, text=True, timeout=1800)
    sweep = run("sweep", "g.yaml", "--out", "adv", "--workers", "1")
    assert (sweep.returncode, sweep.stderr) == (0, ""), sweep.stdout
    fig = run("figures", "layer-advantage", "--smoke", "-p", "results", "adv", "--out", "figs")
    assert fig.returncode == 0, fig.stderr
    data = json.loads((tmp_path / "figs" / "layer-advantage.json").read_text())
    assert data["rho"] == [0.0, 0.8] and data["n"] == [2, 10]
    for i, rho in enumerate(data["rho"]):
        computed = layer_advantage(mean_share_family(rho), data["n"])
        for r in REGIMES:
            assert np.allclose(data[r][i], computed[r], rtol=0, atol=1e-9), (rho, r)
    # a table of other points is refused by the chapter, naming what is missing
    other = run("figures", "layer-advantage", "--smoke", "-p", "results", "adv", "-p", "scan_ns", "[2, 20]",
                "--out", "figs2")
    assert other.returncode != 0 and "lacks 4 of the 8 points of this grid" in other.stderr, other.stderr
