"""Whitening (prompticl._whitening): the loss and the predictions are unchanged by the change of coordinates."""
from __future__ import annotations

import numpy as np
import pytest

from prompticl import load_spec, population_loss, spec_names
from prompticl._reduced import reduced_predict
from prompticl._sampling import sample_batch
from prompticl._whitening import unwhiten_parameters, whiten_parameters


@pytest.mark.parametrize("name", spec_names())
def test_whitening_preserves_the_loss(name):
    spec = load_spec(name)
    rng = np.random.default_rng(5)
    n = 7
    W = rng.standard_normal((spec.d, spec.d)) / (n * spec.d)
    c = rng.standard_normal((spec.K, spec.d))
    m = rng.standard_normal((spec.K, spec.d))
    white = spec.whitened()
    w2, c2, m2 = whiten_parameters(spec, W, c, m)
    assert population_loss(white, n, w2, c2, m2) == pytest.approx(population_loss(spec, n, W, c, m), rel=1e-10)
    back = unwhiten_parameters(spec, w2, c2, m2)
    for x, y in zip(back, (W, c, m)):
        np.testing.assert_allclose(x, y, atol=1e-12)


def test_whitening_predictions_agree_pointwise():
    spec = load_spec("three-task")
    rng = np.random.default_rng(6)
    data = sample_batch(spec, 5, 50, rng)
    W = rng.standard_normal((4, 4))
    c = rng.standard_normal((3, 4))
    m = rng.standard_normal((3, 4))
    r_inv = np.linalg.inv(spec.x_sqrt)
    white = type(data)(data.X @ r_inv, data.y, data.x @ r_inv, data.y_query, data.beta @ spec.x_sqrt, data.task)
    w2, c2, m2 = whiten_parameters(spec, W, c, m)
    np.testing.assert_allclose(reduced_predict(white, w2, c2, m2), reduced_predict(data, W, c, m), rtol=1e-9, atol=1e-9)
