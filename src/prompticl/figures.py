"""The figure registry and the safe, parameterised regeneration behind ``prompticl figures``.

The registry is read from the chapter notebooks themselves (one source of truth): each
``book/*.ipynb`` whose notebook metadata has ``prompticl.figures`` is a chapter; its first code
cell, tagged ``parameters``, declares the knobs as literal assignments with a trailing comment::

    seed = 0  # RNG seed for the Monte Carlo
    ns = [5, 10, 20]  # context lengths

Names, defaults and meanings come from that cell (parsed with :mod:`ast`, never executed); types
are inferred from the defaults.  User values are validated against them *before* any notebook
runs.  Running executes each selected chapter once with papermill, with ``figure_dir`` pointing
into a temporary folder next to the output folder, which is moved into place only when every
chapter succeeded.
"""
from __future__ import annotations

import ast
import hashlib
import io
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import tokenize
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timezone
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import yaml

from .plotting import FIGURE_FORMATS
from .spec import SpecError, load_spec

__all__ = [
    "HIDDEN_PARAMETERS",
    "KERNEL_NAME",
    "Chapter",
    "ChapterFailed",
    "Figure",
    "FigureError",
    "Parameter",
    "Registry",
    "build_registry",
    "coerce",
    "find_book",
    "load_chapter",
    "load_params_file",
    "parse_cli_value",
    "parse_parameters_cell",
    "plan_run",
    "RunPlan",
    "run_plan",
]

#: Parameters set by ``prompticl figures`` itself, hidden from users.
HIDDEN_PARAMETERS: frozenset[str] = frozenset({"figure_dir"})
#: Kernel used by papermill; with ipykernel installed in the running environment this is the
#: running interpreter's kernel.
KERNEL_NAME = "python3"
#: Types a default may have, by the name shown in ``--list``.
_TYPE_NAMES = {bool: "bool", int: "int", float: "float", str: "str", list: "list", dict: "dict", type(None): "any"}


class FigureError(ValueError):
    """Bad input (unknown figure or parameter, wrong type, invalid spec, broken notebook): one line."""


class ChapterFailed(RuntimeError):
    """A chapter raised while running; the message names the chapter, the cell and the error."""


@dataclass(frozen=True)
class Parameter:
    """One knob of a chapter's ``parameters`` cell.

    Attributes
    ----------
    name : str
    default : Any
        The literal default (int, float, str, bool, list, dict or None).
    type : str
        ``int``, ``float``, ``str``, ``bool``, ``list``, ``dict`` or ``any`` (default ``None``).
    meaning : str
        The trailing comment, without ``#``.
    item_type : str or None
        For lists with a non-empty default: the type of the first element.
    """

    name: str
    default: Any
    type: str
    meaning: str = ""
    item_type: "str | None" = None

    def to_dict(self) -> dict:
        out = {"name": self.name, "type": self.type, "default": self.default, "meaning": self.meaning}
        if self.item_type is not None:
            out["item_type"] = self.item_type
        return out


@dataclass(frozen=True)
class Chapter:
    """A chapter notebook that exports figures.

    Attributes
    ----------
    name : str
        The notebook's stem, e.g. ``07-experiments``.
    path : Path
    title : str
        The first Markdown heading ('' if none).
    parameters : dict of str to Parameter
        In the order of the cell, ``figure_dir`` included.
    figures : dict of str to str
        Figure name to one-line description (notebook metadata ``prompticl.figures``).
    smoke_parameters : dict
        A fast parameter set (notebook metadata ``prompticl.smoke_parameters``).
    """

    name: str
    path: Path
    title: str
    parameters: dict
    figures: dict
    smoke_parameters: dict = field(default_factory=dict)

    @property
    def public_parameters(self) -> list[Parameter]:
        """The parameters users may set (all but :data:`HIDDEN_PARAMETERS`)."""
        return [p for n, p in self.parameters.items() if n not in HIDDEN_PARAMETERS]


@dataclass(frozen=True)
class Figure:
    """One figure: its registry name, the chapter that draws it and a one-line description."""

    name: str
    chapter: str
    description: str


@dataclass(frozen=True)
class Registry:
    """Every chapter of a book folder and every figure they export."""

    book: Path
    chapters: dict
    figures: dict

    def to_list(self) -> list[dict]:
        """The ``--list --json`` payload: one object per figure, in book order."""
        out = []
        for fig in self.figures.values():
            chapter = self.chapters[fig.chapter]
            out.append(
                {
                    "name": fig.name,
                    "chapter": chapter.name,
                    "title": chapter.title,
                    "description": fig.description,
                    "notebook": chapter.path.name,
                    "parameters": [p.to_dict() for p in chapter.public_parameters],
                }
            )
        return out


# --------------------------------------------------------------------------------------------
# Registry


def find_book(book: "str | os.PathLike | None" = None) -> Path:
    """The book folder: ``book`` if given, else ``book/`` of the repository the package lives in,
    else ``./book``.

    Raises
    ------
    FigureError
        If the folder does not exist.
    """
    if book is not None:
        path = Path(book)
        if not path.is_dir():
            raise FigureError(f"book folder {str(path)!r} does not exist")
        return path.resolve()
    # src/prompticl/figures.py -> the repository root (the package is installed editable).
    candidates = [Path(__file__).resolve().parents[2] / "book", Path.cwd() / "book"]
    for path in candidates:
        if path.is_dir():
            return path.resolve()
    raise FigureError("cannot find the book folder (looked in the repository and ./book); pass --book DIR")


def _type_name(value: Any) -> str:
    return _TYPE_NAMES.get(type(value), "any")


def _comments_by_line(source: str) -> dict[int, str]:
    comments: dict[int, str] = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                comments[tok.start[0]] = tok.string.lstrip("#").strip()
    except (tokenize.TokenError, IndentationError):  # ast.parse reports the real problem
        pass
    return comments


def parse_parameters_cell(source: str, where: str = "<parameters cell>") -> dict[str, Parameter]:
    """Parse a ``parameters`` cell into :class:`Parameter` objects, without executing it.

    Each statement must be ``name = <literal>`` (or ``name: type = <literal>``); the meaning is the
    comment on the statement's lines, else the comment line(s) just above it.

    Raises
    ------
    FigureError
        If the cell does not parse or holds anything but literal assignments.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise FigureError(f"{where}: parameters cell does not parse (line {exc.lineno}): {exc.msg}") from None
    comments = _comments_by_line(source)
    params: dict[str, Parameter] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name, value_node = node.targets[0].id, node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            name, value_node = node.target.id, node.value
        else:
            raise FigureError(
                f"{where}: line {node.lineno}: the parameters cell may hold only 'name = literal' assignments"
            )
        try:
            default = ast.literal_eval(value_node)
        except (ValueError, SyntaxError, TypeError):
            raise FigureError(f"{where}: line {node.lineno}: default of {name!r} is not a literal") from None
        if isinstance(default, tuple):
            default = list(default)
        if type(default) not in _TYPE_NAMES:
            raise FigureError(f"{where}: line {node.lineno}: default of {name!r} has unsupported type {type(default).__name__}")
        meaning = next(
            (comments[ln] for ln in range(node.lineno, (node.end_lineno or node.lineno) + 1) if ln in comments), ""
        )
        if not meaning:  # fall back to a comment block right above the assignment
            above, ln = [], node.lineno - 1
            while ln in comments and source.splitlines()[ln - 1].lstrip().startswith("#"):
                above.insert(0, comments[ln])
                ln -= 1
            meaning = " ".join(above)
        item_type = None
        if isinstance(default, list) and default:
            item_type = _type_name(default[0])
        params[name] = Parameter(name, default, _type_name(default), meaning, item_type)
    return params


def _cell_source(cell: Mapping) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def load_chapter(path: "str | os.PathLike") -> "Chapter | None":
    """Read one notebook; ``None`` if it declares no figures (a prose-only chapter).

    Raises
    ------
    FigureError
        If the notebook is unreadable, or declares figures but breaks the chapter conventions
        (no tagged ``parameters`` first code cell, no ``figure_dir`` parameter, ...).
    """
    path = Path(path)
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FigureError(f"cannot read notebook {path}: {exc}") from None
    meta = (nb.get("metadata") or {}).get("prompticl") or {}
    figures = meta.get("figures") or {}
    if not figures:
        return None
    where = path.name
    if not isinstance(figures, Mapping) or not all(isinstance(k, str) for k in figures):
        raise FigureError(f"{where}: metadata prompticl.figures must map figure names to descriptions")
    code_cells = [c for c in nb.get("cells", []) if c.get("cell_type") == "code"]
    if not code_cells or "parameters" not in (code_cells[0].get("metadata") or {}).get("tags", []):
        raise FigureError(f"{where}: the first code cell must be tagged 'parameters'")
    params = parse_parameters_cell(_cell_source(code_cells[0]), where)
    if "figure_dir" not in params:
        raise FigureError(f"{where}: the parameters cell must declare figure_dir = \"\"")
    smoke = meta.get("smoke_parameters") or {}
    if not isinstance(smoke, Mapping):
        raise FigureError(f"{where}: metadata prompticl.smoke_parameters must be a mapping")
    title = ""
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            for line in _cell_source(cell).splitlines():
                if line.startswith("# "):
                    title = line[2:].strip()
                    break
            if title:
                break
    return Chapter(
        name=path.stem,
        path=path.resolve(),
        title=title,
        parameters=params,
        # nbformat writes metadata with sorted keys, so name order is the only stable one.
        figures={str(k): str(figures[k]) for k in sorted(figures)},
        smoke_parameters=dict(smoke),
    )


def _toc_order(book_dir: Path) -> Callable[[Path], tuple]:
    """Sort key: the order of ``_toc.yml`` next to the book folder, then the rest by name."""
    files: list[str] = []
    try:
        toc = yaml.safe_load((book_dir.parent / "_toc.yml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        toc = None

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("file"), str):
                files.append(Path(node["file"]).with_suffix("").name)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(toc)
    rank = {name: i for i, name in enumerate(files)}
    return lambda path: (rank.get(path.stem, len(rank)), path.name)


def build_registry(book: "str | os.PathLike | None" = None) -> Registry:
    """Build the registry from every ``*.ipynb`` directly in the book folder, in table-of-contents
    order (``_toc.yml`` beside the book folder), notebooks not in it last, by name.

    Raises
    ------
    FigureError
        If a chapter breaks the conventions or two chapters claim the same figure name.
    """
    book_dir = find_book(book)
    chapters: dict[str, Chapter] = {}
    figures: dict[str, Figure] = {}
    for path in sorted(book_dir.glob("*.ipynb"), key=_toc_order(book_dir)):
        chapter = load_chapter(path)
        if chapter is None:
            continue
        chapters[chapter.name] = chapter
        for name, description in chapter.figures.items():
            if name in figures:
                raise FigureError(
                    f"figure name {name!r} is declared by both {figures[name].chapter} and {chapter.name}"
                )
            figures[name] = Figure(name, chapter.name, description)
    return Registry(book_dir, chapters, figures)


# --------------------------------------------------------------------------------------------
# Validation


def parse_cli_value(text: str) -> Any:
    """Parse a ``-p KEY VALUE`` value as a YAML scalar or flow list (``3``, ``0.5``, ``[5, 10]``)."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text  # not YAML: keep the text, the type check decides


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
        if param.type == "list" and not isinstance(value, list):
            # '5,10,20' and a single item '5' are lists too on the command line
            items = [t.strip() for t in raw.split(",")] if "," in raw else [raw.strip()]
            value = [_from_text(t, param.item_type) for t in items if t]
        else:
            value = _from_text(raw, param.type) if isinstance(value, str) else value
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


def _from_text(text: str, type_name: "str | None") -> Any:
    """One command-line item: the text itself for str, Python's number syntax for numbers
    (YAML 1.1 reads ``1e-3`` as a string), YAML otherwise."""
    if type_name == "str":
        return text
    if type_name in ("int", "float"):
        for parse in (int, float) if type_name == "float" else (int,):
            try:
                return parse(text)
            except ValueError:
                pass
    return parse_cli_value(text)


def _finite(value: float) -> bool:
    return value == value and value not in (float("inf"), float("-inf"))


def _article(type_name: str) -> str:
    return {"int": "an int", "any": "any value"}.get(type_name, f"a {type_name}")


def _show(value: Any) -> str:
    kind = _type_name(value) if type(value) in _TYPE_NAMES else type(value).__name__
    return f"{value!r} ({'null' if value is None else kind})"


def load_params_file(path: "str | os.PathLike") -> dict:
    """Read a ``-f PARAMS.yaml`` file: a mapping of parameter names to values, where a key naming a
    chapter may instead map to that chapter's own parameters.

    Raises
    ------
    FigureError
        If the file is missing, does not parse, or is not a mapping with string keys.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FigureError(f"cannot read parameters file {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise FigureError(f"parameters file {path} does not parse{at}: {getattr(exc, 'problem', exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise FigureError(f"parameters file {path} must be a mapping of parameter names to values")
    return data


def _is_spec_parameter(name: str) -> bool:
    return name == "spec_name" or name.endswith("_spec_name") or name.endswith("_spec")


def _is_spec_list(name: str) -> bool:
    return name.endswith(("spec_names", "specs"))


def _check_spec(value: str, where: str) -> tuple[str, dict]:
    """Validate a spec name or path; return the value to inject and a provenance record.

    A relative path is made absolute, since chapters run with the book folder as working directory.
    A file's content is recorded (with its SHA-256), a built-in spec by name and the package version.
    """
    try:
        spec = load_spec(value)
    except SpecError as exc:
        raise FigureError(f"invalid spec for {where}: {exc}") from None
    path = Path(value)
    if path.is_file():
        text = path.read_text(encoding="utf-8")
        record = {"path": str(path.resolve()), "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(), "content": text}
        return str(path.resolve()), record
    return value, {"builtin": spec.name, "d": spec.d, "K": spec.K, "noise": spec.noise}


@dataclass
class RunPlan:
    """What a run will do, fully validated: chapters, their effective parameters, requested figures."""

    book: Path
    chapters: list  # of Chapter, book order
    parameters: dict  # chapter name -> effective parameters (figure_dir excluded)
    figures: dict  # chapter name -> requested figure names
    specs: dict = field(default_factory=dict)  # chapter name -> {parameter: spec dict}


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
        layers += [(k, parse_cli_value(raw), raw) for k, raw in cli_params if k in values]
        for key, value, raw in layers:
            values[key] = coerce(chapter.parameters[key], value, raw, where)
        for key, value in list(values.items()):
            if _is_spec_parameter(key) and isinstance(value, str) and value:
                values[key], specs.setdefault(chapter.name, {})[key] = _check_spec(value, f"parameter {key!r}{where}")
            elif _is_spec_list(key) and isinstance(value, list):
                checked = [_check_spec(v, f"parameter {key!r}{where}") for v in value if isinstance(v, str)]
                values[key] = [c[0] for c in checked]
                specs.setdefault(chapter.name, {})[key] = [c[1] for c in checked]
        effective[chapter.name] = values
    effective = {c.name: effective[c.name] for c in chapters}
    specs = {c: v for c, v in specs.items() if c in wanted}
    return RunPlan(registry.book, chapters, effective, wanted, specs)


# --------------------------------------------------------------------------------------------
# Running


def _progress_engine():
    """A papermill engine that reports ``[chapter k/N] name: cell i/M`` as each code cell starts."""
    from papermill.engines import NBClientEngine, NotebookExecutionManager

    class ProgressManager(NotebookExecutionManager):
        label: str = ""
        report: "Callable[[str], None] | None" = None

        def cell_start(self, cell, cell_index=None, **kwargs):
            super().cell_start(cell, cell_index, **kwargs)
            if self.report is None or cell.cell_type != "code" or cell_index is None:
                return
            code = [i for i, c in enumerate(self.nb.cells) if c.cell_type == "code"]
            self.report(f"{self.label}: cell {code.index(cell_index) + 1}/{len(code)}")

    class ProgressEngine(NBClientEngine):
        @classmethod
        def execute_notebook(cls, nb, kernel_name, output_path=None, progress_bar=False, log_output=False,
                             autosave_cell_every=30, progress_label="", progress_report=None, **kwargs):
            nb_man = ProgressManager(nb, output_path=output_path, progress_bar=False, log_output=log_output,
                                     autosave_cell_every=autosave_cell_every)
            nb_man.label, nb_man.report = progress_label, progress_report
            nb_man.notebook_start()
            try:
                cls.execute_managed_notebook(nb_man, kernel_name, log_output=log_output, **kwargs)
            finally:
                nb_man.cleanup_pbar()
                nb_man.notebook_complete()
            return nb_man.nb

    return ProgressEngine


def _stderr_report(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _failure_message(chapter: str, exc: BaseException, executed: "Path | None") -> str:
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        cell = f" at cell [{exc.exec_count}]"
        try:  # papermill inserts Markdown cells about the error, so locate the failed code cell
            nb = json.loads(executed.read_text(encoding="utf-8")) if executed else {"cells": []}
            code = [c for c in nb["cells"] if c["cell_type"] == "code"]
            failed = [
                i for i, c in enumerate(code, 1)
                if c.get("metadata", {}).get("papermill", {}).get("exception")
                or any(o.get("output_type") == "error" for o in c.get("outputs", []))
            ]
            if failed:
                cell = f" at cell {failed[0]}/{len(code)}"
        except (OSError, ValueError, KeyError):
            pass
        evalue = " ".join(str(exc.evalue).split())
        return f"chapter {chapter} failed{cell}: {exc.ename}: {evalue}"
    return f"chapter {chapter} failed: {type(exc).__name__}: {' '.join(str(exc).split())}"


def run_chapter(
    notebook: str,
    chapter: str,
    parameters: dict,
    figure_dir: str,
    executed: str,
    label: str,
    progress: bool = True,
    timeout: "float | None" = None,
) -> float:
    """Execute one chapter with papermill; returns the wall time in seconds.

    Top-level and picklable, so that a process pool can run it.

    Raises
    ------
    ChapterFailed
        With one line naming the chapter, the failing cell and its error.
    """
    import papermill as pm
    from papermill.engines import papermill_engines

    papermill_engines.register("prompticl-progress", _progress_engine())
    start = time.perf_counter()
    try:
        pm.execute_notebook(
            notebook,
            executed,
            parameters={**parameters, "figure_dir": figure_dir},
            engine_name="prompticl-progress",
            kernel_name=KERNEL_NAME,
            progress_bar=False,
            cwd=str(Path(notebook).parent),
            execution_timeout=timeout,
            # ipykernel warns on every start that local TCP is unencrypted: noise on our stderr.
            extra_arguments=["--IPKernelApp.log_level=ERROR"],
            # Nothing is left to save once the last cell ran; a graceful shutdown costs seconds.
            shutdown_kernel="immediate",
            progress_label=label,
            progress_report=_stderr_report if progress else None,
        )
    except Exception as exc:  # noqa: BLE001 - any failure becomes one picklable line
        raise ChapterFailed(_failure_message(chapter, exc, Path(executed))) from None
    return time.perf_counter() - start


def git_commit(path: Path) -> str:
    """The commit of the repository holding ``path`` (``+dirty`` if modified), or ``unknown``."""
    try:
        head = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return "unknown"
        dirty = subprocess.run(
            ["git", "-C", str(path), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=10,
        )
        return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def default_out_dir(base: "str | os.PathLike" = "_build/figures") -> Path:
    """A fresh timestamped folder under ``base`` (not created)."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    out, i = Path(base) / stamp, 2
    while out.exists():
        out, i = Path(base) / f"{stamp}-{i}", i + 1
    return out


def check_out_dir(out: Path, force: bool) -> None:
    """Refuse an existing non-empty output folder unless ``force`` (before anything runs).

    Raises
    ------
    FigureError
    """
    if out.exists() and not out.is_dir():
        raise FigureError(f"output path {out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise FigureError(f"output folder {out} exists and is not empty; pass --force to replace it")


def _mkdirs(path: Path) -> list[Path]:
    """Create ``path`` and missing parents; return the folders created (deepest first)."""
    created = []
    probe = path
    while not probe.exists():
        created.append(probe)
        probe = probe.parent
    path.mkdir(parents=True, exist_ok=True)
    return created


def _seeds(values: Mapping[str, Any]) -> dict:
    return {k: v for k, v in values.items() if k == "seed" or k.endswith("_seed") or k in ("seeds",) or k.endswith("_seeds")}


def run_plan(
    plan: RunPlan,
    out: Path,
    jobs: int = 1,
    force: bool = False,
    progress: bool = True,
    command: "Sequence[str] | None" = None,
    timeout: "float | None" = None,
) -> dict:
    """Run every chapter of ``plan`` into a temporary sibling of ``out``, then move it into place.

    On success ``out`` holds ``NAME.{svg,png,pdf,json}`` for each requested figure,
    ``notebooks/<chapter>.ipynb`` (executed) and ``provenance.json``.  An existing ``out`` is
    replaced only if ``force`` (moved aside, then deleted once the new one is in place).  On any
    failure ``out`` is left exactly as it was and the temporary folder is removed.

    Returns
    -------
    dict
        The provenance record.

    Raises
    ------
    FigureError
        ``out`` is not usable (checked before running).
    ChapterFailed
        A chapter raised or did not produce a declared figure.
    """
    from . import __version__

    out = Path(out).absolute()
    check_out_dir(out, force)
    created = _mkdirs(out.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        work = tmp / ".work"
        (tmp / "notebooks").mkdir()
        n = len(plan.chapters)
        tasks = []
        for k, chapter in enumerate(plan.chapters, 1):
            fig_dir = work / chapter.name
            fig_dir.mkdir(parents=True)
            tasks.append(
                dict(
                    notebook=str(chapter.path),
                    chapter=chapter.name,
                    parameters=plan.parameters[chapter.name],
                    figure_dir=str(fig_dir),
                    executed=str(tmp / "notebooks" / f"{chapter.name}.ipynb"),
                    label=f"[chapter {k}/{n}] {chapter.name}",
                    progress=progress,
                    timeout=timeout,
                )
            )
        start = time.perf_counter()
        timings = _run_tasks(tasks, jobs)
        total = time.perf_counter() - start

        figures_out: dict[str, list[str]] = {}
        for chapter in plan.chapters:
            fig_dir = work / chapter.name
            for name in plan.figures[chapter.name]:
                missing = [fmt for fmt in (*FIGURE_FORMATS, "json") if not (fig_dir / f"{name}.{fmt}").is_file()]
                if missing:
                    raise ChapterFailed(
                        f"chapter {chapter.name} did not write figure {name!r} ({', '.join(missing)} missing): "
                        "does it call save_figure(fig, name, data, figure_dir)?"
                    )
                for fmt in (*FIGURE_FORMATS, "json"):
                    os.replace(fig_dir / f"{name}.{fmt}", tmp / f"{name}.{fmt}")
            figures_out[chapter.name] = list(plan.figures[chapter.name])
            executed = tmp / "notebooks" / f"{chapter.name}.ipynb"
            # The executed notebook records figure_dir; point it at the final folder, not the temp one.
            text = executed.read_text(encoding="utf-8").replace(str(fig_dir), str(out)).replace(str(tmp), str(out))
            executed.write_text(text, encoding="utf-8")
        shutil.rmtree(work)

        provenance = {
            "command": list(command) if command is not None else None,
            "command_line": shlex.join(command) if command is not None else None,
            "prompticl_version": __version__,
            "git_commit": git_commit(plan.book),
            "python": sys.version.split()[0],
            "created_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "book": str(plan.book),
            "jobs": jobs,
            "figures": figures_out,
            "parameters": plan.parameters,
            "seeds": {c: _seeds(v) for c, v in plan.parameters.items()},
            "specs": plan.specs,
            "timings_seconds": {"chapters": {c: round(t, 3) for c, t in timings.items()}, "total": round(total, 3)},
        }
        (tmp / "provenance.json").write_text(json.dumps(provenance, indent=2) + "\n", encoding="utf-8")
        _move_into_place(tmp, out)
        return provenance
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        for folder in created:  # deepest first; only the ones this run created, and only if empty
            try:
                folder.rmdir()
            except OSError:
                break
        raise


def _run_tasks(tasks: list[dict], jobs: int) -> dict[str, float]:
    if jobs <= 1 or len(tasks) <= 1:
        return {t["chapter"]: run_chapter(**t) for t in tasks}
    timings: dict[str, float] = {}
    # spawn: the parent may hold zmq/threads state that must not be forked.  Leaving the `with`
    # waits for chapters still running, so nothing writes into the temporary folder afterwards.
    with ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=get_context("spawn")) as pool:
        futures = {pool.submit(run_chapter, **t): t["chapter"] for t in tasks}
        done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        failed = [f for f in done if f.exception() is not None]
        if failed:
            for fut in pending:
                fut.cancel()
            raise failed[0].exception()
        for fut in done:
            timings[futures[fut]] = fut.result()
    return {t["chapter"]: timings[t["chapter"]] for t in tasks}


def _move_into_place(tmp: Path, out: Path) -> None:
    """Rename ``tmp`` to ``out``; an existing ``out`` is moved aside first and deleted afterwards."""
    if out.is_dir() and any(out.iterdir()):
        aside = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        os.replace(out, aside / out.name)
        try:
            os.replace(tmp, out)
        except BaseException:
            os.replace(aside / out.name, out)  # put the old folder back
            shutil.rmtree(aside, ignore_errors=True)
            raise
        shutil.rmtree(aside, ignore_errors=True)
    else:
        os.replace(tmp, out)  # rename(2) replaces an empty folder atomically


def registry_text(registry: Registry) -> str:
    """The human-readable ``--list``: chapters, their figures and their parameters."""
    lines: list[str] = []
    for chapter in registry.chapters.values():
        heading = f"{chapter.name}" + (f" — {chapter.title}" if chapter.title else "")
        lines.append(heading)
        lines.append("  figures:")
        width = max(len(n) for n in chapter.figures)
        for name, description in chapter.figures.items():
            lines.append(f"    {name:<{width}}  {description}")
        lines.append("  parameters:")
        shown = [(f"{p.name} ({p.type}) = {json.dumps(p.default)}", p.meaning) for p in chapter.public_parameters]
        width = max((len(s) for s, _ in shown), default=0)
        for s, meaning in shown:
            lines.append(f"    {s:<{width}}  {meaning}".rstrip())
        if not shown:
            lines.append("    (none)")
        lines.append("")
    if not registry.chapters:
        lines.append(f"no chapter in {registry.book} declares figures")
    return "\n".join(lines).rstrip() + "\n"


def iter_figure_names(registry: Registry) -> Iterable[str]:
    """Every figure name, in book order."""
    return iter(registry.figures)
