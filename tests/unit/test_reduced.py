"""The reduced model's maps (prompticl._reduced): embedding in the attention layer, reading a layer
back, and the reduced model's predictions against explicit loops."""
import numpy as np
import pytest

import prompticl as p
from prompticl import load_spec
from prompticl._attention import context_tokens, forward_gram, forward_tokens, gram, query_token
from prompticl._reduced import reduced_effective, reduced_estimate, reduced_predict, reduced_to_params, to_reduced
from prompticl._sampling import sample_batch


def _data(spec_name="three-task", n=6, batch=9, seed=0):
    spec = load_spec(spec_name)
    rng = np.random.default_rng(seed)
    data = sample_batch(spec, n, batch, rng)
    tokens = context_tokens(data.X, data.y)
    query = query_token(data.x)
    return spec, rng, data, tokens, query


def test_reduced_view_recovers_reduced_model():
    """A reduced-model attention (a_y = 0) is read back as W Xᵀ(y − X m_k) + c_k."""
    spec, rng, data, tokens, query = _data(batch=5)
    d, D, K = spec.d, spec.d + 1, spec.K
    W = rng.standard_normal((d, d))
    m = rng.standard_normal((K, d))
    c = rng.standard_normal((K, d))
    eff = reduced_effective(W, c, m)
    A, b = eff.A, eff.b
    view = to_reduced(eff)
    assert view.extra == 0.0
    np.testing.assert_allclose(view.W, np.broadcast_to(W, (K, d, d)))
    np.testing.assert_allclose(view.centres, m)
    resid = data.y - np.einsum("bnd,bd->bn", data.X, m[data.task])
    est = np.einsum("ij,bnj,bn->bi", W, data.X, resid) + c[data.task]
    G = gram(tokens)
    np.testing.assert_allclose(np.einsum("bij,bj->bi", G, b[data.task]) @ A.T + c[data.task], est, rtol=1e-10)


def test_attention_reduces_to_preconditioned_gd():
    spec = load_spec("three-task")
    rng = np.random.default_rng(9)
    data = sample_batch(spec, 6, 40, rng)
    W = rng.standard_normal((4, 4))
    z = context_tokens(data.X, data.y)
    q = query_token(data.x)
    params = reduced_to_params(W)
    assert params.prompts is None and params.heads is None
    out = forward_tokens(params, z, q, data.task)
    np.testing.assert_allclose(out, reduced_predict(data, W), rtol=1e-10, atol=1e-10)
    # including the query token among the attended tokens changes nothing (its value is 0)
    with_query = np.concatenate([z, q[:, None, :]], axis=1)
    np.testing.assert_allclose(forward_tokens(params, with_query, q, data.task), out, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", ["zero-mean", "nonzero-mean-wide", "three-task"])
@pytest.mark.parametrize("regime", p.REGIMES)
def test_reduced_to_params_reproduces_the_reduced_model(name, regime):
    spec = p.load_spec(name)
    sol = p.optimum(spec, 8, regime)
    params = reduced_to_params(sol.W, sol.biases, sol.centres)
    data = sample_batch(spec, 8, 500, np.random.default_rng(0))
    expected = reduced_predict(data, sol.W, sol.biases, sol.centres)
    got = forward_tokens(params, context_tokens(data.X, data.y), query_token(data.x), data.task)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)
    # the fast path on the Gram matrix agrees
    np.testing.assert_allclose(forward_gram(params, gram(context_tokens(data.X, data.y)), data.x, data.task), expected, rtol=1e-9, atol=1e-9)


def test_singular_w_is_refused():
    with pytest.raises(ValueError, match="singular"):
        reduced_to_params(np.zeros((2, 2)), np.ones((1, 2)), np.zeros((1, 2)))


def test_reduced_model_matches_an_explicit_loop():
    spec = load_spec("three-task")
    rng = np.random.default_rng(5)
    batch = sample_batch(spec, 6, 9, rng)
    W = rng.standard_normal((spec.d, spec.d))
    biases = rng.standard_normal((spec.K, spec.d))
    centres = rng.standard_normal((spec.K, spec.d))
    est = reduced_estimate(batch, W, biases, centres)
    pred = reduced_predict(batch, W, biases, centres)
    for b in range(9):
        k = batch.task[b]
        X, y = batch.X[b], batch.y[b]
        e = W @ X.T @ (y - X @ centres[k]) + biases[k]
        np.testing.assert_allclose(est[b], e, rtol=1e-12, atol=1e-12)
        assert pred[b] == pytest.approx(batch.x[b] @ e, rel=1e-12, abs=1e-12)
    # Without biases and centres: plain one-step preconditioned GD.
    plain = reduced_predict(batch, W)
    for b in range(9):
        assert plain[b] == pytest.approx(batch.x[b] @ W @ batch.X[b].T @ batch.y[b], rel=1e-12, abs=1e-12)
