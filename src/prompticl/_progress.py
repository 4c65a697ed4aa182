"""Optional progress bars for long computations (training, grids, moment accumulation).

Chapter 07's long runs show them.
"""
from __future__ import annotations

def progress_bar(total: int, enabled: bool, desc: str):
    """A ``tqdm`` bar on stderr, or ``None`` when ``enabled`` is false (callers test for ``None``).

    Used by chapter 07's long runs and by ``prompticl train --progress``.
    """
    if not enabled:
        return None
    from tqdm.auto import tqdm  # imported lazily: most calls never show a bar

    return tqdm(total=total, desc=desc, leave=False)
