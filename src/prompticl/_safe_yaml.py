"""A YAML loader for everything the command line reads (specs, parameter files, ``-p`` values).

It is PyYAML's pure-Python :class:`yaml.SafeLoader` with checks at compose and construct time that
refuse what no input of this project needs, before anything large is built:

* anchors and aliases (the "billion laughs" expansion);
* nesting deeper than :data:`MAX_DEPTH` (PyYAML's composer recurses, so deep input would otherwise
  end in a ``RecursionError``);
* duplicate keys in a mapping (PyYAML silently keeps the last one);
* text longer than :data:`MAX_BYTES`;
* integers with more than :data:`MAX_INT_DIGITS` digits and float literals that overflow to infinity;
* values that cannot be constructed (``2001-13-45``, ``!!float abc``, ``!!int abc``);
* bytes that are not UTF-8.

Every refusal is a :class:`YAMLInputError` (a :class:`ValueError`) whose message is one line naming
the source and, when known, the line.  Used by :mod:`prompticl._spec`; the ``figures`` command's
parameter files and values can use :func:`load_yaml_text` and :func:`load_yaml_file` the same way.

Chapter 1 describes the spec format that it reads.
"""
from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.events import AliasEvent, CollectionStartEvent, ScalarEvent
from yaml.nodes import MappingNode, Node, ScalarNode

#: Largest accepted input.  PyYAML's pure-Python parser needs about 4.5 s per MB of numbers on this
#: machine (a 600 KB spec took 2.7 s; ``benchmarks/bench_limits.py``), so 512 KB answers in about
#: 2 s; it holds a d = 500 spec with diagonal covariances, or full matrices up to d = 100 or so.
MAX_BYTES = 512_000
#: Deepest accepted nesting of lists and mappings: a spec needs 4 (tasks -> task -> cov -> row).
MAX_DEPTH = 8
#: Longest accepted integer literal: 10**309 is already beyond the largest float.
MAX_INT_DIGITS = 309

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def escape_control(text: str) -> str:
    """``text`` with control characters (except tab and newline) written as ``\\xNN`` escapes, so
    that echoing user input (file names, values) cannot drive the terminal."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


class YAMLInputError(ValueError):
    """YAML input that is refused; the message is one line naming the source, the line and the reason."""


def _where(source: str, mark: Any) -> str:
    if mark is None:
        return escape_control(source)
    return f"{escape_control(source)}, line {mark.line + 1}, column {mark.column + 1}"


class SafeLimitedLoader(yaml.SafeLoader):
    """:class:`yaml.SafeLoader` that refuses aliases, anchors, deep nesting, duplicate keys and
    numbers too large for a float (see the module docstring)."""

    source = "<yaml>"

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0

    # --- compose time: before any Python object exists -------------------------------------
    def compose_node(self, parent: "Node | None", index: Any) -> Node:  # noqa: D102
        event = self.peek_event()
        if isinstance(event, AliasEvent):
            raise YAMLInputError(
                f"{_where(self.source, event.start_mark)}: YAML aliases (*{event.anchor}) are not accepted"
            )
        if isinstance(event, (ScalarEvent, CollectionStartEvent)) and event.anchor is not None:
            raise YAMLInputError(
                f"{_where(self.source, event.start_mark)}: YAML anchors (&{event.anchor}) are not accepted"
            )
        if isinstance(event, CollectionStartEvent):
            if self._depth >= MAX_DEPTH:
                raise YAMLInputError(
                    f"{_where(self.source, event.start_mark)}: nested deeper than {MAX_DEPTH} levels"
                )
            self._depth += 1
            try:
                return super().compose_node(parent, index)
            finally:
                self._depth -= 1
        return super().compose_node(parent, index)

    # --- construct time ---------------------------------------------------------------------
    def construct_object(self, node: Node, deep: bool = False) -> Any:  # noqa: D102
        try:
            return super().construct_object(node, deep=deep)
        except (YAMLInputError, ConstructorError):
            raise
        except Exception as exc:  # noqa: BLE001 - any failure to build a value (e.g. `!!timestamp a` raises AttributeError)
            value = node.value if isinstance(node, ScalarNode) else node.tag
            shown = value if len(value) <= 40 else value[:20] + "..." + value[-10:]
            raise YAMLInputError(
                f"{_where(self.source, node.start_mark)}: cannot read {shown!r} as {node.tag.rsplit(':', 1)[-1]}: "
                f"{exc}"
            ) from None

    def construct_yaml_int(self, node: ScalarNode) -> int:  # noqa: D102
        digits = sum(ch.isalnum() for ch in node.value)  # a bound: counts a 0x prefix too
        if digits > MAX_INT_DIGITS:
            raise YAMLInputError(
                f"{_where(self.source, node.start_mark)}: an integer with {digits} digits is too large "
                f"(at most {MAX_INT_DIGITS} digits)"
            )
        value = super().construct_yaml_int(node)
        try:
            float(value)
        except OverflowError:
            raise YAMLInputError(
                f"{_where(self.source, node.start_mark)}: the integer is too large for a float"
            ) from None
        return value

    def construct_yaml_float(self, node: ScalarNode) -> float:  # noqa: D102
        value = super().construct_yaml_float(node)
        text = node.value.lower().lstrip("+-")
        if math.isinf(value) and text != ".inf":
            raise YAMLInputError(
                f"{_where(self.source, node.start_mark)}: {node.value[:40]!r} is too large for a float"
            )
        return value

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict:  # noqa: D102
        if isinstance(node, MappingNode):
            seen: dict = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise YAMLInputError(
                        f"{_where(self.source, key_node.start_mark)}: YAML merge keys (<<) are not accepted"
                    )
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                except TypeError:
                    raise YAMLInputError(
                        f"{_where(self.source, key_node.start_mark)}: a mapping key must be a plain value"
                    ) from None
                if duplicate:
                    raise YAMLInputError(
                        f"{_where(self.source, key_node.start_mark)}: duplicate key {escape_control(str(key))[:40]!r} "
                        f"(first at line {seen[key] + 1})"
                    )
                seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


SafeLimitedLoader.add_constructor("tag:yaml.org,2002:int", SafeLimitedLoader.construct_yaml_int)
SafeLimitedLoader.add_constructor("tag:yaml.org,2002:float", SafeLimitedLoader.construct_yaml_float)
SafeLimitedLoader.add_constructor("tag:yaml.org,2002:map", SafeLimitedLoader.construct_yaml_map)


def load_yaml_text(text: str, source: str = "<yaml>") -> Any:
    """Parse one YAML document with :class:`SafeLimitedLoader`.

    Parameters
    ----------
    text : str
        The YAML text.
    source : str
        Where it came from (a path, ``-p KEY``), named in error messages.

    Raises
    ------
    YAMLInputError
        If the text is refused or does not parse; the message is one line.
    """
    if len(text) > MAX_BYTES:
        raise YAMLInputError(
            f"{escape_control(source)}: {len(text)} characters is too long for YAML input (at most {MAX_BYTES})"
        )
    loader = None
    try:
        loader = SafeLimitedLoader(text)
        loader.source = source
        return loader.get_single_data()
    except YAMLInputError:
        raise
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise YAMLInputError(
            f"{escape_control(source)}, line {line}: character U+{exc.character:04X} is not allowed in YAML"
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise YAMLInputError(f"{_where(source, mark)}: YAML does not parse: {escape_control(problem)}") from None
    except RecursionError:  # pragma: no cover - the depth limit stops nesting long before
        raise YAMLInputError(f"{escape_control(source)}: nested too deeply") from None
    finally:
        if loader is not None:
            loader.dispose()


def load_yaml_bytes(data: bytes, source: str = "<yaml>") -> Any:
    """Decode ``data`` as UTF-8 (refusing other bytes, with the line) and parse it (:func:`load_yaml_text`)."""
    if len(data) > MAX_BYTES:
        raise YAMLInputError(
            f"{escape_control(source)}: {len(data)} bytes is too large for YAML input (at most {MAX_BYTES})"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise YAMLInputError(
            f"{escape_control(source)}, line {line}: byte 0x{data[exc.start]:02x} is not UTF-8 text"
        ) from None
    return load_yaml_text(text, source)


def read_regular_file(path: "str | os.PathLike[str]", cap: int, source: "str | None" = None,
                      kind: str = "YAML input") -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``cap`` bytes.

    The file is opened without blocking (``O_NONBLOCK``: a FIFO would otherwise wait for a writer
    forever) and checked with ``fstat`` on the open descriptor, so a FIFO, a device such as
    ``/dev/zero`` (also through a symlink) or a folder is refused before a byte is read, and at most
    ``cap + 1`` bytes are ever read (a file that grows meanwhile cannot exceed the cap).

    Raises
    ------
    YAMLInputError
        If the path is not a regular file, cannot be opened, or holds more than ``cap`` bytes.
    """
    import stat

    source = escape_control(str(path) if source is None else source)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0))
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise YAMLInputError(f"cannot read {source}: {escape_control(reason)}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = ("a FIFO" if stat.S_ISFIFO(info.st_mode) else "a folder" if stat.S_ISDIR(info.st_mode)
                    else "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode)
                    else "a socket" if stat.S_ISSOCK(info.st_mode) else "not a regular file")
            raise YAMLInputError(f"cannot read {source}: it is {kind}, not a regular file")
        if info.st_size > cap:
            raise YAMLInputError(f"{source}: {info.st_size} bytes is too large for {kind} (at most {cap})")
        chunks, total = [], 0
        while total <= cap:
            chunk = os.read(fd, min(1 << 20, cap + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        data = b"".join(chunks)
    except OSError as exc:
        raise YAMLInputError(f"cannot read {source}: {escape_control(exc.strerror or str(exc))}") from None
    finally:
        os.close(fd)
    if len(data) > cap:
        raise YAMLInputError(f"{source}: more than {cap} bytes is too large for {kind} (at most {cap})")
    return data


def load_yaml_file(path: "str | os.PathLike[str]", source: "str | None" = None) -> Any:
    """Read and parse a YAML file, refusing anything but a regular file of at most :data:`MAX_BYTES`
    before reading it (:func:`read_regular_file`).

    Raises
    ------
    YAMLInputError
        If the file cannot be read, is not a regular file, is too large, is not UTF-8, or its YAML is refused.
    """
    source = str(path) if source is None else source
    data = read_regular_file(path, MAX_BYTES, source)
    return load_yaml_bytes(data, source)
