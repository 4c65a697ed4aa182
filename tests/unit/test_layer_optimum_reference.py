"""The O(d³) layer optimum agrees with the (d+1)⁴ implementation it replaced (issue 23).

``data/layer-optimum-reference.json`` holds the optima that the implementation on dense moment
tensors and a dense Hessian (branch ``full``, commit 34ae446) found on chapter 08's mixtures, every
nested class, and random mixtures with a general Σ_x; the matrix-free implementation must agree to
1e-10 relative in every regime and certify the same points.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from prompticl import load_spec, spec_from_dict
from prompticl._layer_optimum import layer_optima
from prompticl._regimes import REGIMES

REFERENCE = json.loads((Path(__file__).parent / "data" / "layer-optimum-reference.json").read_text())
CASES = REFERENCE["cases"]


def _spec(case):
    s = case["spec"]
    return load_spec(s) if isinstance(s, str) else spec_from_dict(s, s["name"])


def _id(case):
    s = case["spec"]
    return f"{s if isinstance(s, str) else s['name']}-n{case['n']}-{case['model']}"


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_agrees_with_the_dense_implementation(case):
    opts = layer_optima(_spec(case), case["n"], case["model"])
    for r in REGIMES:
        ref = case["loss"][r]
        assert abs(opts[r].loss - ref) <= 1e-10 * max(1.0, abs(ref)), (r, opts[r].loss, ref)
        assert opts[r].certified == case["certified"][r]
        # the curvature certificate measures the same Hessian: its extreme eigenvalues agree
        top = max(case["max_hessian_eig"][r], 1e-300)
        assert abs(opts[r].max_hessian_eig - case["max_hessian_eig"][r]) <= 1e-6 * top
        assert abs(opts[r].min_hessian_eig - case["min_hessian_eig"][r]) <= 1e-6 * top
