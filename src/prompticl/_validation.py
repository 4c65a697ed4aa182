"""Argument checks of the public API

Every function in ``prompticl.__all__`` checks its arguments before any work and raises
:class:`TypeError` (wrong kind of object) or :class:`ValueError` (right kind, wrong value or shape)
with one line naming the function, the argument and what it should be.  The checks live here, in
one table keyed by parameter name (:data:`RULES`, with per-function :data:`OVERRIDES`), and are
applied once, where ``prompticl/__init__.py`` exports a name (:func:`validated`); the private
modules call each other unchecked, so the checks cost nothing inside the library.  A unit test
(``tests/unit/test_validation.py``) requires a rule, or an exemption with a reason
(:data:`EXEMPT`), for every parameter of every public function, so a new public name cannot slip
through.  numpy scalars are accepted wherever Python numbers are, and converted to them.

The dataclasses a user builds (``Spec``, ``AttentionParams``, ``Effective``) check their fields in
``__post_init__``; the records the library returns (``Solution``, ``TrainResult``, ...) are built by
the library and checked where a function takes one.  The functions checked are those of chapters 1
to 8 and of the book's page "Reproducing and regenerating the figures" (``save_figure``).
"""
from __future__ import annotations

import functools
import inspect
import math
import numbers
import os
from typing import Any, Callable, Mapping

import numpy as np

from ._limits import MAX_D

#: A rule: ``rule(value, where, args)`` returns the value to pass on (numpy scalars become Python
#: numbers, array-likes arrays) or raises; ``where`` is ``"func: name"``, ``args`` the checked
#: arguments so far (in signature order), for shapes that depend on another argument.
Rule = Callable[[Any, str, dict], Any]


def _show(value: Any) -> str:
    """A short description of a value for an error message: its type and a clipped repr."""
    if isinstance(value, np.ndarray):
        return f"ndarray of shape {value.shape} and dtype {value.dtype}"
    text = " ".join(repr(value).split())  # one line
    text = text if len(text) <= 60 else text[:45] + "..." + text[-10:]
    text = text.encode("ascii", "backslashreplace").decode("ascii")  # no escape sequences reach a terminal
    return f"{type(value).__name__} {text}"


def _bad_type(where: str, what: str, value: Any) -> TypeError:
    return TypeError(f"{where} must be {what}, got {_show(value)}")


def _bad_value(where: str, what: str, value: Any) -> ValueError:
    return ValueError(f"{where} must be {what}, got {_show(value)}")


# --- scalars -------------------------------------------------------------------------------------

def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def integer(lo: "int | None" = None, hi: "int | None" = None) -> Rule:
    """An integer (not a bool, not a float with an integral value) in ``[lo, hi]``."""
    what = "an integer" + (f" >= {lo}" if lo is not None else "") + (f" and <= {hi}" if hi is not None else "")

    def rule(value, where, args):
        if not _is_int(value):
            raise _bad_type(where, what, value)
        v = int(value)
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise _bad_value(where, what, value)
        return v

    rule.what = what
    return rule


def real(lo: "float | None" = None, hi: "float | None" = None, *, lo_open: bool = False, hi_open: bool = False) -> Rule:
    """A finite real number (int, float or numpy scalar; not a bool or a complex) in the given range."""
    parts = []
    if lo is not None:
        parts.append(f"{'>' if lo_open else '>='} {lo:g}")
    if hi is not None:
        parts.append(f"{'<' if hi_open else '<='} {hi:g}")
    what = "a finite real number" + (" " + " and ".join(parts) if parts else "")

    def rule(value, where, args):
        if not _is_real(value):
            raise _bad_type(where, what, value)
        try:
            v = float(value)
        except OverflowError:
            raise _bad_value(where, what, value) from None
        if not math.isfinite(v):
            raise _bad_value(where, what, value)
        if lo is not None and (v <= lo if lo_open else v < lo):
            raise _bad_value(where, what, value)
        if hi is not None and (v >= hi if hi_open else v > hi):
            raise _bad_value(where, what, value)
        return v

    rule.what = what
    return rule


def boolean(value, where, args):
    if not isinstance(value, (bool, np.bool_)):
        raise _bad_type(where, "True or False", value)
    return bool(value)


def text(value, where, args):
    if not isinstance(value, str):
        raise _bad_type(where, "a str", value)
    return value


def optional(rule: Rule) -> Rule:
    """``None`` or what ``rule`` accepts."""

    def check(value, where, args):
        return None if value is None else rule(value, where, args)

    return check


def either(*rules: Rule, what: str) -> Rule:
    """The first of ``rules`` that accepts the value; a TypeError naming ``what`` if none does by type."""

    def check(value, where, args):
        last = None
        for r in rules:
            try:
                return r(value, where, args)
            except TypeError:
                continue
            except ValueError as exc:  # the right kind of object with a bad value: report that
                last = exc
        if last is not None:
            raise last
        raise _bad_type(where, what, value)

    return check


def regime(value, where, args):
    from ._regimes import REGIMES

    what = f"one of {', '.join(map(repr, REGIMES))}"
    if not isinstance(value, str):
        raise _bad_type(where, what, value)
    if value not in REGIMES:
        raise _bad_value(where, what, value)
    return value


def choice(*options: str) -> Rule:
    what = f"one of {', '.join(map(repr, options))}"

    def rule(value, where, args):
        if not isinstance(value, str):
            raise _bad_type(where, what, value)
        if value not in options:
            raise _bad_value(where, what, value)
        return value

    return rule


def instance(module: str, cls_name: str, hint: str = "") -> Rule:
    """An instance of ``prompticl.<module>.<cls_name>`` (imported on first use: no import cycles)."""
    what = f"a {cls_name}" + (f" ({hint})" if hint else "")

    found: list = []  # the class, looked up on first use

    def rule(value, where, args):
        if not found:
            from importlib import import_module

            found.append(getattr(import_module(f"prompticl.{module}"), cls_name))
        if not isinstance(value, found[0]):
            raise _bad_type(where, what, value)
        return value

    return rule


SPEC = instance("_spec", "Spec", "load_spec(name) gives one")


def _generator(value, where, args):
    if not isinstance(value, np.random.Generator):
        raise _bad_type(where, "a numpy.random.Generator (numpy.random.default_rng(seed) gives one)", value)
    return value


def mapping(value, where, args):
    if not isinstance(value, Mapping):
        raise _bad_type(where, "a mapping (a dict)", value)
    return value


def path_like(value, where, args):
    if not isinstance(value, (str, os.PathLike)):
        raise _bad_type(where, "a str or a path", value)
    return value


# --- arrays --------------------------------------------------------------------------------------

def _real_array(value: Any, where: str, what: str, finite: bool = True) -> np.ndarray:
    """``value`` as a float array, refusing what is not a real number (complex, text, objects, bools)."""
    if type(value) is float and (math.isfinite(value) or not finite):  # the common scalar, at once
        return np.asarray(value)
    if isinstance(value, (str, bytes, Mapping)) or value is None:
        raise _bad_type(where, what, value)
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError):  # ragged nested lists
        raise _bad_value(where, what + " (a ragged nested list is not an array)", value) from None
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{where} must be real numbers ({what}), got {_show(value)}")
    arr = arr.astype(float, copy=False)
    if finite and not np.all(np.isfinite(arr)):
        raise _bad_value(where, what + " of finite numbers", value)
    return arr


def _dims(args: dict) -> "tuple[int | None, int | None]":
    """The ``(d, K)`` an argument must agree with: from the spec, else from ``W``, else unknown."""
    spec = args.get("spec")
    if spec is not None and hasattr(spec, "d"):
        return spec.d, spec.K
    data = args.get("data")
    if data is not None and hasattr(data, "X"):
        return int(data.X.shape[-1]), None
    W = args.get("W")
    if isinstance(W, np.ndarray) and W.ndim == 2:
        return W.shape[0], None
    return None, None


def matrix_dd(value, where, args):
    """A finite real ``(d, d)`` matrix, ``d`` of the spec (or any square matrix without one)."""
    d, _ = _dims({k: v for k, v in args.items() if k != "W"} if where.endswith(": W") else args)
    what = f"a real ({d}, {d}) matrix (d = {d} of the spec)" if d is not None else "a real square matrix"
    arr = _real_array(value, where, what)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or (d is not None and arr.shape != (d, d)):
        raise _bad_value(where, what, value)
    return arr


def per_task(value, where, args):
    """Per-task vectors, shape ``(K, d)`` (``K`` of the spec when there is one)."""
    d, K = _dims(args)
    shape = f"({K if K is not None else 'K'}, {d if d is not None else 'd'})"
    what = f"None or a real array of shape {shape}, one row per task"
    if value is None:
        return None
    arr = _real_array(value, where, what)
    if arr.ndim != 2 or arr.shape[0] < 1 or (d is not None and arr.shape[1] != d) or (K is not None and arr.shape[0] != K):
        raise _bad_value(where, what, value)
    other = args.get("biases") if where.endswith(": centres") else None
    if isinstance(other, np.ndarray) and other.shape != arr.shape:
        raise _bad_value(where, f"of the same shape as biases {other.shape}", value)
    return arr


def real_array(value, where, args):
    if type(value) is float and math.isfinite(value):  # the common scalar, at once
        return value
    arr = _real_array(value, where, "a real number or array")
    return arr if arr.ndim else float(arr)


def nonneg_array(value, where, args):
    if type(value) is float and math.isfinite(value) and value >= 0:  # the common scalar, at once
        return value
    arr = _real_array(value, where, "a real number or array")
    if np.any(arr < 0):
        raise _bad_value(where, "a number or array >= 0", value)
    return arr if arr.ndim else float(arr)


def square(value, where, args):
    arr = _real_array(value, where, "a real square matrix")
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.shape[0] < 1:
        raise _bad_value(where, "a real square matrix", value)
    return arr


def same_square(other: str) -> Rule:
    """``None`` or a finite real square matrix of the shape of argument ``other``."""

    def rule(value, where, args):
        if value is None:
            return None
        arr = square(value, where, args)
        ref = args.get(other)
        if isinstance(ref, np.ndarray) and arr.shape != ref.shape:
            raise _bad_value(where, f"None or a real matrix of the shape of {other} {ref.shape}", value)
        return arr

    return rule


def context_lengths(value, where, args):
    """One context length ``n >= 1`` or a non-empty 1-D sequence of them (integers)."""
    what = "an integer >= 1 or a non-empty list of them"
    if _is_int(value):
        return _N(value, where, args)
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, (list, tuple, range, np.ndarray)):
        raise _bad_type(where, what, value)
    arr = np.asarray(value)
    if arr.ndim != 1 or arr.size == 0:
        raise _bad_value(where, what, value)
    if arr.dtype.kind not in "iu" and not all(_is_int(v) for v in value):
        raise _bad_type(where, what, value)
    if np.any(arr < 1):
        raise _bad_value(where, what, value)
    return [int(v) for v in arr] if isinstance(value, (list, tuple, range)) else arr.astype(np.int64)


def n_or_array(value, where, args):
    """A context length, or an array of them (the closed forms broadcast over ``n``)."""
    if _is_int(value) or not isinstance(value, np.ndarray):
        return _N(value, where, args)
    if value.dtype.kind not in "iu" or value.size == 0 or np.any(value < 1):
        raise _bad_value(where, "an integer >= 1 or a non-empty integer array of them", value)
    return value


def sequence_of(rule: Rule, what: str, nonempty: bool = True, unique: bool = False) -> Rule:
    def check(value, where, args):
        if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, (list, tuple, range, np.ndarray)):
            raise _bad_type(where, what, value)
        items = list(value)
        if nonempty and not items:
            raise _bad_value(where, what, value)
        out = [rule(v, f"{where}[{i}]", args) for i, v in enumerate(items)]
        if unique and len(set(out)) != len(out):
            raise _bad_value(where, what + " without repeats", value)
        return type(value)(out) if isinstance(value, (list, tuple)) else out

    return check


def real_vector(value, where, args):
    what = "a non-empty list of finite real numbers"
    if isinstance(value, (str, bytes, Mapping)) or _is_real(value):
        raise _bad_type(where, what, value)
    arr = _real_array(value, where, what)
    if arr.ndim != 1 or arr.size == 0:
        raise _bad_value(where, what, value)
    return arr


def losses_rule(value, where, args):
    return real_vector(value, where, args)


def seeds_for_losses(value, where, args):
    if value is None:
        return None
    seeds = sequence_of(_SEED, "a list of integer seeds >= 0")(value, where, args)
    losses = args.get("losses")
    if losses is not None and len(seeds) != len(losses):
        raise _bad_value(where, f"a list of {len(losses)} seeds, one per loss", value)
    return seeds


def axis_rule(value, where, args):
    v = integer()(value, where, args)
    values = args.get("values")
    ndim = np.ndim(values) if values is not None else None
    if ndim is not None and not -ndim <= v < max(ndim, 1):
        raise _bad_value(where, f"an axis of the {ndim}-dimensional values", value)
    return v


def task_index(value, where, args):
    """A task index ``0 <= task < K`` of the spec."""
    spec = args.get("spec")
    hi = spec.K - 1 if spec is not None and hasattr(spec, "K") else None
    return integer(0, hi)(value, where, args)


def posterior_task(value, where, args):
    """``posterior_mean``'s task: None (task-blind), one task index, or one index per prompt of ``X``."""
    if value is None:
        return None
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return task_index(value, where, args)
    spec, X = args.get("spec"), args.get("X")
    K = spec.K if hasattr(spec, "K") else None
    B = X.shape[0] if isinstance(X, np.ndarray) else None
    what = (f"None, a task index or an integer array of shape ({B if B is not None else 'B'},) of task indices"
            + (f" in 0..{K - 1}" if K is not None else " >= 0"))
    return _task_indices(value, where, what, B, K)


# --- the attention model's arrays ----------------------------------------------------------------

def _batch3(value, where, args, what):
    arr = _real_array(value, where, what)
    if arr.ndim != 3 or 0 in arr.shape:
        raise _bad_value(where, what, value)
    return arr


def context_X(value, where, args):
    return _batch3(value, where, args, "a real array of shape (B, n, d)")


def context_y(value, where, args):
    X = args.get("X")
    shape = f"({X.shape[0]}, {X.shape[1]})" if isinstance(X, np.ndarray) and X.ndim == 3 else "(B, n)"
    arr = _real_array(value, where, f"a real array of shape {shape}")
    if arr.ndim != 2 or (isinstance(X, np.ndarray) and arr.shape != X.shape[:2]):
        raise _bad_value(where, f"a real array of shape {shape} (one label per row of X)", value)
    return arr


def query_x(value, where, args):
    params = args.get("params")
    d = params.D - 1 if params is not None and hasattr(params, "D") else None
    G = args.get("G")
    B = G.shape[0] if isinstance(G, np.ndarray) and G.ndim == 3 else None
    what = f"a real array of shape ({B if B is not None else 'B'}, {d if d is not None else 'd'})"
    arr = _real_array(value, where, what)
    if arr.ndim != 2 or 0 in arr.shape or (d is not None and arr.shape[1] != d) or (B is not None and arr.shape[0] != B):
        raise _bad_value(where, what, value)
    return arr


def tokens_rule(value, where, args):
    params = args.get("params")
    D = params.D if params is not None and hasattr(params, "D") else None
    what = f"a real array of shape (B, T, {D if D is not None else 'D'})"
    arr = _batch3(value, where, args, what)
    if D is not None and arr.shape[2] != D:
        raise _bad_value(where, what, value)
    return arr


def query_tokens(value, where, args):
    params, tokens = args.get("params"), args.get("tokens")
    D = params.D if params is not None and hasattr(params, "D") else None
    B = tokens.shape[0] if isinstance(tokens, np.ndarray) else None
    what = f"a real array of shape ({B}, {D}) (one query token per sequence)"
    arr = _real_array(value, where, what)
    if arr.ndim != 2 or (D is not None and arr.shape[1] != D) or (B is not None and arr.shape[0] != B):
        raise _bad_value(where, what, value)
    return arr


def grams_rule(value, where, args):
    params = args.get("params")
    D = params.D if params is not None and hasattr(params, "D") else None
    what = f"a real array of shape (B, {D}, {D})"
    arr = _batch3(value, where, args, what)
    if arr.shape[1] != arr.shape[2] or (D is not None and arr.shape[1] != D):
        raise _bad_value(where, what, value)
    return arr


def _params_tasks(params) -> "int | None":
    for field in ("heads", "prompts"):
        value = getattr(params, field, None)
        if value is not None:
            return int(np.shape(value)[0])
    return None


def task_array(value, where, args):
    """Task indices, one per sequence, each ``0 <= task < K`` of the parameters."""
    ref = args.get("tokens", args.get("G"))
    B = ref.shape[0] if isinstance(ref, np.ndarray) else None
    K = _params_tasks(args.get("params"))
    what = f"an integer array of shape ({B if B is not None else 'B'},) of task indices" + (
        f" in 0..{K - 1}" if K is not None else " >= 0")
    return _task_indices(value, where, what, B, K)


def _task_indices(value, where, what, B, K):
    """One task index per sequence: an integer array of shape ``(B,)`` with entries in ``0..K-1``."""
    arr = np.asarray(value) if not isinstance(value, (str, bytes, Mapping, float)) and value is not None else None
    if arr is None or arr.dtype.kind not in "iu":
        raise _bad_type(where, what, value)
    if arr.ndim != 1 or (B is not None and arr.shape != (B,)) or (arr.size and (arr.min() < 0 or (K is not None and arr.max() >= K))):
        raise _bad_value(where, what, value)
    return arr


def num_tasks_rule(value, where, args):
    K = _params_tasks(args.get("params"))
    v = integer(1)(value, where, args)
    if K is not None and v != K:
        raise _bad_value(where, f"{K}, the number of tasks of the parameters' prompts or heads", value)
    return v


def _field_shape(obj, field: str, where: str, ndim: int, optional: bool = False) -> "tuple | None":
    value = getattr(obj, field)
    if value is None and optional:
        return None
    dtype = getattr(value, "dtype", None)
    if dtype is None or np.dtype(dtype).kind not in "iuf" or np.ndim(value) != ndim:
        raise _bad_type(f"{where}.{field}", f"a real {ndim}-dimensional array", value)
    return tuple(np.shape(value))


def attention_params(value, where, args):
    """An ``AttentionParams`` whose maps, prompts and heads agree in shape (its fields are checked
    here, where a public function takes one, not in its constructor, which training calls at every step)."""
    from ._attention import AttentionParams

    if not isinstance(value, AttentionParams):
        raise _bad_type(where, "an AttentionParams", value)
    q = _field_shape(value, "Q", where, 2)
    D = q[0]
    for field in ("Q", "K", "V"):
        if _field_shape(value, field, where, 2) != (D, D) or D < 2:
            raise _bad_value(f"{where}.{field}", f"a ({D}, {D}) matrix like Q (D = d + 1 >= 2)", getattr(value, field))
    prompts = _field_shape(value, "prompts", where, 3, optional=True)
    heads = _field_shape(value, "heads", where, 2, optional=True)
    if prompts is not None and (prompts[2] != D or 0 in prompts):
        raise _bad_value(f"{where}.prompts", f"None or an array of shape (K, m, {D})", value.prompts)
    if heads is not None and (heads[1] != D or heads[0] < 1):
        raise _bad_value(f"{where}.heads", f"None or an array of shape (K, {D})", value.heads)
    if prompts is not None and heads is not None and prompts[0] != heads[0]:
        raise _bad_value(f"{where}.heads", f"an array with one row per task, as prompts ({prompts[0]})", value.heads)
    return value


def effective_params(value, where, args):
    """An ``Effective`` with ``A`` of shape (d, d + 1), ``b`` (K, d + 1) and ``c`` (K, d)."""
    from ._attention import Effective

    if not isinstance(value, Effective):
        raise _bad_type(where, "an Effective (effective(params, K) or a trained model's .eff)", value)
    a = _field_shape(value, "A", where, 2)
    b = _field_shape(value, "b", where, 2)
    c = _field_shape(value, "c", where, 2)
    d = a[0]
    if a != (d, d + 1) or d < 1:
        raise _bad_value(f"{where}.A", "an array of shape (d, d + 1)", value.A)
    if b[1] != d + 1 or b[0] < 1:
        raise _bad_value(f"{where}.b", f"an array of shape (K, {d + 1})", value.b)
    if c != (b[0], d):
        raise _bad_value(f"{where}.c", f"an array of shape ({b[0]}, {d})", value.c)
    return value


def model_for_spec(value, where, args):
    """An ``Effective`` or ``AttentionParams`` whose token dimension is ``d + 1`` of the spec."""
    from ._attention import AttentionParams, Effective

    if not isinstance(value, (Effective, AttentionParams)):
        raise _bad_type(where, "an Effective or an AttentionParams (a trained model's .eff or .params)", value)
    (effective_params if isinstance(value, Effective) else attention_params)(value, where, args)
    spec = args.get("spec")
    D = value.D if isinstance(value, AttentionParams) else int(np.shape(value.A)[-1])
    if spec is not None and D != spec.d + 1:
        raise _bad_value(where, f"a model of token dimension d + 1 = {spec.d + 1} (d of the spec)", value)
    if spec is not None and isinstance(value, Effective) and np.shape(value.b)[0] != spec.K:
        raise _bad_value(where, f"a model with one row of b per task (K = {spec.K})", value)
    return value


def models_for_spec(value, where, args):
    return sequence_of(model_for_spec, "a non-empty list of Effective or AttentionParams")(value, where, args)


def layer_model(value, where, args):
    """A class name of ``NESTED`` (or ``"custom"`` is not a name: a LayerClass instead)."""
    from ._layer_optimum import NESTED

    if hasattr(value, "label_column") and hasattr(value, "shift") and hasattr(value, "task_scale"):
        for field in ("label_column", "shift", "task_scale"):
            if not isinstance(getattr(value, field), (bool, np.bool_)):
                raise _bad_type(f"{where}.{field}", "True or False", getattr(value, field))
        return value
    what = f"a LayerClass or one of {', '.join(map(repr, NESTED))}"
    if not isinstance(value, str):
        raise _bad_type(where, what, value)
    if value not in NESTED:
        raise _bad_value(where, what, value)
    return value


def optima_rule(value, where, args):
    from ._layer_optimum import LayerOptimum

    mapping(value, where, args)
    for key, item in value.items():
        regime(key, f"{where} key", args)
        if not isinstance(item, LayerOptimum):
            raise _bad_type(f"{where}[{key!r}]", "a LayerOptimum", item)
    return value


def figure(value, where, args):
    from matplotlib.figure import Figure

    if not isinstance(value, Figure):
        raise _bad_type(where, "a matplotlib Figure", value)
    return value


def figure_name(value, where, args):
    """A figure's file stem: no folder part, so nothing is written outside ``figure_dir``."""
    what = "a file name without a folder (letters, digits, '-', '_', '.')"
    if not isinstance(value, str):
        raise _bad_type(where, what, value)
    from ._figures.export import check_figure_name

    try:
        check_figure_name(value)
    except ValueError:
        raise _bad_value(where, what, value) from None
    return value


def forwarded(*targets: str, by: "str | None" = None, choose: "Mapping[str, str] | None" = None) -> Rule:
    """The ``**kwargs`` a function passes on to another public function: each is checked with that
    function's rule for the same name; an unknown name is a TypeError naming the allowed ones."""

    def rule(value, where, args):
        names = list(targets)
        if by is not None and choose is not None:
            names = [choose.get(args.get(by, _DEFAULTS.get(by)), targets[0])]
        func = where.split(":")[0]
        out = {}
        for key, item in value.items():
            target = next((t for t in names if key in _signature(t).parameters and key not in _CORE), None)
            if target is None:
                allowed = sorted({p for t in names for p in _signature(t).parameters} - _CORE)
                raise TypeError(f"{func}: unexpected keyword argument {key!r} (allowed: {', '.join(allowed)})")
            out[key] = rule_for(target, key)(item, f"{func}: {key}", args)
        return out

    return rule


_DEFAULTS = {"method": "als"}
#: Arguments the forwarding function passes itself, never through ``**kwargs``.
_CORE = {"spec", "n", "regime", "model"}


def _signature(public_name: str) -> inspect.Signature:
    import prompticl

    func = getattr(prompticl, public_name)
    return inspect.signature(getattr(func, "__wrapped__", func))


# --- the table ---------------------------------------------------------------------------------

_N = integer(1)
_SEED = integer(0)
_COUNT = integer(1)
_POS = real(0.0, lo_open=True)
_NONNEG = real(0.0)

#: Rule of each parameter name across the public API (the same name means the same thing).
RULES: dict[str, Rule] = {
    "spec": SPEC,
    "n": _N,
    "ns": context_lengths,
    "regime": regime,
    "seed": _SEED,
    "rng": _generator,
    "W": matrix_dd,
    "biases": per_task,
    "centres": per_task,
    "noise": _NONNEG,
    "samples": _COUNT,
    "runs": _COUNT,
    "batch": _COUNT,
    "steps": _COUNT,
    "chunk": _COUNT,
    "pilot": integer(2),
    "max_samples": integer(2),
    "starts": _COUNT,
    "max_iter": _COUNT,
    "iters": _COUNT,
    "als_iter": _COUNT,
    "prompt_len": _COUNT,
    "num_tasks": num_tasks_rule,
    "tol": _POS,
    "rtol": _POS,
    "lr": _POS,
    "weight_decay": _NONNEG,
    "rel_halfwidth": real(0.0, 1.0, lo_open=True, hi_open=True),
    "z_tol": _POS,
    "rel_excess": _NONNEG,
    "progress": boolean,
    "reduced": boolean,
    "exact": boolean,
    "mom": instance("_closed_forms", "Moments", "moments(spec) gives one"),
    "sigma_tilde": square,
    "a": square,
    "cov": same_square("a"),
    "stats": optional(instance("_risk_moments", "SampleStats", "sample_stats or population_stats gives one")),
    "st": instance("_risk_moments", "SampleStats", "sample_stats or population_stats gives one"),
    "eff": effective_params,
    "params": attention_params,
    "opt": instance("_closed_forms", "Solution", "optimum(spec, n, regime) gives one"),
    "X": context_X,
    "y": context_y,
    "x": query_x,
    "tokens": tokens_rule,
    "query": query_tokens,
    "G": grams_rule,
    "task": task_array,
    "model": layer_model,
    "models": sequence_of(layer_model, "a non-empty list of model class names", unique=True),
    "optima": optima_rule,
    "estimate": real_array,
    "se": nonneg_array,
    "target": real_array,
    "what": text,
    "values": real_array,
    "axis": axis_rule,
    "losses": losses_rule,
    "seeds": sequence_of(_SEED, "a non-empty list of integer seeds >= 0"),
    "regimes": sequence_of(regime, "a non-empty list of regimes", unique=True),
    "rho": real(0.0, 1.0),
    "d": integer(1, MAX_D),
    "weights": real_vector,
    "mean_shape": real_vector,
    "cov_shape": real_vector,
    "energy": _POS,
    "factor": real(),
    "k": integer(0),
    "source": text,
    "name_or_path": either(path_like, SPEC, mapping, what="a spec name, a path, a mapping or a Spec"),
    "fig": figure,
    "name": figure_name,
    "figure_dir": optional(path_like),
    "digits": integer(0, 17),
    "method": choice("als", "adam"),
    "layers": integer(1),
    "attention": choice("linear", "softmax"),
    "maxiter": _COUNT,
    "warm": optional(instance("_deep", "DeepResult", "train_deep gives one")),
    "validation": optional(integer(0)),
    "decay": _NONNEG,
    "layer_start": boolean,
    "family": choice("single-task", "two-task"),
    "mu_ratio": real(0.0, 1.0),
    "gd": boolean,
    "test_samples": _COUNT,
    "bayes_samples": integer(2),
    "result": instance("_deep", "DeepResult", "train_deep or train_gd_steps gives one"),
}

#: Where a name means something else in one function: ``(function, parameter) -> rule``.
OVERRIDES: dict[tuple[str, str], Rule] = {
    ("with_overrides", "noise"): optional(_NONNEG),
    ("train_deep", "starts"): integer(0),
    ("layer_ablation", "layers"): context_lengths,
    ("layer_ablation", "starts"): integer(0),
    ("curvature", "n"): n_or_array,
    ("optimal_W_whitened", "n"): n_or_array,
    ("one_minus_nW", "n"): n_or_array,
    ("seed_streams", "n"): _N,
    ("sample_batch", "n"): integer(0),  # n = 0 draws tasks and queries only (chapter 1's histogram)
    ("sample_batch", "task"): optional(task_index),
    ("sample_grams", "n"): integer(0),
    ("sample_grams", "task"): task_index,
    ("summarize", "seeds"): seeds_for_losses,
    ("run_grid", "ns"): sequence_of(_N, "a non-empty list of context lengths >= 1"),
    ("erm_bound", "regime"): optional(regime),
    ("within_tolerance", "loss"): real(),
    ("within_tolerance", "se"): _NONNEG,
    ("within_tolerance", "target"): real(),
    ("ci_halfwidth", "se"): nonneg_array,
    ("test_loss", "model"): model_for_spec,
    ("test_losses", "models"): models_for_spec,
    ("reduced_predict", "data"): instance("_sampling", "Batch", "sample_batch gives one"),
    ("regenerate_command", "name"): text,
    ("regenerate_command", "params"): optional(mapping),
    ("save_figure", "data"): mapping,
    ("spec_from_dict", "data"): mapping,
    ("train", "kwargs"): forwarded("train_als", "train_adam", by="method",
                                   choose={"als": "train_als", "adam": "train_adam"}),
    ("layer_optima", "kwargs"): forwarded("layer_optimum"),
    ("mechanism_table", "kwargs"): forwarded("layer_optimum"),
    ("layer_advantage", "kwargs"): forwarded("layer_optimum"),
    ("mechanism_table", "models"): sequence_of(layer_model, "a non-empty list of model classes", unique=False),
    ("read_sweep", "path"): path_like,
    ("posterior_mean", "task"): posterior_task,
    # n = 0 (no context) is a case of the floor with a closed form (chapter 9, Theorem 9.1)
    ("bayes_floor", "ns"): either(integer(0), sequence_of(integer(0), "a non-empty list of context lengths >= 0"),
                                  what="a context length >= 0 or a non-empty list of them"),
    ("sweep_rows", "model"): text,
    ("sweep_rows", "seeds"): optional(sequence_of(_SEED, "a non-empty list of integer seeds >= 0")),
}

#: Parameters deliberately left unchecked here, with the reason.
EXEMPT: dict[tuple[str, str], str] = {
    ("claim", "id"): "claim checks its own arguments (ValueError naming the claim)",
    ("claim", "holds"): "any truth value is accepted (numpy booleans included)",
    ("claim", "text"): "claim checks its own arguments (ValueError naming the claim)",
    ("claim", "numbers"): "claim checks its own arguments (TypeError naming the claim)",
    ("claim", "domain"): "claim checks its own arguments (ValueError naming the claim)",
    ("claim", "check"): "claim checks its own arguments (ValueError naming the claim)",
    ("sweep_rows", "table"): "a pandas table read_sweep returns; sweep_rows names the points it lacks",
    ("sweep_rows", "options"): "the model's options, matched by content against the table's rows",
}

#: Public classes whose constructor does not check its fields, with the reason.  (``Spec`` checks
#: its fields in ``__post_init__``; exceptions take a message.)
CLASS_EXEMPT: dict[str, str] = {
    "Moments": "a record moments(spec) returns; checked where a function takes one (rule 'mom')",
    "Solution": "a record optimum() returns; checked where a function takes one (rule 'opt')",
    "Batch": "a record sample_batch() returns; checked where a function takes one",
    "AttentionParams": "training builds one at every step, so the fields are checked where a public "
                       "function takes one (rule 'params'), not in the constructor",
    "Effective": "the optimisers build one at every iteration, so the fields are checked where a "
                 "public function takes one (rule 'eff'), not in the constructor",
    "ReducedView": "a record to_reduced() returns",
    "SampleStats": "a record sample_stats()/population_stats() return; checked where a function takes one",
    "TrainResult": "a record train() returns",
    "TestLoss": "a record test_loss() returns",
    "SeedSummary": "a record summarize() returns",
    "LayerClass": "three flags; checked where a function takes one (rule 'model')",
    "LayerOptimum": "a record layer_optimum() returns; checked where a function takes one (rule 'optima')",
    "BayesFloor": "a record bayes_floor() returns",
    "DeepResult": "a record train_deep()/train_gd_steps() return; checked where a function takes one (rule 'result')",
    "DeepTestLoss": "a record deep_test_loss() returns",
}


def rule_for(func: str, param: str) -> Rule:
    """The rule of ``param`` of public function ``func`` (KeyError if there is none)."""
    if (func, param) in OVERRIDES:
        return OVERRIDES[(func, param)]
    return RULES[param]


def validated(func: Callable, public_name: str) -> Callable:
    """``func`` with its arguments checked by the table before the call (signature and docstring kept)."""
    sig = inspect.signature(func)
    rules = {}
    for p in sig.parameters.values():
        if (public_name, p.name) in EXEMPT:
            continue
        try:
            rules[p.name] = rule_for(public_name, p.name)
        except KeyError:  # unchecked until it has a rule: tests/unit/test_validation.py fails meanwhile
            pass
    bind = sig.bind
    positional = [p.name for p in sig.parameters.values()
                  if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    required = sum(1 for p in sig.parameters.values() if p.name in positional and p.default is p.empty)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if not kwargs and required <= len(args) <= len(positional):  # the common call, bound without inspect
            arguments = dict(zip(positional, args))
            for key, value in arguments.items():
                rule = rules.get(key)
                if rule is not None:
                    arguments[key] = rule(value, f"{public_name}: {key}", arguments)
            return func(*arguments.values())
        try:
            bound = bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{public_name}: {exc}") from None
        arguments = bound.arguments
        for key, value in arguments.items():
            rule = rules.get(key)
            if rule is not None:
                arguments[key] = rule(value, f"{public_name}: {key}", arguments)
        return func(*bound.args, **bound.kwargs)

    wrapper.__prompticl_validated__ = True
    return wrapper
