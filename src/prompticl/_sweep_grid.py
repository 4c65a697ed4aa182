"""Grid files of sweeps: validation, size and the list of points

A grid file (YAML, read with :mod:`prompticl._safe_yaml`) names the axes of a sweep::

    mixtures:                       # built-in names, spec paths (relative to the grid file) or a family
      - zero-mean
      - family: mean-share          # chapter 6's family, one mixture per rho
        rho: [0.0, 0.5, 0.9]
    n: [1, 5, 10]                   # context lengths
    regimes: [plain, joint]         # optional: all four by default
    model: trained                  # or {name: trained, samples: 30000, ci: 0.005}; see _sweep_models
    seeds: 50                       # seeded models only: a count (seeds 0 .. 49), a list, or {first: 0, count: 50}

Every problem is a :class:`GridError` with one line, found before any point is computed; the number of
points is known (and checked against a limit) before any point is built.  The book's page "Sweeps on a
cluster" (book/sweeps.md) documents the format.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._limits import MAX_POINTS
from ._safe_yaml import YAMLInputError, escape_control, load_yaml_bytes, read_regular_file
from ._sweep_models import MODELS, point_hash

__all__ = ["FAMILIES", "GRID_BYTES", "MAX_POINTS", "Grid", "GridError", "load_grid", "parse_grid"]

#: Largest grid file: a grid is a few axes, not data.
GRID_BYTES = 64_000
_KEYS = {"mixtures", "n", "regimes", "model", "seeds", "description"}  # description: free text
_FAMILY_KEYS = {"family", "rho", "d", "energy", "noise"}
#: Families a grid may name, with their parameter: ``mean-share`` is :func:`mean_share_family`.
FAMILIES = ("mean-share",)


class GridError(ValueError):
    """A grid file that is refused; the message is one line."""


@dataclass(frozen=True)
class Mixture:
    """One mixture of the grid: its label in the table, its family and rho (or ``""`` and NaN), its spec."""

    label: str
    family: str
    rho: float
    spec: Any  # Spec


@dataclass(frozen=True)
class Grid:
    """A validated grid: the axes, the model and its options; :meth:`points` lists its points."""

    source: str
    mixtures: tuple
    ns: tuple
    regimes: tuple
    model: str
    options: dict
    seeds: tuple  # (None,) for exact models

    @property
    def size(self) -> int:
        """Number of points."""
        return len(self.mixtures) * len(self.ns) * len(self.regimes) * len(self.seeds)

    def points(self) -> list[dict]:
        """Every point, each a plain dict with its content hash under ``hash`` (order: mixture, n, regime, seed)."""
        from ._spec import spec_to_dict

        out = []
        for mix in self.mixtures:
            spec = spec_to_dict(mix.spec)
            for n in self.ns:
                for regime in self.regimes:
                    for seed in self.seeds:
                        p = {"mixture": mix.label, "family": mix.family, "rho": mix.rho, "spec": spec, "n": n,
                             "regime": regime, "model": self.model, "options": dict(self.options), "seed": seed}
                        p["hash"] = point_hash(p)
                        out.append(p)
        return out

    def fingerprint(self, points: "list[dict] | None" = None) -> str:
        """SHA-256 of the sorted point hashes: two grids with the same points share it."""
        hashes = sorted(p["hash"] for p in (self.points() if points is None else points))
        return hashlib.sha256("\n".join(hashes).encode("ascii")).hexdigest()


def _where(source: str, key: str) -> str:
    return f"{escape_control(source)}: {key}"


def _int_list(value: Any, what: str, low: int, high: int) -> tuple:
    items = value if isinstance(value, list) else [value]
    if not items:
        raise GridError(f"{what} is empty")
    for item in items:
        if isinstance(item, bool) or not isinstance(item, int) or not low <= item <= high:
            raise GridError(f"{what}: expected whole numbers in {low} .. {high}, got {escape_control(repr(item))[:40]}")
    if len(set(items)) != len(items):
        raise GridError(f"{what}: a value is listed twice")
    return tuple(items)


def _seeds(value: Any, where: str) -> tuple:
    if isinstance(value, dict):
        extra = set(value) - {"first", "count"}
        if extra or "count" not in value:
            raise GridError(f"{where}: a mapping needs 'count' and may have 'first' (got {sorted(map(str, value))})")
        first = value.get("first", 0)
        count = value["count"]
        for name, v in (("first", first), ("count", count)):
            if isinstance(v, bool) or not isinstance(v, int) or v < (1 if name == "count" else 0):
                raise GridError(f"{where}: {name} must be a whole number >= {1 if name == 'count' else 0}")
        if first + count - 1 > 2**32 - 1:
            raise GridError(f"{where}: seeds must stay <= 4294967295")
        return ("range", first, count)
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise GridError(f"{where}: a count of seeds must be >= 1")
        return ("range", 0, value)
    if isinstance(value, list):
        return ("list", _int_list(value, where, 0, 2**32 - 1))
    raise GridError(f"{where}: expected a count, a list of seeds or {{first: S, count: C}}")


def _model(value: Any, where: str) -> tuple[str, dict]:
    if isinstance(value, str):
        name, given = value, {}
    elif isinstance(value, dict) and isinstance(value.get("name"), str):
        name, given = value["name"], {k: v for k, v in value.items() if k != "name"}
    else:
        raise GridError(f"{where}: expected a model name or {{name: ..., option: value}} (models: {', '.join(MODELS)})")
    model = MODELS.get(name)
    if model is None:
        raise GridError(f"{where}: unknown model {escape_control(name)[:40]!r} (models: {', '.join(MODELS)})")
    unknown = [str(k) for k in given if k not in model.options]
    if unknown:
        known = ", ".join(model.options) or "none"
        raise GridError(f"{where}: model {name!r} has no option {escape_control(unknown[0])[:40]!r} (its options: {known})")
    options = {}
    for key, opt in model.options.items():
        v = given.get(key, opt.default)
        problem = opt.check(v)
        if problem:
            raise GridError(f"{where}: option {key!r} of model {name!r} must be {problem}, got {escape_control(repr(v))[:40]}")
        options[key] = float(v) if isinstance(opt.default, float) else v
    return name, options


def _mixtures(value: Any, where: str, base: Path) -> list:
    """The mixtures' descriptions, unbuilt: ('spec', text) or ('family', rhos, kwargs)."""
    items = value if isinstance(value, list) else [value]
    if not items:
        raise GridError(f"{where} is empty")
    out = []
    for i, item in enumerate(items):
        here = f"{where}[{i}]"
        if isinstance(item, str) and item:
            out.append(("spec", item))
        elif isinstance(item, dict):
            extra = [str(k) for k in item if k not in _FAMILY_KEYS]
            if extra:
                raise GridError(f"{here}: unknown key {escape_control(extra[0])[:40]!r} (a family takes {', '.join(sorted(_FAMILY_KEYS))})")
            if item.get("family") not in FAMILIES:
                raise GridError(f"{here}: 'family' must be one of {', '.join(FAMILIES)}")
            rhos = item.get("rho")
            rhos = rhos if isinstance(rhos, list) else [rhos]
            if not rhos or any(isinstance(r, bool) or not isinstance(r, (int, float)) or not 0 <= r < 1 for r in rhos):
                raise GridError(f"{here}: 'rho' must be a number or a list of numbers in [0, 1)")
            if len(set(rhos)) != len(rhos):
                raise GridError(f"{here}: a value of 'rho' is listed twice")
            kwargs = {k: item[k] for k in ("d", "energy", "noise") if k in item}
            out.append(("family", [float(r) for r in rhos], kwargs))
        else:
            raise GridError(f"{here}: expected a spec name, a spec path or {{family: mean-share, rho: [...]}}")
    return out


def _build_mixtures(described: list, where: str, base: Path) -> tuple:
    from ._families import mean_share_family
    from ._limits import LimitError
    from ._spec import SpecError, load_spec, spec_names

    built, labels = [], set()
    for i, entry in enumerate(described):
        if entry[0] == "spec":
            text = entry[1]
            path = Path(text) if Path(text).is_absolute() else base / text
            target = text if text in spec_names() and not path.exists() else str(path)
            try:
                spec = load_spec(target)
            except (SpecError, LimitError, YAMLInputError, ValueError) as exc:
                raise GridError(f"{where}[{i}]: {exc}") from None
            built.append(Mixture(text, "", math.nan, spec))
        else:
            _, rhos, kwargs = entry
            for rho in rhos:
                try:
                    spec = mean_share_family(rho, **kwargs)
                except (SpecError, LimitError, ValueError, TypeError) as exc:
                    raise GridError(f"{where}[{i}]: {escape_control(str(exc))}") from None
                built.append(Mixture(f"mean-share(rho={rho:g})", "mean-share", rho, spec))
    for m in built:
        if m.label in labels:
            raise GridError(f"{where}: mixture {escape_control(m.label)[:40]!r} is listed twice")
        labels.add(m.label)
    return tuple(built)


def parse_grid(data: Any, source: str = "<grid>", base: "Path | None" = None, max_points: int = MAX_POINTS) -> Grid:
    """Validate a grid's parsed YAML and build its mixtures; refuse more than ``max_points`` points
    before building anything (chapter 7's sweeps).

    Parameters
    ----------
    data : Any
        The parsed YAML document.
    source : str
        Named in messages.
    base : Path, optional
        Folder against which spec paths are resolved (the grid file's folder).
    max_points : int
        Most points accepted.

    Returns
    -------
    Grid

    Raises
    ------
    GridError
        One line, naming the key and the problem.
    """
    from ._regimes import REGIMES

    base = Path(".") if base is None else base
    if not isinstance(data, dict):
        raise GridError(f"{escape_control(source)}: a grid file is a mapping with keys mixtures, n, model (and regimes, seeds)")
    unknown = [str(k) for k in data if k not in _KEYS]
    if unknown:
        raise GridError(f"{_where(source, escape_control(unknown[0])[:40])}: unknown key (a grid has {', '.join(sorted(_KEYS))})")
    for key in ("mixtures", "n", "model"):
        if key not in data:
            raise GridError(f"{escape_control(source)}: the key {key!r} is missing")
    name, options = _model(data["model"], _where(source, "model"))
    model = MODELS[name]
    described = _mixtures(data["mixtures"], _where(source, "mixtures"), base)
    from ._limits import MAX_N

    ns = _int_list(data["n"], _where(source, "n"), 1, MAX_N)
    regimes = data.get("regimes", list(REGIMES))
    regimes = regimes if isinstance(regimes, list) else [regimes]
    if not regimes or any(r not in REGIMES for r in regimes) or len(set(regimes)) != len(regimes):
        raise GridError(f"{_where(source, 'regimes')}: expected distinct regimes among {', '.join(REGIMES)}")
    if model.seeded:
        seeds = _seeds(data.get("seeds", 1), _where(source, "seeds"))
        seed_count = seeds[2] if seeds[0] == "range" else len(seeds[1])
    else:
        if "seeds" in data:
            raise GridError(f"{_where(source, 'seeds')}: model {name!r} is exact and takes no seeds")
        seeds, seed_count = None, 1
    mixture_count = sum(1 if d[0] == "spec" else len(d[1]) for d in described)
    size = mixture_count * len(ns) * len(regimes) * seed_count
    if size > max_points:
        def count(k: int, what: str) -> str:
            return f"{k:,} {what}{'' if k == 1 else 's'}"

        axes = " x ".join([count(mixture_count, "mixture"), count(len(ns), "length"), count(len(regimes), "regime"),
                           count(seed_count, "seed")])
        raise GridError(f"{escape_control(source)}: {size:,} points ({axes}) is more than the limit {max_points:,}; "
                        "split the grid, or raise the limit with --max-points")
    seed_values = (None,) if seeds is None else (
        tuple(range(seeds[1], seeds[1] + seeds[2])) if seeds[0] == "range" else seeds[1])
    mixtures = _build_mixtures(described, _where(source, "mixtures"), base)
    for mix in mixtures:
        try:
            model.validate(mix.spec, ns, regimes, options)
        except Exception as exc:  # noqa: BLE001 - the models' own refusals (LimitError, CLIError, ValueError)
            raise GridError(f"{escape_control(source)}: mixture {escape_control(mix.label)[:40]!r}: {exc}") from None
    return Grid(source, mixtures, ns, tuple(regimes), name, options, seed_values)


def load_grid(path: "str | Path", max_points: int = MAX_POINTS) -> Grid:
    """Read and validate the grid file at ``path`` (:func:`parse_grid`; chapter 7's sweeps).

    Parameters
    ----------
    path : str or Path
        The grid file.
    max_points : int
        Most points accepted.

    Returns
    -------
    Grid

    Raises
    ------
    GridError
        If the file cannot be read, does not parse, or is refused.
    """
    path = Path(path)
    source = f"grid file {path}"
    try:
        data = load_yaml_bytes(read_regular_file(path, GRID_BYTES, source, "a grid file"), source)
    except YAMLInputError as exc:
        raise GridError(str(exc)) from None
    return parse_grid(data, source, path.resolve().parent, max_points)
