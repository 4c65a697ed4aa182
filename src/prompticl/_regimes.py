"""The four training regimes

Their names, their titles, and the one check of a regime argument.

``plain`` (no prompts), ``finetune`` (prompts fitted after pretraining), ``joint`` (prompts and
attention trained together) and ``joint-heads`` (prompts, heads and attention), in this order
everywhere.  Chapter 1 introduces them; chapters 2–5 derive each regime's closed form.
"""
from __future__ import annotations

#: The four training regimes, from fully coupled to fully decoupled.
REGIMES: tuple[str, ...] = ("plain", "finetune", "joint", "joint-heads")
#: How figures and tables name each regime (never the code keys).
REGIME_TITLES = {
    "plain": "plain training",
    "finetune": "prompts fine-tuned after pretraining",
    "joint": "prompts and attention trained jointly",
    "joint-heads": "prompts, heads and attention trained jointly",
}


def check_regime(regime: str) -> str:
    """Return ``regime`` if it is one of :data:`REGIMES`, else raise ``ValueError`` naming the choices."""
    if regime not in REGIMES:
        raise ValueError(f"unknown regime {regime!r} (choose from {', '.join(REGIMES)})")
    return regime
