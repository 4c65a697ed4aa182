"""What a chapter's parameters cost (``prompticl._figures.costs``): every chapter of the book declares
it, the book's defaults are within the budget, and runs estimated beyond it are refused before any
work, in one line with the estimate and ``--allow-long``.  Nothing here executes a notebook."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from prompticl.cli import main
from prompticl._figures import FigureError, build_registry, plan_run
from prompticl._figures.costs import (
    BUDGET_BYTES,
    BUDGET_SECONDS,
    CHAPTER_COSTS,
    check_plan_cost,
    plan_cost,
)

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results-figure-costs.json"


@pytest.fixture(scope="module")
def registry():
    return build_registry()


def _plan(registry, names, params=(), smoke=False):
    return plan_run(registry, names, [(k, str(v)) for k, v in params], smoke=smoke)


def test_every_chapter_of_the_book_declares_its_cost(registry):
    assert sorted(CHAPTER_COSTS) == sorted(registry.chapters)


@pytest.mark.parametrize("smoke", [False, True])
@pytest.mark.parametrize("jobs", [1, 2])
def test_the_books_defaults_and_smoke_parameters_are_within_the_budget(registry, smoke, jobs):
    costs = check_plan_cost(plan_run(registry, [], run_all=True, smoke=smoke), jobs=jobs)
    assert set(costs) == set(registry.chapters)
    assert all(0 < c.seconds <= BUDGET_SECONDS and 0 < c.bytes <= BUDGET_BYTES for c in costs.values())


# The cases: each value inside its range, together beyond the budget.
REFUSED = {
    "in-brief-d500": (["in-brief-regimes"], [("spec_name", "d500.yaml"), ("n_max", 1000)], False,
                      r"chapter in-brief with these parameters needs about \d+\.\d GiB of memory \(estimated from measured "
                      r"costs; driven by n_max\); the budget is 2\.0 GiB: lower those parameters, or pass --allow-long"),
    "experiments-seeds-50": (["experiments-figure1"], [("seeds", 50), ("train_samples", 1000000)], True,
                             r"chapter 07-experiments with these parameters would take about [\d.]+ (minutes|hours) \(estimated from "
                             r"measured costs; driven by seeds, seeds_other, train_samples.*\); the budget is 20 minutes per chapter: .*--allow-long"),
    "setting-d200-moments": (["setting-mixture"], [("spec_name", "d200.yaml")], False,
                             r"chapter 01-setting .* needs about .* GiB of memory .*driven by moment_samples\)"),
    "plain-d500-check-n-200": (["plain-theory-vs-mc"], [("spec_name", "d500.yaml"), ("check_n", 200)], True,
                               r"chapter 02-linear-attention-plain .* GiB of memory .*driven by check_samples\)"),
}


def _spec_file(tmp_path: Path, d: int) -> Path:
    path = tmp_path / f"d{d}.yaml"
    path.write_text(f"d: {d}\nnoise: 0\ntasks:\n  - {{weight: 1, mean: 0.1, cov: 1}}\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_combinations_beyond_the_budget_are_refused_before_any_work(case, tmp_path, monkeypatch, capsys):
    names, params, smoke, message = REFUSED[case]
    for d in (200, 500):
        _spec_file(tmp_path, d)
    monkeypatch.chdir(tmp_path)
    argv = ["figures", *names, "--out", "out", *(["--smoke"] if smoke else [])]
    for key, value in params:
        argv += ["-p", key, str(value)]
    status = main(argv)
    out, err = capsys.readouterr()
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and re.fullmatch(r"prompticl: error: " + message + r".*\n", err), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d200.yaml", "d500.yaml"]  # nothing written
    # --allow-long lifts the budget: the same plan passes the check
    plan = plan_run(build_registry(), names, [(k, str(v)) for k, v in params], smoke=smoke)
    assert check_plan_cost(plan, allow_long=True)
    with pytest.raises(FigureError):
        check_plan_cost(plan)


def test_parallel_chapters_add_their_memory(registry, tmp_path, monkeypatch):
    """Two chapters that each fit may not fit together: --jobs 2 holds both at once."""
    monkeypatch.chdir(tmp_path)
    _spec_file(tmp_path, 100)
    plan = plan_run(registry, ["in-brief-regimes", "setting-mixture"],
                    [("spec_name", "d100.yaml"), ("n_max", "1000"), ("moment_samples", "10000")])
    costs = plan_cost(plan)
    assert all(c.bytes <= BUDGET_BYTES for c in costs.values())
    assert sum(c.bytes for c in costs.values()) > BUDGET_BYTES
    check_plan_cost(plan, jobs=1)
    with pytest.raises(FigureError, match=r"with --jobs 2\) .*lower those parameters or --jobs"):
        check_plan_cost(plan, jobs=2)


@pytest.mark.parametrize("chapter, key, values", [
    ("in-brief", "n_max", [10, 100, 1000]),
    ("01-setting", "moment_samples", [2000, 200000, 1000000]),
    ("02-linear-attention-plain", "mc_samples", [2000, 20000, 1000000]),
    ("03-finetune-prompts", "mc_samples", [2000, 200000, 1000000]),
    ("04-joint-training", "mc_samples", [2000, 200000, 1000000]),
    ("05-task-heads", "mc_samples", [2000, 200000, 1000000]),
    ("06-prompt-vs-finetune", "mono_n_max", [10, 300, 1000]),
    ("07-experiments", "train_samples", [1000, 30000, 1000000]),
    ("08-layer-optimum", "mc_samples", [2000, 200000, 1000000]),
    ("08-layer-optimum", "dim_ds", [[2], [2, 5, 10, 20, 40], [2, 5, 10, 20, 40, 60, 80, 100]]),
    ("08-layer-optimum", "limit_ns", [[10], [10, 100, 1000], [10, 20, 50, 100, 200, 500, 1000]]),
    ("09-bayes-floor", "bayes_samples", [20, 2000, 200000]),
])
def test_a_chapters_estimate_grows_with_the_parameter_that_drives_it(registry, chapter, key, values):
    seconds = [plan_cost(_plan(registry, [chapter], [(key, v)]))[chapter].seconds for v in values]
    assert seconds == sorted(seconds) and seconds[-1] > seconds[0]


def test_the_estimates_agree_with_the_measured_chapters():
    """The stored measurements (benchmarks/bench_figure_costs.py, every chapter at its smoke and
    default parameters and the heavier ones at a raised parameter, on the shared machine at load
    10-16): each estimate is at least the measured time (within a fifth: the load varied from run
    to run) and at most three times it."""
    rows = [r for r in json.loads(RESULTS.read_text())["chapters"]["rows"] if r["chapter_seconds"] is not None]
    assert len({r["chapter"] for r in rows}) == len(CHAPTER_COSTS)
    registry = build_registry()
    for row in rows:
        plan = plan_run(registry, [row["chapter"]], list(row["parameters"].items()), smoke=row["smoke"])
        estimate = plan_cost(plan)[row["chapter"]].seconds
        assert row["chapter_seconds"] <= estimate * 1.2 and estimate <= 3 * row["chapter_seconds"], row


def test_allow_long_runs_and_hands_the_estimate_to_the_progress_lines(monkeypatch, tmp_path, capsys):
    """--allow-long: the run goes ahead, and the chapters beyond the budget get their estimate (for
    the time left in the progress lines); chapters within it get none."""
    from prompticl._commands import figures
    from prompticl._figures import ChapterFailed

    seen = {}

    def run_plan(plan, out, **kwargs):
        seen.update(kwargs["estimates"])
        raise ChapterFailed("stopped by the test")

    monkeypatch.setattr(figures, "run_plan", run_plan)
    monkeypatch.chdir(tmp_path)
    argv = ["figures", "experiments-figure1", "in-brief-regimes", "--smoke", "-p", "seeds", "50", "-p", "train_samples",
            "1000000", "--out", "o", "--allow-long"]
    assert main(argv) == 1 and capsys.readouterr().err == "prompticl: error: stopped by the test\n"
    assert list(seen) == ["07-experiments"] and seen["07-experiments"] > BUDGET_SECONDS


def test_a_chapter_of_another_book_that_shares_a_name_is_not_estimated(tmp_path):
    """--book with its own 'in-brief' notebook (other parameters): no declared cost applies, no crash."""
    from support import FIXTURES

    book = tmp_path / "bk"
    book.mkdir()
    source = sorted(p for p in FIXTURES.glob("*.ipynb") if build_registry(FIXTURES).chapters.get(p.stem))[0]
    (book / "in-brief.ipynb").write_bytes(source.read_bytes())
    registry = build_registry(book)
    plan = plan_run(registry, ["in-brief"])
    assert plan_cost(plan) == {} and check_plan_cost(plan) == {}
