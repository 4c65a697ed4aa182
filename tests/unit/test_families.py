"""Tests for the mean-share family of mixtures."""
import numpy as np
import pytest

import prompticl as p
from prompticl._families import DEFAULT_ENERGY, mean_share, mean_share_family, scale_means


@pytest.mark.parametrize("rho", [0.0, 0.1, 0.5, 0.9, 1.0])
def test_member_has_requested_share_and_energy(rho):
    spec = mean_share_family(rho, energy=7.0, noise=0.2)
    mom = p.moments(spec)
    assert mean_share(spec) == pytest.approx(rho, abs=1e-12)
    assert np.trace(mom.sigma_tilde) == pytest.approx(7.0, rel=1e-12)
    assert spec.noise == 0.2


def test_default_member_is_the_zero_mean_spec():
    ref = p.load_spec("zero-mean")
    spec = mean_share_family(mean_share(ref))
    assert np.trace(p.moments(ref).sigma_tilde) == pytest.approx(DEFAULT_ENERGY)
    np.testing.assert_allclose(spec.means, ref.means, atol=1e-12)
    np.testing.assert_allclose(spec.covs, ref.covs, atol=1e-12)
    np.testing.assert_allclose(spec.weights, ref.weights)


def test_zero_share_has_no_means_and_no_prompt_gain():
    spec = mean_share_family(0.0)
    assert np.all(spec.means == 0)
    losses = p.optimal_losses(spec, [1, 10])
    np.testing.assert_allclose(losses["joint"], losses["plain"], rtol=1e-12)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rho": -0.1},
        {"rho": 1.5},
        {"rho": float("nan")},
        {"rho": 0.5, "energy": 0.0},
        {"rho": 0.5, "mean_shape": (1.0,)},
        {"rho": 0.5, "mean_shape": (0.0, 0.0)},
        {"rho": 0.5, "cov_shape": (0.0, 0.0)},
        {"rho": 0.5, "cov_shape": (1.0, -1.0)},
    ],
)
def test_bad_input_raises_one_line(kwargs):
    with pytest.raises(ValueError) as err:
        mean_share_family(**kwargs)
    assert "\n" not in str(err.value)


def test_mean_share_of_builtins():
    assert mean_share(p.load_spec("zero-mean")) == pytest.approx(8.4 / 25.4)
    assert mean_share(p.load_spec("nonzero-mean")) == pytest.approx(10.0 / 27.0)


def test_scale_means_scales_only_the_mean_part():
    spec = p.load_spec("three-task")
    scaled = scale_means(spec, 2.0)
    a, b = p.moments(spec), p.moments(scaled)
    np.testing.assert_allclose(b.sigma_bar, a.sigma_bar, atol=1e-12)
    np.testing.assert_allclose(b.mean_part, 4 * a.mean_part, atol=1e-12)
    with pytest.raises(ValueError):
        scale_means(spec, float("inf"))
