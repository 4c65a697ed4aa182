"""Plot style and figure export shared by every chapter.

Chapters draw with matplotlib/seaborn, then call :func:`save_figure`.  In the book ``figure_dir`` is
empty and nothing is written; ``prompticl figures`` sets it (through papermill) so that each figure
lands as SVG, PNG and PDF together with the numbers it shows (JSON), written atomically.

Conventions every chapter follows (see CONTRIBUTING.md, "Chapter conventions"):

* regimes are drawn in :data:`REGIME_COLORS` and named by :data:`REGIME_TITLES`; tasks in
  :data:`TASK_COLORS`, which share no colour with the regimes;
* a mixture is named by its spec's ``title`` (:func:`spec_title`), never by its file name;
* every error bar or band is a 95% interval, half-width :func:`ci_halfwidth` (1.96 standard
  errors), and the caption says so (:data:`ERROR_BAR_NOTE`);
* every figure cell carries MyST-NB figure metadata whose caption ends with the command that
  regenerates it (:func:`regenerate_command`), checked by tests/test_figure_captions.py.

Chapters 01–08 draw with it.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Mapping

import shlex

import numpy as np

from .theory import REGIME_TITLES

__all__ = [
    "CI_LEVEL",
    "CI_Z",
    "ERROR_BAR_NOTE",
    "FIGURE_FORMATS",
    "REGIME_COLORS",
    "REGIME_TITLES",
    "TASK_COLORS",
    "ci_halfwidth",
    "figure_names_in_caption",
    "regenerate_command",
    "save_figure",
    "setup_style",
    "spec_title",
    "task_color",
    "write_atomic",
]

FIGURE_FORMATS: tuple[str, ...] = ("svg", "png", "pdf")

#: One colour per regime, used by every chapter so that the book reads consistently.
REGIME_COLORS = {
    "plain": "#4C72B0",
    "finetune": "#DD8452",
    "joint": "#55A868",
    "joint-heads": "#C44E52",
}
# REGIME_TITLES (imported above from prompticl.theory, its one source) names the same regimes.

#: Colours for the tasks of a mixture (task k uses ``TASK_COLORS[k % len]``): seaborn's
#: colour-blind palette without the four hues taken by the regimes, so a task is never
#: mistaken for a regime.
TASK_COLORS: tuple[str, ...] = ("#8172B3", "#937860", "#DA8BC3", "#8C8C8C", "#CCB974", "#64B5CD")

#: Coverage of every error bar and band in the book.
CI_LEVEL = 0.95
#: Two-sided standard-normal quantile for :data:`CI_LEVEL` (Φ⁻¹(0.975)).
CI_Z = 1.959963984540054
#: The sentence every caption with error bars carries.
ERROR_BAR_NOTE = "Error bars are 95% intervals (±1.96 standard errors)."


def ci_halfwidth(se: "float | np.ndarray") -> "float | np.ndarray":
    """Half-width of the 95% normal interval for an estimate with standard error ``se``.

    Every chapter draws its error bars with this (chapters 02-07), so that all of them mean the
    same thing; the Monte Carlo standard errors themselves come from ``prompticl.evaluation``.

    Parameters
    ----------
    se : float or ndarray
        Standard error(s), non-negative.

    Returns
    -------
    float or ndarray
        ``CI_Z * se``.
    """
    return CI_Z * np.asarray(se, dtype=float) if np.ndim(se) else CI_Z * float(se)


def task_color(k: int) -> str:
    """Colour of task ``k`` (0-based) in every chapter's plots (chapter 01 introduces the tasks)."""
    return TASK_COLORS[k % len(TASK_COLORS)]


def spec_title(spec) -> str:
    """Human-readable name of a mixture for plot titles and captions: the spec's ``title``, else
    its ``name`` (chapter 01 introduces the built-in mixtures)."""
    return spec.title or spec.name


def regenerate_command(name: str, params: "Mapping[str, Any] | None" = None) -> str:
    """The ``prompticl figures`` command that regenerates figure ``name`` with ``params``.

    Captions end with ``Regenerate with `<this command>`.`` (see CONTRIBUTING.md); values are
    written as the CLI reads them back (YAML flow scalars and lists), quoted for the shell.

    Parameters
    ----------
    name : str
        The figure's registry name, as passed to :func:`save_figure`.
    params : mapping, optional
        Parameters that differ from the chapter's defaults.
    """
    import yaml

    parts = ["prompticl", "figures", name]
    for key, value in (params or {}).items():
        text = value if isinstance(value, str) else yaml.safe_dump(value, default_flow_style=True, width=10**6).strip()
        if text.endswith("\n..."):
            text = text[: -len("\n...")]
        parts += ["-p", key, text]
    return shlex.join(parts)


def figure_names_in_caption(caption: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """Every ``Regenerate with `prompticl figures NAME [-p KEY VALUE]...` `` command in a caption,
    as ``(NAME, [(KEY, VALUE), ...])`` (used by tests/test_figure_captions.py).

    Raises
    ------
    ValueError
        If such a command cannot be split like a shell would, or has anything but ``-p KEY VALUE``
        after the name.
    """
    import re

    found = []
    for command in re.findall(r"Regenerate with `(prompticl figures [^`]*)`", caption):
        words = shlex.split(command)[2:]
        if not words or words[0].startswith("-"):
            raise ValueError(f"no figure name in {command!r}")
        name, rest, params = words[0], words[1:], []
        while rest:
            if rest[0] != "-p" or len(rest) < 3:
                raise ValueError(f"expected '-p KEY VALUE' in {command!r}, got {' '.join(rest)!r}")
            params.append((rest[1], rest[2]))
            rest = rest[3:]
        found.append((name, params))
    return found


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
