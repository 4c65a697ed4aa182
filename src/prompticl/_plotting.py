"""Plot style shared by every chapter: colours, titles, 95% error bars.

Chapters draw with matplotlib/seaborn in this style, then export with
:func:`prompticl._figures.export.save_figure` (exported as ``prompticl.save_figure``).

Conventions every chapter follows (see CONTRIBUTING.md, "Chapter conventions"):

* regimes are drawn in :data:`REGIME_COLORS` and named by :data:`REGIME_TITLES`; tasks in
  :data:`TASK_COLORS`, which share no colour with the regimes;
* a mixture is named by its spec's ``title`` (:func:`spec_title`), never by its file name;
* every error bar or band is a 95% interval, half-width :func:`ci_halfwidth` (1.96 standard
  errors), and the caption says so (:data:`ERROR_BAR_NOTE`);
* every figure cell carries MyST-NB figure metadata whose caption ends with the command that
  regenerates it (:func:`prompticl.regenerate_command`), checked by tests/book/test_figure_captions.py.

Chapters 01–08 draw with it.
"""
from __future__ import annotations

import numpy as np

from ._montecarlo import Z95
from ._regimes import REGIME_TITLES  # noqa: F401  (the style's regime names; one source)

#: One colour per regime, used by every chapter so that the book reads consistently.
REGIME_COLORS = {
    "plain": "#4C72B0",
    "finetune": "#DD8452",
    "joint": "#55A868",
    "joint-heads": "#C44E52",
}
# REGIME_TITLES (imported above from prompticl._regimes, its one source) names the same regimes.

#: Colours for the tasks of a mixture (task k uses ``TASK_COLORS[k % len]``): seaborn's
#: colour-blind palette without the four hues taken by the regimes, so a task is never
#: mistaken for a regime.
TASK_COLORS: tuple[str, ...] = ("#8172B3", "#937860", "#DA8BC3", "#8C8C8C", "#CCB974", "#64B5CD")

#: Coverage of every error bar and band in the book.
CI_LEVEL = 0.95
#: The sentence every caption with error bars carries.
ERROR_BAR_NOTE = "Error bars are 95% intervals (±1.96 standard errors)."


def ci_halfwidth(se: "float | np.ndarray") -> "float | np.ndarray":
    """Half-width of the 95% normal interval for an estimate with standard error ``se``.

    Every chapter draws its error bars with this (chapters 02-07), so that all of them mean the
    same thing; the Monte Carlo standard errors themselves come from ``prompticl._evaluation``.

    Parameters
    ----------
    se : float or ndarray
        Standard error(s), non-negative.

    Returns
    -------
    float or ndarray
        ``Z95 * se``.
    """
    return Z95 * np.asarray(se, dtype=float) if np.ndim(se) else Z95 * float(se)


def task_color(k: int) -> str:
    """Colour of task ``k`` (0-based) in every chapter's plots (chapter 01 introduces the tasks)."""
    return TASK_COLORS[k % len(TASK_COLORS)]


def spec_title(spec) -> str:
    """Human-readable name of a mixture for plot titles and captions: the spec's ``title``, else
    its ``name`` (chapter 01 introduces the built-in mixtures)."""
    return spec.title or spec.name


def setup_style() -> None:
    """Seaborn theme plus settings that make exported files byte-stable (no dates, fixed ids)."""
    import matplotlib as mpl
    import seaborn as sns

    sns.set_theme(context="notebook", style="whitegrid")
    mpl.rcParams["svg.hashsalt"] = "prompticl"
    mpl.rcParams["figure.dpi"] = 100
    mpl.rcParams["savefig.dpi"] = 150


