"""Ranges of the chapters' parameters: which values a chapter accepts, checked before anything runs.

A parameter's range is declared where the parameter is declared, at the end of its trailing comment
in the chapter's ``parameters`` cell, in square brackets::

    seed = 0  # RNG seed for the Monte Carlo [0 .. 4294967295]
    ns = [5, 10, 20]  # context lengths [len 1 .. 100, 1 .. 1000]
    z_tol = 4.0  # tolerance in standard errors [> 0, <= 100]
    spec_name = "zero-mean"  # task mixture [non-empty]

A range is a comma-separated list of terms:

* ``A .. B`` (both ends included), ``>= A``, ``> A``, ``<= B``, ``< B``: bounds on a number, or on
  every item of a list;
* ``len A .. B``, ``len >= A``, ``len <= B``: bounds on the length of a list or a string;
* ``non-empty``: the same as ``len >= 1``;
* ``any``: every value of the declared type (for ``bool`` parameters).

A chapter that does not declare a range gets the one of :data:`RANGES` for its parameter's name
(parameter names are shared across chapters: ``seed``, ``ns``, ``n_max``, ...).  Every parameter of
every chapter of the book has a range (``tests/unit/test_figures.py`` checks it).  The book's page
"Reproducing the figures" and ``CONTRIBUTING.md`` (chapter conventions) explain the convention.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Mapping

__all__ = ["RANGES", "Range", "RangeSyntaxError", "default_range", "parse_range", "split_range"]


class RangeSyntaxError(ValueError):
    """A range declaration that does not parse (a fault of the chapter, not of the user)."""


@dataclass(frozen=True)
class Range:
    """Bounds on a parameter's value (numbers, or the items of a list) and on its length.

    Attributes
    ----------
    text : str
        The declaration as written, e.g. ``">= 0"``; shown by ``prompticl figures --list``.
    why : str
        Why the bounds are what they are (shown when a value is refused), or ``""``.
    """

    text: str
    low: "float | None" = None
    low_open: bool = False
    high: "float | None" = None
    high_open: bool = False
    min_len: "int | None" = None
    max_len: "int | None" = None
    why: str = ""

    def _number_problem(self, value: Any) -> "str | None":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return f"{'>' if self.low_open else '>='} {_num(self.low)}"
        if self.high is not None and (value >= self.high if self.high_open else value > self.high):
            return f"{'<' if self.high_open else '<='} {_num(self.high)}"
        return None

    def problem(self, value: Any) -> "str | None":
        """Why ``value`` is outside the range (one phrase), or ``None`` if it is inside."""
        if isinstance(value, (list, str)):
            n = len(value)
            if self.min_len is not None and n < self.min_len:
                what = "non-empty" if self.min_len == 1 and self.max_len is None else f"of length >= {self.min_len}"
                return f"must be {what}, got {_short(value)}"
            if self.max_len is not None and n > self.max_len:
                unit = "items" if isinstance(value, list) else "characters"
                return f"must have at most {self.max_len} {unit}, got {n}"
        if isinstance(value, list):
            for i, item in enumerate(value):
                bound = self._number_problem(item)
                if bound is not None:
                    return f"item {i} must be {bound}, got {_short(item)}"
            return None
        bound = self._number_problem(value)
        return None if bound is None else f"must be {bound}, got {_short(value)}"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e16 else repr(x)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:20] + "..." + text[-10:]


_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_INTERVAL = re.compile(rf"^({_NUMBER})\s*\.\.\s*({_NUMBER})$")
_BOUND = re.compile(rf"^(>=|>|<=|<)\s*({_NUMBER})$")
#: A trailing ``[...]`` of a comment that starts like a range (so ``[see above]`` is not one).
_TRAILING = re.compile(r"^(.*?)\s*\[\s*((?:any|non-empty|len\b|>|<|[-+]?\d|\.\d)[^\[\]]*)\]\s*$")


def _number(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise RangeSyntaxError(f"bound {text!r} is not finite")
    return int(text) if re.fullmatch(r"[-+]?\d+", text) else value


def parse_range(text: str, why: str = "") -> Range:
    """Parse a range declaration (the text inside the brackets; see the module docstring).

    Raises
    ------
    RangeSyntaxError
        If a term does not parse.
    """
    fields: dict[str, Any] = {}
    for term in (t.strip() for t in text.split(",")):
        if term == "any":
            continue
        if term == "non-empty":
            fields["min_len"] = 1
            continue
        target = ("min_len", "max_len") if term.startswith("len ") else None
        body = term[4:].strip() if target else term
        interval, bound = _INTERVAL.match(body), _BOUND.match(body)
        if interval:
            lo, hi = _number(interval.group(1)), _number(interval.group(2))
            if lo > hi:
                raise RangeSyntaxError(f"empty interval {term!r}")
            pairs = {"low": lo, "high": hi} if not target else {"min_len": lo, "max_len": hi}
        elif bound:
            op, x = bound.group(1), _number(bound.group(2))
            if target:
                if op in (">", "<"):
                    raise RangeSyntaxError(f"write lengths with >= or <=: {term!r}")
                pairs = {"min_len" if op == ">=" else "max_len": x}
            elif op.startswith(">"):
                pairs = {"low": x, "low_open": op == ">"}
            else:
                pairs = {"high": x, "high_open": op == "<"}
        else:
            raise RangeSyntaxError(f"cannot read range term {term!r} (expected 'A .. B', '>= A', 'len A .. B', "
                                   "'non-empty' or 'any')")
        if target and any(not isinstance(v, int) or v < 0 for k, v in pairs.items() if k.endswith("_len")):
            raise RangeSyntaxError(f"lengths are whole numbers >= 0: {term!r}")
        fields.update(pairs)
    return Range(text=" ".join(text.split()), why=why, **fields)


def split_range(comment: str) -> "tuple[str, str | None]":
    """Split a parameter's comment into its meaning and its range declaration (``None`` if none)."""
    match = _TRAILING.match(comment)
    if match is None:
        return comment, None
    return match.group(1).strip(), match.group(2).strip()


# Upper limits follow prompticl._limits (measured there) or the chapters' own cost, measured with
# `prompticl figures NAME --smoke -p ...` on the project's 2-core machine (wall time, peak RSS):
#   in-brief-regimes, n_max 1000: 5.8 s, 0.2 GB;
#   setting-mixture, moment_samples = loss_samples = hist_samples = 10^6: 30 s, 2.0 GB;
#   joint-losses, mc_samples 10^6: 5.8 s, 0.26 GB;
#   plain-theory-vs-mc, n_grid [1000], check_n 1000, fixed_n 1000 (smoke samples): 24 s, 3.3 GB;
#   plain-theory-vs-mc, check_n 1000 with 200,000 check prompts: over 150 s and 5 GB (stopped),
#   hence n <= 200 for Monte Carlo context lengths;
#   plain-theory-vs-mc, check_n 200 with 10^6 check prompts: over 240 s (stopped), 1.3 GB.
# Each range bounds one parameter: several maxima at once (10^6 prompts at n = 200) still take
# minutes (memory stays near 1-5 GB): the joint cost of a chapter's parameters is estimated, and
# refused beyond a budget, by prompticl._figures.costs.  --timeout bounds a cell's time.
_SAMPLES_WHY = ("a Monte Carlo estimate over more than 10^6 draws takes minutes and, for the unbatched "
                "moment checks, GBs (prompts of n(d+1) numbers each)")
_N_WHY = ("the closed forms are cheap, but the chapters' exact checks grow with n; 1000 is 20 times the "
          "book's largest")
_MC_N_WHY = ("Monte Carlo prompts hold n(d+1) numbers each: at n = 1000 one check of 200,000 prompts took over "
             "150 s and 5 GB; 200 is 4 times the book's largest")
_GRID_WHY = "each entry is one more Monte Carlo point or closed-form evaluation"

#: Default ranges by parameter name, used when a chapter does not declare its own:
#: name -> (range declaration, why).
RANGES: Mapping[str, tuple[str, str]] = {
    # seeds: numpy.random.default_rng takes any int >= 0; 2^32 - 1 keeps seed + k well inside int64
    "seed": ("0 .. 4294967295", "a seed of numpy.random.default_rng"),
    "seeds": ("1 .. 50", "runs per point; the paper shows the best of 50, and each run costs a full training"),
    "seeds_other": ("1 .. 50", "runs per point; each run costs a full training"),
    # specs: a built-in name or a path (validated as a spec too)
    "spec_name": ("non-empty", "a built-in spec name or a YAML path"),
    "whitening_spec": ("non-empty", "a built-in spec name or a YAML path"),
    "general_spec_name": ("non-empty", "a built-in spec name or a YAML path"),
    "nonzero_spec_name": ("non-empty", "a built-in spec name or a YAML path"),
    "noisy_spec_name": ("non-empty", "a built-in spec name or a YAML path"),
    "anisotropic_spec_name": ("non-empty", "a built-in spec name or a YAML path"),
    "check_specs": ("len 1 .. 20", "each mixture is one more set of checks"),
    # context lengths
    "n_max": ("1 .. 1000", "n = 1 ... n_max are evaluated at once; 'prompticl theory' allows 1000 values (prompticl._limits)"),
    "ns": ("len 1 .. 100, 1 .. 1000", _N_WHY),
    "n_grid": ("len 1 .. 100, 1 .. 200", _MC_N_WHY),
    "n_grid_other": ("len 1 .. 100, 1 .. 200", _MC_N_WHY),
    "table_ns": ("len 1 .. 20, 1 .. 1000", _N_WHY),
    "mc_n": ("1 .. 200", _MC_N_WHY),
    "check_n": ("1 .. 200", _MC_N_WHY),
    "fixed_n": ("1 .. 1000", "W_PT tuned for this length is evaluated in closed form at every n of the grid"),
    "whitening_n": ("1 .. 200", _MC_N_WHY),
    "wishart_n": ("1 .. 200", _MC_N_WHY),
    "wishart_d": ("1 .. 50", "the Wishart check draws n x d matrices and compares d x d moments"),
    "search_max": ("1 .. 100000", "the equivalence search evaluates the closed forms at every n up to it"),
    # Monte Carlo sample sizes: at least 2 draws for a standard error
    "mc_samples": ("2 .. 1000000", _SAMPLES_WHY),
    "check_samples": ("2 .. 1000000", _SAMPLES_WHY),
    "loss_samples": ("2 .. 1000000", _SAMPLES_WHY),
    "moment_samples": ("2 .. 1000000", _SAMPLES_WHY),
    "wishart_samples": ("2 .. 1000000", _SAMPLES_WHY),
    "hist_samples": ("2 .. 1000000", "task draws in a histogram"),
    "train_samples": ("10 .. 1000000", "training prompts per run ('prompticl train' allows 10^6 samples at small d)"),
    # tolerances and steps
    "ci": ("> 0, < 1", "a relative half-width"),
    "fd_step": ("> 0, <= 0.1", "a finite-difference step"),
    "perturb_scale": ("> 0, <= 10", "the size of a perturbation"),
    "n_perturb": ("1 .. 100", "each perturbation is one more loss evaluation"),
    "n_directions": ("1 .. 100", "each direction is two more loss evaluations"),
    "mean_scales": ("len 1 .. 50, -100 .. 100", "factors on the task means"),
    # the family of chapter 6 and the noise checks
    "d": ("1 .. 500", "the feature dimension; prompticl._limits allows d <= 500"),
    "energy": ("> 0, <= 1000000", "the total signal tr Sigma_tilde"),
    "noise_energy": ("> 0, <= 1000000", "the total signal tr Sigma_tilde"),
    "noise": (">= 0, <= 1000", "a standard deviation"),
    "noise_sigma": (">= 0, <= 1000", "a standard deviation"),
    "rho_max": (">= 0, < 1", "a mean share (1 leaves no within-task covariance)"),
    "mc_rho": (">= 0, < 1", "a mean share (1 leaves no within-task covariance)"),
    "table_rhos": ("len 1 .. 20, >= 0, < 1", "mean shares (1 leaves no within-task covariance)"),
    "rho_steps": ("2 .. 500", "grid points from 0 to rho_max"),
    "progress": ("any", "on or off"),
    "check_noise": (">= 0, <= 1000", "a standard deviation"),
    "scale_ns": ("len 1 .. 20, 1 .. 1000", _N_WHY),
    # chapter 6's monotonicity grid: rho steps x n_max x noises closed-form evaluations
    "mono_rho_steps": ("2 .. 500", "grid points of the mean share in (0, 1)"),
    "mono_n_max": ("1 .. 1000", "context lengths 1 ... mono_n_max, each a closed-form evaluation per mean share"),
    # chapter 8: each (mixture, n) is a set of certified layer optima of about a second each
    "table_specs": ("len 1 .. 10", "each mixture is one more row of certified layer optima"),
    "table_n": ("1 .. 1000", _N_WHY),
    "n_mechanism": ("1 .. 1000", _N_WHY),
    "scan_rhos": ("len 1 .. 100, >= 0, < 1", "mean shares (1 leaves no within-task covariance); each is one set of "
                  "certified layer optima per n unless drawn from a sweep's table (grids/advantage-fine.yaml has 100)"),
    "scan_ns": ("len 1 .. 20, 1 .. 1000", "each (rho, n) is one set of certified layer optima of about a second"),
    "mono_sigmas": ("len 1 .. 10, >= 0, <= 1000", "standard deviations"),
    # chapter 8's section "Dimension and the limit rho -> 1": one certified joint optimum per point
    "dim_ds": ("len 1 .. 10, 1 .. 100", "dimensions; each is one certified layer optimum (4.4 s at d = 100)"),
    "dim_ratio": ("1 .. 100", "context length per dimension, n = dim_ratio·d"),
    "dim_rho": (">= 0, < 1", "a mean share (1 leaves no within-task covariance)"),
    "limit_rhos": ("len 1 .. 20, >= 0, < 1", "mean shares (1 leaves no within-task covariance: the theorem on "
                   "deterministic mixtures covers it); each is one certified layer optimum per n"),
    "limit_ns": ("len 1 .. 10, 1 .. 1000", "each (rho, n) is one certified layer optimum of a fraction of a second"),
}


def default_range(name: str) -> "Range | None":
    """The range of :data:`RANGES` for a parameter ``name``, or ``None``."""
    entry = RANGES.get(name)
    return None if entry is None else parse_range(*entry)
