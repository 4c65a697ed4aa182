"""``prompticl theory SPEC --n N… --model full``: the layer's certified optimum on the command line."""
from __future__ import annotations

import json

import pytest

from prompticl import cli
from prompticl._layer_optimum import layer_optima
from prompticl._spec import load_spec
from prompticl._regimes import REGIMES
from prompticl._closed_forms import optimal_losses, signal


def run_main(capsys, argv):
    rc = cli.main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.mark.slow  # more than a second: make test only
def test_full_json_has_the_reduced_keys_and_the_layer_optima(capsys):
    ns = [3, 10]
    rc, out, err = run_main(capsys, ["theory", "three-task", "--n", *map(str, ns), "--model", "full", "--json"])
    assert rc == 0 and err == ""
    data = json.loads(out)
    assert list(data) == ["n", *REGIMES, "signal"]
    spec = load_spec("three-task")
    assert data["n"] == ns and data["signal"] == signal(spec)
    closed = optimal_losses(spec, ns)
    for i, n in enumerate(ns):
        opts = layer_optima(spec, n, "full")
        for regime in REGIMES:
            assert data[regime][i] == pytest.approx(opts[regime].loss, rel=1e-12)
            # the layer contains the reduced model: never above its closed form (fine-tuning aside)
            if regime != "finetune":
                assert data[regime][i] <= closed[regime][i] * (1 + 1e-10)


def test_reduced_stays_the_default(capsys):
    _, default, _ = run_main(capsys, ["theory", "noisy", "--n", "5", "--json"])
    _, explicit, _ = run_main(capsys, ["theory", "noisy", "--n", "5", "--model", "reduced", "--json"])
    assert default == explicit
    assert json.loads(default)["plain"] == optimal_losses(load_spec("noisy"), [5])["plain"].tolist()


def test_full_table_names_the_model(capsys):
    rc, out, err = run_main(capsys, ["theory", "nonzero-mean", "--n", "50", "--model", "full"])
    assert rc == 0 and err == ""
    assert "full attention layer" in out
    row = out.splitlines()[-1].split()
    assert int(row[0]) == 50
    assert float(row[3]) == pytest.approx(4.1930, abs=1e-4)  # joint: below the closed form 4.394


@pytest.mark.parametrize("argv", [["--model", "bogus"], ["--model"], ["--model", "FULL"]])
def test_bad_model_is_a_clean_usage_error(capsys, tmp_path, monkeypatch, argv):
    monkeypatch.chdir(tmp_path)
    rc, out, err = run_main(capsys, ["theory", "zero-mean", "--n", "5", *argv])
    assert rc == 2 and out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("prompticl: error: ") and "--model" in lines[0]
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("n", [1, 10, 50])
def test_deterministic_task_without_noise_gives_a_finite_certified_optimum(capsys, tmp_path, n):
    """Issue 18: a task with covariance 0 and σ = 0 made the solver hit a singular system.

    With heads the deterministic task costs nothing (its read-out ``[-μ_1; 1]`` annihilates its
    tokens, and its prompt's bias is ``μ_1``), so the optimum is ``π_2`` times the one-task optimum
    of the other task, ``d(d + 1)/(n + 1 + d)`` for ``Σ_2 = I``, ``σ = 0`` (Wishart identity).
    """
    path = tmp_path / "det.yaml"
    path.write_text("d: 3\nnoise: 0\ntasks:\n  - {weight: 0.3, mean: 1.4, cov: 0}\n"
                    "  - {weight: 0.7, mean: -0.6, cov: 1}\n", encoding="utf-8")
    rc, out, err = run_main(capsys, ["theory", str(path), "--n", str(n), "--model", "full", "--json"])
    assert rc == 0 and err == "", err
    data = json.loads(out)
    d = 3
    assert data["joint-heads"][0] == pytest.approx(0.7 * d * (d + 1) / (n + 1 + d), rel=1e-9)
    closed = optimal_losses(load_spec(str(path)), [n])
    for regime in ("plain", "joint", "joint-heads"):
        assert data[regime][0] <= closed[regime][0] * (1 + 1e-9)
