"""The ``prompticl`` command line: ``prompticl <command> ...``.

Each subcommand lives in ``prompticl.commands.<name>`` and exposes ``register(subparsers)``, which
adds its parser and sets ``handler`` (a function ``(args) -> int``) as a default.  Expected failures
(bad arguments, an invalid spec, a :class:`CLIError` raised by a handler) end with exit status 2 and
exactly one line ``prompticl: error: ...`` on stderr, before any work and with nothing on stdout.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import NoReturn, Sequence

from . import __version__
from .commands import CLIError, UsageError, one_line
from .spec import SpecError

__all__ = ["COMMAND_MODULES", "CLIError", "build_parser", "main"]

PROG = "prompticl"

#: The subcommand modules ``prompticl.commands.<name>``, in the order ``prompticl --help`` lists
#: them.  To add a command, write ``commands/<name>.py`` with ``register(subparsers)`` and add its
#: name here (one line).
COMMAND_MODULES: tuple[str, ...] = (
    "theory",
    "specs",
    "train",
    "figures",
)


class ArgumentParser(argparse.ArgumentParser):
    """An argument parser whose usage errors raise instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def build_parser() -> ArgumentParser:
    """The top-level parser with every subcommand of :data:`COMMAND_MODULES` registered."""
    parser = ArgumentParser(
        prog=PROG,
        description="Closed forms, Monte Carlo checks and figures for 'Provable Benefits of "
        "Task-Specific Prompts for In-context Learning' (AISTATS 2025).",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    # Subparsers inherit the parser class, so their usage errors raise UsageError too.
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__package__}.commands.{name}").register(subparsers)
    return parser


def _fail(message: str) -> int:
    print(f"{PROG}: error: {one_line(message)}", file=sys.stderr)
    return 2


def main(argv: "Sequence[str] | None" = None) -> int:
    """Run the command line and return the exit status (0 success, 2 bad input).

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments without the program name; defaults to ``sys.argv[1:]``.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        return _fail(str(exc))
    except SpecError as exc:
        return _fail(str(exc))
    except SystemExit as exc:  # --help and --version exit through argparse
        return exc.code if isinstance(exc.code, int) else 0
    try:
        return int(args.handler(args))
    except (CLIError, SpecError) as exc:
        return _fail(str(exc))
    except BrokenPipeError:
        # The reader went away (e.g. `| head`); silence the flush at interpreter exit.
        sys.stdout = None  # type: ignore[assignment]
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
