"""The page "The four regimes at a glance" (book/at-a-glance.md, a MyST markdown notebook).

Its code cells compute every number on the page with ``prompticl`` and assert the page's claims
(the stated optima attain the stated losses, each gap formula equals the difference of the optimal
losses, the sentences about the gap table). The site build executes them too; running them here
makes a broken formula fail the test-suite quickly, without a site build.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "book" / "at-a-glance.md"
CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```$", re.S | re.M)
REGIME_SECTIONS = ["Plain training", "Fine-tuned prompts", "Joint training", "Joint training with task heads"]


def code_cells(text: str) -> list[str]:
    """The source of each ``{code-cell}``, without its ``:key: value`` option lines."""
    return ["\n".join(line for line in body.splitlines() if not re.match(r"^:\w[\w-]*:", line)) for body in CELL.findall(text)]


def test_page_has_one_section_per_regime_in_order():
    headings = re.findall(r"^## (.+)$", PAGE.read_text(encoding="utf-8"), re.M)
    assert [h for h in headings if h in REGIME_SECTIONS] == REGIME_SECTIONS


def test_code_cells_run_and_their_checks_pass():
    cells = code_cells(PAGE.read_text(encoding="utf-8"))
    assert len(cells) >= 3  # control: the cells were found
    namespace: dict = {}
    for source in cells:
        exec(compile(source, str(PAGE), "exec"), namespace)  # noqa: S102 - the book's own page
    table, gap_table = namespace["table"], namespace["gap_table"]
    assert list(table.index) == ["plain", "fine-tuned prompts", "joint", "joint + heads"]
    assert table.shape[1] == gap_table.shape[1] == len(namespace["ns"])
    # The table is ordered as the theory says, column by column.
    assert (table.diff().iloc[1:] < 0).all().all()


def test_code_cells_catch_a_wrong_gap(monkeypatch):
    # Control: the page's asserts do fail when a gap formula is off.
    import prompticl

    monkeypatch.setattr(prompticl, "heads_gap", lambda spec, n: 0.0)
    namespace: dict = {}
    with pytest.raises(AssertionError):
        for source in code_cells(PAGE.read_text(encoding="utf-8")):
            exec(compile(source, str(PAGE), "exec"), namespace)  # noqa: S102
