"""Argument types and helpers shared by the subcommands.

Argument types raise :class:`argparse.ArgumentTypeError`, so that a bad value becomes a usage error
(``argument --n: ...``) found while parsing, i.e. before any work is done.
"""
from __future__ import annotations

import argparse

from ..spec import Spec, SpecError, load_spec

__all__ = ["MAX_N", "positive_int", "spec_arg", "add_spec_argument", "add_n_argument"]

#: Largest accepted context length: the closed forms are fine beyond it, but numpy's integer
#: arrays are not, and no experiment needs more.
MAX_N = 10**9


def positive_int(text: str) -> int:
    """Parse an integer ``1 <= n <= MAX_N`` (decimal digits only: ``3.0`` and ``1e3`` are rejected)."""
    try:
        value = int(text, 10)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    if value > MAX_N:
        raise argparse.ArgumentTypeError(f"expected an integer <= {MAX_N}, got {text!r}")
    return value


def spec_arg(text: str) -> Spec:
    """Load a spec (built-in name or YAML path); an invalid spec becomes a usage error."""
    try:
        return load_spec(text)
    except SpecError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_spec_argument(parser: argparse.ArgumentParser) -> None:
    """Add the positional ``SPEC`` argument (loaded and validated while parsing)."""
    parser.add_argument(
        "spec",
        metavar="SPEC",
        type=spec_arg,
        help="a built-in spec name (see 'prompticl specs') or the path of a YAML spec file",
    )


def add_n_argument(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """Add ``--n N [N ...]``: one or more context lengths."""
    parser.add_argument(
        "--n",
        "-n",
        dest="n",
        metavar="N",
        type=positive_int,
        nargs="+",
        required=required,
        help="context lengths (integers >= 1)",
    )
