"""The student edition's transform (_ext/prompticl_site.py) on a two-page Sphinx project: it drops
instructor notes and solutions, and only in the student edition (no kernel: markdown pages only)."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from sphinx.cmd.build import build_main

ROOT = Path(__file__).resolve().parents[2]

PAGE = """# A session

- **Discuss**
  1. Why is the sky blue?

:::{admonition} Instructor notes
:class: instructor-notes dropdown
1. Rayleigh scattering, a hidden note for the lecturer.
:::

:::{admonition} Summary
:class: summary
A summary every reader sees.
:::

```{exercise} Sky
:label: ex-sky
Explain the colour.
```

```{solution} ex-sky
The solution text of the sky.
```
"""


def _build(tmp_path: Path, monkeypatch, edition: str) -> str:
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / "conf.py").write_text(
        f"import sys\nsys.path.insert(0, {str(ROOT / '_ext')!r})\n"
        "extensions = ['myst_parser', 'sphinx_exercise', 'prompticl_site']\n"
        "myst_enable_extensions = ['colon_fence']\n"
    )
    (src / "index.md").write_text(PAGE)
    monkeypatch.setenv("PROMPTICL_EDITION", edition)
    out = tmp_path / f"out-{edition or 'full'}"
    assert build_main(["-q", "-E", "-b", "html", str(src), str(out)]) == 0
    text = (out / "index.html").read_text(encoding="utf-8") + (out / "searchindex.js").read_text(encoding="utf-8")
    return text


@pytest.fixture(autouse=True)
def _fresh_extension():
    sys.modules.pop("prompticl_site", None)
    yield
    sys.modules.pop("prompticl_site", None)


def test_full_edition_keeps_instructor_notes_and_solutions(tmp_path, monkeypatch):
    html = _build(tmp_path, monkeypatch, "")
    assert "instructor-notes" in html and "Rayleigh scattering" in html
    assert "solution text of the sky" in html and "A summary every reader sees" in html


def test_student_edition_drops_them(tmp_path, monkeypatch):
    html = _build(tmp_path, monkeypatch, "students")
    assert "Rayleigh" not in html and not re.search(r'class="[^"]*instructor-notes', html)
    assert "solution text" not in html
    # Control: the rest of the page is there.
    assert "A summary every reader sees" in html and "Explain the colour" in html and "sky blue" in html
