"""Hostile input through the Python API (issue 19, item 3): every name in ``prompticl.__all__``
checks its arguments and raises TypeError or ValueError naming the argument and what it should be.

:data:`API_CORPUS` is a table of bad calls, one test each: the call must raise the expected class
(TypeError for the wrong kind of object, ValueError for a bad value or shape) with a one-line
message that names the function and the argument (not numpy's matmul error, an AttributeError from
deep inside, or a number).  :data:`VALID_CALLS` is the positive control: valid calls, with numpy
scalars where Python numbers are expected, give the same result as the unchecked implementation.
The coverage tests keep it true as public names are added: every parameter of every public
function has a rule in ``prompticl._validation`` (or an exemption with a reason), and every public
class either checks its fields or is exempt with a reason.

The corpus uses only the public API, so ``PYTHONPATH=<another checkout>/src pytest -k corpus``
gives another version's tally (the issue's "before").
"""
from __future__ import annotations

import inspect
import json
import re

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import prompticl as p  # noqa: E402

PUBLIC = [n for n in p.__all__ if not n.startswith("__")]
FUNCTIONS = [n for n in PUBLIC if inspect.isfunction(getattr(p, n))]
CLASSES = [n for n in PUBLIC if inspect.isclass(getattr(p, n)) and not issubclass(getattr(p, n), BaseException)]

#: A small mixture (d = 2, K = 2) so that every valid call below costs milliseconds.
S = p.spec_from_dict({"d": 2, "noise": 0.1, "tasks": [{"weight": 0.5, "mean": 1, "cov": 1},
                                                       {"weight": 0.5, "mean": -1, "cov": 2}]})
W = 0.1 * np.eye(2)
C = np.ones((2, 2))  # biases or centres, (K, d)


def rng():
    return np.random.default_rng(0)


def _eff():
    return p.effective(p.reduced_to_params(W, C), 2)


def _params():
    return p.reduced_to_params(W, C)


def _tokens(B=3, n=4):
    X = np.ones((B, n, 2))
    return p.context_tokens(X, np.ones((B, n))), p.query_token(np.ones((B, 2)))


#: Functions taking ``(spec, n, ...)``: each gets the same bad spec and bad n cases.
SPEC_N: dict = {
    "optimum": lambda s, n: p.optimum(s, n, "joint"),
    "population_loss": lambda s, n: p.population_loss(s, n, W),
    "plain_excess_loss": lambda s, n: p.plain_excess_loss(s, n, W),
    "optimal_biases": lambda s, n: p.optimal_biases(s, n, W),
    "profiled_loss": lambda s, n: p.profiled_loss(s, n, W),
    "centring_cost": lambda s, n: p.centring_cost(s, n, W),
    "finetune_gap": lambda s, n: p.finetune_gap(s, n),
    "joint_gap": lambda s, n: p.joint_gap(s, n),
    "heads_gap": lambda s, n: p.heads_gap(s, n),
    "finetune_gap_unwhitened": lambda s, n: p.finetune_gap_unwhitened(s, n),
    "population_stats": lambda s, n: p.population_stats(s, n),
    "task_optimum_losses": lambda s, n: p.task_optimum_losses(s, n),
    "heads_scale_loss": lambda s, n: p.heads_scale_loss(s, n),
    "optimal_losses": lambda s, n: p.optimal_losses(s, n),
    "joint_shift_losses": lambda s, n: p.joint_shift_losses(s, n),
    "sample_batch": lambda s, n: p.sample_batch(s, n, 4, rng()),
    "sample_grams": lambda s, n: p.sample_grams(s, n, 4, rng(), 0),
    "sample_stats": lambda s, n: p.sample_stats(s, n, 100, rng()),
    "train": lambda s, n: p.train(s, n, "joint", samples=100),
    "train_als": lambda s, n: p.train_als(s, n, "joint", samples=100),
    "train_adam": lambda s, n: p.train_adam(s, n, "joint", steps=1, batch=4),
    "test_loss": lambda s, n: p.test_loss(s, n, _eff(), rng()),
    "test_losses": lambda s, n: p.test_losses(s, n, [_eff()], rng()),
    "mc_loss": lambda s, n: p.mc_loss(s, n, W, samples=100, rng=rng()),
    "layer_optimum": lambda s, n: p.layer_optimum(s, n, "joint", "reduced"),
    "layer_optima": lambda s, n: p.layer_optima(s, n, "reduced"),
    "mechanism_table": lambda s, n: p.mechanism_table(s, n, ("reduced",)),
    "layer_advantage": lambda s, n: p.layer_advantage(s, n, "reduced"),
}
#: Functions taking a spec only (or a spec and something other than n).
SPEC_ONLY: dict = {
    "moments": lambda s: p.moments(s),
    "signal": lambda s: p.signal(s),
    "mean_share": lambda s: p.mean_share(s),
    "scale_means": lambda s: p.scale_means(s, 2.0),
    "centred_spec": lambda s: p.centred_spec(s),
    "with_overrides": lambda s: p.with_overrides(s, noise=0.2),
    "whiten_parameters": lambda s: p.whiten_parameters(s, W),
    "unwhiten_parameters": lambda s: p.unwhiten_parameters(s, W),
    "mc_signal": lambda s: p.mc_signal(s, 100, rng()),
    "mc_task_second_moment": lambda s: p.mc_task_second_moment(s, 100, rng()),
    "erm_bound": lambda s: p.erm_bound(s, 1000),
    "run_grid": lambda s: p.run_grid(s, [2], ("joint",), samples=100),
    "spec_title": lambda s: p.spec_title(s),
}
NAN, INF = float("nan"), float("inf")

#: id -> (call, exception class, regex the message must match)
API_CORPUS: dict = {}
for _name, _call in SPEC_N.items():
    API_CORPUS[f"{_name}-spec-as-name"] = (lambda c=_call: c("nonzero-mean", 2), TypeError, r"spec must be a Spec")
    if _name not in ("sample_batch", "sample_grams"):  # n = 0 is valid there: queries without a context
        API_CORPUS[f"{_name}-n-0"] = (lambda c=_call: c(S, 0), ValueError, r"ns? must be .*integer")
    API_CORPUS[f"{_name}-n-2.5"] = (lambda c=_call: c(S, 2.5), TypeError, r"ns? must be .*integer")
    API_CORPUS[f"{_name}-n-negative"] = (lambda c=_call: c(S, -3), ValueError, r"ns? must be .*integer")
    API_CORPUS[f"{_name}-n-bool"] = (lambda c=_call: c(S, True), TypeError, r"ns? must be .*integer")
for _name, _call in SPEC_ONLY.items():
    API_CORPUS[f"{_name}-spec-none"] = (lambda c=_call: c(None), TypeError, r"spec must be a Spec")
    API_CORPUS[f"{_name}-spec-dict"] = (lambda c=_call: c({"d": 2}), TypeError, r"spec must be a Spec")

API_CORPUS.update({
    # shapes against the spec
    "population-loss-W-3x3": (lambda: p.population_loss(S, 2, np.eye(3)), ValueError, r"W must be a real \(2, 2\) matrix"),
    "population-loss-W-vector": (lambda: p.population_loss(S, 2, np.ones(2)), ValueError, r"W must be"),
    "population-loss-biases-shape": (lambda: p.population_loss(S, 2, W, np.ones((3, 2))), ValueError, r"biases must be"),
    "population-loss-centres-shape": (lambda: p.population_loss(S, 2, W, C, np.ones(2)), ValueError, r"centres must be"),
    "optimal-biases-centres-d": (lambda: p.optimal_biases(S, 2, W, np.ones((2, 5))), ValueError, r"centres must be"),
    "whiten-W-shape": (lambda: p.whiten_parameters(S, np.eye(4)), ValueError, r"W must be"),
    "unwhiten-biases-shape": (lambda: p.unwhiten_parameters(S, W, np.ones(7)), ValueError, r"biases must be"),
    "mc-loss-W-shape": (lambda: p.mc_loss(S, 2, np.eye(5), samples=10, rng=rng()), ValueError, r"W must be"),
    "reduced-predict-W-shape": (lambda: p.reduced_predict(p.sample_batch(S, 2, 3, rng()), np.eye(3)), ValueError,
                                r"W must be"),
    "reduced-to-params-W-rect": (lambda: p.reduced_to_params(np.ones((2, 3))), ValueError, r"W must be"),
    "reduced-to-params-centres-d": (lambda: p.reduced_to_params(W, C, np.ones((2, 3))), ValueError, r"centres must be"),
    "wishart-a-not-square": (lambda: p.wishart_sas(np.ones((2, 3)), 5), ValueError, r"a must be a real square"),
    "wishart-cov-shape": (lambda: p.wishart_sas(np.eye(2), 5, np.eye(3)), ValueError, r"cov must be"),
    "wishart-n-0": (lambda: p.wishart_sas(np.eye(2), 0), ValueError, r"n must be an integer >= 1"),
    "mc-wishart-samples-0": (lambda: p.mc_wishart_sas(np.eye(2), 5, 0, rng()), ValueError, r"samples must be"),
    "plain-loss-spectral-not-square": (lambda: p.plain_loss_spectral(np.ones((2, 3)), 5, 0.0), ValueError,
                                       r"sigma_tilde must be"),
    "plain-loss-spectral-n-0": (lambda: p.plain_loss_spectral(np.eye(2), 0, 0.0), ValueError, r"n must be"),
    "plain-loss-spectral-noise-nan": (lambda: p.plain_loss_spectral(np.eye(2), 3, NAN), ValueError, r"noise must be"),
    "curvature-mom-type": (lambda: p.curvature("joint", S, 5, 0.0), TypeError, r"mom must be a Moments"),
    "curvature-regime": (lambda: p.curvature("nope", p.moments(S), 5, 0.0), ValueError, r"regime must be one of"),
    "curvature-n-array-0": (lambda: p.curvature("joint", p.moments(S), np.array([0, 1]), 0.0), ValueError, r"n must be"),
    "one-minus-nW-noise-negative": (lambda: p.one_minus_nW("joint", p.moments(S), 5, -1.0), ValueError, r"noise must be"),
    "optimal-W-whitened-n-float": (lambda: p.optimal_W_whitened("plain", p.moments(S), 5.0, 0.0), TypeError, r"n must be"),
    # non-finite and complex numbers
    "population-loss-W-nan": (lambda: p.population_loss(S, 2, np.full((2, 2), NAN)), ValueError, r"W must be .*finite"),
    "population-loss-W-complex": (lambda: p.population_loss(S, 2, W + 1j), TypeError, r"W must be real numbers"),
    "scale-means-complex": (lambda: p.scale_means(S, 1j), TypeError, r"factor must be a finite real"),
    "scale-means-inf": (lambda: p.scale_means(S, INF), ValueError, r"factor must be a finite real"),
    "mean-share-family-rho-nan": (lambda: p.mean_share_family(NAN), ValueError, r"rho must be"),
    "mean-share-family-rho-2": (lambda: p.mean_share_family(2.0), ValueError, r"rho must be"),
    "mean-share-family-complex-shape": (lambda: p.mean_share_family(0.5, mean_shape=(1 + 1j, 1)), TypeError,
                                        r"mean_shape must be real"),
    "mean-share-family-d-0": (lambda: p.mean_share_family(0.5, d=0), ValueError, r"d must be an integer >= 1"),
    "mean-share-family-energy-0": (lambda: p.mean_share_family(0.5, energy=0), ValueError, r"energy must be"),
    "with-overrides-noise-nan": (lambda: p.with_overrides(S, noise=NAN), ValueError, r"noise must be"),
    "with-overrides-noise-complex": (lambda: p.with_overrides(S, noise=1j), TypeError, r"noise must be"),
    "check-z-nan": (lambda: p.check_z(NAN, 0.1, 1.0), ValueError, r"estimate must be .*finite"),
    "check-z-negative-se": (lambda: p.check_z(1.0, -0.1, 1.0), ValueError, r"se must be"),
    "max-z-score-text": (lambda: p.max_z_score("a", 1.0, 1.0), TypeError, r"estimate must be"),
    "within-tolerance-nan": (lambda: p.within_tolerance(NAN, 0.1, 1.0, 0.01), ValueError, r"loss must be"),
    "within-tolerance-complex": (lambda: p.within_tolerance(1.0, 0.1, 1.0 + 2j, 0.01), TypeError, r"target must be"),
    "ci-halfwidth-negative": (lambda: p.ci_halfwidth(-1.0), ValueError, r"se must be"),
    "ci-halfwidth-text": (lambda: p.ci_halfwidth("0.1"), TypeError, r"se must be"),
    "summarize-nan": (lambda: p.summarize([1.0, NAN]), ValueError, r"losses must be"),
    "summarize-empty": (lambda: p.summarize([]), ValueError, r"losses must be"),
    "summarize-seeds-short": (lambda: p.summarize([1.0, 2.0], seeds=[0]), ValueError, r"seeds must be a list of 2"),
    "summarize-seed-negative": (lambda: p.summarize([1.0, 2.0], seeds=[0, -1]), ValueError, r"seeds\[1\] must be"),
    "mean-and-se-axis": (lambda: p.mean_and_se(np.ones((3, 2)), axis=2), ValueError, r"axis must be"),
    "mean-and-se-nan": (lambda: p.mean_and_se(np.array([1.0, NAN])), ValueError, r"values must be"),
    # sizes, seeds and counts
    "seed-streams-negative-seed": (lambda: p.seed_streams(-1, 5), ValueError, r"seed must be an integer >= 0"),
    "seed-streams-float-seed": (lambda: p.seed_streams(1.5, 5), TypeError, r"seed must be an integer"),
    "seed-streams-n-0": (lambda: p.seed_streams(0, 0), ValueError, r"n must be an integer >= 1"),
    "train-seed-negative": (lambda: p.train(S, 2, "joint", -1), ValueError, r"seed must be an integer >= 0"),
    "train-samples-0": (lambda: p.train(S, 2, "joint", samples=0), ValueError, r"samples must be"),
    "train-unknown-kwarg": (lambda: p.train(S, 2, "joint", bogus=1), TypeError, r"unexpected keyword argument 'bogus'"),
    "train-method": (lambda: p.train(S, 2, "joint", method="sgd"), ValueError, r"method must be one of"),
    "train-adam-steps-1e9-float": (lambda: p.train_adam(S, 2, "joint", steps=1e9), TypeError, r"steps must be"),
    "train-adam-lr-negative": (lambda: p.train_adam(S, 2, "joint", lr=-0.1), ValueError, r"lr must be"),
    "train-adam-batch-0": (lambda: p.train(S, 2, "joint", method="adam", batch=0), ValueError, r"batch must be"),
    "train-als-tol-nan": (lambda: p.train_als(S, 2, "joint", tol=NAN), ValueError, r"tol must be"),
    "train-als-stats-type": (lambda: p.train_als(S, 2, "joint", stats={}), TypeError, r"stats must be"),
    "train-regime-none": (lambda: p.train(S, 2, None), TypeError, r"regime must be one of"),
    "optimum-regime-unknown": (lambda: p.optimum(S, 2, "prompt"), ValueError, r"regime must be one of"),
    "optimum-regime-int": (lambda: p.optimum(S, 2, 3), TypeError, r"regime must be one of"),
    "erm-bound-samples-negative": (lambda: p.erm_bound(S, -5), ValueError, r"samples must be"),
    "erm-bound-regime-unknown": (lambda: p.erm_bound(S, 100, "nope"), ValueError, r"regime must be one of"),
    "run-grid-ns-empty": (lambda: p.run_grid(S, []), ValueError, r"ns must be"),
    "run-grid-regimes-repeat": (lambda: p.run_grid(S, [2], ("joint", "joint")), ValueError, r"regimes must be"),
    "run-grid-seeds-negative": (lambda: p.run_grid(S, [2], seeds=[-1]), ValueError, r"seeds\[0\] must be"),
    "run-grid-reduced-text": (lambda: p.run_grid(S, [2], reduced="yes"), TypeError, r"reduced must be True or False"),
    "sample-batch-task-out-of-range": (lambda: p.sample_batch(S, 2, 4, rng(), task=5), ValueError, r"task must be"),
    "sample-batch-batch-0": (lambda: p.sample_batch(S, 2, 0, rng()), ValueError, r"batch must be"),
    "sample-batch-rng-int": (lambda: p.sample_batch(S, 2, 4, 0), TypeError, r"rng must be a numpy.random.Generator"),
    "sample-grams-task-negative": (lambda: p.sample_grams(S, 2, 4, rng(), -1), ValueError, r"task must be"),
    "mc-signal-samples-0": (lambda: p.mc_signal(S, 0, rng()), ValueError, r"samples must be"),
    "mc-loss-chunk-0": (lambda: p.mc_loss(S, 2, W, samples=10, rng=rng(), chunk=0), ValueError, r"chunk must be"),
    "test-loss-rel-halfwidth-0": (lambda: p.test_loss(S, 2, _eff(), rng(), rel_halfwidth=0), ValueError,
                                  r"rel_halfwidth must be"),
    "test-loss-model-d": (lambda: p.test_loss(p.mean_share_family(0.5, d=3), 2, _eff(), rng()), ValueError,
                          r"model must be a model of token dimension"),
    "test-loss-model-type": (lambda: p.test_loss(S, 2, W, rng()), TypeError, r"model must be an Effective"),
    "test-losses-models-empty": (lambda: p.test_losses(S, 2, [], rng()), ValueError, r"models must be"),
    "heads-scale-loss-iters-0": (lambda: p.heads_scale_loss(S, 2, iters=0), ValueError, r"iters must be"),
    "layer-optimum-model": (lambda: p.layer_optimum(S, 2, "joint", "nope"), ValueError, r"model must be a LayerClass or one of"),
    "layer-optimum-starts-0": (lambda: p.layer_optimum(S, 2, "joint", "reduced", starts=0), ValueError, r"starts must be"),
    "layer-optima-unknown-kwarg": (lambda: p.layer_optima(S, 2, "reduced", bogus=1), TypeError, r"unexpected keyword"),
    "mechanism-table-models-text": (lambda: p.mechanism_table(S, 2, "full"), TypeError, r"models must be"),
    "ordering-check-type": (lambda: p.ordering_check([1, 2]), TypeError, r"optima must be a mapping"),
    "ordering-check-rtol-negative": (lambda: p.ordering_check({}, rtol=-1.0), ValueError, r"rtol must be"),
    "task-color-negative": (lambda: p.task_color(-1), ValueError, r"k must be an integer >= 0"),
    "task-color-float": (lambda: p.task_color(1.0), TypeError, r"k must be an integer"),
    # the attention model
    "context-tokens-2d": (lambda: p.context_tokens(np.ones((3, 2)), np.ones(3)), ValueError, r"X must be"),
    "context-tokens-y-shape": (lambda: p.context_tokens(np.ones((3, 4, 2)), np.ones((3, 5))), ValueError, r"y must be"),
    "query-token-1d": (lambda: p.query_token(np.ones(3)), ValueError, r"x must be"),
    "gram-2d": (lambda: p.gram(np.ones((3, 3))), ValueError, r"tokens must be"),
    "forward-tokens-params-type": (lambda: p.forward_tokens(W, *_tokens(), np.zeros(3, int)), TypeError,
                                   r"params must be an AttentionParams"),
    "forward-tokens-D": (lambda: p.forward_tokens(_params(), np.ones((3, 4, 5)), np.ones((3, 5)), np.zeros(3, int)),
                         ValueError, r"tokens must be"),
    "forward-tokens-task-range": (lambda: p.forward_tokens(_params(), *_tokens(), np.array([0, 1, 2])), ValueError,
                                  r"task must be"),
    "forward-tokens-task-float": (lambda: p.forward_tokens(_params(), *_tokens(), np.zeros(3)), TypeError, r"task must be"),
    "forward-gram-x-d": (lambda: p.forward_gram(_params(), np.ones((3, 3, 3)), np.ones((3, 5)), np.zeros(3, int)),
                         ValueError, r"x must be"),
    "effective-num-tasks-0": (lambda: p.effective(_params(), 0), ValueError, r"num_tasks must be"),
    "effective-num-tasks-mismatch": (lambda: p.effective(_params(), 3), ValueError, r"num_tasks must be 2"),
    "effective-params-bad-Q": (lambda: p.effective(p.AttentionParams(np.eye(3), np.eye(2), np.eye(3)), 1), ValueError,
                               r"params.K must be"),
    "to-reduced-type": (lambda: p.to_reduced(_params()), TypeError, r"eff must be an Effective"),
    "to-reduced-bad-c": (lambda: p.to_reduced(p.Effective(np.ones((2, 3)), np.ones((2, 3)), np.ones((3, 2)))),
                         ValueError, r"eff.c must be"),
    "empirical-risk-st-type": (lambda: p.empirical_risk(S, _eff()), TypeError, r"st must be a SampleStats"),
    "distance-to-optimum-opt-type": (lambda: p.distance_to_optimum(_eff(), W), TypeError, r"opt must be a Solution"),
    # specs
    "spec-direct-means-shape": (lambda: p.Spec(2, 0.1, np.eye(2), np.array([1.0]), np.ones((1, 3)), np.eye(2)[None]),
                                ValueError, r"means: expected shape \(1, 2\)"),
    "spec-direct-complex-means": (lambda: p.Spec(2, 0.1, np.eye(2), np.array([1.0]), np.ones((1, 2)) * 1j,
                                                 np.eye(2)[None]), TypeError, r"means: expected real numbers"),
    "spec-direct-weights-sum": (lambda: p.Spec(2, 0.1, np.eye(2), np.array([0.3]), np.ones((1, 2)), np.eye(2)[None]),
                                ValueError, r"weights must sum to 1"),
    "spec-direct-x-cov-singular": (lambda: p.Spec(2, 0.1, np.zeros((2, 2)), np.array([1.0]), np.ones((1, 2)),
                                                  np.eye(2)[None]), ValueError, r"x_cov: must be positive definite"),
    "spec-direct-cov-negative": (lambda: p.Spec(2, 0.1, np.eye(2), np.array([1.0]), np.ones((1, 2)), -np.eye(2)[None]),
                                 ValueError, r"covs\[0\]: must be positive semidefinite"),
    "spec-direct-d-float": (lambda: p.Spec(2.0, 0.1, np.eye(2), np.array([1.0]), np.ones((1, 2)), np.eye(2)[None]),
                            TypeError, r"d: must be a positive integer"),
    "spec-direct-noise-nan": (lambda: p.Spec(2, NAN, np.eye(2), np.array([1.0]), np.ones((1, 2)), np.eye(2)[None]),
                              ValueError, r"noise: must be finite"),
    "spec-direct-name-none": (lambda: p.Spec(2, 0.1, np.eye(2), np.array([1.0]), np.ones((1, 2)), np.eye(2)[None],
                                             name=None), TypeError, r"name: must be text"),
    "spec-direct-means-none": (lambda: p.Spec(2, 0.1, np.eye(2), np.array([1.0]), None, np.eye(2)[None]),
                               TypeError, r"means: expected an array"),
    "spec-replace-noise-negative": (lambda: __import__("dataclasses").replace(S, noise=-1.0), ValueError,
                                    r"noise: must be >= 0"),
    "spec-from-dict-list": (lambda: p.spec_from_dict([1, 2]), TypeError, r"data must be a mapping"),
    "spec-from-dict-source-int": (lambda: p.spec_from_dict({}, 5), TypeError, r"source must be a str"),
    "load-spec-int": (lambda: p.load_spec(5), TypeError, r"name_or_path must be a spec name, a path"),
    "load-spec-none": (lambda: p.load_spec(None), TypeError, r"name_or_path must be"),
    # figures
    "save-figure-escape": (lambda: p.save_figure(_figure(), "../escaped", {}, "figs"), ValueError,
                           r"name must be a file name without a folder"),
    "save-figure-absolute": (lambda: p.save_figure(_figure(), "/tmp/escaped", {}, "figs"), ValueError, r"name must be"),
    "save-figure-nan-data": (lambda: p.save_figure(_figure(), "x", {"y": [1.0, NAN]}, "figs"), ValueError,
                             r"data\['y'\]\[1\] is nan"),
    "save-figure-fig-type": (lambda: p.save_figure("fig", "x", {}, "figs"), TypeError, r"fig must be a matplotlib Figure"),
    "save-figure-data-type": (lambda: p.save_figure(_figure(), "x", [1, 2], "figs"), TypeError, r"data must be a mapping"),
    "save-figure-digits-negative": (lambda: p.save_figure(_figure(), "x", {}, "figs", -1), ValueError, r"digits must be"),
    "regenerate-command-params-list": (lambda: p.regenerate_command("x", [1]), TypeError, r"params must be"),
    "regenerate-command-name-none": (lambda: p.regenerate_command(None), TypeError, r"name must be a str"),
    "spec-title-type": (lambda: p.spec_title("nonzero-mean"), TypeError, r"spec must be a Spec"),
})


def _figure():
    import matplotlib.pyplot as plt

    fig, _ = plt.subplots()
    plt.close(fig)
    return fig


@pytest.mark.parametrize("case", sorted(API_CORPUS))
def test_api_corpus(case, tmp_path, monkeypatch):
    """A bad call raises the expected class, in one line naming the function and the argument."""
    monkeypatch.chdir(tmp_path)
    call, exc_class, pattern = API_CORPUS[case]
    with pytest.raises((TypeError, ValueError)) as info:
        call()
    message = str(info.value)
    assert isinstance(info.value, exc_class), f"{type(info.value).__name__}: {message}"
    assert re.search(pattern, message), message
    assert "\n" not in message
    assert list(tmp_path.iterdir()) == [], "a refused call wrote files"


def _numbers_equal(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_numbers_equal(a[k], b[k]) for k in a)
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(_numbers_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, np.random.Generator):
        return a.bit_generator.state == b.bit_generator.state
    if hasattr(a, "__dataclass_fields__"):
        return all(_numbers_equal(getattr(a, f), getattr(b, f)) for f in a.__dataclass_fields__
                   if not f.startswith("_") and f != "seconds")  # seconds: the wall time of a run
    if isinstance(a, (np.ndarray, float, int, np.number)):
        return np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)
    return a == b


def _python(value):
    """``value`` with numpy scalars replaced by the Python numbers they hold."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {k: _python(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_python(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_python(v) for v in value)
    return value


#: Valid calls, with numpy scalars where Python numbers are expected: (public name, a function
#: giving fresh (args, kwargs), so that each call gets its own random generator).
VALID_CALLS: list = [
    ("optimum", lambda: ((S, np.int64(5), "joint"), {})),
    ("optimal_losses", lambda: ((S, np.array([1, 2, 3])), {})),
    ("optimal_losses", lambda: ((S, [np.int32(1), 4]), {})),
    ("population_loss", lambda: ((S, np.int64(4), W, C, C), {})),
    ("finetune_gap", lambda: ((S, np.uint8(3)), {})),
    ("curvature", lambda: (("joint", p.moments(S), np.array([1, 5]), np.float32(0.1)), {})),
    ("plain_loss_spectral", lambda: ((np.eye(2), np.int16(7), np.float64(0.1)), {})),
    ("wishart_sas", lambda: ((np.eye(2), np.int64(3)), {})),
    ("mean_share_family", lambda: ((np.float32(0.5),), {"d": np.int64(3), "noise": np.float64(0.1),
                                                         "energy": np.int64(10)})),
    ("scale_means", lambda: ((S, np.float32(2.0)), {})),
    ("with_overrides", lambda: ((S,), {"noise": np.float32(0.25)})),
    ("seed_streams", lambda: ((np.int64(1), np.int64(5)), {})),
    ("sample_batch", lambda: ((S, np.int64(3), np.int64(4), rng()), {"task": np.int64(1)})),
    ("sample_batch", lambda: ((S, 0, np.int64(4), rng()), {})),
    ("mc_signal", lambda: ((S, np.int64(50), rng()), {})),
    ("erm_bound", lambda: ((S, np.int64(1000)), {"regime": "joint"})),
    ("summarize", lambda: ((np.array([1.0, 2.0]),), {"seeds": [np.int64(3), 4]})),
    ("mean_and_se", lambda: ((np.ones((3, 2)),), {"axis": np.int64(1)})),
    ("check_z", lambda: ((np.float32(1.0), np.float64(0.1), 1), {})),
    ("within_tolerance", lambda: ((np.float64(1.0), np.float32(0.01), 1.0, np.float64(0.01)), {})),
    ("ci_halfwidth", lambda: ((np.float32(0.1),), {})),
    ("task_color", lambda: ((np.int64(7),), {})),
    ("joint_shift_losses", lambda: ((S, range(1, 4)), {})),
    ("heads_scale_loss", lambda: ((S, np.int64(3)), {"iters": np.int64(50)})),
    ("whiten_parameters", lambda: ((S, W.tolist(), C), {})),
    ("reduced_to_params", lambda: ((W, C, C), {})),
    ("context_tokens", lambda: ((np.ones((2, 3, 2)), np.ones((2, 3))), {})),
    ("forward_tokens", lambda: ((_params(), *_tokens(), np.array([0, 1, 1])), {})),
    ("effective", lambda: ((_params(), np.int64(2)), {})),
    ("test_loss", lambda: ((S, np.int64(2), _eff(), rng()), {"pilot": np.int64(100), "max_samples": 1000})),
    ("spec_from_dict", lambda: (({"d": np.int64(2), "noise": np.float32(0.1),
                                  "tasks": [{"weight": 1, "mean": 1, "cov": 1}]},), {})),
    ("regenerate_command", lambda: (("experiments-figure1", {"seeds": np.int64(5), "ns": [np.int64(2), 3]}), {})),
    ("train", lambda: ((S, np.int64(2), "joint", np.int64(1)), {"samples": np.int64(200), "max_iter": np.int64(5)})),
]


@pytest.mark.parametrize("name, make", VALID_CALLS, ids=[f"{c[0]}-{i}" for i, c in enumerate(VALID_CALLS)])
def test_valid_calls_still_work_and_match_the_implementation(name, make):
    """The checks refuse nothing valid (numpy scalars included) and change no result: the public
    function with numpy scalars gives what the implementation gives with the same Python numbers."""
    args, kwargs = make()
    got = getattr(p, name)(*args, **kwargs)
    args, kwargs = make()
    expected = getattr(p, name).__wrapped__(*_python(args), **_python(kwargs))
    assert _numbers_equal(got, expected)


def test_a_valid_spec_built_directly_equals_the_loaded_one():
    direct = p.Spec(d=np.int64(2), noise=np.float64(0.1), x_cov=[[1, 0], [0, 1]], weights=[0.5, 0.5],
                    means=np.array([[1, 1], [-1, -1]]), covs=np.stack([np.eye(2), 2 * np.eye(2)]))
    assert type(direct.d) is int and type(direct.noise) is float and direct.means.dtype == float
    assert p.optimum(direct, 5, "joint").loss == p.optimum(S, 5, "joint").loss


def test_save_figure_writes_only_inside_its_folder(tmp_path):
    fig = _figure()
    p.save_figure(fig, "ok.v2", {"y": np.array([1.0, 2.0])}, tmp_path / "figs")
    assert sorted(f.name for f in (tmp_path / "figs").iterdir()) == ["ok.v2.json", "ok.v2.pdf", "ok.v2.png", "ok.v2.svg"]
    assert json.loads((tmp_path / "figs" / "ok.v2.json").read_text()) == {"y": [1.0, 2.0]}
    with pytest.raises(ValueError):
        p.save_figure(fig, "../escaped", {}, tmp_path / "figs")
    assert sorted(f.name for f in tmp_path.iterdir()) == ["figs"]


# --- coverage: the table keeps up with the public API ---------------------------------------------

def test_every_public_function_checks_its_arguments():
    unchecked = [n for n in FUNCTIONS if not getattr(getattr(p, n), "__prompticl_validated__", False)]
    assert unchecked == []


@pytest.mark.parametrize("name", FUNCTIONS)
def test_every_parameter_has_a_rule_or_a_reasoned_exemption(name):
    from prompticl import _validation as v

    params = inspect.signature(getattr(p, name)).parameters
    missing = []
    for param in params:
        if (name, param) in v.EXEMPT:
            assert len(v.EXEMPT[(name, param)]) > 10, "an exemption needs a reason"
            continue
        try:
            v.rule_for(name, param)
        except KeyError:
            missing.append(param)
    assert missing == [], f"{name}: add rules to prompticl._validation.RULES or OVERRIDES for {missing}"


def test_overrides_and_exemptions_name_existing_parameters():
    from prompticl import _validation as v

    stale = [key for key in (*v.OVERRIDES, *v.EXEMPT)
             if key[0] not in FUNCTIONS or key[1] not in inspect.signature(getattr(p, key[0])).parameters]
    assert stale == []
    assert sorted(v.CLASS_EXEMPT) == sorted(set(v.CLASS_EXEMPT) & set(CLASSES)), "exempt classes that are not public"


@pytest.mark.parametrize("name", CLASSES)
def test_every_public_class_checks_its_fields_or_says_why_not(name):
    from prompticl import _validation as v

    cls = getattr(p, name)
    if name in v.CLASS_EXEMPT:
        assert "__post_init__" not in vars(cls), f"{name} checks its fields: remove its exemption"
        return
    assert "__post_init__" in vars(cls), f"{name}: check the fields in __post_init__ or add it to CLASS_EXEMPT"


def test_wrappers_keep_signature_docstring_and_module():
    for name in FUNCTIONS:
        public = getattr(p, name)
        assert public.__doc__ == public.__wrapped__.__doc__
        assert inspect.signature(public) == inspect.signature(public.__wrapped__)
        assert public.__module__ == public.__wrapped__.__module__
    assert p.test_loss.__test__ is False  # attributes of the function survive the wrapping


def test_binding_errors_name_the_function():
    with pytest.raises(TypeError, match=r"^optimum: missing a required argument: 'regime'"):
        p.optimum(S, 5)


def test_posterior_mean_task_is_none_an_index_or_one_per_prompt():
    """posterior_mean's task: None (task-blind, chapter 09) and an index are valid; a float, a wrong
    length or an index beyond K is refused naming the argument."""
    import prompticl

    spec = prompticl.load_spec("noisy")
    batch = prompticl.sample_batch(spec, 5, 6, np.random.default_rng(0))
    for task in (None, 1, batch.task):
        assert prompticl.posterior_mean(spec, batch.X, batch.y, task=task).shape == (6, spec.d)
    for bad, kind in ((2.5, TypeError), (np.zeros(3, int), ValueError), (spec.K, ValueError)):
        with pytest.raises(kind, match="posterior_mean: task must be"):
            prompticl.posterior_mean(spec, batch.X, batch.y, task=bad)
