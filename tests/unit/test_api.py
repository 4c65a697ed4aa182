"""One public surface (issue 17): ``prompticl.__all__`` is the API, every name in it has an entry on
the generated API page (``_ext/prompticl_api.py``), and its docstring has numpydoc sections; the
closed-form functions state their formula in ``.. math::`` and name the chapter and result."""
from __future__ import annotations

import importlib
import inspect
import re
import sys
from pathlib import Path

import pytest

import prompticl

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "_ext"))
import prompticl_api  # noqa: E402  (the Sphinx extension that writes book/api.md)

PUBLIC = [n for n in prompticl.__all__ if not n.startswith("__")]
FUNCTIONS = [n for n in PUBLIC if inspect.isfunction(getattr(prompticl, n))]
CLASSES = [n for n in PUBLIC if inspect.isclass(getattr(prompticl, n))]
CONSTANTS = [n for n in PUBLIC if n not in FUNCTIONS and n not in CLASSES]
#: Modules whose public functions compute the book's formulas.
FORMULA_MODULES = ("prompticl._closed_forms", "prompticl._gaps", "prompticl._layer_closed_forms")


def _section(doc: str, title: str) -> bool:
    return re.search(rf"^{title}\n-{{{len(title)}}}$", doc, re.MULTILINE) is not None


def _described(doc: str) -> set[str]:
    """Names described in the numpydoc 'Parameters' section ("a, b : type" counts for both)."""
    match = re.search(r"^Parameters\n-+\n(.*?)(?=^\S[^\n]*\n-+$|\Z)", doc, re.MULTILINE | re.DOTALL)
    if not match:
        return set()
    names = set()
    for line in match.group(1).splitlines():
        if line and not line[0].isspace():
            names.update(n.strip().lstrip("*") for n in line.split(" : ")[0].split(","))
    return names


def test_all_lists_only_names_that_exist_once():
    assert len(set(prompticl.__all__)) == len(prompticl.__all__)
    assert [n for n in prompticl.__all__ if not hasattr(prompticl, n)] == []


def test_version_comes_from_the_installed_metadata():
    from importlib.metadata import version

    assert prompticl.__version__ == version("prompticl")
    init = (ROOT / "src" / "prompticl" / "__init__.py").read_text(encoding="utf-8")
    assert not re.search(r"__version__\s*=\s*['\"]\d+\.\d", init), "the version is written in pyproject.toml only"


def test_api_page_is_generated_from_all():
    page = (ROOT / "book" / "api.md").read_text(encoding="utf-8")
    assert prompticl_api.MARKER in page
    text = prompticl_api.api_markdown()
    documented = re.findall(r"^\.\. auto(?:function|class|exception|data):: prompticl\.(\w+)$", text, re.MULTILINE)
    assert sorted(documented) == sorted(PUBLIC)
    listed = re.findall(r"^   (\w+)$", text, re.MULTILINE)
    assert sorted(listed) == sorted(PUBLIC), "every name is also in its section's summary table"


def test_implementation_modules_are_private():
    """Beside the flat namespace, only the entry points and the CLI machinery are public modules."""
    pkg = ROOT / "src" / "prompticl"
    public = sorted(
        str(p.relative_to(pkg)) for p in pkg.glob("*.py") if not p.name.startswith("_") and p.name != "cli.py"
    )
    assert public == [], f"implementation modules without a leading underscore: {public}"


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_docstring_has_numpydoc_sections(name):
    func = getattr(prompticl, name)
    doc = inspect.getdoc(func) or ""
    params = [p for p in inspect.signature(func).parameters.values() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if params:
        assert _section(doc, "Parameters"), f"{name}: no numpydoc 'Parameters' section"
        missing = [p.name for p in params if p.name not in _described(doc)]
        assert not missing, f"{name}: parameters not described under 'Parameters': {missing}"
    assert _section(doc, "Returns") or _section(doc, "Yields"), f"{name}: no numpydoc 'Returns' section"
    assert re.search(r"[Cc]hapters? \d|book's page", doc), f"{name}: the docstring names no chapter"


@pytest.mark.parametrize("name", CLASSES)
def test_class_docstring_has_numpydoc_sections(name):
    cls = getattr(prompticl, name)
    doc = inspect.getdoc(cls) or ""
    if issubclass(cls, BaseException):
        assert doc, f"{name}: undocumented"
        return
    assert _section(doc, "Attributes") or _section(doc, "Parameters"), f"{name}: no 'Attributes' or 'Parameters'"
    assert re.search(r"[Cc]hapters? \d|book's page", doc), f"{name}: the docstring names no chapter"


@pytest.mark.parametrize("name", CONSTANTS)
def test_constant_has_a_doc_comment(name):
    """autodoc shows a constant's ``#:`` comment; without one it would show its type's docstring."""
    modname = prompticl_api._defining_module(prompticl, name)
    source = inspect.getsource(importlib.import_module(modname))
    assert re.search(rf"^#:.*\n(#:.*\n)*{name}\s*(:[^=]*)?=", source, re.MULTILINE), (
        f"{name}: no '#:' doc comment above its definition in {modname}"
    )


@pytest.mark.parametrize("name", FUNCTIONS)
def test_formula_functions_state_their_formula(name):
    func = getattr(prompticl, name)
    if func.__module__ not in FORMULA_MODULES:
        pytest.skip("not a closed-form function")
    doc = inspect.getdoc(func) or ""
    assert ".. math::" in doc, f"{name}: the formula is not stated in a '.. math::' block"
    assert re.search(r"(Theorem|Lemma|Proposition|Corollary|Definition|Equation|eq\.|\()\s*\(?\d", doc), (
        f"{name}: the docstring names no numbered result"
    )


def test_module_titles_fit_a_heading():
    """The first line of each module's docstring is its section title on the API page."""
    for modname in {prompticl_api._defining_module(prompticl, n) for n in PUBLIC}:
        title = prompticl_api._summary(modname)
        assert 10 <= len(title) <= 70, f"{modname}: title {title!r} is not a short heading"
