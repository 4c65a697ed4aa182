"""prompticl: the executable companion to *Provable Benefits of Task-Specific Prompts for
In-context Learning* (Chang, Li, Kara, Oymak, Roy-Chowdhury; AISTATS 2025).

The flat public API below is what the book's chapters use (``from prompticl import ...``); each name
lives in the module named after its concept (see CONTRIBUTING.md for the map of modules).

Chapter 01 starts with ``load_spec``; chapters 02–08 add the rest.
"""
from .attention import (
    AttentionParams,
    Effective,
    context_tokens,
    effective,
    forward_gram,
    forward_tokens,
    gram,
    query_token,
    reduced_predict,
    reduced_to_params,
    to_reduced,
)
from .evaluation import distance_to_optimum, erm_bound, run_grid, summarize, test_loss, test_losses, within_tolerance
from .exact_moments import population_stats
from .families import mean_share, mean_share_family, scale_means
from .gaps import (
    centring_cost,
    finetune_gap,
    finetune_gap_unwhitened,
    heads_gap,
    joint_gap,
    optimal_biases,
    plain_excess_loss,
    profiled_loss,
)
from .layer_optimum import (
    GRAD_TOL,
    HESS_TOL,
    NESTED,
    LayerOptimum,
    layer_advantage,
    layer_optima,
    layer_optimum,
    mechanism_table,
    ordering_check,
)
from .layer_theory import centred_spec, heads_scale_loss, joint_shift_losses, task_optimum_losses
from .montecarlo import (
    Z_TOL,
    check_z,
    max_z_score,
    mc_loss,
    mc_signal,
    mc_task_second_moment,
    mc_wishart_sas,
    mean_and_se,
)
from .plotting import (
    ERROR_BAR_NOTE,
    REGIME_COLORS,
    ci_halfwidth,
    regenerate_command,
    save_figure,
    setup_style,
    spec_title,
    task_color,
)
from .sampling import sample_batch, sample_grams, seed_streams
from .spec import Spec, SpecError, load_spec, spec_from_dict, spec_names, with_overrides
from .sufficient_stats import SampleStats, empirical_risk, sample_stats
from .theory import (
    REGIME_TITLES,
    REGIMES,
    curvature,
    moments,
    optimal_losses,
    optimal_W_whitened,
    optimum,
    plain_loss_spectral,
    population_loss,
    signal,
    wishart_sas,
)
from .training import train, train_adam, train_als
from .whitening import unwhiten_parameters, whiten_parameters

__version__ = "0.1.0"

__all__ = [
    # specs (spec.py)
    "Spec", "SpecError", "load_spec", "spec_from_dict", "spec_names", "with_overrides",
    # closed forms (theory.py)
    "REGIMES", "REGIME_TITLES", "moments", "signal", "wishart_sas", "curvature", "optimal_W_whitened",
    "optimum", "optimal_losses", "population_loss", "plain_loss_spectral",
    # losses at a given W and gaps between regimes (gaps.py)
    "plain_excess_loss", "optimal_biases", "profiled_loss", "centring_cost", "finetune_gap", "joint_gap",
    "heads_gap", "finetune_gap_unwhitened",
    # mixtures with a chosen mean share (families.py), whitening (whitening.py)
    "mean_share", "mean_share_family", "scale_means", "whiten_parameters", "unwhiten_parameters",
    # sampling (sampling.py) and Monte Carlo (montecarlo.py)
    "sample_batch", "sample_grams", "seed_streams",
    "Z_TOL", "check_z", "max_z_score", "mean_and_se", "mc_loss", "mc_signal", "mc_task_second_moment",
    "mc_wishart_sas",
    # the attention model (attention.py)
    "AttentionParams", "Effective", "context_tokens", "query_token", "gram", "forward_tokens", "forward_gram",
    "effective", "reduced_to_params", "reduced_predict", "to_reduced",
    # training and evaluation (sufficient_stats.py, training.py, evaluation.py)
    "SampleStats", "sample_stats", "empirical_risk", "train", "train_als", "train_adam",
    "test_loss", "test_losses", "summarize", "distance_to_optimum", "run_grid", "erm_bound", "within_tolerance",
    # the layer's own optimum (exact_moments.py, layer_optimum.py, layer_theory.py; chapter 08)
    "population_stats", "LayerOptimum", "layer_optimum", "layer_optima", "mechanism_table", "ordering_check",
    "layer_advantage", "GRAD_TOL", "HESS_TOL", "NESTED",
    "centred_spec", "joint_shift_losses", "heads_scale_loss", "task_optimum_losses",
    # figures (plotting.py)
    "REGIME_COLORS", "setup_style", "save_figure", "ERROR_BAR_NOTE", "ci_halfwidth", "regenerate_command",
    "spec_title", "task_color",
    "__version__",
]
