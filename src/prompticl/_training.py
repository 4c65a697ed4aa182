"""Trainers for the one-layer linear attention model in the four regimes

Two optimisers:

* ``als`` (default, :func:`train_als`): empirical risk minimisation on a fixed, seeded training
  sample of ``N`` prompts in the effective parametrisation ``ŷ = xᵀ(A G b_k + c_k)`` (chapter 7,
  equation (7.1); ``prompticl._attention``), with the query integrated out analytically
  (``prompticl._risk``): one pass over the sample gives its moments (:func:`sample_stats`), then
  alternating least squares (``prompticl._als``) minimises the risk on them.  The result is mapped
  back exactly to raw parameters (query/key/value maps, prompt tokens, heads).
* ``adam`` (:func:`train_adam`): the authors' optimiser on the raw parameters (Adam, learning rate
  1e-3, L2 weight decay 1e-3, fresh batches of 3072 prompts per task and step) with the analytic
  gradients of ``mse_and_grad`` (initialised by ``init_params``); kept for comparison.

Regimes: ``plain`` (no prompts, fixed read-out), ``finetune`` (attention pretrained on the mixture
without prompts, then frozen while the prompts are fitted), ``joint`` (prompts and attention),
``joint-heads`` (prompts, heads and attention).  Chapter 7 (experiments) trains with these.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ._als import als, fit_biases
from ._attention import AttentionParams, Effective, _num_tasks, context_tokens, effective, gram, to_params
from . import _limits
from ._limits import check_context_length
from ._progress import progress_bar
from ._regimes import check_regime
from ._risk import empirical_risk
from ._risk_moments import SampleStats, sample_stats
from ._sampling import sample_batch, seed_streams
from ._streamed_stats import streamed_stats
from ._spec import Spec

def training_stats(spec: Spec, n: int, samples: int, rng: np.random.Generator, progress: bool = False):
    """The training sample's statistics: the moment tensors while they are small, else the streamed sample (chapter 7).

    Both describe the same sample drawn from ``rng`` (up to d = 15; beyond, the streamed sample
    draws in smaller chunks, so the prompts differ but not their distribution).
    """
    # the moment tensors while they hold at most DENSE_MOMENT_NUMBERS numbers (fast); beyond, the
    # streamed sample: memory like (d+1)², time like samples·(d+1)³ per sweep
    if spec.K * (spec.d + 1) ** 4 <= _limits.DENSE_MOMENT_NUMBERS:
        return sample_stats(spec, n, samples, rng, progress)
    return streamed_stats(spec, n, samples, rng, progress)


#: Default training-sample size: the excess risk of ERM is about (#parameters/N)·L ≈ 0.15%.
DEFAULT_TRAIN_SAMPLES = 100_000


@dataclass
class TrainResult:
    """A trained model and how it was obtained (:func:`train`; chapter 7 trains every regime).

    Attributes
    ----------
    regime : str
        One of :data:`REGIMES`.
    n : int
        Context length.
    seed : int
        The run's seed (:func:`seed_streams`).
    method : str
        ``"als"`` or ``"adam"``.
    params : AttentionParams
        Raw parameters (query/key/value maps, prompt tokens, heads).
    eff : Effective
        Effective parameters ``(A, b_k, c_k)`` of ``params``.
    train_loss : float
        Final training risk (ALS: exact risk on the training sample; Adam: mean of the last batches).
    iterations : int
        ALS iterations of the best start, or Adam steps.
    seconds : float
        Wall-clock training time (sampling included).
    history : ndarray
        Training risk per iteration (ALS) or per step (Adam).
    info : dict
        ALS: ``samples``, ``converged``, ``reduced``, ``starts`` and ``starts_at_best`` (starts within
        1e-4 relative of the best training risk); Adam: ``batch``, ``lr``, ``weight_decay``.
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
    check_regime(regime)
    check_context_length(n)


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
    r"""Train one regime by alternating least squares on a seeded training sample (chapter 7).

    Minimises the training risk of chapter 7 (empirical risk minimisation, query integrated out)
    over the effective parameters of equation (7.1), ``w = A G b_k + c_k``:

    .. math::

        \hat L_N(A, b, c) = \sum_k \pi_k\,\frac{1}{N_k}\sum_{i \in k}
        (w_i - \beta_i)^\top \Sigma_x (w_i - \beta_i) + \sigma^2 ,

    with the ``N = Σ_k N_k`` training prompts stratified over tasks, by alternating exact least
    squares in ``(A, c)`` and in ``b`` from ``starts`` initial read-outs, keeping the lowest risk.
    The regime fixes what is free: no ``c`` for ``plain``; for ``finetune`` the attention of the
    plain fit, then the prompts' biases ``c`` fitted with it frozen; one ``b`` per task for
    ``joint-heads``.  The solution is mapped back exactly to raw parameters.

    Parameters
    ----------
    spec : Spec
        The task mixture.
    n : int
        Context length.
    regime : str
        One of :data:`REGIMES`.
    seed : int
        Fixes the training sample and the initial read-out.
    samples : int
        Training-sample size ``N`` (prompts, stratified over tasks).
    prompt_len : int
        Prompt tokens per task in the returned raw parameters.
    max_iter : int
        ALS iterations per start, at most.
    tol : float
        ALS stops when the relative decrease of the risk over 10 iterations falls below ``10·tol``.
    progress : bool
        Show progress bars (sampling and ALS).
    stats : SampleStats, optional
        A precomputed training sample for ``(spec, n, seed, samples)`` (shared across regimes).
    reduced : bool
        Constrain the attention to the reduced model of the theory (``a_y = 0``; ``b_x = 0`` without
        heads; with heads one label read-out ``b_y`` shared by all tasks), a diagnostic that isolates
        what the full model's extra features buy.
    starts : int
        ALS runs from different initial read-outs (the first near ``e_D``); the lowest training
        risk wins.

    Returns
    -------
    TrainResult
        ``train_loss`` is the exact training risk :math:`\hat L_N` of the returned parameters.

    Raises
    ------
    ValueError
        If ``regime`` is unknown or ``n`` is not an integer ≥ 1.
    """
    _check(spec, n, regime)
    t0 = time.perf_counter()
    rng_train, rng_init, _ = seed_streams(seed, n)
    if stats is None:
        stats = training_stats(spec, n, samples, rng_train, progress)
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
    # per-task b_{k,y} would realise W_k = b_{k,y} A, a richer class (chapter 5).
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


# ----------------------------------------------------------------------------- Adam on the raw parameters
def init_params(
    d: int, num_tasks: int, rng: np.random.Generator, *, prompt_len: int = 1, prompts: bool = True, heads: bool = False
) -> AttentionParams:
    """Random initial parameters distributed as in the authors' PyTorch model.

    Linear maps are uniform on ``±1/√D`` (PyTorch's default for ``nn.Linear``), prompt tokens are
    standard normal, heads uniform on ``±1/√D``.
    """
    D = d + 1
    bound = 1.0 / np.sqrt(D)
    Q, K, V = (rng.uniform(-bound, bound, (D, D)) for _ in range(3))
    p = rng.standard_normal((num_tasks, prompt_len, D)) if prompts and prompt_len > 0 else None
    h = rng.uniform(-bound, bound, (num_tasks, D)) if heads else None
    return AttentionParams(Q, K, V, p, h)


def mse_and_grad(
    params: AttentionParams,
    G: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    task: np.ndarray,
    weights: np.ndarray,
) -> tuple[float, AttentionParams]:
    """Weighted squared error ``Σ_i ω_i (ŷ_i − y_i)²`` and its analytic gradient.

    With ``q = [x; 0]``, ``a = Qq``, ``u_k = Vᵀh_k``, ``e = Kᵀa`` and ``H = G + P_k``,
    ``ŷ = s eᵀ H u_k``, hence (``g_i = 2ω_i(ŷ_i − y_i)``)
    ``∂/∂Q = s Σ g K H u qᵀ``, ``∂/∂K = s Σ g a (H u)ᵀ``, ``∂/∂V = s Σ g h_k (H e)ᵀ``,
    ``∂/∂h_k = s V Σ_{i∈k} g H e`` and, for a prompt token, ``∂/∂p = (Γ_k + Γ_kᵀ) p`` with
    ``Γ_k = s Σ_{i∈k} g e u_kᵀ``.

    Returns
    -------
    (loss, grad) : float and AttentionParams of gradients (``None`` where the parameter is absent)
    """
    num_tasks = _num_tasks(params, task)
    D = params.D
    d = D - 1
    s = params.scale
    q = np.zeros((x.shape[0], D))
    q[:, :d] = x
    H = G + params.prompt_grams(num_tasks)[task] if params.prompts is not None else G
    read = params.readouts(num_tasks)
    u = read @ params.V  # (K, D)
    a = q @ params.Q.T
    e = a @ params.K  # rows (Kᵀ a)ᵀ
    Hu = np.einsum("bij,bj->bi", H, u[task])
    He = np.einsum("bij,bj->bi", H, e)
    pred = s * np.einsum("bi,bi->b", e, Hu)
    resid = pred - y
    loss = float(np.sum(weights * resid**2))
    g = 2.0 * weights * resid
    gQ = s * params.K @ (Hu * g[:, None]).T @ q
    gK = s * (a * g[:, None]).T @ Hu
    gHe = np.zeros((num_tasks, D))
    np.add.at(gHe, task, He * g[:, None])
    gV = s * read.T @ gHe
    gh = s * gHe @ params.V.T if params.heads is not None else None
    gp = None
    if params.prompts is not None:
        ge = np.zeros((num_tasks, D))
        np.add.at(ge, task, e * g[:, None])
        gamma = s * np.einsum("ki,kj->kij", ge, u)
        gp = np.einsum("kij,kmj->kmi", gamma + gamma.transpose(0, 2, 1), params.prompts)
    return loss, AttentionParams(gQ, gK, gV, gp, gh)


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
    """Train one regime with the authors' optimiser, Adam on the raw parameters (chapter 7).

    Kept for comparison with :func:`train_als` (chapter 7 and ``benchmarks/bench_training.py``).
    Each step draws a fresh batch per task and descends the π-weighted mean squared error of the
    raw model (analytic gradients, ``mse_and_grad``), with L2 weight decay added to the gradient as
    in ``torch.optim.Adam``.  Fine-tuning spends half the steps pretraining the attention without
    prompts and half tuning the prompts with the attention frozen, as the authors do.

    Parameters
    ----------
    spec : Spec
        The task mixture.
    n : int
        Context length.
    regime : str
        One of :data:`REGIMES`.
    seed : int
        Fixes the batches and the initial parameters (:func:`seed_streams`).
    steps : int
        Adam steps in all (both phases for fine-tuning).
    batch : int
        Prompts per task and step.
    lr : float
        Learning rate.
    weight_decay : float
        L2 penalty coefficient (added to the gradient, not decoupled).
    prompt_len : int
        Prompt tokens per task.
    progress : bool
        Show a progress bar.

    Returns
    -------
    TrainResult
        ``train_loss`` is the mean batch loss of the last 1% of the steps; ``history`` holds the
        loss of every step.

    Raises
    ------
    ValueError
        If ``regime`` is unknown or ``n`` is not an integer ≥ 1.
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
    """Train one regime with ``method`` ``"als"`` (default) or ``"adam"`` (chapter 7).

    The entry point of ``prompticl train``; it dispatches to :func:`train_als` or :func:`train_adam`.

    Parameters
    ----------
    spec : Spec
        The task mixture.
    n : int
        Context length.
    regime : str
        One of :data:`REGIMES`.
    seed : int
        The run's seed (training sample and initialisation; :func:`seed_streams`).
    method : str
        ``"als"`` (alternating least squares, :func:`train_als`) or ``"adam"`` (:func:`train_adam`).
    **kwargs
        Keyword arguments of the chosen trainer.

    Returns
    -------
    TrainResult
        The trained model.

    Raises
    ------
    ValueError
        If ``method`` or ``regime`` is unknown or ``n`` is not an integer ≥ 1.
    """
    if method == "als":
        return train_als(spec, n, regime, seed, **kwargs)
    if method == "adam":
        return train_adam(spec, n, regime, seed, **kwargs)
    raise ValueError(f"unknown method {method!r} (choose from als, adam)")
