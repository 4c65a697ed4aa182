"""The student edition as a student gets it (`make book-students`): chapter pages offer student
notebooks that exist, no page leads to a solution (no launch, repository or source button, no
instructor note), every local link resolves once the student PDFs and problem sheets are printed,
a student notebook runs (papermill, smoke parameters), and the book prints without solutions
(_build/pdf/prompticl-students.pdf)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import papermill
import pytest

from support import once_per_run

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
STUDENTS_HTML = ROOT / "_build" / "students" / "_build" / "html"  # where conftest.py's `students` builds
CHROMIUM = "/usr/bin/chromium"
sys.path.insert(0, str(ROOT / "tools"))
import student_notebooks  # noqa: E402

CHAPTERS = student_notebooks._chapter_notebooks(ROOT / "book")


@pytest.fixture(scope="module")
def student_site(students) -> Path:
    out = students.stdout + students.stderr
    assert students.returncode == 0, "the student edition did not build:\n" + out[-3000:]
    return STUDENTS_HTML


@pytest.fixture(scope="module")
def student_printed(student_site) -> Path:
    """The PDF steps of `make book-students`: the book without solutions, the formula sheet and the
    sheets, printed once per test run (the two xdist workers would otherwise both write them)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed")
    pdf = ROOT / "_build" / "pdf"

    def run() -> subprocess.CompletedProcess:
        for cmd in ([sys.executable, "tools/print_pdf.py", "--html", str(student_site), "--out", str(pdf / "students")],
                    [sys.executable, "tools/print_sheets.py", "--html", str(student_site), "--out", str(pdf / "sheets")]):
            done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
            if done.returncode != 0:
                return done
        shutil.copy(pdf / "students" / "prompticl.pdf", pdf / "prompticl-students.pdf")  # as `make book-students`
        for name in ("prompticl.pdf", "formula-sheet.pdf"):
            shutil.copy(pdf / "students" / name, student_site / name)
        (student_site / "sheets").mkdir(exist_ok=True)
        for sheet in (pdf / "sheets").glob("session-*.pdf"):
            shutil.copy(sheet, student_site / "sheets" / sheet.name)
        return done

    run_ = once_per_run("students-print", run)
    assert run_.returncode == 0, f"{run_.args[1]} failed:\n{(run_.stdout + run_.stderr)[-3000:]}"
    return student_site


def test_chapter_pages_offer_their_student_notebook(student_site):
    names = sorted(p.name for p in CHAPTERS)
    assert sorted(p.name for p in (student_site / "notebooks").glob("*.ipynb")) == names
    with zipfile.ZipFile(student_site / "notebooks" / student_notebooks.ZIP_NAME) as archive:
        assert sorted(Path(n).name for n in archive.namelist()) == names
    for chapter in CHAPTERS:
        page = (student_site / "book" / f"{chapter.stem}.html").read_text(encoding="utf-8")
        assert f'href="../notebooks/{chapter.name}"' in page, f"{chapter.stem}: no link to its student notebook"


def test_no_path_to_a_solution(student_site):
    bad = {}
    for page in student_site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        # Launch buttons (Binder, Colab), the repository, issues and download-source buttons, page
        # sources, instructor notes, solution blocks. (A git clone command in the prose of "Run it
        # yourself" is how a student installs the package; it is not a button to a solution.)
        found = [w for w in ("mybinder.org", "colab.research.google.com", "repository-button", "issues-button",
                             "launch-", "download-source-button", "download-notebook-button", "source-file-button", "source-edit-button", "instructor-notes",
                             "_sources/", 'class="solution') if w in text]
        if found:
            bad[str(page.relative_to(student_site))] = found
    assert not bad, f"pages with a way to the solutions: {dict(list(bad.items())[:5])}"
    assert not (student_site / "_sources").exists()


def _local_links(html: str) -> list[str]:
    return [h for h in re.findall(r'(?:href|src)="([^"#][^"]*)"', html)
            if not urlsplit(h).scheme and not h.startswith(("//", "mailto:"))]


def test_every_local_link_resolves(student_printed):
    broken = []
    # Pages only: _static/ holds the theme's Jinja macro files (*.html templates, not pages).
    for page in (p for p in student_printed.rglob("*.html") if "_static" not in p.relative_to(student_printed).parts):
        for link in _local_links(page.read_text(encoding="utf-8")):
            target = (page.parent / unquote(urlsplit(link).path)).resolve()
            if not target.exists():
                broken.append(f"{page.relative_to(student_printed)} -> {link}")
    assert not broken, "broken links in the student edition:\n" + "\n".join(sorted(set(broken))[:30])
    intro = (student_printed / "book" / "intro.html").read_text(encoding="utf-8")
    assert "../prompticl.pdf" in intro and "../sheets/session-1.pdf" in intro  # control: the PDF links were checked


def test_sheets_have_no_solution(student_printed):
    from pypdf import PdfReader

    sheets = sorted((student_printed / "sheets").glob("session-*.pdf"))
    assert len(sheets) >= 8
    for sheet in sheets:
        text = " ".join(page.extract_text() for page in PdfReader(sheet).pages)
        assert "Exercise" in text and "Solution" not in text, sheet.name


def test_student_pdf_has_no_solution(student_printed):
    """_build/pdf/prompticl-students.pdf: every exercise, no solution (not its box, not a sentence of one)."""
    from pypdf import PdfReader

    import test_site  # tests/book is on sys.path: the solution and exercise texts of the chapters

    book = ROOT / "_build" / "pdf" / "prompticl-students.pdf"
    text = " ".join(" ".join(page.extract_text().split()) for page in PdfReader(book).pages)
    assert "Solution to Exercise" not in text
    # A sentence the book also states outside any solution or instructor note (prose a solution
    # repeats, a section title, an API docstring) may stay: count each fragment in every source
    # against its count inside the solutions and notes.
    def norm(t: str) -> str:
        return " ".join(test_site._MARKUP.sub(" | ", t).split())

    plan = (ROOT / "book" / "session-plan.md").read_text(encoding="utf-8")
    note_blocks = re.findall(r":class: instructor-notes[^\n]*\n(.*?)\n:::", plan, re.S)
    notes = [f for block in note_blocks for f in test_site._fragments(block)]
    inside = [norm(t) for t in test_site._directive_texts("solution") + note_blocks]
    sources = ["".join(cell["source"]) for nb in sorted((ROOT / "book").glob("*.ipynb"))
               for cell in json.loads(nb.read_text(encoding="utf-8"))["cells"]]
    sources += [p.read_text(encoding="utf-8") for p in sorted((ROOT / "book").glob("*.md"))]
    sources += [p.read_text(encoding="utf-8") for p in sorted((ROOT / "src" / "prompticl").rglob("*.py"))]
    everywhere = norm(" ".join(sources))
    solutions = [f for s in test_site._directive_texts("solution") for f in test_site._fragments(s)]
    outside = {f for f in solutions + notes if everywhere.count(f) > sum(t.count(f) for t in inside)}
    assert len(notes) >= 10, "no instructor-note sentences found in the session plan (control)"
    exercises = [f for e in test_site._directive_texts("exercise") for f in test_site._fragments(e)]
    # Control: the exercises' sentences are found in this text by the same matching.
    found = [f for f in exercises if f in text]
    assert len(solutions) >= 30 and len(found) >= 0.6 * len(exercises), (len(solutions), len(found), len(exercises))
    leaked = [f for f in solutions + notes if f in text and f not in outside]
    assert not leaked, f"solution or instructor-note text in {book.name}: {leaked[:5]}"


def test_a_student_notebook_runs(tmp_path):
    """Chapter 01's student notebook runs to the end, from a folder outside the repository."""
    chapter = ROOT / "book" / "01-setting.ipynb"
    written = student_notebooks.write_student_notebooks(tmp_path / "nb", ROOT / "book")
    student = next(p for p in written if p.name == chapter.name)
    smoke = nbformat.read(chapter, as_version=4).metadata["prompticl"]["smoke_parameters"]
    out = tmp_path / "ran.ipynb"
    papermill.execute_notebook(str(student), str(out), parameters=smoke, cwd=str(tmp_path),
                               progress_bar=False, log_output=False, execution_timeout=600)
    ran = nbformat.read(out, as_version=4)
    assert any("student-work" in c.metadata.get("tags", []) for c in ran.cells)
