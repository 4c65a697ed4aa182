"""Parameters of ``prompticl figures``: parsing, type checks and validation, all before anything runs.

Values come from ``-p NAME VALUE`` and ``-f FILE``; each is checked against the parameter that the
chapter declares (:mod:`prompticl._figures.registry`), and :func:`plan_run` turns a request into a
:class:`RunPlan` or refuses it with a :class:`~prompticl._figures.registry.FigureError`.

The book's page "Reproducing and regenerating the figures" documents the parameters.
"""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from .._safe_yaml import MAX_BYTES, YAMLInputError, escape_control, load_yaml_file, load_yaml_text, read_regular_file
from .registry import (
    HIDDEN_PARAMETERS,
    _TYPE_NAMES,
    Chapter,
    FigureError,
    Parameter,
    Registry,
    _type_name,
)
from .._limits import LimitError
from .._spec import SpecError, load_spec

__all__ = ["MAX_INT_TEXT", "RunPlan", "check_range", "coerce", "load_params_file", "parse_cli_value", "plan_run"]


#: Longest integer accepted on the command line: every range of the book ends far below 10^30, and
#: Python's ``int`` refuses more than 4300 digits with a message about something else.
MAX_INT_TEXT = 30
_INT_TEXT = re.compile(r"[-+]?[0-9]+")
_FLOAT_TEXT = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


def parse_cli_value(text: str, source: str = "-p value") -> Any:
    """Parse a ``-p KEY VALUE`` value as a YAML scalar or flow list (``3``, ``0.5``, ``[5, 10]``),
    with :mod:`prompticl._safe_yaml` (no aliases, no deep nesting, no unbuildable values).

    Raises
    ------
    YAMLInputError
        If the YAML is refused (one line naming ``source``).
    """
    return load_yaml_text(text, source)


def _is_type(value: Any, type_name: str) -> bool:
    if type_name == "any":
        return True
    if type_name == "bool":
        return isinstance(value, bool)
    if type_name == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if type_name == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if type_name == "str":
        return isinstance(value, str)
    if type_name == "list":
        return isinstance(value, list)
    if type_name == "dict":
        return isinstance(value, dict)
    return False


def _normalise(value: Any, type_name: str) -> Any:
    return float(value) if type_name == "float" else value


def coerce(param: Parameter, value: Any, raw: "str | None" = None, where: str = "") -> Any:
    """Check ``value`` against ``param``'s declared type and return it normalised.

    ``raw`` is the command-line text when the value came from ``-p``: a ``str`` parameter then
    takes the text verbatim (so ``-p spec_name 3`` is the string ``"3"``), and a list parameter
    also accepts comma-separated items (``-p ns 5,10,20``).

    Raises
    ------
    FigureError
        If the type does not match.
    """
    label = f"parameter {param.name!r}{where}"
    if raw is not None:
        if param.type == "str":
            return raw
        source = f"-p {param.name}"
        value = _from_text(raw, param.type, label, source)
        if param.type == "list" and not isinstance(value, list):
            # '5,10,20' and a single item '5' are lists too on the command line
            items = [t.strip() for t in raw.split(",")] if "," in raw else [raw.strip()]
            value = [_from_text(t, param.item_type, label, source) for t in items if t]
    if not _is_type(value, param.type):
        raise FigureError(f"{label} expects {_article(param.type)}, got {_show(value)}")
    if param.type == "float" and not _finite(value):
        raise FigureError(f"{label} expects a finite float, got {_show(value)}")
    if param.type == "list" and param.item_type is not None:
        for i, item in enumerate(value):
            if not _is_type(item, param.item_type):
                raise FigureError(
                    f"{label} expects a list of {param.item_type}, item {i} is {_show(item)}"
                )
        return [_normalise(item, param.item_type) for item in value]
    return _normalise(value, param.type)


def _from_text(text: str, type_name: "str | None", label: str = "value", source: str = "-p value") -> Any:
    """One command-line item: the text itself for str, decimal number syntax for numbers
    (YAML 1.1 reads ``1e-3`` as a string), safe YAML otherwise.

    Raises
    ------
    FigureError
        A number with more than :data:`MAX_INT_TEXT` digits, or YAML that is refused.
    """
    if type_name == "str":
        return text
    stripped = text.strip()
    if type_name in ("int", "float") and _INT_TEXT.fullmatch(stripped):
        digits = len(stripped.lstrip("+-"))
        if digits > MAX_INT_TEXT:
            raise FigureError(f"{label}: a number with {digits} digits is too large (at most {MAX_INT_TEXT} digits)")
        return int(stripped)
    if type_name == "float" and _FLOAT_TEXT.fullmatch(stripped) and len(stripped) <= 100:
        return float(stripped)
    try:
        return parse_cli_value(text, source)
    except YAMLInputError as exc:
        raise FigureError(str(exc)) from None


def _finite(value: float) -> bool:
    return value == value and value not in (float("inf"), float("-inf"))


def _article(type_name: str) -> str:
    return {"int": "an int", "any": "any value"}.get(type_name, f"a {type_name}")


def _show(value: Any) -> str:
    kind = _type_name(value) if type(value) in _TYPE_NAMES else type(value).__name__
    text = repr(value)
    if len(text) > 40:
        text = f"{text[:20]}...{text[-10:]} ({len(text)} characters)"
    return f"{escape_control(text)} ({'null' if value is None else kind})"


def check_range(param: Parameter, value: Any, where: str = "") -> None:
    """Refuse ``value`` outside ``param``'s declared range (:mod:`prompticl._figures.ranges`).

    Raises
    ------
    FigureError
        One line: the parameter, the bound, the value and why the bound is there.
    """
    if param.range is None:
        return
    problem = param.range.problem(value)
    if problem is not None:
        why = f" ({param.range.why})" if param.range.why else ""
        sep = ":" if problem.startswith("item") else ""
        raise FigureError(f"parameter {param.name!r}{where}{sep} {problem}; its range is [{param.range.text}]{why}")


def load_params_file(path: "str | os.PathLike") -> dict:
    """Read a ``-f PARAMS.yaml`` file: a mapping of parameter names to values, where a key naming a
    chapter may instead map to that chapter's own parameters.

    Raises
    ------
    FigureError
        If the file is missing, does not parse, or is not a mapping with string keys.
    """
    path = Path(path)
    try:  # the same limits as specs: size, depth, aliases, duplicate keys, unbuildable values
        data = load_yaml_file(path, f"parameters file {path}")
    except YAMLInputError as exc:
        raise FigureError(str(exc)) from None
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise FigureError(f"parameters file {escape_control(str(path))} must be a mapping of parameter names to values")
    return data


def _is_spec_parameter(name: str) -> bool:
    return name == "spec_name" or name.endswith("_spec_name") or name.endswith("_spec")


def _is_spec_list(name: str) -> bool:
    return name.endswith(("spec_names", "specs"))


def _check_spec(value: str, where: str) -> tuple[str, dict, tuple[int, int]]:
    """Validate a spec name or path; return the value to inject, a provenance record and the spec's
    size (d, K), from which the chapter's cost is estimated (:mod:`prompticl._figures.costs`).

    A relative path is made absolute, since chapters run with the book folder as working directory.
    A file's content is recorded (with its SHA-256), a built-in spec by name and the package version.
    """
    try:
        spec = load_spec(value)
    except (SpecError, LimitError, YAMLInputError) as exc:
        raise FigureError(f"invalid spec for {where}: {exc}") from None
    path = Path(value)
    if path.is_file():  # load_spec read it as a regular file already; read it the same safe way
        try:
            text = read_regular_file(path, MAX_BYTES).decode("utf-8-sig")
        except (YAMLInputError, UnicodeDecodeError) as exc:  # replaced since load_spec read it
            raise FigureError(f"invalid spec for {where}: {exc}") from None
        record = {"path": str(path.resolve()), "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(), "content": text}
        return str(path.resolve()), record, (spec.d, spec.K)
    return value, {"builtin": spec.name, "d": spec.d, "K": spec.K, "noise": spec.noise}, (spec.d, spec.K)


def _check_results(value: str, where: str) -> str:
    """A sweep's results table (``prompticl sweep --out``), made absolute since chapters run in the book
    folder; whether it covers the chapter's grid is checked by the chapter (``sweep_rows``)."""
    from .._sweep_store import MANIFEST

    path = Path(value)
    if not (path.is_file() or (path.is_dir() and (path / MANIFEST).is_file())):
        raise FigureError(f"{where}: {escape_control(value)[:80]!r} is not a sweep's results table (a folder written by "
                          "'prompticl sweep --out', or a Parquet file)")
    return str(path.resolve())


@dataclass
class RunPlan:
    """What a run will do, fully validated: chapters, their effective parameters, requested figures."""

    book: Path
    chapters: list  # of Chapter, book order
    parameters: dict  # chapter name -> effective parameters (figure_dir excluded)
    figures: dict  # chapter name -> requested figure names
    specs: dict = field(default_factory=dict)  # chapter name -> {parameter: spec dict}
    sizes: dict = field(default_factory=dict)  # chapter name -> {parameter: (d, K) or a list of them}


def plan_run(
    registry: Registry,
    names: Sequence[str],
    cli_params: Sequence[tuple[str, str]] = (),
    file_params: "Mapping[str, Any] | None" = None,
    run_all: bool = False,
    smoke: bool = False,
) -> RunPlan:
    """Resolve figure names and validate every parameter; raise before anything runs.

    A name may be a figure or a chapter (all its figures).  A parameter applies to every selected
    chapter that declares it; a ``-p`` key must be declared by one of them, a file key by some
    chapter of the book (a file may serve several runs).  Precedence: the chapter's
    defaults < its smoke parameters (``smoke``) < the file's top-level keys < the file's section
    for that chapter < ``-p``.

    Raises
    ------
    FigureError
        Unknown figure/chapter/parameter, wrong type or invalid spec: one line.
    """
    if run_all:
        names = list(registry.figures)
        if not names:
            raise FigureError(f"no chapter in {registry.book} declares figures")
    if not names:
        raise FigureError("name at least one figure (see 'prompticl figures --list') or pass --all")
    wanted: dict[str, list[str]] = {}
    for name in names:
        if name in registry.figures:
            figs = [name]
            chapter_name = registry.figures[name].chapter
        elif name in registry.chapters:
            chapter_name, figs = name, list(registry.chapters[name].figures)
        else:
            known = ", ".join(registry.figures) or "none"
            raise FigureError(f"unknown figure {name!r} (known figures: {known})")
        bucket = wanted.setdefault(chapter_name, [])
        bucket.extend(f for f in figs if f not in bucket)
    chapters = [c for c in registry.chapters.values() if c.name in wanted]

    file_params = dict(file_params or {})
    sections = {k: file_params.pop(k) for k in list(file_params) if k in registry.chapters and isinstance(file_params[k], dict)}

    def declared_somewhere(key: str, among: Iterable[Chapter] = chapters) -> bool:
        return any(key in c.parameters and key not in HIDDEN_PARAMETERS for c in among)

    def unknown(key: str, source: str) -> FigureError:
        names_ = sorted({p.name for c in chapters for p in c.public_parameters})
        return FigureError(f"unknown parameter {key!r}{source} (parameters of the selected chapters: {', '.join(names_) or 'none'})")

    for key, _ in cli_params:
        if key in HIDDEN_PARAMETERS:
            raise FigureError(f"parameter {key!r} is set by 'prompticl figures' itself; use --out")
        if not declared_somewhere(key):
            raise unknown(key, "")
    for key in file_params:
        if key in HIDDEN_PARAMETERS:
            raise FigureError(f"parameter {key!r} is set by 'prompticl figures' itself; use --out")
        # A parameters file may be shared by several runs: its keys need only exist in the book.
        if not declared_somewhere(key, registry.chapters.values()):
            raise unknown(key, " in the parameters file")

    effective: dict[str, dict] = {}
    specs: dict[str, dict] = {}
    sizes: dict[str, dict] = {}
    # Sections for chapters not being run are checked too (typos), but not used.
    checked = chapters + [c for c in registry.chapters.values() if c.name in sections and c.name not in wanted]
    for chapter in checked:
        where = f" of chapter {chapter.name}"
        values = {p.name: p.default for p in chapter.public_parameters}
        layers: list[tuple[str, Any, "str | None"]] = []
        if smoke:
            for key, value in chapter.smoke_parameters.items():
                if key not in values:
                    raise FigureError(f"smoke parameter {key!r}{where} is not a parameter of the chapter")
                layers.append((key, value, None))
        layers += [(k, v, None) for k, v in file_params.items() if k in values]
        section = sections.get(chapter.name, {})
        for key, value in section.items():
            if key not in values:
                raise unknown(key, f" in the parameters file section {chapter.name}")
            layers.append((key, value, None))
        layers += [(k, None, raw) for k, raw in cli_params if k in values]  # parsed by coerce
        for key, value, raw in layers:
            values[key] = coerce(chapter.parameters[key], value, raw, where)
            check_range(chapter.parameters[key], values[key], where)
        for key, value in list(values.items()):
            if _is_spec_parameter(key) and isinstance(value, str) and value:
                values[key], specs.setdefault(chapter.name, {})[key], sizes.setdefault(chapter.name, {})[key] = \
                    _check_spec(value, f"parameter {key!r}{where}")
            elif key == "results" and isinstance(value, str) and value:
                values[key] = _check_results(value, f"parameter {key!r}{where}")
            elif _is_spec_list(key) and isinstance(value, list):
                checked = [_check_spec(v, f"parameter {key!r}{where}") for v in value if isinstance(v, str)]
                values[key] = [c[0] for c in checked]
                specs.setdefault(chapter.name, {})[key] = [c[1] for c in checked]
                sizes.setdefault(chapter.name, {})[key] = [c[2] for c in checked]
        effective[chapter.name] = values
    effective = {c.name: effective[c.name] for c in chapters}
    specs = {c: v for c, v in specs.items() if c in wanted}
    sizes = {c: v for c, v in sizes.items() if c in wanted}
    return RunPlan(registry.book, chapters, effective, wanted, specs, sizes)


