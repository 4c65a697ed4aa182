"""Tests of ``prompticl figures`` and the registry behind it (``prompticl.figures``).

Most tests run the tiny fixture book ``tests/fixtures/book`` (two chapters, about a second each);
one runs a real chapter of the book with its smoke parameters.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from prompticl.cli import main
from prompticl.figures import (
    FigureError,
    build_registry,
    coerce,
    load_chapter,
    parse_parameters_cell,
)

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "book"
REAL_BOOK = ROOT / "book"
FORMATS = ("svg", "png", "pdf", "json")


def cli(capsys, *argv):
    """Run ``prompticl figures ARGV`` in-process on the fixture book; return (status, stdout, stderr)."""
    argv = ["figures", "--book", str(FIXTURES), *argv]
    status = main(argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def snapshot(root: Path) -> dict:
    """Every file and folder under ``root`` with its bytes (folders map to None)."""
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


def data(out: Path, name: str) -> dict:
    return json.loads((out / f"{name}.json").read_text())


# ----------------------------------------------------------------------------------------------
# Parsing the parameters cell


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
        {"name": "seed", "type": "int", "default": 1, "meaning": "RNG seed"},
        {"name": "offset", "type": "float", "default": 0.0, "meaning": "shift added to every value"},
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


def test_failure_midway_leaves_out_as_it_was(capsys, tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "keep.txt").write_text("old results")
    before = snapshot(tmp_path)
    status, stdout, stderr = cli(capsys, "alpha-lines", "-p", "fail_midway", "true", "--out", str(out), "--force", "-q")
    assert status == 1 and stdout == ""
    lines = stderr.splitlines()
    assert len(lines) == 1
    assert lines[0] == "prompticl: error: chapter alpha failed at cell 4/6: RuntimeError: fixture failure requested"
    assert snapshot(tmp_path) == before


def test_failure_in_parallel_run_leaves_out_as_it_was(capsys, tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "keep.txt").write_text("old results")
    before = snapshot(tmp_path)
    status, stdout, stderr = cli(capsys, "--all", "-p", "fail_midway", "true", "--jobs", "2", "--out", str(out), "--force", "-q")
    assert status == 1 and stdout == ""
    assert stderr.splitlines() == [
        "prompticl: error: chapter alpha failed at cell 4/6: RuntimeError: fixture failure requested"
    ]
    assert snapshot(tmp_path) == before  # beta's files (if it finished first) went with the temporary folder


def test_failure_midway_creates_no_out(capsys, tmp_path):
    out = tmp_path / "new" / "deeper" / "o"
    status, _, _ = cli(capsys, "alpha-lines", "-p", "fail_midway", "true", "--out", str(out), "-q")
    assert status == 1
    assert list(tmp_path.iterdir()) == []  # the parents this run created are gone too


def test_run_writes_figures_notebook_provenance_and_progress(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, stdout, stderr = cli(capsys, "alpha-lines", "-p", "seed", "3", "-p", "ns", "2,3")
    assert status == 0, stderr
    (out,) = (tmp_path / "_build" / "figures").iterdir()  # the default: a fresh folder
    assert str(out.relative_to(tmp_path)) in stdout
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"alpha-lines.{f}" for f in FORMATS] + ["notebooks", "provenance.json"]
    )  # alpha-bars is drawn by the chapter too, but was not asked for
    assert (out / "alpha-lines.svg").read_text().lstrip().startswith("<?xml")
    assert (out / "alpha-lines.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "alpha-lines.pdf").read_bytes()[:4] == b"%PDF"
    assert sorted(data(out, "alpha-lines")["lines"]) == ["2", "3"]

    prov = json.loads((out / "provenance.json").read_text())
    assert prov["parameters"] == {"alpha": {"seed": 3, "scale": 1.0, "n_points": 5, "ns": [2, 3],
                                            "spec_name": "zero-mean", "fail_midway": False}}
    assert prov["seeds"] == {"alpha": {"seed": 3}}
    assert prov["figures"] == {"alpha": ["alpha-lines"]}
    assert prov["prompticl_version"] == __import__("prompticl").__version__
    assert prov["git_commit"] != ""
    assert prov["specs"]["alpha"]["spec_name"]["builtin"] == "zero-mean"
    assert prov["timings_seconds"]["chapters"]["alpha"] > 0
    assert prov["command"][:3] == ["prompticl", "figures", "alpha-lines"]

    executed = json.loads((out / "notebooks" / "alpha.ipynb").read_text())
    injected = [c for c in executed["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    assert len(injected) == 1 and "seed = 3" in "".join(injected[0]["source"])
    assert ".tmp-" not in json.dumps(executed)  # the temporary folder does not leak into the notebook

    progress = [ln for ln in stderr.splitlines() if ln.startswith("[chapter")]
    assert progress == [f"[chapter 1/1] alpha: cell {i}/6" for i in range(1, 7)]


def test_parameter_change_changes_data_and_rerun_reproduces_it(capsys, tmp_path):
    runs = {}
    for label, extra in (("a", []), ("b", []), ("scaled", ["-p", "scale", "2"])):
        status, _, stderr = cli(capsys, "alpha", *extra, "--out", str(tmp_path / label), "-q")
        assert status == 0, stderr
        runs[label] = tmp_path / label
    for name in ("alpha-lines", "alpha-bars"):
        # Same parameters: identical numbers, byte for byte (JSON and SVG).
        assert (runs["a"] / f"{name}.json").read_bytes() == (runs["b"] / f"{name}.json").read_bytes()
        assert (runs["a"] / f"{name}.svg").read_bytes() == (runs["b"] / f"{name}.svg").read_bytes()
        assert data(runs["scaled"], name) != data(runs["a"], name)
    base, scaled = data(runs["a"], "alpha-lines")["lines"], data(runs["scaled"], "alpha-lines")["lines"]
    assert scaled != base
    for key in base:  # scale multiplies every point: the data change exactly as the parameter says
        assert scaled[key] == pytest.approx([2 * v for v in base[key]], abs=1e-9)


def test_params_file_and_precedence(capsys, tmp_path):
    params = tmp_path / "params.yaml"
    # scale and the alpha section belong to a chapter not being run: accepted (shared files), unused
    params.write_text("seed: 5\noffset: 1\nscale: 3\nbeta:\n  offset: 10\nalpha:\n  seed: 4\n")
    status, _, stderr = cli(capsys, "beta-curve", "-f", str(params), "-p", "seed", "6", "--out", str(tmp_path / "o"), "-q")
    assert status == 0, stderr
    prov = json.loads((tmp_path / "o" / "provenance.json").read_text())
    assert prov["parameters"] == {"beta": {"seed": 6, "offset": 10.0}}  # -p > section > top level
    assert all(v >= 10 for v in data(tmp_path / "o", "beta-curve")["values"])


def test_force_replaces_existing_out(capsys, tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "keep.txt").write_text("old")
    status, _, stderr = cli(capsys, "beta-curve", "--out", str(out), "--force", "-q")
    assert status == 0, stderr
    assert not (out / "keep.txt").exists() and (out / "beta-curve.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]  # no temporary or moved-aside folder left


def test_smoke_parameters_and_jobs_2_via_the_installed_command(tmp_path):
    out2, out1 = tmp_path / "j2", tmp_path / "j1"
    cmd = [sys.executable, "-m", "prompticl", "figures", "--book", str(FIXTURES), "--all", "--smoke"]
    par = subprocess.run([*cmd, "--jobs", "2", "--out", str(out2)], capture_output=True, text=True, timeout=300)
    assert par.returncode == 0, par.stderr
    progress = {ln for ln in par.stderr.splitlines() if ln.startswith("[chapter")}
    assert "[chapter 1/2] alpha: cell 6/6" in progress and "[chapter 2/2] beta: cell 3/3" in progress
    seq = subprocess.run([*cmd, "--out", str(out1), "-q"], capture_output=True, text=True, timeout=300)
    assert seq.returncode == 0, seq.stderr
    prov = json.loads((out2 / "provenance.json").read_text())
    assert prov["jobs"] == 2 and prov["parameters"]["alpha"]["n_points"] == 3  # the smoke value
    for name in ("alpha-lines", "alpha-bars", "beta-curve"):
        assert all((out2 / f"{name}.{f}").is_file() for f in FORMATS)
        assert (out2 / f"{name}.json").read_bytes() == (out1 / f"{name}.json").read_bytes()
    assert all(len(v) == 3 for v in data(out2, "alpha-lines")["lines"].values())


# ----------------------------------------------------------------------------------------------
# The real book


def test_real_book_registry_follows_the_conventions():
    reg = build_registry(REAL_BOOK)  # raises on any chapter that breaks them
    for chapter in reg.chapters.values():
        assert chapter.figures, chapter.name
        for key in chapter.smoke_parameters:
            assert key in chapter.parameters and key != "figure_dir", (chapter.name, key)


def test_real_chapter_regenerates_with_user_parameters(tmp_path):
    """A real chapter (in-brief) with its smoke parameters and a different mixture: the figure's
    numbers are the core's closed forms for that mixture, and differ from the default mixture's."""
    import numpy as np

    import prompticl

    reg = build_registry(REAL_BOOK)
    chapter = reg.chapters["in-brief"]
    n_max = chapter.smoke_parameters["n_max"]
    outs = {}
    for spec_name in ("zero-mean", "nonzero-mean"):
        outs[spec_name] = out = tmp_path / spec_name
        status = main(["figures", "in-brief", "--smoke", "-p", "spec_name", spec_name, "--out", str(out), "-q"])
        assert status == 0
        for name in chapter.figures:
            assert all((out / f"{name}.{f}").is_file() for f in FORMATS), name
        got = data(out, "in-brief-regimes")
        assert got["n"] == list(range(1, n_max + 1))
        spec = prompticl.load_spec(spec_name)
        want = prompticl.optimal_losses(spec, got["n"])
        for regime in prompticl.REGIMES:
            np.testing.assert_allclose(
                np.array(got["normalised_loss"][regime]) * prompticl.signal(spec), want[regime], rtol=1e-8
            )
    assert data(outs["zero-mean"], "in-brief-regimes") != data(outs["nonzero-mean"], "in-brief-regimes")
