"""prompticl: the executable companion to *Provable Benefits of Task-Specific Prompts for
In-context Learning* (Chang, Li, Kara, Oymak, Roy-Chowdhury; AISTATS 2025)."""
from .spec import Spec, SpecError, load_spec, spec_from_dict, spec_names
from .theory import REGIMES, moments, optimal_losses, optimum, population_loss, signal

__version__ = "0.1.0"

__all__ = [
    "Spec",
    "SpecError",
    "load_spec",
    "spec_from_dict",
    "spec_names",
    "REGIMES",
    "moments",
    "optimal_losses",
    "optimum",
    "population_loss",
    "signal",
    "__version__",
]
