"""Run the hostile-input corpus of ``test_hostile.py`` in one process (not a test module).

``python hostile_driver.py CASES.pickle RESULTS.jsonl`` imports :mod:`prompticl.cli` once, then runs
each case as ``cli.main(argv)`` in a fresh temporary folder, with file descriptors 1 and 2 (and so
``sys.stdout``, ``sys.stderr`` and anything C code writes) captured per case, under two alarms:

- a soft one (``setitimer``, the case's ``timeout``) that raises :class:`CaseTimeout`, a
  ``BaseException`` the CLI's ``except Exception`` cannot swallow;
- a hard one (``faulthandler.dump_traceback_later``, ``hard_timeout``) that dumps every thread's
  stack on this process's stderr and ends the process, for a hang in C code that never returns to
  the interpreter.

The parent sets ``RLIMIT_AS`` on this process.  ``CASES.pickle`` holds ``{"timeout": float,
"hard_timeout": float, "cases": [(case_id, {file name: str | bytes | tuple}, argv), ...]}`` (see
:func:`make` for the tuples: FIFOs, symlinks, folders).  Each line of
``RESULTS.jsonl`` is a JSON object, flushed at once: ``{"event": "hello", "prompticl": path}``
first, then per case ``{"event": "start", "case": id}`` and its result record (``"event":
"done"``).  A process that dies leaves a ``start`` without its ``done``: the parent records that
case as crashed and runs the remaining cases in a new process.  After a case that timed out, let an
exception escape ``main`` or changed process-wide state (:func:`process_state`), the driver stops,
so that the next cases start in a clean process too.
"""
from __future__ import annotations

import faulthandler
import io
import json
import os
import pickle
import signal
import sys
import tempfile
import threading
import time
import traceback
import warnings
from pathlib import Path


class CaseTimeout(BaseException):
    """The soft alarm of a case went off."""


_armed = False
_fired = False


def _on_alarm(signum, frame):  # noqa: ARG001
    global _fired
    if _armed:
        _fired = True
        raise CaseTimeout


def listing(root: Path) -> list:
    """Every path under ``root`` with its size (-1 for a folder)."""
    return sorted([str(p.relative_to(root)), p.stat().st_size if p.is_file() else -1] for p in root.rglob("*"))


def _children() -> str:
    try:
        return Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text().strip()
    except OSError:
        return ""


def process_state() -> dict:
    """What one case may not leave changed for the next: a difference is reported as a leak."""
    state = {
        "cwd": os.getcwd(),
        "environ": dict(os.environ),
        "signals": {signal.strsignal(s) or str(int(s)): repr(signal.getsignal(s)) for s in sorted(signal.valid_signals())
                    if s not in (signal.SIGKILL, signal.SIGSTOP) and signal.getsignal(s) is not None},
        "threads": sorted(t.name for t in threading.enumerate()),
        "children": _children(),
        "stdio": [repr(sys.stdin), repr(sys.stdout), repr(sys.stderr)],
        "recursion_limit": sys.getrecursionlimit(),
        "umask": os.umask(os.umask(0o022)),
    }
    if "logging" in sys.modules:
        state["logging_disable"] = sys.modules["logging"].root.manager.disable
    if "numpy" in sys.modules:
        state["numpy_errstate"] = sys.modules["numpy"].geterr()
    return state


def _diff(before: dict, after: dict) -> dict:
    leaks = {}
    for key in sorted(set(before) | set(after)):
        b, a = before.get(key), after.get(key)
        if b == a:
            continue
        if isinstance(b, dict) and isinstance(a, dict):
            leaks[key] = {k: [b.get(k), a.get(k)] for k in sorted(set(b) | set(a)) if b.get(k) != a.get(k)}
        else:
            leaks[key] = [b, a]
    return leaks


def _restore(before: dict) -> None:
    """Undo what can be undone (the driver stops after a leak anyway)."""
    os.chdir(before["cwd"])
    os.environ.clear()
    os.environ.update(before["environ"])


def make(path: Path, content) -> None:
    """Create one file of a case: text or bytes, or ``("fifo",)``, ``("symlink", target)``, ``("dir",)``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, tuple):
        kind = content[0]
        if kind == "fifo":
            os.mkfifo(path)
        elif kind == "symlink":
            os.symlink(content[1], path)
        elif kind == "dir":
            path.mkdir()
        else:
            raise ValueError(kind)
    else:
        path.write_bytes(content.encode() if isinstance(content, str) else content)


def run_case(main, files: dict, argv: list, timeout: float, hard_timeout: float, real_stderr) -> dict:
    """Run ``main(argv)`` once in a fresh folder holding ``files``; return its record."""
    global _armed, _fired
    home = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="hostile-") as tmp, \
            tempfile.TemporaryFile() as out_file, tempfile.TemporaryFile() as err_file:
        root = Path(tmp)
        for name, content in files.items():
            make(root / name, content)
        before = listing(root)
        state = process_state()
        saved_fds = os.dup(1), os.dup(2)
        saved_streams = sys.stdout, sys.stderr
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(out_file.fileno(), 1)
        os.dup2(err_file.fileno(), 2)
        # What a fresh `python -m prompticl` has: text streams on fds 1 and 2.
        sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8", line_buffering=False)
        sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8", errors="backslashreplace",
                                      line_buffering=True)
        status = exception = None
        _fired = False
        start = time.monotonic()
        try:
            try:
                os.chdir(root)
                faulthandler.dump_traceback_later(hard_timeout, exit=True, file=real_stderr)
                _armed = True
                signal.setitimer(signal.ITIMER_REAL, timeout)
                with warnings.catch_warnings():  # fresh 'once' registries, as in a new process
                    status = main(list(argv))
            finally:
                _armed = False
                signal.setitimer(signal.ITIMER_REAL, 0)
                faulthandler.cancel_dump_traceback_later()
        except CaseTimeout:
            pass
        except BaseException:  # noqa: BLE001 - anything that escapes main is the finding
            exception = traceback.format_exc()
        finally:
            elapsed = time.monotonic() - start
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except (OSError, ValueError):
                    pass
            sys.stdout, sys.stderr = saved_streams
            os.dup2(saved_fds[0], 1)
            os.dup2(saved_fds[1], 2)
            os.close(saved_fds[0])
            os.close(saved_fds[1])
            os.chdir(home)
        after = listing(root)
        leaks = _diff(state, process_state())
        if leaks:
            _restore(state)
        out_file.seek(0)
        err_file.seek(0)
        out, err = out_file.read(), err_file.read()
    return {
        "status": status,
        "stdout": out.decode("utf-8", "replace"),
        "stderr": err.decode("utf-8", "replace"),
        "before": before,
        "after": after,
        "timed_out": _fired,
        "exception": exception,
        "leaks": leaks,
        "seconds": round(elapsed, 4),
    }


def main(cases_path: str, results_path: str) -> int:
    job = pickle.loads(Path(cases_path).read_bytes())
    real_stderr = os.fdopen(os.dup(2), "w")
    signal.signal(signal.SIGALRM, _on_alarm)
    with open(results_path, "a", encoding="utf-8") as results:
        def emit(record: dict) -> None:
            results.write(json.dumps(record) + "\n")
            results.flush()

        from prompticl import cli  # noqa: PLC0415 - after the alarm is set up; its path is reported

        # What a case may load on first use (prompticl imports its names lazily): loaded here, so
        # that process_state compares like with like from the first case on.
        import logging  # noqa: F401, PLC0415
        import numpy  # noqa: F401, PLC0415

        emit({"event": "hello", "prompticl": cli.__file__})
        for case_id, files, argv in job["cases"]:
            emit({"event": "start", "case": case_id})
            record = run_case(cli.main, files, argv, job["timeout"], job["hard_timeout"], real_stderr)
            emit({"event": "done", "case": case_id, **record})
            if record["timed_out"] or record["exception"] or record["leaks"]:
                break  # the next cases run in a fresh process
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
