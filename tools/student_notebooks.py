"""Student notebooks: every chapter notebook of the book with its solutions removed.

    python tools/student_notebooks.py --out DIR    # DIR/<chapter>.ipynb and DIR/prompticl-student-notebooks.zip

The student edition of the site (``make book-students``, _ext/prompticl_site.py) calls
:func:`write_student_notebooks` at the end of its build, into ``_build/html-students/notebooks/``.

A solution takes three forms in the chapters (sphinx-exercise), all removed here:

- a ``{solution}`` directive inside a markdown cell (backtick or colon fence, any length);
- a gated solution: from a ``{solution-start}`` directive to the matching ``{solution-end}``,
  which usually spans several cells (the markdown around the directives is kept, every code and
  markdown cell in between goes);
- a cell tagged ``solution`` (cell metadata ``tags``).

An empty code cell, tagged ``student-work``, takes the place of each removed solution so that the
student has a place to work. Stored outputs of the remaining cells are kept (figures stay visible).
"""
from __future__ import annotations

import argparse
import copy
import re
import sys
import zipfile
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
ZIP_NAME = "prompticl-student-notebooks.zip"
SOLUTION_TAG = "solution"
WORK_TAG = "student-work"

# The opening line of a MyST directive: a fence of >= 3 backticks or colons, then {name}.
_OPEN = re.compile(r"^ {0,3}(?P<fence>`{3,}|:{3,})\{(?P<name>[\w:-]+)\}")
_FENCE = re.compile(r"^ {0,3}(?P<fence>`{3,}|:{3,})")


def _closing(line: str, fence: str) -> bool:
    """CommonMark: a closing fence is the same character, at least as long, and nothing after it."""
    stripped = line.strip()
    return bool(stripped) and set(stripped) == {fence[0]} and len(stripped) >= len(fence)


def _block_end(lines: list[str], start: int, fence: str) -> int:
    """Index just after the closing fence of the block opened at ``lines[start]`` (end of cell if none)."""
    for i in range(start + 1, len(lines)):
        if _closing(lines[i], fence):
            return i + 1
    return len(lines)


def _chapter_notebooks(book: Path) -> list[Path]:
    """The notebooks that _toc.yml lists, in its order (only those are chapters of the book)."""
    toc = yaml.safe_load((book.parent / "_toc.yml").read_text(encoding="utf-8"))
    files = []
    for part in toc.get("parts", []):
        for chapter in part.get("chapters", []):
            path = book.parent / (chapter["file"] + ".ipynb")
            if path.exists():
                files.append(path)
    return files


def strip_solutions(nb: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, int]:
    """A copy of ``nb`` without any solution, and how many solutions were removed.

    Raises ``ValueError`` for a ``{solution-start}`` without its ``{solution-end}`` and for a
    solution nested in another directive: keeping the rest out would hide the chapter, keeping it
    in would leak the solution.
    """
    out = copy.deepcopy(nb)
    cells: list = []
    removed = 0
    gated = False  # inside a solution-start ... solution-end range

    def flush(cell, kept: list[str], piece: int) -> None:
        text = "\n".join(kept).strip("\n")
        if text:
            new = copy.deepcopy(cell)
            new.source = text
            if piece and "id" in new:  # ids stay unique and deterministic when a cell is split
                new["id"] = f"{cell['id']}-{piece}"[:64]
            cells.append(new)

    def work_cell() -> None:
        # One empty code cell where the solution was: the student's place to work.
        cell = nbformat.v4.new_code_cell("", metadata={"tags": [WORK_TAG]})
        cell["id"] = f"student-work-{removed}"
        cells.append(cell)

    for cell in nb.cells:
        if SOLUTION_TAG in cell.get("metadata", {}).get("tags", []):
            removed += 1
            work_cell()
            continue
        if cell.cell_type != "markdown":
            if not gated:
                cells.append(copy.deepcopy(cell))
            continue
        lines = cell.source.split("\n")
        kept: list[str] = []
        piece = 0
        i = 0
        while i < len(lines):
            match = _OPEN.match(lines[i])
            if gated:
                # Drop lines up to and including the solution-end directive.
                if match and match["name"] == "solution-end":
                    gated = False
                    i = _block_end(lines, i, match["fence"])
                else:
                    i += 1
                continue
            if match and match["name"] in ("solution", "solution-start"):
                removed += 1
                flush(cell, kept, piece)
                piece, kept = piece + 1, []
                work_cell()
                i = _block_end(lines, i, match["fence"])
                gated = match["name"] == "solution-start"
                continue
            fence = _FENCE.match(lines[i])
            if fence:
                # Any other fenced block (exercise, proof, code) is copied whole: a "{solution}"
                # written inside a code block is an example, not a solution.
                end = _block_end(lines, i, fence["fence"])
                if match and any(
                    (m := _OPEN.match(x)) and m["name"].startswith("solution") for x in lines[i + 1:end]
                ):
                    raise ValueError("a solution nested inside another directive is not supported")
                kept.extend(lines[i:end])
                i = end
                continue
            kept.append(lines[i])
            i += 1
        flush(cell, kept, piece)
    if gated:
        raise ValueError("a {solution-start} has no matching {solution-end}")
    out.cells = cells
    return out, removed


def write_student_notebooks(out: Path, book: Path = ROOT / "book") -> list[Path]:
    """Write every chapter's student notebook into ``out`` and the archive of all of them.

    Returns the written notebooks. The archive is written last, through a temporary name, so an
    interrupted run never leaves a partial archive under the final name.
    """
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in _chapter_notebooks(book):
        nb = nbformat.read(path, as_version=4)
        student, _ = strip_solutions(nb)
        nbformat.validate(student)
        target = out / path.name
        nbformat.write(student, target)
        written.append(target)
    tmp = out / (ZIP_NAME + ".part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for target in written:
            archive.write(target, f"prompticl-student-notebooks/{target.name}")
    tmp.replace(out / ZIP_NAME)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="directory for the notebooks and the zip")
    parser.add_argument("--book", type=Path, default=ROOT / "book", help="the book's notebook folder")
    args = parser.parse_args(argv)
    if not (args.book.parent / "_toc.yml").is_file():
        print(f"student_notebooks: no _toc.yml beside {args.book}", file=sys.stderr)
        return 2
    written = write_student_notebooks(args.out, args.book)
    print(f"wrote {len(written)} student notebooks and {ZIP_NAME} into {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
