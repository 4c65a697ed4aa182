"""The two test tiers: tests/unit needs no kernel and no browser; everything under tests/book is
marked ``slow`` explicitly (a ``pytestmark`` in each module), so ``-m "not slow"`` (`make check`)
leaves the whole book tier out. In tests/unit single tests that take more than about a second
(JAX training, command-line subprocesses, large Monte Carlo checks) are marked ``slow`` one by one,
so that `make check` still runs a fast test of every module; `make test` runs them all."""
from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from support import ROOT

UNIT = ROOT / "tests" / "unit"
BOOK = ROOT / "tests" / "book"


def _marks(tree: ast.Module) -> list[str]:
    """The marks of a module's ``pytestmark = ...`` (one mark or a list), as source text."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "pytestmark" for t in node.targets):
            values = node.value.elts if isinstance(node.value, (ast.List, ast.Tuple)) else [node.value]
            return [ast.unparse(v) for v in values]
    return []


def test_every_book_test_is_marked_slow():
    # Static (the module's own pytestmark), so that this check costs nothing in make check.
    modules = sorted(p for p in BOOK.rglob("test_*.py") if "fixtures" not in p.relative_to(BOOK).parts)
    assert len(modules) >= 3, modules  # control: the book tier was found
    unmarked = [str(p.relative_to(ROOT)) for p in modules
                if "pytest.mark.slow" not in _marks(ast.parse(p.read_text(encoding="utf-8")))]
    assert not unmarked, f"book-tier modules without `pytestmark = pytest.mark.slow` (make check would run them): {unmarked}"


def test_make_check_runs_a_fast_test_of_every_unit_module():
    """No tests/unit module is slow as a whole: its slow tests are marked one by one."""
    whole, all_slow = [], []
    for p in sorted(UNIT.glob("test_*.py")):
        tree = ast.parse(p.read_text(encoding="utf-8"))
        if any("slow" in m for m in _marks(tree)):
            whole.append(p.name)
        tests = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]
        fast = [n for n in tests if not any("mark.slow" in ast.unparse(d) for d in n.decorator_list)]
        if tests and not fast:
            all_slow.append(p.name)
    assert not whole, f"tests/unit modules marked slow as a whole (mark single tests): {whole}"
    assert not all_slow, f"tests/unit modules whose every test is slow (make check would skip the module): {all_slow}"


def test_unit_tier_drives_no_browser():
    found = [p.name for p in UNIT.glob("*.py") if p != Path(__file__).resolve()
             and re.search(r"playwright|chromium|print_pdf", p.read_text(encoding="utf-8"), re.I)]
    assert not found, f"tests/unit drives a browser in {found}: move it to tests/book, marked slow"


def test_unit_tier_has_no_kernel():
    # Control of tests/unit/conftest.py: the python3 kernel of this tier exits at once.
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    proc = subprocess.run([a.replace("{connection_file}", "x.json") for a in spec.argv], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "tests/unit starts no Jupyter kernel" in proc.stderr
