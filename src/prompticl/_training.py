"""Trainers for the one-layer linear attention model in the four regimes.

Two optimisers:

* ``als`` (default): empirical risk minimisation on a fixed, seeded training sample of ``N`` prompts
  in the effective parametrisation ``ŷ = xᵀ(A G b_k + c_k)`` (see :mod:`prompticl.attention`), with
  the query integrated out analytically: ``E_x[(ŷ − y)²] = (w − β)ᵀΣ_x(w − β) + σ²``,
  ``w = A G b_k + c_k``.  The risk is a quartic polynomial whose coefficients are the sample moments
  ``Σ G⊗G``, ``Σ β⊗G``, ``Σ G``, ``Σ β``, ``Σ ββᵀ`` per task (:class:`prompticl.sufficient_stats.SampleStats`), so after one pass
  over the sample every iteration costs ``O(D⁴)``, independent of ``N`` and ``n``.  The risk is linear
  least squares in ``(A, c)`` for fixed ``b`` and in ``b`` (or each ``b_k``) for fixed ``(A, c)``:
  alternating exact solves decrease it monotonically.  The result is mapped back exactly to raw
  parameters (query/key/value maps, prompt tokens, heads).
* ``adam``: the authors' optimiser on the raw parameters (Adam, learning rate 1e-3, L2 weight decay
  1e-3, fresh batches of 3072 prompts per task and step) with the analytic gradients of
  :func:`prompticl.attention.mse_and_grad`; kept for comparison.

Regimes: ``plain`` (no prompts, fixed read-out), ``finetune`` (attention pretrained on the mixture
without prompts, then frozen while the prompts are fitted), ``joint`` (prompts and attention),
``joint-heads`` (prompts, heads and attention).  Chapter 07 (experiments) trains with these.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .attention import (
    AttentionParams,
    Effective,
    context_tokens,
    effective,
    gram,
    init_params,
    mse_and_grad,
    to_params,
)
from .progress import progress_bar
from .sampling import sample_batch, seed_streams
from .sufficient_stats import SampleStats, b_quadratic, empirical_risk, sample_stats
from .spec import Spec
from .theory import REGIMES

__all__ = [
    "TrainResult",
    "ALSTrace",
    "als",
    "fit_biases",
    "train",
    "train_als",
    "train_adam",
    "DEFAULT_TRAIN_SAMPLES",
]

#: Default training-sample size: the excess risk of ERM is about (#parameters/N)·L ≈ 0.15%.
DEFAULT_TRAIN_SAMPLES = 100_000


def _solve_A_c(
    st: SampleStats, b: np.ndarray, with_bias: bool, ridge: float, a_free: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares ``(A, c)`` for fixed read-outs ``b`` (K, D); columns of ``A`` outside ``a_free`` stay 0."""
    K, d, D = st.weights.shape[0], st.beta.shape[1], b.shape[1]
    idx = np.flatnonzero(a_free)
    F = idx.size
    size = F + (K if with_bias else 0)
    Phi = np.zeros((size, size))
    Psi = np.zeros((d, size))
    for k, pi in enumerate(st.weights):
        U = np.einsum("ijlm,j,m->il", st.GG[k], b[k], b[k])[np.ix_(idx, idx)]
        ubar = (st.G[k] @ b[k])[idx]
        Phi[:F, :F] += pi * U
        Psi[:, :F] += pi * np.einsum("aij,j->ai", st.BG[k], b[k])[:, idx]
        if with_bias:
            Phi[:F, F + k] += pi * ubar
            Phi[F + k, :F] += pi * ubar
            Phi[F + k, F + k] += pi
            Psi[:, F + k] += pi * st.beta[k]
    Phi = 0.5 * (Phi + Phi.T)
    Phi[np.diag_indices(size)] += ridge * np.trace(Phi) / size
    theta = np.linalg.solve(Phi, Psi.T).T
    A = np.zeros((d, D))
    A[:, idx] = theta[:, :F]
    c = theta[:, F:].T if with_bias else np.zeros((K, d))
    return A, c


def _solve_b(
    st: SampleStats,
    A: np.ndarray,
    c: np.ndarray,
    heads: bool,
    ridge: float,
    b_free: np.ndarray,
    shared_scale: bool = False,
) -> np.ndarray:
    """Least-squares read-outs for fixed ``(A, c)``: one shared ``b`` or one ``b_k`` per task.

    Coordinates outside ``b_free`` stay 0.  With heads and ``shared_scale`` the label coordinates
    ``b_{k,y}`` are tied to one common value (the reduced model's class with task centres).
    """
    K = st.weights.shape[0]
    D = A.shape[1]
    idx = np.flatnonzero(b_free)
    quads = [b_quadratic(st, k, A, c[k]) for k in range(K)]
    if heads and shared_scale:
        return _solve_b_shared_scale(st.weights, quads, ridge, b_free)

    def solve(H: np.ndarray, l: np.ndarray) -> np.ndarray:
        H = H[np.ix_(idx, idx)]
        H = H + ridge * np.trace(H) / idx.size * np.eye(idx.size)
        out = np.zeros(D)
        out[idx] = -np.linalg.solve(H, l[idx])
        return out

    if heads:
        return np.stack([solve(H, l) for H, l, _ in quads])
    H = sum(pi * q[0] for pi, q in zip(st.weights, quads))
    l = sum(pi * q[1] for pi, q in zip(st.weights, quads))
    return np.tile(solve(H, l), (K, 1))


def _solve_b_shared_scale(
    weights: np.ndarray, quads: list, ridge: float, b_free: np.ndarray
) -> np.ndarray:
    """Per-task read-outs ``b_k = [b_kx; t]`` with one shared label coordinate ``t`` (joint least squares)."""
    K = weights.shape[0]
    D = b_free.shape[0]
    xs = np.flatnonzero(b_free[:-1])
    F = xs.size
    size = K * F + (1 if b_free[-1] else 0)
    # S_k maps the unknowns (b_1x, …, b_Kx, t) to b_k
    Phi = np.zeros((size, size))
    rhs = np.zeros(size)
    sel = []
    for k in range(K):
        S = np.zeros((D, size))
        S[xs, k * F + np.arange(F)] = 1.0
        if b_free[-1]:
            S[-1, -1] = 1.0
        sel.append(S)
        H, l, _ = quads[k]
        Phi += weights[k] * S.T @ H @ S
        rhs -= weights[k] * S.T @ l
    Phi = 0.5 * (Phi + Phi.T)
    Phi[np.diag_indices(size)] += ridge * np.trace(Phi) / max(size, 1)
    u = np.linalg.solve(Phi, rhs)
    return np.stack([S @ u for S in sel])


@dataclass(frozen=True)
class ALSTrace:
    """Optimisation record of an ALS run: risk after each iteration."""

    risks: np.ndarray
    iterations: int
    converged: bool


def als(
    st: SampleStats,
    b0: np.ndarray,
    *,
    heads: bool,
    with_bias: bool,
    max_iter: int = 2000,
    tol: float = 1e-12,
    ridge: float = 1e-12,
    progress: bool = False,
    reduced: bool = False,
    a_free: "np.ndarray | None" = None,
    b_free: "np.ndarray | None" = None,
    shared_scale: bool = False,
) -> tuple[Effective, ALSTrace]:
    """Alternating exact least squares from initial read-outs ``b0`` (K, D).

    ``reduced=True`` pins the features the reduced model lacks to zero: ``a_y = 0`` and, without
    heads, ``b_x = 0`` (with heads ``b_kx`` are the task centres of the reduced model; callers that
    want exactly the reduced class with heads also pass ``shared_scale=True``, as :func:`train_als` does).

    Finer constraints (used by :mod:`prompticl.layer_optimum` for the nested model classes):
    ``a_free`` / ``b_free`` (boolean, length D) mark the free columns of ``A`` and coordinates of
    the read-outs (they override ``reduced``); ``shared_scale=True`` with heads ties the label
    coordinates ``b_{k,y}`` of all tasks to one value.

    Stops when the relative decrease of the risk over 10 iterations falls below ``tol`` · 10.
    """
    D = b0.shape[1]
    if a_free is None:
        a_free = np.ones(D, dtype=bool)
        if reduced:
            a_free[-1] = False
    if b_free is None:
        b_free = np.ones(D, dtype=bool)
        if reduced and not heads:
            b_free[:-1] = False
    a_free = np.asarray(a_free, dtype=bool)
    b_free = np.asarray(b_free, dtype=bool)
    if heads and shared_scale:
        # start from a common label coordinate
        b0 = b0.copy()
        b0[:, -1] = np.mean(b0[:, -1])
    b = b0 * b_free
    risks = []
    bar = progress_bar(max_iter, progress, "ALS")
    converged = False
    it = 0
    for it in range(1, max_iter + 1):
        A, c = _solve_A_c(st, b, with_bias, ridge, a_free)
        b = _solve_b(st, A, c, heads, ridge, b_free, shared_scale)
        risks.append(empirical_risk(st, Effective(A, b, c)))
        # the model is invariant under (A, b) -> (tA, b/t): fix the scale of b, the next (A, c) adapts
        b = b / max(np.linalg.norm(b), 1e-300)
        if bar is not None:
            bar.update(1)
        if it > 10 and risks[-11] - risks[-1] <= tol * 10 * abs(risks[-1]):
            converged = True
            break
    if bar is not None:
        bar.close()
    A, c = _solve_A_c(st, b, with_bias, ridge, a_free)  # final (A, c) consistent with the last b
    # balance the two factors (‖A‖_F = ‖b‖) so the raw parameters are well scaled
    t = np.sqrt(np.linalg.norm(b) / max(np.linalg.norm(A), 1e-300))
    eff = Effective(A * t, b / t, c)
    return eff, ALSTrace(np.array(risks), it, converged)


def fit_biases(st: SampleStats, A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Optimal task biases for frozen ``(A, b)``: ``c_k = mean_k(β − A G b_k)`` (the prompt phase)."""
    return np.stack([st.beta[k] - A @ st.G[k] @ b[k] for k in range(st.weights.shape[0])])


@dataclass
class TrainResult:
    """A trained model and how it was obtained.

    Attributes
    ----------
    regime, n, seed, method : identification of the run
    params : AttentionParams
        Raw parameters (query/key/value maps, prompt tokens, heads).
    eff : Effective
        Effective parameters ``(A, b_k, c_k)`` of ``params``.
    train_loss : float
        Final training risk (ALS: exact risk on the training sample; Adam: mean of the last batches).
    iterations : int
    seconds : float
        Wall-clock training time (sampling included).
    history : ndarray
        Training risk per iteration (ALS) or per logged step (Adam).
    info : dict
    """

    regime: str
    n: int
    seed: int
    method: str
    params: AttentionParams
    eff: Effective
    train_loss: float
    iterations: int
    seconds: float
    history: np.ndarray
    info: dict = field(default_factory=dict)


def _check(spec: Spec, n: int, regime: str) -> None:
    if regime not in REGIMES:
        raise ValueError(f"unknown regime {regime!r} (choose from {', '.join(REGIMES)})")
    if int(n) != n or n < 1:
        raise ValueError(f"context length must be an integer >= 1, got {n!r}")


def train_als(
    spec: Spec,
    n: int,
    regime: str,
    seed: int = 0,
    *,
    samples: int = DEFAULT_TRAIN_SAMPLES,
    prompt_len: int = 1,
    max_iter: int = 2000,
    tol: float = 1e-12,
    progress: bool = False,
    stats: "SampleStats | None" = None,
    reduced: bool = False,
    starts: int = 4,
) -> TrainResult:
    """Train one regime by alternating least squares on a seeded training sample.

    Parameters
    ----------
    spec : Spec
    n : int
        Context length.
    regime : str
        One of :data:`prompticl.theory.REGIMES`.
    seed : int
        Fixes the training sample and the initial read-out.
    samples : int
        Training-sample size ``N`` (prompts, stratified over tasks).
    prompt_len : int
        Prompt tokens per task in the returned raw parameters.
    stats : SampleStats, optional
        A precomputed training sample for ``(spec, n, seed, samples)`` (shared across regimes).
    reduced : bool
        Constrain the attention to the reduced model of the theory (``a_y = 0``; ``b_x = 0`` without
        heads; with heads one label read-out ``b_y`` shared by all tasks), a diagnostic that isolates
        what the full model's extra features buy.
    starts : int
        ALS runs from different initial read-outs (the first near ``e_D``); the lowest training
        risk wins.
    """
    _check(spec, n, regime)
    t0 = time.perf_counter()
    rng_train, rng_init, _ = seed_streams(seed, n)
    if stats is None:
        stats = sample_stats(spec, n, samples, rng_train, progress)
    K, D = spec.K, spec.d + 1
    heads = regime == "joint-heads"
    # Multi-start: with random read-outs about 1 start in 10 of plain training ends at a spurious
    # stationary point (b_y ≈ 0, far above the optimum); a start near the label read-out e_D never
    # did in our measurements.  The best training risk of `starts` runs is kept.
    inits = []
    for i in range(max(1, starts)):
        if i == 0:
            b0 = np.eye(D)[-1] + 0.1 * rng_init.standard_normal((K, D))
        else:
            b0 = rng_init.standard_normal((K, D))
        inits.append(b0 if heads else np.tile(b0[0], (K, 1)))
    # With heads the reduced model (the theory's class D) has one shared label read-out b_y: a
    # per-task b_{k,y} would realise W_k = b_{k,y} A, a richer class (chapter 05).
    kw = dict(max_iter=max_iter, tol=tol, progress=progress, reduced=reduced, shared_scale=reduced and heads)
    with_bias = regime in ("joint", "joint-heads")
    runs = [als(stats, b, heads=heads, with_bias=with_bias, **kw) for b in inits]
    finals = np.array([tr.risks[-1] for _, tr in runs])
    best = int(np.argmin(finals))
    eff, trace = runs[best]
    if regime == "finetune":
        eff = Effective(eff.A, eff.b, fit_biases(stats, eff.A, eff.b))
    params = to_params(eff, heads=heads, prompt_len=prompt_len, prompts=regime != "plain")
    eff = effective(params, K)  # what the raw parameters actually compute
    seconds = time.perf_counter() - t0
    return TrainResult(
        regime,
        int(n),
        int(seed),
        "als",
        params,
        eff,
        empirical_risk(stats, eff),
        trace.iterations,
        seconds,
        trace.risks,
        {
            "samples": int(stats.counts.sum()),
            "converged": trace.converged,
            "reduced": reduced,
            "starts": len(runs),
            # starts that reached the best training risk (to 1e-4 relative)
            "starts_at_best": int(np.sum(finals <= finals[best] * (1 + 1e-4))),
        },
    )


@dataclass
class _Adam:
    lr: float
    wd: float
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    t: int = 0
    m: dict = field(default_factory=dict)
    v: dict = field(default_factory=dict)

    def step(self, name: str, p: np.ndarray, g: np.ndarray) -> np.ndarray:
        # torch.optim.Adam's weight_decay adds wd·p to the gradient (L2, not decoupled)
        g = g + self.wd * p
        m = self.m.get(name, np.zeros_like(p))
        v = self.v.get(name, np.zeros_like(p))
        m = self.beta1 * m + (1 - self.beta1) * g
        v = self.beta2 * v + (1 - self.beta2) * g * g
        self.m[name], self.v[name] = m, v
        mhat = m / (1 - self.beta1**self.t)
        vhat = v / (1 - self.beta2**self.t)
        return p - self.lr * mhat / (np.sqrt(vhat) + self.eps)


def _adam_phase(
    spec: Spec,
    n: int,
    params: AttentionParams,
    trainable: tuple[str, ...],
    steps: int,
    batch: int,
    lr: float,
    wd: float,
    rng: np.random.Generator,
    use_prompts: bool,
    progress: bool,
    desc: str,
    history: list,
) -> AttentionParams:
    from dataclasses import replace

    opt = _Adam(lr, wd)
    bar = progress_bar(steps, progress, desc)
    K = spec.K
    for step in range(steps):
        # one batch per task, losses weighted by π_k (as the authors' joint loop)
        Gs, xs, ys, ts, ws = [], [], [], [], []
        for k in range(K):
            data = sample_batch(spec, n, batch, rng, task=k)
            Gs.append(gram(context_tokens(data.X, data.y)))
            xs.append(data.x)
            ys.append(data.y_query)
            ts.append(np.full(batch, k))
            ws.append(np.full(batch, spec.weights[k] / batch))
        G, x, y, t, w = (np.concatenate(a) for a in (Gs, xs, ys, ts, ws))
        p = params if use_prompts else replace(params, prompts=None)
        loss, grad = mse_and_grad(p, G, x, y, t, w)
        opt.t += 1
        updates = {name: opt.step(name, getattr(params, name), getattr(grad, name)) for name in trainable}
        params = replace(params, **updates)
        history.append(loss)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return params


def train_adam(
    spec: Spec,
    n: int,
    regime: str,
    seed: int = 0,
    *,
    steps: int = 100_000,
    batch: int = 3072,
    lr: float = 1e-3,
    weight_decay: float = 1e-3,
    prompt_len: int = 1,
    progress: bool = False,
) -> TrainResult:
    """The authors' optimiser on the raw parameters (for comparison with :func:`train_als`).

    Fine-tuning spends half the steps pretraining the attention without prompts and half tuning
    the prompts with the attention frozen, as the authors do.
    """
    _check(spec, n, regime)
    t0 = time.perf_counter()
    rng_train, rng_init, _ = seed_streams(seed, n)
    heads = regime == "joint-heads"
    params = init_params(spec.d, spec.K, rng_init, prompt_len=prompt_len, prompts=regime != "plain", heads=heads)
    history: list = []
    common = dict(batch=batch, lr=lr, wd=weight_decay, rng=rng_train, progress=progress, history=history)
    if regime == "plain":
        params = _adam_phase(spec, n, params, ("Q", "K", "V"), steps, use_prompts=False, desc="Adam", **common)
    elif regime == "finetune":
        params = _adam_phase(spec, n, params, ("Q", "K", "V"), steps // 2, use_prompts=False, desc="pretrain", **common)
        params = _adam_phase(spec, n, params, ("prompts",), steps - steps // 2, use_prompts=True, desc="prompts", **common)
    elif regime == "joint":
        params = _adam_phase(spec, n, params, ("Q", "K", "V", "prompts"), steps, use_prompts=True, desc="Adam", **common)
    else:
        names = ("Q", "K", "V", "prompts", "heads")
        params = _adam_phase(spec, n, params, names, steps, use_prompts=True, desc="Adam", **common)
    eff = effective(params, spec.K)
    hist = np.array(history)
    tail = hist[-max(1, len(hist) // 100):]
    return TrainResult(
        regime, int(n), int(seed), "adam", params, eff, float(tail.mean()), steps, time.perf_counter() - t0, hist,
        {"batch": batch, "lr": lr, "weight_decay": weight_decay},
    )


def train(spec: Spec, n: int, regime: str, seed: int = 0, *, method: str = "als", **kwargs) -> TrainResult:
    """Train one regime with ``method`` ``"als"`` (default) or ``"adam"``; see :func:`train_als`, :func:`train_adam`."""
    if method == "als":
        return train_als(spec, n, regime, seed, **kwargs)
    if method == "adam":
        return train_adam(spec, n, regime, seed, **kwargs)
    raise ValueError(f"unknown method {method!r} (choose from als, adam)")
