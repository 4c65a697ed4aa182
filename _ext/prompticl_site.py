"""Site-only Sphinx additions for the prompticl book (not part of the ``prompticl`` package).

Student edition: with ``PROMPTICL_EDITION=students`` in the environment (``make book-students``),
every solution is removed from the document tree before anything is written, so no solution text
reaches the HTML pages or the search index; the page sources (``_sources/``, the download button)
are left out of that edition. sphinx-exercise's own
``hide_solutions`` option is not enough here: it drops only the ``solution-start`` directive of a
gated solution and leaves the cells up to ``solution-end`` in the page.
"""
from __future__ import annotations

import os

from sphinx.application import Sphinx
from sphinx.transforms import SphinxTransform
from sphinx_exercise.nodes import solution_end_node, solution_node, solution_start_node

EDITION_VARIABLE = "PROMPTICL_EDITION"


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


def student_config(app: Sphinx, config) -> None:
    """The page sources (``_sources/``, offered by the download button) contain the solutions."""
    if config.prompticl_student_edition:
        config.html_copy_source = False
        config.html_theme_options = {**config.html_theme_options, "use_download_button": False}


def setup(app: Sphinx) -> dict:
    app.add_config_value(
        "prompticl_student_edition", os.environ.get(EDITION_VARIABLE, "") == "students", "env", [bool]
    )
    app.add_transform(RemoveSolutions)
    app.connect("config-inited", student_config)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
