"""``prompticl specs``: list the built-in task-mixture specs.

Chapter 1 introduces the built-in mixtures.
"""
from __future__ import annotations

import argparse

from .._spec import load_spec, spec_names

__all__ = ["register", "run"]


def register(subparsers: "argparse._SubParsersAction") -> None:
    """Add the ``specs`` subcommand."""
    parser = subparsers.add_parser(
        "specs",
        help="list the built-in specs",
        description="List the built-in task-mixture specs (usable wherever SPEC is asked for).",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print one line per built-in spec: name, d, K, sigma and description."""
    names = spec_names()
    width = max(len(n) for n in names)
    for name in names:
        spec = load_spec(name)
        print(f"{name:<{width}}  d={spec.d:<3d} K={spec.K}  sigma={spec.noise:<4g} {spec.description}")
    return 0
