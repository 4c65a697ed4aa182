"""The figure registry: chapters, their figures and their declared parameters (``prompticl figures``).

Read from the chapter notebooks themselves (one source of truth): each ``book/*.ipynb`` whose notebook
metadata has ``prompticl.figures`` is a chapter; its first code cell, tagged ``parameters``, declares
the knobs as literal assignments with a trailing comment::

    seed = 0  # RNG seed for the Monte Carlo
    ns = [5, 10, 20]  # context lengths

Names, defaults and meanings come from that cell (parsed with :mod:`ast`, never executed); types are
inferred from the defaults.  A comment may end with the parameter's range in square brackets
(``seed = 0  # RNG seed [>= 0]``; :mod:`prompticl._figures.ranges`); a parameter without one gets the
default range for its name, :data:`prompticl._figures.ranges.RANGES`.  The book's page "Reproducing and regenerating the figures" explains the command.
"""
from __future__ import annotations

import ast
import io
import json
import os
import tokenize
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from .._safe_yaml import YAMLInputError, escape_control, load_yaml_file, read_regular_file
from .ranges import Range, RangeSyntaxError, default_range, parse_range, split_range

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
    "find_book",
    "load_chapter",
    "parse_parameters_cell",
    "toc_files",
    "toc_order",
    "registry_text",
    "iter_figure_names",
]

#: Parameters set by ``prompticl figures`` itself, hidden from users.
HIDDEN_PARAMETERS: frozenset[str] = frozenset({"figure_dir"})
#: Kernel used by papermill; with ipykernel installed in the running environment this is the
#: running interpreter's kernel.
KERNEL_NAME = "python3"
#: Types a default may have, by the name shown in ``--list``.
#: Largest notebook read (the book's largest, with its stored figures, is about 0.6 MB).
MAX_NOTEBOOK_BYTES = 32 * 2**20

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
    range : Range or None
        The accepted values: declared at the end of the comment, else the default for the name
        (:mod:`prompticl._figures.ranges`); ``None`` if neither exists.
    """

    name: str
    default: Any
    type: str
    meaning: str = ""
    item_type: "str | None" = None
    range: "Range | None" = None

    def to_dict(self) -> dict:
        out = {"name": self.name, "type": self.type, "default": self.default, "meaning": self.meaning}
        if self.item_type is not None:
            out["item_type"] = self.item_type
        if self.range is not None:
            out["range"] = self.range.text
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




def find_book(book: "str | os.PathLike | None" = None) -> Path:
    """The book folder: ``book`` if given, else ``book/`` of the repository the package lives in,
    else ``./book``.

    Raises
    ------
    FigureError
        If the folder does not exist or is not a folder.
    """
    if book is not None:
        path = Path(book)
        if path.exists() and not path.is_dir():
            raise FigureError(f"--book {escape_control(str(path))!r} is a file, not a folder")
        if not path.is_dir():
            raise FigureError(f"book folder {escape_control(str(path))!r} does not exist")
        return path.resolve()
    # src/prompticl/_figures/registry.py -> the repository root (the package is installed editable).
    candidates = [Path(__file__).resolve().parents[3] / "book", Path.cwd() / "book"]
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


def _finite(value: Any) -> bool:
    """``False`` if ``value`` is or holds (in lists and dicts) a float that is inf or nan."""
    if isinstance(value, float):
        return value == value and abs(value) != float("inf")
    if isinstance(value, (list, tuple)):
        return all(_finite(v) for v in value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    return True


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
        if not _finite(default):  # 1e999 is inf: JSON has no such number, no chapter means it
            raise FigureError(f"{where}: line {node.lineno}: default of {name!r} is not a finite number")
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
        meaning, range_text = split_range(meaning)
        try:
            range_ = parse_range(range_text) if range_text is not None else default_range(name)
        except RangeSyntaxError as exc:
            raise FigureError(f"{where}: line {node.lineno}: range of {name!r}: {exc}") from None
        item_type = None
        if isinstance(default, list) and default:
            item_type = _type_name(default[0])
        params[name] = Parameter(name, default, _type_name(default), meaning, item_type, range_)
    return params


def _cell_source(cell: Mapping) -> str:
    src = cell.get("source", "")
    if isinstance(src, list):
        return "".join(s if isinstance(s, str) else "" for s in src)
    return src if isinstance(src, str) else ""


def load_chapter(path: "str | os.PathLike") -> "Chapter | None":
    """Read one notebook; ``None`` if it declares no figures (a prose-only chapter).

    Raises
    ------
    FigureError
        If the notebook is unreadable, or declares figures but breaks the chapter conventions
        (no tagged ``parameters`` first code cell, no ``figure_dir`` parameter, ...).
    """
    path = Path(path)
    where = escape_control(path.name)
    try:  # a regular file of bounded size only: a FIFO would block, /dev/zero would fill memory
        data = read_regular_file(path, MAX_NOTEBOOK_BYTES, f"notebook {path}", kind="a notebook")
        nb = json.loads(data.decode("utf-8"))
    except YAMLInputError as exc:
        raise FigureError(str(exc)) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FigureError(f"cannot read notebook {escape_control(str(path))}: {escape_control(str(exc))}") from None
    except RecursionError:  # json's decoder recurses: 100,000 nested arrays
        raise FigureError(f"cannot read notebook {escape_control(str(path))}: JSON nested too deeply") from None
    if not isinstance(nb, Mapping):
        raise FigureError(f"{where}: not a notebook (the JSON is a {type(nb).__name__}, not an object)")
    meta = nb.get("metadata") or {}
    if not isinstance(meta, Mapping):
        raise FigureError(f"{where}: the notebook's metadata must be a mapping")
    meta = meta.get("prompticl") or {}
    if not isinstance(meta, Mapping):
        raise FigureError(f"{where}: metadata prompticl must be a mapping")
    figures = meta.get("figures") or {}
    if not figures:
        return None
    if not isinstance(figures, Mapping) or not all(isinstance(k, str) for k in figures) \
            or not all(isinstance(v, str) for v in figures.values()):
        raise FigureError(f"{where}: metadata prompticl.figures must map figure names to descriptions")
    cells = nb.get("cells", [])
    if not isinstance(cells, list) or not all(isinstance(c, Mapping) for c in cells):
        raise FigureError(f"{where}: 'cells' must be a list of cell objects")
    code_cells = [c for c in cells if c.get("cell_type") == "code"]
    tags = (code_cells[0].get("metadata") or {}) if code_cells else {}
    tags = tags.get("tags", []) if isinstance(tags, Mapping) else []
    if not code_cells or not isinstance(tags, list) or "parameters" not in tags:
        raise FigureError(f"{where}: the first code cell must be tagged 'parameters'")
    params = parse_parameters_cell(_cell_source(code_cells[0]), where)
    if "figure_dir" not in params:
        raise FigureError(f"{where}: the parameters cell must declare figure_dir = \"\"")
    smoke = meta.get("smoke_parameters") or {}
    if not isinstance(smoke, Mapping):
        raise FigureError(f"{where}: metadata prompticl.smoke_parameters must be a mapping")
    title = ""
    for cell in cells:
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


def toc_files(root: Path) -> list[str]:
    """Every document of ``root/_toc.yml`` in reading order, root first, as document names without
    a ``.md``/``.ipynb`` suffix (e.g. ``book/intro``, ``book/01-setting``).

    The one reader of the table of contents, built on the parser Jupyter Book itself uses
    (``sphinx_external_toc.parsing``): the registry orders chapters by it, ``tools/print_pdf.py``
    prints the pages in its order and the tests check it against ``book/`` and the built site.  The
    file is read by ``prompticl._safe_yaml`` first (size, depth, aliases, duplicate keys).  A
    missing ``_toc.yml`` gives an empty list.

    Raises
    ------
    FigureError
        If ``_toc.yml`` exists but is refused by ``prompticl._safe_yaml`` (does not parse, too
        large or too deep, aliases, duplicate keys, ...) or by sphinx-external-toc (not a table of
        contents: no ``root``, unknown keys, ...).
    """
    path = root / "_toc.yml"
    if not path.is_file():
        return []
    try:
        toc = load_yaml_file(path)
    except YAMLInputError as exc:
        raise FigureError(f"table of contents: {exc}") from None
    from sphinx_external_toc.parsing import MalformedError, parse_toc_data

    try:
        site_map = parse_toc_data(toc)
    except (MalformedError, TypeError, ValueError) as exc:
        raise FigureError(f"table of contents: {escape_control(' '.join(str(exc).split()))}") from None

    files: list[str] = []

    def walk(docname: str) -> None:
        name = docname.removesuffix(".md").removesuffix(".ipynb")
        if name in files:  # a document listed twice (Sphinx warns); keep its first place
            return
        files.append(name)
        if docname in site_map:
            for child in site_map[docname].child_files():
                walk(child)

    walk(site_map.root.docname)
    return files


def toc_order(book_dir: Path) -> Callable[[Path], tuple]:
    """Sort key: the order of ``_toc.yml`` next to the book folder, then the rest by name."""
    stems = [Path(f).with_suffix("").name for f in toc_files(book_dir.parent)]
    rank = {name: i for i, name in enumerate(stems)}
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
    for path in sorted(book_dir.glob("*.ipynb"), key=toc_order(book_dir)):
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
        shown = [
            (f"{p.name} ({p.type}) = {json.dumps(p.default)}", p.meaning + (f" [{p.range.text}]" if p.range else ""))
            for p in chapter.public_parameters
        ]
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
