"""``claim``: strict on the book's defaults (a claim that does not hold raises one line), recorded
and reported with a reader's parameters (``PROMPTICL_CLAIMS=report``), every record JSON and
deterministic (issue 18)."""
from __future__ import annotations

import json

import numpy as np
import pytest

import prompticl
from prompticl import ClaimError, claim
from prompticl._claims import FILE_VARIABLE, MODE_VARIABLE, read_claims, summary_lines


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    monkeypatch.delenv(MODE_VARIABLE, raising=False)
    monkeypatch.delenv(FILE_VARIABLE, raising=False)


def test_exported_in_the_flat_namespace():
    assert "claim" in prompticl.__all__ and "ClaimError" in prompticl.__all__
    assert issubclass(ClaimError, AssertionError)


def test_a_claim_that_holds_returns_true_and_prints_nothing(capsys):
    assert claim("x-holds", np.bool_(True), "one is one", numbers={"a": 1}, domain="everywhere") is True
    assert capsys.readouterr().out == ""


def test_strict_mode_raises_one_line_naming_id_text_and_numbers():
    with pytest.raises(ClaimError) as info:
        claim("hd-saving", False, "heads save 25–30%\nof the loss", numbers={"max": np.float64(0.31103456789)},
              domain="the four book mixtures, n = 1..56")
    msg = str(info.value)
    assert "\n" not in msg
    assert "hd-saving" in msg and "heads save 25–30% of the loss" in msg and "max=0.311035" in msg
    assert "n = 1..56" in msg


def test_strict_is_the_default_and_can_be_named(monkeypatch):
    monkeypatch.setenv(MODE_VARIABLE, "strict")
    with pytest.raises(AssertionError):
        claim("x", False, "t", domain="d")


def test_report_mode_goes_on_prints_and_records(monkeypatch, tmp_path, capsys):
    path = tmp_path / "claims.jsonl"
    monkeypatch.setenv(MODE_VARIABLE, "report")
    monkeypatch.setenv(FILE_VARIABLE, str(path))
    assert claim("a-holds", True, "first", numbers={"v": np.float32(0.5)}, domain="grid A", check="grid") is True
    assert claim("b-fails", np.bool_(False), "second", numbers={"gap": np.array([1e-7, 2.0])}, domain="every n",
                 check="theorem") is False
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "b-fails does not hold: second" in out and "a-holds" not in out
    records = read_claims(path)
    assert [r["id"] for r in records] == ["a-holds", "b-fails"]
    assert records[1] == {"id": "b-fails", "text": "second", "holds": False, "numbers": {"gap": [1e-07, 2.0]},
                          "domain": "every n", "check": "theorem"}
    json.dumps(records)  # JSON all the way down


def test_strict_mode_still_records_before_raising(monkeypatch, tmp_path):
    path = tmp_path / "c.jsonl"
    monkeypatch.setenv(FILE_VARIABLE, str(path))
    with pytest.raises(ClaimError):
        claim("x", False, "t", domain="d")
    assert read_claims(path)[0]["holds"] is False


def test_numbers_are_json_and_rounded_deterministically(monkeypatch, tmp_path):
    path = tmp_path / "c.jsonl"
    monkeypatch.setenv(FILE_VARIABLE, str(path))
    numbers = {"f": 1 / 3, "i": np.int64(7), "b": np.bool_(True), "nan": float("nan"), "inf": -np.inf,
               "nested": {"t": (np.float64(2.0000000001), 3)}, "s": "zero-mean-wide", 5: None}
    claim("rounding", True, "t", numbers=numbers, domain="d")
    got = read_claims(path)[0]["numbers"]
    assert got == {"f": 0.333333, "i": 7, "b": True, "nan": "nan", "inf": "-inf", "nested": {"t": [2.0, 3]},
                   "s": "zero-mean-wide", "5": None}
    assert isinstance(got["i"], int) and isinstance(got["b"], bool)


@pytest.mark.parametrize(
    "args, kwargs, error",
    [
        (("Bad Id", True, "t"), {"domain": "d"}, ValueError),
        (("", True, "t"), {"domain": "d"}, ValueError),
        (("ok", True, "t"), {"domain": "d", "check": "proof"}, ValueError),
        (("ok", True, " "), {"domain": "d"}, ValueError),
        (("ok", True, "t"), {"domain": ""}, ValueError),
        (("ok", True, "t"), {"domain": "d", "numbers": [1, 2]}, TypeError),
        (("ok", True, "t"), {"domain": "d", "numbers": {"o": object()}}, TypeError),
    ],
)
def test_malformed_claims_are_programming_errors_in_both_modes(monkeypatch, args, kwargs, error):
    for mode in ("strict", "report"):
        monkeypatch.setenv(MODE_VARIABLE, mode)
        with pytest.raises(error):
            claim(*args, **kwargs)


def test_domain_is_required():
    with pytest.raises(TypeError):
        claim("x", True, "t")  # type: ignore[call-arg]


def test_unknown_mode_is_refused(monkeypatch):
    monkeypatch.setenv(MODE_VARIABLE, "lenient")
    with pytest.raises(ValueError, match="PROMPTICL_CLAIMS"):
        claim("x", True, "t", domain="d")


def test_summary_lines_count_and_name_the_claims_that_do_not_hold(tmp_path):
    records = [
        {"id": "a", "text": "first", "holds": True, "numbers": {}},
        {"id": "b", "text": "second", "holds": False, "numbers": {"x": 1.5}},
        {"id": "c", "text": "third", "holds": True, "numbers": {}},
    ]
    assert summary_lines(records) == ["claim b does not hold: second [x=1.5]", "2 of 3 claims hold for these parameters"]
    assert read_claims(tmp_path / "missing.jsonl") == []
