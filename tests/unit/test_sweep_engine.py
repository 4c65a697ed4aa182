"""The Dask side of ``prompticl sweep`` (prompticl._sweep_engine), on a real in-process Dask cluster:
rows reach the writer in batches and equal a serial run, failed tasks are counted, not retried by us,
and an unreachable scheduler is an EngineError.  Worker processes, a separate scheduler, killed workers
and interrupts are tested in tests/book/test_sweep_cluster.py."""
from __future__ import annotations

import logging
import socket

import pandas as pd
import pytest

from prompticl._sweep_engine import EngineError, connect, run_points
from prompticl._sweep_grid import parse_grid
from prompticl._sweep_models import MODELS, SweepModel, compute_point, register_model


def test_unreachable_scheduler_is_an_engine_error(monkeypatch):
    monkeypatch.setattr("prompticl._sweep_engine.CONNECT_TIMEOUT", 1)  # the wait, not what is waited for
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(EngineError, match=rf"cannot reach the Dask scheduler at tcp://127\.0\.0\.1:{port} within 1 s"):
        connect(f"tcp://127.0.0.1:{port}")
    # what Dask handles itself (a killed worker's result "rescheduling") stays off the command's stderr
    assert logging.getLogger("distributed.client").getEffectiveLevel() >= logging.ERROR


def test_rows_equal_a_serial_run_and_failures_are_counted():
    from distributed import Client, LocalCluster

    calls = []

    def broken(spec, n, regime, seed, options):
        calls.append(n)
        raise ArithmeticError(f"no result at n = {n}")

    register_model(SweepModel("broken", "always fails", False, broken, lambda *a: None))
    try:
        good = parse_grid({"mixtures": ["zero-mean", "noisy"], "n": [2, 7], "regimes": ["plain", "joint"],
                           "model": "reduced"}).points()
        bad = parse_grid({"mixtures": ["zero-mean"], "n": [3], "regimes": ["plain"], "model": "broken"}).points()
        batches = []
        with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0",
                          silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
            summary = run_points(client, good + bad, lambda rows: batches.append(list(rows)) or len(batches), retries=1)
    finally:
        del MODELS["broken"]
    assert (summary.computed, summary.failed) == (8, 1)
    assert summary.first_error == "ArithmeticError: no result at n = 3"
    assert len(calls) == 2  # Dask ran the failing task twice (retries=1): our code did not retry it
    written = pd.DataFrame([r for b in batches for r in b]).sort_values("point_hash", ignore_index=True)
    serial = pd.DataFrame(list(map(compute_point, good))).sort_values("point_hash", ignore_index=True)
    pd.testing.assert_frame_equal(written.drop(columns=["seconds", "cpu_seconds"]), serial.drop(columns=["seconds", "cpu_seconds"]), check_exact=True)
