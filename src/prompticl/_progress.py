"""Optional progress bars for long computations (training, grids, moment accumulation).

Chapter 7's long runs show them.
"""
from __future__ import annotations

import sys

class _Stderr:
    """stderr for a progress bar: a bar that cannot be drawn (stderr full or closed) is no reason to
    lose the computation it reports on, so failed writes are dropped."""

    def write(self, text: str) -> int:
        try:
            return sys.stderr.write(text) if sys.stderr is not None else len(text)
        except (OSError, ValueError):
            return len(text)

    def flush(self) -> None:
        try:
            if sys.stderr is not None:
                sys.stderr.flush()
        except (OSError, ValueError):
            pass

    def isatty(self) -> bool:
        try:
            return sys.stderr is not None and sys.stderr.isatty()
        except (OSError, ValueError):
            return False


def progress_bar(total: int, enabled: bool, desc: str):
    """A ``tqdm`` bar on stderr, or ``None`` when ``enabled`` is false (callers test for ``None``).

    Used by chapter 7's long runs and by ``prompticl train --progress``.
    """
    if not enabled:
        return None
    from tqdm.auto import tqdm  # imported lazily: most calls never show a bar

    return tqdm(total=total, desc=desc, leave=False, file=_Stderr())
