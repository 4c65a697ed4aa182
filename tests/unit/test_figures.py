"""The figure registry and parameter validation behind ``prompticl figures`` (``prompticl._figures``).

Nothing here executes a notebook: these read the tiny fixture book ``tests/book/fixtures/book`` and
the real book's metadata.  Runs are tested in ``tests/book/test_figures_run.py``.
"""
from __future__ import annotations

import json
import re
import os
import shutil
import sys
from pathlib import Path

import pytest

from support import FIXTURES, cli, snapshot
from prompticl.cli import main
from prompticl._figures import (
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
    from prompticl._figures import Parameter

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
    from prompticl._figures import Parameter

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


def test_toc_files_reads_the_toc_as_jupyter_book_does(tmp_path):
    from prompticl._figures import toc_files

    toc = tmp_path / "_toc.yml"
    toc.write_text("format: jb-book\nroot: book/intro\nparts:\n  - caption: A\n    chapters:\n      - file: book/a.ipynb\n"
                   "        sections:\n          - file: book/a1\n      - file: book/b\n  - caption: B\n    chapters:\n"
                   "      - file: book/c.md\n")
    assert toc_files(tmp_path) == ["book/intro", "book/a", "book/a1", "book/b", "book/c"]  # reading order
    toc.write_text("format: jb-book\nchapters:\n  - file: book/a\n")  # no root: Jupyter Book refuses it too
    with pytest.raises(FigureError, match=r"^table of contents: .*'root'"):
        toc_files(tmp_path)


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
        # beta declares no range for seed: the default for the name applies (prompticl._figures.ranges)
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
    (out / "provenance.json").write_text("{}")  # an earlier output: --force may replace it
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




# ----------------------------------------------------------------------------------------------
# Parameter ranges (issue 13): declared in the comment, else the default for the name


@pytest.mark.parametrize(
    "text, good, bad",
    [
        (">= 0", [0, 5, 2.5], [-1, -0.5]),
        ("> 0, <= 100", [1e-9, 100], [0, -1, 100.5]),
        ("1 .. 1000", [1, 1000], [0, 1001, -5]),
        (">= 0, < 1", [0, 0.99], [1, 1.5]),
        ("non-empty", ["x", [1]], ["", []]),
        ("len 1 .. 3, 1 .. 10", [[1], [1, 10, 5]], [[], [1, 2, 3, 4], [0], [5, 11]]),
        ("any", [True, False], []),
    ],
)
def test_ranges_accept_and_refuse(text, good, bad):
    from prompticl._figures import parse_range

    rng = parse_range(text)
    assert [v for v in good if rng.problem(v) is not None] == []
    assert [v for v in bad if rng.problem(v) is None] == []


@pytest.mark.parametrize("text", ["1 ..", "5 .. 1", "len > 1", "len 1.5 .. 2", ">= inf", ">= x"])
def test_range_syntax_errors_name_the_chapter(text):
    with pytest.raises(FigureError, match=r"nb\.ipynb: line 1: range of 'x'"):
        parse_parameters_cell(f"x = 1  # a knob [{text}]\nfigure_dir = ''\n", "nb.ipynb")


def test_range_from_comment_overrides_the_default_and_leaves_the_meaning():
    params = parse_parameters_cell(
        "seed = 0  # RNG seed [0 .. 9]\nn_max = 5  # largest n\nz = 1  # see [the paper]\nfigure_dir = ''\n"
    )
    assert (params["seed"].meaning, params["seed"].range.text) == ("RNG seed", "0 .. 9")  # declared
    assert params["n_max"].range.text == "1 .. 1000"  # the default for the name
    assert params["z"].meaning == "see [the paper]" and params["z"].range is None  # not a range, no default


def test_every_parameter_of_the_real_book_has_a_range_holding_its_defaults_and_smoke_values():
    from prompticl._figures import check_range

    reg = build_registry(REAL_BOOK)
    missing = [(c.name, p.name) for c in reg.chapters.values() for p in c.public_parameters if p.range is None]
    assert missing == []
    for chapter in reg.chapters.values():
        for p in chapter.public_parameters:
            check_range(p, p.default, f" of chapter {chapter.name}")  # raises if a default is outside
        for key, value in chapter.smoke_parameters.items():
            check_range(chapter.parameters[key], value, f" of chapter {chapter.name} (smoke)")


RANGE_INPUTS = [
    (["alpha-lines", "-p", "n_points", "0"], "parameter 'n_points' of chapter alpha must be >= 1, got 0; its range is [1 .. 1000]"),
    (["alpha-lines", "-p", "ns", "[]"], "parameter 'ns' of chapter alpha must be of length >= 1, got []"),
    (["alpha-lines", "-p", "ns", "0,-3"], "parameter 'ns' of chapter alpha: item 0 must be >= 1, got 0"),
    (["alpha-lines", "-p", "spec_name", ""], "parameter 'spec_name' of chapter alpha must be non-empty"),
    (["beta-curve", "-p", "seed", "-1"], "parameter 'seed' of chapter beta must be >= 0, got -1"),  # the default range
    (["alpha-lines", "-p", "seed", "9" * 5000], "a number with 5000 digits is too large"),
    (["alpha-lines", "-p", "seed", "2001-13-45"], "-p seed, line 1, column 1: cannot read '2001-13-45' as timestamp"),
    (["alpha-lines", "-p", "seed", "!!int abc"], "cannot read 'abc' as int"),
    (["alpha-lines", "--timeout", "30.5"], "(whole seconds)"),
]


@pytest.mark.parametrize("argv, fragment", RANGE_INPUTS, ids=[" ".join(a)[:40] for a, _ in RANGE_INPUTS])
def test_out_of_range_and_unreadable_values_are_refused_before_running(capsys, tmp_path, argv, fragment):
    status, stdout, stderr = cli(capsys, *argv, "--out", str(tmp_path / "o"))
    assert status == 2 and stdout == "" and len(stderr.splitlines()) == 1, stderr
    assert fragment in stderr
    assert list(tmp_path.iterdir()) == []


def test_list_shows_ranges(capsys):
    status, out, _ = cli(capsys, "--list")
    assert status == 0
    assert "points per line [1 .. 1000]" in out and "RNG seed [0 .. 4294967295]" in out


@pytest.mark.parametrize(
    "content, fragment",
    [
        ("seed: 2001-13-45\n", "line 1, column 7: cannot read '2001-13-45' as timestamp"),
        ("seed: !!int abc\n", "cannot read 'abc' as int"),
        ("seed: " + "9" * 400 + "\n", "an integer with 400 digits is too large"),
        (b"seed: \xff\n", "line 1: byte 0xff is not UTF-8 text"),
        ("[" * 10000 + "]" * 10000, "nested deeper than"),
        ("seed: 1\nseed: 2\n", "duplicate key 'seed'"),
        ("seed: -1\n", "parameter 'seed' of chapter beta must be >= 0"),
    ],
)
def test_hostile_params_file(capsys, tmp_path, content, fragment):
    params = tmp_path / "params.yaml"
    params.write_bytes(content if isinstance(content, bytes) else content.encode())
    status, stdout, stderr = cli(capsys, "beta-curve", "-f", str(params), "--out", str(tmp_path / "o"))
    assert status == 2 and stdout == "" and len(stderr.splitlines()) == 1, stderr
    assert fragment in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]


def test_hostile_toc_is_one_line(capsys, tmp_path):
    book = tmp_path / "book"
    book.mkdir()
    (book / "beta.ipynb").write_text((FIXTURES / "beta.ipynb").read_text())
    (tmp_path / "_toc.yml").write_text("chapters: " + "[" * 10000 + "]" * 10000 + "\n")
    status = main(["figures", "--list", "--book", str(book)])
    err = capsys.readouterr().err
    assert status == 2 and len(err.splitlines()) == 1 and "table of contents: " in err and "nested deeper" in err


# ----------------------------------------------------------------------------------------------
# Output folder: the book, files, read-only places (refused before anything runs)


def _book_copy(tmp_path: Path) -> Path:
    book = tmp_path / "b"
    book.mkdir()
    for name in ("alpha", "beta"):
        (book / f"{name}.ipynb").write_bytes((FIXTURES / f"{name}.ipynb").read_bytes())
    return book


@pytest.mark.parametrize("where", ["book", "inside", "parent"])
def test_out_that_is_contains_or_is_inside_the_book_is_refused(capsys, tmp_path, where):
    book = _book_copy(tmp_path)
    out = {"book": book, "inside": book / "figs", "parent": tmp_path}[where]
    before = snapshot(tmp_path)
    status = main(["figures", "beta-curve", "--book", str(book), "--out", str(out), "--force", "-q"])
    err = capsys.readouterr().err
    assert status == 2 and len(err.splitlines()) == 1, err
    assert ("contains the book folder" if where == "parent" else "is inside the book folder") in err
    assert snapshot(tmp_path) == before  # the book's notebooks are still there


def test_book_that_is_a_file(capsys, tmp_path):
    (tmp_path / "f").write_text("x")
    status = main(["figures", "--list", "--book", str(tmp_path / "f")])
    out, err = capsys.readouterr()
    assert status == 2 and err == f"prompticl: error: --book {str(tmp_path / 'f')!r} is a file, not a folder\n"
    assert out == "" and [p.name for p in tmp_path.iterdir()] == ["f"]  # (was also a hostile-corpus case)


def _read_only_parent(tmp_path: Path) -> Path:
    """A folder nobody can write into (as root, chmod does not stop writes: sysfs does)."""
    if os.geteuid() == 0:
        if not Path("/sys/kernel").is_dir():
            pytest.skip("no read-only folder for root")
        return Path("/sys")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    return ro


def test_read_only_out_is_exit_2(capsys, tmp_path):
    parent = _read_only_parent(tmp_path)
    status = main(["figures", "--book", str(FIXTURES), "beta-curve", "--out", str(parent / "prompticl-figs"), "-q"])
    err = capsys.readouterr().err
    assert status == 2 and len(err.splitlines()) == 1 and "cannot create the output folder" in err, err
    assert not (parent / "prompticl-figs").exists()


# ----------------------------------------------------------------------------------------------
# The move into place (no notebook runs: the finished temporary folder is made by hand)


def _finished(tmp_path: Path, text: str = "new") -> Path:
    tmp = tmp_path / ".o.tmp-x"
    tmp.mkdir()
    (tmp / "fig.json").write_text(text)
    return tmp


def test_move_refuses_a_folder_that_appeared_during_the_run(tmp_path):
    from prompticl._figures.runner import _move_into_place

    out = tmp_path / "o"
    for force in (False, True):  # absent at the start: nothing there may be replaced, even with --force
        tmp = _finished(tmp_path)
        out.mkdir(exist_ok=True)
        (out / "important.txt").write_text("data")
        with pytest.raises(FigureError, match="appeared while the run was going"):
            _move_into_place(tmp, out, force, None)
        assert (out / "important.txt").read_text() == "data" and sorted(p.name for p in out.iterdir()) == ["important.txt"]
        shutil.rmtree(tmp)


def test_move_refuses_files_added_to_an_empty_out_without_force(tmp_path):
    from prompticl._figures.runner import _identity, _move_into_place

    out = tmp_path / "o"
    out.mkdir()
    start = _identity(out)
    (out / "important.txt").write_text("data")
    with pytest.raises(FigureError, match="files were added since"):
        _move_into_place(_finished(tmp_path), out, False, start)
    assert sorted(p.name for p in out.iterdir()) == ["important.txt"]


def test_move_with_force_replaces_only_the_folder_of_the_start(tmp_path):
    from prompticl._figures.runner import _identity, _move_into_place

    out = tmp_path / "o"
    out.mkdir()
    (out / "old.txt").write_text("old")
    start = _identity(out)
    _move_into_place(_finished(tmp_path), out, True, start)
    assert sorted(p.name for p in out.iterdir()) == ["fig.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]  # nothing moved aside is left
    # the folder was replaced by hand during the run: it is not the one --force allowed to replace
    old_start = _identity(out)
    shutil.rmtree(out)
    out.mkdir()
    (out / "important.txt").write_text("data")
    if _identity(out) != old_start:  # a reused inode number would make the two indistinguishable
        with pytest.raises(FigureError, match="appeared while the run was going"):
            _move_into_place(_finished(tmp_path), out, True, old_start)
        assert sorted(p.name for p in out.iterdir()) == ["important.txt"]


def test_move_into_an_empty_out_of_the_start(tmp_path):
    from prompticl._figures.runner import _identity, _move_into_place

    out = tmp_path / "o"
    out.mkdir()
    _move_into_place(_finished(tmp_path), out, False, _identity(out))
    assert sorted(p.name for p in out.iterdir()) == ["fig.json"]


# --------------------------------------------------------------------------- issue 19: leftovers


def test_run_owned_dirs_hold_connection_files_and_matplotlib_cache(tmp_path, monkeypatch):
    """JUPYTER_RUNTIME_DIR (kernel connection files) and, with a read-only HOME, MPLCONFIGDIR point
    into one run-owned folder, removed with the variables restored, also when the run fails."""
    from prompticl._figures.processes import run_owned_dirs

    home = tmp_path / "home"
    home.mkdir()
    home.chmod(0o555)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.delenv("MPLCONFIGDIR", raising=False)
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", "/users/own")
    try:
        with pytest.raises(RuntimeError):
            with run_owned_dirs() as root:
                assert os.environ["JUPYTER_RUNTIME_DIR"] == str(root / "runtime") and (root / "runtime").is_dir()
                if os.access(home, os.W_OK):  # root ignores permissions: HOME is writable then
                    assert "MPLCONFIGDIR" not in os.environ
                else:
                    assert os.environ["MPLCONFIGDIR"] == str(root / "matplotlib")
                (root / "runtime" / "kernel-1.json").write_text("{}")
                raise RuntimeError("the run failed")
    finally:
        home.chmod(0o755)
    assert not root.exists()
    assert os.environ["JUPYTER_RUNTIME_DIR"] == "/users/own" and "MPLCONFIGDIR" not in os.environ


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl(PR_SET_PDEATHSIG) is Linux's")
def test_a_worker_dies_with_its_parent_even_on_sigkill():
    """What worker_init asks for: the parent's SIGKILL (no handler runs) takes the worker with it."""
    import signal
    import subprocess
    import time

    child = ("from prompticl._figures.processes import die_with_parent; import time; "
             "assert die_with_parent(); print('ready', flush=True); time.sleep(60)")
    parent = ("import subprocess, sys, time; c = subprocess.Popen([sys.executable, '-c', %r]); "
              "print(c.pid, flush=True); time.sleep(60)" % child)
    proc = subprocess.Popen([sys.executable, "-c", parent], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    worker = int(proc.stdout.readline())
    assert proc.stdout.readline().strip() == "ready"  # the worker's line, on the same pipe
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    deadline = time.monotonic() + 10

    def alive() -> bool:  # gone, or a zombie waiting for its new parent
        try:
            stat = Path(f"/proc/{worker}/stat").read_text()
        except OSError:
            return False
        return stat[stat.rfind(")") + 2] != "Z"

    while alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    still = alive()
    if still:
        os.kill(worker, signal.SIGKILL)
    alive = still
    assert not alive, "the worker outlived its parent's SIGKILL"


@pytest.mark.parametrize("exiting", [False, True])
def test_after_an_interrupt_the_signals_stay_ignored_when_the_process_is_ending(exiting):
    """A second signal 0.2 s after the first must not kill the command after its one line: with
    ``exiting`` (the command line) the handled signals stay ignored after the interrupt; in-process
    callers get their handlers back."""
    import logging
    import signal

    from prompticl._figures.processes import HANDLED_SIGNALS, Interrupted, signals_interrupt

    before = {s: signal.getsignal(s) for s in HANDLED_SIGNALS}
    try:
        with pytest.raises(Interrupted) as info:
            with signals_interrupt(exiting):
                os.kill(os.getpid(), signal.SIGTERM)
                for _ in range(1000):  # the handler runs between bytecodes
                    pass
        assert info.value.status == 143
        after = {s: signal.getsignal(s) for s in HANDLED_SIGNALS}
        if exiting:
            assert after == {s: signal.SIG_IGN for s in HANDLED_SIGNALS}
            os.kill(os.getpid(), signal.SIGINT)  # the second signal: ignored, nothing raised
        else:
            assert after == before
        # without a signal the handlers always come back
        with signals_interrupt(exiting):
            pass
    finally:
        for s, h in before.items():
            signal.signal(s, h)
        logging.disable(logging.NOTSET)
    assert {s: signal.getsignal(s) for s in HANDLED_SIGNALS} == before


def test_papermills_own_log_lines_are_silenced_while_a_chapter_runs(monkeypatch, capsys, tmp_path):
    """``--timeout 1``: nbclient logs 'Timeout waiting for execute reply' through papermill's
    logger before the failure reaches us; only our one line may be printed."""
    import logging

    import papermill as pm

    from prompticl._figures import ChapterFailed, run_chapter

    def execute(*args, **kwargs):
        logging.getLogger("papermill").error("Timeout waiting for execute reply (1s).")
        raise TimeoutError("A cell timed out")

    import io

    monkeypatch.setattr(pm, "execute_notebook", execute)
    seen = io.StringIO()  # what the command line's last-resort handler would print on stderr
    handler = logging.StreamHandler(seen)
    logging.getLogger("papermill").addHandler(handler)
    try:
        with pytest.raises(ChapterFailed, match="chapter c failed: TimeoutError: A cell timed out"):
            run_chapter(str(tmp_path / "c.ipynb"), "c", {}, str(tmp_path), str(tmp_path / "x.ipynb"), "[1/1] c")
    finally:
        logging.getLogger("papermill").removeHandler(handler)
    assert seen.getvalue() == "" and capsys.readouterr().err == ""
    assert not logging.getLogger("papermill").disabled  # as it was, afterwards


def test_a_long_chapter_allowed_by_allow_long_reports_the_time_left(monkeypatch, capsys, tmp_path):
    """With an estimate (a chapter beyond the budget, run with --allow-long) each progress line
    gives the estimated time left; without one the lines are as before."""
    import papermill as pm

    from prompticl._figures import run_chapter

    def execute(*args, progress_report=None, **kwargs):
        progress_report("[chapter 1/1] c: cell 1/2")

    monkeypatch.setattr(pm, "execute_notebook", execute)
    args = (str(tmp_path / "c.ipynb"), "c", {}, str(tmp_path), str(tmp_path / "x.ipynb"), "[chapter 1/1] c")
    run_chapter(*args, estimate=1800.0)
    assert re.fullmatch(r"\[chapter 1/1\] c: cell 1/2 \(about 30 minutes left\)\n", capsys.readouterr().err)
    run_chapter(*args, estimate=1e-9)
    assert capsys.readouterr().err == "[chapter 1/1] c: cell 1/2 (longer than estimated)\n"
    run_chapter(*args)
    assert capsys.readouterr().err == "[chapter 1/1] c: cell 1/2\n"
