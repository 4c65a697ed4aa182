"""The package layout stays documented and true: every module is listed in CONTRIBUTING.md, every path
CONTRIBUTING.md cites exists, every module has its own test file and a docstring naming its chapter,
the flat API resolves, and the modules import each other without a cycle.  (Module size is a
guideline in CONTRIBUTING.md, not a test.)"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import prompticl

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "src" / "prompticl"
CONTRIBUTING = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
#: Where a path cited in CONTRIBUTING.md may be rooted (``tests/unit/x.py``, ``prompticl/x.py``, ``_commands/x.py``, ``bench_*.py``, ``test_risk.py``).
BASES = (ROOT, ROOT / "src", PKG, ROOT / "benchmarks", ROOT / "tests" / "unit")


def _modules() -> list[Path]:
    return sorted(p for p in PKG.rglob("*.py"))


def _cited_paths() -> set[str]:
    """Every backticked file path in CONTRIBUTING.md (a word with a slash, or ending in a file suffix)."""
    words = re.findall(r"`([^`\s]+)`", CONTRIBUTING)
    return {w for w in words if re.fullmatch(r"[\w./*<>-]+\.(py|ya?ml|md|json|ipynb|toml|bib|cfg)|[\w.-]+/[\w./*-]*", w)}


def test_every_module_is_listed_in_contributing():
    listed = set(re.findall(r"`([\w/]+\.py)`", CONTRIBUTING))
    missing = [str(p.relative_to(PKG)) for p in _modules() if str(p.relative_to(PKG)) not in listed]
    assert not missing, f"modules missing from CONTRIBUTING.md's layout: {missing}"


def test_every_path_contributing_cites_exists():
    missing = []
    for cited in sorted(_cited_paths()):
        if "<" in cited:  # a pattern such as book/<slug>.ipynb
            continue
        pattern = cited.rstrip("/")
        if not any((list(base.glob(pattern)) if "*" in pattern else (base / pattern).exists()) for base in BASES):
            missing.append(cited)
    assert not missing, f"paths cited in CONTRIBUTING.md that do not exist: {missing}"


def test_every_module_has_a_test_file():
    tests = {p.name for p in (ROOT / "tests" / "unit").glob("test_*.py")}
    exempt = {"__init__.py", "__main__.py", "_common.py", "_progress.py"}  # exercised through the CLI tests
    missing = []
    for path in _modules():
        if path.name in exempt or path.parent.name == "_commands":
            continue
        if path.parent == PKG:
            wanted = {f"test_{path.stem.lstrip('_')}.py"}
        else:  # a subpackage's module: test_<package>.py or test_<package>_<module>.py
            package = path.parent.name.lstrip("_")
            wanted = {f"test_{package}.py", f"test_{package}_{path.stem}.py"}
        if not wanted & tests:
            missing.append(str(path.relative_to(PKG)))
    assert not missing, f"modules without tests/unit/test_<module>.py: {missing}"


def test_flat_api_names_resolve():
    missing = [name for name in prompticl.__all__ if not hasattr(prompticl, name)]
    assert not missing, missing
    assert len(set(prompticl.__all__)) == len(prompticl.__all__), "a name is listed twice in __all__"


def test_every_module_docstring_names_the_chapter_that_explains_it():
    silent = [str(p.relative_to(PKG)) for p in _modules()
              if not re.search(r"[Cc]hapters? \d|book's page", ast.get_docstring(ast.parse(p.read_text(encoding="utf-8"))) or "")]
    assert not silent, f"module docstrings that name no chapter: {silent}"


def _imports(path: Path) -> set[str]:
    """The package modules ``path`` imports at module level (relative imports only)."""
    name = ".".join(path.relative_to(PKG.parent).with_suffix("").parts)
    package = name.rsplit(".", 1)[0] if path.name != "__init__.py" else name.removesuffix(".__init__")
    out = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            target = ".".join(base + ([node.module] if node.module else []))
            out.add(target)
    return out


def test_no_import_cycle_between_modules():
    graph = {}
    for path in _modules():
        name = ".".join(path.relative_to(PKG.parent).with_suffix("").parts).removesuffix(".__init__")
        graph[name] = {t for t in _imports(path) if t != "prompticl"}  # the package's __init__ imports everything
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                raise AssertionError(f"import cycle: {' -> '.join(stack[stack.index(nxt):] + [nxt]) if nxt in stack else nxt}")
            if nxt in graph and not state.get(nxt):
                visit(nxt, stack + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if not state.get(node):
            visit(node, [node])
