"""Claims: a chapter's statements as named checks with a domain

Every statement a chapter makes about its numbers is one call, ``claim(id, holds, text, numbers=...,
domain=..., check=...)``, in the spirit of an ``assert``: the id names it, the text is the sentence of
the prose, the numbers are the evidence, and the domain says on which mixtures, context lengths and
parameters the sentence is claimed.  ``check`` says how it is checked:

* ``"theorem"``: true for every mixture and n of the domain; besides the chapter's call, a property
  test over random mixtures and n in ``tests/unit`` checks it;
* ``"grid"``: an observation, asserted on the grid the domain names;
* ``"monte-carlo"``: an estimate compared within a tolerance that the text or the numbers name.

Two modes, read from the environment at each call (``PROMPTICL_CLAIMS``):

* ``strict`` (the default: nbval, the site build, ``make test``): a claim that does not hold raises
  :class:`ClaimError` with one line naming the id, the sentence and the numbers;
* ``report`` (``prompticl figures`` with a reader's own ``-p``/``-f`` parameters, or papermill run with
  ``PROMPTICL_CLAIMS=report``): the chapter goes on; the call prints one line and returns ``False``.

If ``PROMPTICL_CLAIMS_FILE`` names a file, every claim (held or not) is appended to it as one JSON
line; ``prompticl figures`` reads it into ``provenance.json`` under ``claims``.  The book's page
"Claims" lists every claim of chapters 1-8; "Reproducing and regenerating the figures" explains
the report.
"""
from __future__ import annotations

import json
import math
import numbers as _numbers
import os
import re
from pathlib import Path
from typing import Any

__all__ = ["CHECKS", "ClaimError", "claim", "read_claims", "summary_lines"]

#: How a claim is checked: a theorem (also property-tested), an observation on a grid, a Monte Carlo estimate.
CHECKS = ("theorem", "grid", "monte-carlo")
#: Environment variable choosing the mode: ``strict`` (default) or ``report``.
MODE_VARIABLE = "PROMPTICL_CLAIMS"
#: Environment variable naming a JSON-lines file every claim is appended to.
FILE_VARIABLE = "PROMPTICL_CLAIMS_FILE"
MODES = ("strict", "report")
#: Significant digits kept of a float among a claim's numbers (so that a record is deterministic).
DIGITS = 6
_ID = re.compile(r"[a-z0-9][a-z0-9.-]*\Z")


class ClaimError(AssertionError):
    """A claim of the book does not hold (strict mode): the message names its id, sentence and numbers."""


def _jsonable(value: Any) -> Any:
    """``value`` with numpy scalars and arrays turned into Python ones and floats rounded to :data:`DIGITS`."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if type(value).__name__ == "bool_":  # numpy.bool_, without importing numpy
        return bool(value)
    if isinstance(value, _numbers.Integral):
        return int(value)
    if isinstance(value, _numbers.Real):
        x = float(value)
        if math.isnan(x) or math.isinf(x):  # not JSON: spelled out
            return str(x)
        return float(f"{x:.{DIGITS}g}")
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return _jsonable(value.tolist())
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    raise TypeError(f"a claim's numbers must be numbers, strings, lists or dicts of them, not {type(value).__name__}")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _shown(numbers: "dict | None") -> str:
    if not numbers:
        return ""
    return " [" + ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in numbers.items()) + "]"


def _mode() -> str:
    mode = os.environ.get(MODE_VARIABLE, "strict").strip().lower() or "strict"
    if mode not in MODES:
        raise ValueError(f"{MODE_VARIABLE}={mode!r}: expected one of {', '.join(MODES)}")
    return mode


def claim(id: str, holds: bool, text: str, *, numbers: "dict | None" = None, domain: str, check: str = "grid") -> bool:
    """State one claim of a chapter: fail (strict mode) or record (report mode) if it does not hold.

    Parameters
    ----------
    id : str
        Short stable name, lower case with hyphens (``"hd-saving"``); unique in the book.
    holds : bool
        Whether the claim holds on the numbers of this run (a numpy bool is accepted).
    text : str
        The sentence of the prose, as the reader reads it.
    numbers : dict, optional
        The evidence: names to numbers (numpy scalars and arrays are converted, floats rounded to
        6 significant digits, so that the record is JSON and deterministic).
    domain : str
        Where the sentence is claimed: the mixtures, context lengths and parameters (``"every
        mixture and n >= 1"``, ``"the four book mixtures, n = 1..56"``).
    check : {"theorem", "grid", "monte-carlo"}
        How it is checked: a theorem (also property-tested in ``tests/unit``), an observation on
        the grid the domain names, or a Monte Carlo estimate within the tolerance the text or the
        numbers name.

    Returns
    -------
    bool
        ``holds``, as a Python bool (report mode returns ``False`` for a claim that does not hold).

    Raises
    ------
    ClaimError
        In strict mode (the default, used on the book's defaults), if the claim does not hold.
    ValueError
        A malformed id, check, empty text or domain, or an unknown ``PROMPTICL_CLAIMS`` mode.

    Notes
    -----
    Chapters 1-8 state their claims with it; the book's page "Claims" lists them all.
    """
    if not isinstance(id, str) or not _ID.match(id):
        raise ValueError(f"claim id {id!r}: use lower-case letters, digits, '.' and '-'")
    if check not in CHECKS:
        raise ValueError(f"claim {id}: check {check!r} is not one of {', '.join(CHECKS)}")
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"claim {id}: the text is empty")
    if not isinstance(domain, str) or not domain.strip():
        raise ValueError(f"claim {id}: the domain is empty")
    if numbers is not None and not isinstance(numbers, dict):
        raise TypeError(f"claim {id}: numbers must be a dict")
    ok = bool(holds)
    nums = _jsonable(numbers or {})
    mode = _mode()
    record = {"id": id, "text": _one_line(text), "holds": ok, "numbers": nums, "domain": _one_line(domain), "check": check}
    path = os.environ.get(FILE_VARIABLE)
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
    if ok:
        return True
    line = f"claim {id} does not hold: {record['text']}{_shown(nums)} (domain: {record['domain']})"
    if mode == "strict":
        raise ClaimError(line)
    print(f"note: {line}", flush=True)
    return False


def read_claims(path: "str | os.PathLike") -> list[dict]:
    """The claims appended to the JSON-lines file ``path`` (empty if the file is missing), in order."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def summary_lines(records: list[dict]) -> list[str]:
    """One line per claim that does not hold, then ``"N of M claims hold for these parameters"``."""
    lines = [
        f"claim {r['id']} does not hold: {r['text']}{_shown(r.get('numbers'))}"
        + (f" (domain: {r['domain']})" if r.get("domain") else "")
        for r in records
        if not r["holds"]
    ]
    held = sum(1 for r in records if r["holds"])
    lines.append(f"{held} of {len(records)} claims hold for these parameters")
    return lines
