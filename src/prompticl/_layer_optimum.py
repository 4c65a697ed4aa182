"""The layer's own certified optimum in each regime (chapter 8)

The closed forms of ``prompticl._closed_forms`` are optima of the *reduced* model
``ŷ = xᵀ(W Xᵀ(y − X m_k) + c_k)``.  The trained layer computes ``ŷ = xᵀ(A G b_k + c_k)``
(``prompticl._attention``), a richer class.  Here that class, and the nested classes between the
two, are optimised exactly: the population risk (chapter 8, Theorem 8.1, equation (8.6)) is the
quartic of :func:`empirical_risk` evaluated on the exact moments of :func:`population_stats`,
minimised by the same alternating least squares (``prompticl._als.als``) that trains the model, then
polished by Newton steps on the exact gradient and Hessian, from several deterministic starts.
Nothing of size (d+1)⁴ is formed (issue 23): the moments are contracted in O(d³)
(``ExactMoments`` of ``prompticl._risk_moments``), the Hessian enters through exact
Hessian-vector products (``RiskPoint`` of ``prompticl._risk``); up to :data:`DENSE_MAX` free
parameters it is formed from them and factorised, beyond, Newton steps solve by conjugate gradients
and the certificate's extreme eigenvalues come from Lanczos (``scipy.sparse.linalg.eigsh``).

Certificate of each optimum (chapter 8, Definition 8.1): the relative stationarity
``‖∇L‖·‖θ‖ / L`` (``θ`` the free parameters, balanced so that ``‖A‖_F = ‖b‖``; it bounds the
first-order relative change of the loss under a relative perturbation of the parameters, and does
not depend on the scale that ``n`` gives them) is at most :data:`GRAD_TOL`, and the smallest
eigenvalue of the exact Hessian on the complement of the scaling direction ``(A, b) → (sA, b/s)``
(a symmetry, hence a zero eigenvalue) is at least ``−HESS_TOL`` times the largest.  That is a
second-order stationary point; the best of the starts is kept and the number of starts reaching it
is reported.  It is a numerical certificate of local optimality, not a proof of global optimality.

Model classes (:class:`LayerClass`), nested between the reduced model and the full layer:

* ``reduced``: ``a_y = 0`` (label column of ``A``), ``b_x = 0`` without heads, one shared ``b_y`` with
  heads (whose ``b_kx`` are the task centres): exactly the class of the closed forms;
* ``shift``: + a shared shift of the labels ``b_x`` (without heads; with heads the same as ``reduced``);
* ``label``: + the label column ``a_y``;
* ``scale``: ``shift`` + per-task read-out scales ``b_{k,y}`` (heads only; otherwise ``shift``);
* ``full``: the whole layer.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg as sla
from scipy import sparse
from scipy.sparse import linalg as spla

from ._als import als, fit_biases
from ._attention import Effective
from ._closed_forms import optimal_losses
from ._regimes import REGIMES, check_regime
from ._risk import RiskPoint
from ._risk_moments import SampleStats, population_moments
from ._spec import Spec

#: Certified stationarity (chapter 8, Definition 8.1): ``‖∇L(θ)‖·‖θ‖ ≤ GRAD_TOL · L(θ)`` at the
#: balanced free parameters ``θ``.
GRAD_TOL = 1e-9
#: Certified second order (chapter 8, Definition 8.1): ``λ_min(∇²L) ≥ −HESS_TOL · λ_max(∇²L)``
#: off the scaling direction ``(A, b) → (sA, b/s)``.
HESS_TOL = 1e-7


@dataclass(frozen=True)
class LayerClass:
    """Which features of the layer ``ŷ = xᵀ(A G b_k + c_k)`` are free (chapter 8).

    The named classes of chapter 8's table are listed in :data:`NESTED`; any other combination is
    a ``"custom"`` class of :func:`layer_optimum`.  The prompt biases ``c_k`` are free in every
    class (where the regime has prompts).

    Attributes
    ----------
    label_column : bool
        The last column ``a_y`` of ``A`` (the term ``a_y · yᵀ(…)``, quadratic in the labels).
    shift : bool
        The feature part ``b_x`` of a shared read-out: a shared shift of the labels,
        ``m = −b_x/b_y``.  With heads the per-task ``b_kx`` (task centres) are always free.
    task_scale : bool
        With heads, per-task label coordinates ``b_{k,y}`` (per-task scale of ``W_k = b_{k,y} A_x``);
        otherwise one shared ``b_y``.  Ignored without heads.
    """

    label_column: bool
    shift: bool
    task_scale: bool


#: The named classes of chapter 8, by name.
CLASSES: dict[str, LayerClass] = {
    "reduced": LayerClass(False, False, False),
    "shift": LayerClass(False, True, False),
    "label": LayerClass(True, True, False),
    "scale": LayerClass(False, True, True),
    "full": LayerClass(True, True, True),
}
#: Names of the model classes of chapter 8, in the order of its tables: ``reduced`` (the closed
#: forms' class), ``shift``, ``label`` (``shift`` + label column), ``scale`` (``shift`` + per-task
#: read-out scales) and ``full`` (the whole layer, containing all the others).
NESTED: tuple[str, ...] = ("reduced", "shift", "label", "scale", "full")


@dataclass(frozen=True)
class LayerOptimum:
    """A certified optimum of one regime in one model class (:func:`layer_optimum`; chapter 8).

    The certificate is chapter 8's Definition 8.1, stated in :func:`layer_optimum`.

    Attributes
    ----------
    regime : str
        One of :data:`REGIMES`.
    model : str
        Class name (one of :data:`NESTED`, or ``"custom"``).
    n : int
        Context length.
    loss : float
        Population loss ``E[(ŷ − y)²]``, label noise included.
    eff : Effective
        Optimal effective parameters ``(A, b_k, c_k)``, balanced (``‖A‖_F = ‖b‖``).
    grad_norm : float
        Norm of the exact gradient over the free parameters at ``eff`` (for fine-tuning the larger
        of the pretraining gradient and the prompt-phase gradient).
    stationarity : float
        ``‖∇L‖·‖θ‖ / L`` (fine-tuning: the larger of the two phases').
    min_hessian_eig : float
        Smallest eigenvalue of the exact Hessian off the scaling direction (fine-tuning: that of
        the pretraining problem; the prompt phase is a strictly convex quadratic).
    max_hessian_eig : float
        Largest such eigenvalue (at least 0).
    starts : int
        Multi-start count.
    starts_at_best : int
        How many starts reached the best loss (to 1e-9 relative).
    certified : bool
        ``stationarity ≤ GRAD_TOL`` and ``min_hessian_eig ≥ −HESS_TOL·max_hessian_eig``
        (:data:`GRAD_TOL`, :data:`HESS_TOL`).
    """

    regime: str
    model: str
    n: int
    loss: float
    eff: Effective
    grad_norm: float
    stationarity: float
    min_hessian_eig: float
    max_hessian_eig: float
    starts: int
    starts_at_best: int
    certified: bool


# ----------------------------------------------------------------------------- parametrisation


def _masks(cls: LayerClass, D: int, heads: bool) -> tuple[np.ndarray, np.ndarray, bool]:
    a_free = np.ones(D, dtype=bool)
    a_free[-1] = cls.label_column
    b_free = np.ones(D, dtype=bool)
    if not heads and not cls.shift:
        b_free[:-1] = False
    shared_scale = heads and not cls.task_scale
    return a_free, b_free, shared_scale


def _param_map(d: int, K: int, cls: LayerClass, heads: bool, with_bias: bool) -> tuple[np.ndarray, int, int]:
    """The 0/1 matrix ``P`` with ``z = P θ``: full coordinates ``z = (vec A, vec b, vec c)`` from free ``θ``.

    Returns ``P`` and the numbers of free ``A`` and ``b`` parameters (θ is ordered A, b, c).
    """
    D = d + 1
    a_free, b_free, shared_scale = _masks(cls, D, heads)
    nz = d * D + K * D + K * d
    cols: list[list[int]] = []
    for p in range(d):
        for i in np.flatnonzero(a_free):
            cols.append([p * D + int(i)])
    nA = len(cols)
    off_b = d * D
    for i in np.flatnonzero(b_free):
        i = int(i)
        tied = (not heads) or (i == D - 1 and shared_scale)
        if tied:
            cols.append([off_b + k * D + i for k in range(K)])
        else:
            cols.extend([[off_b + k * D + i] for k in range(K)])
    nb = len(cols) - nA
    if with_bias:
        off_c = off_b + K * D
        cols.extend([[off_c + j] for j in range(K * d)])
    rows = np.concatenate([np.asarray(r) for r in cols])
    colidx = np.concatenate([np.full(len(r), t) for t, r in enumerate(cols)])
    # sparse: at most K entries per column, and P.T @ H @ P must stay O(nz²) at d = 40
    P = sparse.csr_array((np.ones(rows.size), (rows, colidx)), shape=(nz, len(cols)))
    return P, nA, nb


def _theta(P: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Free parameters of full coordinates ``z`` in the range of ``P`` (its columns have disjoint supports)."""
    return (P.T @ z) / np.asarray(P.sum(axis=0)).ravel()


def _unpack(z: np.ndarray, d: int, K: int) -> Effective:
    D = d + 1
    A = z[: d * D].reshape(d, D)
    b = z[d * D : d * D + K * D].reshape(K, D)
    c = z[d * D + K * D :].reshape(K, d)
    return Effective(A.copy(), b.copy(), c.copy())


def _pack(eff: Effective) -> np.ndarray:
    return np.concatenate([eff.A.ravel(), eff.b.ravel(), eff.c.ravel()])


def _balance(eff: Effective) -> Effective:
    # a factor that is exactly 0 (A = b = 0 is the optimum of a noisy deterministic mixture) leaves nothing to balance
    na, nb = np.linalg.norm(eff.A), np.linalg.norm(eff.b)
    if na == 0 or nb == 0:
        return eff
    t = np.sqrt(nb / na)
    return Effective(eff.A * t, eff.b / t, eff.c)


def _scaling_direction(eff: Effective, P: np.ndarray, nA: int, nb: int) -> np.ndarray:
    """Unit tangent of the symmetry ``(A, b) → (sA, b/s)`` in the free coordinates θ."""
    theta = _theta(P, _pack(eff))
    t = np.zeros_like(theta)
    t[:nA] = theta[:nA]
    t[nA : nA + nb] = -theta[nA : nA + nb]
    nt = np.linalg.norm(t)
    return t / nt if nt > 0 else t


class _Reduced:
    """Loss, gradient and Hessian-vector products on the free parameters θ (``z = Pθ``) at one point."""

    def __init__(self, st, eff: Effective, P):
        self.P = P
        self.rp = RiskPoint(st, eff)
        self.loss = self.rp.loss
        self.g = P.T @ self.rp.grad()
        self.calls = 0

    def hvp(self, v: np.ndarray) -> np.ndarray:
        self.calls += 1
        return self.P.T @ self.rp.hvp(self.P @ np.asarray(v, dtype=float).ravel())

    def dense(self) -> np.ndarray:
        """The Hessian on θ, formed from one stacked Hessian-vector product (small problems only)."""
        N = self.g.size
        H = self.P.T @ self.rp.hvp((self.P @ np.eye(N)).T).T
        return 0.5 * (H + H.T)


#: Free parameters up to which the Hessian is formed from Hessian-vector products and
#: diagonalised densely; beyond, Lanczos (``scipy.sparse.linalg.eigsh``) finds its extreme eigenvalues.
DENSE_MAX = 300


def _extreme_eigs(red: _Reduced, u: np.ndarray) -> tuple[float, float]:
    """Smallest and largest eigenvalue of the Hessian on the orthogonal complement of ``u``."""
    N = red.g.size

    def proj(v):
        return v - u * (u @ v)

    def op(v):
        return proj(red.hvp(proj(np.asarray(v).ravel())))

    if N <= DENSE_MAX:
        H = red.dense()
        Hu = H @ u
        proj_H = H - np.outer(u, Hu) - np.outer(Hu, u) + (u @ Hu) * np.outer(u, u)
        lam = np.linalg.eigvalsh(0.5 * (proj_H + proj_H.T))
        if np.any(u):
            # ΠHΠ has u as an exact null vector, whose eigenvalue (the one nearest zero) is dropped
            lam = np.delete(lam, int(np.argmin(np.abs(lam))))
        return float(lam.min()), float(max(lam.max(), 0.0))
    v0 = proj(np.ones(N))
    lmax = float(spla.eigsh(spla.LinearOperator((N, N), matvec=op, dtype=float), k=1, which="LA", v0=v0,
                            tol=1e-12, return_eigenvectors=False)[0])
    top = max(lmax, 0.0)
    # u gets the eigenvalue `top` (the top of the spectrum), so the smallest eigenvalue is the
    # restriction's; Lanczos on top·I − ΠHΠ − top·uuᵀ finds it as the largest, to an error of
    # about 1e-12·top, far below the certificate's HESS_TOL·top
    shifted = spla.LinearOperator((N, N), matvec=lambda v: top * proj(np.asarray(v).ravel()) - op(v), dtype=float)
    gap = float(spla.eigsh(shifted, k=1, which="LA", v0=v0, tol=1e-12, return_eigenvectors=False)[0])
    return top - gap, top


def _certificate(st, eff: Effective, P, nA: int, nb: int) -> tuple[float, float, float, float, float]:
    """Loss, gradient norm over the free parameters, their norm, extreme Hessian eigenvalues off the scaling direction."""
    red = _Reduced(st, eff, P)
    pnorm = float(np.linalg.norm(_theta(P, _pack(eff))))
    u = _scaling_direction(eff, P, nA, nb)
    lmin, lmax = _extreme_eigs(red, u)
    return red.loss, float(np.linalg.norm(red.g)), pnorm, lmin, lmax


def _cg_step(red: _Reduced, u: np.ndarray, max_iter: int, rtol: float) -> np.ndarray:
    """Newton–CG step on the complement of ``u``: CG on ``ΠHΠ s = −Πg``, stopped at negative curvature.

    Where the Hessian is not positive definite, the direction of negative curvature is followed
    downhill (truncated Newton, Nocedal & Wright, Algorithm 7.1), as the dense saddle-free step did.
    """

    def proj(v):
        return v - u * (u @ v)

    r = -proj(red.g)
    s = np.zeros_like(r)
    p = r.copy()
    rr = r @ r
    stop = (rtol**2) * rr
    for _ in range(max_iter):
        Hp = proj(red.hvp(p))
        curv = p @ Hp
        if curv <= 0:
            if np.any(s):
                return s
            # the first direction is −g itself: negative curvature descends along it too; the
            # length is the gradient's over the curvature's scale, the line search trims it
            nHp = np.linalg.norm(Hp)
            return p * (np.sqrt(rr) / nHp) if nHp > 0 else p
        alpha = rr / curv
        s += alpha * p
        r -= alpha * Hp
        rr_new = r @ r
        if rr_new <= stop:
            break
        p = r + (rr_new / rr) * p
        rr = rr_new
    return s


def _dense_step(red: _Reduced, u: np.ndarray) -> np.ndarray:
    """Newton step from the dense Hessian (small problems; the implementation before issue 23)."""
    Hr = red.dense()
    gr = red.g
    scale = max(np.abs(np.diag(Hr)).max(), 1e-300)
    # the scaling direction gets a positive curvature so that it is left alone; where the
    # Hessian is not positive definite, saddle-free Newton (|eigenvalues|) descends the negative
    # curvature rather than climbing it
    Hs = Hr + scale * np.outer(u, u)
    lam, vec = np.linalg.eigh(Hs)
    flat = np.abs(lam) <= 1e-10 * np.abs(lam).max()
    if flat.any():
        # the loss is flat along whole directions (a deterministic task with σ = 0 leaves its
        # read-out free along the null vector of its tokens): step only where it is curved, so
        # the iterate stays finite and the flat coordinates keep their values
        keep = ~flat
        return -vec[:, keep] @ ((vec[:, keep].T @ gr) / np.abs(lam[keep]))
    try:
        return sla.cho_solve(sla.cho_factor(Hs), -gr)
    except np.linalg.LinAlgError:
        lam = np.maximum(np.abs(lam), 1e-14 * scale)
        return -vec @ ((vec.T @ gr) / lam)


def _newton(st, eff: Effective, P, nA: int, nb: int, iters: int = 60) -> Effective:
    """Newton–CG polish on the free parameters (the scaling direction pinned, backtracking line search)."""
    d, K = eff.A.shape[0], eff.b.shape[0]
    eff = _balance(eff)
    slow = 0
    prev = np.inf
    red = _Reduced(st, eff, P)
    N = red.g.size
    for _ in range(iters):
        loss, gr = red.loss, red.g
        pnorm = np.linalg.norm(_pack(eff))
        gn = np.linalg.norm(gr)
        if gn * pnorm <= 1e-2 * GRAD_TOL * max(loss, 1e-300):
            break
        # Newton converges quadratically; a gradient that stops shrinking has hit rounding
        slow = slow + 1 if gn > 0.5 * prev else 0
        if slow >= 3:
            break
        prev = gn
        u = _scaling_direction(eff, P, nA, nb)
        step = _dense_step(red, u) if N <= DENSE_MAX else _cg_step(red, u, max_iter=min(10 * N, 20_000), rtol=1e-10)
        z0 = _pack(eff)
        accepted = False
        for t in (1.0, 0.5, 0.25, 0.125, 0.0625):
            cand = _balance(_unpack(z0 + t * (P @ step), d, K))
            cred = _Reduced(st, cand, P)
            cl, cg = cred.loss, cred.g
            # near the optimum the loss changes by less than its rounding error: accept a step that
            # does not raise the loss beyond rounding and shrinks the gradient
            if cl < loss or (cl <= loss + 1e-13 * abs(loss) and np.linalg.norm(cg) < gn):
                eff, red, accepted = cand, cred, True
                break
        if not accepted:
            break
    return eff


def _starts(d: int, K: int, heads: bool, starts: int, rng: np.random.Generator) -> list[np.ndarray]:
    D = d + 1
    out = []
    for i in range(max(1, starts)):
        b0 = np.eye(D)[-1] + 0.1 * rng.standard_normal((K, D)) if i == 0 else rng.standard_normal((K, D))
        out.append(b0 if heads else np.tile(b0[0], (K, 1)))
    return out


def _optimise(
    st: SampleStats, regime: str, cls: LayerClass, starts: int, seed: int, als_iter: int
) -> tuple[Effective, float, float, float, int, int]:
    d, K = st.beta.shape[1], st.weights.shape[0]
    D = d + 1
    heads = regime == "joint-heads"
    with_bias = regime in ("joint", "joint-heads")
    a_free, b_free, shared_scale = _masks(cls, D, heads)
    P, nA, nb = _param_map(d, K, cls, heads, with_bias)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(st.n), REGIMES.index(regime), 0x6C6F]))
    results = []
    for b0 in _starts(d, K, heads, starts, rng):
        eff, _ = als(
            st, b0 * 1.0, heads=heads, with_bias=with_bias, max_iter=als_iter, tol=1e-8, ridge=0.0,
            a_free=a_free, b_free=b_free, shared_scale=shared_scale,
        )
        eff = _newton(st, eff, P, nA, nb)
        results.append((eff, RiskPoint(st, eff).loss))
    losses = np.array([r[1] for r in results])
    best = int(np.argmin(losses))
    at_best = int(np.sum(losses <= losses[best] + 1e-9 * max(1.0, abs(losses[best]))))
    eff = results[best][0]
    loss, gnorm, pnorm, lmin, lmax = _certificate(st, eff, P, nA, nb)
    return eff, loss, gnorm, pnorm, lmin, lmax, at_best


def _stationarity(loss: float, gnorm: float, pnorm: float) -> float:
    return gnorm * pnorm / max(loss, 1e-300)


def _is_certified(loss: float, gnorm: float, pnorm: float, lmin: float, lmax: float) -> bool:
    """The certificate of the module docstring."""
    return _stationarity(loss, gnorm, pnorm) <= GRAD_TOL and lmin >= -HESS_TOL * max(lmax, 1e-300)


def layer_optimum(
    spec: Spec,
    n: int,
    regime: str,
    model: "str | LayerClass" = "full",
    *,
    starts: int = 4,
    seed: int = 0,
    stats: "SampleStats | None" = None,
    als_iter: int = 100,
) -> LayerOptimum:
    r"""Certified population optimum of the layer in ``regime`` within model class ``model`` (chapter 8).

    Minimises the layer's exact population loss :math:`\mathcal L` (chapter 8, Theorem 8.1,
    equation (8.6)) over the free parameters of the class, by alternating least squares from
    ``starts`` deterministic starts, each polished by Newton steps, and keeps the best.  The result
    is *certified* (chapter 8, Definition 8.1) when, at the free parameters :math:`\theta`
    balanced so that :math:`\|A\|_F = \|b\|`,

    .. math::

        \frac{\|\nabla_\theta \mathcal L(\theta)\|\,\|\theta\|}{\mathcal L(\theta)}
            \le \tau_{\mathrm{grad}},
        \qquad
        \lambda_{\min}\bigl(H_\perp\bigr) \ge -\tau_{\mathrm{hess}}\,
            \max\bigl(\lambda_{\max}(H_\perp), 0\bigr),

    where :math:`H_\perp` is the exact Hessian :math:`\nabla^2_\theta \mathcal L(\theta)`
    restricted to the orthogonal complement of the scaling direction
    :math:`u \propto (\theta_A, -\theta_b, 0)`, the tangent of the symmetry
    :math:`(A, b) \mapsto (sA, b/s)`, and :math:`\tau_{\mathrm{grad}}` = :data:`GRAD_TOL`,
    :math:`\tau_{\mathrm{hess}}` = :data:`HESS_TOL`.  This is a local (second-order) certificate,
    not a proof of global optimality.  For ``finetune`` the attention is the plain optimum of the
    class and the prompts' biases minimise the loss exactly (a strictly convex quadratic); its
    stationarity, measured in the biases, must also be at most :math:`\tau_{\mathrm{grad}}`.

    Parameters
    ----------
    spec : Spec
        The task mixture.
    n : int
        Context length.
    regime : str
        ``plain``, ``finetune`` (plain optimum of the class, then the prompts fitted with the
        attention frozen), ``joint`` or ``joint-heads``.
    model : str or LayerClass
        A class name of :data:`NESTED` or a custom :class:`LayerClass`.
    starts : int
        Deterministic multi-starts (the first near the label read-out ``e_D``).  The default 4 is
        kept on evidence (``benchmarks/bench_starts.py``, ``results-starts.json``): at the command
        line's largest n = 1000, on the three mixtures of ``benchmarks/global_search.py`` and the
        mean-share family at rho = 0.9-0.999, 4 starts reach the value of 16 in all 18 cases (relative
        2e-11; 16 cost four times the CPU), although often only 1 or 2 of the 4 get there.  Beyond the
        command line, at n = 5000, 4 starts miss the exhaustive search's best in 2 of 9 cases (by
        relative 6.1e-5 and 1.4e-5), 8 starts in 1 and 16 starts still in 1 (1.4e-5, crossed means
        with heads): more starts of this kind do not close that gap.
    seed : int
        Seeds the random starts.
    stats : SampleStats, optional
        Moments to optimise; by default the exact :func:`population_stats` (sample moments give the
        training-sample optimum instead).
    als_iter : int
        ALS iterations per start before the Newton polish.

    Returns
    -------
    LayerOptimum
        The best start's optimum with its certificate (``certified`` may be False: check it).

    Raises
    ------
    ValueError
        If ``regime`` or the class name is unknown.
    """
    check_regime(regime)
    if isinstance(model, str):
        if model not in CLASSES:
            raise ValueError(f"unknown model class {model!r} (choose from {', '.join(CLASSES)})")
        name, cls = model, CLASSES[model]
    else:
        name, cls = "custom", model
    st = population_moments(spec, n) if stats is None else stats
    if regime == "finetune":
        return _finetune(st, layer_optimum(spec, n, "plain", model, starts=starts, seed=seed, stats=st, als_iter=als_iter))
    eff, loss, gnorm, pnorm, lmin, lmax, at_best = _optimise(st, regime, cls, starts, seed, als_iter)
    return LayerOptimum(
        regime, name, int(n), float(loss), eff, gnorm, _stationarity(loss, gnorm, pnorm), lmin, lmax,
        max(1, starts), at_best, _is_certified(loss, gnorm, pnorm, lmin, lmax),
    )


def _finetune(st: SampleStats, plain: LayerOptimum) -> LayerOptimum:
    """Fine-tuning from a plain optimum: the prompts' biases fitted with the attention frozen.

    The prompt phase is a strictly convex quadratic in ``c`` (Hessian ``2π_kΣ_x``), solved exactly;
    its gradient is checked as part of the certificate.
    """
    A, b = plain.eff.A, plain.eff.b
    eff = Effective(A, b, fit_biases(st, A, b))
    rp = RiskPoint(st, eff)
    loss, gc = rp.loss, rp.grad()[-eff.c.size :]
    stat_c = _stationarity(loss, float(np.linalg.norm(gc)), float(np.linalg.norm(eff.c)))
    return LayerOptimum(
        "finetune", plain.model, plain.n, float(loss), eff, max(plain.grad_norm, float(np.linalg.norm(gc))),
        max(plain.stationarity, stat_c), plain.min_hessian_eig, plain.max_hessian_eig, plain.starts,
        plain.starts_at_best, plain.certified and stat_c <= GRAD_TOL,
    )


def layer_optima(spec: Spec, n: int, model: "str | LayerClass" = "full", **kwargs) -> dict[str, LayerOptimum]:
    """Certified optima of all four regimes at one ``n`` in one model class (chapter 8).

    :func:`layer_optimum` for each regime, sharing the exact moments and the plain optimum (from
    which fine-tuning starts).

    Parameters
    ----------
    spec : Spec
        The task mixture.
    n : int
        Context length.
    model : str or LayerClass
        A class name of :data:`NESTED` or a custom :class:`LayerClass`.
    **kwargs
        Passed to :func:`layer_optimum` (``starts``, ``seed``, ``als_iter``, ``stats``).

    Returns
    -------
    dict of str to LayerOptimum
        ``{regime: optimum}`` in the order of :data:`REGIMES`.
    """
    st = population_moments(spec, n) if kwargs.get("stats") is None else kwargs.pop("stats")
    kwargs.pop("stats", None)
    out = {r: layer_optimum(spec, n, r, model, stats=st, **kwargs) for r in ("plain", "joint", "joint-heads")}
    out["finetune"] = _finetune(st, out["plain"])
    return {r: out[r] for r in REGIMES}


def mechanism_table(
    spec: Spec, n: int, models: "tuple[str, ...]" = NESTED, **kwargs
) -> dict[str, dict[str, LayerOptimum]]:
    """Which mechanism buys what: the certified optima of every class in every regime (chapter 8).

    The table of chapter 8's section "Which mechanism buys what".  Classes that coincide for a
    regime (``shift`` with heads, ``scale`` without heads) are optimised anyway, which doubles as a
    consistency check.

    Parameters
    ----------
    spec : Spec
        The task mixture.
    n : int
        Context length.
    models : tuple of str
        Class names (default :data:`NESTED`).
    **kwargs
        Passed to :func:`layer_optima` (``starts``, ``seed``, ``als_iter``).

    Returns
    -------
    dict
        ``{model: {regime: LayerOptimum}}``.
    """
    st = population_moments(spec, n)
    return {m: layer_optima(spec, n, m, stats=st, **kwargs) for m in models}


def ordering_check(optima: "dict[str, LayerOptimum]", rtol: float = 1e-9) -> dict[str, bool]:
    r"""Does ``L_D ≤ L_JT ≤ L_FT ≤ L_PT`` hold for these optima (one model class, one n)? (chapter 8)

    Checks the ordering of the paper's four regimes (heads, joint training, fine-tuning, plain
    training), each inequality :math:`L_a \le L_b` with slack

    .. math::

        L_a \le L_b + \mathrm{rtol}\cdot\max(1, |L_b|)

    (relative for losses above 1, absolute below).  Within one class ``L_JT ≤ L_FT`` (the joint class
    contains the fine-tuned parameters), ``L_FT ≤ L_PT`` (the prompts can stay at zero) and
    ``L_D ≤ L_JT`` (a shared read-out is a head with equal rows) hold whenever the optima are global,
    so a ``False`` flags a non-global optimum.  Across classes fine-tuning is *not* monotone: a richer class
    can pretrain an attention that is better for plain training and worse for the prompts.  Chapter 8's
    section "The paper's ordering, for the layer's own optima" runs this on every class.

    Parameters
    ----------
    optima : dict of str to LayerOptimum
        The four regimes' optima of one class at one ``n`` (:func:`layer_optima`).
    rtol : float
        Slack of each inequality.

    Returns
    -------
    dict of str to bool
        ``{"D<=JT": …, "JT<=FT": …, "FT<=PT": …}``, one flag per inequality.
    """
    L = {r: optima[r].loss for r in REGIMES}

    def le(a: float, b: float) -> bool:
        return a <= b + rtol * max(1.0, abs(b))

    return {
        "D<=JT": le(L["joint-heads"], L["joint"]),
        "JT<=FT": le(L["joint"], L["finetune"]),
        "FT<=PT": le(L["finetune"], L["plain"]),
    }


def layer_advantage(spec: Spec, ns: "int | list[int]", model: "str | LayerClass" = "full", **kwargs) -> dict[str, np.ndarray]:
    r"""Relative advantage of the layer's certified optimum over the closed forms (chapter 8).

    For each regime and context length,

    .. math::

        \mathrm{advantage} = 1 - \frac{L_{\mathrm{layer}}}{L_{\mathrm{reduced}}} ,

    where :math:`L_{\mathrm{reduced}}` is the reduced model's closed-form optimum
    (:func:`optimal_losses`) and :math:`L_{\mathrm{layer}}` the certified optimum of class ``model``
    (:func:`layer_optima`), both population losses with label noise included.  Positive: the layer does
    better; negative (possible for fine-tuning only): the richer class pretrains an attention that suits
    the prompts less. Chapter 8's figure "Where the layer gains most" draws it over the mean-share
    family.

    Parameters
    ----------
    spec : Spec
        The task mixture.
    ns : int or list of int
        Context lengths.
    model : str or LayerClass
        The layer's class (default the full layer).
    **kwargs
        Passed to :func:`layer_optima` (``starts``, ``seed``, ``als_iter``).

    Returns
    -------
    dict
        ``{regime: ndarray of shape (len(ns),)}`` in the order of :data:`REGIMES`.

    Raises
    ------
    RuntimeError
        If an optimum fails its certificate.
    """
    ns = [int(n) for n in np.atleast_1d(ns)]
    closed = optimal_losses(spec, ns)
    out = {r: np.empty(len(ns)) for r in REGIMES}
    for i, n in enumerate(ns):
        for regime, opt in layer_optima(spec, n, model, **kwargs).items():
            if not opt.certified:
                raise RuntimeError(f"the layer optimum of {regime} at n = {n} is not certified")
            out[regime][i] = 1.0 - opt.loss / closed[regime][i]
    return out
