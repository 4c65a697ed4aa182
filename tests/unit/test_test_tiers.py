"""The two test tiers: tests/unit (`make check`) needs no kernel and no browser; everything under
tests/book is marked ``slow`` explicitly (a ``pytestmark`` in each module), so ``-m "not slow"``
leaves the whole book tier out."""
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
    # The unit tier marks nothing slow: what is slow belongs in tests/book.
    slow_units = [p.name for p in UNIT.glob("test_*.py") if "mark.slow" in p.read_text(encoding="utf-8") and p != Path(__file__).resolve()]
    assert not slow_units, f"slow tests in tests/unit (move them to tests/book): {slow_units}"


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
