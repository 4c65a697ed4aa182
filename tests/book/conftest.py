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
import sys
from pathlib import Path

import pytest

from support import HTML, ROOT, jupyter_book_build, once_per_run

CHROMIUM = "/usr/bin/chromium"
#: Where the tests print the book (`make pdf` prints into _build/pdf): the book and the formula sheet.
PRINTED = ROOT / "_build" / "test-pdf"


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


@pytest.fixture(scope="session")
def printed(site) -> Path:
    """`make pdf` (tools/print_pdf.py) over the built site into PRINTED, once per test run: the book
    (tests/book/test_site.py::test_pdf) and the formula sheet it prints beside it
    (tests/book/test_pdf_formula_sheet.py); its output is PRINTED/print_pdf.log."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed - PDF not printed")

    def run() -> subprocess.CompletedProcess:
        shutil.rmtree(PRINTED, ignore_errors=True)
        done = subprocess.run([sys.executable, str(ROOT / "tools" / "print_pdf.py"), "--html", str(site),
                               "--out", str(PRINTED)], cwd=ROOT, capture_output=True, text=True)
        PRINTED.mkdir(parents=True, exist_ok=True)
        (PRINTED / "print_pdf.log").write_text(done.stdout + done.stderr, encoding="utf-8")
        return done

    done = once_per_run("print-pdf", run)
    if done.returncode != 0:
        pytest.fail(f"tools/print_pdf.py failed:\n{(done.stdout + done.stderr)[-3000:]}", pytrace=False)
    return PRINTED
