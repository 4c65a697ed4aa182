"""Site-only Sphinx additions for the prompticl book (not part of the ``prompticl`` package).

Student edition: with ``PROMPTICL_EDITION=students`` in the environment (``make book-students``),
every solution is removed from the document tree before anything is written, so no solution text
reaches the HTML pages or the search index; the page sources (``_sources/``, the download button)
are left out of that edition. sphinx-exercise's own
``hide_solutions`` option is not enough here: it drops only the ``solution-start`` directive of a
gated solution and leaves the cells up to ``solution-end`` in the page.

The student edition also
- drops every admonition with the class ``instructor-notes`` (the session plan's notes for the
  person leading a discussion);
- has no launch (Binder, Colab), repository, issues or source button: each leads to the full
  notebooks, solutions included;
- writes every chapter's student notebook (tools/student_notebooks.py: the solutions removed) into
  ``notebooks/`` of the site, with one zip of all of them, and links each chapter page to its own.
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.transforms import SphinxTransform
from sphinx.util.osutil import relative_uri
from sphinx_exercise.nodes import solution_end_node, solution_node, solution_start_node

EDITION_VARIABLE = "PROMPTICL_EDITION"
INSTRUCTOR_CLASS = "instructor-notes"
NOTEBOOKS_DIR = "notebooks"
RUN_IT_YOURSELF = "book/run-it-yourself"


class RemoveSolutions(SphinxTransform):
    """Drop every solution (gated ones after sphinx-exercise has merged them)."""

    # sphinx-exercise merges gated solutions at priority 10; run after it.
    default_priority = 900

    def apply(self) -> None:
        if not self.config.prompticl_student_edition:
            return
        for node in list(self.document.findall(solution_node)):
            node.parent.remove(node)
        # A gated solution left unmerged would leak its cells: remove from start to end as well.
        for start in list(self.document.findall(solution_start_node)):
            parent = start.parent
            index = parent.index(start)
            while index < len(parent.children) and not isinstance(parent.children[index], solution_end_node):
                parent.remove(parent.children[index])
            if index < len(parent.children):
                parent.remove(parent.children[index])
        # The pages that list solutions would still link to them: nothing else refers to a solution.
        registry = getattr(self.env, "sphinx_exercise_registry", {})
        for label in [k for k, v in registry.items() if v.get("type") == "solution" and v.get("docname") == self.env.docname]:
            del registry[label]
        # Notes for the person leading a session are not for the students.
        for node in list(self.document.findall(nodes.admonition)):
            if INSTRUCTOR_CLASS in node.get("classes", []):
                node.parent.remove(node)


def _student_notebooks_module(srcdir: Path):
    """tools/student_notebooks.py of the book's repository (None outside it, e.g. in a test project)."""
    if not (srcdir / "tools" / "student_notebooks.py").is_file():
        return None
    spec = importlib.util.spec_from_file_location("student_notebooks", srcdir / "tools" / "student_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def link_student_notebook(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """A chapter page of the student edition offers its student notebook and the zip of all."""
    if not app.config.prompticl_student_edition or app.builder.format != "html":
        return
    source = Path(app.env.doc2path(docname))
    if source.suffix != ".ipynb":
        return
    here = app.builder.get_target_uri(docname)
    module = _student_notebooks_module(Path(app.srcdir))
    if module is None:
        return
    notebook = relative_uri(here, f"{NOTEBOOKS_DIR}/{source.name}")
    archive = relative_uri(here, f"{NOTEBOOKS_DIR}/{module.ZIP_NAME}")
    para = nodes.paragraph()
    para += nodes.Text("Work through this chapter in Jupyter: download ")
    para += nodes.reference("", source.name, refuri=notebook, classes=["download"])
    para += nodes.Text(" (every exercise, no solution), or all chapters as ")
    para += nodes.reference("", module.ZIP_NAME, refuri=archive, classes=["download"])
    para += nodes.Text(". ")
    if RUN_IT_YOURSELF in app.env.all_docs:
        para += nodes.reference("", "Run it yourself", refuri=relative_uri(here, app.builder.get_target_uri(RUN_IT_YOURSELF)))
        para += nodes.Text(" says how to open them.")
    note = nodes.admonition("", nodes.title("", "Student notebook"), para, classes=["tip", "student-notebook"])
    section = next(iter(doctree.findall(nodes.section)), None)
    if section is None:
        return
    title_index = next((i for i, child in enumerate(section.children) if isinstance(child, nodes.title)), -1)
    section.insert(title_index + 1, note)


def write_student_notebooks(app: Sphinx, exception) -> None:
    if exception is not None or not app.config.prompticl_student_edition or app.builder.format != "html":
        return
    module = _student_notebooks_module(Path(app.srcdir))
    if module is not None:
        module.write_student_notebooks(Path(app.outdir) / NOTEBOOKS_DIR, Path(app.srcdir) / "book")


def student_config(app: Sphinx, config) -> None:
    """The page sources (``_sources/``, offered by the download button), the launch buttons and the
    repository contain the solutions: the student edition offers none of them."""
    if config.prompticl_student_edition:
        # Pages say what differs in this edition with ```{only} students``` / ```{only} not students```.
        app.tags.add("students")
        config.html_copy_source = False
        config.html_theme_options = {
            **config.html_theme_options,
            "use_download_button": False,
            "use_repository_button": False,
            "use_issues_button": False,
            "use_edit_page_button": False,
            "use_source_button": False,
            "launch_buttons": {},
        }


def setup(app: Sphinx) -> dict:
    app.add_config_value(
        "prompticl_student_edition", os.environ.get(EDITION_VARIABLE, "") == "students", "env", [bool]
    )
    app.add_transform(RemoveSolutions)
    app.connect("config-inited", student_config)
    app.connect("doctree-resolved", link_student_notebook)
    app.connect("build-finished", write_student_notebooks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
