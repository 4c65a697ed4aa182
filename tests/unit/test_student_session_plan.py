"""The session plan's teaching material: prerequisites, every exercise marked in-session or
homework, instructor notes for every discussion question."""
from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PLAN = ROOT / "book" / "session-plan.md"


def sessions(text: str) -> list[str]:
    return re.split(r"^## Session \d+:", text, flags=re.M)[1:]


def test_prerequisites_section():
    text = PLAN.read_text(encoding="utf-8")
    head = text.split("## Session 1:")[0]
    assert "**Prerequisites.**" in head
    for topic in ("*Mathematics*", "*Python*", "*Set-up*", "{ref}`ch-run-it-yourself`"):
        assert topic in head, topic


def test_every_discussion_question_has_an_instructor_note():
    blocks = sessions(PLAN.read_text(encoding="utf-8"))
    assert len(blocks) >= 8
    for i, block in enumerate(blocks, 1):
        questions = re.findall(r"^  \d+\. ", block.split("**Discuss**")[1].split("**Time**")[0], re.M)
        notes = re.findall(r":::\{admonition\} Instructor notes\n:class: ([^\n]*)\n(.*?)\n:::", block, re.S)
        assert len(notes) == 1, f"session {i}: expected one instructor-notes admonition"
        classes, body = notes[0]
        assert "instructor-notes" in classes.split()
        answers = re.findall(r"^\d+\. \S", body, re.M)
        assert questions and len(answers) == len(questions), f"session {i}: {len(questions)} questions, {len(answers)} notes"


def test_every_exercise_is_in_session_or_homework():
    text = PLAN.read_text(encoding="utf-8")
    labels = set()
    for nb in (ROOT / "book").glob("*.ipynb"):
        for cell in json.loads(nb.read_text(encoding="utf-8"))["cells"]:
            labels |= set(re.findall(r"\{exercise\}[^\n]*\n:label: (\S+)", "".join(cell["source"])))
    assert len(labels) >= 25
    for i, block in enumerate(sessions(text), 1):
        line = re.search(r"\*\*Exercises\*\*(.*?)(?=\n- \*\*Discuss)", block, re.S).group(1)
        assert "in session:" in line and "homework:" in line, f"session {i}: exercises not marked"
    assigned = set(re.findall(r"\{numref\}`([^`]+)`", " ".join(
        re.search(r"\*\*Exercises\*\*(.*?)(?=\n- \*\*Discuss)", b, re.S).group(1) for b in sessions(text))))
    assert assigned == labels, f"not assigned: {sorted(labels - assigned)}; unknown: {sorted(assigned - labels)}"
