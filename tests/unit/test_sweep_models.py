"""What one sweep point computes (prompticl._sweep_models): each model agrees with the code the book and
the other commands use, and a new model is one registration."""
from __future__ import annotations

import re

import numpy as np
import pytest

from prompticl._closed_forms import optimum
from prompticl._families import mean_share_family
from prompticl._layer_optimum import layer_advantage
from prompticl._sweep_grid import parse_grid
from prompticl._sweep_models import MODELS, SweepModel, code_fingerprint, compute_point, register_model


def test_trained_point_is_the_prompticl_train_run_with_that_seed():
    from prompticl._commands.train import train_report
    from prompticl._spec import load_spec

    grid = parse_grid({"mixtures": ["nonzero-mean"], "n": [3], "regimes": ["joint"],
                       "model": {"name": "trained", "samples": 1000, "ci": 0.2}, "seeds": [7]})
    row = compute_point(grid.points()[0])
    report = train_report(load_spec("nonzero-mean"), "joint", 3, 7, samples=1000, ci=0.2)
    assert (row["loss"], row["ci_low"], row["ci_high"]) == (report["test_loss"], *report["ci95"])
    assert row["theory"] == report["theory"] and row["seed"] == 7 and row["samples"] == 1000
    assert row["exact_loss"] >= row["layer"] * (1 - 1e-7)  # a trained layer cannot beat the layer's optimum


def test_full_points_give_chapter_08s_advantage():
    spec = mean_share_family(0.9)
    grid = parse_grid({"mixtures": [{"family": "mean-share", "rho": [0.9]}], "n": [20], "model": "full"})
    rows = {r["regime"]: r for r in map(compute_point, grid.points())}
    adv = layer_advantage(spec, [20])
    for regime, row in rows.items():
        assert row["loss"] == pytest.approx(row["theory"] * (1 - adv[regime][0]), rel=1e-12)
        assert row["ci_low"] == row["ci_high"] == row["loss"] and row["seed"] is None


def test_reduced_points_are_the_closed_forms():
    grid = parse_grid({"mixtures": ["noisy"], "n": [1, 1000], "model": "reduced"})
    from prompticl._spec import load_spec

    for p in grid.points():
        row = compute_point(p)
        assert row["loss"] == optimum(load_spec("noisy"), p["n"], p["regime"]).loss == row["theory"]
        assert row["rel_gap"] == 0.0


def test_row_carries_parameters_version_and_hash():
    from prompticl import __version__

    p = parse_grid({"mixtures": ["zero-mean"], "n": [4], "regimes": ["plain"], "model": "reduced"}).points()[0]
    row = compute_point(p)
    assert row["point_hash"] == p["hash"] and row["version"] == __version__ and row["model"] == "reduced"
    assert re.fullmatch(r"[0-9a-f]{12}", row["code"]) and row["code"] == code_fingerprint()
    assert row["seconds"] > 0 and (row["mixture"], row["n"], row["regime"]) == ("zero-mean", 4, "plain")


def test_a_new_model_is_one_registration():
    def run(spec, n, regime, seed, options):
        loss = float(optimum(spec, n, regime).loss) * options["scale"]
        return {"loss": loss, "ci_low": loss, "ci_high": loss, "se": 0.0, "twice": 2 * loss}

    register_model(SweepModel("scaled", "test model", True, run, lambda *a: None,
                              {"scale": MODELS["trained"].options["ci"].__class__(2.0, lambda v: None)}, ("twice",)))
    try:
        grid = parse_grid({"mixtures": ["zero-mean"], "n": [5], "regimes": ["joint"], "model": "scaled", "seeds": 2})
        rows = [compute_point(p) for p in grid.points()]
        assert [r["seed"] for r in rows] == [0, 1] and rows[0]["scale"] == 2.0
        assert np.isclose(rows[0]["loss"], 2 * rows[0]["theory"]) and rows[0]["twice"] == 2 * rows[0]["loss"]
    finally:
        del MODELS["scaled"]


def test_deep_model_point():
    """The deep model (chapter 9): one point trains depths 1..L, tests, and carries its references."""
    pytest.importorskip("jax")
    from prompticl._sweep_grid import load_grid
    from pathlib import Path

    spec = {"name": "tiny", "d": 2, "noise": 0.2, "tasks": [{"weight": 0.4, "mean": [1.0, -0.5], "cov": [0.5, 0.3]},
                                                          {"weight": 0.6, "mean": [-0.5, 0.5], "cov": 1.0}]}
    point = {"mixture": "tiny", "family": "", "rho": float("nan"), "spec": spec, "n": 3, "regime": "joint",
             "model": "deep", "options": {"layers": 2, "attention": "linear", "samples": 300, "test_samples": 1000},
             "seed": 0, "hash": "x"}
    row = compute_point(point)
    assert row["ci_low"] < row["loss"] < row["ci_high"] and row["layers"] == 2
    assert row["bayes"] <= row["layer_optimum"] and row["gd_loss"] > 0 and row["val_loss"] > 0
    # the chapter's grid files parse and name the deep model at L = 1, 2, 3
    root = Path(__file__).resolve().parents[2] / "grids"
    assert [load_grid(root / f"layer-ablation-L{L}.yaml").options["layers"] for L in (1, 2, 3)] == [1, 2, 3]
