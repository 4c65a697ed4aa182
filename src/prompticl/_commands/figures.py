"""``prompticl figures``: list the book's figures, or regenerate some of them with your parameters.

Everything is validated before any notebook runs (exit status 2, one line, nothing written); a
chapter that fails while running ends with exit status 1 and leaves the output folder as it was.

The book's page "Reproducing and regenerating the figures" documents it.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from . import CLIError
from .._claims import summary_lines
from .._safe_yaml import escape_control
from ._common import parse_whole_number, positive_int
from .._figures.costs import BUDGET_BYTES, BUDGET_SECONDS, check_plan_cost
from .._figures import (
    ChapterFailed,
    FigureError,
    Interrupted,
    build_registry,
    check_out_dir,
    default_out_dir,
    load_params_file,
    plan_run,
    registry_text,
    run_plan,
)

__all__ = ["register", "run"]

EPILOG = """\
examples:
  prompticl figures --list
  prompticl figures joint-losses -p spec_name nonzero-mean -p ns 5,10,20 --out my-figures
  prompticl figures --all --jobs 2
parameters:
  VALUE is read as YAML ('3', '0.5', 'true', '[5, 10]'; lists also as '5,10,20'); str parameters
  take the text as is.  A parameter applies to every selected chapter that declares it.
  PARAMS.yaml maps names to values; a key naming a chapter may hold that chapter's own values.
  Precedence: defaults < --smoke < PARAMS.yaml < -p.
  Every parameter has a range (shown by --list, e.g. [1 .. 1000]); values outside are refused.
  Each chapter declares what its parameters cost: a run with a chapter estimated beyond 20 minutes,
  or beyond 2 GiB of memory, is refused before it starts, with the estimate, unless --allow-long
  (its progress lines then give the estimated time left).
output:
  DIR gets NAME.svg/.png/.pdf/.json per figure, notebooks/CHAPTER.ipynb (executed) and
  provenance.json.  The run writes to a temporary folder next to DIR and moves it into place at
  the end; an existing non-empty DIR is refused unless --force and it is an earlier output (it
  holds provenance.json), which is then replaced only once the new run has succeeded.  A DIR that appears during the run (another run, or made by hand) is
  never replaced: the run exits with status 2.  DIR may not be, contain or lie inside the book.
claims:
  provenance.json lists every claim the chapters made (id, text, holds, numbers, domain, check).
  On the book's defaults a claim that does not hold fails the chapter; with -p, -f or --smoke the
  run goes on, prints each claim that does not hold and "N of M claims hold for these parameters".
exit status:
  0 done; 2 bad input (nothing written); 1 a chapter failed (DIR as it was);
  130/143/129 interrupted by SIGINT/SIGTERM/SIGHUP (workers, kernels and temporary folders removed).
"""


#: Longest --timeout: a week (papermill takes whole seconds).
MAX_TIMEOUT = 7 * 24 * 3600


def _seconds(text: str) -> int:
    """Parse ``--timeout``: whole seconds, 1 to :data:`MAX_TIMEOUT` (papermill refuses fractions)."""
    try:
        return parse_whole_number(text, 1, MAX_TIMEOUT)
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"{exc} (whole seconds)") from None


def _command_line(args: argparse.Namespace, out: Path) -> list[str]:
    """A command that reproduces this run (recorded in provenance.json)."""
    cmd = ["prompticl", "figures", *(["--all"] if args.all else args.names)]
    for key, value in args.param:
        cmd += ["-p", key, value]
    for flag, value in (("-f", args.params_file), ("--book", args.book)):
        if value:
            cmd += [flag, value]
    cmd += ["--smoke"] if args.smoke else []
    cmd += ["--jobs", str(args.jobs)] if args.jobs != 1 else []
    cmd += ["--allow-long"] if args.allow_long else []
    return cmd + ["--out", str(out)]


def register(subparsers: "argparse._SubParsersAction") -> None:
    """Add the ``figures`` subcommand."""
    parser = subparsers.add_parser(
        "figures",
        help="list or regenerate the book's figures (papermill)",
        description="List the book's figures, or regenerate figures by executing their chapters with "
        "your parameters (papermill).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="figure names (or chapter names: all their figures)")
    parser.add_argument("--list", action="store_true", help="list every figure with its chapter and parameters")
    parser.add_argument("--json", action="store_true", help="with --list: print JSON")
    parser.add_argument("--all", action="store_true", help="regenerate every figure")
    parser.add_argument(
        "-p", "--param", nargs=2, action="append", default=[], metavar=("KEY", "VALUE"), help="set a parameter"
    )
    parser.add_argument("-f", "--params-file", metavar="PARAMS.yaml", help="read parameters from a YAML file")
    parser.add_argument("--out", metavar="DIR", help="output folder (default: a fresh folder under _build/figures/)")
    parser.add_argument("--force", action="store_true", help="replace DIR if it exists and is not empty")
    parser.add_argument("--jobs", "-j", type=positive_int, default=1, metavar="N", help="chapters run in parallel (default 1)")
    parser.add_argument("--smoke", action="store_true", help="start from each chapter's fast smoke parameters (claims reported, not enforced)")
    parser.add_argument("--book", metavar="DIR", help="the book folder (default: book/ of this repository)")
    parser.add_argument("--timeout", type=_seconds, metavar="SECONDS", help="fail a cell that runs longer than this (whole seconds)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress lines on stderr")
    parser.add_argument("--allow-long", action="store_true",
                        help=f"run even when a chapter's estimated time exceeds {BUDGET_SECONDS / 60:.0f} minutes or the "
                        f"estimated memory {BUDGET_BYTES / 2**30:.0f} GiB")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """List, or validate everything and then run; see the module docstring for exit statuses."""
    try:  # paths are resolved against it (the book, --out, the default output folder)
        os.getcwd()
    except FileNotFoundError:
        raise CLIError("the current folder no longer exists (it was deleted): cd to an existing folder") from None
    for flag, value in (("--out", args.out), ("--book", args.book), ("-f", args.params_file)):
        if value is not None and not value.strip():
            raise CLIError(f"{flag} is empty: give a path")
    try:
        registry = build_registry(args.book)
        if args.list:
            if args.names or args.all or args.param or args.params_file or args.out:
                raise CLIError("--list takes no figure names, parameters or output options")
            if args.json:
                print(json.dumps(registry.to_list(), indent=2))
            else:
                sys.stdout.write(registry_text(registry))
            return 0
        if args.json:
            raise CLIError("--json goes with --list")
        if args.all and args.names:
            raise CLIError("give figure names or --all, not both")
        file_params = load_params_file(args.params_file) if args.params_file else None
        plan = plan_run(registry, args.names, args.param, file_params, run_all=args.all, smoke=args.smoke)
        out = Path(args.out) if args.out else default_out_dir()
        check_out_dir(out, args.force, registry.book)
        costs = check_plan_cost(plan, args.jobs, args.allow_long)  # each chapter's declared cost, before any work
    except FigureError as exc:
        raise CLIError(str(exc)) from None

    command = _command_line(args, out)
    # A reader's own parameters, or the small smoke ones, may take a claim off its domain: report it
    # instead of failing (the claims are enforced on the book's defaults, by nbval and the site).
    claims = "report" if (args.param or args.params_file or args.smoke) else "strict"
    try:
        provenance = run_plan(
            plan, out, jobs=args.jobs, force=args.force, progress=not args.quiet, command=command, timeout=args.timeout,
            claims=claims, exiting=True,
            # long work allowed by --allow-long shows the estimated time left
            estimates={c: e.seconds for c, e in costs.items() if e.seconds > BUDGET_SECONDS},
        )
    except FigureError as exc:
        raise CLIError(str(exc)) from None
    except Interrupted as exc:  # workers, kernels and temporary folders are gone already
        # An execution task of the stopped kernel may still fail ("Kernel died") and be logged by
        # asyncio as the interpreter exits, after our one line: nothing more is worth saying.
        logging.disable(logging.CRITICAL)
        print(f"prompticl: error: interrupted by {exc.name}; nothing was written to {escape_control(str(out))}", file=sys.stderr)
        return exc.status
    except (ChapterFailed, OSError) as exc:  # failed while running: DIR is as it was
        message = str(exc) if isinstance(exc, ChapterFailed) else f"cannot write the figures: {exc}"
        print(f"prompticl: error: {' '.join(message.split())}", file=sys.stderr)
        return 1
    if claims == "report":
        for line in summary_lines(provenance["claims"]):
            print(escape_control(line))
    n_figs = sum(len(v) for v in provenance["figures"].values())
    total = provenance["timings_seconds"]["total"]
    print(f"wrote {n_figs} figure(s) from {len(plan.chapters)} chapter(s) to {out} in {total:.1f} s")
    return 0
