"""Printed text spells the book's accented symbols without combining characters (issue 21).

A combining accent (U+0300-U+036F: the bar of Σ̄, the tilde of Σ̃, the bar of μ̄) is drawn over
whatever the font puts before it: in the site's and the PDF's monospaced outputs it lands on the
next space ("tr Σ¯= 17.000"). Printed checks use plain names (``Sigma_bar``, ``Sigma_tilde``,
``mu_bar``); the maths in the prose uses TeX (``\\bar\\Sigma``, ``\\widetilde{\\Sigma}``).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COMBINING = re.compile("[\u0300-\u036f]")


def _outputs(nb_path: Path):
    """(cell number, text) of every stored output of a notebook: streams, text and HTML."""
    for number, cell in enumerate(json.loads(nb_path.read_text(encoding="utf-8"))["cells"], start=1):
        for output in cell.get("outputs", []):
            texts = ["".join(output.get("text", ""))]
            texts += ["".join(v) if isinstance(v, list) else str(v)
                      for k, v in output.get("data", {}).items() if k.startswith("text/")]
            texts += ["".join(output.get("traceback", []))]
            for text in texts:
                yield number, text


def test_no_stored_output_has_a_combining_character():
    notebooks = sorted((ROOT / "book").glob("*.ipynb"))
    assert len(notebooks) >= 9
    seen = 0
    bad = []
    for nb_path in notebooks:
        for number, text in _outputs(nb_path):
            seen += bool(text)
            for m in COMBINING.finditer(text):
                start = max(0, m.start() - 25)
                bad.append(f"{nb_path.name}, cell {number}: {text[start:m.end() + 15]!r}")
    assert seen > 50, f"only {seen} stored outputs found: the check checks nothing"
    assert not bad, "combining characters in stored outputs (print plain names such as Sigma_bar):\n" + "\n".join(bad[:20])


# The site numbers chapters 1-9 ("7. Experiments"); text that calls one "chapter 07" (its file
# name) points the reader at a number the book does not show (issue 21).
ZERO_PADDED = re.compile(r"\b[Cc]hapters?\s+0[0-9]")


def test_chapters_are_named_by_the_site_numbers():
    sources = [*sorted((ROOT / "book").glob("*.md")), *sorted((ROOT / "book").glob("*.ipynb")),
               *sorted((ROOT / "src" / "prompticl").rglob("*.py")), *sorted((ROOT / "grids").glob("*.y*ml")),
               ROOT / "README.md", ROOT / "CONTRIBUTING.md"]
    assert len(sources) > 30
    bad = []
    for path in sources:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".ipynb":  # markdown, code (shown on the site), captions and text outputs
            cells = json.loads(text)["cells"]
            text = "\n".join(json.dumps(cell, ensure_ascii=False) for cell in cells)
        bad += [f"{path.relative_to(ROOT)}: {text[max(0, m.start() - 40):m.end() + 20]!r}" for m in ZERO_PADDED.finditer(text)]
    assert not bad, "chapters named by their file number (write 'chapter 7', as the site numbers it):\n" + "\n".join(bad[:20])


def test_no_caption_or_prose_has_a_combining_character():
    """Captions and prose write Σ̄ and Σ̃ in TeX: as text, the site's font draws the combining tilde
    so faint at 1x that "tr Σ̃" in a caption reads as "tr Σ" (seen at 390 px, chapter 4)."""
    bad, captions = [], 0
    for nb_path in sorted((ROOT / "book").glob("*.ipynb")):
        for number, cell in enumerate(json.loads(nb_path.read_text(encoding="utf-8"))["cells"], start=1):
            caption = (cell.get("metadata", {}).get("mystnb", {}).get("figure") or {}).get("caption", "")
            captions += bool(caption)
            texts = [caption] + (["".join(cell["source"])] if cell["cell_type"] == "markdown" else [])
            bad += [f"{nb_path.name}, cell {number}: {t[max(0, m.start() - 25):m.end() + 10]!r}"
                    for t in texts for m in COMBINING.finditer(t)]
    for md in sorted((ROOT / "book").glob("*.md")):
        text = md.read_text(encoding="utf-8")
        bad += [f"{md.name}: {text[max(0, m.start() - 25):m.end() + 10]!r}" for m in COMBINING.finditer(text)]
    assert captions >= 10, f"only {captions} figure captions found"
    assert not bad, "combining characters in captions or prose (write $\\widetilde{\\Sigma}$):\n" + "\n".join(bad)
