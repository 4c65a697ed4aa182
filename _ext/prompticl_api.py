"""The API page (``book/api.md``), generated from ``prompticl.__all__`` at build time.

The page's source holds a marker line, ``<!-- prompticl-api -->``. When Sphinx reads that page, the
marker is replaced by one section per module of the package, in the order in which ``__all__`` first
names them: the module's one-line summary as the heading, an ``autosummary`` table, then the full
entry (``autofunction``, ``autoclass`` or ``autodata``) of every public name defined there. So every
name a chapter may import has an entry with its docstring and a link to its source, and a name added
to ``__all__`` appears on the page without anyone editing it.
"""
from __future__ import annotations

import importlib
import inspect
import re
from collections import OrderedDict

from sphinx.application import Sphinx

MARKER = "<!-- prompticl-api -->"
API_DOCNAME = "book/api"
PACKAGE = "prompticl"


def _defining_module(package, name: str) -> str:
    """The module of the package that defines ``name`` (constants have no ``__module__``)."""
    obj = getattr(package, name)
    module = getattr(obj, "__module__", None)
    if (inspect.isfunction(obj) or inspect.isclass(obj)) and module and module.startswith(PACKAGE):
        return module
    # A constant: the module whose source assigns it at top level.
    pattern = re.compile(rf"^{re.escape(name)}\s*(:[^=]*)?=", re.MULTILINE)
    for modname, mod in sorted(_submodules(package).items()):
        try:
            source = inspect.getsource(mod)
        except (OSError, TypeError):
            continue
        if pattern.search(source):
            return modname
    return package.__name__


def _submodules(package) -> dict:
    import pkgutil

    found = {}
    for info in pkgutil.walk_packages(package.__path__, prefix=package.__name__ + "."):
        if info.name.endswith("__main__"):  # importing it would run the command line
            continue
        try:
            found[info.name] = importlib.import_module(info.name)
        except Exception:  # a submodule that cannot be imported on its own is not documented here
            continue
    return found


def _summary(modname: str) -> str:
    """The heading of a module's section: the first line of its docstring (its title)."""
    doc = inspect.getdoc(importlib.import_module(modname)) or modname
    return re.sub(r"[*`]", "", doc.strip().splitlines()[0]).rstrip(".")


def _entry(package, name: str) -> str:
    """The autodoc directive of one name, in reStructuredText (autodoc writes rST, not MyST)."""
    obj = getattr(package, name)
    target = f"{PACKAGE}.{name}"
    if inspect.isclass(obj):
        if issubclass(obj, BaseException):
            return f".. autoexception:: {target}\n"
        return f".. autoclass:: {target}\n   :members:\n"
    if callable(obj):
        return f".. autofunction:: {target}\n"
    return f".. autodata:: {target}\n   :no-value:\n"


def api_markdown() -> str:
    """MyST text of every public name, grouped by the module that defines it."""
    package = importlib.import_module(PACKAGE)
    groups: "OrderedDict[str, list[str]]" = OrderedDict()
    for name in package.__all__:
        if name.startswith("__"):
            continue
        groups.setdefault(_defining_module(package, name), []).append(name)
    parts = []
    for modname, names in groups.items():
        # currentmodule: a docstring's `train_als` resolves to the public prompticl.train_als.
        rst = [".. currentmodule:: prompticl", "", ".. autosummary::", "   :nosignatures:", ""] + [f"   {n}" for n in names] + [""]
        rst += [_entry(package, n) for n in names]
        parts.append(f"## {_summary(modname)}\n\n```{{eval-rst}}\n" + "\n".join(rst) + "```\n")
    return "\n".join(parts)


def fill_api_page(app: Sphinx, docname: str, source: list) -> None:
    if docname == API_DOCNAME and MARKER in source[0]:
        source[0] = source[0].replace(MARKER, api_markdown())


def always_reread(app: Sphinx, env, added, changed, removed) -> list[str]:
    """The page depends on the package, not on its own source: read it again on every build."""
    return [API_DOCNAME] if API_DOCNAME in env.found_docs else []


def constant_doc(app: Sphinx, what: str, name: str, obj, options, lines: list) -> None:
    """A constant's text is its ``#:`` comment in the module that defines it.

    autodoc and autosummary look for that comment in ``prompticl/__init__.py``, which only imports
    the name, and fall back to the docstring of the value's type (tuple, dict, float).
    """
    prefix = PACKAGE + "."
    if what != "data" or not name.startswith(prefix):
        return
    from sphinx.pycode import ModuleAnalyzer

    short = name[len(prefix):]
    modname = _defining_module(importlib.import_module(PACKAGE), short)
    docs = ModuleAnalyzer.for_module(modname).find_attr_docs().get(("", short))
    if docs:
        lines[:] = list(docs)


def setup(app: Sphinx) -> dict:
    app.setup_extension("sphinx.ext.autodoc")
    app.setup_extension("sphinx.ext.autosummary")
    app.connect("source-read", fill_api_page)
    app.connect("autodoc-process-docstring", constant_doc)
    app.connect("env-get-outdated", always_reread)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
