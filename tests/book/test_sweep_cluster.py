"""``prompticl sweep`` on a real Dask cluster: a ``dask scheduler`` and two ``dask worker`` processes on
localhost (random ports, stopped afterwards), the command run as a subprocess against it.

* the rows equal a serial run (``compute_point`` in this process) bit for bit;
* a worker killed mid-sweep: the sweep still completes with every row;
* SIGINT to the client: the finished rows are kept, and a rerun computes only the missing points.

Grids are tiny (trained points of 1,000 prompts), since the machine is shared.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
GRID = """mixtures: [zero-mean, {family: mean-share, rho: [0.9]}]
n: [2, 3]
regimes: [plain, finetune, joint, joint-heads]
model: {name: trained, samples: 1000, ci: 0.2}
seeds: %d
"""


def _default_sigint() -> None:
    """In the child: Ctrl-C's default action, even when this run inherited SIGINT ignored (a background job)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)


@pytest.fixture
def cluster(tmp_path):
    """A scheduler and two single-threaded workers (each with its nanny) in their own process groups."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    log = open(tmp_path / "dask.log", "wb")
    procs = [subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--dashboard-address", ":0"], env=ENV, stdout=log, stderr=log, start_new_session=True)]
    try:
        for name in ("w1", "w2"):
            procs.append(subprocess.Popen([str(BIN / "dask"), "worker", address, "--nthreads", "1", "--name", name,
                                           "--dashboard-address", ":0", "--local-directory", str(tmp_path / name)],
                                          env=ENV, stdout=log, stderr=log, start_new_session=True))
        from distributed import Client

        with Client(address, timeout=120) as client:
            client.wait_for_workers(2, timeout=180)
        yield address, procs
    finally:
        for proc in reversed(procs):
            _stop(proc)
        log.close()


def _sweep(tmp_path, *args, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "prompticl", "sweep", *map(str, args)], cwd=tmp_path, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=_default_sigint, **kwargs)


def _serial(grid_path) -> pd.DataFrame:
    from prompticl._sweep_grid import load_grid
    from prompticl._sweep_models import compute_point

    return pd.DataFrame([compute_point(p) for p in load_grid(grid_path).points()])


def _same_rows(table: pd.DataFrame, serial: pd.DataFrame) -> None:
    from prompticl._sweep_store import _frame

    a = table.sort_values("point_hash", ignore_index=True).drop(columns=["seconds", "cpu_seconds"])
    b = _frame(serial.to_dict("records")).sort_values("point_hash", ignore_index=True).drop(columns=["seconds", "cpu_seconds"])
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def _wait_for_parts(folder: Path, proc: subprocess.Popen, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not list(folder.glob("part-*.parquet")):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no rows written"
        time.sleep(0.2)


def test_rows_on_a_scheduler_equal_a_serial_run_bit_for_bit(cluster, tmp_path):
    from prompticl import read_sweep

    address, _ = cluster
    (tmp_path / "g.yaml").write_text(GRID % 1)
    proc = _sweep(tmp_path, "g.yaml", "--out", "res", "--scheduler", address)
    out, err = proc.communicate(timeout=900)
    assert (proc.returncode, err.decode()) == (0, ""), out
    assert out.decode() == "16 points: 16 computed now, 0 already in res, 0 failed\n"
    _same_rows(read_sweep(tmp_path / "res"), _serial(tmp_path / "g.yaml"))


def test_a_killed_worker_loses_no_row(cluster, tmp_path):
    from prompticl import read_sweep

    address, procs = cluster
    (tmp_path / "g.yaml").write_text(GRID % 2)
    proc = _sweep(tmp_path, "g.yaml", "--out", "res", "--scheduler", address)
    _wait_for_parts(tmp_path / "res", proc)
    os.killpg(procs[1].pid, signal.SIGKILL)  # worker w1 and its nanny, mid-sweep
    out, err = proc.communicate(timeout=900)
    assert (proc.returncode, err.decode()) == (0, ""), out
    table = read_sweep(tmp_path / "res")
    assert len(table) == 32 and out.decode() == "32 points: 32 computed now, 0 already in res, 0 failed\n"
    _same_rows(table, _serial(tmp_path / "g.yaml"))


def test_sigint_keeps_finished_rows_and_a_rerun_computes_only_the_missing(cluster, tmp_path):
    from prompticl import read_sweep

    address, _ = cluster
    (tmp_path / "g.yaml").write_text(GRID % 2)
    proc = _sweep(tmp_path, "g.yaml", "--out", "res", "--scheduler", address)
    _wait_for_parts(tmp_path / "res", proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 130 and out == b"" and err.decode() == "prompticl: error: interrupted\n"
    first = read_sweep(tmp_path / "res")
    parts = {p.name: p.read_bytes() for p in (tmp_path / "res").glob("part-*.parquet")}
    assert 0 < len(first) < 32
    assert not list((tmp_path / "res").glob(".*"))  # no temporary file left behind
    proc = _sweep(tmp_path, "g.yaml", "--out", "res", "--scheduler", address)
    out, err = proc.communicate(timeout=900)
    assert (proc.returncode, err.decode()) == (0, "")
    assert out.decode() == f"32 points: {32 - len(first)} computed now, {len(first)} already in res, 0 failed\n"
    assert all((tmp_path / "res" / name).read_bytes() == data for name, data in parts.items())  # kept as they were
    table = read_sweep(tmp_path / "res")
    assert len(table) == 32 and len(pd.read_parquet(tmp_path / "res")) == 32  # no point computed twice
    _same_rows(table, _serial(tmp_path / "g.yaml"))
