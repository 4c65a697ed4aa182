"""The book tier's shared site build: one ``jupyter-book build`` per test run, used by the site tests
(tests/book/test_site.py), the student edition and the PDF tests (test_pdf_formula_sheet.py).

Every test module under tests/book marks itself ``slow`` (``pytestmark``), so that ``make check``
(``-m "not slow"``) leaves it out; tests/unit/test_test_tiers.py checks that none is missed.

The build command, with the flags of `make book` (tools/jupyter-book-flags), is ``support.jupyter_book_build``.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from support import HTML, ROOT, jupyter_book_build, once_per_run


def _build_site() -> subprocess.CompletedProcess:
    # Start from an empty output folder: Sphinx never deletes pages that left the toc.
    shutil.rmtree(HTML, ignore_errors=True)
    return jupyter_book_build()


@pytest.fixture(scope="session")
def build() -> subprocess.CompletedProcess:
    """The site build (`make book`), run once per test run (:func:`once_per_run`)."""
    return once_per_run("site-build", _build_site)


@pytest.fixture(scope="session")
def site(build) -> Path:
    """The built site, _build/html (fails every test that needs it if the build failed)."""
    if build.returncode != 0:
        pytest.fail("the site did not build (see test_site.py::test_site_builds_without_warnings)", pytrace=False)
    return HTML



STUDENTS_OUT = ROOT / "_build" / "students"
STUDENTS_HTML = STUDENTS_OUT / "_build" / "html"


@pytest.fixture(scope="session")
def students(site) -> subprocess.CompletedProcess:
    """`make book-students`, run after the main build (both show the notebooks' stored outputs).

    Shared by tests/book/test_site.py and tests/book/test_student_site.py: one build per run
    (:func:`once_per_run`)."""
    def run():
        shutil.rmtree(STUDENTS_HTML, ignore_errors=True)
        return jupyter_book_build("--path-output", str(STUDENTS_OUT), env={"PROMPTICL_EDITION": "students"})
    return once_per_run("students-build", run)
