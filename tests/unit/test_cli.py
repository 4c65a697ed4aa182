"""The ``prompticl`` command line (prompticl.cli and prompticl._commands).

Mostly in-process (``main([...])`` with capsys); a few runs as a subprocess (``python -m prompticl``)
check the real exit status and that no traceback reaches the terminal.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from prompticl import cli
from prompticl._commands import CLIError
from prompticl._commands import theory as theory_cmd
from prompticl._spec import load_spec, spec_names
from prompticl._regimes import REGIMES
from prompticl._closed_forms import optimal_losses, signal

ERROR_PREFIX = "prompticl: error: "


def run_main(capsys, argv):
    rc = cli.main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def assert_clean_error(rc, out, err, pattern=None):
    assert rc == 2
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and err.endswith("\n"), err
    assert lines[0].startswith(ERROR_PREFIX), err
    assert "Traceback" not in err
    if pattern is not None:
        import re

        assert re.search(pattern, lines[0]), (pattern, lines[0])


def listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


# --------------------------------------------------------------------------- theory: success


def test_theory_json_equals_optimal_losses(capsys):
    ns = [1, 3, 10, 50]
    rc, out, err = run_main(capsys, ["theory", "three-task", "--n", *map(str, ns), "--json"])
    assert rc == 0 and err == ""
    assert out.count("\n") == 1  # one JSON object on one line
    data = json.loads(out)
    assert list(data) == ["n", *REGIMES, "signal"]
    spec = load_spec("three-task")
    expected = optimal_losses(spec, ns)
    assert data["n"] == ns
    for regime in REGIMES:
        assert data[regime] == expected[regime].tolist()  # exact: JSON floats round-trip
        assert all(isinstance(v, float) for v in data[regime])
    assert data["signal"] == signal(spec)


def test_theory_json_with_a_yaml_path(capsys, tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("d: 2\nnoise: 0.5\ntasks:\n  - {weight: 0.5, mean: 1, cov: 1}\n  - {weight: 0.5, mean: -1, cov: 0}\n")
    rc, out, err = run_main(capsys, ["theory", str(path), "-n", "4", "--json"])
    assert rc == 0 and err == ""
    data = json.loads(out)
    expected = optimal_losses(load_spec(path), [4])
    assert {r: data[r] for r in REGIMES} == {r: expected[r].tolist() for r in REGIMES}


def test_theory_table(capsys):
    ns = [1, 20, 50]
    rc, out, err = run_main(capsys, ["theory", "zero-mean", "--n", *map(str, ns)])
    assert rc == 0 and err == ""
    lines = out.splitlines()
    spec = load_spec("zero-mean")
    sig = signal(spec)
    assert "zero-mean" in lines[0]
    assert any("label noise included" in line for line in lines)
    assert any("E[(x'beta)^2] = tr(Sigma_tilde)" in line for line in lines)
    header = next(line for line in lines if line.split()[:1] == ["n"])
    assert header.split() == ["n", *REGIMES, *(f"{r}/signal" for r in REGIMES)]
    rows = lines[lines.index(header) + 1 :]
    assert len(rows) == len(ns)
    expected = optimal_losses(spec, ns)
    for i, (n, row) in enumerate(zip(ns, rows)):
        cells = row.split()
        assert int(cells[0]) == n
        values = [float(c) for c in cells[1:]]
        raw, normalised = values[:4], values[4:]
        for regime, got, got_norm in zip(REGIMES, raw, normalised):
            assert got == pytest.approx(expected[regime][i], rel=1e-5)
            assert got_norm == pytest.approx(expected[regime][i] / sig, rel=1e-5)


def test_specs_lists_every_builtin(capsys):
    rc, out, err = run_main(capsys, ["specs"])
    assert rc == 0 and err == ""
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == spec_names()
    for line in lines:
        assert load_spec(line.split()[0]).description in line


@pytest.mark.parametrize("argv", [["--help"], ["theory", "--help"], ["specs", "--help"], ["--version"]])
def test_help_and_version_exit_zero(capsys, argv):
    rc, out, err = run_main(capsys, argv)
    assert rc == 0 and err == "" and out
    if argv == ["--help"]:
        for name in cli.COMMAND_MODULES:
            assert name in out


# --------------------------------------------------------------------------- errors


@pytest.fixture
def bad_files(tmp_path):
    files = {
        "unparseable": "d: [1, 2\n",
        "weights": "d: 2\nnoise: 0\ntasks:\n  - {weight: 0.5, mean: 0, cov: 1}\n  - {weight: 0.6, mean: 0, cov: 1}\n",
        "not-psd": "d: 2\nnoise: 0\ntasks:\n  - {weight: 1, mean: 0, cov: [[1, 2], [2, 1]]}\n",
        "x-cov-singular": "d: 2\nnoise: 0\nx_cov: [1, 0]\ntasks:\n  - {weight: 1, mean: 0, cov: 1}\n",
        "shape": "d: 2\nnoise: 0\ntasks:\n  - {weight: 1, mean: [1, 2, 3], cov: 1}\n",
        "negative-noise": "d: 2\nnoise: -1\ntasks:\n  - {weight: 1, mean: 0, cov: 1}\n",
        "unknown-field": "d: 2\nnoise: 0\nsigma: 1\ntasks:\n  - {weight: 1, mean: 0, cov: 1}\n",
        "multiline-key": "d: 2\nnoise: 0\n\"bad\\nkey\": 1\ntasks:\n  - {weight: 1, mean: 0, cov: 1}\n",
        "empty": "",
    }
    paths = {}
    for name, text in files.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        paths[name] = str(path)
    return paths


ERROR_CASES = {
    "n-zero": (["theory", "zero-mean", "--n", "0"], r"argument --n/-n: expected an integer >= 1, got '0'"),
    "n-negative": (["theory", "zero-mean", "--n", "5", "-1"], r"expected an integer >= 1 \(digits 0-9 only\), got '-1'"),
    "n-float": (["theory", "zero-mean", "--n", "1.5"], r"expected an integer >= 1 \(digits 0-9 only\), got '1\.5'"),
    "n-exponent": (["theory", "zero-mean", "--n", "1e3"], r"expected an integer >= 1 \(digits 0-9 only\), got '1e3'"),
    "n-word": (["theory", "zero-mean", "--n", "ten"], r"expected an integer >= 1 \(digits 0-9 only\), got 'ten'"),
    "n-huge": (["theory", "zero-mean", "--n", "10000000000"], r"'10000000000' is above the limit 1000000000"),
    "n-missing": (["theory", "zero-mean"], r"the following arguments are required: --n"),
    "n-empty": (["theory", "zero-mean", "--n"], r"argument --n/-n: expected at least one argument"),
    "spec-missing": (["theory", "--n", "5"], r"expected an integer >= 1|required: SPEC"),
    "unknown-builtin": (["theory", "zero-mea", "--n", "5"], r"argument SPEC: spec 'zero-mea' is neither a file nor a built-in spec"),
    "missing-file": (["theory", "{tmp}/nope.yaml", "--n", "5"], r"argument SPEC: spec '.*nope\.yaml' is neither a file"),
    "directory": (["theory", "{tmp}", "--n", "5"], r"is neither a file nor a built-in spec"),
    "unparseable": (["theory", "{unparseable}", "--n", "5"], r"line 2, column \d+: YAML does not parse"),
    "weights": (["theory", "{weights}", "--n", "5"], r"weights must sum to 1, they sum to 1\.1"),
    "not-psd": (["theory", "{not-psd}", "--n", "5"], r"tasks\[0\]\.cov: must be positive semidefinite"),
    "x-cov-singular": (["theory", "{x-cov-singular}", "--n", "5"], r"x_cov: must be positive definite"),
    "shape": (["theory", "{shape}", "--n", "5"], r"tasks\[0\]\.mean: expected a scalar or a list of length d=2"),
    "negative-noise": (["theory", "{negative-noise}", "--n", "5"], r"noise: must be >= 0"),
    "unknown-field": (["theory", "{unknown-field}", "--n", "5"], r"sigma: unknown field"),
    "multiline-key": (["theory", "{multiline-key}", "--n", "5"], r"bad key: unknown field"),
    "empty": (["theory", "{empty}", "--n", "5"], r"expected a mapping, got NoneType"),
    "json-value": (["theory", "zero-mean", "--n", "5", "--json=yes"], r"ignored explicit argument 'yes'"),
    "unknown-option": (["theory", "zero-mean", "--n", "5", "--bogus"], r"unrecognized arguments: --bogus"),
    "unknown-command": (["fly"], r"argument COMMAND: invalid choice: 'fly'"),
    "no-command": ([], r"the following arguments are required: COMMAND"),
    "specs-extra": (["specs", "extra"], r"unrecognized arguments: extra"),
}


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
def test_errors_exit_2_with_one_line_and_no_output(case, capsys, tmp_path, monkeypatch, bad_files):
    argv, pattern = ERROR_CASES[case]
    argv = [a.format(tmp=tmp_path, **bad_files) for a in argv]
    monkeypatch.chdir(tmp_path)
    before = listing(tmp_path)
    rc, out, err = run_main(capsys, argv)
    assert_clean_error(rc, out, err, pattern)
    assert listing(tmp_path) == before  # nothing written


def test_errors_raised_by_a_handler_are_one_line(capsys, monkeypatch):
    def boom(args):
        raise CLIError("first line\nsecond line")

    monkeypatch.setattr(theory_cmd, "run", boom)
    rc, out, err = run_main(capsys, ["theory", "zero-mean", "--n", "5"])
    assert_clean_error(rc, out, err, r"^prompticl: error: first line second line$")


def test_unexpected_exceptions_are_not_swallowed(monkeypatch, capsys):
    """Bugs are not disguised as bad input: exit 1 and one line saying where to report them;
    PROMPTICL_TRACEBACK=1 re-raises them for debugging."""

    def bug(args):
        raise ZeroDivisionError("bug")

    monkeypatch.setattr(theory_cmd, "run", bug)
    rc, out, err = run_main(capsys, ["theory", "zero-mean", "--n", "5"])
    assert rc == 1 and out == ""
    assert err.count("\n") == 1 and "internal error (ZeroDivisionError: bug)" in err and "report" in err
    monkeypatch.setenv("PROMPTICL_TRACEBACK", "1")
    with pytest.raises(ZeroDivisionError):
        cli.main(["theory", "zero-mean", "--n", "5"])


# --------------------------------------------------------------------------- as a program


def _run_program(*args, cwd):
    env = dict(os.environ, PYTHONWARNINGS="error::DeprecationWarning:prompticl")
    return subprocess.run(
        [sys.executable, "-m", "prompticl", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=60
    )


@pytest.mark.slow  # more than a second: make test only
def test_python_dash_m_success(tmp_path):
    proc = _run_program("theory", "noisy", "--n", "2", "30", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    data = json.loads(proc.stdout)
    expected = optimal_losses(load_spec("noisy"), [2, 30])
    for regime in REGIMES:
        assert data[regime] == expected[regime].tolist()
    assert listing(tmp_path) == []


@pytest.mark.parametrize("args", [("theory", "zero-mean", "--n", "0"), ("theory", "missing.yaml", "--n", "3"), ()])
def test_python_dash_m_errors(tmp_path, args):
    proc = _run_program(*args, cwd=tmp_path)
    assert_clean_error(proc.returncode, proc.stdout, proc.stderr)
    assert listing(tmp_path) == []


@pytest.mark.slow  # more than a second: make test only
@pytest.mark.parametrize("args, status", [(("specs",), 0), (("theory", "zero-mean", "--n", "x"), 2)])
def test_console_script_wrapper_exit_status(tmp_path, args, status):
    """The generated ``prompticl`` script runs ``sys.exit(main())``: main's return is the status."""
    code = "import sys; from prompticl.cli import main; sys.exit(main())"
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert proc.returncode == status
    if status:
        assert_clean_error(proc.returncode, proc.stdout, proc.stderr)


def test_console_script_entry_point():
    (ep,) = entry_points(group="console_scripts", name="prompticl")
    assert ep.value == "prompticl.cli:main"
    assert ep.load() is cli.main


def test_every_command_module_registers():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert list(sub.choices) == list(cli.COMMAND_MODULES)
    for name, sub_parser in sub.choices.items():
        assert callable(sub_parser.get_default("handler")), name
