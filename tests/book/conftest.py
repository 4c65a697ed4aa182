"""Everything under tests/book runs notebooks, builds the site or drives a browser: marked ``slow``,
so that ``make check`` (``-m "not slow"``) leaves it out and ``make test`` runs it."""
from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.slow)
