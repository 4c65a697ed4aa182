"""``prompticl sweep GRID.yaml --out RESULTS [--scheduler ADDRESS | --workers N] [--progress]``

Computes every point of a grid (:mod:`prompticl._sweep_grid`) as one Dask task
(:mod:`prompticl._sweep_engine`) and writes the rows, as they finish, to the results folder
(:mod:`prompticl._sweep_store`); a rerun with the same ``--out`` computes only the missing points.
Everything that can be refused (the grid, its size, ``--out``, the scheduler) is refused before the
first point runs.

The book's page "Sweeps on a cluster" (book/sweeps.md) documents the command; chapters 7 and 8
read its tables.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .._safe_yaml import escape_control
from . import CLIError
from ._common import parse_whole_number

__all__ = ["register", "run"]


def _count(text: str) -> int:
    return parse_whole_number(text, 1, 10**9)


def _workers(text: str) -> int:
    return parse_whole_number(text, 1, 1024)


def register(subparsers: "argparse._SubParsersAction") -> None:
    """Add the ``sweep`` subcommand."""
    from .._limits import MAX_POINTS  # not the grid module: --help stays light

    parser = subparsers.add_parser(
        "sweep",
        help="compute every point of a grid on Dask (local cores or a cluster), resumable, into a Parquet table",
        description="Compute every point of a grid file (mixtures x context lengths x regimes x seeds, one "
        "model) as Dask tasks and write one row per point, as they finish, into the results folder --out "
        "(Parquet). A rerun with the same --out computes only the missing points.",
    )
    parser.add_argument("grid", metavar="GRID.yaml", help="the grid file (see book/sweeps.md)")
    parser.add_argument("--out", required=True, metavar="RESULTS",
                        help="results folder: created if new; an existing one must hold the same grid's results")
    engine = parser.add_mutually_exclusive_group()
    engine.add_argument("--scheduler", metavar="ADDRESS", help="address of a running Dask scheduler, e.g. tcp://host:8786")
    engine.add_argument("--workers", type=_workers, metavar="N",
                        help="local worker processes (default: one per core)")
    parser.add_argument("--max-points", type=_count, default=MAX_POINTS, metavar="N",
                        help="refuse a grid of more points than this (default %(default)s)")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bar on stderr: done, failed, remaining (default: when stderr is a terminal)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Validate everything, then run the missing points and print one summary line."""
    from .._safe_yaml import YAMLInputError, read_regular_file
    from .._sweep_grid import GRID_BYTES, GridError, load_grid
    from .._sweep_store import ResultsFolder, StoreError

    try:
        grid = load_grid(args.grid, args.max_points)
        points = grid.points()
        text = read_regular_file(args.grid, GRID_BYTES, args.grid).decode("utf-8-sig")
        folder = ResultsFolder(args.out, grid.fingerprint(points), len(points), text)
        done = folder.done()
    except (GridError, StoreError, YAMLInputError) as exc:
        raise CLIError(str(exc)) from None
    except OSError as exc:
        raise CLIError(f"--out {escape_control(args.out)}: {exc.strerror or exc}") from None
    except Exception as exc:  # noqa: BLE001 - an unreadable part file: not a results table of this grid
        if type(exc).__module__.startswith("pyarrow"):
            raise CLIError(f"--out {escape_control(args.out)}: a part file is not a readable Parquet table ({exc})") from None
        raise
    todo = [p for p in points if p["hash"] not in done]
    already = len(points) - len(todo)
    if not todo:
        print(f"{len(points)} points: all already in {escape_control(args.out)}")
        return 0
    from .._sweep_engine import EngineError, connect, run_points

    try:
        client, cluster = connect(args.scheduler, args.workers)
    except EngineError as exc:
        raise CLIError(str(exc)) from None
    show = sys.stderr.isatty() if args.progress is None else args.progress
    from .._progress import progress_bar

    bar = progress_bar(len(todo), show, "sweep")

    def on_progress(finished: int, failed: int) -> None:
        if bar is not None:
            bar.n = finished + failed
            bar.set_postfix_str(f"done {finished}, failed {failed}, remaining {len(todo) - finished - failed}",
                                refresh=True)

    try:
        summary = run_points(client, todo, folder.write, on_progress)
    except OSError as exc:  # the results folder became unwritable (full disk, removed): not the grid's fault
        sys.stderr.write(f"prompticl: error: cannot write the results to {escape_control(args.out)}: "
                         f"{escape_control(exc.strerror or str(exc))}; the rows saved before are kept\n")
        return 1
    finally:
        if bar is not None:
            bar.close()
        client.close()
        if cluster is not None:
            cluster.close()
    print(f"{len(points)} points: {summary.computed} computed now, {already} already in {escape_control(args.out)}, "
          f"{summary.failed} failed")
    if summary.failed:
        sys.stderr.write(f"prompticl: error: {summary.failed} points failed (first: {escape_control(summary.first_error)}); "
                         "the others are saved: rerun the same command to retry the failed ones\n")
        return 1
    return 0
