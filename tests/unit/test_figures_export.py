"""Figure export (prompticl._figures.export): nothing written in the book, byte-stable files otherwise."""
from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from prompticl._plotting import setup_style  # noqa: E402
from prompticl._figures.export import FIGURE_FORMATS, save_figure, write_atomic  # noqa: E402


def _figure():
    setup_style()
    fig, ax = plt.subplots()
    ax.plot([0, 1, 2], [1.0, 0.5, 0.25])
    return fig


def test_empty_figure_dir_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fig = _figure()
    save_figure(fig, "x", {"y": [1.0]}, "")
    save_figure(fig, "x", {"y": [1.0]}, None)
    plt.close(fig)
    assert list(tmp_path.iterdir()) == []


def test_export_is_byte_stable_and_data_is_rounded(tmp_path):
    fig = _figure()
    data = {"y": np.array([1 / 3, 2 / 3]), "n": np.int64(5)}
    save_figure(fig, "curve", data, tmp_path / "a", digits=4)
    save_figure(fig, "curve", data, tmp_path / "b", digits=4)
    plt.close(fig)
    for fmt in (*FIGURE_FORMATS, "json"):
        first = (tmp_path / "a" / f"curve.{fmt}").read_bytes()
        assert first, fmt
        assert first == (tmp_path / "b" / f"curve.{fmt}").read_bytes(), f"{fmt} differs between two exports"
    assert json.loads((tmp_path / "a" / "curve.json").read_text()) == {"n": 5, "y": [0.3333, 0.6667]}


def test_write_atomic_leaves_no_temporary_file_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    write_atomic(target, "first")
    with pytest.raises(TypeError):
        write_atomic(target, 12345)  # not bytes or str: the write fails midway
    assert target.read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
