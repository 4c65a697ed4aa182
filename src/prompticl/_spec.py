"""Task-mixture specifications: parse, validate and load them

A spec describes the data model of the paper: features ``x ~ N(0, Σ_x)`` in ``R^d``, a task
``k`` drawn with probability ``π_k``, a task vector ``β ~ N(μ_k, Σ_k)`` and labels
``y = xᵀβ + ξ`` with ``ξ ~ N(0, σ²)``.

Specs are YAML files (or the same structure as a dict)::

    d: 10
    noise: 0.0          # σ, the label-noise standard deviation
    x_cov: 1            # optional, defaults to the identity
    tasks:
      - {weight: 0.3, mean: 1.4, cov: 1}
      - {weight: 0.7, mean: -0.6, cov: 2}

A scalar ``mean`` is a constant vector, a scalar ``cov``/``x_cov`` a scaled identity, a flat list a
vector or a diagonal, a nested list a full matrix.  Every field is validated before any work is done;
a bad spec raises :class:`SpecError` with one line naming the field and the reason.

Chapter 1 (the setting) defines the mixture a spec describes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ._limits import MAX_D, LimitError, check_spec_size
from ._safe_yaml import YAMLInputError, escape_control, load_yaml_file, load_yaml_text

#: Tolerance on ``sum(weights) == 1``.
WEIGHT_TOL = 1e-9
#: Relative tolerance for symmetry and positive semidefiniteness checks.
PSD_RTOL = 1e-10
#: Largest magnitude (and, for non-zero numbers, smallest) of a spec's numbers: the closed forms
#: multiply up to four of them with n² (n ≤ 10⁹), which stays inside the float range
#: (1e50⁴·1e18 = 1e218; 1e-50⁴ = 1e-200), while 1e154 already overflowed to nan.
MAX_MAGNITUDE = 1e50


class SpecError(ValueError):
    r"""A task-mixture spec is invalid; the message is one line naming the field and the reason."""


class SpecTypeError(SpecError, TypeError):
    """A field of a spec has the wrong type (a :class:`SpecError` and a :class:`TypeError`)."""


@dataclass(frozen=True, eq=False)
class Spec:
    r"""A validated Gaussian task mixture, the data model of Chapter 1 (Definition 1.1).

    Features :math:`x \sim \mathcal N(0, \Sigma_x)`, task :math:`k` with probability :math:`\pi_k`, task
    vector :math:`\beta \sim \mathcal N(\mu_k, \Sigma_k)` and labels :math:`y = x^\top\beta + \xi`,
    :math:`\xi \sim \mathcal N(0, \sigma^2)`. Build one with :func:`load_spec` or :func:`spec_from_dict`;
    built directly, ``Spec(d=..., ...)`` checks its fields by the rules of :func:`spec_from_dict`
    (arrays of exactly the shapes below) and raises :class:`SpecError` naming the field.

    Attributes
    ----------
    d : int
        Feature dimension.
    noise : float
        Label-noise standard deviation σ ≥ 0.
    x_cov : ndarray, shape (d, d)
        Feature covariance Σ_x (positive definite).
    weights : ndarray, shape (K,)
        Task probabilities π_k (positive, summing to one).
    means : ndarray, shape (K, d)
        Task means μ_k.
    covs : ndarray, shape (K, d, d)
        Task covariances Σ_k (symmetric positive semidefinite).
    name : str
        A label used in tables and provenance files.
    description : str
        Free text.
    title : str
        Human-readable title for plot titles and captions (see ``prompticl._plotting.spec_title``).
    """

    d: int
    noise: float
    x_cov: np.ndarray
    weights: np.ndarray
    means: np.ndarray
    covs: np.ndarray
    name: str = "custom"
    description: str = ""
    title: str = ""
    _factors: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        checked = _check_fields(self.d, self.noise, self.x_cov, self.weights, self.means, self.covs,
                                self.name, self.description, self.title)
        for key, value in checked.items():
            object.__setattr__(self, key, _read_only(value))  # frozen: the checked, owned copies

    @property
    def K(self) -> int:  # noqa: N802 - the paper's symbol
        """Number of tasks."""
        return int(self.weights.shape[0])

    @property
    def x_sqrt(self) -> np.ndarray:
        """Symmetric square root Σ_x^{1/2} (used for whitening)."""
        if "x_sqrt" not in self._factors:
            self._factors["x_sqrt"] = _read_only(_psd_sqrt(self.x_cov))
        return self._factors["x_sqrt"]

    @property
    def cov_sqrts(self) -> np.ndarray:
        """Symmetric square roots Σ_k^{1/2}, shape (K, d, d) (PSD-safe, unlike Cholesky)."""
        if "cov_sqrts" not in self._factors:
            self._factors["cov_sqrts"] = _read_only(np.stack([_psd_sqrt(c) for c in self.covs]))
        return self._factors["cov_sqrts"]

    def whitened(self) -> "Spec":
        """The equivalent spec in whitened coordinates ``g = Σ_x^{-1/2} x``, ``β' = Σ_x^{1/2} β``."""
        r = self.x_sqrt
        return _trusted_spec(
            d=self.d,
            noise=self.noise,
            x_cov=np.eye(self.d),
            weights=self.weights.copy(),
            means=self.means @ r,
            covs=r @ self.covs @ r,  # batched products: O(K d³), not the O(K d⁴) of a 3-operand einsum
            name=self.name + " (whitened)",
            description=self.description,
            title=self.title,
        )


def _read_only(value: Any) -> Any:
    """An array as a read-only view of a read-only copy (other values as they are): a spec's arrays
    are checked once, so writing into them afterwards (``spec.covs[0] = -1``) would bypass the
    checks.  The view's base is read-only, so ``setflags(write=True)`` cannot undo it either."""
    if not isinstance(value, np.ndarray):
        return value
    base = np.array(value, copy=True)
    base.setflags(write=False)
    return base.view()


def _psd_sqrt(a: np.ndarray) -> np.ndarray:
    vals, vecs = np.linalg.eigh(a)
    return (vecs * np.sqrt(np.clip(vals, 0.0, None))) @ vecs.T


def _fail(source: str, field_name: str, reason: str, wrong_type: bool = False) -> SpecError:
    return (SpecTypeError if wrong_type else SpecError)(escape_control(f"invalid spec {source}: {field_name}: {reason}"))


def _number(value: Any, source: str, name: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise _fail(source, name, f"expected a number, got {type(value).__name__} {escape_control(repr(value))[:60]}",
                    wrong_type=True)
    try:
        v = float(value)
    except OverflowError:  # an int beyond the float range
        raise _fail(source, name, "is too large for a float") from None
    if not math.isfinite(v):
        raise _fail(source, name, f"must be finite, got {value!r}")
    if v != 0 and not 1 / MAX_MAGNITUDE <= abs(v) <= MAX_MAGNITUDE:
        raise _fail(source, name, f"{v:.3g} is out of range: non-zero numbers must lie within "
                                  f"{1 / MAX_MAGNITUDE:g} .. {MAX_MAGNITUDE:g} in magnitude")
    return v


def _array(value: Any, source: str, name: str) -> np.ndarray:
    """Parse a scalar, a flat list or a nested list of finite numbers."""
    if isinstance(value, (list, tuple)):
        if len(value) == 0:
            raise _fail(source, name, "empty list")
        if all(isinstance(v, (list, tuple)) for v in value):
            lengths = {len(v) for v in value}
            if len(lengths) != 1:
                raise _fail(source, name, "rows of the matrix have different lengths")
            rows = [[_number(x, source, f"{name}[{i}][{j}]") for j, x in enumerate(row)] for i, row in enumerate(value)]
            return np.array(rows, dtype=float)
        return np.array([_number(x, source, f"{name}[{i}]") for i, x in enumerate(value)], dtype=float)
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "iuf":  # complex, bool, text, objects: not real numbers
            raise _fail(source, name, f"expected real numbers, got an array of dtype {value.dtype}", wrong_type=True)
        arr = np.asarray(value, dtype=float)
        if not np.all(np.isfinite(arr)):
            raise _fail(source, name, "must be finite")
        mag = np.abs(arr[arr != 0])
        if mag.size and not (mag.min() >= 1 / MAX_MAGNITUDE and mag.max() <= MAX_MAGNITUDE):
            raise _fail(source, name, f"non-zero numbers must lie within {1 / MAX_MAGNITUDE:g} .. {MAX_MAGNITUDE:g} "
                                      "in magnitude")
        return arr
    return np.array(_number(value, source, name))


def _vector(value: Any, d: int, source: str, name: str) -> np.ndarray:
    arr = _array(value, source, name)
    if arr.ndim == 0:
        return np.full(d, float(arr))
    if arr.shape != (d,):
        raise _fail(source, name, f"expected a scalar or a list of length d={d}, got shape {arr.shape}")
    return arr


def _matrix(value: Any, d: int, source: str, name: str, definite: bool) -> np.ndarray:
    arr = _array(value, source, name)
    if arr.ndim == 0:
        mat = float(arr) * np.eye(d)
    elif arr.ndim == 1:
        if arr.shape != (d,):
            raise _fail(source, name, f"a diagonal must have length d={d}, got {arr.shape[0]}")
        mat = np.diag(arr)
    elif arr.shape == (d, d):
        mat = arr
    else:
        raise _fail(source, name, f"expected a scalar, a length-{d} diagonal or a {d}x{d} matrix, got shape {arr.shape}")
    # Relative to the matrix's own size: a covariance 1e-12·I is as positive definite as I.
    scale = float(np.max(np.abs(mat)))
    if not np.allclose(mat, mat.T, rtol=0.0, atol=PSD_RTOL * scale):
        raise _fail(source, name, "matrix is not symmetric")
    mat = 0.5 * (mat + mat.T)
    low = float(np.linalg.eigvalsh(mat)[0])
    if definite and (low <= PSD_RTOL * scale or scale == 0.0):
        raise _fail(source, name, f"must be positive definite (smallest eigenvalue {low:.3g})")
    if not definite and low < -PSD_RTOL * scale:
        raise _fail(source, name, f"must be positive semidefinite (smallest eigenvalue {low:.3g})")
    return mat


_TOP_KEYS = {"d", "noise", "x_cov", "tasks", "name", "description", "title"}
_TASK_KEYS = {"weight", "mean", "cov", "name"}


def spec_from_dict(data: Mapping[str, Any], source: str = "<dict>") -> Spec:
    r"""Validate a spec given as a mapping and return a :class:`Spec`.

    The mapping has the structure of a spec file (see the module docstring); Chapter 1 defines the
    mixture it describes.

    Parameters
    ----------
    data : mapping
        The parsed YAML structure.
    source : str
        Where the spec came from, used in error messages (and, for a file name, as the default name).

    Returns
    -------
    Spec
        The validated mixture.

    Raises
    ------
    SpecError
        If any field is missing, malformed or violates its constraint.
    """
    if not isinstance(data, Mapping):
        raise _fail(source, "<top level>", f"expected a mapping, got {type(data).__name__}", wrong_type=True)
    unknown = sorted(set(data) - _TOP_KEYS, key=str)  # key=str: YAML keys may be non-strings
    if unknown:
        raise _fail(source, unknown[0], f"unknown field (allowed: {', '.join(sorted(_TOP_KEYS))})")
    for key in ("d", "noise", "tasks"):
        if key not in data:
            raise _fail(source, key, "missing")
    d = _dimension(data["d"], source)
    tasks = data["tasks"]
    if not isinstance(tasks, list) or not tasks:
        raise _fail(source, "tasks", "must be a non-empty list")
    try:  # before any d x d matrix exists
        check_spec_size(d, len(tasks))
    except LimitError as exc:
        raise _fail(source, "d" if d > MAX_D else "tasks", str(exc)) from None
    noise = _number(data["noise"], source, "noise")
    if noise < 0:
        raise _fail(source, "noise", f"must be >= 0, got {noise}")
    x_cov = _matrix(data.get("x_cov", 1.0), d, source, "x_cov", definite=True)
    weights, means, covs = [], [], []
    for i, task in enumerate(tasks):
        where = f"tasks[{i}]"
        if not isinstance(task, Mapping):
            raise _fail(source, where, f"expected a mapping, got {type(task).__name__}", wrong_type=True)
        unknown = sorted(set(task) - _TASK_KEYS, key=str)
        if unknown:
            raise _fail(source, f"{where}.{unknown[0]}", f"unknown field (allowed: {', '.join(sorted(_TASK_KEYS))})")
        for key in ("weight", "mean", "cov"):
            if key not in task:
                raise _fail(source, f"{where}.{key}", "missing")
        w = _number(task["weight"], source, f"{where}.weight")
        if w <= 0:
            raise _fail(source, f"{where}.weight", f"must be > 0, got {w}")
        weights.append(w)
        means.append(_vector(task["mean"], d, source, f"{where}.mean"))
        covs.append(_matrix(task["cov"], d, source, f"{where}.cov", definite=False))
    total = sum(weights)
    if abs(total - 1.0) > WEIGHT_TOL:
        raise _fail(source, "tasks[*].weight", f"weights must sum to 1, they sum to {total:.12g}")
    name = data.get("name", Path(source).stem if source not in ("<dict>", "") else "custom")
    _check_texts(source, name=name, description=data.get("description", ""), title=data.get("title", ""))
    return _trusted_spec(  # every field checked above
        d=d,
        noise=noise,
        x_cov=x_cov,
        weights=np.array(weights),
        means=np.stack(means),
        covs=np.stack(covs),
        name=name,
        description=data.get("description", ""),
        title=data.get("title", ""),
    )


def _dimension(d_raw: Any, source: str) -> int:
    if isinstance(d_raw, (bool, np.bool_)) or not isinstance(d_raw, (int, np.integer)):
        raise _fail(source, "d", f"must be a positive integer, got {escape_control(repr(d_raw))[:60]}", wrong_type=True)
    if d_raw < 1:
        raise _fail(source, "d", f"must be a positive integer, got {d_raw!r}")
    return int(d_raw)


def _check_texts(source: str, **texts: Any) -> None:
    for key, value in texts.items():
        if not isinstance(value, str):
            raise _fail(source, key, f"must be text, got {type(value).__name__} {escape_control(repr(value))[:60]}",
                        wrong_type=True)
        if len(value) > 10_000:
            raise _fail(source, key, f"{len(value)} characters is too long (at most 10000)")


def _field_array(value: Any, shape: tuple, source: str, name: str) -> np.ndarray:
    """A field of ``Spec(...)``: real, finite, within the magnitude range, of exactly ``shape``."""
    if isinstance(value, (list, tuple)):
        try:
            value = np.array(value)
        except ValueError:  # a ragged nested list
            raise _fail(source, name, f"expected an array of shape {shape}, got a ragged list") from None
    if not isinstance(value, np.ndarray):
        raise _fail(source, name, f"expected an array of shape {shape}, got {type(value).__name__}", wrong_type=True)
    arr = np.array(_array(value, source, name), dtype=float)  # a copy: the Spec owns its arrays
    if arr.shape != shape:
        raise _fail(source, name, f"expected shape {shape}, got {arr.shape}")
    return arr


def _check_fields(d, noise, x_cov, weights, means, covs, name, description, title) -> dict:
    """The rules of :func:`spec_from_dict` for the fields of ``Spec(...)``; returns the checked fields."""
    source = "Spec(...)"
    d = _dimension(d, source)
    if isinstance(weights, (list, tuple)):
        weights = np.array(weights) if all(not isinstance(w, (list, tuple)) for w in weights) else weights
    if not isinstance(weights, np.ndarray) or weights.ndim != 1 or weights.size == 0:
        raise _fail(source, "weights", f"expected a non-empty array of shape (K,), got {type(weights).__name__}",
                    wrong_type=not isinstance(weights, np.ndarray))
    K = int(weights.shape[0])
    try:  # before any d x d matrix is checked
        check_spec_size(d, K)
    except LimitError as exc:
        raise _fail(source, "d" if d > MAX_D else "weights", str(exc)) from None
    noise = _number(noise, source, "noise")
    if noise < 0:
        raise _fail(source, "noise", f"must be >= 0, got {noise}")
    weights = _field_array(weights, (K,), source, "weights")
    if np.any(weights <= 0):
        raise _fail(source, "weights", f"must be > 0, got {weights.min()}")
    if abs(weights.sum() - 1.0) > WEIGHT_TOL:
        raise _fail(source, "weights", f"weights must sum to 1, they sum to {weights.sum():.12g}")
    x_cov = _matrix(_field_array(x_cov, (d, d), source, "x_cov"), d, source, "x_cov", definite=True)
    means = _field_array(means, (K, d), source, "means")
    covs = _field_array(covs, (K, d, d), source, "covs")
    covs = np.stack([_matrix(c, d, source, f"covs[{k}]", definite=False) for k, c in enumerate(covs)])
    _check_texts(source, name=name, description=description, title=title)
    return {"d": d, "noise": noise, "x_cov": x_cov, "weights": weights, "means": means, "covs": covs}


def _trusted_spec(**fields: Any) -> Spec:
    """A :class:`Spec` of fields already checked (by :func:`spec_from_dict`, or derived from a checked
    spec): skips ``__post_init__``, whose eigenvalue checks would repeat the work."""
    spec = object.__new__(Spec)
    fields = {"name": "custom", "description": "", "title": "", **fields, "_factors": {}}
    for key, value in fields.items():
        object.__setattr__(spec, key, _read_only(value))
    return spec


def spec_to_dict(spec: Spec) -> dict:
    """Serialise a spec to plain Python types (full matrices), inverse of :func:`spec_from_dict`."""
    return {
        "name": spec.name,
        "description": spec.description,
        "title": spec.title,
        "d": spec.d,
        "noise": spec.noise,
        "x_cov": spec.x_cov.tolist(),
        "tasks": [
            {"weight": float(w), "mean": m.tolist(), "cov": c.tolist()}
            for w, m, c in zip(spec.weights, spec.means, spec.covs)
        ],
    }


def _builtin_dir():
    return resources.files("prompticl") / "specs"


def spec_names() -> list[str]:
    r"""Names of the specs shipped with the package (the paper's mixtures, Chapter 1).

    Returns
    -------
    list of str
        Sorted names, each loadable with :func:`load_spec`.
    """
    return sorted(p.name[:-5] for p in _builtin_dir().iterdir() if p.name.endswith(".yaml"))


def load_spec(name_or_path: "str | Path | Spec | Mapping") -> Spec:
    r"""Load a spec by built-in name, by path to a YAML file, or from a mapping.

    The mixtures of Chapter 1; :func:`spec_names` lists the built-in ones.

    Parameters
    ----------
    name_or_path : str, Path, Spec or mapping
        A built-in name (``"nonzero-mean"``), a path to a YAML file, a mapping (see
        :func:`spec_from_dict`) or a :class:`Spec`, returned unchanged.

    Returns
    -------
    Spec
        The validated mixture.

    Raises
    ------
    SpecError
        If the file is missing or unreadable, the YAML does not parse, or the spec is invalid.
    """
    if isinstance(name_or_path, Spec):
        return name_or_path
    if isinstance(name_or_path, Mapping):
        return spec_from_dict(name_or_path)
    text_name = str(name_or_path)
    shown = text_name if len(text_name) <= 200 else f"{text_name[:60]}...{text_name[-40:]} ({len(text_name)} characters)"
    path = Path(text_name)
    try:
        is_file = path.is_file()
    except (OSError, ValueError) as exc:  # a name too long for the system, a NUL byte
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise SpecError(escape_control(f"cannot read spec {shown!r}: {reason}")) from None
    builtin = _builtin_dir() / f"{text_name}.yaml"
    try:
        if is_file:
            data = load_yaml_file(path)
            source = str(path)
        elif "/" not in text_name and not text_name.endswith((".yaml", ".yml")) and len(text_name) <= 200 \
                and builtin.is_file():
            source = text_name
            data = load_yaml_text(builtin.read_text(encoding="utf-8"), source)
        else:
            raise SpecError(escape_control(
                f"spec {shown!r} is neither a file nor a built-in spec (built-ins: {', '.join(spec_names())})"
            ))
    except YAMLInputError as exc:
        raise SpecError(f"invalid spec {exc}") from None
    spec = spec_from_dict(data, source)
    return spec


def with_overrides(spec: Spec, noise: "float | None" = None) -> Spec:
    r"""A copy of ``spec`` with some fields replaced, validated like a spec file (Chapter 1).

    Parameters
    ----------
    spec : Spec
        The mixture to copy.
    noise : float, optional
        New label-noise standard deviation σ; unchanged if ``None``.

    Returns
    -------
    Spec
        The new, validated mixture.

    Raises
    ------
    SpecError
        If the replaced value is invalid.
    """
    data = spec_to_dict(spec)
    if noise is not None:
        data["noise"] = noise
    return spec_from_dict(data, spec.name)
