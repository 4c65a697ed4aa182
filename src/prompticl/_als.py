"""Alternating least squares on the training risk: the solver both the trainer and the certified optimum call.

The risk of the effective model ``ŷ = xᵀ(A G b_k + c_k)`` (:mod:`prompticl._risk`) is linear least
squares in ``(A, c)`` for fixed ``b`` and in ``b`` (or each ``b_k``) for fixed ``(A, c)``: alternating
exact solves (:func:`als`) decrease it monotonically, and every iteration costs ``O(D³)`` contractions of the
per-task moments (:class:`~prompticl._risk_moments.SampleStats`), independent of the sample size and
of ``n``.  :func:`fit_biases` is the prompt phase alone (optimal ``c_k`` for frozen ``(A, b)``).
Chapter 7 trains with it (:func:`prompticl.train_als`); chapter 8 starts the layer's certified
optimum (:mod:`prompticl._layer_optimum`) from it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._attention import Effective
from ._progress import progress_bar
from ._risk import b_quadratic, contract
from ._risk_moments import SampleStats


def _solve(H: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """``H⁻¹ rhs`` for a symmetric positive semidefinite ``H``; the minimum-norm least-squares solution if singular.

    ``H`` is singular exactly where the risk is flat in some direction (e.g. a deterministic task with
    ``σ = 0``, whose tokens span only d of the d + 1 coordinates, or a read-out that no longer matters
    once ``A = 0``): every solution is then a minimiser, and the minimum-norm one keeps the iterates finite.
    """
    try:
        return np.linalg.solve(H, rhs)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(H, rhs, rcond=None)[0]


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
        UV = contract(st, k, b=b[k])
        U = UV["U"][np.ix_(idx, idx)]
        ubar = (st.G[k] @ b[k])[idx]
        Phi[:F, :F] += pi * U
        Psi[:, :F] += pi * UV["V"][:, idx]
        if with_bias:
            Phi[:F, F + k] += pi * ubar
            Phi[F + k, :F] += pi * ubar
            Phi[F + k, F + k] += pi
            Psi[:, F + k] += pi * st.beta[k]
    Phi = 0.5 * (Phi + Phi.T)
    Phi[np.diag_indices(size)] += ridge * np.trace(Phi) / size
    theta = _solve(Phi, Psi.T).T
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
) -> tuple[np.ndarray, list]:
    """Least-squares read-outs for fixed ``(A, c)``: one shared ``b`` or one ``b_k`` per task, and the quadratics.

    Coordinates outside ``b_free`` stay 0.  With heads and ``shared_scale`` the label coordinates
    ``b_{k,y}`` are tied to one common value (the reduced model's class with task centres).
    """
    K = st.weights.shape[0]
    D = A.shape[1]
    idx = np.flatnonzero(b_free)
    quads = [b_quadratic(st, k, A, c[k]) for k in range(K)]
    return _solve_b_quads(st, quads, heads, ridge, b_free, shared_scale, D), quads


def _solve_b_quads(st, quads, heads, ridge, b_free, shared_scale, D):
    K = st.weights.shape[0]
    idx = np.flatnonzero(b_free)
    if heads and shared_scale:
        return _solve_b_shared_scale(st.weights, quads, ridge, b_free)

    def solve(H: np.ndarray, l: np.ndarray) -> np.ndarray:
        H = H[np.ix_(idx, idx)]
        H = H + ridge * np.trace(H) / idx.size * np.eye(idx.size)
        out = np.zeros(D)
        out[idx] = -_solve(H, l[idx])
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
    u = _solve(Phi, rhs)
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

    Finer constraints (used by :mod:`prompticl._layer_optimum` for the nested model classes):
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
        b, quads = _solve_b(st, A, c, heads, ridge, b_free, shared_scale)
        # the risk at (A, b, c) from the quadratics in b just solved (= empirical_risk, no new contractions)
        risks.append(float(sum(pi * (bk @ H @ bk + 2 * l @ bk + const) for pi, bk, (H, l, const) in zip(st.weights, b, quads)))
                     + st.noise**2)
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
    # (when one factor is exactly 0, as at A = 0, b = 0 on a noisy deterministic mixture, AGb = 0 and
    # there is nothing to balance; dividing would give 0/0)
    na, nb = np.linalg.norm(A), np.linalg.norm(b)
    t = np.sqrt(nb / na) if na > 0 and nb > 0 else 1.0
    eff = Effective(A * t, b / t, c)
    return eff, ALSTrace(np.array(risks), it, converged)


def fit_biases(st: SampleStats, A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Optimal task biases for frozen ``(A, b)``: ``c_k = mean_k(β − A G b_k)`` (the prompt phase)."""
    return np.stack([st.beta[k] - A @ st.G[k] @ b[k] for k in range(st.weights.shape[0])])
