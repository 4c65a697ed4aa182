"""Results tables of sweeps: Parquet part files, read back as one table

A results folder (``--out RESULTS``) holds

* ``_grid.json``: which grid it belongs to (the fingerprint of its points, their count, the grid file);
* ``part-<time>-<random>.parquet``: rows, one file per batch of finished points, each written under a
  hidden temporary name and renamed into place, so that a folder never holds half a file.

Names starting with ``_`` or ``.`` are skipped by Parquet readers, so ``pandas.read_parquet(RESULTS)``
reads the table too.  :func:`read_sweep` reads it, without duplicates.  Nothing here deletes a file that
it did not create.  The book's page "Sweeps on a cluster" (book/sweeps.md) documents the folder.
"""
from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

__all__ = ["MANIFEST", "FORMAT", "ResultsFolder", "StoreError", "read_sweep", "sweep_rows"]

MANIFEST = "_grid.json"
FORMAT = "prompticl-sweep/1"


class StoreError(ValueError):
    """A results path that cannot be used (not a results folder, another grid's folder); one line."""


def _parts(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("part-*.parquet") if p.is_file())


class ResultsFolder:
    """The results folder of one grid: checked on opening, created on the first write."""

    def __init__(self, path: "str | Path", fingerprint: str, points: int, grid_text: str) -> None:
        self.path = Path(path)
        self.fingerprint = fingerprint
        self.points = points
        self.grid_text = grid_text
        self._check()

    def _check(self) -> None:
        p = self.path
        if not p.exists():
            if p.is_symlink():
                raise StoreError(f"--out {p}: a broken symbolic link")
            parent = p.parent if str(p.parent) else Path(".")
            if not parent.is_dir():
                raise StoreError(f"--out {p}: its folder {parent} does not exist")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise StoreError(f"--out {p}: cannot create it in {parent} (permission denied)")
            return
        if not p.is_dir():
            raise StoreError(f"--out {p} exists and is not a results folder (it is a file); give a new path")
        manifest = p / MANIFEST
        if not manifest.is_file():
            if any(p.iterdir()):
                raise StoreError(f"--out {p} is a folder that is not a sweep's results (no {MANIFEST}); give a new "
                                 "or empty folder")
            return
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise StoreError(f"--out {p}: cannot read {MANIFEST}: {exc}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise StoreError(f"--out {p}: {MANIFEST} is not a {FORMAT} manifest")
        if data.get("fingerprint") != self.fingerprint:
            raise StoreError(f"--out {p} holds the results of another grid ({data.get('points')} points, "
                             f"fingerprint {str(data.get('fingerprint'))[:12]}); give another --out")
        if not os.access(p, os.W_OK | os.X_OK):
            raise StoreError(f"--out {p}: cannot write in it (permission denied)")

    def done(self) -> set[str]:
        """Hashes of the points already in the folder."""
        if not self.path.is_dir():
            return set()
        import pyarrow.parquet as pq

        out: set[str] = set()
        for part in _parts(self.path):
            out.update(pq.read_table(part, columns=["point_hash"]).column("point_hash").to_pylist())
        return out

    def _ensure(self) -> None:
        if (self.path / MANIFEST).is_file():
            return
        self.path.mkdir(exist_ok=True)
        manifest = {"format": FORMAT, "fingerprint": self.fingerprint, "points": self.points, "grid": self.grid_text}
        self._atomic(MANIFEST, json.dumps(manifest, indent=1).encode("utf-8"))

    def _atomic(self, name: str, data: bytes) -> None:
        tmp = self.path / f".{name}.{secrets.token_hex(4)}.tmp"
        try:
            with open(tmp, "xb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path / name)
        except BaseException:
            tmp.unlink(missing_ok=True)  # our own temporary file only
            raise

    def write(self, rows: Sequence[Mapping[str, Any]]) -> "Path | None":
        """Write ``rows`` as one new part file (atomically); ``None`` when there are none."""
        if not rows:
            return None
        import io

        import pandas as pd

        self._ensure()
        buf = io.BytesIO()
        _frame(rows).to_parquet(buf, engine="pyarrow", index=False)
        name = f"part-{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(4)}.parquet"
        self._atomic(name, buf.getvalue())
        return self.path / name


def _frame(rows: Iterable[Mapping[str, Any]]):
    import pandas as pd

    frame = pd.DataFrame(list(rows))
    if "seed" in frame:
        frame["seed"] = frame["seed"].astype("Int64")  # exact models have no seed: <NA>
    return frame


def read_sweep(path: "str | os.PathLike") -> "Any":
    """A sweep's results table as a DataFrame, one row per point.

    The table is the folder that ``prompticl sweep GRID --out PATH`` writes.  Chapters 7 and 8 read their full-scale settings with it (``-p results PATH``).

    Parameters
    ----------
    path : str or path-like
        A results folder, or a single Parquet file holding such a table.

    Returns
    -------
    pandas.DataFrame
        Every row once (by ``point_hash``), in no particular order.

    Raises
    ------
    ValueError
        If ``path`` is not a results folder or Parquet file.
    """
    import pandas as pd

    p = Path(path)
    if p.is_dir():
        if not (p / MANIFEST).is_file():
            raise ValueError(f"{p} is not a sweep's results folder (no {MANIFEST})")
        parts = _parts(p)
        frame = pd.concat([pd.read_parquet(x) for x in parts], ignore_index=True) if parts else pd.DataFrame(
            {"point_hash": pd.Series([], dtype=str)})
    elif p.is_file():
        frame = pd.read_parquet(p)
    else:
        raise ValueError(f"no results table at {p}")
    if "point_hash" not in frame:
        raise ValueError(f"{p} is not a sweep's results table (no point_hash column)")
    return frame.drop_duplicates("point_hash", ignore_index=True)


def sweep_rows(table, spec, ns: Sequence[int], regimes: Sequence[str], model: str, seeds: "Sequence[int] | None" = None,
               **options) -> list[dict]:
    """The rows of ``table`` for a grid, in grid order, after checking that the table covers it.

    The rows are found by content (the points' hashes), so a table computed
    for another mixture, other settings or other seeds never stands in for the chapter's own.  Used by
    chapters 7 and 8 when given a results table.

    Parameters
    ----------
    table : pandas.DataFrame
        A sweep's results (:func:`read_sweep`).
    spec : Spec
        The mixture.
    ns : sequence of int
        Context lengths.
    regimes : sequence of str
        Regimes.
    model : str
        Model name (``reduced``, ``full``, ``trained``, ...).
    seeds : sequence of int, optional
        Seeds (seeded models only).
    **options
        The model's options (for ``trained``: ``samples``, ``ci``); defaults as in a grid file.

    Returns
    -------
    list of dict
        One record per (n, regime, seed), ordered by n, then seed, then regime.

    Raises
    ------
    ValueError
        If a point is missing, saying how many and the first.
    """
    from ._spec import spec_to_dict
    from ._sweep_models import MODELS, point_hash

    kind = MODELS[model]
    opts = {k: (float(options.get(k, o.default)) if isinstance(o.default, float) else options.get(k, o.default))
            for k, o in kind.options.items()}
    seed_list = list(seeds) if kind.seeded else [None]
    by_hash = {h: i for i, h in enumerate(table["point_hash"])}
    sd = spec_to_dict(spec)
    wanted, missing = [], []
    for n in ns:
        for seed in seed_list:
            for regime in regimes:
                h = point_hash({"spec": sd, "n": int(n), "regime": regime, "model": model, "options": opts,
                                "seed": None if seed is None else int(seed)})
                (wanted if h in by_hash else missing).append((h, n, regime, seed))
    if missing:
        _, n, regime, seed = missing[0]
        raise ValueError(f"the results table lacks {len(missing)} of the {len(wanted) + len(missing)} points of this grid "
                         f"(first: {spec.name}, n = {n}, {regime}, model {model}, seed {seed}, options {opts})")
    records = table.iloc[[by_hash[h] for h, *_ in wanted]].to_dict("records")
    import pandas as pd

    for r in records:
        r["seed"] = None if pd.isna(r["seed"]) else int(r["seed"])
    return records
