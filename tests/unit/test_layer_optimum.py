"""The layer's certified optimum: exact derivatives, the reduced class = the closed forms, nesting,
the closed forms of _layer_closed_forms, the referee's numbers (issue 11), and the certificate failing where it must."""
import numpy as np
import pytest

from prompticl import load_spec, optimal_losses, spec_from_dict
from prompticl._attention import Effective
from prompticl._risk_moments import population_stats
from prompticl._layer_optimum import CLASSES, GRAD_TOL, NESTED, _certificate, _is_certified, _param_map, layer_advantage, layer_optima, layer_optimum, mechanism_table, ordering_check
from prompticl._regimes import REGIMES
from support import SHAPES, SYMMETRIC
from prompticl._sampling import seed_streams
from prompticl._risk import empirical_risk
from prompticl._risk_moments import sample_stats
from prompticl._als import als
from prompticl._training import train_als



def _random_eff(spec, rng, scale=0.3):
    d, K, D = spec.d, spec.K, spec.d + 1
    return Effective(scale * rng.standard_normal((d, D)), rng.standard_normal((K, D)), rng.standard_normal((K, d)))


@pytest.mark.parametrize("name,n", [("three-task", 1), ("three-task", 10), ("nonzero-mean", 10), ("noisy", 30)])
def test_reduced_class_reproduces_the_closed_forms(name, n):
    spec = load_spec(name)
    closed = optimal_losses(spec, [n])
    opts = layer_optima(spec, n, "reduced")
    for regime in REGIMES:
        assert opts[regime].certified
        assert opts[regime].loss == pytest.approx(closed[regime][0], rel=1e-10)


def test_nested_classes_are_ordered_and_certified():
    spec = load_spec("three-task")
    tab = mechanism_table(spec, 6)
    for regime in ("plain", "joint", "joint-heads"):  # fine-tuning is not monotone in the class (below)
        L = {m: tab[m][regime].loss for m in NESTED}
        slack = 1e-10 * L["reduced"]
        assert L["shift"] <= L["reduced"] + slack
        assert L["label"] <= L["shift"] + slack and L["scale"] <= L["shift"] + slack
        assert L["full"] <= min(L["label"], L["scale"]) + slack
        assert all(tab[m][regime].certified for m in NESTED)
    for m in NESTED:
        assert all(ordering_check(tab[m]).values())
    # Fine-tuning fits prompts to the *plain* optimum: a richer class can pretrain an attention that
    # is better for plain training and worse for the prompts.  Here the shift does exactly that.
    assert tab["shift"]["plain"].loss < tab["reduced"]["plain"].loss * (1 - 1e-5)
    assert tab["shift"]["finetune"].loss > tab["reduced"]["finetune"].loss * (1 + 1e-5)


# Referee values of issue 11 (least squares on 2·10⁵ prompts, stated to hold to about ±0.3%).
REFEREE = [
    ("nonzero-mean", 50, "joint", "shift", 4.1996),
    ("nonzero-mean", 50, "plain", "shift", 4.578),
    ("nonzero-mean", 50, "plain", "full", 4.514),
    ("nonzero-mean", 50, "finetune", "shift", 4.516),
    ("nonzero-mean", 50, "finetune", "full", 4.463),
    ("symmetric", 50, "plain", "shift", 2.592),
    ("symmetric", 50, "plain", "full", 2.523),
    ("symmetric", 50, "joint", "shift", 2.2995),
    ("symmetric", 50, "joint", "full", 2.2995),
    ("shapes", 10, "joint-heads", "scale", 3.916),
    ("shapes", 50, "joint-heads", "scale", 2.063),
]


@pytest.mark.parametrize("name,n,regime,model,value", REFEREE)
def test_referee_numbers(name, n, regime, model, value):
    spec = {"symmetric": lambda: spec_from_dict(SYMMETRIC), "shapes": lambda: spec_from_dict(SHAPES)}.get(
        name, lambda: load_spec(name))()
    opt = layer_optimum(spec, n, regime, model)
    assert opt.certified
    assert opt.loss == pytest.approx(value, rel=3e-3)


def test_certificate_rejects_non_optimal_points():
    spec = load_spec("nonzero-mean")
    st = population_stats(spec, 10)
    P, nA, nb = _param_map(spec.d, spec.K, CLASSES["full"], heads=False, with_bias=False)
    opt = layer_optimum(spec, 10, "plain", "full", stats=st)
    loss, gnorm, pnorm, lmin, lmax = _certificate(st, opt.eff, P, nA, nb)
    assert gnorm * pnorm <= GRAD_TOL * loss and lmin > 0
    assert opt.certified and _is_certified(loss, gnorm, pnorm, lmin, lmax)
    # a small perturbation is no longer stationary
    bumped = Effective(opt.eff.A + 1e-3, opt.eff.b, opt.eff.c)
    cert = _certificate(st, bumped, P, nA, nb)
    assert cert[1] * cert[2] > 1e3 * GRAD_TOL * cert[0] and not _is_certified(*cert)
    # the origin is stationary (the gradient vanishes exactly) but a saddle: a descent direction exists
    D = spec.d + 1
    tiny = Effective(np.zeros((spec.d, D)), np.zeros((spec.K, D)), np.zeros((spec.K, spec.d)))
    cert0 = _certificate(st, tiny, P, nA, nb)
    assert cert0[1] < GRAD_TOL and cert0[3] < 0 and not _is_certified(*cert0)


def test_shared_scale_constraint_in_als():
    spec = load_spec("three-task")
    st = population_stats(spec, 4)
    b0 = np.random.default_rng(1).standard_normal((spec.K, spec.d + 1))
    eff, _ = als(st, b0, heads=True, with_bias=True, max_iter=50, shared_scale=True)
    assert np.ptp(eff.b[:, -1]) < 1e-12 * np.abs(eff.b[:, -1]).max()
    free, _ = als(st, b0, heads=True, with_bias=True, max_iter=50)
    assert np.ptp(free.b[:, -1]) > 1e-3


def test_trained_layer_never_beats_its_population_optimum():
    spec = load_spec("nonzero-mean")
    n = 10
    st = population_stats(spec, n)
    for regime in ("plain", "joint"):
        opt = layer_optimum(spec, n, regime, "full", stats=st)
        trained = train_als(spec, n, regime, seed=0, samples=20_000)
        pop = empirical_risk(st, trained.eff)  # exact population loss of the trained parameters
        assert pop >= opt.loss * (1 - 1e-12)
        assert pop <= opt.loss * (1 + 0.03)  # ERM excess with ~150 parameters and 2·10⁴ prompts


def test_same_solver_on_sample_moments_is_the_trainer():
    # one code path: on a training sample's moments the certified optimum is the trained model
    spec = load_spec("nonzero-mean")
    n = 10
    st = sample_stats(spec, n, 20_000, seed_streams(0, n)[0])
    for regime in ("plain", "joint"):
        trained = train_als(spec, n, regime, seed=0, stats=st)
        opt = layer_optimum(spec, n, regime, "full", stats=st)
        assert opt.certified
        assert opt.loss == pytest.approx(trained.train_loss, rel=1e-9)


def test_layer_advantage_is_relative_to_the_closed_forms():
    """layer_advantage = 1 − L_layer/L_closed: zero for the reduced class, the referee's gap for the full layer."""
    spec = load_spec("nonzero-mean")
    red = layer_advantage(spec, [10], model="reduced")
    assert all(abs(red[r][0]) < 1e-8 for r in REGIMES)
    full = layer_advantage(spec, [50])
    closed = optimal_losses(spec, [50])
    # joint, n = 50: certified layer optimum 4.1930 against the closed form 4.3939
    assert np.isclose(closed["joint"][0] * (1 - full["joint"][0]), 4.1930, atol=5e-4)
    assert full["joint"][0] > 0.04 and abs(full["joint-heads"][0]) < 1e-7
