"""Plot style and figure export shared by every chapter.

Chapters draw with matplotlib/seaborn, then call :func:`save_figure`.  In the book ``figure_dir`` is
empty and nothing is written; ``prompticl figures`` sets it (through papermill) so that each figure
lands as SVG, PNG and PDF together with the numbers it shows (JSON), written atomically.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Mapping

import numpy as np

__all__ = ["FIGURE_FORMATS", "REGIME_COLORS", "setup_style", "save_figure", "write_atomic"]

FIGURE_FORMATS: tuple[str, ...] = ("svg", "png", "pdf")

#: One colour per regime, used by every chapter so that the book reads consistently.
REGIME_COLORS = {
    "plain": "#4C72B0",
    "finetune": "#DD8452",
    "joint": "#55A868",
    "joint-heads": "#C44E52",
}


def setup_style() -> None:
    """Seaborn theme plus settings that make exported files byte-stable (no dates, fixed ids)."""
    import matplotlib as mpl
    import seaborn as sns

    sns.set_theme(context="notebook", style="whitegrid")
    mpl.rcParams["svg.hashsalt"] = "prompticl"
    mpl.rcParams["figure.dpi"] = 100
    mpl.rcParams["savefig.dpi"] = 150


def _jsonable(value: Any, digits: int) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, digits) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist(), digits)
    if isinstance(value, (np.floating, float)):
        return round(float(value), digits)
    if isinstance(value, (np.integer,)):
        return int(value)
    return value


def write_atomic(path: "str | Path", payload: "bytes | str") -> None:
    """Write ``payload`` to ``path`` via a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload.encode("utf-8") if isinstance(payload, str) else payload)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_figure(fig, name: str, data: Mapping[str, Any], figure_dir: "str | os.PathLike | None", digits: int = 10) -> None:
    """Export ``fig`` as ``name.{svg,png,pdf}`` and its data as ``name.json`` into ``figure_dir``.

    Does nothing when ``figure_dir`` is empty (the book's default), so chapters can call it
    unconditionally.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    name : str
        The figure's registry name (unique across the book).
    data : mapping
        The numbers the figure shows (arrays allowed), rounded to ``digits`` decimals.
    figure_dir : str or path or None
    """
    if not figure_dir:
        return
    import io

    out = Path(figure_dir)
    metadata = {
        "svg": {"Date": None},
        "pdf": {"CreationDate": None, "ModDate": None},
        "png": {},
    }
    for fmt in FIGURE_FORMATS:
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, metadata=metadata[fmt], bbox_inches="tight")
        write_atomic(out / f"{name}.{fmt}", buf.getvalue())
    write_atomic(out / f"{name}.json", json.dumps(_jsonable(data, digits), indent=2, sort_keys=True) + "\n")
