"""The package layout stays documented: every module is listed in CONTRIBUTING.md, every module has
its own test file, and no module grows past 500 lines."""
from __future__ import annotations

import re
from pathlib import Path

import prompticl

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "src" / "prompticl"
MAX_LINES = 500


def _modules() -> list[Path]:
    return sorted(p for p in PKG.rglob("*.py"))


def test_every_module_is_listed_in_contributing():
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"`([\w/]+\.py)`", text))
    missing = [str(p.relative_to(PKG)) for p in _modules() if str(p.relative_to(PKG)) not in listed]
    assert not missing, f"modules missing from CONTRIBUTING.md's layout: {missing}"


def test_every_module_has_a_test_file():
    tests = {p.name for p in (ROOT / "tests" / "unit").glob("test_*.py")}
    exempt = {"__init__.py", "__main__.py", "_common.py", "progress.py"}  # exercised through the CLI tests
    missing = []
    for path in _modules():
        if path.name in exempt or path.parent.name == "commands":
            continue
        name = path.parent.name if path.parent != PKG else path.stem
        if f"test_{name}.py" not in tests:
            missing.append(str(path.relative_to(PKG)))
    assert not missing, f"modules without tests/unit/test_<module>.py: {missing}"


def test_no_module_is_over_500_lines():
    long = {str(p.relative_to(PKG)): n for p in _modules() if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_flat_api_names_resolve():
    missing = [name for name in prompticl.__all__ if not hasattr(prompticl, name)]
    assert not missing, missing


def test_every_module_docstring_names_the_chapter_that_explains_it():
    import ast

    silent = [str(p.relative_to(PKG)) for p in _modules()
              if not re.search(r"[Cc]hapters? \d|book's page", ast.get_docstring(ast.parse(p.read_text(encoding="utf-8"))) or "")]
    assert not silent, f"module docstrings that name no chapter: {silent}"
