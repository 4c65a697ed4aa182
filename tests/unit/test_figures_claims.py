"""``prompticl figures`` and the chapters' claims (issue 18): on the book's defaults a claim that does
not hold fails the chapter with one line, as an assert did; with a reader's ``-p``/``-f`` the run
goes on, prints each claim that does not hold and "N of M claims hold for these parameters", records
every claim in ``provenance.json`` and exits 0; a genuine error still exits 1 with one line.

No kernel runs here: papermill is replaced by a stand-in that executes the chapter's code cells in
this process, in the environment ``run_chapter`` sets for the kernel (the channel under test).  The
real kernel runs the same path in ``tests/book/test_figures_run.py``.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import papermill
import pytest

from prompticl.cli import main
from support import FIXTURES

CLAIM_CELL = """\
from prompticl import claim
claim("beta-small-offset", abs(offset) < 10, "the offset is small", numbers={"offset": offset},
      domain="offsets below 10 in size", check="grid")
claim("beta-seeded", seed >= 0, "the seed is a natural number", domain="every seed", check="theorem")
"""


def _fake_execute(notebook, executed, parameters=None, **_kwargs):
    """Run the code cells in-process, the parameters injected after the parameters cell."""
    nb = json.loads(Path(notebook).read_text(encoding="utf-8"))
    namespace: dict = {}
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        exec("".join(cell["source"]), namespace)  # noqa: S102 - our own fixture
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            namespace.update(parameters or {})
    if namespace.get("offset") == 666:
        raise RuntimeError("a genuine error")
    Path(executed).write_text(json.dumps(nb), encoding="utf-8")
    return nb


@pytest.fixture
def book(tmp_path, monkeypatch):
    book = tmp_path / "book"
    shutil.copytree(FIXTURES, book)
    nb = json.loads((book / "beta.ipynb").read_text(encoding="utf-8"))
    nb["cells"].append({"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
                        "source": CLAIM_CELL.splitlines(keepends=True)})
    (book / "beta.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    monkeypatch.setattr(papermill, "execute_notebook", _fake_execute)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    return book


def _run(book, tmp_path, *extra):
    out = tmp_path / "out"
    status = main(["figures", "--book", str(book), "beta-curve", "--out", str(out), "-q", *extra])
    return status, out


def test_defaults_record_the_claims_quietly(book, tmp_path, capsys):
    status, out = _run(book, tmp_path)
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert "claims hold" not in captured.out
    prov = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    assert prov["claims_mode"] == "strict"
    assert [(c["chapter"], c["id"], c["holds"]) for c in prov["claims"]] == [
        ("beta", "beta-small-offset", True), ("beta", "beta-seeded", True)]


def test_reader_parameters_report_a_claim_and_exit_0(book, tmp_path, capsys):
    status, out = _run(book, tmp_path, "-p", "offset", "100")
    captured = capsys.readouterr()
    assert status == 0, captured.err
    # (the stand-in runs the cell here, so the cell's own "note:" line lands on this stdout too)
    lines = [line for line in captured.out.splitlines() if not line.startswith("note: ")]
    assert lines[0] == ("claim beta-small-offset does not hold: the offset is small [offset=100.0] "
                        "(domain: offsets below 10 in size)")
    assert lines[1] == "1 of 2 claims hold for these parameters"
    assert lines[2].startswith("wrote 1 figure(s)")
    prov = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    assert prov["claims_mode"] == "report"
    first = prov["claims"][0]
    assert first == {"chapter": "beta", "id": "beta-small-offset", "text": "the offset is small", "holds": False,
                     "numbers": {"offset": 100.0}, "domain": "offsets below 10 in size", "check": "grid"}
    assert (out / "beta-curve.svg").is_file()  # the figure is written all the same


def test_a_params_file_is_a_reader_parameter_too(book, tmp_path, capsys):
    params = tmp_path / "p.yaml"
    params.write_text("offset: -50\n", encoding="utf-8")
    status, _ = _run(book, tmp_path, "-f", str(params))
    assert status == 0 and "1 of 2 claims hold for these parameters" in capsys.readouterr().out


def test_strict_mode_fails_the_chapter_with_one_line(book, tmp_path):
    from prompticl._figures import ChapterFailed, build_registry, plan_run, run_plan

    plan = plan_run(build_registry(book), ["beta-curve"], [("offset", "100")])
    out = tmp_path / "strict"
    with pytest.raises(ChapterFailed) as info:
        run_plan(plan, out, progress=False, claims="strict")
    msg = str(info.value)
    assert "\n" not in msg and "ClaimError: claim beta-small-offset does not hold: the offset is small" in msg
    assert not out.exists()


def test_a_genuine_error_still_exits_1_in_report_mode(book, tmp_path, capsys):
    status, out = _run(book, tmp_path, "-p", "offset", "666")
    err = capsys.readouterr().err
    assert status == 1 and len(err.splitlines()) == 1 and "a genuine error" in err
    assert not out.exists()


def test_the_environment_is_restored_after_a_chapter(book, tmp_path, monkeypatch):
    import os

    monkeypatch.setenv("PROMPTICL_CLAIMS", "strict")
    monkeypatch.delenv("PROMPTICL_CLAIMS_FILE", raising=False)
    _run(book, tmp_path, "-p", "offset", "100")
    assert os.environ["PROMPTICL_CLAIMS"] == "strict" and "PROMPTICL_CLAIMS_FILE" not in os.environ
