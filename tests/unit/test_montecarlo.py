"""The Monte Carlo estimators (prompticl._montecarlo) against the closed forms they check.

Closed forms are compared with Monte Carlo at ``Z_TOL`` = 4 standard errors (fixed seeds, so the
outcome is deterministic); each estimator is also shown to reject a wrong target.
"""
import numpy as np
import pytest

from prompticl import load_spec, moments, optimum, signal
from prompticl._reduced import reduced_to_params
from prompticl._montecarlo import Z_TOL, check_z, max_z_score, mc_loss, mc_signal, mc_task_second_moment, mc_wishart_sas, mean_and_se
from prompticl._gaps import plain_excess_loss
from prompticl._spec import with_overrides
from prompticl._closed_forms import wishart_sas
from prompticl._whitening import whiten_parameters


def test_mean_and_se_matches_definition():
    v = np.array([1.0, 2.0, 4.0, 7.0])
    mean, se = mean_and_se(v)
    assert mean == pytest.approx(3.5)
    assert se == pytest.approx(np.sqrt(((v - 3.5) ** 2).sum() / 3) / 2)
    with pytest.raises(ValueError):
        mean_and_se(np.array([1.0]))


def test_max_z_score_flags_deterministic_mismatch():
    assert max_z_score([1.0, 2.0], [0.5, 0.0], [1.5, 2.0]) == pytest.approx(1.0)
    assert max_z_score([1.0], [0.0], [1.1]) == np.inf
    with pytest.raises(ValueError):
        max_z_score([1.0], [-1.0], [1.0])


@pytest.mark.parametrize("name", ["zero-mean", "nonzero-mean", "three-task"])
def test_second_moment_and_signal_match_monte_carlo(name):
    spec = load_spec(name)
    rng = np.random.default_rng(1)
    est, se = mc_task_second_moment(spec, 200_000, rng)
    assert max_z_score(est, se, moments(spec).sigma_tilde) < Z_TOL
    sig, sig_se = mc_signal(spec, 200_000, rng)
    assert abs(sig - signal(spec)) < Z_TOL * sig_se


def test_monte_carlo_detects_a_wrong_target():
    # The check must be able to fail: dropping the mean part M is far outside the tolerance.
    spec = load_spec("zero-mean")
    est, se = mc_task_second_moment(spec, 50_000, np.random.default_rng(2))
    assert max_z_score(est, se, moments(spec).sigma_bar) > 10 * Z_TOL


@pytest.mark.parametrize("n", [1, 3, 8])
def test_wishart_identity(n):
    rng = np.random.default_rng(3)
    b = rng.standard_normal((4, 4))
    a = b + b.T
    est, se = mc_wishart_sas(a, n, 100_000, rng)
    assert max_z_score(est, se, wishart_sas(a, n)) < Z_TOL
    cov = load_spec("three-task").x_cov
    est, se = mc_wishart_sas(a, n, 100_000, rng, cov=cov)
    assert max_z_score(est, se, wishart_sas(a, n, cov)) < Z_TOL
    # without the n tr(A) I term the identity is visibly wrong
    assert max_z_score(est, se, n * (n + 1) * cov @ a @ cov) > Z_TOL


def test_wishart_nonsymmetric_form():
    # E[SAS] = n² A + n Aᵀ + n tr(A) I for any square A (book exercise).
    rng = np.random.default_rng(4)
    a = rng.standard_normal((3, 3))
    n = 4
    est, se = mc_wishart_sas(a, n, 100_000, rng)
    assert max_z_score(est, se, n**2 * a + n * a.T + n * np.trace(a) * np.eye(3)) < Z_TOL


def test_population_loss_matches_monte_carlo_at_plain_optimum():
    spec = with_overrides(load_spec("zero-mean"), noise=0.5)
    n = 10
    sol = optimum(spec, n, "plain")
    mean, se = mc_loss(spec, n, sol.W, samples=100_000, rng=np.random.default_rng(8))
    assert abs(mean - sol.loss) < Z_TOL * se


def test_bad_inputs_raise():
    spec = load_spec("zero-mean")
    with pytest.raises(ValueError):
        whiten_parameters(spec, np.eye(3))
    with pytest.raises(ValueError):
        plain_excess_loss(spec, 0, np.eye(10))
    with pytest.raises(ValueError):
        mc_wishart_sas(np.ones((2, 3)), 2, 10, np.random.default_rng(0))
    with pytest.raises(ValueError):
        reduced_to_params(np.ones((2, 3)))


def test_mc_loss_is_deterministic_given_the_seed():
    spec = load_spec("noisy")
    W = 0.01 * np.eye(spec.d)
    first = mc_loss(spec, 4, W, samples=5_000, rng=np.random.default_rng(9), chunk=1_500)
    again = mc_loss(spec, 4, W, samples=5_000, rng=np.random.default_rng(9), chunk=1_500)
    other = mc_loss(spec, 4, W, samples=5_000, rng=np.random.default_rng(10), chunk=1_500)
    assert first == again
    assert first != other


def test_mc_loss_of_the_zero_predictor_is_signal_plus_noise():
    """ŷ = 0 has loss E[y²] = tr Σ̃ + σ²; also exercises a final partial chunk."""
    spec = load_spec("three-task")
    mean, se = mc_loss(spec, 2, np.zeros((spec.d, spec.d)), samples=50_001, rng=np.random.default_rng(8), chunk=20_000)
    expected = signal(spec) + spec.noise**2
    z = abs(mean - expected) / se
    print(f"[MC] zero predictor: {mean:.4f} +- {se:.4f} vs {expected:.4f} ({z:.2f} SE)")
    assert 0 < se < 0.05 * expected
    assert z <= Z_TOL


def test_check_z_passes_within_and_fails_outside_the_tolerance():
    assert check_z(1.0, 0.5, 2.0) == pytest.approx(2.0)
    with pytest.raises(AssertionError, match="4.20 standard errors"):
        check_z(np.array([1.0, 3.1]), np.array([1.0, 0.5]), np.array([1.0, 1.0]), what="x")
    with pytest.raises(AssertionError):
        check_z(1.0, 0.0, 1.0 + 1e-12)  # a deterministic mismatch is never excused


def test_check_z_reports_instead_of_raising_with_a_readers_parameters(monkeypatch, tmp_path, capsys):
    """A reader's own parameters (report mode) never stop a chapter on a Monte Carlo check: the
    failed check is the claim ``mc-within-z``, printed and recorded; strict mode still raises."""
    from prompticl import ClaimError
    from prompticl._claims import read_claims

    with pytest.raises(ClaimError, match="mc-within-z"):
        check_z(1.0, 0.1, 2.0, what="strict")
    record = tmp_path / "claims.jsonl"
    monkeypatch.setenv("PROMPTICL_CLAIMS", "report")
    monkeypatch.setenv("PROMPTICL_CLAIMS_FILE", str(record))
    assert check_z(1.0, 0.1, 2.0, what="test loss") == pytest.approx(10.0)
    assert check_z(1.0, 0.5, 1.5) == pytest.approx(1.0)  # a check that passes records nothing
    (claimed,) = read_claims(record)
    assert claimed["id"] == "mc-within-z" and claimed["holds"] is False and claimed["check"] == "monte-carlo"
    assert claimed["numbers"] == {"z": 10.0, "tolerance": 4.0}
    assert "note: claim mc-within-z does not hold: test loss: 10.00 standard errors" in capsys.readouterr().out


def test_expected_normal_minimum_exact_small_cases_and_simulation():
    from prompticl import expected_normal_minimum

    # closed forms: E min of 1, 2, 3 standard normals = 0, -1/sqrt(pi), -3/(2 sqrt(pi))
    assert expected_normal_minimum(1) == pytest.approx(0.0, abs=1e-12)
    assert expected_normal_minimum(2) == pytest.approx(-1 / np.sqrt(np.pi), abs=1e-10)
    assert expected_normal_minimum(3) == pytest.approx(-1.5 / np.sqrt(np.pi), abs=1e-10)
    # the paper's 50 runs, against a simulation (four standard errors)
    mins = np.random.default_rng(7).standard_normal((100_000, 50)).min(axis=1)
    check_z(mins.mean(), mins.std(ddof=1) / np.sqrt(len(mins)), expected_normal_minimum(50), what="E min of 50")
    values = [expected_normal_minimum(s) for s in (1, 2, 5, 50, 1000)]
    assert all(b < a for a, b in zip(values, values[1:]))
    for bad in (0, -1, 2.0, True):
        with pytest.raises((ValueError, TypeError), match="runs must be an integer >= 1"):
            expected_normal_minimum(bad)
