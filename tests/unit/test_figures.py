"""The figure registry and parameter validation behind ``prompticl figures`` (``prompticl.figures``).

Nothing here executes a notebook: these read the tiny fixture book ``tests/book/fixtures/book`` and
the real book's metadata.  Runs are tested in ``tests/book/test_figures_run.py``.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from support import FIXTURES, cli, snapshot
from prompticl.figures import (
    FigureError,
    build_registry,
    coerce,
    load_chapter,
    parse_parameters_cell,
)

ROOT = Path(__file__).resolve().parents[2]
REAL_BOOK = ROOT / "book"
FORMATS = ("svg", "png", "pdf", "json")


def test_parameters_cell_names_defaults_types_meanings():
    src = (
        "seed = 0  # RNG seed\n"
        "scale = -1.5  # a negative float\n"
        "# meaning from the comment above\n"
        "name = 'x'\n"
        "ns = [\n    5,\n    10,  # multi-line list\n]\n"
        "flag: bool = True  # annotated\n"
        "maybe = None  # anything goes\n"
        "empty = []  # untyped items\n"
    )
    params = parse_parameters_cell(src)
    assert list(params) == ["seed", "scale", "name", "ns", "flag", "maybe", "empty"]
    got = {n: (p.default, p.type, p.meaning, p.item_type) for n, p in params.items()}
    assert got == {
        "seed": (0, "int", "RNG seed", None),
        "scale": (-1.5, "float", "a negative float", None),
        "name": ("x", "str", "meaning from the comment above", None),
        "ns": ([5, 10], "list", "multi-line list", "int"),
        "flag": (True, "bool", "annotated", None),
        "maybe": (None, "any", "anything goes", None),
        "empty": ([], "list", "untyped items", None),
    }


@pytest.mark.parametrize(
    "src, fragment",
    [
        ("import numpy as np\n", "only 'name = literal'"),
        ("x = np.arange(3)  # computed\n", "not a literal"),
        ("a, b = 1, 2\n", "only 'name = literal'"),
        ("x = (\n", "does not parse"),
        ("x = {1, 2}\n", "unsupported type"),
    ],
)
def test_parameters_cell_rejects_non_literals(src, fragment):
    with pytest.raises(FigureError, match=fragment.replace("(", r"\(")):
        parse_parameters_cell(src, "nb.ipynb")


@pytest.mark.parametrize(
    "type_, item, value, raw, expected",
    [
        ("float", None, 3, "3", 3.0),  # int accepted where float is declared
        ("int", None, 3, "3", 3),
        ("str", None, 3, "3", "3"),  # str parameters take the text as is
        ("bool", None, False, "false", False),
        ("list", "int", "5,10", "5,10", [5, 10]),
        ("list", "float", [1, 2.5], "[1, 2.5]", [1.0, 2.5]),
        ("list", "str", "a,b", "a,b", ["a", "b"]),
        ("list", None, ["x", 1], None, ["x", 1]),
        ("float", None, "1e-3", "1e-3", 0.001),  # YAML 1.1 would read this as a string
        ("list", "float", "1e-3", "1e-3,2", [0.001, 2.0]),
        ("list", "int", 5, "5", [5]),  # one item is a list of one on the command line
    ],
)
def test_coerce_accepts(type_, item, value, raw, expected):
    from prompticl.figures import Parameter

    got = coerce(Parameter("p", None, type_, "", item), value, raw)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize(
    "type_, item, value",
    [
        ("int", None, 1.5),
        ("int", None, True),  # bool is not an int here
        ("float", None, "abc"),
        ("float", None, float("nan")),
        ("bool", None, 1),
        ("list", None, 5),
        ("list", "int", [1, 2.5]),
        ("str", None, 5),  # from a YAML file (no raw text): type-checked
    ],
)
def test_coerce_rejects(type_, item, value):
    from prompticl.figures import Parameter

    with pytest.raises(FigureError, match="parameter 'p' expects"):
        coerce(Parameter("p", None, type_, "", item), value)


# ----------------------------------------------------------------------------------------------
# Registry and listing


def test_registry_from_fixture_book():
    reg = build_registry(FIXTURES)
    assert list(reg.chapters) == ["alpha", "beta"]  # notes.ipynb declares no figures
    assert list(reg.figures) == ["alpha-bars", "alpha-lines", "beta-curve"]
    assert reg.figures["alpha-bars"].chapter == "alpha"
    alpha = reg.chapters["alpha"]
    assert alpha.title == "Alpha: a fixture chapter"
    assert "figure_dir" in alpha.parameters
    assert [p.name for p in alpha.public_parameters] == ["seed", "scale", "n_points", "ns", "spec_name", "fail_midway"]
    assert alpha.smoke_parameters == {"n_points": 3}
    assert reg.chapters["beta"].parameters["offset"].meaning == "shift added to every value"


def test_registry_follows_the_table_of_contents(tmp_path):
    book = tmp_path / "book"
    book.mkdir()
    for name in ("alpha", "beta"):
        (book / f"{name}.ipynb").write_text((FIXTURES / f"{name}.ipynb").read_text())
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n  - file: book/beta\n")
    assert list(build_registry(book).chapters) == ["beta", "alpha"]  # alpha is not in the toc: last


def test_list_text_shows_chapters_figures_defaults_meanings(capsys):
    status, out, err = cli(capsys, "--list")
    assert status == 0 and err == ""
    for text in ("alpha — Alpha: a fixture chapter", "alpha-lines", "one noisy line per entry of ns", "beta-curve",
                 "seed (int) = 0", "RNG seed for the sample", 'spec_name (str) = "zero-mean"', "ns (list) = [2, 4]",
                 "offset (float) = 0.0", "shift added to every value"):
        assert text in out, text
    assert "figure_dir" not in out  # set by the command itself, hidden


def test_list_json(capsys):
    status, out, err = cli(capsys, "--list", "--json")
    assert status == 0 and err == ""
    items = json.loads(out)
    assert [i["name"] for i in items] == ["alpha-bars", "alpha-lines", "beta-curve"]
    assert [i["chapter"] for i in items] == ["alpha", "alpha", "beta"]
    beta = items[2]
    assert beta["parameters"] == [
        # beta declares no range for seed: the default for the name applies (prompticl.figures.ranges)
        {"name": "seed", "type": "int", "default": 1, "meaning": "RNG seed", "range": "0 .. 4294967295"},
        {"name": "offset", "type": "float", "default": 0.0, "meaning": "shift added to every value",
         "range": "-1000000 .. 1000000"},
    ]
    assert all("figure_dir" not in [p["name"] for p in i["parameters"]] for i in items)


@pytest.mark.parametrize(
    "mutate, fragment",
    [
        (lambda nb: nb["cells"][1]["metadata"].update(tags=[]), "must be tagged 'parameters'"),
        (lambda nb: nb["cells"][1].update(source="seed = 0  # s\n"), "must declare figure_dir"),
        (lambda nb: nb["cells"][1].update(source="seed = f(0)\nfigure_dir = ''\n"), "not a literal"),
    ],
)
def test_registry_rejects_chapters_that_break_conventions(tmp_path, mutate, fragment):
    nb = json.loads((FIXTURES / "beta.ipynb").read_text())
    mutate(nb)
    (tmp_path / "bad.ipynb").write_text(json.dumps(nb))
    with pytest.raises(FigureError, match=fragment):
        load_chapter(tmp_path / "bad.ipynb")


def test_registry_rejects_duplicate_figure_names(tmp_path):
    for name in ("one", "two"):
        (tmp_path / f"{name}.ipynb").write_text((FIXTURES / "beta.ipynb").read_text())
    with pytest.raises(FigureError, match="'beta-curve' is declared by both one and two"):
        build_registry(tmp_path)


# ----------------------------------------------------------------------------------------------
# Bad input: exit 2, one line, nothing written, existing DIR untouched


BAD_INPUTS = [
    (["no-such-figure"], "unknown figure 'no-such-figure'"),
    (["beta-curve", "-p", "bogus", "1"], "unknown parameter 'bogus'"),
    (["beta-curve", "-p", "scale", "2"], "unknown parameter 'scale'"),  # alpha's, but alpha is not run
    (["alpha-lines", "-p", "seed", "abc"], "parameter 'seed' of chapter alpha expects an int, got 'abc'"),
    (["alpha-lines", "-p", "seed", "1.5"], "expects an int"),
    (["alpha-lines", "-p", "scale", "yes"], "parameter 'scale' of chapter alpha expects a float"),
    (["alpha-lines", "-p", "ns", "[1, x]"], "expects a list of int, item 1 is 'x'"),
    (["alpha-lines", "-p", "fail_midway", "2"], "expects a bool"),
    (["alpha-lines", "-p", "spec_name", "no-such-spec"], "invalid spec for parameter 'spec_name' of chapter alpha"),
    (["alpha-lines", "-p", "figure_dir", "/tmp"], "set by 'prompticl figures' itself"),
    ([], "name at least one figure"),
    (["--all", "beta-curve"], "not both"),
    (["beta-curve", "--jobs", "0"], "expected an integer >= 1"),
]


@pytest.mark.parametrize("argv, fragment", BAD_INPUTS, ids=[" ".join(a) or "nothing" for a, _ in BAD_INPUTS])
def test_bad_input_exit_2_one_line_nothing_written(capsys, tmp_path, monkeypatch, argv, fragment):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "existing"
    out.mkdir()
    (out / "keep.txt").write_text("old results")
    before = snapshot(tmp_path)
    status, stdout, stderr = cli(capsys, *argv, "--out", str(out), "--force")
    assert status == 2
    assert stdout == ""
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("prompticl: error: "), stderr
    assert fragment in lines[0]
    assert snapshot(tmp_path) == before  # DIR untouched, no temporary folder left


def test_bad_input_without_out_creates_nothing(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, _, stderr = cli(capsys, "alpha-lines", "-p", "seed", "x")
    assert status == 2 and len(stderr.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []  # not even _build/


def test_invalid_spec_file_is_one_line(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("d: 2\ntasks:\n  - {weight: 0.5, mean: 0, cov: 1}\n")  # weights do not sum to one
    status, stdout, stderr = cli(capsys, "alpha-lines", "-p", "spec_name", str(bad), "--out", str(tmp_path / "o"))
    assert status == 2 and stdout == ""
    assert len(stderr.splitlines()) == 1 and "invalid spec for parameter 'spec_name'" in stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "content, fragment",
    [
        ("seed: [unclosed\n", "does not parse"),
        ("- 1\n- 2\n", "must be a mapping"),
        ("bogus: 1\n", "unknown parameter 'bogus' in the parameters file"),
        ("seed: one\n", "parameter 'seed' of chapter beta expects an int"),
        ("alpha: {seed: two}\n", "parameter 'seed' of chapter alpha expects an int"),  # checked, though not run
        ("beta: {scale: 2}\n", "unknown parameter 'scale' in the parameters file section beta"),
    ],
)
def test_bad_params_file(capsys, tmp_path, content, fragment):
    params = tmp_path / "params.yaml"
    params.write_text(content)
    status, stdout, stderr = cli(capsys, "beta-curve", "-f", str(params), "--out", str(tmp_path / "o"))
    assert status == 2 and stdout == "" and len(stderr.splitlines()) == 1
    assert fragment in stderr
    assert not (tmp_path / "o").exists()


def test_existing_nonempty_out_is_refused_without_force(capsys, tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    status, _, stderr = cli(capsys, "beta-curve", "--out", str(out))
    assert status == 2 and "pass --force" in stderr and len(stderr.splitlines()) == 1
    assert snapshot(out) == {"keep.txt": b"x"}


# ----------------------------------------------------------------------------------------------
# Runs on the fixture book


def test_real_book_registry_follows_the_conventions():
    reg = build_registry(REAL_BOOK)  # raises on any chapter that breaks them
    for chapter in reg.chapters.values():
        assert chapter.figures, chapter.name
        for key in chapter.smoke_parameters:
            assert key in chapter.parameters and key != "figure_dir", (chapter.name, key)


