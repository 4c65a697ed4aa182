"""The session plan (book/session-plan.md): every command it asks a study group to run is valid.

``prompticl figures`` commands go through the same planning code as the command line
(``plan_run``: figure names, parameter names, types and specs), without running anything;
``prompticl theory`` commands are run (they take seconds). Every chapter has its session.
"""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from prompticl._figures import FigureError, build_registry, plan_run

ROOT = Path(__file__).resolve().parents[2]
PLAN = ROOT / "book" / "session-plan.md"


def commands(text: str, tool: str) -> list[str]:
    """Every inline-code command ``prompticl TOOL ...`` of the page (a command may wrap in the source)."""
    return [" ".join(c.split()) for c in re.findall(rf"`(prompticl {tool}\b[^`]*)`", text)]


def parse_figures_command(command: str) -> tuple[list[str], list[tuple[str, str]], bool]:
    """(names, [(key, value)], smoke) of ``prompticl figures NAME... [-p KEY VALUE]... [--smoke]``."""
    words = shlex.split(command)[2:]
    names, params, smoke = [], [], False
    while words:
        word = words.pop(0)
        if word in ("-p", "--param"):
            if len(words) < 2:
                raise ValueError(f"'-p' needs KEY VALUE in {command!r}")
            params.append((words.pop(0), words.pop(0)))
        elif word == "--smoke":
            smoke = True
        elif word.startswith("-"):
            raise ValueError(f"option {word!r} is not expected in a session command: {command!r}")
        else:
            names.append(word)
    if not names:
        raise ValueError(f"no figure name in {command!r}")
    return names, params, smoke


@pytest.fixture(scope="module")
def registry():
    return build_registry(ROOT / "book")


def test_figure_commands_are_accepted_by_prompticl_figures(registry):
    found = commands(PLAN.read_text(encoding="utf-8"), "figures")
    assert len(found) >= 10  # control: the commands were found
    problems = []
    for command in found:
        try:
            names, params, smoke = parse_figures_command(command)
            plan_run(registry, names, params, smoke=smoke)
        except (ValueError, FigureError) as exc:
            problems.append(f"{command}: {exc}")
    assert not problems, "\n".join(problems)


def test_a_wrong_command_is_rejected(registry):
    # Control: the validation above can fail (unknown parameter, wrong type, unknown figure).
    for bad in ("prompticl figures joint-losses -p no_such 1", "prompticl figures joint-losses -p ns ten",
                "prompticl figures no-such-figure"):
        names, params, smoke = parse_figures_command(bad)
        with pytest.raises(FigureError):
            plan_run(registry, names, params, smoke=smoke)


@pytest.mark.slow  # more than a second: make test only
def test_theory_commands_run(capsys):
    from prompticl.cli import main

    found = commands(PLAN.read_text(encoding="utf-8"), "theory")
    assert found
    for command in found:
        assert main(shlex.split(command)[1:]) == 0, command
        assert capsys.readouterr().out.strip(), command


def test_one_session_per_chapter_in_order():
    text = PLAN.read_text(encoding="utf-8")
    sessions = re.findall(r"^## Session (\d+):", text, re.M)
    assert sessions == [str(i) for i in range(1, len(sessions) + 1)] and len(sessions) >= 7
    # The introduction counts them (it said "eight" after chapter 9 had its session).
    count = {7: "seven", 8: "eight", 9: "nine", 10: "ten", 11: "eleven", 12: "twelve"}.get(len(sessions), str(len(sessions)))
    stated = re.search(r"\bin (\w+) sessions\b", text)
    assert stated and stated.group(1) == count, f"the introduction says {stated and stated.group(0)!r}; the page has {count} sessions"
    # Each session has its five parts.
    for block in re.split(r"^## Session \d+:", text, flags=re.M)[1:]:
        for part in ("**Read**", "**Run**", "**Exercises**", "**Discuss**", "**Time**"):
            assert part in block, f"a session lacks {part}"


def test_long_tier_names_only_commands_of_the_plan():
    """tests/book/test_session_plan_run.py runs every command of the page; the ones it marks long
    (``make test-long``) must be commands of the page, so that none is silently dropped."""
    import runpy

    run = runpy.run_path(str(ROOT / "tests" / "book" / "test_session_plan_run.py"))
    found = run["plan_commands"]()
    assert len(found) >= 12 and any(c.startswith("prompticl theory") for c in found)  # control
    assert run["LONG"] <= set(found), sorted(run["LONG"] - set(found))
    assert len(run["LONG"]) < len(found) / 2, "most commands must fit in make test"


def quoted_times(text: str) -> dict[str, str]:
    """Each command of the page with the time written right after it, e.g. ``(12 s)`` or ``(3 min)``."""
    found = {}
    for match in re.finditer(r"`(prompticl (?:figures|theory|train)\b[^`]*)`\s*\((\d+ (?:s|min))\b", text):
        found[" ".join(match.group(1).split())] = match.group(2)
    return found


def as_quoted(seconds: float) -> str:
    return f"{round(seconds)} s" if seconds < 120 else f"{round(seconds / 60)} min"


def test_every_command_quotes_its_measured_time():
    """The times of the page are benchmarks/results-session-plan.json (benchmarks/bench_session_plan.py),
    rounded: every command has a measurement, and the page quotes it right after the command."""
    import json
    import runpy

    run = runpy.run_path(str(ROOT / "tests" / "book" / "test_session_plan_run.py"))
    measured = json.loads((ROOT / "benchmarks" / "results-session-plan.json").read_text())
    text = PLAN.read_text(encoding="utf-8")
    quoted = quoted_times(text)
    for command in run["plan_commands"]():
        assert command in measured, f"not measured (run benchmarks/bench_session_plan.py --only ...): {command}"
        row = measured[command]
        assert row["exit"] == 0, f"exited {row['exit']} when measured: {command}"
        want = as_quoted(row["quoted_s"])
        assert quoted.get(command) == want, f"the page quotes {quoted.get(command)!r}, measured {want!r}: {command}"
    # control: the extraction sees a changed number
    changed = re.sub(r"\((\d+) s\)", lambda m: f"({int(m.group(1)) + 1} s)", text, count=1)
    assert quoted_times(changed) != quoted
