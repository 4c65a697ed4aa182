"""Stopping a ``prompticl figures`` run cleanly on a signal: the handlers, and the processes to stop.

SIGINT, SIGTERM and SIGHUP alike stop the pool's workers and the kernels they started (found through
``/proc``; Linux only), so that nothing is orphaned.  The book's page "Reproducing and regenerating
the figures" documents the exit statuses.
"""
from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

__all__ = ["HANDLED_SIGNALS", "Interrupted", "die_with_parent", "run_owned_dirs", "signals_interrupt", "stop_processes",
           "worker_init"]

#: Signals that stop a run cleanly (exit status 128 + the signal's number: 130, 143, 129).
HANDLED_SIGNALS: tuple[int, ...] = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


class Interrupted(KeyboardInterrupt):
    """A run stopped by a signal; everything it created is gone.  ``status`` is 128 + the signal."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.name = signal.Signals(signum).name
        self.status = 128 + signum
        super().__init__(self.name)


@contextmanager
def signals_interrupt(exiting: bool = False) -> Iterator[None]:
    """Turn SIGINT, SIGTERM and SIGHUP into :class:`Interrupted` for the duration of a run.

    The first signal also ignores further ones, so that the clean-up it starts is not itself cut
    short (a second Ctrl-C, or a SIGTERM after the SIGINT).  With ``exiting`` (the command line,
    whose process ends after the run) they stay ignored after an interrupt: restoring the default
    handlers would let a second signal 0.2 s later kill the process after its one line, while the
    interpreter shuts down.  Only the main thread can do this.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    interrupted = False

    def handler(signum, frame):  # noqa: ARG001
        nonlocal interrupted
        interrupted = True
        for s in HANDLED_SIGNALS:
            signal.signal(s, signal.SIG_IGN)
        # The run ends with one line: mute the libraries' logs (nbclient reports the kernel that the
        # clean-up kills as "Kernel died while waiting for execute reply").
        logging.disable(logging.CRITICAL)
        raise Interrupted(signum)

    previous = {s: signal.signal(s, handler) for s in HANDLED_SIGNALS}
    try:
        yield
    finally:
        if not (interrupted and exiting):  # else the handlers stay ignored and the logs muted
            for s, h in previous.items():
                signal.signal(s, h)
            logging.disable(logging.NOTSET)  # the clean-up is over: logs as before


def _children() -> dict[int, list[int]]:
    """Parent pid -> child pids, from /proc (empty where there is no /proc)."""
    tree: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return tree
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read().decode("ascii", "replace")
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()  # the command name may hold spaces and ')'
        tree.setdefault(int(fields[1]), []).append(int(entry))
    return tree


def _descendants(pids: Sequence[int]) -> list[int]:
    tree, out, todo = _children(), [], list(pids)
    while todo:
        pid = todo.pop()
        for child in tree.get(pid, []):
            out.append(child)
            todo.append(child)
    return out


def stop_processes() -> None:
    """Kill every process this one started for the run: pool workers and the kernels they (or this
    process) launched.  The kernels run in sessions of their own (jupyter_client), so they are found
    through the process tree, not the process group.  Children are stopped first so that none can
    start another process while the tree is read.  The multiprocessing resource tracker is spared:
    it unregisters the pool's semaphores when this process exits."""
    from multiprocessing import resource_tracker

    spared = {getattr(getattr(resource_tracker, "_resource_tracker", None), "_pid", None)}
    direct = [pid for pid in _children().get(os.getpid(), []) if pid not in spared]
    for pid in direct:
        with _ignore_missing():
            os.kill(pid, signal.SIGSTOP)
    for pid in direct + _descendants(direct):
        with _ignore_missing():
            os.kill(pid, signal.SIGKILL)


@contextmanager
def _ignore_missing() -> Iterator[None]:
    try:
        yield
    except (ProcessLookupError, PermissionError):
        pass


#: ``prctl`` option: the signal a process gets when its parent dies (Linux).
PR_SET_PDEATHSIG = 1


def die_with_parent() -> bool:
    """Ask Linux to SIGKILL this process when its parent dies (``prctl(PR_SET_PDEATHSIG)``), so that
    a pool worker does not run on, writing, after its parent was killed with SIGKILL (which no
    handler sees).  Returns whether it was set (``False`` off Linux)."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        ok = libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False
    if ok and os.getppid() == 1:  # the parent died before the call: nobody would signal us
        os._exit(1)
    return ok


def worker_init() -> None:
    """Pool workers leave SIGINT and SIGHUP (sent to the whole terminal group) to the parent, which
    stops them and their kernels; they die with the parent, even when it is killed with SIGKILL."""
    for name in ("SIGINT", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    die_with_parent()


@contextmanager
def run_owned_dirs() -> Iterator[Path]:
    """A temporary folder owned by the run for what Jupyter and matplotlib would otherwise leave in
    ``$TMPDIR`` or the user's folders: the kernels' connection files (``JUPYTER_RUNTIME_DIR``: ports
    and an HMAC key, left behind when a run is stopped) and, when matplotlib's own configuration
    folder is not writable (a read-only HOME), its cache (``MPLCONFIGDIR``; matplotlib would make a
    ``matplotlib-*`` folder in ``$TMPDIR`` for every run).  Kernels and pool workers inherit the
    environment; the variables are restored and the folder removed at the end, however it ends."""
    import shutil
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="prompticl-run-"))
    saved = {k: os.environ.get(k) for k in ("JUPYTER_RUNTIME_DIR", "MPLCONFIGDIR")}
    try:
        (root / "runtime").mkdir()
        os.environ["JUPYTER_RUNTIME_DIR"] = str(root / "runtime")
        if saved["MPLCONFIGDIR"] is None and not _mpl_config_writable():
            (root / "matplotlib").mkdir()
            os.environ["MPLCONFIGDIR"] = str(root / "matplotlib")
        yield root
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(root, ignore_errors=True)


def _mpl_config_writable() -> bool:
    """Whether matplotlib's default configuration folder is (or can be made) writable, following
    matplotlib's own rule (``$XDG_CONFIG_HOME/matplotlib``, else ``~/.config/matplotlib``)."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    probe = Path(base) / "matplotlib"
    while not probe.exists():
        if probe.parent == probe:
            return False
        probe = probe.parent
    return probe.is_dir() and os.access(probe, os.W_OK | os.X_OK)
