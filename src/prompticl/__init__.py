"""prompticl: the executable companion to *Provable Benefits of Task-Specific Prompts for
In-context Learning* (Chang, Li, Kara, Oymak, Roy-Chowdhury; AISTATS 2025).

``prompticl.__all__`` is the public API, and the only one: the book's chapters, the exercises and
user code import from here (``from prompticl import ...``).  Each name is implemented in a private
module named after its concept (``prompticl._closed_forms``, ``prompticl._risk``, ...; see
CONTRIBUTING.md for the map); those modules may change without notice.

Every public function checks its arguments before any work (``prompticl._validation``) and raises
``TypeError`` or ``ValueError`` naming the argument; the private modules call each other unchecked.

Chapter 1 starts with ``load_spec``; chapters 2–8 add the rest.
"""
from importlib.metadata import PackageNotFoundError, version as _version
from typing import TYPE_CHECKING

#: Where each public name lives.  The names are imported on first use (PEP 562), so that
#: ``import prompticl`` (and ``prompticl --version``) does not load numpy, scipy and matplotlib.
_MODULES: dict = {
    "_bayes": ('BAYES_SAMPLES', 'BayesFloor', 'aware_bounds', 'bayes_floor', 'posterior_mean',),
    "_ablation": ('AUTHORS_LAYER_COVS', 'authors_layer_spec', 'layer_ablation',),
    "_deep": ('ATTENTIONS', 'DEEP_SAMPLES', 'DeepResult', 'DeepTestLoss', 'deep_test_loss', 'train_deep', 'train_gd_steps',),
    "_attention": ('AttentionParams', 'Effective', 'context_tokens', 'effective', 'forward_gram', 'forward_tokens', 'gram', 'query_token',),
    "_claims": ('ClaimError', 'claim',),
    "_closed_forms": ('Moments', 'Solution', 'curvature', 'moments', 'one_minus_nW', 'optimal_losses', 'optimal_W_whitened', 'optimum', 'plain_loss_spectral', 'population_loss', 'signal', 'wishart_sas',),
    "_evaluation": ('SeedSummary', 'TestLoss', 'distance_to_optimum', 'summarize', 'test_loss', 'test_losses',),
    "_experiments": ('erm_bound', 'run_grid', 'within_tolerance',),
    "_families": ('mean_share', 'mean_share_family', 'scale_means',),
    "_gaps": ('centring_cost', 'finetune_gap', 'finetune_gap_unwhitened', 'heads_gap', 'joint_gap', 'optimal_biases', 'plain_excess_loss', 'profiled_loss',),
    "_layer_closed_forms": ('centred_spec', 'heads_scale_loss', 'joint_shift_losses', 'task_optimum_losses',),
    "_layer_optimum": ('GRAD_TOL', 'HESS_TOL', 'NESTED', 'LayerClass', 'LayerOptimum', 'layer_advantage', 'layer_optima', 'layer_optimum', 'mechanism_table', 'ordering_check',),
    "_limits": ('LimitError',),
    "_montecarlo": ('Z95', 'Z_TOL', 'check_z', 'expected_normal_minimum', 'max_z_score', 'mc_loss', 'mc_signal', 'mc_task_second_moment', 'mc_wishart_sas', 'mean_and_se',),
    "_plotting": ('ERROR_BAR_NOTE', 'REGIME_COLORS', 'ci_halfwidth', 'setup_style', 'spec_title', 'task_color',),
    "_reduced": ('ReducedView', 'reduced_predict', 'reduced_to_params', 'to_reduced',),
    "_regimes": ('REGIME_TITLES', 'REGIMES',),
    "_risk": ('empirical_risk',),
    "_risk_moments": ('SampleStats', 'population_stats', 'sample_stats',),
    "_sampling": ('Batch', 'sample_batch', 'sample_grams', 'seed_streams',),
    "_spec": ('Spec', 'SpecError', 'load_spec', 'spec_from_dict', 'spec_names', 'with_overrides',),
    "_sweep_store": ('read_sweep', 'sweep_rows',),
    "_training": ('TrainResult', 'train', 'train_adam', 'train_als',),
    "_whitening": ('unwhiten_parameters', 'whiten_parameters',),
    "_figures.export": ('regenerate_command', 'save_figure',),
}
_LAZY = {name: module for module, names in _MODULES.items() for name in names}

if TYPE_CHECKING:  # static analysis and IDEs see the real imports
    from ._attention import AttentionParams, Effective, context_tokens, effective, forward_gram, forward_tokens, gram, query_token
    from ._bayes import BAYES_SAMPLES, BayesFloor, aware_bounds, bayes_floor, posterior_mean
    from ._deep import ATTENTIONS, DEEP_SAMPLES, DeepResult, DeepTestLoss, deep_test_loss, train_deep, train_gd_steps
    from ._ablation import AUTHORS_LAYER_COVS, authors_layer_spec, layer_ablation
    from ._claims import ClaimError, claim
    from ._closed_forms import (
        Moments,
        Solution,
        curvature,
        moments,
        one_minus_nW,
        optimal_losses,
        optimal_W_whitened,
        optimum,
        plain_loss_spectral,
        population_loss,
        signal,
        wishart_sas,
    )
    from ._evaluation import SeedSummary, TestLoss, distance_to_optimum, summarize, test_loss, test_losses
    from ._experiments import erm_bound, run_grid, within_tolerance
    from ._families import mean_share, mean_share_family, scale_means
    from ._gaps import (
        centring_cost,
        finetune_gap,
        finetune_gap_unwhitened,
        heads_gap,
        joint_gap,
        optimal_biases,
        plain_excess_loss,
        profiled_loss,
    )
    from ._layer_closed_forms import centred_spec, heads_scale_loss, joint_shift_losses, task_optimum_losses
    from ._layer_optimum import (
        GRAD_TOL,
        HESS_TOL,
        NESTED,
        LayerClass,
        LayerOptimum,
        layer_advantage,
        layer_optima,
        layer_optimum,
        mechanism_table,
        ordering_check,
    )
    from ._limits import LimitError
    from ._montecarlo import (
        Z95,
        Z_TOL,
        check_z,
        expected_normal_minimum,
        max_z_score,
        mc_loss,
        mc_signal,
        mc_task_second_moment,
        mc_wishart_sas,
        mean_and_se,
    )
    from ._plotting import ERROR_BAR_NOTE, REGIME_COLORS, ci_halfwidth, setup_style, spec_title, task_color
    from ._reduced import ReducedView, reduced_predict, reduced_to_params, to_reduced
    from ._regimes import REGIME_TITLES, REGIMES
    from ._risk import empirical_risk
    from ._risk_moments import SampleStats, population_stats, sample_stats
    from ._sampling import Batch, sample_batch, sample_grams, seed_streams
    from ._spec import Spec, SpecError, load_spec, spec_from_dict, spec_names, with_overrides
    from ._sweep_store import read_sweep, sweep_rows
    from ._training import TrainResult, train, train_adam, train_als
    from ._whitening import unwhiten_parameters, whiten_parameters
    from ._figures.export import regenerate_command, save_figure


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import inspect
    from importlib import import_module

    value = getattr(import_module(f".{module}", __name__), name)
    if inspect.isfunction(value):  # the public functions check their arguments (prompticl._validation)
        from ._validation import validated

        value = validated(value, name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list:
    return sorted(set(globals()) | set(__all__))


try:  # the version is written once, in pyproject.toml
    __version__ = _version("prompticl")
except PackageNotFoundError:  # pragma: no cover - running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    # specs (_spec.py) and the regimes (_regimes.py)
    "Spec", "SpecError", "LimitError", "load_spec", "spec_from_dict", "spec_names", "with_overrides",
    "REGIMES", "REGIME_TITLES",
    # closed forms of the reduced model (_closed_forms.py)
    "Moments", "Solution", "moments", "signal", "wishart_sas", "curvature", "optimal_W_whitened", "one_minus_nW",
    "optimum", "optimal_losses", "population_loss", "plain_loss_spectral",
    # losses at a given W and gaps between regimes (_gaps.py)
    "plain_excess_loss", "optimal_biases", "profiled_loss", "centring_cost", "finetune_gap", "joint_gap",
    "heads_gap", "finetune_gap_unwhitened",
    # mixtures with a chosen mean share (_families.py), whitening (_whitening.py)
    "mean_share", "mean_share_family", "scale_means", "whiten_parameters", "unwhiten_parameters",
    # sampling (_sampling.py) and Monte Carlo (_montecarlo.py)
    "Batch", "sample_batch", "sample_grams", "seed_streams",
    "Z95", "Z_TOL", "check_z", "expected_normal_minimum", "max_z_score", "mean_and_se", "mc_loss", "mc_signal", "mc_task_second_moment",
    "mc_wishart_sas",
    # the attention model (_attention.py) and the reduced model's maps (_reduced.py)
    "AttentionParams", "Effective", "context_tokens", "query_token", "gram", "forward_tokens", "forward_gram",
    "effective", "ReducedView", "reduced_to_params", "reduced_predict", "to_reduced",
    # the training risk (_risk_moments.py, _risk.py), training (_training.py), evaluation (_evaluation.py)
    "SampleStats", "sample_stats", "population_stats", "empirical_risk",
    "TrainResult", "train", "train_als", "train_adam",
    "TestLoss", "SeedSummary", "test_loss", "test_losses", "summarize", "distance_to_optimum",
    # chapter 7's experiments (_experiments.py)
    "run_grid", "erm_bound", "within_tolerance",
    # sweeps' results tables (_sweep_store.py; written by `prompticl sweep`)
    "read_sweep", "sweep_rows",
    # the layer's own optimum (_layer_optimum.py) and closed forms beyond the reduced model (_layer_closed_forms.py)
    "LayerClass", "LayerOptimum", "layer_optimum", "layer_optima", "mechanism_table", "ordering_check",
    "layer_advantage", "GRAD_TOL", "HESS_TOL", "NESTED",
    "centred_spec", "joint_shift_losses", "heads_scale_loss", "task_optimum_losses",
    # the Bayes floor, task-blind and task-aware (_bayes.py)
    "BayesFloor", "bayes_floor", "posterior_mean", "aware_bounds", "BAYES_SAMPLES",
    # deeper and softmax attention trained with JAX, and the L-step gradient-descent reference (_deep.py)
    "DeepResult", "DeepTestLoss", "train_deep", "train_gd_steps", "deep_test_loss", "ATTENTIONS", "DEEP_SAMPLES",
    # the authors' layer-count ablation (_ablation.py)
    "authors_layer_spec", "layer_ablation", "AUTHORS_LAYER_COVS",
    # figures: style (_plotting.py) and export (_figures/export.py)
    "REGIME_COLORS", "setup_style", "ERROR_BAR_NOTE", "ci_halfwidth", "spec_title", "task_color",
    "save_figure", "regenerate_command",
    # claims with a domain, strict or reported (_claims.py)
    "claim", "ClaimError",
    "__version__",
]
