"""Limits of the command line, checked before any work

The largest problems the command line accepts, and the checks that refuse bigger ones up front.

Every limit comes from ``benchmarks/bench_limits.py`` (results in ``benchmarks/results-limits.json``;
the README of the command line's limits is this module).  Measured on the 2-core, 24 GB machine of
the project, each case in a fresh process:

* ``theory``: one context length at d = 500 answers in 0.25 s (61 MB), d = 1000 in 0.8 s (143 MB),
  d = 2000 in 5.8-9.6 s (435 MB); the work per context length grows like d³ (4-10 ms per n up to
  d = 200, 75-160 ms per n at d = 500, depending on the load).  The spec itself is
  validated with one eigendecomposition per task covariance (K·d³).
* ``train`` (ALS, 100,000 prompts, joint regime): d = 30 takes 6-7.6 s and 0.71 GB, d = 40 16 s
  (over 60 s when the machine is loaded) and 1.2 GB while the sample's moments (K·(d+1)⁴ numbers)
  are stored; beyond 2²⁴ of them the trainer keeps the sample and contracts the (d+1)² statistics a
  sweep needs (``prompticl._streamed_stats``): memory then grows like (d+1)², time like
  samples·(d+1)³ per sweep (``benchmarks/bench_layer_scaling.py``, issue 23).  End to end at d = 100
  with the fewest prompts the command accepts, 2(d+1)² = 20,402 (n = 50, ``--ci 0.02``): 781 s CPU and
  a peak of 509 MiB; d = 60 with the same sample: 366 s and 280 MiB (``results-layer-scaling.json``,
  label ``cli``).  The joint budget's estimate (:data:`STREAM_SECONDS_PER_UNIT`) is four (d = 60)
  to eight (d = 100) times these CPU times, so ``--allow-long`` is asked for well before a run would
  take the budget's 120 s.
  Sampling time grows like samples·(d+1)² and with K.  The prompt length only sizes the returned prompt
  tokens, K·prompt_len·(d+1) numbers.
* the theory's closed forms are accurate to a relative 1e-12 up to n = 10⁹ (cancellation-free forms in
  :mod:`prompticl._closed_forms`, checked against exact rational arithmetic in ``tests/unit/test_hostile.py``); the
  trainer's sample Gram matrices grow like n, and its test loss was +14.9% off theory at n = 10⁹ (within its interval at 10⁶).

Each check raises :class:`LimitError` (a :class:`ValueError`) with one line saying the limit and why,
before anything is allocated.  On top of the single limits, a joint cost budget (:data:`BUDGET_SECONDS`,
section "joint cost budget" below) estimates the time of ``train`` (ALS or Adam, and the test loss at
the requested ``--ci``) and of ``theory --model full`` from measured coefficients
(``benchmarks/bench_limits.py --costs``) and refuses more than the budget unless ``--allow-long``.

The book's page "Reproducing and regenerating the figures" lists the limits.
"""
from __future__ import annotations

from typing import Sequence

#: Largest feature dimension of a spec (theory at d = 500 answers in about 0.3 s, 60 MB).
MAX_D = 500
#: Most tasks in a spec (validating K covariances costs K·d³: 50 at d = 500 is about 2 s, 0.3 GB).
MAX_K = 50
#: Largest context length (the closed forms are accurate to 1e-12 relative up to here).
MAX_N = 10**9
#: Most context lengths in one ``theory`` call.
MAX_N_VALUES = 1000
#: Largest ``len(n)·d³`` of one ``theory`` call: 16 values at d = 500, 250 at d = 200, 1000 up
#: to d = 126 (about 4 s at d = 100; 100 values at d = 500 took 7.5-16 s, 1000 at d = 200 5-11 s).
THEORY_WORK = 2 * 10**9
#: Largest d for ``train`` (d = 30: 7.6 s and 0.71 GB; beyond 2²⁴ moment numbers the streamed
#: sample keeps memory at O(samples·(d+1)²) and the time is samples·(d+1)³ per sweep: see the budget).
MAX_TRAIN_D = 100
#: Most tasks for ``train`` (each task adds its moments and a block to the least-squares solves).
MAX_TRAIN_K = 16
#: Largest context length for ``train``: measured test loss within its 95% interval of theory up to
#: here (nonzero-mean, plain and joint, n = 10⁶: -0.11%); at n = 10⁹ the gap was +14.9%.
MAX_TRAIN_N = 10**6
#: Largest ``samples·(d+1)²`` for ``train``: the fewest prompts the command accepts, 2(d+1)², at the
#: largest d, :data:`MAX_TRAIN_D` (2·101⁴ ≈ 2.1e8; sampling them took about 17 s).  The earlier
#: 100,000·31² (the default sample at d = 30) refused every ``--samples`` beyond d = 82, since 2(d+1)²
#: prompts were then already too many.  The time of the fit is the joint budget's business.
SAMPLE_WORK = 2 * (MAX_TRAIN_D + 1) ** 4
#: Largest prompt length (prompt tokens per task) for ``train``.
MAX_PROMPT_LEN = 1000


class LimitError(ValueError):
    """A problem larger than the command line supports; the message is one line with the limit and why."""


def _gib(n_bytes: float) -> str:
    if n_bytes >= 2**30:
        return f"{n_bytes / 2**30:.3g} GB"
    return f"{n_bytes / 2**20:.3g} MB"


def _int(v: int) -> str:
    """An integer for a message: in full up to 12 digits, else like 1.2e+300 (one short line)."""
    return str(v) if abs(v) < 10**12 else f"{float(v):.3g}" if abs(v) < 10**300 else "more than 1e300"


def check_spec_size(d: int, K: int) -> None:
    """Refuse a spec with ``d > MAX_D`` or ``K > MAX_K`` (called before any matrix is built)."""
    if d > MAX_D:
        fd = float(min(d, 10**100))
        need = 8.0 * fd * fd * (2 * K + 6)  # covariances, their whitened copies and square roots, moments
        raise LimitError(
            f"d = {_int(d)} needs about {_gib(need)} for the covariances and {fd * fd * fd:.2g} operations "
            f"per context length; the limit is d <= {MAX_D}"
        )
    if K > MAX_K:
        raise LimitError(
            f"K = {_int(K)} tasks need K eigendecompositions of d x d covariances to validate; the limit is K <= {MAX_K}"
        )


def check_theory(d: int, ns: Sequence[int]) -> None:
    """Refuse a ``theory`` call with too many context lengths for its dimension."""
    count = len(ns)
    if count > MAX_N_VALUES:
        raise LimitError(f"--n has {count} values; the limit is {MAX_N_VALUES} per call")
    work = count * d**3
    if work > THEORY_WORK:
        most = max(1, THEORY_WORK // d**3)
        raise LimitError(
            f"--n has {count} values at d = {d}: each costs O(d^3) = {d**3:.3g} operations; the limit is "
            f"len(n) x d^3 <= {THEORY_WORK:.3g} (a few seconds), here at most {most} values"
        )


#: ``sweep``: most points of a grid unless ``--max-points`` says otherwise.  10^5 trained points are
#: about 20 core-hours (0.77 CPU s each, benchmarks/results-sweep.json), and the list of points alone
#: holds about 1 KB per point in the client.
MAX_POINTS = 100_000

#: ``theory --model full``: the certified layer optimum of one n (four regimes, O(d³) per step, no
#: (d+1)⁴ tensor) takes 0.8 s CPU at d = 10, 1.5 s at d = 40 and 4.4 s at d = 100, under 75 MB
#: (benchmarks/results-layer-scaling.json; before issue 23: 21 s and 281 MB at d = 40).
MAX_LAYER_D = 100
#: ``theory --model full``: context lengths per call (each one is a separate certified optimisation).
MAX_LAYER_N_VALUES = 20
#: ``theory --model full``: largest context length.  The certificate (relative stationarity and a
#: positive definite Hessian) held for every built-in spec at n = 1000 and failed for zero-mean at
#: n = 10,000 (joint: stationarity 8.8e-6) and for anisotropic at n = 3000: beyond here the losses
#: differ from their n → ∞ limit by less than the optimiser's tolerance.
MAX_LAYER_N = 1000
#: ``theory --model full``: tasks (the Hessian that certifies the optimum has about K(2d + 1) rows).
MAX_LAYER_K = 16


def check_layer(d: int, ns: Sequence[int], K: int = 1) -> None:
    """Refuse a ``theory --model full`` call beyond the layer optimiser's measured limits."""
    if K > MAX_LAYER_K:
        raise LimitError(f"--model full with K = {_int(K)} tasks; the limit is K <= {MAX_LAYER_K}")
    if d > MAX_LAYER_D:
        raise LimitError(
            f"--model full at d = {_int(d)}: the certified layer optimum costs O(d^3) per step (about 5 s per n at d = 100); "
            f"the limit is d <= {MAX_LAYER_D}"
        )
    if max(ns, default=1) > MAX_LAYER_N:
        raise LimitError(
            f"--model full at n = {_int(max(ns))}: the certified layer optimum holds up to n = {MAX_LAYER_N} (beyond, "
            f"the optimiser cannot certify the tiny differences between regimes); the limit is n <= {MAX_LAYER_N}, "
            "and --model reduced gives the closed forms up to n = 1e9"
        )
    if len(ns) > MAX_LAYER_N_VALUES:
        raise LimitError(
            f"--model full with {len(ns)} values of --n: each is a certified optimisation of about a second; "
            f"the limit is {MAX_LAYER_N_VALUES} values per call"
        )


def check_train(d: int, K: int, n: int, samples: int, prompt_len: int) -> None:
    """Refuse a ``train`` run beyond the trainer's measured limits (before any sampling)."""
    if d > MAX_TRAIN_D:
        raise LimitError(
            f"train at d = {d}: every least-squares sweep contracts the whole sample, samples x (d+1)^3 work; "
            f"the limit is d <= {MAX_TRAIN_D}"
        )
    if K > MAX_TRAIN_K:
        raise LimitError(f"train with K = {K} tasks: each adds moments and least-squares blocks; the limit is K <= {MAX_TRAIN_K}")
    if n > MAX_TRAIN_N:
        raise LimitError(
            f"train at n = {_int(n)}: sampled Gram matrices grow like n and the fit loses accuracy; the limit is "
            f"n <= {MAX_TRAIN_N} (theory goes to {MAX_N})"
        )
    if samples * (d + 1) ** 2 > SAMPLE_WORK:
        most = SAMPLE_WORK // (d + 1) ** 2
        raise LimitError(
            f"--samples {_int(samples)} at d = {d}: sampling time grows like samples x (d+1)^2 (10^5 prompts at d = 30 "
            f"take about 8 s); the limit is samples x (d+1)^2 <= {SAMPLE_WORK:.3g}, here at most {most}"
        )
    if prompt_len > MAX_PROMPT_LEN:
        need = 8.0 * K * prompt_len * (d + 1)
        raise LimitError(
            f"--prompt-len {_int(prompt_len)} needs about {_gib(need)} for the prompt tokens; the limit is {MAX_PROMPT_LEN}"
        )


#: Largest memory of one Adam step's batches (tokens, activations and gradients, about 4 copies).
ADAM_BYTES = 2 * 2**30


#: Most Adam steps (a run of the default size takes about 0.1 s per step).
MAX_ADAM_STEPS = 10**6


def check_adam(d: int, K: int, n: int, batch: int, steps: int = 1) -> None:
    """Refuse an Adam run whose batches of ``batch`` prompts per task would not fit in memory
    (measured model :func:`adam_bytes`: tokens, per-prompt Gram matrices, activations, gradients),
    or with more than :data:`MAX_ADAM_STEPS` steps."""
    if steps > MAX_ADAM_STEPS:
        raise LimitError(f"--steps {_int(steps)}: the limit is {MAX_ADAM_STEPS} Adam steps")
    need = adam_bytes(d, K, n, batch)
    if need > ADAM_BYTES:
        raise LimitError(
            f"--method adam with --batch {_int(batch)} at n = {_int(n)}, d = {d}, K = {K} needs about {_gib(need)} "
            f"per step (measured: about {ADAM_BYTES_PER_TOKEN_UNIT:g} bytes per token number and "
            f"{ADAM_BYTES_PER_GRAM_UNIT:g} per Gram entry); the limit is {_gib(ADAM_BYTES)}"
        )


def check_context_length(n) -> int:
    """Return the context length ``n`` as an int if it is an integer ``>= 1``, else raise ``ValueError``."""
    try:
        ok = int(n) == n and n >= 1
    except (TypeError, ValueError, OverflowError):  # None, NaN, inf, text
        ok = False
    if not ok:
        raise ValueError(f"context length must be an integer >= 1, got {n!r}")
    return int(n)


# --------------------------------------------------------------------------- joint cost budget
# Every limit above holds alone; these estimates refuse combinations that each pass alone but
# together run for minutes or allocate GiBs.  The coefficients are measured by
# ``benchmarks/bench_limits.py --costs`` (section "cost_models" of benchmarks/results-limits.json)
# on the shared 2-core machine under load, rounded up: an estimate errs on the long side.

#: Estimated seconds beyond which a command is refused unless ``--allow-long`` is given.
BUDGET_SECONDS = 120.0
#: Start-up, imports and fixed work of ``train`` (seconds).
TRAIN_FIXED_SECONDS = 3.0
#: ALS: seconds per unit of ``K·(d+1)⁴`` (each iteration contracts K moment tensors of (d+1)⁴
#: numbers; d = 30, K = 4 took 80 s, d = 10, K = 8 took 5 s).
ALS_SECONDS_PER_UNIT = 2.2e-5
#: ALS: the sample's moment tensors are stored while they hold at most this many numbers
#: (``K·(d+1)⁴``, 128 MiB); beyond, the streamed sample (``prompticl._streamed_stats``).
DENSE_MOMENT_NUMBERS = 2**24
#: ALS on the streamed sample: seconds per unit of ``samples·(d+1)³`` (every sweep contracts the
#: sample; 4 starts of about 40 sweeps; d = 40, 2,000 prompts, K = 2: 14 s CPU; rounded up for load).
STREAM_SECONDS_PER_UNIT = 3e-7
#: ALS: seconds per unit of ``samples·(d+1)²`` (drawing the sample and its moments).
ALS_SAMPLE_SECONDS_PER_UNIT = 8e-8
#: Adam: seconds per unit of ``K·batch·((n+1)(d+1) + (d+1)²)`` per step (0.08-0.1 s per step at
#: d = 10, K = 2, n = 10, batch 512).
ADAM_SECONDS_PER_UNIT = 4e-7
#: Adam memory: bytes per unit of ``K·batch·(n+1)(d+1)`` (tokens) and of ``K·batch·(d+1)²``
#: (per-prompt Gram matrices, activations, gradients); batch 200,000 at d = 2 peaked at 255 MB,
#: batch 20,000 at d = 30 at 774 MB.
ADAM_BYTES_PER_TOKEN_UNIT = 12.0
ADAM_BYTES_PER_GRAM_UNIT = 32.0
#: Test-loss estimate: seconds per test prompt, ``EVAL_SECONDS_FIXED + EVAL_SECONDS_PER_D2·(d+1)²``
#: (27 µs at d = 10, 60 µs at d = 30).
EVAL_SECONDS_FIXED = 20e-6
EVAL_SECONDS_PER_D2 = 5e-8
#: ``theory --model full``: seconds per context length, ``K·(LAYER_FIXED + LAYER_PER_UNIT·(d+1)³)``
#: (CPU, K = 2: 0.8 s at d = 10, 1.5 s at d = 40, 4.4 s at d = 100, benchmarks/bench_layer_scaling.py;
#: rounded up threefold for load).
LAYER_FIXED_SECONDS = 1.2
LAYER_SECONDS_PER_UNIT = 5e-6


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} minutes"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds / 86400:.3g} days"


def eval_samples_estimate(ci: float) -> float:
    """Test prompts :func:`prompticl._evaluation.test_loss` draws for a relative 95% half-width ``ci``
    (per-prompt losses with a coefficient of variation about 1), capped at its maximum."""
    from ._evaluation import MAX_TEST_SAMPLES

    return min(float(MAX_TEST_SAMPLES), 1.2 * (1.96 / ci) ** 2)


def train_cost(d: int, K: int, n: int, *, method: str = "als", samples: int = 100_000, steps: int = 0,
               batch: int = 0, ci: float = 0.005) -> "dict[str, float]":
    """Estimated seconds of a ``train`` run, by part (``train``, ``test``), and Adam's peak bytes."""
    D = d + 1
    if method == "adam":
        per_step = ADAM_SECONDS_PER_UNIT * K * batch * ((n + 1) * D + D * D)
        fit = TRAIN_FIXED_SECONDS + steps * per_step
    else:
        fit = TRAIN_FIXED_SECONDS + ALS_SAMPLE_SECONDS_PER_UNIT * samples * D * D
        if K * D**4 <= DENSE_MOMENT_NUMBERS:
            fit += ALS_SECONDS_PER_UNIT * K * D**4
        else:
            fit += STREAM_SECONDS_PER_UNIT * samples * D**3
    test = eval_samples_estimate(ci) * (EVAL_SECONDS_FIXED + EVAL_SECONDS_PER_D2 * D * D)
    return {"train": fit, "test": test, "seconds": fit + test}


def adam_bytes(d: int, K: int, n: int, batch: int) -> float:
    """Estimated peak bytes of one Adam step (measured model, see :data:`ADAM_BYTES_PER_TOKEN_UNIT`)."""
    D = d + 1
    return 60e6 + K * batch * (ADAM_BYTES_PER_TOKEN_UNIT * (n + 1) * D + ADAM_BYTES_PER_GRAM_UNIT * D * D)


def check_budget(seconds: float, what: str, allow_long: bool, hint: str = "") -> None:
    """Refuse work estimated above :data:`BUDGET_SECONDS` unless ``allow_long`` (``--allow-long``)."""
    if allow_long or seconds <= BUDGET_SECONDS:
        return
    raise LimitError(
        f"{what} would take about {_duration(seconds)} (estimated from measured costs); the budget is "
        f"{BUDGET_SECONDS:.0f} s: {hint + ', or ' if hint else ''}pass --allow-long to run it anyway"
    )


def check_train_budget(d: int, K: int, n: int, *, method: str, samples: int, steps: int, batch: int, ci: float,
                       allow_long: bool) -> "dict[str, float]":
    """Refuse a ``train`` run whose estimated time exceeds the budget (the arguments together)."""
    cost = train_cost(d, K, n, method=method, samples=samples, steps=steps, batch=batch, ci=ci)
    if method == "adam":
        what = f"train --method adam --steps {_int(steps)} --batch {_int(batch)} at d = {d}, K = {K}, n = {_int(n)}"
        hint = "lower --steps or --batch"
    else:
        what = f"train (ALS, --samples {_int(samples)}) at d = {d}, K = {K} tasks, n = {_int(n)}"
        hint = "use a spec with fewer tasks or a smaller d"
    if cost["test"] > cost["train"]:
        what += f" with --ci {ci:g} (about {eval_samples_estimate(ci):.3g} test prompts)"
        hint = "raise --ci"
    check_budget(cost["seconds"], what, allow_long, hint)
    return cost


def layer_cost(d: int, K: int, count: int) -> float:
    """Estimated seconds of ``theory --model full`` with ``count`` context lengths."""
    return count * K * (LAYER_FIXED_SECONDS + LAYER_SECONDS_PER_UNIT * (d + 1) ** 3)


#: ``theory --model bayes``: largest d (the Monte Carlo floor does K + 1 SVDs of n×d per draw).
MAX_BAYES_D = 100
#: ``theory --model bayes``: largest context length (the draws hold n×d matrices; n = 200 at d = 10
#: took 4.2 s for 4000 draws under load).
MAX_BAYES_N = 10_000
#: ``theory --model bayes``: seconds per unit of ``draws·(K + 1)·(n·d² + d³)`` and per context length
#: (measured 1.5e-8 to 8.3e-8 s per unit at d = 4-10, K = 2-3, n = 5-200 under load 6).
BAYES_SECONDS_PER_UNIT = 1.5e-7
BAYES_FIXED_SECONDS = 0.05


def check_bayes(d: int, ns: Sequence[int]) -> None:
    """Refuse a ``theory --model bayes`` call beyond the Monte Carlo floor's limits."""
    if d > MAX_BAYES_D:
        raise LimitError(f"--model bayes at d = {_int(d)}: each draw costs K + 1 SVDs of n x d; the limit is d <= {MAX_BAYES_D}")
    if max(ns, default=0) > MAX_BAYES_N:
        raise LimitError(
            f"--model bayes at n = {_int(max(ns))}: the Monte Carlo draws hold n x d matrices; the limit is "
            f"n <= {MAX_BAYES_N}"
        )


def bayes_cost(d: int, K: int, ns: Sequence[int], samples: int) -> float:
    """Estimated seconds of ``theory --model bayes`` (every n by Monte Carlo: an upper estimate)."""
    return sum(BAYES_FIXED_SECONDS + BAYES_SECONDS_PER_UNIT * samples * (K + 1) * (n * d * d + d**3) for n in ns)


#: ``train --layers``: largest d, context length, layer count and task count of the JAX trainer
#: (its tokens are (n + 2)·(d + 1) numbers per prompt, a fit runs hundreds of L-BFGS iterations).
MAX_DEEP_D = 20
MAX_DEEP_N = 200
MAX_DEEP_LAYERS = 4
MAX_DEEP_K = 8
#: ``train --layers``: fixed seconds (imports, JIT compilation) and seconds per unit of
#: ``starts·(Σ_{l≤L} l)·samples·K·(n+2)·(d+1)²`` for an assumed 300 L-BFGS iterations.  Rough:
#: measured 7e-8 s per unit and iteration at load 33 on the 2 shared cores (d = 10, n = 10), so an
#: idle machine is taken as about 7 times faster.
DEEP_FIXED_SECONDS = 10.0
DEEP_SECONDS_PER_UNIT = 300 * 1e-8


def check_deep(d: int, K: int, n: int, layers: int) -> None:
    """Refuse a ``train --layers`` run beyond the JAX trainer's limits (before any work)."""
    for value, limit, what in ((d, MAX_DEEP_D, "d"), (K, MAX_DEEP_K, "K (tasks)"), (n, MAX_DEEP_N, "n"),
                               (layers, MAX_DEEP_LAYERS, "--layers")):
        if value > limit:
            raise LimitError(f"train --layers: {what} = {_int(value)}; the JAX trainer's limit is {what} <= {limit}")


def deep_cost(d: int, K: int, n: int, layers: int, samples: int, starts: int) -> float:
    """Estimated seconds of ``train --layers`` (the nested fits of 1..L layers and their starts)."""
    return DEEP_FIXED_SECONDS + DEEP_SECONDS_PER_UNIT * starts * layers * (layers + 1) / 2 * samples * K * (n + 2) * (d + 1) ** 2
