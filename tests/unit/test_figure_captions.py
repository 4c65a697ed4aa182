"""Every chapter figure is a numbered MyST-NB figure whose caption ends with the command that
regenerates it, and the plotting conventions of ``prompticl._plotting`` hold.

The mechanism (CONTRIBUTING.md, "Chapter conventions"): the code cell that draws a figure calls
``save_figure(fig, "NAME", ...)`` and carries the cell metadata
``mystnb: {figure: {name: fig-NAME, caption: "... Regenerate with `prompticl figures NAME ...`."}}``.
This file checks that the three spellings of NAME agree, that NAME is in the figure registry, and
that the command passes the same validation as ``prompticl figures`` (``plan_run``).
"""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import numpy as np
import pytest

from prompticl import _plotting as plotting, _regimes as regimes, regenerate_command
from support import figure_names_in_caption
from prompticl._figures import FigureError, build_registry, parse_cli_value, plan_run
from prompticl._spec import load_spec, spec_names

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = sorted((ROOT / "book").glob("*.ipynb"))
DRAWS = ("errorbar", "fill_between", "ci_halfwidth")


def _saved_names(source: str) -> list[object]:
    """The name argument of every ``save_figure(fig, NAME, ...)`` call (a str, or the AST node)."""
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "save_figure":
            arg = node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "name"), None)
            names.append(arg.value if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else ast.unparse(arg))
    return names


def figure_cells(path: Path):
    """(cell index, source, mystnb figure metadata or None) for every code cell that saves a figure."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        if "save_figure" not in source:
            continue
        try:
            tree_names = _saved_names(source)
        except SyntaxError:  # IPython magics: not a figure cell we can read
            continue
        if tree_names:
            yield i, source, tree_names, cell.get("metadata", {}).get("mystnb", {}).get("figure")


@pytest.fixture(scope="module")
def registry():
    return build_registry(ROOT / "book")


def test_figure_cells_are_found():
    # Control: the chapters do save figures, so an empty result below would be a parsing bug.
    assert sum(1 for p in CHAPTERS for _ in figure_cells(p)) >= 7


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_figure_captions(path, registry):
    problems = []
    for i, source, names, meta in figure_cells(path):
        where = f"{path.name} cell {i}"
        if len(names) != 1 or not isinstance(names[0], str) or names[0] != names[0].strip():
            problems.append(f"{where}: one save_figure call with a literal name per cell, got {names}")
            continue
        name = names[0]
        if name not in registry.figures:
            problems.append(f"{where}: {name!r} is not declared in the notebook metadata prompticl.figures")
        if not meta:
            problems.append(f"{where}: {name!r} has no `mystnb: figure: {{name, caption}}` cell metadata")
            continue
        if meta.get("name") != f"fig-{name}":
            problems.append(f"{where}: figure metadata name {meta.get('name')!r}, expected 'fig-{name}'")
        caption = meta.get("caption", "")
        try:
            commands = figure_names_in_caption(caption)
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
            continue
        if [c[0] for c in commands] != [name]:
            problems.append(f"{where}: caption must end with one 'Regenerate with `prompticl figures {name} ...`', found {commands}")
            continue
        try:
            plan_run(registry, [name], [(k, v) for k, v in commands[0][1]])
        except FigureError as exc:
            problems.append(f"{where}: the caption's command is rejected by prompticl figures: {exc}")
        if any(d in source for d in DRAWS) and "95%" not in caption:
            problems.append(f"{where}: the figure has error bars but the caption does not say they are 95% intervals")
    assert not problems, "\n".join(problems)


def test_regenerate_command_round_trips(registry):
    params = {"seed": 3, "ns": [5, 10, 20], "spec_name": "nonzero-mean", "flag": True, "x": 0.5}
    command = regenerate_command("some-figure", params)
    (name, parsed), = figure_names_in_caption(f"A caption. Regenerate with `{command}`.")
    assert name == "some-figure"
    assert {k: parse_cli_value(v) for k, v in parsed} == params
    with pytest.raises(ValueError):
        figure_names_in_caption("Regenerate with `prompticl figures fig -q 1`.")


def test_caption_command_is_validated(registry):
    # A wrong parameter in a caption is caught the way the CLI would catch it.
    name = next(iter(registry.figures))
    with pytest.raises(FigureError):
        plan_run(registry, [name], [("no_such_parameter", "1")])


@pytest.mark.slow  # more than a second: make test only
def test_ci_halfwidth_is_the_95_percent_normal_interval():
    from scipy.stats import norm

    se = np.array([0.0, 0.5, 2.0])
    assert np.allclose(plotting.ci_halfwidth(se), norm.ppf(0.975) * se, rtol=1e-12, atol=0)
    assert plotting.ci_halfwidth(1.0) == pytest.approx(1.96, abs=5e-4)
    assert plotting.CI_LEVEL == 0.95 and "95%" in plotting.ERROR_BAR_NOTE


def test_colours_and_titles():
    assert plotting.REGIME_TITLES is regimes.REGIME_TITLES  # one source, not a copy
    assert set(plotting.REGIME_COLORS) == set(regimes.REGIME_TITLES)
    regime = {c.lower() for c in plotting.REGIME_COLORS.values()}
    tasks = [c.lower() for c in plotting.TASK_COLORS]
    assert not regime & set(tasks), "a task colour is also a regime colour"
    assert len(set(tasks)) == len(tasks) and len(regime) == len(plotting.REGIME_COLORS)
    assert plotting.task_color(0) == plotting.TASK_COLORS[0]
    assert plotting.task_color(len(tasks)) == plotting.TASK_COLORS[0]


def test_every_builtin_spec_has_a_title():
    titles = {name: load_spec(name).title for name in spec_names()}
    assert all(t.strip() for t in titles.values()), f"specs without a title: {[n for n, t in titles.items() if not t.strip()]}"
    assert len(set(titles.values())) == len(titles), "two specs share a title"
    assert all(plotting.spec_title(load_spec(n)) == t for n, t in titles.items())


# One error-bar convention (issue 21): every interval the book prints is a 95% interval and says so.
# A "±" in a stored output is followed, on its line, by "95%"; no output, caption or prose gives a
# one-standard-error interval. (Distances in standard errors, "1.6 s.e. away", are z-scores, not
# intervals, and stay.)
PLUS_MINUS = re.compile(r"±\s*[0-9]")
ONE_SE = re.compile(r"\(\s*1\s*(s\.e\.|SE\b|se\b|sd\b|std)|\bone standard error|±\s*1\s*(s\.e\.|SE\b|standard error)|(?<![\d.])68\s*%\s*(interval|confidence|CI)", re.I)


def _book_texts():
    """(where, kind, text) of every markdown cell, caption and stored text output of the chapters,
    and of every markdown page."""
    for path in sorted((ROOT / "book").glob("*.ipynb")):
        for i, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"]):
            where = f"{path.name} cell {i}"
            if cell["cell_type"] == "markdown":
                yield where, "prose", "".join(cell["source"])
                continue
            caption = (cell.get("metadata", {}).get("mystnb", {}).get("figure") or {}).get("caption")
            if caption:
                yield where, "caption", caption
            for output in cell.get("outputs", []):
                texts = ["".join(output.get("text", ""))]
                texts += ["".join(v) if isinstance(v, list) else str(v)
                          for k, v in output.get("data", {}).items() if k in ("text/plain", "text/markdown")]
                for text in texts:
                    yield where, "output", text
    for path in sorted((ROOT / "book").glob("*.md")):
        yield path.name, "prose", path.read_text(encoding="utf-8")


def test_one_error_bar_convention():
    intervals, problems = 0, []
    for where, kind, text in _book_texts():
        for m in ONE_SE.finditer(text):
            problems.append(f"{where} ({kind}): a one-standard-error interval: {text[max(0, m.start() - 40):m.end() + 10]!r}")
        if kind != "output":
            continue
        for line in text.splitlines():
            for m in PLUS_MINUS.finditer(line):
                intervals += 1
                rest = PLUS_MINUS.split(line[m.end():], maxsplit=1)[0]
                if "95%" not in rest:
                    problems.append(f"{where}: an interval without its level (print ± ci_halfwidth(se) (95%)): {line.strip()!r}")
    assert intervals >= 10, f"only {intervals} printed intervals found: the check checks nothing"
    assert not problems, "\n".join(problems)
