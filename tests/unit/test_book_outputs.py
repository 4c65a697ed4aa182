"""No path publishes outputs that `make test` did not validate.

The site (`make book`, `make book-students`, the pages workflow) shows the outputs stored in the
chapter notebooks, the ones nbval re-executes and compares in tests/book/test_notebooks.py; it
executes nothing else but the text notebooks that have no stored outputs and name the test that runs
their cells here (:data:`FORCED`). Each notebook is thus executed once per `make test`, by nbval.
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import yaml

from prompticl._figures import toc_files
from support import BOOK_NOTEBOOKS, JB_FLAGS_FILE, ROOT

CONFIG = ROOT / "_config.yml"
#: Pages without stored outputs whose code cells the site build executes (front matter
#: ``mystnb: execution_mode: force``), each with the unit test that runs those cells and checks them.
FORCED = {"book/at-a-glance": "tests/unit/test_at_a_glance.py"}
CODE_CELL = re.compile(r"^(`{3,}|:{3,})\{code-cell\}", re.M)
#: Files that build or publish the site.
BUILD_FILES = ["Makefile", ".ci/run", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / ".github" / "workflows").glob("*.y*ml"))]


def _pages() -> dict[str, Path]:
    """Every page of the table of contents and its source file."""
    pages = {}
    for name in toc_files(ROOT):
        found = [ROOT / f"{name}{suffix}" for suffix in (".ipynb", ".md") if (ROOT / f"{name}{suffix}").is_file()]
        assert len(found) == 1, f"_toc.yml entry {name}: expected one source file, found {found}"
        pages[name] = found[0]
    return pages


def _front_matter(path: Path) -> dict:
    m = re.match(r"---\n(.*?)\n---\n", path.read_text(encoding="utf-8"), re.S)
    return (yaml.safe_load(m.group(1)) or {}) if m else {}


def _execution_mode(path: Path) -> "str | None":
    meta = nbformat.read(path, as_version=4).metadata if path.suffix == ".ipynb" else _front_matter(path)
    return (meta.get("mystnb") or {}).get("execution_mode")


def test_the_site_executes_no_notebook():
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    mode = config["execute"]["execute_notebooks"]
    assert mode in ("off", False), (
        f"_config.yml: execute_notebooks is {mode!r}: the site would show outputs that nbval did not validate "
        "(jupyter-cache keys an entry on the code cells only, so a changed library can publish old outputs)"
    )
    overrides = [k for k in (config.get("sphinx", {}).get("config") or {}) if k.startswith(("nb_execution", "jupyter_execute"))]
    assert not overrides, f"_config.yml sets {overrides} under sphinx.config, over execute_notebooks"


def test_every_notebook_page_is_one_nbval_validates():
    shown = sorted(p for p in _pages().values() if p.suffix == ".ipynb")
    assert shown, "no notebook page found in _toc.yml"  # control
    assert shown == BOOK_NOTEBOOKS, (
        "the notebooks of _toc.yml and those of tests/book/test_notebooks.py differ: "
        f"only in the toc {sorted(set(shown) - set(BOOK_NOTEBOOKS))}, "
        f"only tested (only_build_toc_files would drop them silently) {sorted(set(BOOK_NOTEBOOKS) - set(shown))}"
    )
    forced = [p.name for p in shown if _execution_mode(p) not in (None, "off")]
    assert not forced, f"notebooks that the site would re-execute instead of showing their validated outputs: {forced}"


def test_pages_executed_by_the_site_have_a_test():
    pages = _pages()
    executed = {name for name, path in pages.items() if path.suffix == ".md" and _execution_mode(path) not in (None, "off")}
    assert executed == set(FORCED), f"pages that the site executes: {sorted(executed)}; with a test (FORCED): {sorted(FORCED)}"
    for name, test in FORCED.items():
        path = pages[name]
        assert _execution_mode(path) == "force", f"{path.name}: execution_mode must be 'force' (no cache)"
        assert CODE_CELL.search(path.read_text(encoding="utf-8")), f"{path.name} has no code cell to execute"
        assert path.name in (ROOT / test).read_text(encoding="utf-8"), f"{test} does not run {path.name}"
    # A text notebook whose cells nobody executes would show its code without outputs.
    silent = [p.name for name, p in pages.items() if p.suffix == ".md" and name not in FORCED and CODE_CELL.search(p.read_text(encoding="utf-8"))]
    assert not silent, f"text notebooks with code cells that neither the site nor a test executes: {silent}"


def test_no_build_path_uses_an_execution_cache():
    found = [f for f in [*BUILD_FILES, "_config.yml"] if re.search(r"jupyter[_-]cache", (ROOT / f).read_text(encoding="utf-8"))]
    assert not found, f"an execution cache is set up in {found}: the site shows the notebooks' stored outputs"


def test_build_flags_have_one_source():
    flags = JB_FLAGS_FILE.read_text(encoding="utf-8").split()
    assert flags and "-W" in flags, flags  # warnings fail the build
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^JB_FLAGS := \$\(shell cat tools/jupyter-book-flags\)$", makefile, re.M)
    builds = [line.strip() for f in BUILD_FILES for line in (ROOT / f).read_text(encoding="utf-8").splitlines()
              if re.search(r"jupyter-book build\b(?!.*--builder linkcheck)", line)]
    assert builds and all("$(JB_FLAGS)" in line for line in builds), f"jupyter-book builds without $(JB_FLAGS): {builds}"
    copies = [str(p.relative_to(ROOT)) for p in [*ROOT.glob("tests/**/*.py"), ROOT / "Makefile"]
              if p != Path(__file__).resolve() and "--keep-going" in p.read_text(encoding="utf-8")]
    assert not copies, f"jupyter-book's flags copied into {copies} (read tools/jupyter-book-flags)"
