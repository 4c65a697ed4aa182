"""Problem sheets (tools/print_sheets.py) take every exercise of the session plan, and the student
edition's landing page links one sheet per session (printing itself is in the book tier)."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("print_sheets", ROOT / "tools" / "print_sheets.py")
print_sheets = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(print_sheets)


def test_every_assigned_exercise_is_on_its_sheet():
    text = (ROOT / "book" / "session-plan.md").read_text(encoding="utf-8")
    sessions = print_sheets.session_exercises(text)
    assert sorted(sessions) == list(range(1, len(re.findall(r"^## Session \d+:", text, re.M)) + 1))
    for number, (title, groups) in sessions.items():
        block = re.search(rf"^## Session {number}:.*?(?=^## |\Z)", text, re.S | re.M)[0]
        line = re.search(r"\*\*Exercises\*\*(.*?)(?=\n- \*\*)", block, re.S)[1]
        on_sheet = [label for _, labels in groups for label in labels]
        assert sorted(on_sheet) == sorted(re.findall(r"\{numref\}`([^`]+)`", line)), number
        assert [h for h, _ in groups][:2] == ["In session", "Homework"], number


def test_parser_sees_a_changed_plan():
    # Control: an exercise moved to another group is seen there.
    text = (ROOT / "book" / "session-plan.md").read_text(encoding="utf-8")
    moved = text.replace("homework: {numref}`ex-setting-total-covariance`", "optional homework: {numref}`ex-setting-total-covariance`", 1)
    groups = dict(print_sheets.session_exercises(moved)[1][1])
    assert "ex-setting-total-covariance" in groups["Optional homework"] and "Homework" not in groups


def test_student_landing_page_links_one_sheet_per_session():
    intro = (ROOT / "book" / "intro.md").read_text(encoding="utf-8")
    students = intro.split("```{only} students", 1)[1].split("```", 1)[0]
    sheets = re.findall(r'href="\.\./sheets/session-(\d+)\.pdf"', students)
    plan = (ROOT / "book" / "session-plan.md").read_text(encoding="utf-8")
    assert sheets == [str(i) for i in range(1, len(re.findall(r"^## Session \d+:", plan, re.M)) + 1)]
    # The Makefile's student target makes and copies exactly these files.
    make = (ROOT / "Makefile").read_text(encoding="utf-8")
    target = make.split("\nbook-students:", 1)[1].split("\n\n", 1)[0]
    for piece in ("tools/print_sheets.py", "--html _build/html-students --out $(PDF_DIR)/students",
                  "$(PDF_DIR)/prompticl-students.pdf",
                  "prompticl.pdf", "formula-sheet.pdf", "_build/html-students/sheets/"):
        assert piece in target, piece
