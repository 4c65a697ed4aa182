"""The formula sheet (book/at-a-glance.md) reads without the book: it states the Wishart identity,
and every result it cites by number is also named, with the name the chapter gives it."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "book" / "at-a-glance.md"


def titles() -> dict[str, str]:
    """label -> title of every sphinx-proof directive in the chapters."""
    found = {}
    for nb in (ROOT / "book").glob("*.ipynb"):
        for cell in json.loads(nb.read_text(encoding="utf-8"))["cells"]:
            for title, label in re.findall(r"```\{prf:\w+\} *([^\n]*)\n:label: (\S+)", "".join(cell["source"])):
                found[label] = " ".join(title.split())
    return found


def unnamed_references(text: str) -> list[str]:
    names = titles()
    missing = []
    for match in re.finditer(r"\{prf:ref\}`([^`<]+)`", text):
        label = match[1]
        after = " ".join(text[match.end():match.end() + 160].split())
        if f"*{names.get(label, '?')}" not in after:
            missing.append(label)
    return missing


def test_every_cited_result_is_named():
    text = PAGE.read_text(encoding="utf-8")
    assert len(re.findall(r"\{prf:ref\}", text)) >= 10
    assert not unnamed_references(text), unnamed_references(text)


def test_a_bare_number_is_caught():
    # Control: drop one name and the check reports that reference.
    text = PAGE.read_text(encoding="utf-8").replace(" (*Optimal plain training*, chapter 2)", "")
    assert unnamed_references(text) == ["thm-plain-optimum"]


def test_wishart_identity_on_the_sheet_is_true():
    text = " ".join(PAGE.read_text(encoding="utf-8").split())
    assert r"\mathbb E[SAS] = n(n+1)\,A + n\operatorname{tr}(A)\, I" in text
    assert r"\mathbb E[SAS] = n(n+1)\,\Sigma A\Sigma + n\operatorname{tr}(A\Sigma)\,\Sigma" in text
    # The identity itself, by simulation (rows N(0, Σ)), so a wrong coefficient on the sheet would show.
    rng = np.random.default_rng(0)
    n, d, reps = 4, 3, 200_000
    a = rng.standard_normal((d, d)); a = a + a.T  # noqa: E702
    l = rng.standard_normal((d, d)); sigma = l @ l.T + np.eye(d)  # noqa: E702,E741
    x = rng.standard_normal((reps, n, d)) @ np.linalg.cholesky(sigma).T
    s = np.einsum("rni,rnj->rij", x, x)
    mc = np.einsum("rij,jk,rkl->il", s, a, s) / reps
    exact = n * (n + 1) * sigma @ a @ sigma + n * np.trace(a @ sigma) * sigma
    assert np.abs(mc - exact).max() / np.abs(exact).max() < 0.02
    wrong = n * n * sigma @ a @ sigma + n * np.trace(a @ sigma) * sigma  # control: n² instead of n(n+1)
    assert np.abs(mc - wrong).max() / np.abs(exact).max() > 0.05
