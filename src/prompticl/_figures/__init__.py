"""``prompticl figures``: the registry of chapters and figures, their parameters, and the runner.

Three concerns, one module each (the book's page "Reproducing and regenerating the figures" explains the command):

* :mod:`~prompticl._figures.registry` reads chapters, figures and declared parameters from the notebooks;
* :mod:`~prompticl._figures.params` parses and validates user values into a :class:`RunPlan`;
* :mod:`~prompticl._figures.runner` executes a plan with papermill and moves the result into place.
"""
from __future__ import annotations

from .params import RunPlan, check_range, coerce, load_params_file, parse_cli_value, plan_run
from .registry import (
    HIDDEN_PARAMETERS,
    KERNEL_NAME,
    Chapter,
    ChapterFailed,
    Figure,
    FigureError,
    Parameter,
    Registry,
    build_registry,
    find_book,
    iter_figure_names,
    load_chapter,
    parse_parameters_cell,
    registry_text,
    toc_files,
    toc_order,
)
from .ranges import RANGES, Range, parse_range
from .processes import HANDLED_SIGNALS, Interrupted
from .runner import check_out_dir, default_out_dir, git_commit, run_chapter, run_plan

__all__ = [
    "HANDLED_SIGNALS",
    "HIDDEN_PARAMETERS",
    "Interrupted",
    "KERNEL_NAME",
    "Chapter",
    "ChapterFailed",
    "Figure",
    "FigureError",
    "Parameter",
    "Registry",
    "RANGES",
    "Range",
    "RunPlan",
    "build_registry",
    "check_out_dir",
    "check_range",
    "coerce",
    "default_out_dir",
    "find_book",
    "git_commit",
    "iter_figure_names",
    "load_chapter",
    "load_params_file",
    "parse_cli_value",
    "parse_parameters_cell",
    "parse_range",
    "plan_run",
    "registry_text",
    "run_chapter",
    "run_plan",
    "toc_files",
    "toc_order",
]
