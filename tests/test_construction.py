"""Tests for the explicit attention weights that realise the reduced model."""
import numpy as np
import pytest

import prompticl as p
from prompticl.construction import AttentionWeights, attention_predict, reduced_to_attention
from prompticl.sampling import reduced_predict, sample_batch


@pytest.mark.parametrize("name", ["zero-mean", "nonzero-mean-wide", "three-task"])
@pytest.mark.parametrize("regime", p.REGIMES)
def test_weights_reproduce_the_reduced_model(name, regime):
    spec = p.load_spec(name)
    sol = p.optimum(spec, 8, regime)
    weights = reduced_to_attention(sol.W, sol.biases, sol.centres)
    data = sample_batch(spec, 8, 500, np.random.default_rng(0))
    expected = reduced_predict(data, sol.W, sol.biases, sol.centres)
    np.testing.assert_allclose(attention_predict(data, weights), expected, rtol=1e-9, atol=1e-9)


def test_attention_predict_matches_a_token_loop():
    rng = np.random.default_rng(2)
    spec = p.load_spec("three-task")
    d = spec.d
    weights = AttentionWeights(*(rng.standard_normal((3, d + 1, d + 1))), rng.standard_normal((spec.K, d + 1)), rng.standard_normal((spec.K, d + 1)))
    data = sample_batch(spec, 4, 3, rng)
    got = attention_predict(data, weights)
    for b in range(3):
        k = data.task[b]
        tokens = [weights.prompts[k]] + [np.append(data.X[b, i], data.y[b, i]) for i in range(4)]
        q = np.append(data.x[b], 0.0)
        out = sum((weights.wv @ z) * float((weights.wk @ z) @ (weights.wq @ q)) for z in tokens)
        assert got[b] == pytest.approx(weights.heads[k] @ out, rel=1e-10)


def test_singular_w_is_refused():
    with pytest.raises(ValueError, match="singular"):
        reduced_to_attention(np.zeros((2, 2)), np.ones((1, 2)), np.zeros((1, 2)))
