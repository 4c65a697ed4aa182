"""The spec-format page (book/spec-format.md) documents exactly the keys the code accepts, and its
worked examples are valid specs of the three kinds it names."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import yaml

import prompticl
from prompticl import _spec

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "book" / "spec-format.md"


def _table_keys(text: str, header: str) -> set[str]:
    """The first-column keys of the markdown table whose header row starts with ``| header |``."""
    block = text.split(f"| {header} |", 1)[1].split("\n\n", 1)[0]
    return set(re.findall(r"^\| `([^`]+)` \|", block, re.M))


def _examples(text: str) -> list[dict]:
    section = text.split("## Three worked examples", 1)[1].split("\n## ", 1)[0]
    return [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", section, re.S)]


def test_documented_keys_are_the_accepted_keys():
    text = PAGE.read_text(encoding="utf-8")
    assert _table_keys(text, "key") == _spec._TOP_KEYS
    assert _table_keys(text, "task key") == _spec._TASK_KEYS


def test_key_tables_are_read():
    # Control: a table that lacks a key (or lists one too many) is seen as different.
    text = PAGE.read_text(encoding="utf-8").replace("| `x_cov` |", "| x_cov |")
    assert _table_keys(text, "key") == _spec._TOP_KEYS - {"x_cov"}


def test_the_three_examples_load_and_are_of_their_kind(tmp_path):
    examples = _examples(PAGE.read_text(encoding="utf-8"))
    assert len(examples) == 3
    specs = []
    for data in examples:
        path = tmp_path / f"{data['name']}.yaml"
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
        specs.append(prompticl.load_spec(str(path)))
    isotropic, anisotropic, correlated = specs
    off = lambda m: m - np.diag(np.diag(m))  # noqa: E731
    # isotropic: every task covariance a multiple of the identity, identity features
    assert all(np.allclose(c, c[0, 0] * np.eye(isotropic.d)) for c in isotropic.covs)
    assert np.allclose(isotropic.x_cov, np.eye(isotropic.d))
    # anisotropic: diagonal task covariances that are not multiples of the identity
    assert all(np.allclose(off(c), 0) and np.ptp(np.diag(c)) > 0 for c in anisotropic.covs)
    # correlated features: x_cov has off-diagonal entries
    assert np.abs(off(correlated.x_cov)).max() > 0


@pytest.mark.parametrize("bad", [
    {"d": 2, "noise": 0, "tasks": [{"weight": 1, "mean": 0, "cov": 1, "colour": "red"}]},
    {"d": 2, "noise": 0, "tasks": [{"weight": 0.5, "mean": 0, "cov": 1}]},
    {"d": 2, "noise": 0, "x_cov": [[1, 2], [2, 1]], "tasks": [{"weight": 1, "mean": 0, "cov": 1}]},
])
def test_rules_stated_on_the_page_are_enforced(bad):
    # The page's rules (unknown keys, weights summing to 1, x_cov positive definite) hold in the code.
    with pytest.raises(prompticl.SpecError):
        prompticl.spec_from_dict(bad)
