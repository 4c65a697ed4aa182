"""The seeded sampler and the reduced model's predictions (prompticl._sampling).

Empirical moments are compared with the spec at 4 standard errors, each standard error estimated
from the same sample.
"""
from __future__ import annotations

import numpy as np
import pytest

from prompticl._attention import Effective, context_tokens, effective_estimate, gram

from prompticl._montecarlo import check_z
from prompticl._sampling import Batch, sample_batch
from prompticl._spec import load_spec, spec_from_dict



def assert_within_se(label: str, samples: np.ndarray, expected: np.ndarray) -> float:
    """Means over axis 0 of ``samples`` equal ``expected`` within 4 standard errors, entrywise.

    Returns the largest gap in standard errors (printed, for ``-s`` runs).
    """
    samples = np.asarray(samples, dtype=float)
    mean = samples.mean(axis=0)
    se = samples.std(axis=0, ddof=1) / np.sqrt(samples.shape[0])
    expected = np.broadcast_to(expected, mean.shape)
    # check_z: a constant sample (zero standard error) must be exactly right
    worst = check_z(mean, se, expected, what=label)
    print(f"[MC] {label}: largest gap {worst:.2f} SE over {mean.size} entries")
    return worst


@pytest.fixture(scope="module")
def big():
    """A large batch of the general spec (correlated features, three tasks, label noise)."""
    spec = load_spec("three-task")
    return spec, sample_batch(spec, 3, 200_000, np.random.default_rng(2024))


def test_same_seed_same_batch_other_seed_other_batch():
    spec = load_spec("three-task")
    a = sample_batch(spec, 5, 64, np.random.default_rng(1))
    b = sample_batch(spec, 5, 64, np.random.default_rng(1))
    c = sample_batch(spec, 5, 64, np.random.default_rng(2))
    for field in ("X", "y", "x", "y_query", "beta", "task"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
        assert not np.array_equal(getattr(a, field), getattr(c, field)), field


@pytest.mark.parametrize("n", [0, 1, 7])
def test_shapes_and_types(n):
    spec = load_spec("three-task")
    batch = sample_batch(spec, n, 13, np.random.default_rng(0))
    assert isinstance(batch, Batch)
    d = spec.d
    assert batch.X.shape == (13, n, d) and batch.y.shape == (13, n)
    assert batch.x.shape == (13, d) and batch.y_query.shape == (13,)
    assert batch.beta.shape == (13, d) and batch.task.shape == (13,)
    assert np.issubdtype(batch.task.dtype, np.integer)
    assert set(np.unique(batch.task)) <= set(range(spec.K))


def test_single_task_draws_and_bad_arguments():
    spec = load_spec("three-task")
    batch = sample_batch(spec, 2, 50, np.random.default_rng(0), task=2)
    np.testing.assert_array_equal(batch.task, np.full(50, 2))
    for kwargs, pattern in (
        ({"n": -1, "batch": 5}, "need n >= 0 and batch >= 1"),
        ({"n": 2, "batch": 0}, "need n >= 0 and batch >= 1"),
        ({"n": 2, "batch": 5, "task": 3}, r"task must be in 0\.\.2"),
        ({"n": 2, "batch": 5, "task": -1}, r"task must be in 0\.\.2"),
    ):
        with pytest.raises(ValueError, match=pattern):
            sample_batch(spec, rng=np.random.default_rng(0), **kwargs)


def test_task_frequencies(big):
    spec, batch = big
    onehot = (batch.task[:, None] == np.arange(spec.K)).astype(float)
    assert_within_se("task frequencies", onehot, spec.weights)


def test_task_vector_moments(big):
    spec, batch = big
    for k in range(spec.K):
        beta = batch.beta[batch.task == k]
        assert_within_se(f"task {k} mean of beta", beta, spec.means[k])
        centred = beta - spec.means[k]
        outer = np.einsum("bi,bj->bij", centred, centred)
        assert_within_se(f"task {k} covariance of beta", outer, spec.covs[k])


def test_feature_moments(big):
    spec, batch = big
    # Context rows and queries share the distribution N(0, Σ_x).
    for label, feats in (("context x", batch.X.reshape(-1, spec.d)), ("query x", batch.x)):
        assert_within_se(f"{label} mean", feats, np.zeros(spec.d))
        assert_within_se(f"{label} covariance", np.einsum("bi,bj->bij", feats, feats), spec.x_cov)


def test_label_noise_moments(big):
    spec, batch = big
    context_noise = (batch.y - np.einsum("bnd,bd->bn", batch.X, batch.beta)).ravel()
    query_noise = batch.y_query - np.einsum("bd,bd->b", batch.x, batch.beta)
    for label, xi in (("context noise", context_noise), ("query noise", query_noise)):
        assert_within_se(f"{label} mean", xi, 0.0)
        assert_within_se(f"{label} variance", xi**2, spec.noise**2)
    # Independent of the features.
    assert_within_se("query noise x feature", query_noise[:, None] * batch.x, np.zeros(spec.d))


def test_zero_covariance_and_zero_noise_are_exact():
    spec = spec_from_dict({"d": 3, "noise": 0.0, "tasks": [
        {"weight": 0.4, "mean": [1.0, 2.0, 3.0], "cov": 0}, {"weight": 0.6, "mean": -1.0, "cov": [0, 1, 0]}]})
    batch = sample_batch(spec, 4, 500, np.random.default_rng(3))
    first = batch.task == 0
    np.testing.assert_array_equal(batch.beta[first], np.broadcast_to(spec.means[0], batch.beta[first].shape))
    # Only the second coordinate of task 1 varies.
    np.testing.assert_array_equal(batch.beta[~first][:, [0, 2]], -1.0)
    assert np.std(batch.beta[~first][:, 1]) > 0.5
    np.testing.assert_allclose(batch.y, np.einsum("bnd,bd->bn", batch.X, batch.beta), rtol=0, atol=1e-12)


@pytest.mark.parametrize("spec_name,n", [pytest.param("noisy", 30, marks=pytest.mark.slow), pytest.param("noisy", 10, marks=pytest.mark.slow), ("three-task", 9)])
def test_bartlett_gram_sampler_matches_token_sampler(spec_name, n):
    """The O(d²) Gram sampler has the law of Σ z zᵀ over sampled tokens: compare quartic statistics
    (what the training risk depends on) with a two-sample z-test at 4 standard errors."""
    from prompticl._sampling import sample_grams

    spec = load_spec(spec_name)
    m = 60_000
    G1, b1 = sample_grams(spec, n, m, np.random.default_rng(0), 1)
    data = sample_batch(spec, n, m, np.random.default_rng(1), task=1)
    G2, b2 = gram(context_tokens(data.X, data.y)), data.beta
    rng = np.random.default_rng(2)
    D = spec.d + 1
    eff = Effective(0.1 * rng.standard_normal((spec.d, D)), rng.standard_normal((spec.K, D)), np.zeros((spec.K, spec.d)))
    stats = [
        lambda G, b: G[:, -1, -1],
        lambda G, b: G[:, -1, -1] ** 2,
        lambda G, b: np.einsum("bi,bi->b", G[:, :-1, -1], b),
        lambda G, b: G[:, 0, 0] * G[:, -1, -1],
        lambda G, b: ((effective_estimate(eff, G, np.ones(m, int)) - b) ** 2).sum(1),
    ]
    for f in stats:
        a, c = f(G1, b1), f(G2, b2)
        z = (a.mean() - c.mean()) / np.sqrt(a.var() / m + c.var() / m)
        assert abs(z) < 4, z


@pytest.mark.parametrize("count, chunk", [(5, 16), (16, 16), (37, 16), (0, 4)])
def test_gram_chunks_draw_exactly_count_prompts_in_the_order_of_sample_grams(count, chunk):
    """``gram_chunks`` (the draw loop of the sampled moments, the streamed moments and the test
    losses) yields ``count`` prompts in chunks of at most ``chunk``, the same numbers as successive
    ``sample_grams`` calls on the same generator."""
    from prompticl._sampling import gram_chunks, sample_grams

    spec = load_spec("zero-mean")
    chunks = list(gram_chunks(spec, 12, count, np.random.default_rng(3), 1, chunk))
    assert sum(len(beta) for _, beta in chunks) == count
    assert all(0 < len(beta) <= chunk for _, beta in chunks)
    rng = np.random.default_rng(3)
    for G, beta in chunks:
        G2, beta2 = sample_grams(spec, 12, len(beta), rng, 1)
        np.testing.assert_array_equal(G, G2)
        np.testing.assert_array_equal(beta, beta2)
