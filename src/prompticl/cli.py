"""The ``prompticl`` command line: ``prompticl <command> ...``.

Each subcommand lives in ``prompticl._commands.<name>`` and exposes ``register(subparsers)``, which
adds its parser and sets ``handler`` (a function ``(args) -> int``) as a default.  Expected failures
(bad arguments, an invalid spec, a problem beyond :mod:`prompticl._limits`, a :class:`CLIError` raised
by a handler) end with exit status 2 and exactly one line ``prompticl: error: ...`` on stderr, before
any work and with nothing on stdout.  Anything else is a fault of the program: exit status 1 and one
line saying where to report it (see :func:`main`).

The book's page "Reproducing and regenerating the figures" (book/reproducibility.md) documents it.
"""
from __future__ import annotations

import argparse
import importlib
import io
import os
import sys
from typing import NoReturn, Sequence

from . import __version__
from ._commands import CLIError, UsageError, one_line
from ._safe_yaml import escape_control

__all__ = ["COMMAND_MODULES", "CLIError", "build_parser", "main"]

PROG = "prompticl"

#: The subcommand modules ``prompticl._commands.<name>``, in the order ``prompticl --help`` lists
#: them.  To add a command, write ``_commands/<name>.py`` with ``register(subparsers)`` and add its
#: name here (one line).
COMMAND_MODULES: tuple[str, ...] = (
    "theory",
    "specs",
    "train",
    "figures",
    "sweep",
)


def _once(base: type) -> type:
    """``base`` (an argparse action) that refuses a second use of its option: ``--n 5 --n 6`` would
    otherwise silently keep the last value."""

    class Once(base):  # type: ignore[valid-type, misc]
        def __call__(self, parser, namespace, values, option_string=None):
            seen = namespace.__dict__.setdefault("_given", set())
            if self.dest in seen:
                raise argparse.ArgumentError(self, "given more than once (give it once)")
            seen.add(self.dest)
            super().__call__(parser, namespace, values, option_string)

    Once.__name__ = f"Once{base.__name__}"
    return Once


_ONCE = {
    None: _once(argparse._StoreAction),
    "store": _once(argparse._StoreAction),
    "store_true": _once(argparse._StoreTrueAction),
    "store_false": _once(argparse._StoreFalseAction),
    argparse.BooleanOptionalAction: _once(argparse.BooleanOptionalAction),
}


class ArgumentParser(argparse.ArgumentParser):
    """An argument parser whose usage errors raise instead of printing usage and exiting, and whose
    single-valued options refuse to be given twice."""

    def add_argument(self, *args, **kwargs):  # noqa: D102
        action = kwargs.get("action")
        if args and args[0].startswith("-") and (action is None or isinstance(action, str) or isinstance(action, type)) \
                and action in _ONCE:
            kwargs["action"] = _ONCE[action]
        return super().add_argument(*args, **kwargs)

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
        importlib.import_module(f"{__package__}._commands.{name}").register(subparsers)
    return parser


def _say(line: str) -> None:
    """Write one line on stderr, if there is a stderr to write to."""
    if sys.stderr is None:
        return
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):  # stderr closed or full: nowhere left to report
        pass


def _fail(message: str, status: int = 2) -> int:
    _say(f"{PROG}: error: {one_line(escape_control(message))}")
    return status


class _OutputFailed(Exception):
    """Writing to stdout failed (closed pipe, full disk): not the user's input, not a bug."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


class _GuardedOutput:
    """A stdout wrapper that turns a failed write into :class:`_OutputFailed`, so that the one place
    that reports it is :func:`main` and not a traceback at interpreter exit."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            try:
                return self._stream.write(text)
            except UnicodeEncodeError:  # PYTHONIOENCODING=ascii, a C locale: escape what cannot be shown
                encoding = getattr(self._stream, "encoding", None) or "ascii"
                return self._stream.write(text.encode(encoding, "backslashreplace").decode(encoding))
        except (OSError, ValueError) as exc:  # ValueError: write to a closed file
            raise _OutputFailed(exc if isinstance(exc, OSError) else OSError(str(exc))) from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except (OSError, ValueError) as exc:
            raise _OutputFailed(exc if isinstance(exc, OSError) else OSError(str(exc))) from None

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


class _ClosedStdout:
    """What :func:`main` writes to when the process started without a stdout."""

    def write(self, text: str) -> int:
        raise OSError("standard output is closed")

    def flush(self) -> None:
        pass


def _discard_stdout(stream) -> None:
    """Point stdout's file descriptor at /dev/null, so that the interpreter's final flush of data
    still buffered cannot fail a second time (with an 'Exception ignored' traceback)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        pass


def _occupy_closed_std_fds() -> None:
    """Put /dev/null on each of the file descriptors 0, 1 and 2 that the process started without
    (``2>&-``).  Otherwise the next file or pipe opened takes that number, and a child (a Jupyter
    kernel) inherits it as its stdin, stdout or stderr, or none at all, and dies on its first write.
    ``sys.stdout`` and ``sys.stderr`` stay as Python set them (``None``): :func:`main` treats a
    closed stdout as such, and a closed stderr as nowhere to report."""
    for fd, flags in ((0, os.O_RDONLY), (1, os.O_WRONLY), (2, os.O_WRONLY)):
        try:
            os.fstat(fd)
            continue
        except OSError:
            pass
        try:
            new = os.open(os.devnull, flags)
            if new != fd:
                os.dup2(new, fd)
                os.close(new)
            os.set_inheritable(fd, True)  # os.open makes descriptors that children do not inherit
        except OSError:
            pass


def _internal(exc: BaseException) -> int:
    if os.environ.get("PROMPTICL_TRACEBACK") == "1":  # for debugging: the full traceback
        raise exc
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return _fail(
        f"internal error ({detail}). This is a bug in {PROG} {__version__}: please report it on the project's "
        "issue tracker with the command line you ran",
        1,
    )


def _run(argv: "Sequence[str] | None") -> int:
    if list(sys.argv[1:] if argv is None else argv) == ["--version"]:
        # before the command modules load numpy and scipy: answers under a tight memory cap too
        print(f"{PROG} {__version__}")
        return 0
    from ._commands._common import USER_ERRORS

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except (UsageError, *USER_ERRORS) as exc:
        return _fail(str(exc))
    except SystemExit as exc:  # --help and --version exit through argparse
        return exc.code if isinstance(exc.code, int) else 0
    try:
        return int(args.handler(args))
    except (CLIError, *USER_ERRORS) as exc:
        return _fail(str(exc))


def main(argv: "Sequence[str] | None" = None) -> int:
    """Run the command line and return the exit status.

    Exit statuses: 0 success; 2 bad input (one line on stderr, nothing on stdout, nothing written);
    1 the output could not be written (closed pipe, full disk, closed stdout) or an internal fault
    (one line saying where to report it); 130 interrupted (``figures`` also 143 on SIGTERM and 129
    on SIGHUP).

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments without the program name; defaults to ``sys.argv[1:]``.
    """
    _occupy_closed_std_fds()
    real, real_err = sys.stdout, sys.stderr
    # Started with stderr closed (`2>&-`): what would go there is dropped, never sent to stdout
    # (print(file=None) writes to stdout).
    if real_err is None:
        sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - closed in finally
    # Started with stdout closed (`>&-`): bad input is still bad input (status 2), and the first
    # write of an answer fails with one line (status 1).
    sys.stdout = _GuardedOutput(real if real is not None else _ClosedStdout())
    try:
        try:
            status = _run(argv)
            sys.stdout.flush()
            return status
        except _OutputFailed:
            raise
        except KeyboardInterrupt:
            return _fail("interrupted", 130)
        except RecursionError as exc:
            return _internal(exc)
        except Exception as exc:  # noqa: BLE001 - the one place that turns faults into one line
            return _internal(exc)
    except _OutputFailed as exc:
        if real is not None:
            _discard_stdout(real)
        if isinstance(exc.error, BrokenPipeError):
            return 1  # the reader went away (`| head`): nothing to say, and nobody to say it to
        reason = exc.error.strerror or str(exc.error)
        return _fail(f"cannot write the output: {reason}", 1)
    finally:
        sys.stdout = real
        if real_err is None:
            sys.stderr.close()
            sys.stderr = real_err


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
