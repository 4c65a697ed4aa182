"""Plot style shared by every chapter: colours, titles, 95% error bars.

Chapters draw with matplotlib/seaborn in this style (:func:`setup_style`), then export with
:func:`save_figure`.

Conventions every chapter follows (see CONTRIBUTING.md, "Chapter conventions"):

* regimes are drawn in :data:`REGIME_COLORS` and named by :data:`REGIME_TITLES`; tasks in
  ``TASK_COLORS`` (:func:`task_color`), which share no colour with the regimes;
* a mixture is named by its spec's ``title`` (:func:`spec_title`), never by its file name;
* every error bar or band is a 95% interval, half-width :func:`ci_halfwidth` (1.96 standard
  errors), and the caption says so (:data:`ERROR_BAR_NOTE`);
* every figure cell carries MyST-NB figure metadata whose caption ends with the command that
  regenerates it (:func:`prompticl.regenerate_command`), checked by tests/book/test_figure_captions.py.

Chapters 1–8 draw with it.
"""
from __future__ import annotations

import numpy as np

from ._montecarlo import Z95
from ._regimes import REGIME_TITLES  # noqa: F401  (the style's regime names; one source)

#: One colour per regime (keys: :data:`REGIMES`), used by every chapter (02–08) so that the book
#: reads consistently.
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
#: The sentence every caption with error bars carries (chapters 2–7; the bars are
#: :func:`ci_halfwidth` wide on each side).
ERROR_BAR_NOTE = "Error bars are 95% intervals (±1.96 standard errors)."


def ci_halfwidth(se: "float | np.ndarray") -> "float | np.ndarray":
    r"""Half-width of the 95% normal interval for an estimate with standard error ``se``.

    .. math::

        h = z_{0.975}\,\mathrm{se}, \qquad z_{0.975} = \Phi^{-1}(0.975) \approx 1.96 ,

    with :math:`z_{0.975}` = :data:`Z95`, so the interval is :math:`\hat L \pm h`, as in
    :class:`TestLoss`.  Every chapter draws its
    error bars with this (chapters 2–7), so that all of them mean the same thing; the Monte Carlo
    standard errors themselves come from :func:`mean_and_se` and :func:`test_losses`.

    Parameters
    ----------
    se : float or ndarray
        Standard error(s), non-negative.

    Returns
    -------
    float or ndarray
        ``Z95 * se`` (an array when ``se`` is one).
    """
    return Z95 * np.asarray(se, dtype=float) if np.ndim(se) else Z95 * float(se)


def task_color(k: int) -> str:
    """Colour of task ``k`` (0-based) in every chapter's plots (chapter 1 introduces the tasks).

    The palette cycles through six colour-blind-safe hues that none of :data:`REGIME_COLORS` uses.

    Parameters
    ----------
    k : int
        Task index; taken modulo the palette's length.

    Returns
    -------
    str
        A hex colour, ``"#rrggbb"``.
    """
    return TASK_COLORS[k % len(TASK_COLORS)]


def spec_title(spec) -> str:
    """Human-readable name of a mixture for plot titles and captions (chapter 1 introduces the mixtures).

    Parameters
    ----------
    spec : Spec
        The task mixture.

    Returns
    -------
    str
        The spec's ``title``, else its ``name`` (never the file name).
    """
    return spec.title or spec.name


#: Width of the book's text column on a desktop (688 CSS px at a 1300-px window), in inches at the
#: on-screen 100 dpi: a figure no wider than this is shown at its own size, so its text keeps the
#: size set here (a wider one is scaled down, and its text with it).
COLUMN_INCHES = 6.9
#: Smallest text size (points) of any figure: 9.5 pt at 100 dpi is 13.2 CSS px, at least 0.8x the
#: site's 16-px body text (issue 21: tick labels were 7-10 px).
MIN_FONT_PT = 9.5


def setup_style() -> None:
    """Apply the book's plot style: seaborn theme plus byte-stable export settings (chapters 1–8).

    Sets seaborn's ``whitegrid`` theme (``notebook`` context: no text below ``MIN_FONT_PT``),
    figures one column wide (``COLUMN_INCHES``), a fixed SVG hash salt (stable element
    ids), 100 dpi on screen and 150 dpi in saved files; :func:`save_figure` removes the dates.  Every
    chapter calls it once before drawing, and draws no figure wider than ``COLUMN_INCHES`` nor
    any text smaller than ``MIN_FONT_PT`` (tests/unit/test_plotting.py checks both).

    Returns
    -------
    None
        Changes matplotlib's global ``rcParams``.
    """
    import matplotlib as mpl
    import seaborn as sns

    sns.set_theme(context="notebook", style="whitegrid")
    mpl.rcParams["figure.figsize"] = (COLUMN_INCHES, 4.3)
    mpl.rcParams["svg.hashsalt"] = "prompticl"
    mpl.rcParams["figure.dpi"] = 100
    mpl.rcParams["savefig.dpi"] = 150


