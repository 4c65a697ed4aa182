"""Running a sweep's points on Dask, saving rows as they finish

:func:`connect` opens a :class:`distributed.Client` (a LocalCluster with one single-threaded worker
process per core, or an existing scheduler, reached within a short timeout); :func:`run_points` submits
one task per point (:func:`~prompticl._sweep_models.compute_point`, keyed by the point's hash, retried
by Dask when a worker fails) and writes the finished rows in batches to the results folder, also when
interrupted.  The book's page "Sweeps on a cluster" (book/sweeps.md) documents it.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

__all__ = ["CONNECT_TIMEOUT", "EngineError", "SweepSummary", "connect", "run_points"]

#: Seconds to reach a scheduler before giving up (an unreachable address is bad input, not a wait).
CONNECT_TIMEOUT = 5
#: A batch of finished rows is written when it has this many rows or is this many seconds old.
BATCH_ROWS = 200
BATCH_SECONDS = 2.0
#: Dask retries a task this many times when its worker fails (our code does not retry).
RETRIES = 2


class EngineError(RuntimeError):
    """The engine cannot start (unreachable scheduler, bad address); one line."""


@dataclass
class SweepSummary:
    """What a run did: points computed, failed (with the first error), and the folder's part files."""

    computed: int = 0
    failed: int = 0
    first_error: str = ""
    parts: list = field(default_factory=list)


def connect(scheduler: "str | None" = None, workers: "int | None" = None):
    """A Dask client: on ``scheduler`` (an address such as ``tcp://host:8786``) or on a new
    LocalCluster of ``workers`` single-threaded processes (default: one per core).

    Returns
    -------
    (client, cluster)
        ``cluster`` is ``None`` for a scheduler address; close both when done.

    Raises
    ------
    EngineError
        If the scheduler cannot be reached within :data:`CONNECT_TIMEOUT` seconds.
    """
    from distributed import Client, LocalCluster

    # Dask logs what it handles itself (a lost result "rescheduling", a closed connection) on stderr;
    # the command's stderr carries only its own errors. Dask's logging configuration gives some
    # loggers their own level (distributed.client: warning), which the parent's level does not override.
    for name in ["distributed", *(n for n in list(logging.root.manager.loggerDict) if n.startswith("distributed."))]:
        logging.getLogger(name).setLevel(logging.ERROR)
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError, ValueError, TypeError) as exc:
            reason = str(exc).split("\n")[0] or type(exc).__name__
            raise EngineError(f"cannot reach the Dask scheduler at {scheduler} within {CONNECT_TIMEOUT} s ({reason})") from None
        return client, None
    n = workers or os.cpu_count() or 1
    # The worker processes inherit SIGINT ignored: Ctrl-C in a terminal reaches the whole process
    # group, and the client (not each worker, with a traceback) is the one that stops the sweep.
    import signal
    import threading

    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
                               silence_logs=logging.ERROR)
    finally:
        if main:
            signal.signal(signal.SIGINT, previous)
    return Client(cluster), cluster


def run_points(client, points: Sequence[dict], write: Callable[[list], Any], on_progress: "Callable[[int, int], None] | None" = None,
               retries: int = RETRIES) -> SweepSummary:
    """Compute ``points`` on ``client``'s workers, passing finished rows to ``write`` in batches.

    Each point is one task of :func:`compute_point` with the point's hash as its key; a failed task is
    counted (and its first error kept), not retried by this code.  On any exit (an interrupt
    included) the rows finished so far are written before the futures are cancelled.

    Returns
    -------
    SweepSummary
    """
    from distributed import as_completed

    from ._sweep_models import compute_point

    summary = SweepSummary()
    futures = client.map(compute_point, list(points), key=[f"prompticl-point-{p['hash']}" for p in points],
                         retries=retries, pure=False)
    batch: list = []
    last = time.monotonic()

    def flush() -> None:
        nonlocal batch, last
        if batch:
            part = write(batch)
            summary.parts.append(part)
            summary.computed += len(batch)
            batch = []
        last = time.monotonic()

    try:
        pending = as_completed(futures)
        for future in pending:
            if future.status in ("error", "cancelled"):  # raised after Dask's retries, or cancelled on the cluster
                summary.failed += 1
                if not summary.first_error:
                    exc = future.exception() if future.status == "error" else "cancelled by the cluster"
                    summary.first_error = (f"{type(exc).__name__}: {exc}" if future.status == "error" else exc).split("\n")[0]
            else:
                try:
                    row = future.result()
                except Exception:  # noqa: BLE001 - the result was lost with its worker: Dask recomputes it
                    pending.add(future)
                    continue
                batch.append(row)
            future.release()
            if len(batch) >= BATCH_ROWS or time.monotonic() - last >= BATCH_SECONDS:
                flush()
            if on_progress is not None:
                on_progress(summary.computed + len(batch), summary.failed)
    finally:
        try:
            flush()
        finally:
            client.cancel(futures)
    return summary
