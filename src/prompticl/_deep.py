r"""Deeper and softmax attention, trained with JAX

The authors' multi-layer model (``MultiLayerLinearAttn`` of their ``prompt_icl.py``): tokens
``z_i = [x_i; y_i]`` of the context, one prompt token per task prepended, the query ``[x; 0]``
appended; ``L`` residual layers, each with its own query, key and value maps ``W_Q, W_K, W_V``
(``(d+1) × (d+1)``),

    ``Z ← Z + S(Z W_Q (Z_c W_K)ᵀ / √(d+1)) Z_c W_V``,

where ``Z_c`` are the prompt and context tokens (the keys and values), ``S`` is the identity
(linear attention) or a row-wise softmax (``attention="softmax"``).  The prediction is the last
token's label coordinate, or a task head ``v_kᵀ z_query`` (``joint-heads``).

Two choices differ from the authors' code, both so that the classes are nested and one layer is
chapter 8's layer exactly: the query token is not among the keys (their code lets it attend to
itself, which adds a term cubic in the query), and the residual adds ``Z`` once (their layer
returns ``attention(Z) + Z`` and the model adds ``Z`` again, so a layer maps ``Z ↦ 2Z + …`` and a
layer with zero value map doubles the stream instead of leaving it alone).

The trainer fits a fixed, seeded training sample (sample-average approximation) in float64 with
L-BFGS (:func:`scipy.optimize.minimize`, gradients from :func:`jax.value_and_grad`), optionally with
the authors' weight decay ``(λ/2)‖θ‖²``, from several starts: seeded random ones; for one linear
layer, chapter 8's certified optimum of the regime written in this parameterisation; for ``L ≥ 2``,
the ``(L−1)``-layer solution with one more layer of zero value map (the identity).  A second seeded
sample, the *validation* sample, is scored every few iterations; each start keeps its best
validated point and stops when the validation loss has not improved for a while (early stopping),
and the start with the best validation loss wins.  Because the grown start's first point is the
``(L−1)``-layer model itself, the validation loss of the result never increases with ``L``; the
test loss, on a third, fresh sample, then follows up to sampling noise.

:func:`train_gd_steps` fits the reference of ``L`` steps of preconditioned gradient descent,
``β_{l+1} = β_l + Γ_l Xᵀ(y − Xβ_l)``, started at a task's prompt ``β_0 = c_k``.

JAX is an optional dependency (``pip install prompticl[deep]``), imported on first use.
Chapter 9 ("How far one layer carries") trains these models against the L-step reference and the
Bayes floor; chapter 8 is the one-layer model that ``layers=1`` reduces to.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ._regimes import REGIMES, check_regime
from ._sampling import sample_batch
from ._spec import Spec

__all__ = ["DeepResult", "DeepTestLoss", "train_deep", "train_gd_steps", "deep_test_loss", "ATTENTIONS", "DEEP_SAMPLES"]

#: Attention kinds of :func:`train_deep`.
ATTENTIONS = ("linear", "softmax")
#: Default training prompts per task (the fixed sample the L-BFGS fit sees).
DEEP_SAMPLES = 4000
#: Default fresh test prompts per task.
DEEP_TEST_SAMPLES = 20000
#: Validation checks: every ``CHECK_EVERY`` L-BFGS iterations; a start stops after ``PATIENCE``
#: checks without a better validation loss.
CHECK_EVERY = 10
PATIENCE = 15


def _jax():
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    return jax, jnp


@dataclass
class DeepResult:
    r"""A trained deep attention model or gradient-descent reference.

    Chapter 9 trains and compares them (the layer-count ablation).

    Attributes
    ----------
    spec_name : str
        The spec it was trained on.
    regime : str
        One of :data:`prompticl.REGIMES`.
    n : int
        Context length.
    layers : int
        Number of layers (or gradient steps for the reference).
    attention : str
        ``"linear"``, ``"softmax"`` or ``"gd"`` (the reference).
    params : dict
        Parameters as numpy arrays (``Wq``, ``Wk``, ``Wv`` of shape (L, d+1, d+1), with ``Wk`` the
        identity: only ``W_Q W_Kᵀ`` enters the model and the fit works on it; ``prompts``
        (K, 1, d+1) or None, ``heads`` (K, d+1) or None; for the reference ``Gamma`` (L, d, d) and
        ``start`` (K, d)).
    train_loss : float
        Loss on the training sample (without the weight decay) at the kept point.
    iterations : int
        L-BFGS iterations of the best start (summed over stages for fine-tuning).
    seconds : float
        Wall time of the fit.
    start_losses : list of float
        Validation loss reached from each start (the training loss where there is no validation).
    val_loss : float
        Loss on the validation sample at the kept point (``nan`` without validation).
    """

    spec_name: str
    regime: str
    n: int
    layers: int
    attention: str
    params: dict
    train_loss: float
    iterations: int
    seconds: float
    start_losses: list = field(default_factory=list)
    val_loss: float = float("nan")


def _tokens(batch, d: int):
    ctx = np.concatenate([batch.X, batch.y[..., None]], axis=-1)
    zq = np.concatenate([batch.x, np.zeros((batch.x.shape[0], 1))], axis=-1)
    return ctx, zq


def _sample(spec: Spec, n: int, per_task: int, rng: np.random.Generator) -> dict:
    """Stratified sample: ``per_task`` prompts of each task, weights π_k / per_task."""
    parts = [sample_batch(spec, n, per_task, rng, task=k) for k in range(spec.K)]
    ctx, zq = zip(*(_tokens(b, spec.d) for b in parts))
    return {
        "ctx": np.concatenate(ctx),
        "zq": np.concatenate(zq),
        "y": np.concatenate([b.y_query for b in parts]),
        "task": np.concatenate([np.full(per_task, k) for k in range(spec.K)]),
        "w": np.concatenate([np.full(per_task, spec.weights[k] / per_task) for k in range(spec.K)]),
    }


def _forward(params: dict, ctx, zq, task, attention: str, jnp):
    """Predictions of the deep attention model for a batch (see the module docstring)."""
    D = zq.shape[-1]
    tokens = ctx
    if params.get("prompts") is not None:
        tokens = jnp.concatenate([params["prompts"][task], ctx], axis=1)
    Z = jnp.concatenate([tokens, zq[:, None, :]], axis=1)
    m = tokens.shape[1]
    L = params["Wq"].shape[0]
    scale = 1.0 / np.sqrt(D)
    for layer in range(L):
        Zc = Z[:, :m]
        Kk = Zc if params.get("Wk") is None else Zc @ params["Wk"][layer]
        V = Zc @ params["Wv"][layer]
        rows = Z[:, -1:] if layer == L - 1 else Z  # the last layer only feeds the query's output
        Q = rows @ params["Wq"][layer]
        if attention == "linear":
            out = Q @ (jnp.swapaxes(Kk, 1, 2) @ V) * scale
        else:
            S = (Q @ jnp.swapaxes(Kk, 1, 2)) * scale
            S = S - S.max(axis=-1, keepdims=True)
            A = jnp.exp(S)
            out = (A / A.sum(axis=-1, keepdims=True)) @ V
        Z = Z + out if layer < L - 1 else Z[:, -1:] + out
    last = Z[:, -1]
    if params.get("heads") is not None:
        return jnp.einsum("bd,bd->b", last, params["heads"][task])
    return last[:, -1]


def _gd_forward(params: dict, ctx, zq, task, jnp):
    """``L`` steps of preconditioned gradient descent from the prompt ``β_0 = c_k``."""
    X, y = ctx[..., :-1], ctx[..., -1]
    beta = params["start"][task]
    for G in params["Gamma"]:
        resid = y - jnp.einsum("bnd,bd->bn", X, beta)
        beta = beta + jnp.einsum("de,bne,bn->bd", G, X, resid)
    return jnp.einsum("bd,bd->b", zq[:, :-1], beta)


def _fit(loss_fn, init: dict, frozen: dict, maxiter: int, jax, jnp, val_fn=None, decay: float = 0.0):
    """Minimise ``loss_fn(params) + (decay/2)‖params‖²`` over ``init``'s entries (``frozen`` fixed)
    with L-BFGS-B.

    With ``val_fn``, the validation loss is scored at the start and every :data:`CHECK_EVERY`
    iterations; the best validated point is returned and the run stops after :data:`PATIENCE`
    checks without improvement.  Returns ``(params, train_loss, val_loss, iterations)`` with the
    losses at the returned point (``val_loss`` is ``nan`` without ``val_fn``).
    """
    from jax.flatten_util import ravel_pytree
    from scipy.optimize import minimize

    flat0, unravel = ravel_pytree(init)

    def objective(f):
        return loss_fn({**frozen, **unravel(f)}) + 0.5 * decay * jnp.sum(f * f)

    value_grad = jax.jit(jax.value_and_grad(objective))
    train_only = jax.jit(lambda f: loss_fn({**frozen, **unravel(f)}))

    def fg(x):
        v, g = value_grad(jnp.asarray(x))
        return float(v), np.asarray(g, dtype=float)

    x0 = np.asarray(flat0, dtype=float)
    state = {"it": 0, "best": np.inf, "x": x0, "it_best": 0, "stale": 0}
    callback = None
    if val_fn is not None:
        val = jax.jit(lambda f: val_fn({**frozen, **unravel(f)}))
        state["best"] = float(val(jnp.asarray(x0)))

        def callback(intermediate_result):
            state["it"] += 1
            if state["it"] % CHECK_EVERY:
                return
            v = float(val(jnp.asarray(intermediate_result.x)))
            if v < state["best"]:
                state.update(best=v, x=np.array(intermediate_result.x), it_best=state["it"], stale=0)
            else:
                state["stale"] += 1
                if state["stale"] >= PATIENCE:
                    raise StopIteration

    res = minimize(fg, x0, jac=True, method="L-BFGS-B", callback=callback,
                   options={"maxiter": maxiter, "maxcor": 30, "ftol": 1e-15, "gtol": 1e-10})
    if val_fn is None:
        x, v_best, iters = res.x, float("nan"), int(res.nit)
    else:
        v_end = float(val(jnp.asarray(res.x)))
        if v_end < state["best"]:
            state.update(best=v_end, x=np.array(res.x), it_best=int(res.nit))
        x, v_best, iters = state["x"], state["best"], int(res.nit)
    best = {k: np.asarray(v) for k, v in unravel(jnp.asarray(x)).items()}
    return best, float(train_only(jnp.asarray(x))), v_best, iters


def _random_init(rng: np.random.Generator, L: int, D: int, K: int, prompts: bool, heads: bool) -> dict:
    # Only the product W_Q W_Kᵀ enters the scores (linear or softmax), so the fit works on it
    # (stored as Wq, with W_K = I): the same class of functions, without the (W_Q, W_K) → (W_Q T,
    # W_K T^{-ᵀ}) symmetry that slows a quasi-Newton method down.
    s = 1.0 / D
    init = {name: s * rng.standard_normal((L, D, D)) for name in ("Wq", "Wv")}
    if prompts:
        init["prompts"] = rng.standard_normal((K, 1, D))
    if heads:
        init["heads"] = np.eye(D)[-1] + 0.1 * rng.standard_normal((K, D))
    return init


def _grow(params: dict, rng: np.random.Generator) -> dict:
    """One more layer with zero value map: the same function (nested classes)."""
    D = params["Wq"].shape[1]
    out = dict(params)
    out["Wq"] = np.concatenate([params["Wq"], rng.standard_normal((1, D, D)) / D])
    out["Wv"] = np.concatenate([params["Wv"], np.zeros((1, D, D))])
    return out


def _from_layer_optimum(spec: Spec, n: int, regime: str) -> dict:
    """Chapter 8's certified one-layer optimum of ``regime`` as parameters of this model.

    One linear layer predicts ``ŷ = h_k·z_q + xᵀ A (G + p_k p_kᵀ) W_V h_k`` with ``A = W_Q[:d]/√D``
    (``h_k = e_D`` without heads, whose residual term is then zero).  So ``W_Q[:d] = √D A``; without
    heads ``W_V e_D = b``; with heads ``W_V = I`` and ``h_k = b_k``, and the prompt token adds
    ``c_k − b_{k,x}`` (the residual's ``b_{k,x}·x`` taken off): with ``M = [A; b_kᵀ]`` invertible,
    ``p = M⁻¹ [c; 1]`` has ``A p pᵀ b_k = c`` (as :func:`prompticl.to_params`).
    """
    from ._layer_optimum import layer_optimum

    eff = layer_optimum(spec, n, regime, "full").eff
    d, D, K = spec.d, spec.d + 1, spec.K
    Wq = np.zeros((1, D, D))
    Wq[0, :d] = np.sqrt(D) * eff.A
    Wv = np.zeros((1, D, D))
    out = {"Wq": Wq, "Wv": Wv}
    heads = regime == "joint-heads"
    if heads:
        Wv[0] = np.eye(D)
        out["heads"] = np.array(eff.b, dtype=float)
    else:
        Wv[0, :, -1] = eff.b[0]
    if regime != "plain":
        prompts = np.zeros((K, 1, D))
        for k in range(K):
            c = eff.c[k] - (eff.b[k, :d] if heads else 0.0)
            M = np.vstack([eff.A, eff.b[k]])
            prompts[k, 0] = np.linalg.lstsq(M, np.append(c, 1.0), rcond=None)[0]
        out["prompts"] = prompts
    return out


def _loss_factory(data: dict, attention: str, jnp, forward=None):
    ctx, zq, y, task, w = (jnp.asarray(data[k]) for k in ("ctx", "zq", "y", "task", "w"))

    def loss(params):
        pred = forward(params, ctx, zq, task, jnp) if forward else _forward(params, ctx, zq, task, attention, jnp)
        return jnp.sum(w * (pred - y) ** 2)

    return loss


def train_deep(spec: Spec, n: int, regime: str, layers: int, *, attention: str = "linear", samples: int = DEEP_SAMPLES,
               starts: int = 3, seed: int = 0, maxiter: int = 3000, warm: "DeepResult | None" = None,
               validation: "int | None" = None, decay: float = 0.0, layer_start: bool = True) -> DeepResult:
    r"""Train ``layers`` residual attention layers in one regime on a fixed seeded sample.

    Chapter 9 trains and compares them (the layer-count ablation).

    Minimises the stratified training loss plus the weight decay,

    .. math::

        \sum_k \pi_k \frac1N \sum_{i\in k} (\hat y_i - y_i)^2 + \frac\lambda2 \lVert\theta\rVert^2

    (``N`` = ``samples`` prompts per task, :math:`\lambda` = ``decay``), in float64 with L-BFGS from
    ``starts`` seeded random starts, plus: for one linear layer (and ``layer_start``), chapter 8's
    certified optimum of the regime; for ``layers ≥ 2``, the ``(L−1)``-layer result (``warm``, trained here when not given)
    grown by an identity layer.  Each start is early-stopped on a seeded validation sample of
    ``validation`` prompts per task and keeps its best validated point; the start with the lowest
    validation loss wins, so the validation loss is non-increasing in ``L`` (the grown start begins
    at the ``(L−1)``-layer model).  ``finetune`` pretrains the plain model, then fits one prompt per
    task with the attention frozen.

    Parameters
    ----------
    spec : Spec
        The task mixture.
    n : int
        Context length.
    regime : str
        ``plain``, ``finetune``, ``joint`` or ``joint-heads``.
    layers : int
        Number of residual layers (``>= 1``).
    attention : str
        ``"linear"`` or ``"softmax"``.
    samples : int
        Training prompts per task.
    starts : int
        Random starts (``>= 0``; at least one start in all, counting the chapter-8 and grown ones).
    seed : int
        Seed of the samples and the starts.
    maxiter : int
        L-BFGS iterations per start.
    warm : DeepResult, optional
        An ``(L−1)``-layer result to grow (same regime, attention, samples and seed); trained here when
        ``layers ≥ 2`` and not given.
    validation : int, optional
        Validation prompts per task (default ``4 * samples``; 0 turns early stopping off and selects
        by training loss).  It must be large: a deeper model's predictions are polynomials of high
        degree in the prompt with heavy tails, and on the authors' single-task mixture at mu_ratio 0.9
        (plain, n = 5, 1000 training prompts) a validation sample of 500 prompts let through a
        two-layer model with test loss 8.3 (one layer: 3.9), one of 4000 kept a model at 2.6.
    decay : float
        Weight decay :math:`\lambda` (the authors use 1e-3 with Adam); 0 by default.
    layer_start : bool
        Add chapter 8's certified optimum as a start of one linear layer (default); ``False`` trains
        from the random starts alone (the trainer's own check).

    Returns
    -------
    DeepResult
        The best start's parameters, training and validation losses.
    """
    check_regime(regime)
    if attention not in ATTENTIONS:
        raise ValueError(f"attention must be one of {ATTENTIONS}, got {attention!r}")
    validation = 4 * samples if validation is None else validation
    chapter8 = layers == 1 and attention == "linear" and layer_start
    if layers < 1 or starts < 0 or samples < 2 or validation < 0 or decay < 0 or (starts == 0 and layers == 1 and not chapter8):
        raise ValueError(f"need layers >= 1, starts >= 0 (>= 1 for one softmax layer), samples >= 2, validation >= 0 "
                         f"and decay >= 0, got {layers}, {starts}, {samples}, {validation}, {decay}")
    jax, jnp = _jax()
    t0 = time.perf_counter()
    data = _sample(spec, n, samples, np.random.default_rng([seed, n, 20]))
    loss = _loss_factory(data, attention, jnp)
    val = None
    if validation:
        val = _loss_factory(_sample(spec, n, validation, np.random.default_rng([seed, n, 22])), attention, jnp)
    D, K = spec.d + 1, spec.K
    if layers >= 2 and warm is None:
        warm = train_deep(spec, n, regime, layers - 1, attention=attention, samples=samples, starts=starts, seed=seed,
                          maxiter=maxiter, validation=validation, decay=decay, layer_start=layer_start)
    rng = np.random.default_rng([seed, n, layers, 21])
    inits = [_random_init(rng, layers, D, K, regime != "plain", regime == "joint-heads") for _ in range(starts)]
    if chapter8:
        inits.append(_from_layer_optimum(spec, n, regime))
    if warm is not None and layers >= 2:
        inits.append(_grow({k: v for k, v in warm.params.items() if v is not None and k != "Wk"}, rng))

    def fit(init, frozen, fn=loss, vfn=val):
        return _fit(fn, init, frozen, maxiter, jax, jnp, val_fn=vfn, decay=decay)

    def score(r):  # validation loss, or the training loss without validation
        return r[2] if validation else r[1]

    results = []
    if regime == "finetune":
        # Pretrain the plain model from every start, keep the best, then fit the prompts alone.
        plain = [fit({k: init[k] for k in ("Wq", "Wv")}, {}) for init in inits]
        attn, _, _, it1 = min(plain, key=score)
        for init in inits:
            fitted, value, vvalue, it2 = fit({"prompts": init.get("prompts", rng.standard_normal((K, 1, D)))}, attn)
            results.append(({**attn, **fitted}, value, vvalue, it1 + it2))
    else:
        results = [fit(init, {}) for init in inits]
    best = min(range(len(results)), key=lambda i: score(results[i]))
    params, value, vvalue, iters = results[best]
    params = {"Wq": params["Wq"], "Wk": np.stack([np.eye(D)] * layers), "Wv": params["Wv"],
              "prompts": params.get("prompts"), "heads": params.get("heads")}
    return DeepResult(spec.name, regime, int(n), int(layers), attention, params, value, iters,
                      time.perf_counter() - t0, [score(r) for r in results], vvalue)


def train_gd_steps(spec: Spec, n: int, regime: str, steps: int, *, samples: int = DEEP_SAMPLES, seed: int = 0,
                   maxiter: int = 3000, validation: "int | None" = None,
                   warm: "DeepResult | None" = None) -> DeepResult:
    r"""Fit ``steps`` steps of preconditioned gradient descent directly, the deep models' reference.

    Chapter 9 trains and compares them (the layer-count ablation).

    The model is :math:`\beta_0 = c_k`, :math:`\beta_{l+1} = \beta_l + \Gamma_l X^\top (y - X\beta_l)`,
    :math:`\hat y = x^\top \beta_L`, with a learned :math:`\Gamma_l` per step and a learned start:
    shared (``plain``) or one per task (the prompt regimes; ``finetune`` fits the steps on the plain
    model first, then the starts).  Same samples (training and validation), optimiser, early stopping
    and seeds as :func:`train_deep`.

    Parameters
    ----------
    spec : Spec
        The task mixture.
    n : int
        Context length.
    regime : str
        One of the four regimes.
    steps : int
        Number of gradient steps ``L``.
    samples : int
        Training prompts per task.
    seed : int
        Seed of the sample.
    maxiter : int
        L-BFGS iterations.
    validation : int, optional
        Validation prompts per task (default ``4 * samples``, as :func:`train_deep`; 0 turns early
        stopping off).
    warm : DeepResult, optional
        A ``(steps−1)``-step reference of the same regime and samples: the fit starts from it with one
        more step of zero preconditioner (the same predictor), so that the validation loss does not
        increase with ``steps`` (without it, every step starts at ``Γ = I/(n + d)``).

    Returns
    -------
    DeepResult
        With ``attention="gd"`` and parameters ``Gamma`` (L, d, d) and ``start`` (K, d).
    """
    check_regime(regime)
    jax, jnp = _jax()
    t0 = time.perf_counter()
    data = _sample(spec, n, samples, np.random.default_rng([seed, n, 20]))
    d, K = spec.d, spec.K
    plain = data if regime not in ("plain", "finetune") else {**data, "task": np.zeros_like(data["task"])}
    loss_plain = _loss_factory(plain, "gd", jnp, forward=_gd_forward)
    loss_task = _loss_factory(data, "gd", jnp, forward=_gd_forward)
    validation = 4 * samples if validation is None else validation
    val_plain = val_task = None
    if validation:
        vdata = _sample(spec, n, validation, np.random.default_rng([seed, n, 22]))
        val_task = _loss_factory(vdata, "gd", jnp, forward=_gd_forward)
        val_plain = _loss_factory({**vdata, "task": np.zeros_like(vdata["task"])}, "gd", jnp, forward=_gd_forward)
    scale = 1.0 / (n + spec.d)
    gamma0 = np.stack([scale * np.eye(d)] * steps)
    start0 = np.zeros((K, d))
    if warm is not None:
        if warm.attention != "gd" or warm.layers != steps - 1:
            raise ValueError(f"warm must be a {steps - 1}-step reference of train_gd_steps")
        gamma0 = np.concatenate([warm.params["Gamma"], np.zeros((1, d, d))])
        start0 = np.array(warm.params["start"], dtype=float)
    if regime == "plain":
        params, value, vvalue, iters = _fit(loss_plain, {"Gamma": gamma0, "start": start0}, {}, maxiter, jax,
                                            jnp, val_fn=val_plain)
    elif regime == "finetune":
        first, _, _, it1 = _fit(loss_plain, {"Gamma": gamma0, "start": start0[:1].repeat(K, axis=0)}, {}, maxiter,
                                jax, jnp, val_fn=val_plain)
        params, value, vvalue, it2 = _fit(loss_task, {"start": start0 if warm is not None else
                                                      np.repeat(first["start"][:1], K, axis=0)},
                                          {"Gamma": first["Gamma"]}, maxiter, jax, jnp, val_fn=val_task)
        params = {"Gamma": first["Gamma"], **params}
        iters = it1 + it2
    else:
        params, value, vvalue, iters = _fit(loss_task, {"Gamma": gamma0, "start": start0}, {}, maxiter, jax,
                                            jnp, val_fn=val_task)
    if regime == "plain":
        params["start"] = np.repeat(params["start"][:1], K, axis=0)
    return DeepResult(spec.name, regime, int(n), int(steps), "gd", params, value, iters, time.perf_counter() - t0,
                      [vvalue if validation else value], vvalue)


@dataclass(frozen=True)
class DeepTestLoss:
    r"""Test loss of a deep model on fresh prompts, with its 95% interval.

    Chapter 9 trains and compares them (the layer-count ablation).

    Attributes
    ----------
    loss : float
        Stratified Monte Carlo estimate of the population loss.
    se : float
        Its standard error.
    ci95 : tuple of float
        ``loss ± Z95·se``.
    samples : int
        Fresh prompts used (all tasks).
    """

    loss: float
    se: float
    ci95: tuple
    samples: int


def deep_test_loss(spec: Spec, result: DeepResult, *, samples: int = DEEP_TEST_SAMPLES, seed: int = 0) -> DeepTestLoss:
    r"""The population loss of a trained :class:`DeepResult` on fresh prompts, with a 95% interval.

    Chapter 9 trains and compares them (the layer-count ablation).

    ``samples`` fresh prompts per task (a seed stream disjoint from training's), stratified:
    :math:`\hat L = \sum_k \pi_k \bar\ell_k`, :math:`\mathrm{se}^2 = \sum_k \pi_k^2 s_k^2 / N`.

    Parameters
    ----------
    spec : Spec
        The task mixture.
    result : DeepResult
        A trained model or reference.
    samples : int
        Fresh prompts per task.
    seed : int
        Seed of the test prompts.

    Returns
    -------
    DeepTestLoss
        Estimate, standard error and interval.
    """
    from ._montecarlo import Z95

    jax, jnp = _jax()
    rng = np.random.default_rng([seed, result.n, 30])
    means, variances = [], []
    for k in range(spec.K):
        chunks = []
        for start in range(0, samples, 5000):
            b = sample_batch(spec, result.n, min(5000, samples - start), rng, task=k)
            ctx, zq = _tokens(b, spec.d)
            task = np.full(ctx.shape[0], k)
            params = {key: (None if v is None else jnp.asarray(v)) for key, v in result.params.items()}
            if result.attention == "gd":
                pred = _gd_forward(params, jnp.asarray(ctx), jnp.asarray(zq), task, jnp)
            else:
                pred = _forward(params, jnp.asarray(ctx), jnp.asarray(zq), task, result.attention, jnp)
            chunks.append((np.asarray(pred) - b.y_query) ** 2)
        err = np.concatenate(chunks)
        means.append(err.mean())
        variances.append(err.var(ddof=1))
    loss = float(spec.weights @ np.array(means))
    se = float(np.sqrt(np.sum(spec.weights**2 * np.array(variances)) / samples))
    return DeepTestLoss(loss, se, (loss - Z95 * se, loss + Z95 * se), int(samples * spec.K))
