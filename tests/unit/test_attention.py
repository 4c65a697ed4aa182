"""The linear attention model (prompticl._attention): raw forward pass vs the G fast path, and the
exact maps between raw and effective parameters."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import prompticl as p
from prompticl import load_spec
from prompticl._attention import AttentionParams, Effective, context_tokens, effective, forward_gram, forward_tokens, gram, query_token, to_params
from prompticl._sampling import sample_batch
from prompticl._training import init_params
from support import examples


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
    """The Gram-matrix fast path predicts what the raw attention predicts.  Claims: exp-fast-path."""
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


@settings(max_examples=examples(60), deadline=None, derandomize=True)
@given(st.integers(1, 6), st.integers(1, 40), st.integers(0, 2**32 - 1))
def test_attention_depends_on_data_through_gram_matrix(d, n, seed):
    """ŷ = s xᵀ A G b with A = first d rows of W_Qᵀ W_K, b = last row of W_V and s = 1/√(d+1)
    (Lemma 2.1), for random d, n, tokens and maps.  Claims: plain-gram-form."""
    rng = np.random.default_rng(seed)
    B = 20
    z = rng.standard_normal((B, n, d + 1))
    x = rng.standard_normal((B, d))
    wq, wk, wv = (rng.standard_normal((d + 1, d + 1)) for _ in range(3))
    G = np.einsum("bti,btj->bij", z, z)
    A = (wq.T @ wk)[:d]
    b = wv[-1]
    expected = np.einsum("bi,ij,bjk,k->b", x, A, G, b) / np.sqrt(d + 1)
    got = forward_tokens(AttentionParams(wq, wk, wv), z, query_token(x), np.zeros(B, dtype=int))
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


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




@settings(max_examples=examples(60), deadline=None, derandomize=True)
@given(st.sampled_from(["zero-mean", "three-task", "anisotropic", "noisy"]), st.integers(1, 60), st.integers(0, 2**32 - 1))
def test_reduction_weights_reproduce_the_reduced_model(name, n, seed):
    """The maps (2.4) give a layer that predicts xᵀWXᵀy for every W and prompt (chapter 02).
    Claims: plain-reduction-maps."""
    from prompticl import reduced_predict, reduced_to_params

    rng = np.random.default_rng(seed)
    spec = p.load_spec(name)
    batch = sample_batch(spec, n, 16, rng)
    W = rng.standard_normal((spec.d, spec.d)) / (n * spec.d)
    layer = forward_tokens(reduced_to_params(W), context_tokens(batch.X, batch.y), query_token(batch.x), batch.task)
    reduced = reduced_predict(batch, W)
    np.testing.assert_allclose(layer, reduced, rtol=1e-9, atol=1e-9 * np.abs(reduced).max())


@settings(max_examples=examples(60), deadline=None, derandomize=True)
@given(st.sampled_from(["zero-mean", "three-task", "anisotropic", "noisy"]), st.integers(1, 60), st.integers(0, 2**32 - 1))
def test_prompt_tokens_realise_any_bias(name, n, seed):
    """Lemma 3.1: with W invertible, a prompt token per task makes the layer predict
    xᵀ(WXᵀy + c_k) for any biases c_k (chapter 03).  Claims: ft-prompt-realises-bias."""
    from prompticl import reduced_predict, reduced_to_params

    rng = np.random.default_rng(seed)
    spec = p.load_spec(name)
    batch = sample_batch(spec, n, 16, rng)
    W = rng.standard_normal((spec.d, spec.d)) / (n * spec.d) + np.eye(spec.d) / n
    biases = rng.standard_normal((spec.K, spec.d))
    layer = forward_tokens(reduced_to_params(W, biases, np.zeros_like(biases)), context_tokens(batch.X, batch.y),
                           query_token(batch.x), batch.task)
    reduced = reduced_predict(batch, W, biases)
    np.testing.assert_allclose(layer, reduced, rtol=1e-8, atol=1e-8 * (1 + np.abs(reduced).max()))


@settings(max_examples=examples(60), deadline=None, derandomize=True)
@given(st.sampled_from(["zero-mean", "three-task", "anisotropic", "noisy"]), st.integers(1, 60), st.integers(0, 2**32 - 1))
def test_prompt_tokens_and_heads_realise_biases_and_centres(name, n, seed):
    """With W invertible, prompt tokens and task heads make the layer predict
    xᵀ(WXᵀ(y − Xm_k) + c_k) for any biases c_k and centres m_k (chapter 05).  Claims: hd-layer-is-reduced."""
    from prompticl import reduced_predict, reduced_to_params

    rng = np.random.default_rng(seed)
    spec = p.load_spec(name)
    batch = sample_batch(spec, n, 16, rng)
    W = rng.standard_normal((spec.d, spec.d)) / (n * spec.d) + np.eye(spec.d) / n
    biases, centres = rng.standard_normal((2, spec.K, spec.d))
    layer = forward_tokens(reduced_to_params(W, biases, centres), context_tokens(batch.X, batch.y),
                           query_token(batch.x), batch.task)
    reduced = reduced_predict(batch, W, biases, centres)
    np.testing.assert_allclose(layer, reduced, rtol=1e-8, atol=1e-8 * (1 + np.abs(reduced).max()))
