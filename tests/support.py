"""Helpers shared by the unit and the book tests (importable because pyproject sets pythonpath)."""
from __future__ import annotations

import json
from pathlib import Path

from prompticl.cli import main

ROOT = Path(__file__).resolve().parents[1]
#: The tiny fixture book: two chapters of about a second each, and a prose-only notebook.
FIXTURES = ROOT / "tests" / "book" / "fixtures" / "book"


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
