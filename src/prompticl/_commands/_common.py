"""Argument types and helpers shared by the subcommands.

Argument types raise :class:`argparse.ArgumentTypeError`, so that a bad value becomes a usage error
(``argument --n: ...``) found while parsing, i.e. before any work is done.

Used by every command of the book's page "Reproducing and regenerating the figures".
"""
from __future__ import annotations

import argparse

from .._limits import MAX_N, LimitError
from .._safe_yaml import YAMLInputError, escape_control
from .._spec import Spec, SpecError, load_spec
from . import CLIError

__all__ = ["MAX_N", "USER_ERRORS", "parse_whole_number", "positive_int", "spec_arg", "add_spec_argument",
           "add_n_argument", "require_signal"]

#: Exceptions that mean "bad input" wherever they come from: exit status 2 and one line.
USER_ERRORS: tuple[type[BaseException], ...] = (SpecError, LimitError, YAMLInputError)


def _shown(text: str) -> str:
    """``text`` quoted for a message: control characters escaped, long values shortened."""
    body = text if len(text) <= 40 else f"{text[:12]}...{text[-8:]} ({len(text)} characters)"
    return repr(escape_control(body))


def parse_whole_number(text: str, low: int, high: int) -> int:
    """Parse ``low <= value <= high`` written with ASCII digits only.

    Python's ``int`` also accepts ``+5``, ``1_000``, `` 5 `` and non-ASCII digits such as ``５``;
    none of them is a context length anyone means, so they are refused.  Huge values are refused
    from their length, before ``int`` (which refuses more than 4300 digits with another message).
    """
    if not isinstance(text, str) or not text or not (text.isascii() and text.isdigit()):
        raise argparse.ArgumentTypeError(f"expected an integer >= {low} (digits 0-9 only), got {_shown(text)}")
    digits = text.lstrip("0") or "0"
    if len(digits) > len(str(high)) or int(digits) > high:
        raise argparse.ArgumentTypeError(f"{_shown(text)} is above the limit {high}")
    value = int(digits)
    if value < low:
        raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {_shown(text)}")
    return value


def positive_int(text: str) -> int:
    """Parse an integer ``1 <= n <= MAX_N`` (ASCII digits only: ``3.0``, ``1e3``, ``+5``, ``1_000`` are rejected)."""
    return parse_whole_number(text, 1, MAX_N)


def spec_arg(text: str) -> Spec:
    """Load a spec (built-in name or YAML path); an invalid spec becomes a usage error saying why."""
    try:
        return load_spec(text)
    except USER_ERRORS as exc:
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


def require_signal(spec: Spec) -> None:
    """Refuse a spec whose task vectors are all zero (every task mean and covariance is zero).

    Every regime then predicts 0 and its loss is σ²: there is nothing to learn, the losses divided
    by the signal are 0/0, and the trainer's least-squares systems are singular.
    """
    from .._closed_forms import signal  # the theory imports spec; keep this module light for --help

    if signal(spec) == 0.0:
        raise CLIError(
            f"spec {spec.name!r} has no signal (tr Sigma_tilde = 0): every task mean and covariance is zero, so "
            f"there is nothing to learn (every regime predicts 0 and its loss is sigma^2 = {spec.noise**2:g})"
        )
