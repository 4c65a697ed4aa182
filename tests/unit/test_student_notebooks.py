"""Student notebooks (tools/student_notebooks.py): no solution left, nothing else lost.

The solutions of the full notebook are found here independently of the tool, by the CommonMark
parser MyST itself uses (markdown-it with MyST's configuration): every ``{solution}`` directive,
every gated range ``{solution-start}`` ... ``{solution-end}`` (its markdown and its code cells with
their outputs), every cell tagged ``solution``. A line of a solution that occurs nowhere else in the
full notebook is a *secret*; no secret may be in a student notebook (positive control: each chapter
with exercises has secrets, and the full notebook contains them), and every line outside the
solutions must still be there.
"""
from __future__ import annotations

import importlib.util
import zipfile
from pathlib import Path

import nbformat
import pytest
from markdown_it.renderer import RendererHTML
from myst_parser.config.main import MdParserConfig
from myst_parser.parsers.mdit import create_md_parser

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("student_notebooks", ROOT / "tools" / "student_notebooks.py")
student_notebooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(student_notebooks)

CHAPTERS = student_notebooks._chapter_notebooks(ROOT / "book")
MD = create_md_parser(MdParserConfig(enable_extensions={"colon_fence", "dollarmath", "amsmath"}), RendererHTML)
SHORT = 12  # shorter lines ("$$", "````", "print(x)") are not distinctive


def _outputs_text(cell) -> list[str]:
    lines = []
    for output in cell.get("outputs", []):
        lines += "".join(output.get("text", "")).splitlines()
        for value in output.get("data", {}).values():
            if isinstance(value, str):
                lines += value.splitlines()
            elif isinstance(value, list):
                lines += "".join(value).splitlines()
    return lines


def split_solutions(nb) -> tuple[list[str], list[str], int]:
    """(solution lines, other lines, number of exercises) of a notebook, via markdown-it."""
    solution, other, exercises = [], [], 0
    gated = False
    for cell in nb.cells:
        text_lines = cell.source.splitlines()
        if "solution" in cell.get("metadata", {}).get("tags", []):
            solution += text_lines + _outputs_text(cell)
            continue
        if cell.cell_type != "markdown":
            (solution if gated else other).extend(text_lines + _outputs_text(cell))
            continue
        marks = [0] * len(text_lines)  # 1 where the line belongs to a solution
        position = 0
        for token in MD.parse(cell.source):
            if token.map is None or token.level != 0 or token.nesting == -1:
                continue
            start, end = token.map
            name = token.info.split()[0] if token.type in ("fence", "colon_fence") and token.info else ""
            exercises += name == "{exercise}"
            for line in range(position, start):
                marks[line] = int(gated)
            if name in ("{solution}", "{solution-start}"):
                for line in range(start, end):
                    marks[line] = 1
                gated = gated or name == "{solution-start}"
            elif name == "{solution-end}":
                for line in range(start, end):
                    marks[line] = 1
                gated = False
            else:
                for line in range(start, end):
                    marks[line] = int(gated)
            position = max(position, end)
        for line in range(position, len(text_lines)):
            marks[line] = int(gated)
        for line, mark in zip(text_lines, marks):
            (solution if mark else other).append(line)
    return solution, other, exercises


def secrets(nb) -> set[str]:
    solution, other, _ = split_solutions(nb)
    others = {line.strip() for line in other}
    return {s for line in solution if len(s := line.strip()) >= SHORT and s not in others}


def all_lines(nb) -> set[str]:
    lines = set()
    for cell in nb.cells:
        lines |= {line.strip() for line in cell.source.splitlines() + _outputs_text(cell)}
    return lines


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("students")
    return out, student_notebooks.write_student_notebooks(out, ROOT / "book")


def test_every_chapter_is_written(written):
    out, paths = written
    assert [p.name for p in paths] == [p.name for p in CHAPTERS] and len(paths) >= 9
    with zipfile.ZipFile(out / student_notebooks.ZIP_NAME) as archive:
        names = sorted(Path(n).name for n in archive.namelist())
    assert names == sorted(p.name for p in CHAPTERS)


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_no_solution_and_nothing_else_lost(path, written):
    out, _ = written
    full = nbformat.read(path, as_version=4)
    student = nbformat.read(out / path.name, as_version=4)
    hidden = secrets(full)
    _, _, exercises = split_solutions(full)
    if exercises:
        # Positive control: the full notebook has solutions, and the check finds them there.
        assert hidden and hidden <= all_lines(full), f"{path.name}: no solution found in the full notebook"
    leaked = sorted(hidden & all_lines(student))
    assert not leaked, f"{path.name}: solution lines in the student notebook: {leaked[:3]}"
    # Nothing else lost: every exercise and every line outside the solutions is still there.
    _, _, student_exercises = split_solutions(student)
    assert student_exercises == exercises
    kept = all_lines(student)
    _, other, _ = split_solutions(full)
    lost = sorted({line.strip() for line in other} - kept)
    assert not lost, f"{path.name}: lines outside the solutions were removed: {lost[:3]}"
    text = "\n".join(c.source for c in student.cells)
    assert "{solution" not in text


def _nb(*cells):
    return nbformat.v4.new_notebook(cells=list(cells))


def test_every_form_of_solution_is_removed():
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    nb = _nb(
        md("```{exercise} One\n:label: e1\nTask one.\n```\n:::{solution} e1\nSecret colon answer.\n:::"),
        md("`````{exercise} Two\n:label: e2\nTask two.\n`````\n````{solution-start} e2\n````\nSecret gated prose."),
        code("secret_gated_code = 1"),
        md("Secret more prose.\n```{solution-end}\n```\nAfter the solution."),
        code("secret_tagged_code = 2", metadata={"tags": ["solution"]}),
        md("````{solution} e1\n```python\nsecret_nested_code()\n```\n````\nTail text."),
        md("Example, kept:\n````markdown\n```{solution} e1\nnot a solution\n```\n````"),
    )
    student, removed = student_notebooks.strip_solutions(nb)
    text = "\n".join(c.source for c in student.cells)
    assert removed == 4
    assert "secret" not in text.lower()
    for keep in ("Task one.", "Task two.", "After the solution.", "Tail text.", "not a solution"):
        assert keep in text
    assert sum("student-work" in c.metadata.get("tags", []) for c in student.cells) == 4
    assert len({c.id for c in student.cells}) == len(student.cells)


@pytest.mark.parametrize("source", [
    "```{solution-start} e\n```\nnever ended",
    "````{exercise}\n```{solution} e\nnested\n```\n````",
])
def test_unclosed_or_nested_solutions_are_refused(source):
    with pytest.raises(ValueError):
        student_notebooks.strip_solutions(_nb(nbformat.v4.new_markdown_cell(source)))


def test_bad_book_folder_exits_2(tmp_path, capsys):
    assert student_notebooks.main(["--out", str(tmp_path / "o"), "--book", str(tmp_path / "none")]) == 2
    assert "no _toc.yml" in capsys.readouterr().err and not (tmp_path / "o").exists()
