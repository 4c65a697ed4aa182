"""Hostile input through the command line (issue 13): the promise of the CLI holds for every case.

The promise for bad input: exit status 2, exactly one line on stderr, nothing on stdout, no file
written, no traceback, within a few seconds and under a memory cap.  The cases of :data:`CORPUS`
all run in **one** subprocess, ``hostile_driver.py`` beside this file: it imports
:mod:`prompticl.cli` once and runs each case as ``cli.main(argv)`` in a fresh folder, with stdout
and stderr captured per case (at the file-descriptor level), a per-case alarm (:data:`TIMEOUT`,
and a hard :data:`HARD_TIMEOUT` that ends the process for a hang in C code), the process under
``RLIMIT_AS`` (:data:`MEMORY_CAP`).  It reports one JSON record per case; one pytest test per case
reads its record.  A case that crashes the process is reported as such and the rest go on in a new
one.  Only what needs a process of its own (the state of file descriptor 1 or a broken pipe at
interpreter exit) runs as ``python -m prompticl``: see "Cases with a process of their own".
Property-based cases (hypothesis) run :func:`prompticl.cli.main` in the test process.  The large-n
accuracy of the closed forms is checked against exact rational arithmetic.

Issue 19 added :data:`CORPUS_19` (reads that cannot block, hostile ``--book`` notebooks, the joint
cost budget, repeated flags, bad ``--out`` values, badly scaled specs) and :data:`CORPUS_OK`, valid
input that was refused or failed, which must now exit 0 with a quiet stderr; both run in the same
driver.  A file of a case may be a FIFO or a symlink (``("fifo",)``, ``("symlink", target)``).

``PROMPTICL_HOSTILE_SRC=/path/to/src`` runs the corpus and the separate-process cases against
another checkout's code (to check that every case failed before the fix).
"""
from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os
import pickle
import resource
import subprocess
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from prompticl import cli
from prompticl._spec import spec_from_dict, load_spec
from prompticl._closed_forms import optimal_losses
from support import examples

SRC = Path(os.environ.get("PROMPTICL_HOSTILE_SRC", Path(__file__).resolve().parents[2] / "src"))
#: Address-space cap of each subprocess: numpy with one BLAS thread needs about 0.4 GB.
MEMORY_CAP = 2 * 2**30
#: Seconds each corpus case may take in the driver (each takes milliseconds; the first ones also
#: import what their command needs), and each separate-process case (Python and numpy start in
#: about 0.5 s).
TIMEOUT = 10
#: Seconds after which the driver's hard alarm dumps its stacks and ends it (a hang in C code).
HARD_TIMEOUT = 2 * TIMEOUT
DRIVER = Path(__file__).with_name("hostile_driver.py")

VALID = "d: 2\nnoise: 0.1\ntasks:\n  - {weight: 0.5, mean: 1, cov: 1}\n  - {weight: 0.5, mean: -1, cov: 2}\n"
ZERO = "d: 2\nnoise: 0\ntasks:\n  - {weight: 1, mean: 0, cov: 0}\n"


def _spec(**fields: str) -> str:
    """A valid spec text with some top-level fields replaced by raw YAML text."""
    base = {"d": "2", "noise": "0.1", "tasks": "[{weight: 1, mean: 1, cov: 1}]"}
    base.update(fields)
    return "".join(f"{k}: {v}\n" for k, v in base.items())


def _laughs(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "d: 2\nnoise: 0\ntasks: [{weight: 1, mean: 1, cov: 1}]\ndescription:\n  " + "\n  ".join(lines) + "\n"


def _deep_block(depth: int) -> str:
    return "".join(" " * i + "a:\n" for i in range(depth)) + " " * depth + "1\n"


def _tasks_d(d: int, K: int) -> str:
    """A spec with ``K`` equal-weight tasks (weights exact in binary for K = 1, 2, 4, 8, 16)."""
    tasks = "".join(f"  - {{weight: {1 / K!r}, mean: {(-1) ** k}, cov: 1}}\n" for k in range(K))
    return f"d: {d}\nnoise: 0\ntasks:\n{tasks}"


def _one_task_d(d: str) -> str:
    return f"d: {d}\nnoise: 0\ntasks:\n  - {{weight: 1, mean: 0, cov: 1}}\n"


BIG = "9" * 400
THEORY = ["theory", "s.yaml", "--n", "5"]
TRAIN = ["train", "s.yaml", "--regime", "joint", "--n", "5"]
FIGURES = ["figures", "in-brief-regimes", "--smoke", "-p", "spec_name", "s.yaml", "--out", "out"]
PLAIN = ["figures", "plain-theory-vs-mc", "--smoke", "--out", "out"]
SETTING = ["figures", "setting-mixture", "--smoke", "--out", "out"]
BRIEF = ["figures", "in-brief-regimes", "--smoke", "--out", "out"]

#: id -> (files to create, arguments, regex the stderr line must match)
CORPUS: dict[str, tuple[dict[str, "str | bytes"], list[str], str]] = {
    # 1. tracebacks from input that parses badly or is huge
    # theory --model full (the certified layer optimum) has limits of its own
    "full-model-d-too-large": ({"s.yaml": _one_task_d("101")}, ["theory", "s.yaml", "--n", "5", "--model", "full"],
                               r"--model full at d = 101: .*the limit is d <= 100"),
    "full-model-too-many-n": ({}, ["theory", "zero-mean", "--model", "full", "--n", *map(str, range(1, 22))],
                              r"--model full with 21 values of --n"),
    "deep-flow-theory": ({"s.yaml": "[" * 10000 + "]" * 10000}, THEORY, r"nested deeper than \d+ levels"),
    "deep-flow-train": ({"s.yaml": "[" * 10000 + "]" * 10000}, TRAIN, r"nested deeper than \d+ levels"),
    "deep-block-maps": ({"s.yaml": _deep_block(900)}, THEORY, r"nested deeper than \d+ levels"),
    "400-digit-noise": ({"s.yaml": _spec(noise=BIG)}, THEORY, r"line 2, .*integer with 400 digits is too large"),
    "400-digit-mean": ({"s.yaml": _spec(tasks=f"[{{weight: 1, mean: {BIG}, cov: 1}}]")}, THEORY, r"400 digits"),
    "400-digit-float": ({"s.yaml": _spec(noise=BIG + ".5")}, THEORY, r"too large for a float"),
    "float-literal-overflow": ({"s.yaml": _spec(noise="1.0e+400")}, THEORY, r"'1\.0e\+400' is too large for a float"),
    "mean-1e200": ({"s.yaml": _spec(tasks="[{weight: 1, mean: 1.0e+200, cov: 1}]")}, THEORY,
                   r"tasks\[0\]\.mean: 1e\+200 is out of range"),
    "noise-1e300": ({"s.yaml": _spec(noise="1.0e+300")}, THEORY, r"noise: 1e\+300 is out of range"),
    "d-1e6-theory": ({"s.yaml": _one_task_d("1000000")}, THEORY, r"d = 1000000 needs about .*the limit is d <= 500"),
    "d-1e9-train": ({"s.yaml": _one_task_d("1000000000")}, TRAIN, r"the limit is d <= 500"),
    "d-20000-theory": ({"s.yaml": _one_task_d("20000")}, THEORY, r"the limit is d <= 500"),
    "d-3000-theory": ({"s.yaml": _one_task_d("3000")}, THEORY, r"the limit is d <= 500"),
    "d-1000-train-samples-100": (
        {"s.yaml": _one_task_d("1000")}, ["train", "s.yaml", "--regime", "plain", "--n", "5", "--samples", "100"],
        r"the limit is d <= 500",
    ),
    "d-101-train": ({"s.yaml": _one_task_d("101")}, TRAIN, r"train at d = 101: .*the limit is d <= 100"),
    "prompt-len-1e9": (
        {}, ["train", "zero-mean", "--regime", "joint", "--n", "5", "--prompt-len", "1000000000"],
        r"--prompt-len 1000000000 needs about 164 GB .*the limit is 1000",
    ),
    "samples-1e9": (
        {}, ["train", "zero-mean", "--regime", "plain", "--n", "5", "--samples", "1000000000"], r"--samples 1000000000",
    ),
    "adam-batch-huge": (
        {}, ["train", "zero-mean", "--regime", "plain", "--n", "5", "--method", "adam", "--batch", "100000000"],
        r"--method adam with --batch 100000000 .*needs about",
    ),
    "all-zero-theory": ({"s.yaml": ZERO}, THEORY, r"has no signal \(tr Sigma_tilde = 0\): every task mean and covariance is zero"),
    "all-zero-train": ({"s.yaml": ZERO}, ["train", "s.yaml", "--regime", "plain", "--n", "5"], r"has no signal"),
    "rank-deficient-joint-train": (
        {"s.yaml": "d: 2\nnoise: 0\ntasks:\n  - {weight: 1, mean: 0, cov: [1, 0]}\n"}, TRAIN,
        r"--regime joint needs the within-task covariance .* positive definite",
    ),
    "train-n-1e9": ({}, ["train", "zero-mean", "--regime", "plain", "--n", "1000000000"], r"the limit is n <= 1000000"),
    # 2. memory blow-ups before any answer
    "billion-laughs": ({"s.yaml": _laughs()}, THEORY, r"YAML anchors \(&a0\) are not accepted"),
    "alias-in-name": ({"s.yaml": _spec(name="*x")}, THEORY, r"YAML aliases \(\*x\) are not accepted"),
    "6MB-mean-list": (
        {"s.yaml": _spec(tasks="[{weight: 1, cov: 1, mean: [" + "1, " * 3_000_000 + "1]}]")}, THEORY,
        r"bytes is too large for YAML input \(at most \d+\)",
    ),
    # 3. bad input accepted
    "duplicate-d": ({"s.yaml": "d: 3\nd: 4\nnoise: 0\ntasks: [{weight: 1, mean: 0, cov: 1}]\n"}, THEORY,
                    r"line 2, column 1: duplicate key 'd' \(first at line 1\)"),
    "duplicate-task-key": ({"s.yaml": _spec(tasks="[{weight: 1, mean: 0, cov: 1, cov: 2}]")}, THEORY, r"duplicate key 'cov'"),
    "merge-key": ({"s.yaml": VALID + "<<: {name: x}\n"}, THEORY, r"merge keys"),
    # 8. values that cannot be built, said precisely
    "bad-date-d": ({"s.yaml": _spec(d="2001-13-45")}, THEORY, r"line 1, .*cannot read '2001-13-45' as timestamp"),
    "bad-float-tag": ({"s.yaml": _spec(noise="!!float abc")}, THEORY, r"line 2, .*cannot read 'abc' as float"),
    "bad-int-tag": ({"s.yaml": _spec(d="!!int abc")}, THEORY, r"cannot read 'abc' as int"),
    "5000-digit-int": ({"s.yaml": _spec(noise="1" * 5000)}, THEORY, r"integer with 5000 digits is too large"),
    "byte-ff": ({"s.yaml": b"d: 2\nnoise: \xff\n"}, THEORY, r"line 2: byte 0xff is not UTF-8 text"),
    "600KB-spec": (
        {"s.yaml": _spec(tasks="[{weight: 1, cov: 1, mean: [" + "1.25, " * 100_000 + "1]}]")}, THEORY,
        r"600056 bytes is too large for YAML input \(at most \d+\)",
    ),
    "control-chars-in-name": ({"e\x1b[31m\x07.yaml": "noise: 1\n"}, ["theory", "e\x1b[31m\x07.yaml", "--n", "5"],
                              r"e\\x1b\[31m\\x07\.yaml: d: missing"),
    "n-plus": ({}, ["theory", "zero-mean", "--n", "+5"], r"\(digits 0-9 only\), got '\+5'"),
    "n-underscore": ({}, ["theory", "zero-mean", "--n", "1_000"], r"\(digits 0-9 only\), got '1_000'"),
    "n-spaces": ({}, ["theory", "zero-mean", "--n", " 5 "], r"\(digits 0-9 only\), got ' 5 '"),
    "n-fullwidth": ({}, ["theory", "zero-mean", "--n", "\uff15"], r"\(digits 0-9 only\), got '\uff15'"),
    "n-5000-digits": ({}, ["theory", "zero-mean", "--n", "9" * 5000], r"\(5000 characters\)' is above the limit 1000000000"),
    "n-100000-values": ({}, ["theory", "zero-mean", "--n", *map(str, range(1, 100_001))],
                        r"--n has 100000 values; the limit is 1000"),
    "d-500-17-values": (
        {"s.yaml": _one_task_d("500")}, ["theory", "s.yaml", "--n", *map(str, range(1, 18))],
        r"--n has 17 values at d = 500: .*here at most 16 values",
    ),
    # figures -p spec_name goes through the same spec loader (the rest of figures is another change)
    "figures-spec-bad-date": ({"s.yaml": _spec(d="2001-13-45")}, FIGURES, r"spec_name.*cannot read '2001-13-45'"),
    "figures-spec-deep": ({"s.yaml": "[" * 10000 + "]" * 10000}, FIGURES, r"spec_name.*nested deeper than"),
    "figures-spec-400-digits": ({"s.yaml": _spec(noise=BIG)}, FIGURES, r"spec_name.*400 digits"),
    "figures-spec-d-1e6": ({"s.yaml": _one_task_d("1000000")}, FIGURES, r"spec_name.*the limit is d <= 500"),
    "seed-plus": ({}, ["train", "zero-mean", "--regime", "plain", "--n", "5", "--seed", "+1"], r"digits 0-9"),
    # figures: -p values and -f files go through prompticl._safe_yaml
    "figures-p-check_noise-400-digits": ({}, [*PLAIN, "-p", "check_noise", BIG], r"'check_noise' .*400 digits is too large"),
    "figures-p-deep": ({}, [*SETTING, "-p", "seed", "[" * 10000 + "]" * 10000], r"-p seed, .*nested deeper than"),
    "figures-p-alias": ({}, [*SETTING, "-p", "seed", "*a"], r"-p seed, .*aliases"),
    "figures-f-deep-block": ({"p.yaml": _deep_block(900)}, [*SETTING, "-f", "p.yaml"], r"nested deeper than"),
    # regression guard (held before the figures change too: the spec loader was already safe)
    "figures-f-spec-bad-date": ({"p.yaml": "spec_name: s.yaml\n", "s.yaml": _spec(d="2001-13-45")}, [*SETTING, "-f", "p.yaml"],
                                r"spec_name.*cannot read '2001-13-45'"),
    "figures-f-laughs": ({"p.yaml": _laughs()}, [*SETTING, "-f", "p.yaml"], r"anchors \(&a0\) are not accepted"),
    # figures: parameter ranges, checked before anything runs (prompticl._figures.ranges)
    "figures-hist-samples-0": ({}, [*SETTING, "-p", "hist_samples", "0"], r"'hist_samples' .* must be >= 2, got 0"),
    # (the issue's `-p z_tol -1`: chapters now check through check_z with a fixed tolerance, so a
    # negative float parameter is tried instead)
    "figures-check_noise-negative": ({}, [*PLAIN, "-p", "check_noise", "-1"], r"'check_noise' .* must be >= 0, got -1\.0"),
    "figures-n_max-0": ({}, [*BRIEF, "-p", "n_max", "0"], r"'n_max' of chapter in-brief must be >= 1, got 0"),
    "figures-n_max-negative": ({}, [*BRIEF, "-p", "n_max", "-5"], r"'n_max' .* must be >= 1, got -5"),
    "figures-n_max-1e9": ({}, [*BRIEF, "-p", "n_max", "1000000000"], r"'n_max' .* must be <= 1000, got 1000000000"),
    "figures-timeout-tiny": ({}, [*SETTING, "--timeout", "0.001"], r"--timeout: .*\(whole seconds\)"),
    "figures-timeout-zero": ({}, [*SETTING, "--timeout", "0"], r"--timeout: expected an integer >= 1"),
}


def _nb(cells="[]", metadata='{"prompticl": {"figures": {"f": "a figure"}}}') -> str:
    """A notebook's JSON text with raw JSON for its cells and metadata."""
    return '{"cells": %s, "metadata": %s, "nbformat": 4, "nbformat_minor": 5}' % (cells, metadata)


def _param_cell(source: str) -> str:
    return json.dumps([{"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": source,
                        "outputs": [], "execution_count": None}])


LIST_BK = ["figures", "--list", "--book", "bk"]
LIST_BK_JSON = [*LIST_BK, "--json"]

#: Issue 19 (hostile input, round three): id -> (files, arguments, pattern).  A file given as a
#: tuple is made by the driver: ("fifo",), ("symlink", target), ("dir",).
CORPUS_19: dict[str, tuple[dict, list[str], str]] = {
    # 1. reads that block or exhaust memory
    "19-f-fifo": ({"p.yaml": ("fifo",)}, [*SETTING, "-f", "p.yaml"], r"p\.yaml: it is a FIFO, not a regular file"),
    "19-f-symlink-to-fifo": ({"q": ("fifo",), "p.yaml": ("symlink", "q")}, [*SETTING, "-f", "p.yaml"], r"it is a FIFO"),
    "19-f-dev-zero": ({"p.yaml": ("symlink", "/dev/zero")}, [*SETTING, "-f", "p.yaml"], r"it is a device"),
    "19-book-nb-fifo": ({"bk/a.ipynb": ("fifo",)}, LIST_BK, r"a\.ipynb: it is a FIFO, not a regular file"),
    "19-book-nb-dev-zero": ({"bk/a.ipynb": ("symlink", "/dev/zero")}, LIST_BK, r"a\.ipynb: it is a device"),
    # hostile notebooks under --book: one line, exit 2
    "19-book-nb-list": ({"bk/a.ipynb": "[]"}, LIST_BK, r"a\.ipynb: not a notebook \(the JSON is a list"),
    "19-book-nb-null": ({"bk/a.ipynb": "null"}, LIST_BK, r"a\.ipynb: not a notebook"),
    "19-book-nb-string-metadata": ({"bk/a.ipynb": _nb(metadata='"abc"')}, LIST_BK, r"metadata must be a mapping"),
    "19-book-nb-string-prompticl": ({"bk/a.ipynb": _nb(metadata='{"prompticl": "abc"}')}, LIST_BK,
                                    r"metadata prompticl must be a mapping"),
    "19-book-nb-numeric-cells": ({"bk/a.ipynb": _nb(cells="5")}, LIST_BK, r"'cells' must be a list of cell objects"),
    "19-book-nb-numeric-cell": ({"bk/a.ipynb": _nb(cells="[5]")}, LIST_BK, r"'cells' must be a list of cell objects"),
    "19-book-nb-tags-5": ({"bk/a.ipynb": _nb(cells='[{"cell_type": "code", "metadata": {"tags": 5}, "source": ""}]')},
                          LIST_BK, r"first code cell must be tagged 'parameters'"),
    "19-book-nb-deep": ({"bk/a.ipynb": "[" * 100_000 + "]" * 100_000}, LIST_BK, r"JSON nested too deeply"),
    "19-book-nb-1e999": ({"bk/a.ipynb": _nb(cells=_param_cell('figure_dir = ""\nx = 1e999  # a number\n'))},
                         LIST_BK_JSON, r"default of 'x' is not a finite number"),
    "19-spec-path-5000": ({}, ["theory", "a" * 5000, "--n", "5"], r"cannot read spec 'a{60}\.\.\.a{40} \(5000 characters\)': File name too long"),
    # 2. a joint cost budget, checked before any work
    "19-train-every-maximum": ({"s.yaml": _tasks_d(30, 16)}, ["train", "s.yaml", "--regime", "plain", "--n", "1000000",
                                                           "--samples", "100000", "--prompt-len", "1000"],
                               r"train \(ALS, --samples 100000\) at d = 30, K = 16 tasks, n = 1000000 would take about "
                               r".*the budget is 120 s: .*--allow-long"),
    "19-adam-100000-steps": ({}, ["train", "zero-mean", "--regime", "plain", "--n", "5", "--method", "adam", "--steps", "100000"],
                             r"train --method adam --steps 100000 --batch 256 .* would take about .* lower --steps or --batch"),
    "19-adam-steps-1e9": ({}, ["train", "zero-mean", "--regime", "plain", "--n", "5", "--method", "adam", "--steps", "1000000000"],
                          r"--steps 1000000000: the limit is 1000000 Adam steps"),
    "19-adam-batch-500000": ({}, ["train", "zero-mean", "--regime", "plain", "--n", "5", "--method", "adam", "--steps", "1",
                                  "--batch", "500000"], r"--batch 500000 .* needs about 4\.\d GB per step"),
    "19-ci-tiny-d30": ({"s.yaml": _tasks_d(30, 1)}, ["train", "s.yaml", "--regime", "plain", "--n", "1000000", "--ci", "1e-9"],
                       r"with --ci 1e-09 \(about 2e\+06 test prompts\) would take about .* raise --ci"),
    "19-full-d20-K16-20n": ({"s.yaml": _tasks_d(20, 16)}, ["theory", "s.yaml", "--model", "full", "--n", *map(str, range(1, 21))],
                            r"--model full with 20 values of --n at d = 20, K = 16 tasks would take about .* minutes"),
    "19-figures-in-brief-d500-n_max-1000": ({"d500.yaml": _one_task_d("500")},
                                            ["figures", "in-brief-regimes", "-p", "spec_name", "d500.yaml", "-p", "n_max", "1000",
                                             "--out", "out"],
                                            r"chapter in-brief with these parameters needs about \d+\.\d GiB of memory .*driven by "
                                            r"n_max\); the budget is 2\.0 GiB: .*pass --allow-long to run it anyway"),
    "19-figures-seeds-50-samples-1e6": ({}, ["figures", "experiments-figure1", "--smoke", "-p", "seeds", "50", "-p",
                                             "train_samples", "1000000", "--out", "out"],
                                        r"chapter 07-experiments with these parameters would take about [\d.]+ (minutes|hours) .*driven by "
                                        r"seeds, seeds_other, train_samples.*; the budget is 20 minutes per chapter: .*pass --allow-long"),
    # 3. valid input that failed: now refused up front with the limit (see the ok-cases for the rest)
    "19-full-n-100000": ({}, ["theory", "zero-mean", "--model", "full", "--n", "100000"],
                         r"--model full at n = 100000: .*the limit is n <= 1000, and --model reduced"),
    # 4. nonsense accepted
    "19-out-empty": ({}, ["figures", "setting-mixture", "--smoke", "--out", ""], r"--out is empty: give a path"),
    "19-book-empty": ({}, ["figures", "--list", "--book", ""], r"--book is empty: give a path"),
    "19-name-list": ({"s.yaml": _spec(name="[1, 2]")}, THEORY, r"name: must be text, got list"),
    "19-name-null": ({"s.yaml": _spec(name="null")}, THEORY, r"name: must be text, got NoneType"),
    "19-repeat-n": ({}, ["theory", "zero-mean", "--n", "5", "--n", "6"], r"argument --n/-n: given more than once"),
    "19-repeat-seed": ({}, ["train", "zero-mean", "--regime", "plain", "--n", "5", "--seed", "1", "--seed", "2"],
                       r"argument --seed: given more than once"),
    "19-repeat-regime": ({}, ["train", "zero-mean", "--regime", "plain", "--regime", "joint", "--n", "5"],
                         r"argument --regime: given more than once"),
    "19-samples-1": ({}, ["train", "zero-mean", "--regime", "plain", "--n", "5", "--samples", "1"],
                     r"argument --samples: expected an integer >= 1000, got '1'"),
    "19-badly-scaled-means": ({"s.yaml": "d: 2\nnoise: 0\ntasks:\n  - {weight: 0.5, mean: 1.0e+6, cov: 1.0e-12}\n"
                                         "  - {weight: 0.5, mean: -1.0e+6, cov: 1.0e-12}\n"},
                              ["train", "s.yaml", "--regime", "plain", "--n", "5"], r"badly scaled for training: .*ratio 1e\+12"),
    "19-every-number-1e-50": ({"s.yaml": "d: 2\nnoise: 1.0e-50\nx_cov: 1.0e-50\ntasks:\n  - {weight: 1, mean: 1.0e-50, cov: 1.0e-50}\n"},
                              ["train", "s.yaml", "--regime", "plain", "--n", "5"], r"has signal tr Sigma_tilde = .*train needs it within"),
    # 5. wrong exit status: bad --out refused before running, with status 2
    "19-out-under-a-file": ({"f.txt": "x"}, ["figures", "setting-mixture", "--smoke", "--out", "f.txt/sub"], r"f\.txt is not a folder"),
    "19-out-under-dev-full": ({}, ["figures", "setting-mixture", "--smoke", "--out", "/dev/full/x"], r"/dev/full is not a folder"),
    "19-out-dangling-symlink": ({"o": ("symlink", "nowhere")}, ["figures", "setting-mixture", "--smoke", "--out", "o"],
                                r"output path o is a dangling symbolic link"),
    "19-out-dot-force": ({"mine.txt": "mine"}, ["figures", "setting-mixture", "--smoke", "--out", ".", "--force"],
                         r"holds files that are not an earlier output of prompticl figures \(it has no provenance\.json\)"),
}
CORPUS.update(CORPUS_19)

#: Issue 24: prompticl sweep's grid files, refused before any point runs or any engine starts.
SWEEP_GRID = "mixtures: [zero-mean]\nn: [2]\nmodel: reduced\n"
CORPUS_24: dict[str, tuple[dict, list[str], str]] = {
    "24-sweep-ten-million-points": ({"g.yaml": "mixtures: [zero-mean]\nn: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\nregimes: [plain]\n"
                                               "model: trained\n"
                                               "seeds: 1000000\n"}, ["sweep", "g.yaml", "--out", "o"],
                                    r"10,000,000 points .* more than the limit 100,000"),
    "24-sweep-deep-grid": ({"g.yaml": "[" * 10000 + "]" * 10000}, ["sweep", "g.yaml", "--out", "o"], r"nested deeper than \d+ levels"),
    "24-sweep-laughs": ({"g.yaml": _laughs()}, ["sweep", "g.yaml", "--out", "o"], r"anchors|aliases"),
    "24-sweep-400-digit-n": ({"g.yaml": f"mixtures: [zero-mean]\nn: [{BIG}]\nmodel: reduced\n"}, ["sweep", "g.yaml", "--out", "o"],
                             r"400 digits"),
    "24-sweep-out-is-a-file": ({"g.yaml": SWEEP_GRID, "o": "mine"}, ["sweep", "g.yaml", "--out", "o"],
                               r"--out o exists and is not a results folder"),
    "24-sweep-grid-dev-zero": ({"g.yaml": ("symlink", "/dev/zero")}, ["sweep", "g.yaml", "--out", "o"], r"it is a device"),
}
CORPUS.update(CORPUS_24)

#: Issue 19: valid input that was refused or failed; id -> (files, arguments, regex stdout must match).
#: The promise: status 0, nothing on stderr, no control character on stdout.
CORPUS_OK: dict[str, tuple[dict, list[str], str]] = {
    "19-ok-x-cov-1e-12": ({"s.yaml": _spec(x_cov="1.0e-12")}, THEORY, r"spec s: d = 2"),
    "19-ok-escape-in-name": ({"s.yaml": _spec(name='"a\\e[31mred\\a"')}, THEORY, r"spec a\\x1b\[31mred\\x07: d = 2"),
    # issue 18: a deterministic task (cov 0) with σ = 0 made the full layer's solver hit a singular
    # system ("internal error (LinAlgError: Singular matrix)"); the optimum is finite and certified
    "18-ok-deterministic-task-full": (
        {"s.yaml": _spec(d="3", noise="0", tasks="[{weight: 0.3, mean: 1.4, cov: 0}, {weight: 0.7, mean: -0.6, cov: 1}]")},
        ["theory", "s.yaml", "--n", "10", "--model", "full"], r"\n +10 +1\.235\d* +1\.138\d* +0\.92\d* +0\.6 ",
    ),
}

#: Cases that were here and now live only where an in-process test already checks the same input
#: through the same code with the same promise (status 2, one line, no stdout, nothing written):
#: test_figures.py::test_out_of_range_and_unreadable_values_are_refused_before_running covers
#: figures -p seed 2001-13-45 / !!int abc / 9×5000, -p seed -1, -p spec_name '', -p ns [] / 0,-3
#: and --timeout 30.5; test_figures.py::test_hostile_params_file covers -f files with a bad date,
#: !!int abc, a 400-digit integer, byte 0xff, [×10000, a duplicate key and an out-of-range value;
#: test_figures.py::test_book_that_is_a_file covers --book FILE; test_cli_theory_full.py::
#: test_bad_model_is_a_clean_usage_error covers --model with an unknown name.


def _limits() -> None:  # runs in the child before exec
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def _child_env() -> dict:
    env = dict(os.environ, PYTHONPATH=str(SRC), OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    env.pop("PROMPTICL_TRACEBACK", None)
    return env


def run_corpus(corpus: dict, timeout: float = TIMEOUT, hard_timeout: float = HARD_TIMEOUT) -> tuple[dict, list]:
    """Run every case of ``corpus`` through :data:`DRIVER` in one subprocess (under ``RLIMIT_AS``);
    return each case's record and the list of driver runs.

    A driver that dies inside a case (the hard alarm, a crash) leaves that case without a record:
    it gets one saying so, with the tail of the driver's stderr (the stacks the hard alarm dumped),
    and the remaining cases run in a new driver, as they do after a driver that stopped on purpose
    (after a time-out, an exception that escaped ``main`` or a leak of process-wide state).
    """
    results: dict[str, dict] = {}
    runs: list[dict] = []
    todo = list(corpus)
    with tempfile.TemporaryDirectory() as tmp:
        while todo:
            cases_file, results_file = Path(tmp) / "cases.pickle", Path(tmp) / f"results-{len(runs)}.jsonl"
            cases_file.write_bytes(pickle.dumps({
                "timeout": timeout, "hard_timeout": hard_timeout,
                "cases": [(c, corpus[c][0], corpus[c][1]) for c in todo],
            }))
            try:
                proc = subprocess.run(
                    [sys.executable, str(DRIVER), str(cases_file), str(results_file)], cwd=tmp, env=_child_env(),
                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                    timeout=60 + len(todo) * hard_timeout, preexec_fn=_limits,
                )
                status, err = proc.returncode, proc.stderr
            except subprocess.TimeoutExpired as exc:  # the hard alarm did not fire either
                status, err = "killed: no end within the overall time-out", exc.stderr or b""
            err_tail = err.decode("utf-8", "replace")[-3000:]
            run = {"status": status, "stderr": err_tail, "prompticl": None, "cases": 0}
            runs.append(run)
            started = None
            lines = results_file.read_text(encoding="utf-8").splitlines() if results_file.exists() else []
            for line in lines:
                record = json.loads(line)
                if record["event"] == "hello":
                    run["prompticl"] = record["prompticl"]
                elif record["event"] == "start":
                    started = record["case"]
                else:
                    results[record["case"]] = record
                    run["cases"] += 1
                    started = None
            if started is not None:
                why = f"hard time-out after {hard_timeout} s" if "Timeout (" in err_tail else f"status {status}"
                results[started] = {"crashed": f"the driver ended during this case ({why})", "stderr": err_tail}
            elif not run["cases"]:  # nothing ran at all (an import failed?): no point in trying again
                for case in todo:
                    results[case] = {"crashed": f"the driver ran no case (status {status})", "stderr": err_tail}
            todo = [c for c in todo if c not in results]
    return results, runs


@pytest.fixture(scope="module")
def corpus_run() -> tuple[dict, list]:
    """The whole corpus, run once (each test below reads its case's record).

    Under pytest-xdist every worker that gets a corpus test would run the driver (``xdist_group``
    does not reach the scheduler with pytest 9, see tests/book/test_site.py): the first one runs it
    under a file lock and leaves the records in a file named after the test run; the others read it.
    """
    run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if run_id is None:  # a single process: nothing to share
        return run_corpus({**CORPUS, **CORPUS_OK})
    shared = Path(tempfile.gettempdir()) / f"prompticl-hostile-{run_id}.json"
    with open(Path(tempfile.gettempdir()) / "prompticl-hostile.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if shared.is_file():
            results, runs = json.loads(shared.read_text(encoding="utf-8"))
            return results, runs
        for stale in shared.parent.glob("prompticl-hostile-*.json"):
            stale.unlink(missing_ok=True)
        results, runs = run_corpus({**CORPUS, **CORPUS_OK})
        shared.write_text(json.dumps([results, runs]), encoding="utf-8")
        return results, runs


def assert_refused(rc: int, out: str, err: str, pattern: "str | None" = None) -> None:
    """The promise for bad input: exit 2, one stderr line, empty stdout, no traceback."""
    assert rc == 2, (rc, err[-500:])
    assert out == ""
    assert err.endswith("\n") and err.count("\n") == 1, err[-500:]
    assert err.startswith("prompticl: error: ") and "Traceback" not in err
    assert not any(ord(c) < 32 and c != "\n" for c in err), repr(err)
    if pattern is not None:
        import re

        assert re.search(pattern, err), (pattern, err)


def assert_case_refused(record: dict, pattern: str) -> None:
    """A driver record keeps the promise: no crash, time-out, escaped exception or leaked state;
    refused with ``pattern``; nothing written."""
    assert "crashed" not in record, f"{record.get('crashed')}:\n{record.get('stderr')}"
    assert not record["timed_out"], f"no answer within {TIMEOUT} s (stderr: {record['stderr'][-500:]!r})"
    assert record["exception"] is None, f"escaped cli.main:\n{record['exception']}"
    assert record["leaks"] == {}, f"changed process-wide state: {record['leaks']}"
    assert_refused(record["status"], record["stdout"], record["stderr"], pattern)
    assert record["before"] == record["after"]  # nothing written


def test_the_driver_runs_the_code_under_test(corpus_run):
    _, runs = corpus_run
    assert runs and all(Path(r["prompticl"] or "").resolve().is_relative_to(SRC.resolve()) for r in runs), runs


@pytest.mark.parametrize("case", sorted(CORPUS))
def test_hostile_corpus(case, corpus_run):
    results, _ = corpus_run
    assert_case_refused(results[case], CORPUS[case][2])


@pytest.mark.parametrize("case", sorted(CORPUS_OK))
def test_valid_input_corpus(case, corpus_run):
    """Valid input that was refused or failed (issue 19): status 0, a quiet stderr, stdout safe to show."""
    import re

    record = corpus_run[0][case]
    assert "crashed" not in record and not record["timed_out"] and record["exception"] is None, record
    assert record["status"] == 0 and record["stderr"] == "", record["stderr"][-500:]
    assert re.search(CORPUS_OK[case][2], record["stdout"]), record["stdout"][:500]
    assert not any(ord(c) < 32 and c != "\n" for c in record["stdout"]), repr(record["stdout"][:500])


# --------------------------------------------------------------------------- cases with a process of their own
# Each of these is about the state of file descriptor 1 or what the interpreter does at exit, so it
# needs a real `python -m prompticl` (process-global, and not something the driver can restore):
# - full disk: stdout is /dev/full, the failed write and main's dup2 of /dev/null onto fd 1, then the
#   interpreter's final flush (no 'Exception ignored' traceback);
# - closed stdout: fd 1 closed before Python starts, so sys.stdout is None from start-up on;
# - broken pipe: the reader goes away (SIGPIPE ignored by Python, EPIPE on write, exit-time flush).


def run_process(args: list[str], stdout=subprocess.PIPE, preexec_fn=_limits) -> tuple[int, str]:
    """Run ``python -m prompticl ARGS`` in an empty folder; return the exit status and stderr."""
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(
            [sys.executable, "-m", "prompticl", *args], cwd=tmp, env=_child_env(), stdin=subprocess.DEVNULL,
            stdout=stdout, stderr=subprocess.PIPE, timeout=TIMEOUT, preexec_fn=preexec_fn,
        )
    return proc.returncode, proc.stderr.decode("utf-8", "replace")


def test_full_disk_is_one_line_and_nonzero():  # own process: fd 1 is /dev/full
    with open("/dev/full", "wb") as full:
        rc, err = run_process(["theory", "zero-mean", "--n", "5"], stdout=full)
    assert rc == 1 and err == "prompticl: error: cannot write the output: No space left on device\n"


def test_closed_stdout_is_one_line_and_nonzero():  # own process: fd 1 closed before Python starts
    def close_stdout() -> None:
        _limits()
        os.close(1)

    rc, err = run_process(["theory", "zero-mean", "--n", "5"], stdout=None, preexec_fn=close_stdout)
    assert rc == 1 and err == "prompticl: error: cannot write the output: standard output is closed\n"


def test_broken_pipe_is_silent():  # own process: the reader of fd 1 goes away
    """A regression guard (this already held before issue 13): a reader that goes away is no error to report."""
    proc = subprocess.Popen([sys.executable, "-m", "prompticl", "theory", "zero-mean", "--n", *map(str, range(1, 1001))],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_child_env(),
                            preexec_fn=_limits)
    proc.stdout.read(10)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=TIMEOUT) == 1 and err == ""


def test_bad_input_with_closed_stdout_is_still_bad_input():  # own process: fd 1 closed (issue 19)
    def close_stdout() -> None:
        _limits()
        os.close(1)

    rc, err = run_process(["theory", "nope", "--n", "5"], stdout=None, preexec_fn=close_stdout)
    assert rc == 2 and err.startswith("prompticl: error: argument SPEC: spec 'nope' is neither") and err.count("\n") == 1, err


def test_version_under_a_small_address_space_cap():  # own process: RLIMIT_AS 150 MB (issue 19)
    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (150 * 2**20, 150 * 2**20))

    proc = subprocess.run([sys.executable, "-m", "prompticl", "--version"], env=_child_env(), stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=TIMEOUT, preexec_fn=cap)
    assert proc.returncode == 0 and proc.stdout.decode().startswith("prompticl ") and proc.stderr == b"", proc.stderr[-500:]


def test_ascii_output_encoding_escapes_instead_of_failing():  # own process: PYTHONIOENCODING (issue 19)
    proc = subprocess.run([sys.executable, "-m", "prompticl", "specs"], env={**_child_env(), "PYTHONIOENCODING": "ascii"},
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT, preexec_fn=_limits)
    assert proc.returncode == 0 and proc.stderr == b"", proc.stderr[-500:]
    assert b"\\xb7" in proc.stdout  # the middle dot of a description, escaped


def test_progress_on_a_full_stderr_keeps_the_result():  # own process: fd 2 is /dev/full (issue 19)
    with open("/dev/full", "wb") as full:
        proc = subprocess.run([sys.executable, "-m", "prompticl", "train", "zero-mean", "--regime", "plain", "--n", "5",
                               "--samples", "2000", "--ci", "0.05", "--progress", "--json"], env=_child_env(),
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=full, timeout=60, preexec_fn=_limits)
    assert proc.returncode == 0 and json.loads(proc.stdout)["regime"] == "plain"


#: A figures run whose chapter starts a child (as papermill starts a kernel) that writes on its
#: stderr and then fails: run_plan replaced, so no kernel is needed.
CHILD_WRITES_ON_STDERR = """
import subprocess, sys
from prompticl._commands import figures
from prompticl._figures import ChapterFailed
def run_plan(*args, **kwargs):
    child = subprocess.run([sys.executable, "-c", "import sys; sys.stderr.write('kernel line'); sys.stderr.flush()"])
    raise ChapterFailed(f"chapter fake failed (its child exited with {child.returncode})")
figures.run_plan = run_plan
from prompticl.cli import main
sys.exit(main(["figures", "setting-mixture", "--smoke", "--out", "o"]))
"""


def test_closed_stderr_reaches_neither_stdout_nor_a_child():  # own process: fd 2 closed (issue 19)
    """``2>&-``: the failure line is dropped (stdout stays empty, it went there through
    print(file=None)), and a child (a kernel) gets /dev/null as stderr instead of a closed fd 2 or
    whatever file took number 2, so its writes succeed (the kernel died before)."""
    def close_stderr() -> None:
        _limits()
        os.close(2)

    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run([sys.executable, "-c", CHILD_WRITES_ON_STDERR], cwd=tmp, env=_child_env(),
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, timeout=TIMEOUT, preexec_fn=close_stderr)
        assert os.listdir(tmp) == []
    assert proc.returncode == 1 and proc.stdout == b""
    # the same script with stderr open: the child's write and the one line arrive there
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run([sys.executable, "-c", CHILD_WRITES_ON_STDERR], cwd=tmp, env=_child_env(),
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT, preexec_fn=_limits)
    assert proc.returncode == 1 and proc.stdout == b""
    assert proc.stderr == b"kernel lineprompticl: error: chapter fake failed (its child exited with 0)\n"


def test_closed_stderr_child_exit_status():  # own process: what the child saw (issue 19)
    """The child of a run started with fd 2 closed exits 0 after writing on its stderr."""
    script = CHILD_WRITES_ON_STDERR.replace("raise ChapterFailed(", "print(child.returncode); raise ChapterFailed(")
    def close_stderr() -> None:
        _limits()
        os.close(2)

    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run([sys.executable, "-c", script], cwd=tmp, env=_child_env(),
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, timeout=TIMEOUT, preexec_fn=close_stderr)
    # print goes through main's guarded stdout: the child's status, then nothing else
    assert proc.returncode == 1 and proc.stdout == b"0\n"


def test_deleted_current_folder_is_one_line_exit_2(tmp_path):  # own process: its cwd is gone (issue 19)
    gone = tmp_path / "gone"
    gone.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "prompticl", "figures", "--list"], cwd=gone, env=_child_env(),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=lambda: (
                                _limits(), os.rmdir(gone)))
    out, err = proc.communicate(timeout=TIMEOUT)
    assert_refused(proc.returncode, out.decode(), err.decode(), r"the current folder no longer exists")


# --------------------------------------------------------------------------- property-based


def run_main(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli.main(argv)
    return rc, out.getvalue(), err.getvalue()


def _valid_n(text: str) -> bool:
    return text.isascii() and text.isdigit() and 1 <= int(text) <= 10**9


# (the corpus holds '+5', '1_000', ' 5 ', a fullwidth 5 and 5000 nines, each with its message)
@settings(max_examples=examples(40), deadline=None, derandomize=True)
@given(st.text(max_size=12).filter(lambda t: not _valid_n(t)))
def test_any_bad_n_is_refused(text):
    rc, out, err = run_main(["theory", "zero-mean", "--n", text])
    assert_refused(rc, out, err)


_POISON = st.one_of(
    st.integers(310, 3000).map(lambda k: "9" * k),
    st.integers(309, 9999).map(lambda e: f"1.5e+{e}"),
    st.tuples(st.integers(1000, 2999), st.integers(13, 99), st.integers(1, 28)).map(lambda t: "%04d-%02d-%02d" % t),
    st.tuples(st.sampled_from(["!!float", "!!int", "!!timestamp", "!!bool"]), st.from_regex(r"[a-z]{1,6}", fullmatch=True))
    .map(" ".join),
    st.integers(9, 300).map(lambda k: "[" * k + "]" * k),
    st.from_regex(r"[a-z]{1,5}", fullmatch=True).map(lambda a: f"&{a} 1"),
    st.from_regex(r"[a-z]{1,5}", fullmatch=True).map(lambda a: f"*{a}"),
)


@settings(max_examples=examples(40), deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(["d", "noise", "name", "description", "tasks", "x_cov"]), poison=_POISON,
       command=st.sampled_from(["theory", "train"]))
@example(field="d", poison="2001-13-45", command="train")
def test_any_poisoned_spec_is_refused(field, poison, command):
    text = _spec(**{field: poison})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.yaml"
        path.write_text(text, encoding="utf-8")
        extra = ["--regime", "plain"] if command == "train" else []
        rc, out, err = run_main([command, str(path), "--n", "5", *extra])
        assert sorted(p.name for p in Path(tmp).iterdir()) == ["s.yaml"]
    assert_refused(rc, out, err)


@settings(max_examples=examples(25), deadline=None, derandomize=True)
@given(d=st.integers(501, 10**300), K=st.integers(1, 3))
def test_any_too_large_d_is_refused_at_once(d, K):
    tasks = ", ".join(["{weight: %r, mean: 0, cov: 1}" % (1 / K)] * K) if K != 3 else \
        "{weight: 0.25, mean: 0, cov: 1}, {weight: 0.25, mean: 0, cov: 1}, {weight: 0.5, mean: 0, cov: 1}"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.yaml"
        path.write_text(f"d: {d}\nnoise: 0\ntasks: [{tasks}]\n", encoding="utf-8")
        rc, out, err = run_main(["theory", str(path), "--n", "5"])
    assert_refused(rc, out, err, r"the limit is d <= 500")


# --------------------------------------------------------------------------- large n


def _exact_losses(data: dict, n: int) -> dict[str, Fraction]:
    """The four closed forms of prompticl._closed_forms in exact rational arithmetic (d = 2, Σ_x = I)."""
    F = Fraction

    def mat(a):
        return [[F(v) for v in row] for row in a]

    def add(a, b, s=1):
        return [[a[i][j] + s * b[i][j] for j in range(2)] for i in range(2)]

    def scale(c, a):
        return [[c * a[i][j] for j in range(2)] for i in range(2)]

    def mul(a, b):
        return [[sum(a[i][k] * b[k][j] for k in range(2)) for j in range(2)] for i in range(2)]

    def inv(a):
        det = a[0][0] * a[1][1] - a[0][1] * a[1][0]
        return [[a[1][1] / det, -a[0][1] / det], [-a[1][0] / det, a[0][0] / det]]

    def tr(a):
        return a[0][0] + a[1][1]

    def tp(a):
        return [[a[j][i] for j in range(2)] for i in range(2)]

    eye = mat([[1, 0], [0, 1]])
    sb = mat([[0, 0], [0, 0]])
    mm = mat([[0, 0], [0, 0]])
    for t in data["tasks"]:
        w, mu = F(t["weight"]), [F(v) for v in t["mean"]]
        sb = add(sb, scale(w, mat(t["cov"])))
        mm = add(mm, scale(w, [[mu[i] * mu[j] for j in range(2)] for i in range(2)]))
    stl = add(sb, mm)
    s2 = F(data["noise"]) ** 2

    def loss(num, q):
        w = mul(num, inv(q))
        return w, tr(num) - n * tr(mul(w, num)) + s2

    w_pt, plain = loss(stl, add(scale(n + 1, stl), scale(tr(stl) + s2, eye)))
    r = add(scale(n, w_pt), eye, -1)
    finetune = plain - tr(mul(mm, mul(tp(r), r)))
    _, joint = loss(sb, add(add(scale(n + 1, sb), scale(tr(stl) + s2, eye)), mm))
    _, heads = loss(sb, add(scale(n + 1, sb), scale(tr(sb) + s2, eye)))
    return {"plain": plain, "finetune": finetune, "joint": joint, "joint-heads": heads}


#: Relative accuracy of the closed forms, stated in prompticl._limits, for n = 1 ... 10⁹.
REL_TOL = 1e-12


@pytest.mark.parametrize("noise", [0.0, 0.5])
def test_closed_forms_are_accurate_and_ordered_up_to_the_n_limit(noise):
    """Relative error <= REL_TOL against exact rationals for n = 1 ... 10⁹, and plain >= finetune >= joint.

    Without noise the losses are O(1/n) and the old subtraction lost 8 digits at n = 10⁹; with
    noise σ² dominates and the case is a guard.
    """
    # entries exact in binary, so the spec holds exactly the rationals of the reference
    data = {"d": 2, "noise": noise, "tasks": [
        {"weight": 0.25, "mean": [1.5, -0.5], "cov": [[1.0, 0.5], [0.5, 2.0]]},
        {"weight": 0.75, "mean": [-0.5, 0.25], "cov": [[0.5, -0.25], [-0.25, 0.75]]},
    ]}
    spec = spec_from_dict(data)
    ns = [1, 10, 1000, 10**6, 10**8, 10**9]
    got = optimal_losses(spec, ns)
    for i, n in enumerate(ns):
        exact = _exact_losses(data, n)
        for regime, value in exact.items():
            rel = abs(Fraction(float(got[regime][i])) - value) / value
            assert rel <= REL_TOL, (regime, n, float(rel))
        assert got["plain"][i] >= got["finetune"][i] >= got["joint"][i], n


@pytest.mark.parametrize("name", ["zero-mean", "nonzero-mean"])  # the two whose order broke at n = 10⁹
def test_regime_order_holds_at_the_n_limit(name):
    got = optimal_losses(load_spec(name), [10**6, 10**8, 10**9])
    assert np.all(got["plain"] >= got["finetune"]) and np.all(got["finetune"] >= got["joint"]), got
