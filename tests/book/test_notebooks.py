"""Every chapter notebook (``book/*.ipynb``): stored outputs equal a fresh run (nbval), and a
papermill run with the notebook's small ``smoke_parameters`` completes."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import papermill
import pytest

from prompticl._figures import load_chapter
from support import BOOK_NOTEBOOKS

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
#: Every notebook page of the site (tests/unit/test_book_outputs.py checks that these are exactly the
#: notebooks _toc.yml lists): the site shows their stored outputs, which nbval validates here.
NOTEBOOKS = BOOK_NOTEBOOKS
SANITIZE = ROOT / "tests" / "book" / "nbval_sanitize.cfg"
CELL_TIMEOUT = 600  # seconds, as in _config.yml (execute.timeout)

notebook = pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])


def _tail(text: str, lines: int = 80) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _parameters(path: Path) -> dict:
    """The chapter's declared parameters and defaults, read by the same code as ``prompticl figures``
    (which also enforces the parameters-cell convention of CONTRIBUTING.md)."""
    chapter = load_chapter(path)
    assert chapter is not None, f"{path.name}: declares no figures"
    unexplained = [p.name for p in chapter.parameters.values() if not p.meaning]
    assert not unexplained, f"{path.name}: parameters without a '# meaning' comment: {unexplained}"
    return {name: p.default for name, p in chapter.parameters.items()}


@notebook
def test_stored_outputs_match_fresh_run(path: Path):
    """nbval re-executes the notebook in this environment and compares every cell's outputs."""
    cmd = [
        sys.executable, "-m", "pytest", str(path.relative_to(ROOT)),
        "--nbval", "--nbval-current-env", f"--nbval-sanitize-with={SANITIZE}",
        f"--nbval-cell-timeout={CELL_TIMEOUT}",
        "-p", "no:randomly", "-p", "no:xdist", "-p", "no:cacheprovider",
        "-o", "addopts=", "-q", "--color=no",
    ]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, f"nbval failed for {path.name}:\n{_tail(proc.stdout + proc.stderr)}"


@notebook
def test_smoke_run_with_papermill(path: Path, tmp_path: Path, monkeypatch):
    """The notebook runs to the end with its small smoke parameters injected by papermill.

    Its claims are reported, not enforced (``PROMPTICL_CLAIMS=report``, as ``prompticl figures
    --smoke`` runs them): small parameters may take a claim off its domain, and nbval enforces every
    claim on the book's defaults.  Each claim is still evaluated, and recorded to a file checked here."""
    claims_file = tmp_path / "claims.jsonl"
    monkeypatch.setenv("PROMPTICL_CLAIMS", "report")
    monkeypatch.setenv("PROMPTICL_CLAIMS_FILE", str(claims_file))
    nb = nbformat.read(path, as_version=4)
    meta = nb.metadata.get("prompticl")
    assert isinstance(meta, dict) and isinstance(meta.get("smoke_parameters"), dict), (
        f"{path.name}: notebook metadata lacks a 'prompticl.smoke_parameters' object"
    )
    assert isinstance(meta.get("figures"), dict), f"{path.name}: metadata lacks 'prompticl.figures'"
    smoke = meta["smoke_parameters"]
    defaults = _parameters(path)
    unknown = sorted(set(smoke) - set(defaults))
    assert not unknown, f"{path.name}: smoke_parameters not in the parameters cell: {unknown}"
    for key, value in smoke.items():
        want = type(defaults[key])
        ok = isinstance(value, want) or (want is float and type(value) is int)
        assert ok and not (want is not bool and type(value) is bool), (
            f"{path.name}: smoke parameter {key}={value!r} does not match the default's type {want.__name__}"
        )
    out = tmp_path / path.name
    papermill.execute_notebook(
        str(path), str(out), parameters=smoke, cwd=str(path.parent),
        progress_bar=False, log_output=False, execution_timeout=CELL_TIMEOUT,
    )
    ran = nbformat.read(out, as_version=4)
    injected = [c for c in ran.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 or not smoke, f"{path.name}: papermill did not inject the parameters"
    uses_claims = any("claim(" in c.source for c in nb.cells if c.cell_type == "code")
    assert not uses_claims or claims_file.is_file(), f"{path.name}: the smoke run recorded no claim"
