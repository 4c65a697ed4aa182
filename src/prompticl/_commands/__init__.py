"""Subcommands of the ``prompticl`` command line, one module per command.

A command module exposes ``register(subparsers)``: it calls ``subparsers.add_parser(...)``, adds
its arguments and sets ``handler=<function (args) -> int>`` with ``set_defaults``.  Shared argument
types and the spec loader are in :mod:`prompticl._commands._common`.

The book's page "Reproducing and regenerating the figures" documents the commands.
"""
from __future__ import annotations

__all__ = ["CLIError", "UsageError", "one_line"]


class CLIError(Exception):
    """An expected failure of a command (bad input): reported as one line, exit status 2."""


class UsageError(CLIError):
    """A command-line usage error found by the argument parser."""


def one_line(message: str) -> str:
    """Collapse ``message`` to a single line, so that every error is exactly one line on stderr."""
    return " ".join(str(message).split())
