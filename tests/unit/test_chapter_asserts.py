"""No bare ``assert`` in a chapter states a claim (issue 18).

A statement about the mathematics is a ``claim(...)`` with a domain, so that a reader's own
parameters (``prompticl figures NAME -p ...``) report it instead of stopping the chapter with a bare
``AssertionError``.  An ``assert`` may stay only as a check of the code's own consistency that no
valid parameter can reach; each one is listed here, with the reason.
"""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# (notebook, cell id, the assert's condition as written) -> why it is not a claim and no reader
# parameter can trip it.
ALLOWED = {
    ("01-setting.ipynb", "cell-04", "Z_TOL == 4"):
        "a constant of the package equals the number the text prints; no parameter changes it",
    ("02-linear-attention-plain.ipynb", "cell-18", "s.noise == 0"):
        "the cell loads two fixed built-in mixtures by name; it guards the data files, not a parameter",
    ("03-finetune-prompts.ipynb", "cell-004", "np.allclose(params.heads, params.heads[0])"):
        "reduced_to_params with zero centres writes one read-out per task, all equal, for every input",
    ("03-finetune-prompts.ipynb", "cell-006", "np.array_equal(ft.W, pt.W)"):
        "optimum(..., 'finetune') copies W_PT by construction; a failure is a bug of the package",
    ("04-joint-training.ipynb", "cell-006b", "np.allclose(u @ w_eps.T, c_eps, atol=1e-12)"):
        "a linear solve on the cell's fixed 2 x 2 example; no parameter enters it",
    ("06-prompt-vs-finetune.ipynb", "cell-008", "all(ax.get_ylim()[0] < ax.get_ylim()[1] for ax in axes)"):
        "the figure's axes point up (row 0 at the bottom); a plotting invariant, not a claim",
}


def _normal(condition: str) -> str:
    """A condition as ``ast.unparse`` writes it, so that spacing and redundant brackets do not matter."""
    return ast.unparse(ast.parse(condition, mode="eval").body)


ALLOWED = {(name, cid, _normal(cond)): why for (name, cid, cond), why in ALLOWED.items()}


_CODE_CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)


def _code_cells():
    """(page, cell id, source) of every code cell: notebooks, and MyST text notebooks (at-a-glance)."""
    for nb_path in sorted((ROOT / "book").glob("*.ipynb")):
        for cell in json.loads(nb_path.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] == "code":
                yield nb_path.name, cell.get("id"), "".join(cell["source"])
    for md_path in sorted((ROOT / "book").glob("*.md")):
        for number, m in enumerate(_CODE_CELL.finditer(md_path.read_text(encoding="utf-8")), start=1):
            source = "\n".join(line for line in m.group(1).splitlines() if not re.match(r"\s*:\w+:", line))
            yield md_path.name, f"code cell {number}", source


def _python(source: str) -> str:
    """A cell without IPython magics and shell escapes, so that ``ast`` can read it."""
    return "\n".join("" if re.match(r"\s*[%!]", line) else line for line in source.splitlines())


def bare_asserts():
    """Every ``assert`` statement of the chapters' code cells: (notebook, cell id, condition)."""
    found = []
    for name, cid, source in _code_cells():
        for node in ast.walk(ast.parse(_python(source))):
            if isinstance(node, ast.Assert):
                found.append((name, cid, ast.unparse(node.test)))
    return found


def test_the_scan_sees_the_chapters():
    cells = list(_code_cells())
    assert len({name for name, _, _ in cells}) >= 10 and len(cells) > 100
    assert any(name == "at-a-glance.md" for name, _, _ in cells)  # the text notebook executed at build time
    # the scan reads a condition as written (ast.unparse), so the allow-list's keys can match
    assert ("01-setting.ipynb", "cell-04", "Z_TOL == 4") in bare_asserts()


def test_no_bare_assert_outside_the_allow_list():
    extra = [a for a in bare_asserts() if a not in ALLOWED]
    assert extra == [], (
        "bare asserts in chapter code cells (state a claim with claim(id, holds, text, numbers=..., domain=...,"
        " check=...), or, for a check of the code no reader parameter can reach, add it to ALLOWED with the reason):\n"
        + "\n".join(f"{name} cell {cid}: assert {cond}" for name, cid, cond in extra))


def test_the_allow_list_names_only_existing_asserts():
    stale = sorted(set(ALLOWED) - set(bare_asserts()))
    assert stale == [], f"allow-list entries with no such assert (remove them): {stale}"
