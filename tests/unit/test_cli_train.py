"""``prompticl train``: JSON payload, readable output, bad arguments (exit 2, one line, before work)."""
import json

import pytest

from prompticl import load_spec, optimum
from prompticl.cli import main

FAST = ["--samples", "4000", "--ci", "0.05"]


def test_json_payload(capsys):
    assert main(["train", "zero-mean", "--regime", "joint-heads", "--n", "5", "--seed", "2", "--json", *FAST]) == 0
    out = capsys.readouterr().out
    report = json.loads(out)
    for key in ("test_loss", "ci95", "theory", "seconds", "params", "rel_gap"):
        assert key in report
    lo, hi = report["ci95"]
    assert lo < report["test_loss"] < hi
    assert (hi - lo) / 2 <= 0.05 * report["test_loss"] * 1.0001
    assert report["theory"] == pytest.approx(optimum(load_spec("zero-mean"), 5, "joint-heads").loss)
    assert report["params"]["heads"] is True and report["params"]["prompt_tokens"] == 1
    # a trained model is near its optimum even with a small training sample
    assert report["params"]["W_rel_distance"] < 0.5
    assert abs(report["rel_gap"]) < 0.2


def test_deterministic_per_seed(capsys):
    args = ["train", "nonzero-mean", "--regime", "finetune", "--n", "3", "--json", *FAST]
    main(args)
    first = json.loads(capsys.readouterr().out)
    main(args)
    second = json.loads(capsys.readouterr().out)
    for key in ("test_loss", "ci95", "train_loss", "params"):
        assert first[key] == second[key]


def test_readable_output(capsys):
    assert main(["train", "noisy", "--regime", "plain", "--n", "4", *FAST]) == 0
    out = capsys.readouterr().out
    assert "test loss" in out and "theory" in out and "95% CI" in out


@pytest.mark.parametrize(
    "args",
    [
        ["train", "zero-mean", "--regime", "prompt", "--n", "5"],
        ["train", "zero-mean", "--n", "5"],
        ["train", "zero-mean", "--regime", "plain"],
        ["train", "zero-mean", "--regime", "plain", "--n", "0"],
        ["train", "zero-mean", "--regime", "plain", "--n", "2.5"],
        ["train", "zero-mean", "--regime", "plain", "--n", "5", "--seed", "-1"],
        ["train", "no-such-spec", "--regime", "plain", "--n", "5"],
        ["train", "zero-mean", "--regime", "plain", "--n", "5", "--ci", "2"],
        ["train", "zero-mean", "--regime", "plain", "--n", "5", "--method", "lbfgs"],
    ],
)
def test_bad_arguments_exit_2_with_one_line(args, capsys):
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("prompticl: error:")
