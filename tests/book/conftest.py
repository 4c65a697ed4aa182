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

from support import HTML, ROOT, jupyter_book_build, site_build_lock


def _build_site() -> subprocess.CompletedProcess:
    # Start from an empty output folder: Sphinx never deletes pages that left the toc.
    shutil.rmtree(HTML, ignore_errors=True)
    return jupyter_book_build()


@pytest.fixture(scope="session")
def build() -> subprocess.CompletedProcess:
    """The site build (`make book`), run once per test run.

    Under pytest-xdist each worker has its own session fixtures, and `xdist_group` is not honoured
    with pytest 9 (the group suffix no longer reaches the scheduler), so the build itself is
    serialised with a file lock and its result shared through a file named after the test run:
    whichever worker comes first builds, the others wait and reuse the result.
    """
    run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if run_id is None:  # a single process: nothing to share
        return _build_site()
    result_file = ROOT / "_build" / f".site-build-{run_id}.json"
    with site_build_lock():  # released when the file closes
        if result_file.is_file():
            done = json.loads(result_file.read_text())
            return subprocess.CompletedProcess(done["args"], done["returncode"], done["stdout"], done["stderr"])
        for stale in ROOT.joinpath("_build").glob(".site-build-*.json"):
            stale.unlink()
        result = _build_site()
        result_file.write_text(json.dumps(
            {"args": result.args, "returncode": result.returncode, "stdout": result.stdout, "stderr": result.stderr}
        ))
        return result


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

    Shared by tests/book/test_site.py and tests/book/test_student_site.py (one build per run)."""
    with site_build_lock():
        shutil.rmtree(STUDENTS_HTML, ignore_errors=True)
        return jupyter_book_build("--path-output", str(STUDENTS_OUT), env={"PROMPTICL_EDITION": "students"})
