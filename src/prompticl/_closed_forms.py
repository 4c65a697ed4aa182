r"""Closed forms of the four regimes (reduced model)

The reduced model predicts ``ŷ = xᵀ (W Xᵀ(y − X m_k) + c_k)`` for a shared matrix ``W``, task biases
``c_k`` (what a prompt token can add) and task centres ``m_k`` (what a task-specific head can
subtract; zero without heads).  Everything here is the single source of truth for the formulas that
the book, the command line and the tests use.

All optima are derived in whitened coordinates (``x = Σ_x^{1/2} g``), where the second moments are
symmetric; they are mapped back to the original coordinates before being returned.

Chapters 2 (plain), 3 (fine-tuned prompts), 4 (joint) and 5 (heads) derive them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from ._regimes import REGIMES, check_regime
from ._spec import Spec

@dataclass(frozen=True)
class Moments:
    r"""Second moments of the task vector in whitened coordinates (Chapter 1, Definition 1.3).

    Built by :func:`moments`; :math:`R = \Sigma_x^{1/2}`.

    Attributes
    ----------
    sigma_bar : ndarray, shape (d, d)
        :math:`\bar\Sigma = R(\sum_k \pi_k \Sigma_k)R`, the mixture's within-task covariance.
    mean_part : ndarray, shape (d, d)
        :math:`M = R(\sum_k \pi_k \mu_k\mu_k^\top)R`, the part due to the task means.
    sigma_tilde : ndarray, shape (d, d)
        :math:`\widetilde{\Sigma} = \bar\Sigma + M = R\,\mathbb E[\beta\beta^\top]R`, the biased second moment
        that plain training sees.
    """

    sigma_bar: np.ndarray
    mean_part: np.ndarray
    sigma_tilde: np.ndarray


def moments(spec: Spec) -> Moments:
    r"""The whitened second moments :math:`\bar\Sigma`, :math:`M` and :math:`\widetilde{\Sigma}` of ``spec``.

    Definition 1.3, equation (1.5) of Chapter 1, with :math:`R = \Sigma_x^{1/2}`:

    .. math::

       \bar\Sigma = R\Big(\sum_k \pi_k \Sigma_k\Big)R, \qquad
       M = R\Big(\sum_k \pi_k \mu_k\mu_k^\top\Big)R, \qquad
       \widetilde{\Sigma} = \bar\Sigma + M .

    Parameters
    ----------
    spec : Spec
        The task mixture.

    Returns
    -------
    Moments
        The three matrices, each symmetric of shape (d, d).
    """
    w = spec.whitened()
    sigma_bar = np.einsum("k,kij->ij", w.weights, w.covs)
    mean_part = np.einsum("k,ki,kj->ij", w.weights, w.means, w.means)
    return Moments(sigma_bar, mean_part, sigma_bar + mean_part)


def signal(spec: Spec) -> float:
    r"""The signal :math:`\mathbb E[(x^\top\beta)^2]`, the normaliser of the book's and the paper's figures.

    Proposition 1.1 (Chapter 1); label noise is excluded:

    .. math::

       \mathbb E\big[(x^\top\beta)^2\big] = \operatorname{tr}\widetilde{\Sigma} .

    Parameters
    ----------
    spec : Spec
        The task mixture.

    Returns
    -------
    float
        :math:`\operatorname{tr}\widetilde{\Sigma}` (see :func:`moments`).
    """
    return float(np.trace(moments(spec).sigma_tilde))


def wishart_sas(a: np.ndarray, n: int, cov: "np.ndarray | None" = None) -> np.ndarray:
    r"""The Wishart moment :math:`\mathbb E[SAS]` for :math:`S = X^\top X` with ``n`` rows :math:`\mathcal N(0, \Sigma)`.

    Lemma 2.3, equation (2.7) of Chapter 2 (with :math:`\Sigma = I` it is equation (2.6), the identity the
    whole theory rests on); ``a`` must be symmetric:

    .. math::

       \mathbb E[SAS] = n(n+1)\,\Sigma A\Sigma + n\operatorname{tr}(A\Sigma)\,\Sigma .

    Parameters
    ----------
    a : ndarray, shape (d, d)
        The symmetric matrix :math:`A`.
    n : int
        Number of rows of :math:`X` (the context length).
    cov : ndarray, shape (d, d), optional
        Row covariance :math:`\Sigma`; the identity by default.

    Returns
    -------
    ndarray, shape (d, d)
        :math:`\mathbb E[SAS]`.
    """
    d = a.shape[0]
    cov = np.eye(d) if cov is None else cov
    return n * (n + 1) * cov @ a @ cov + n * np.trace(a @ cov) * cov


def mean_fluctuation(W: np.ndarray, n: int, cov: np.ndarray) -> np.ndarray:
    """``E[SBS] − n²ΣBΣ`` with ``B = WᵀΣW``: the matrix ``F`` such that ``aᵀFa`` is the variance of
    ``W(S − nΣ)a`` measured in ``Σ`` (``S = XᵀX``, rows ``N(0, Σ)``).

    It is what an uncentred task mean ``a`` costs the one-step estimate: a bias cannot remove it, a
    task centre (head) can.
    """
    b = W.T @ cov @ W
    return wishart_sas(b, n, cov) - n**2 * cov @ b @ cov


def _as_ns(ns: "int | Iterable[int]") -> np.ndarray:
    arr = np.atleast_1d(np.asarray(ns))
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer) or np.any(arr < 1):
        raise ValueError(f"context lengths must be integers >= 1, got {ns!r}")
    return arr.astype(int)


def _numerator(regime: str, mom: Moments) -> np.ndarray:
    """The second moment a regime fits: Sigma_tilde with shared biases only, Sigma_bar once the prompts absorb the means."""
    if check_regime(regime) in ("plain", "finetune"):
        return mom.sigma_tilde
    return mom.sigma_bar


def curvature(regime: str, mom: Moments, n: int, noise: float) -> np.ndarray:
    r"""The matrix :math:`Q` of a regime's loss, a quadratic in the whitened ``W`` minimised at :math:`W^\star = NQ^{-1}`.

    With biases profiled out where the regime trains them, the loss at a whitened ``W`` is

    .. math::

       L(W) = n\operatorname{tr}(WQW^\top) - 2n\operatorname{tr}(WN) + \operatorname{tr}N + \sigma^2,

       Q = \begin{cases}
       (n+1)\widetilde{\Sigma} + (\operatorname{tr}\widetilde{\Sigma} + \sigma^2)I, & N = \widetilde{\Sigma}
       \quad\text{(plain, finetune)},\\
       (n+1)\bar\Sigma + (\operatorname{tr}\widetilde{\Sigma} + \sigma^2)I + M, & N = \bar\Sigma
       \quad\text{(joint, } Q_J\text{)},\\
       (n+1)\bar\Sigma + (\operatorname{tr}\bar\Sigma + \sigma^2)I, & N = \bar\Sigma
       \quad\text{(joint-heads, } Q_{\mathrm D}\text{)}:
       \end{cases}

    equation (2.8) of Chapter 2 (plain; fine-tuning keeps the plain ``W``), Lemma 4.1, equation (4.2)
    of Chapter 4 (joint) and Theorem 5.1 of Chapter 5 (joint-heads).

    Parameters
    ----------
    regime : str
        One of :data:`REGIMES`.
    mom : Moments
        The whitened moments, from :func:`moments`.
    n : int or ndarray of int
        Context length; an array of them gives a stack of matrices.
    noise : float
        Label-noise standard deviation :math:`\sigma`.

    Returns
    -------
    ndarray, shape (d, d) or (len(n), d, d)
        Symmetric and :math:`\succeq (\operatorname{tr} + \sigma^2)I`, hence invertible unless the
        relevant trace and :math:`\sigma` vanish.
    """
    # an array of context lengths gives a stack of matrices, shape (len(n), d, d)
    nn = np.asarray(n, dtype=float)[..., None, None] if np.ndim(n) else n
    return nn * _numerator(regime, mom) + _curvature_rest(regime, mom, noise)


def _curvature_rest(regime: str, mom: Moments, noise: float) -> np.ndarray:
    """``Q − n·num`` of :func:`curvature`, built without ``n``.

    It is the matrix of the cancellation-free forms: ``I − nW = (Q − n·num)Q⁻¹`` and the loss
    ``tr num − n tr(W num) = tr(W (Q − n·num))``.  Computing them as written (a difference of two
    numbers that agree to ~1/n) loses all accuracy at large n: at n = 10⁹ the order
    plain ≥ finetune ≥ joint broke.
    """
    num = _numerator(regime, mom)
    d = num.shape[0]
    s2 = noise**2
    if regime == "joint":
        return num + (np.trace(mom.sigma_tilde) + s2) * np.eye(d) + mom.mean_part
    return num + (np.trace(num) + s2) * np.eye(d)


def optimal_W_whitened(regime: str, mom: Moments, n: int, noise: float) -> np.ndarray:
    r"""The optimal ``W`` of a regime in whitened coordinates, :math:`W^\star = NQ^{-1}` (see :func:`curvature`).

    Equation (2.10) (Theorem 2.1, Chapter 2; fine-tuning keeps it), equation (4.3) (Theorem 4.1,
    Chapter 4) and equation (5.5) (Theorem 5.1, Chapter 5):

    .. math::

       W_{\mathrm{PT}} = \widetilde{\Sigma}\big((n+1)\widetilde{\Sigma} + (\operatorname{tr}\widetilde{\Sigma} + \sigma^2)I\big)^{-1},

       W_{\mathrm{JT}} = \bar\Sigma\big((n+1)\bar\Sigma + (\operatorname{tr}\widetilde{\Sigma} + \sigma^2)I + M\big)^{-1},

       W_{\mathrm D} = \bar\Sigma\big((n+1)\bar\Sigma + (\operatorname{tr}\bar\Sigma + \sigma^2)I\big)^{-1} .

    When :math:`N = 0` it returns ``W = 0`` (the minimum-norm optimum if :math:`Q` is singular).

    Parameters
    ----------
    regime : str
        One of :data:`REGIMES`.
    mom : Moments
        The whitened moments, from :func:`moments`.
    n : int or ndarray of int
        Context length; an array of them gives a stack.
    noise : float
        Label-noise standard deviation :math:`\sigma`.

    Returns
    -------
    ndarray, shape (d, d) or (len(n), d, d)
        The whitened optimum.
    """
    num = _numerator(regime, mom)
    if not np.any(num):
        # Nothing random to learn: num·Q⁻¹ = 0 whenever Q is invertible, and when it is not (the
        # relevant trace and σ vanish) every W is optimal with zero loss; W = 0 is the minimum-norm choice.
        return np.zeros(np.shape(n) + num.shape)
    q = curvature(regime, mom, n, noise)
    if q.ndim == 2:
        return np.linalg.solve(q.T, num.T).T  # num · q⁻¹
    # a stack over context lengths (see curvature): the same solve, batched
    qt = np.swapaxes(q, -1, -2)
    return np.swapaxes(np.linalg.solve(qt, np.broadcast_to(num.T, qt.shape)), -1, -2)


def one_minus_nW(regime: str, mom: Moments, n: int, noise: float) -> np.ndarray:
    r""":math:`I - nW` at the whitened optimum :math:`W = NQ^{-1}`, computed without cancellation.

    It is :math:`-\Delta_{\mathrm{PT}}` of equation (3.5) (Theorem 3.1, Chapter 3) and the map
    :math:`\mu_k \mapsto c_k` of the optimal prompts (equation (4.3)). With :math:`N` and :math:`Q` of
    :func:`curvature`:

    .. math::

       I - nW = (Q - nN)\,Q^{-1} .

    Its entries are :math:`O(1/n)` while :math:`nW` and :math:`I` are :math:`O(1)`: the plain difference
    keeps only about :math:`16 - \log_{10} n` digits.

    Parameters
    ----------
    regime : str
        One of :data:`REGIMES`.
    mom : Moments
        The whitened moments, from :func:`moments`.
    n : int or ndarray of int
        Context length; an array of them gives a stack.
    noise : float
        Label-noise standard deviation :math:`\sigma`.

    Returns
    -------
    ndarray, shape (d, d) or (len(n), d, d)
        :math:`I - nW`.
    """
    num = _numerator(regime, mom)
    if not np.any(num):
        return np.broadcast_to(np.eye(num.shape[0]), np.shape(n) + num.shape)  # W = 0 (see optimal_W_whitened)
    q = curvature(regime, mom, n, noise)
    rest = np.broadcast_to(_curvature_rest(regime, mom, noise), q.shape)
    return np.swapaxes(np.linalg.solve(q, rest), -1, -2)  # rest·Q⁻¹ = (Q⁻¹·rest)ᵀ, both symmetric


def _optimal_loss_whitened(regime: str, mom: Moments, n: "int | np.ndarray", noise: float) -> "float | np.ndarray":
    # tr num − n tr(W num) + σ² written as tr(W (Q − n·num)) + σ²: every term is O(1/n) and
    # nothing cancels, so the losses keep a relative 1e-12 up to n = 10⁹ (tests/unit/test_hostile.py).
    # n may be an array of context lengths: W is then a stack and the loss an array (optimal_losses).
    w = optimal_W_whitened(regime, mom, n, noise)
    out = np.trace(w @ _curvature_rest(regime, mom, noise), axis1=-2, axis2=-1) + noise**2
    if regime == "finetune" and np.any(mom.mean_part):
        # finetune = plain − tr(M rᵀr) with r = nW − I = −(I − nW).
        r = one_minus_nW(regime, mom, n, noise)
        out = out - np.trace(mom.mean_part @ np.swapaxes(r, -1, -2) @ r, axis1=-2, axis2=-1)
    return float(out) if np.ndim(n) == 0 else np.asarray(out, dtype=float)


@dataclass(frozen=True)
class Solution:
    r"""The optimum of one regime at one context length, in the spec's original coordinates.

    Returned by :func:`optimum`; Chapters 2 to 5 derive it.

    Attributes
    ----------
    regime : str
        One of :data:`REGIMES`.
    n : int
        Context length.
    W : ndarray, shape (d, d)
        Preconditioner of the reduced model ``ŷ = xᵀ(W Xᵀ(y − X m_k) + c_k)``.
    biases : ndarray, shape (K, d)
        Optimal task biases ``c_k`` (zero for plain training).
    centres : ndarray, shape (K, d)
        Task centres ``m_k`` (the task means with heads, zero otherwise).
    loss : float
        The optimal population loss E[(ŷ − y)²], label noise included.
    """

    regime: str
    n: int
    W: np.ndarray
    biases: np.ndarray
    centres: np.ndarray
    loss: float


def optimum(spec: Spec, n: int, regime: str) -> Solution:
    r"""Closed-form optimum of ``regime`` at context length ``n``, in the spec's original coordinates.

    Theorem 2.1 (plain, Chapter 2), Theorem 3.1 (finetune, Chapter 3), Theorem 4.1 (joint,
    Chapter 4) and Theorem 5.1 (joint-heads, Chapter 5) give the whitened optimum :math:`W'`
    (:func:`optimal_W_whitened`) and the loss (:func:`optimal_losses`); Theorem 1.1, equation (1.6),
    maps them back with :math:`R = \Sigma_x^{1/2}`:

    .. math::

       W = R^{-1}W'R^{-1},

       c_k = R^{-1}(I - nW')R\,\mu_k \ \ \text{(finetune, joint)},

       c_k = m_k = \mu_k \ \ \text{(joint-heads)},

    and :math:`c_k = m_k = 0` for plain training (:math:`m_k = 0` without heads).

    Parameters
    ----------
    spec : Spec
        The task mixture.
    n : int
        Context length, at least 1.
    regime : str
        One of :data:`REGIMES`.

    Returns
    -------
    Solution
        ``W``, biases, centres and the optimal loss.
    """
    (n_arr,) = _as_ns([n])
    n = int(n_arr)
    mom = moments(spec)
    w_white = optimal_W_whitened(regime, mom, n, spec.noise)
    r = spec.x_sqrt
    r_inv = np.linalg.inv(r)
    W = r_inv @ w_white @ r_inv
    d, k = spec.d, spec.K
    centres = np.zeros((k, d))
    if regime == "plain":
        biases = np.zeros((k, d))
    elif regime in ("finetune", "joint"):
        # c_k minimises ||(n W Σ_x − I) μ_k + c_k||: it cancels the mean of the one-step estimate.
        # I − nWΣ_x = R⁻¹(I − nW')R, with I − nW' from the cancellation-free form.
        biases = (r_inv @ one_minus_nW(regime, mom, n, spec.noise) @ r @ spec.means.T).T
    elif regime == "joint-heads":
        biases = spec.means.copy()
        centres = spec.means.copy()
    else:  # pragma: no cover - optimal_W_whitened has raised already
        raise AssertionError(regime)
    loss = _optimal_loss_whitened(regime, mom, n, spec.noise)
    return Solution(regime, n, W, biases, centres, loss)


def optimal_losses(spec: Spec, ns: "int | Sequence[int]") -> dict[str, np.ndarray]:
    r"""Optimal population losses of all four regimes for each context length in ``ns``.

    Equations (2.11) (Theorem 2.1), (3.5) (Theorem 3.1), (4.4) (Theorem 4.1) and (5.5) (Theorem 5.1),
    Chapters 2 to 5, in whitened coordinates:

    .. math::

       L_{\mathrm{PT}} = \operatorname{tr}\widetilde{\Sigma} - n\operatorname{tr}(W_{\mathrm{PT}}\widetilde{\Sigma}) + \sigma^2,

       L_{\mathrm{FT}} = L_{\mathrm{PT}} - \operatorname{tr}\big(M\Delta_{\mathrm{PT}}^\top\Delta_{\mathrm{PT}}\big),
       \quad \Delta_{\mathrm{PT}} = nW_{\mathrm{PT}} - I,

       L_{\mathrm{JT}} = \operatorname{tr}\bar\Sigma - n\operatorname{tr}(W_{\mathrm{JT}}\bar\Sigma) + \sigma^2,

       L_{\mathrm D} = \operatorname{tr}\bar\Sigma - n\operatorname{tr}(W_{\mathrm D}\bar\Sigma) + \sigma^2,

    with the optima of :func:`optimal_W_whitened`. They are evaluated in the cancellation-free form
    :math:`\operatorname{tr}(W(Q - nN)) + \sigma^2`, accurate to a relative :math:`10^{-12}` up to
    :math:`n = 10^9`.

    Parameters
    ----------
    spec : Spec
        The task mixture.
    ns : int or sequence of int
        Context lengths, each at least 1.

    Returns
    -------
    dict
        ``{regime: ndarray of shape (len(ns),)}`` for every regime in :data:`REGIMES`.
    """
    n_arr = _as_ns(ns)
    mom = moments(spec)
    # one batched solve per regime over all context lengths (chapter 6 evaluates 60 000 of them)
    return {regime: _optimal_loss_whitened(regime, mom, n_arr, spec.noise) for regime in REGIMES}


def population_loss(
    spec: Spec,
    n: int,
    W: np.ndarray,
    biases: "np.ndarray | None" = None,
    centres: "np.ndarray | None" = None,
) -> float:
    r"""Exact population loss :math:`\mathbb E[(\hat y - y)^2]` of the reduced model at any ``W``, biases and centres.

    The model is ``ŷ = xᵀ(W Xᵀ(y − X m_k) + c_k)`` in the spec's original coordinates. This is Lemma 5.1,
    equation (5.3) of Chapter 5 (without centres, Proposition 2.1 and equation (3.4)), written in the
    original coordinates by Theorem 1.1. With :math:`S = X^\top X`, :math:`a_k = \mu_k - m_k`,
    :math:`B = W^\top\Sigma_xW`, :math:`\mathbb E[S] = n\Sigma_x` and :math:`\mathbb E[SBS]` from
    :func:`wishart_sas`:

    .. math::

       \begin{aligned}
       L = \sum_k \pi_k\Big[&\operatorname{tr}\big(\mathbb E[(WS - I)^\top\Sigma_x(WS - I)]\,\Sigma_k\big)
       + \|nW\Sigma_x a_k + c_k - \mu_k\|_{\Sigma_x}^2 \\
       &+ a_k^\top\big(\mathbb E[SBS] - n^2\Sigma_xB\Sigma_x\big)a_k
       + n\sigma^2\operatorname{tr}(B\Sigma_x) + \sigma^2\Big] .
       \end{aligned}

    Parameters
    ----------
    spec : Spec
        The task mixture.
    n : int
        Context length.
    W : ndarray, shape (d, d)
        Preconditioner.
    biases, centres : ndarray, shape (K, d), optional
        Task biases :math:`c_k` and centres :math:`m_k`; zero by default.

    Returns
    -------
    float
        The loss, label noise included.
    """
    (n,) = (int(v) for v in _as_ns([n]))
    d, k = spec.d, spec.K
    if W.shape != (d, d):
        raise ValueError(f"W must have shape ({d}, {d}), got {W.shape}")
    biases = np.zeros((k, d)) if biases is None else np.asarray(biases, dtype=float)
    centres = np.zeros((k, d)) if centres is None else np.asarray(centres, dtype=float)
    for label, arr in (("biases", biases), ("centres", centres)):
        if arr.shape != (k, d):
            raise ValueError(f"{label} must have shape ({k}, {d}), got {arr.shape}")
    sx = spec.x_cov
    s2 = spec.noise**2
    b = W.T @ sx @ W
    esbs = wishart_sas(b, n, sx)
    # E[(WS − I)ᵀ Σ_x (WS − I)]
    m1 = esbs - n * sx @ W.T @ sx - n * sx @ W @ sx + sx
    var_mean = mean_fluctuation(W, n, sx)
    noise_term = n * s2 * np.trace(b @ sx) + s2
    total = 0.0
    for pi, mu, cov, c, m in zip(spec.weights, spec.means, spec.covs, biases, centres):
        a = mu - m
        offset = n * W @ sx @ a + c - mu
        total += pi * (np.trace(m1 @ cov) + offset @ sx @ offset + a @ var_mean @ a + noise_term)
    return float(total)


def plain_loss_spectral(sigma_tilde: np.ndarray, n: int, noise: float) -> float:
    r""":math:`L_{\mathrm{PT}}` from the eigenvalues :math:`\lambda_j` of :math:`\widetilde{\Sigma}`.

    Equation (2.12) of Theorem 2.1 (Chapter 2), with :math:`c = \operatorname{tr}\widetilde{\Sigma} + \sigma^2`:

    .. math::

       L_{\mathrm{PT}} = \sigma^2 + \sum_{j=1}^d \frac{\lambda_j(\lambda_j + c)}{(n+1)\lambda_j + c} .

    Equal to the trace form of :func:`optimal_losses` (an independent route to the same number, and the
    form that shows the :math:`1/n` decay).

    Parameters
    ----------
    sigma_tilde : ndarray, shape (d, d)
        The whitened second moment :math:`\widetilde{\Sigma}` (``moments(spec).sigma_tilde``).
    n : int
        Context length.
    noise : float
        Label-noise standard deviation :math:`\sigma`.

    Returns
    -------
    float
        :math:`L_{\mathrm{PT}}`.
    """
    lam = np.clip(np.linalg.eigvalsh(sigma_tilde), 0.0, None)
    c = float(lam.sum()) + noise**2
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(lam > 0, lam * (lam + c) / ((n + 1) * lam + c), 0.0)
    return float(noise**2 + terms.sum())
