"""The Claims page (``book/claims.md``), generated from the chapters' ``claim(...)`` calls at build time.

The page's source holds a marker line, ``<!-- prompticl-claims -->``.  When Sphinx reads that page,
the marker is replaced by one table per chapter, in the order of ``_toc.yml``: every ``claim`` call
found in the chapter's code cells (notebooks, and MyST text notebooks such as the at-a-glance page),
with its id, sentence, domain and how it is checked, and a link to the section that makes it.  A
theorem's row names the property test in ``tests/unit`` whose docstring lists the claim's id after
``Claims:``.  A claim added to a chapter appears here without anyone editing the page; the unit
test ``tests/unit/test_claims_page.py`` checks that every call can be read (literal id, text,
domain and check) and that ids are unique.
"""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

MARKER = "<!-- prompticl-claims -->"
CLAIMS_DOCNAME = "book/claims"
ROOT = Path(__file__).resolve().parents[1]
CHECK_TEXT = {
    "theorem": "theorem",
    "grid": "observation on the grid of its domain",
    "monte-carlo": "Monte Carlo, within the tolerance it names",
}
_LABEL = re.compile(r"^\(([\w:-]+)\)=\s*$", re.MULTILINE)
_CODE_CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)


def _python(source: str) -> str:
    """A cell's source without MyST options and IPython magics, so that ``ast`` can read it."""
    lines = [line for line in source.splitlines() if not re.match(r"\s*(:\w+:|[%!])", line)]
    return "\n".join(lines)


def _literal(node: "ast.AST | None", names: "dict | None" = None):
    """The value of a literal, or of a name the cell assigned a literal to (``grid = "n = 1..56"``)."""
    if node is None:
        return None
    if isinstance(node, ast.Name) and names and node.id in names:
        return names[node.id]
    try:
        return ast.literal_eval(node)
    except ValueError:
        return None


def claims_in_source(source: str) -> list[dict]:
    """Every ``claim(...)`` call of a cell: id, text, domain, check (``None`` where not a literal)."""
    try:
        tree = ast.parse(_python(source))
    except SyntaxError:
        return []
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            value = _literal(node.value)
            if isinstance(value, str):
                names[node.targets[0].id] = value
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
        if name != "claim":
            continue
        kw = {k.arg: k.value for k in node.keywords}
        args = list(node.args) + [None] * 3
        check = kw.get("check")
        found.append({
            "id": _literal(args[0] if args[0] is not None else kw.get("id"), names),
            "text": _literal(args[2] if args[2] is not None else kw.get("text"), names),
            "domain": _literal(kw.get("domain"), names),
            "check": "grid" if check is None else _literal(check, names),
            "line": node.lineno,
        })
    return sorted(found, key=lambda c: c["line"])


def _cells(path: Path) -> list[tuple[str, str]]:
    """(kind, source) of a notebook's cells; a MyST text notebook's prose and code-cells in order."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".ipynb":
        return [(c["cell_type"], "".join(c["source"])) for c in json.loads(text)["cells"]]
    cells, pos = [], 0
    for match in _CODE_CELL.finditer(text):
        cells.append(("markdown", text[pos:match.start()]))
        cells.append(("code", match.group(1)))
        pos = match.end()
    cells.append(("markdown", text[pos:]))
    return cells


def _title(cells: list[tuple[str, str]], fallback: str) -> str:
    for kind, source in cells:
        if kind == "markdown":
            match = re.search(r"^# (.+)$", source, re.MULTILINE)
            if match:
                return match.group(1).strip()
    return fallback


def chapter_claims(root: Path = ROOT) -> list[dict]:
    """Every claim of the book's pages, in reading order, with its page, title, code cell and the
    label of the section that makes it."""
    from prompticl._figures import toc_files

    out = []
    for doc in toc_files(root):
        path = next((root / f"{doc}{suffix}" for suffix in (".ipynb", ".md") if (root / f"{doc}{suffix}").is_file()), None)
        if path is None or doc == CLAIMS_DOCNAME:
            continue
        cells = _cells(path)
        title, label, code_cell = _title(cells, doc), None, 0
        for kind, source in cells:
            if kind == "markdown":
                labels = _LABEL.findall(source)
                if labels:
                    label = labels[-1]
                continue
            code_cell += 1
            for c in claims_in_source(source):
                out.append({**c, "doc": doc, "title": title, "label": label, "cell": code_cell})
    return out


def property_tests(root: Path = ROOT) -> dict[str, list[str]]:
    """Claim id -> the unit tests whose docstring names it after ``Claims:``."""
    found: dict[str, list[str]] = {}
    for path in sorted((root / "tests" / "unit").glob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                doc = ast.get_docstring(node) or ""
                for match in re.finditer(r"Claims:\s*([\w\s,.-]+?)(?:\.\s|\.?$)", doc, re.MULTILINE):
                    for cid in re.split(r"[\s,]+", match.group(1).strip()):
                        if cid:
                            found.setdefault(cid, []).append(f"{path.name}::{node.name}")
    return found


def _cell_text(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ") if text is not None else "(not a literal)"


def _count(k: int, noun: str) -> str:
    return f"{k} {noun}" + ("" if k == 1 else "s")


def claims_markdown(root: Path = ROOT) -> str:
    """MyST text of the page: a count, then one table per chapter."""
    claims = chapter_claims(root)
    tests = property_tests(root)
    counts = {k: sum(1 for c in claims if c["check"] == k) for k in CHECK_TEXT}
    docs = list(dict.fromkeys(c["doc"] for c in claims))
    parts = [
        f"{_count(len(claims), 'claim')} on {_count(len(docs), 'page')}: {_count(counts['theorem'], 'theorem')}, "
        f"{_count(counts['grid'], 'observation')} on a grid, {_count(counts['monte-carlo'], 'Monte Carlo check')}.\n"
    ]
    for doc in docs:
        rows = [c for c in claims if c["doc"] == doc]
        parts.append(f"## {rows[0]['title']}\n")
        parts.append("| Claim | Statement | Domain | Checked by |\n|:--|:--|:--|:--|")
        for c in rows:
            cid = c["id"] or "(no id)"
            where = f"{{ref}}`{cid} <{c['label']}>`" if c["label"] else f"{{doc}}`{cid} <{doc.split('/')[-1]}>`"
            check = CHECK_TEXT.get(c["check"], str(c["check"]))
            if c["check"] == "theorem":
                named = tests.get(cid, [])
                check += "; property test " + ", ".join(f"`{t}`" for t in named) if named else " (no property test yet)"
            check += f"; code cell {c['cell']}"
            parts.append(f"| {where} | {_cell_text(c['text'])} | {_cell_text(c['domain'])} | {check} |")
        parts.append("")
    return "\n".join(parts)


def fill_claims_page(app, docname: str, source: list) -> None:
    if docname == CLAIMS_DOCNAME and MARKER in source[0]:
        source[0] = source[0].replace(MARKER, claims_markdown(Path(app.srcdir)))


def always_reread(app, env, added, changed, removed) -> list[str]:
    """The page depends on the chapters and the tests, not on its own source: read it on every build."""
    return [CLAIMS_DOCNAME] if CLAIMS_DOCNAME in env.found_docs else []


def setup(app) -> dict:
    app.connect("source-read", fill_claims_page)
    app.connect("env-get-outdated", always_reread)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
