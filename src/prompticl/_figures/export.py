"""Figure export and the command that regenerates a figure

Every chapter's :func:`save_figure` call, the atomic writes behind it, and the regenerate command.
In the book ``figure_dir`` is empty and :func:`save_figure` writes nothing; ``prompticl figures``
sets it (through papermill) so that each figure lands as SVG, PNG and PDF together with the numbers
it shows (JSON), each written atomically (``write_atomic``).  Every figure's caption ends with
the command that regenerates it (:func:`regenerate_command`).  Chapters 1–8 export their figures
with it; the book's page "Reproducing and regenerating the figures" explains the command.
"""
from __future__ import annotations

import json
import math
import os
import re
import shlex
import tempfile
from pathlib import Path
from typing import Any, Mapping

import numpy as np

#: The formats every figure is written in.
FIGURE_FORMATS: tuple[str, ...] = ("svg", "png", "pdf")


def regenerate_command(name: str, params: "Mapping[str, Any] | None" = None) -> str:
    """The ``prompticl figures`` command that regenerates figure ``name`` with ``params``.

    Every figure caption of chapters 1–8 ends with ``Regenerate with `<this command>`.`` (see
    CONTRIBUTING.md); the book's page "Reproducing and regenerating the figures" explains the
    command.  Values are written as the CLI reads them back (``-p KEY VALUE``, YAML flow scalars and
    lists; strings as they are), quoted for the shell.

    Parameters
    ----------
    name : str
        The figure's registry name, as passed to :func:`save_figure`.
    params : mapping, optional
        Parameters that differ from the chapter's defaults, in order.

    Returns
    -------
    str
        For example ``prompticl figures experiments-figure1 -p seeds 50``.
    """
    import yaml

    parts = ["prompticl", "figures", name]
    for key, value in (params or {}).items():
        value = _python(value)
        text = value if isinstance(value, str) else yaml.safe_dump(value, default_flow_style=True, width=10**6).strip()
        if text.endswith("\n..."):
            text = text[: -len("\n...")]
        parts += ["-p", key, text]
    return shlex.join(parts)


def _python(value: Any) -> Any:
    """numpy scalars and arrays as the Python numbers and lists they hold (YAML cannot write numpy's)."""
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    if isinstance(value, Mapping):
        return {k: _python(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_python(v) for v in value]
    return value


def check_figure_name(name: str) -> str:
    """Refuse a figure name with a folder part (``../x``, ``a/b``, an absolute path): every file
    :func:`save_figure` writes stays inside its ``figure_dir``."""
    if not _NAME.fullmatch(name) or name in (".", ".."):
        raise ValueError(f"save_figure: name must be a file name without a folder (letters, digits, '-', '_', '.'), "
                         f"got {name!r}"[:200])
    return name


_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}")


def _jsonable(value: Any, digits: int, where: str = "data") -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v, digits, f"{where}[{k!r}]") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, digits, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist(), digits, where)
    if isinstance(value, (np.floating, float)):
        if not math.isfinite(value):  # JSON has no NaN or infinity: json.dumps would write invalid JSON
            raise ValueError(f"save_figure: {where} is {float(value)}; the figure's data must be finite numbers")
        return round(float(value), digits)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, (complex, np.complexfloating)):
        raise ValueError(f"save_figure: {where} is complex; the figure's data must be real numbers")
    return value


def write_atomic(path: "str | Path", payload: "bytes | str") -> None:
    """Write ``payload`` to ``path`` via a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        mask = os.umask(0o022)
        os.umask(mask)
        os.fchmod(fd, 0o666 & ~mask)  # mkstemp makes 0600; the file follows the umask like any other
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload.encode("utf-8") if isinstance(payload, str) else payload)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_figure(fig, name: str, data: Mapping[str, Any], figure_dir: "str | os.PathLike | None", digits: int = 10) -> None:
    """Export ``fig`` as ``name.{svg,png,pdf}`` and its data as ``name.json`` into ``figure_dir``.

    Every chapter (01–08) calls it after drawing a figure.  It does nothing when ``figure_dir`` is
    empty (the book's default), so chapters can call it unconditionally; ``prompticl figures`` sets
    it (see the book's page "Reproducing and regenerating the figures").  The files carry no dates,
    so that a rerun with the same numbers gives the same bytes, and each is written atomically.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure to export (saved with ``bbox_inches="tight"``).
    name : str
        The figure's registry name (unique across the book): a file name without a folder part.
    data : mapping
        The numbers the figure shows (arrays allowed), written as sorted, indented JSON.
    figure_dir : str or path or None
        Output folder (created if missing); nothing is written when empty or None.
    digits : int
        Decimals to which the floats of ``data`` are rounded.

    Returns
    -------
    None
        The files are written as a side effect.
    """
    check_figure_name(name)
    if not figure_dir:
        return
    import io

    # Converted (and checked) before any file is written.
    payload = json.dumps(_jsonable(data, digits), indent=2, sort_keys=True, allow_nan=False) + "\n"
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
    write_atomic(out / f"{name}.json", payload)
