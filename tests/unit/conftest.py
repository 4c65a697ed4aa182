"""The unit tier (tests/unit, `make check`) starts no Jupyter kernel and no browser.

Every test here runs with a ``python3`` kernel spec (first on ``JUPYTER_PATH``) whose kernel exits at
once, naming this rule: a test that executes a notebook, in-process or in a ``prompticl``
subprocess, fails instead of slowing the tier down. Such a test belongs in tests/book, marked
``slow``. (tests/unit/test_test_tiers.py checks the markers, and that nothing here drives a browser.)
"""
from __future__ import annotations

import json
import sys

import pytest
from hypothesis import settings

# Hypothesis profiles: `full` (the default, `make test`) runs each property test's own number of
# examples; `check` (`make check`, `--hypothesis-profile=check`) a fifth of it, at least 4
# (support.examples scales the numbers the tests give). Both derandomized: the same examples each run.
settings.register_profile("full", max_examples=100, derandomize=True)
settings.register_profile("check", max_examples=20, derandomize=True)
settings.load_profile("full")

NO_KERNEL = "tests/unit starts no Jupyter kernel: move this test to tests/book and mark it slow"


@pytest.fixture(scope="session")
def _blocked_kernels(tmp_path_factory):
    root = tmp_path_factory.mktemp("jupyter-path")
    spec = root / "kernels" / "python3"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-c", f"import sys; sys.exit({NO_KERNEL!r})", "{connection_file}"]
    spec.joinpath("kernel.json").write_text(json.dumps(
        {"argv": argv, "display_name": "Python 3 (no kernel in tests/unit)", "language": "python"}))
    return root


@pytest.fixture(autouse=True)
def _no_kernel(_blocked_kernels, monkeypatch):
    monkeypatch.setenv("JUPYTER_PATH", str(_blocked_kernels))
