"""The Claims page (issue 18) is generated from the chapters: every ``claim(...)`` call can be read
(literal id, sentence, domain and check), ids are unique, every theorem names a property test in
``tests/unit``, and the generated page lists every claim with a link (``_ext/prompticl_claims.py``)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from prompticl._claims import CHECKS

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "_ext"))
import prompticl_claims  # noqa: E402

CLAIMS = prompticl_claims.chapter_claims(ROOT)


def test_the_book_makes_claims_on_every_page():
    docs = {c["doc"] for c in CLAIMS}
    assert {"book/in-brief", "book/at-a-glance", "book/01-setting", "book/02-linear-attention-plain",
            "book/03-finetune-prompts", "book/04-joint-training", "book/05-task-heads",
            "book/06-prompt-vs-finetune", "book/07-experiments", "book/08-layer-optimum", "book/09-bayes-floor"} <= docs


@pytest.mark.parametrize("c", CLAIMS, ids=lambda c: str(c["id"]))
def test_every_claim_is_readable_from_its_source(c):
    where = f"{c['doc']} code cell {c['cell']}"
    assert isinstance(c["id"], str), f"{where}: the id is not a literal string"
    assert isinstance(c["text"], str) and c["text"].strip(), f"{where}: claim {c['id']}: the text is not a literal string"
    assert isinstance(c["domain"], str) and c["domain"].strip(), f"{where}: claim {c['id']}: no literal domain"
    assert c["check"] in CHECKS, f"{where}: claim {c['id']}: check {c['check']!r}"


def test_claim_ids_are_unique():
    ids = [c["id"] for c in CLAIMS]
    assert sorted({i for i in ids if ids.count(i) > 1}) == []


def test_every_theorem_has_a_property_test():
    tests = prompticl_claims.property_tests(ROOT)
    missing = [c["id"] for c in CLAIMS if c["check"] == "theorem" and c["id"] not in tests]
    assert missing == [], f"theorem claims whose id no unit test's 'Claims:' line names: {missing}"


def test_property_tests_name_only_existing_claims():
    ids = {c["id"] for c in CLAIMS}
    stale = sorted(set(prompticl_claims.property_tests(ROOT)) - ids)
    assert stale == [], f"'Claims:' lines naming no claim of the book: {stale}"


def test_the_page_lists_every_claim_with_its_domain_and_link():
    page = prompticl_claims.claims_markdown(ROOT)
    rows = page.split("\n* - ")
    for c in CLAIMS:
        row = next((r for r in rows if f"`{c['id']} <" in r), None)
        assert row is not None, c["id"]
        assert f"*Domain:* {c['domain']}" in row and c["text"] in row and ("{ref}" in row or "{doc}" in row)
    assert page.startswith(f"{len(CLAIMS)} claims on ")


def test_the_page_is_in_the_table_of_contents_with_its_marker():
    from prompticl._figures import toc_files

    assert prompticl_claims.CLAIMS_DOCNAME in toc_files(ROOT)
    assert prompticl_claims.MARKER in (ROOT / "book" / "claims.md").read_text(encoding="utf-8")


def test_calls_are_found_in_notebooks_and_text_notebooks(tmp_path):
    src = 'x = 1\nclaim("a-b", x == 1, "one", numbers={"x": x}, domain="here", check="theorem")\npc.claim("c", True, "t", domain="d")\n'
    got = prompticl_claims.claims_in_source(src)
    assert [(c["id"], c["text"], c["domain"], c["check"]) for c in got] == [("a-b", "one", "here", "theorem"), ("c", "t", "d", "grid")]
    assert prompticl_claims.claims_in_source('claim(name, True, f"{x}", domain="d")')[0]["id"] is None
    md = tmp_path / "p.md"
    md.write_text('(lab)=\n# T\n\n```{code-cell} ipython3\n:tags: [hide-input]\n%matplotlib inline\nclaim("z", 1, "t", domain="d")\n```\n')
    assert [k for k, _ in prompticl_claims._cells(md)] == ["markdown", "code", "markdown"]


@pytest.mark.slow  # more than a second: make test only
def test_the_student_edition_lists_no_claim_of_a_solution():
    """Claims made in a solution's cells (between solution-start and solution-end) would give the
    answer away: the student edition's page leaves them out; the full edition lists them."""
    in_solutions = [c["id"] for c in CLAIMS if c["solution"]]
    assert "ex-setting-wide-values" in in_solutions and "in-brief-ordering" not in in_solutions  # control
    students = prompticl_claims.claims_markdown(ROOT, students=True)
    full = prompticl_claims.claims_markdown(ROOT)
    for cid in in_solutions:
        assert f"`{cid} <" not in students and f"`{cid} <" in full
