"""The linear attention model: raw forward pass vs the G fast path, exact maps, analytic gradients,
and the explicit weights that realise the reduced model."""
from dataclasses import replace

import numpy as np
import pytest

import prompticl as p
from prompticl import load_spec
from prompticl.attention import (
    AttentionParams,
    Effective,
    context_tokens,
    effective,
    forward_gram,
    forward_tokens,
    gram,
    init_params,
    mse_and_grad,
    query_token,
    reduced_effective,
    reduced_to_params,
    to_params,
    to_reduced,
)
from prompticl.attention import reduced_estimate, reduced_predict
from prompticl.sampling import sample_batch


def _data(spec_name="three-task", n=6, batch=9, seed=0):
    spec = load_spec(spec_name)
    rng = np.random.default_rng(seed)
    data = sample_batch(spec, n, batch, rng)
    tokens = context_tokens(data.X, data.y)
    query = query_token(data.x)
    return spec, rng, data, tokens, query


@pytest.mark.parametrize("heads", [False, True])
@pytest.mark.parametrize("prompt_len", [0, 1, 3])
def test_fast_path_matches_raw_forward(heads, prompt_len):
    spec, rng, data, tokens, query = _data()
    params = init_params(spec.d, spec.K, rng, prompt_len=prompt_len, prompts=prompt_len > 0, heads=heads)
    raw = forward_tokens(params, tokens, query, data.task)
    fast = forward_gram(params, gram(tokens), data.x, data.task)
    assert np.max(np.abs(raw - fast)) <= 1e-12 * max(1.0, np.max(np.abs(raw)))
    # and the explicit attention is not trivially zero
    assert np.std(raw) > 1e-3


def test_forward_is_attention_over_prompt_and_context_only():
    """Adding a token to the context changes ŷ by exactly that token's attention contribution."""
    spec, rng, data, tokens, query = _data(batch=4)
    params = init_params(spec.d, spec.K, rng, prompt_len=1)
    base = forward_tokens(params, tokens, query, data.task)
    extra = rng.standard_normal((4, 1, spec.d + 1))
    more = forward_tokens(params, np.concatenate([tokens, extra], axis=1), query, data.task)
    z = extra[:, 0]
    s = 1 / np.sqrt(spec.d + 1)
    contrib = s * np.einsum("bi,bi->b", query @ params.Q.T, z @ params.K.T) * (z @ params.V.T)[:, -1]
    np.testing.assert_allclose(more - base, contrib, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("heads", [False, True])
@pytest.mark.parametrize("prompt_len", [1, 2])
def test_effective_roundtrip_is_exact(heads, prompt_len):
    spec, rng, data, tokens, query = _data()
    d, D, K = spec.d, spec.d + 1, spec.K
    b = rng.standard_normal((K, D)) if heads else np.tile(rng.standard_normal(D), (K, 1))
    eff = Effective(rng.standard_normal((d, D)), b, rng.standard_normal((K, d)))
    params = to_params(eff, heads=heads, prompt_len=prompt_len)
    back = effective(params, K)
    for name in ("A", "b", "c"):
        np.testing.assert_allclose(getattr(back, name), getattr(eff, name), rtol=1e-9, atol=1e-10)
    # the raw forward pass on tokens computes xᵀ(A G b_k + c_k)
    raw = forward_tokens(params, tokens, query, data.task)
    Gb = np.einsum("bij,bj->bi", gram(tokens), eff.b[data.task])
    expected = np.einsum("bi,bi->b", data.x, Gb @ eff.A.T + eff.c[data.task])
    np.testing.assert_allclose(raw, expected, rtol=1e-9, atol=1e-9)


def test_to_params_rejects_unreachable_biases():
    eff = Effective(np.ones((2, 3)), np.ones((1, 3)), np.ones((1, 2)))
    with pytest.raises(ValueError):
        to_params(eff, heads=False, prompts=False)
    with pytest.raises(ValueError):
        to_params(eff, heads=False, prompt_len=1)  # [A; bᵀ] has rank 1


@pytest.mark.parametrize("heads", [False, True])
@pytest.mark.parametrize("prompt_len", [0, 2])
def test_gradients_match_finite_differences(heads, prompt_len):
    spec, rng, data, tokens, query = _data(n=4, batch=7)
    params = init_params(spec.d, spec.K, rng, prompt_len=prompt_len, prompts=prompt_len > 0, heads=heads)
    G = gram(tokens)
    w = rng.uniform(0.5, 1.5, data.task.shape[0])
    loss, grad = mse_and_grad(params, G, data.x, data.y_query, data.task, w)
    pred = forward_tokens(params, tokens, query, data.task)
    assert loss == pytest.approx(float(np.sum(w * (pred - data.y_query) ** 2)), rel=1e-12)
    h = 1e-6
    for name in ("Q", "K", "V", "prompts", "heads"):
        arr = getattr(params, name)
        if arr is None:
            assert getattr(grad, name) is None
            continue
        num = np.zeros_like(arr)
        for idx in np.ndindex(arr.shape):
            up, down = arr.copy(), arr.copy()
            up[idx] += h
            down[idx] -= h
            lp, _ = mse_and_grad(replace(params, **{name: up}), G, data.x, data.y_query, data.task, w)
            lm, _ = mse_and_grad(replace(params, **{name: down}), G, data.x, data.y_query, data.task, w)
            num[idx] = (lp - lm) / (2 * h)
        # central differences have error O(h²·f''') ~ 1e-8 relative here
        err = np.max(np.abs(num - getattr(grad, name))) / np.max(np.abs(num))
        assert err < 1e-6, (name, err)


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


def test_attention_depends_on_data_through_gram_matrix():
    # ŷ = s xᵀ A G b with A = first d rows of W_Qᵀ W_K, b = last row of W_V and s = 1/√(d+1).
    rng = np.random.default_rng(10)
    d, n, B = 3, 5, 20
    z = rng.standard_normal((B, n, d + 1))
    x = rng.standard_normal((B, d))
    wq, wk, wv = (rng.standard_normal((d + 1, d + 1)) for _ in range(3))
    G = np.einsum("bti,btj->bij", z, z)
    A = (wq.T @ wk)[:d]
    b = wv[-1]
    expected = np.einsum("bi,ij,bjk,k->b", x, A, G, b) / np.sqrt(d + 1)
    got = forward_tokens(AttentionParams(wq, wk, wv), z, query_token(x), np.zeros(B, dtype=int))
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


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


def test_forward_tokens_matches_a_token_loop():
    rng = np.random.default_rng(2)
    spec = p.load_spec("three-task")
    d = spec.d
    Q, K, V = rng.standard_normal((3, d + 1, d + 1))
    params = AttentionParams(Q, K, V, rng.standard_normal((spec.K, 1, d + 1)), rng.standard_normal((spec.K, d + 1)))
    data = sample_batch(spec, 4, 3, rng)
    got = forward_tokens(params, context_tokens(data.X, data.y), query_token(data.x), data.task)
    s = 1 / np.sqrt(d + 1)
    for b in range(3):
        k = data.task[b]
        tokens = [params.prompts[k, 0]] + [np.append(data.X[b, i], data.y[b, i]) for i in range(4)]
        q = np.append(data.x[b], 0.0)
        out = sum((V @ z) * float((K @ z) @ (Q @ q)) for z in tokens)
        assert got[b] == pytest.approx(s * params.heads[k] @ out, rel=1e-10)


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
