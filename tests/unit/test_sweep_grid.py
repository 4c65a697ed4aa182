"""Grid files of ``prompticl sweep`` (prompticl._sweep_grid): the points they name, their hashes, and
every refusal, found before any point (or mixture) is built."""
from __future__ import annotations

import math

import pytest

from prompticl._regimes import REGIMES
from prompticl._sweep_grid import MAX_POINTS, GridError, load_grid, parse_grid
from prompticl._sweep_models import point_hash

GOOD = {
    "mixtures": ["zero-mean", {"family": "mean-share", "rho": [0.0, 0.5]}],
    "n": [2, 5],
    "regimes": ["plain", "joint"],
    "model": {"name": "trained", "samples": 2000, "ci": 0.1},
    "seeds": {"first": 3, "count": 2},
}


def test_points_are_the_product_of_the_axes_in_order():
    grid = parse_grid(GOOD)
    points = grid.points()
    assert grid.size == len(points) == 3 * 2 * 2 * 2
    assert [p["mixture"] for p in points[::8]] == ["zero-mean", "mean-share(rho=0)", "mean-share(rho=0.5)"]
    assert {p["seed"] for p in points} == {3, 4}
    assert points[1]["family"] == "" and math.isnan(points[1]["rho"]) and points[8]["rho"] == 0.0
    assert points[0]["options"] == {"samples": 2000, "ci": 0.1}
    assert len({p["hash"] for p in points}) == len(points)
    assert all(p["hash"] == point_hash(p) for p in points)


def test_defaults_all_regimes_one_seed_and_exact_models_without_seeds():
    grid = parse_grid({"mixtures": "zero-mean", "n": 3, "model": "trained"})
    assert grid.regimes == tuple(REGIMES) and grid.seeds == (0,) and grid.options == {"samples": 30000, "ci": 0.005}
    exact = parse_grid({"mixtures": ["zero-mean"], "n": [3], "model": "full"})
    assert exact.seeds == (None,) and exact.size == 4


def test_hash_follows_content_not_file_name(tmp_path):
    (tmp_path / "a.yaml").write_text("d: 2\nnoise: 0.1\ntasks:\n  - {weight: 1, mean: 1, cov: 1}\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.yaml").write_text((tmp_path / "a.yaml").read_text().replace("d: 2", "name: a\nd: 2"))
    (tmp_path / "g.yaml").write_text("mixtures: [a.yaml]\nn: [3]\nmodel: reduced\n")
    (tmp_path / "sub" / "g.yaml").write_text("mixtures: [b.yaml]\nn: [3]\nmodel: reduced\n")
    one, two = load_grid(tmp_path / "g.yaml"), load_grid(tmp_path / "sub" / "g.yaml")  # paths relative to the grid
    assert [p["hash"] for p in one.points()] == [p["hash"] for p in two.points()]
    assert one.fingerprint() == two.fingerprint()
    (tmp_path / "sub" / "b.yaml").write_text((tmp_path / "a.yaml").read_text().replace("noise: 0.1", "name: a\nnoise: 0.2"))
    assert load_grid(tmp_path / "sub" / "g.yaml").fingerprint() != one.fingerprint()


@pytest.mark.parametrize("field, value", [("n", 6), ("regime", "joint"), ("model", "full"), ("seed", 1),
                                          ("options", {"samples": 2001, "ci": 0.1})])
def test_every_field_changes_the_hash(field, value):
    p = parse_grid(GOOD).points()[0]
    assert point_hash({**p, field: value}) != point_hash(p)
    spec = dict(p["spec"], noise=0.5)
    assert point_hash({**p, "spec": spec}) != point_hash(p)


BAD = {
    "not-a-mapping": ([1, 2], r"a grid file is a mapping"),
    "unknown-key": ({**GOOD, "seed": 1}, r"g\.yaml: seed: unknown key \(a grid has description, mixtures"),
    "missing-n": ({k: v for k, v in GOOD.items() if k != "n"}, r"the key 'n' is missing"),
    "n-zero": ({**GOOD, "n": [0]}, r"n: expected whole numbers in 1 \.\. "),
    "n-float": ({**GOOD, "n": [2.5]}, r"n: expected whole numbers"),
    "n-twice": ({**GOOD, "n": [2, 2]}, r"listed twice"),
    "n-empty": ({**GOOD, "n": []}, r"n is empty"),
    "regime-unknown": ({**GOOD, "regimes": ["heads"]}, r"regimes: expected distinct regimes"),
    "model-unknown": ({**GOOD, "model": "bayes"}, r"unknown model 'bayes' \(models: reduced, full, trained"),
    "model-option-unknown": ({**GOOD, "model": {"name": "trained", "steps": 3}}, r"has no option 'steps'"),
    "model-option-bad": ({**GOOD, "model": {"name": "trained", "samples": 10}}, r"'samples' .* must be a whole number in 1000"),
    "seeds-for-exact": ({**GOOD, "model": "full"}, r"model 'full' is exact and takes no seeds"),
    "seeds-zero": ({**GOOD, "seeds": 0}, r"seeds: a count of seeds must be >= 1"),
    "seeds-bad-map": ({**GOOD, "seeds": {"start": 1}}, r"needs 'count'"),
    "family-unknown": ({**GOOD, "mixtures": [{"family": "other", "rho": 0.1}]}, r"'family' must be one of mean-share"),
    "family-rho-1": ({**GOOD, "mixtures": [{"family": "mean-share", "rho": [1.0]}]}, r"'rho' must be .* in \[0, 1\)"),
    "family-extra-key": ({**GOOD, "mixtures": [{"family": "mean-share", "rho": 0.1, "mu": 1}]}, r"unknown key 'mu'"),
    "mixture-missing-file": ({**GOOD, "mixtures": ["nowhere.yaml"]}, r"mixtures\[0\]: .*nowhere\.yaml"),
    "mixture-twice": ({**GOOD, "mixtures": ["zero-mean", "zero-mean"]}, r"listed twice"),
    "trained-d-too-large": ({**GOOD, "mixtures": [{"family": "mean-share", "rho": 0.5, "d": 120}]},
                            r"train at d = 120: .* the limit is d <= 100"),
    "full-n-too-large": ({"mixtures": ["zero-mean"], "n": [5000], "model": "full"}, r"the limit is n <= 1000"),
    "ten-million-points": ({**GOOD, "seeds": 10**7}, r"120,000,000 points .* more than the limit 100,000.*--max-points"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_refusals_are_one_line(case):
    data, pattern = BAD[case]
    with pytest.raises(GridError, match=pattern) as info:
        parse_grid(data, "g.yaml")
    assert "\n" not in str(info.value)


def test_size_is_refused_before_any_mixture_is_built():
    # a mixture that cannot be loaded would be refused if it were built: the size is checked first
    with pytest.raises(GridError, match=r"10,000,000 points"):
        parse_grid({"mixtures": ["nowhere.yaml"], "n": [1], "regimes": ["plain"], "model": "trained",
                    "seeds": 10**7}, "g.yaml")
    assert parse_grid({**GOOD, "seeds": 2}, max_points=24).size == 24
    with pytest.raises(GridError, match="more than the limit 23"):
        parse_grid({**GOOD, "seeds": 2}, max_points=23)
    assert MAX_POINTS >= 2200 + 2000  # the shipped grids fit the default limit


def test_shipped_grids_are_valid_and_match_the_chapters():
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[2] / "grids"
    fig1 = load_grid(root / "figure1-50-seeds.yaml")
    assert (fig1.size, fig1.model, fig1.seeds) == (2200, "trained", tuple(range(50)))
    fine = load_grid(root / "advantage-fine.yaml")
    params = yaml.safe_load((root / "advantage-fine-params.yaml").read_text())
    assert [m.rho for m in fine.mixtures] == params["scan_rhos"] and list(fine.ns) == params["scan_ns"]
    assert fine.model == "full" and fine.size == 2000
