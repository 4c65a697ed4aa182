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
