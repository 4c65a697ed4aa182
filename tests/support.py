"""Helpers shared by the unit and the book tests (importable because pyproject sets pythonpath)."""
from __future__ import annotations

import fcntl
import json
import os
import pickle
import re
import shlex
import subprocess
import sys
from pathlib import Path

from prompticl.cli import main

ROOT = Path(__file__).resolve().parents[1]
#: The tiny fixture book: two chapters of about a second each, and a prose-only notebook.
FIXTURES = ROOT / "tests" / "book" / "fixtures" / "book"

#: The chapter notebooks: nbval validates their stored outputs (tests/book/test_notebooks.py), and the
#: site shows exactly those outputs (tests/unit/test_book_outputs.py).
BOOK_NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))
HTML = ROOT / "_build" / "html"
#: jupyter-book's build flags, written once for `make book` and the tests.
JB_FLAGS_FILE = ROOT / "tools" / "jupyter-book-flags"


def examples(count: int) -> int:
    """A property test's number of examples under the loaded Hypothesis profile: ``count`` in
    ``make test`` (profile ``full``), a fifth of it, at least 4, in ``make check`` (profile ``check``;
    tests/unit/conftest.py registers both)."""
    from hypothesis import settings

    return max(4, round(count * settings.default.max_examples / 100))


def jb_flags() -> list[str]:
    return JB_FLAGS_FILE.read_text(encoding="utf-8").split()


def jupyter_book_build(*extra: str, env: "dict[str, str] | None" = None) -> subprocess.CompletedProcess:
    """``jupyter-book build . FLAGS EXTRA...`` from the repository root, with the venv's tools first on PATH."""
    bindir = Path(sys.executable).parent
    cmd = [str(bindir / "jupyter-book"), "build", ".", *jb_flags(), *extra]
    full_env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}", **(env or {}))
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=full_env)


def _run_lock(key: str):
    """An exclusive lock on the work named ``key`` (a build into _build/, a print), held until closed.

    One lock per piece of work: the site build, its print and the student edition's build each wait
    only for themselves, so the two xdist workers can do two of them at once."""
    ROOT.joinpath("_build").mkdir(exist_ok=True)
    lock = open(ROOT / "_build" / f".{key}.lock", "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    return lock


def cli(capsys, *argv):
    """Run ``prompticl figures ARGV`` in-process on the fixture book; return (status, stdout, stderr)."""
    argv = ["figures", "--book", str(FIXTURES), *argv]
    status = main(argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def snapshot(root: Path) -> dict:
    """Every file and folder under ``root`` with its bytes (folders map to None)."""
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


def data(out: Path, name: str) -> dict:
    """The plotted numbers that a run wrote for figure ``name``."""
    return json.loads((out / f"{name}.json").read_text())


def figure_names_in_caption(caption: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """Every ``Regenerate with `prompticl figures NAME [-p KEY VALUE]...` `` command in a caption,
    as ``(NAME, [(KEY, VALUE), ...])`` (used by tests/book/test_figure_captions.py).

    Raises
    ------
    ValueError
        If such a command cannot be split like a shell would, or has anything but ``-p KEY VALUE``
        after the name.
    """
    found = []
    for command in re.findall(r"Regenerate with `(prompticl figures [^`]*)`", caption):
        words = shlex.split(command)[2:]
        if not words or words[0].startswith("-"):
            raise ValueError(f"no figure name in {command!r}")
        name, rest, params = words[0], words[1:], []
        while rest:
            if rest[0] != "-p" or len(rest) < 3:
                raise ValueError(f"expected '-p KEY VALUE' in {command!r}, got {' '.join(rest)!r}")
            params.append((rest[1], rest[2]))
            rest = rest[3:]
        found.append((name, params))
    return found


# The counterexamples of issue 11 (chapter 08): a mixture symmetric about its mean (plain training
# still uses the label column), tasks whose covariances differ in shape with label noise (per-task
# read-out scales beat L_D), and a small diagonal mixture with commuting covariances.
SYMMETRIC = {"d": 10, "noise": 0.0, "tasks": [{"weight": 0.5, "mean": 1.0, "cov": 1}, {"weight": 0.5, "mean": -0.2, "cov": 1}]}
SHAPES = {"d": 10, "noise": 1.0, "tasks": [{"weight": 0.5, "mean": 0.0, "cov": 1}, {"weight": 0.5, "mean": 0.0, "cov": 0.05}]}
DIAG3 = {
    "d": 4, "noise": 0.7, "x_cov": [1, 2, 0.5, 1],
    "tasks": [{"weight": 0.2, "mean": 1.0, "cov": [1, 0.1, 2, 0.3]}, {"weight": 0.5, "mean": 0.0, "cov": [0.2, 1, 0.5, 0.1]},
              {"weight": 0.3, "mean": -1, "cov": 0.4}],
}


def once_per_run(key: str, run) -> subprocess.CompletedProcess:
    """Run ``run()`` (a command's CompletedProcess) once per test run, whichever worker asks first.

    Under pytest-xdist each worker has its own session fixtures, and `xdist_group` is not honoured
    with pytest 9 (the group suffix no longer reaches the scheduler), so the work is serialised
    with a file lock and its result shared through a file named after the test run: whichever
    worker comes first runs it, the others wait and reuse the result. (Two workers building the
    student edition each deleted the other's pages while its tests read them.)
    """
    def encode(result: subprocess.CompletedProcess) -> bytes:
        return json.dumps({"args": result.args, "returncode": result.returncode,
                           "stdout": result.stdout, "stderr": result.stderr}).encode("utf-8")

    def decode(data: bytes) -> subprocess.CompletedProcess:
        done = json.loads(data)
        return subprocess.CompletedProcess(done["args"], done["returncode"], done["stdout"], done["stderr"])

    return _shared(key, run, encode, decode)


def shared_per_run(key: str, compute):
    """``compute()`` once per test run, whichever worker asks first; the others get a copy (pickled).

    For results that are data rather than a command (the browser survey of tests/book/test_site.py):
    as :func:`once_per_run`, which explains why a session fixture alone would compute it per worker."""
    return _shared(key, compute, pickle.dumps, pickle.loads)


def _shared(key: str, compute, encode, decode):
    run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if run_id is None:  # a single process: nothing to share
        return compute()
    result_file = ROOT / "_build" / f".{key}-{run_id}.result"
    with _run_lock(key):  # released when the file closes
        if result_file.is_file():
            return decode(result_file.read_bytes())
        for stale in ROOT.joinpath("_build").glob(f".{key}-*.result"):
            stale.unlink()
        result = compute()
        result_file.write_bytes(encode(result))
        return result
