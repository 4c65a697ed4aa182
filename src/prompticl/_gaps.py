r"""Profiled loss and the gaps between the regimes

:func:`optimum` gives each regime's optimum.  The derivation chapters also need the loss at a
*given* preconditioner ``W`` when only the prompts (biases ``c_k``) are optimised, the quadratic that
this profiled loss is in ``W``, and the exact size of the gaps between the regimes.  Everything is in
whitened coordinates unless a docstring says otherwise.  Chapters 02 (the plain loss's completed
square), 03 (fine-tuning gap, centring cost), 04 (joint gap) and 06 use these.
"""
from __future__ import annotations

import numpy as np

from ._limits import check_context_length
from ._spec import Spec
from ._closed_forms import Moments, curvature, mean_fluctuation, moments, one_minus_nW, optimal_W_whitened, population_loss
from ._whitening import whiten_parameters

def optimal_biases(spec: Spec, n: int, W: np.ndarray, centres: "np.ndarray | None" = None) -> np.ndarray:
    r"""The biases :math:`c_k` minimising the loss at a fixed ``W`` (and fixed centres), original coordinates.

    The bias cancels the mean of the one-step estimate's error, the term
    :math:`\|nWa_k + c_k - \mu_k\|^2` of Lemma 5.1, equation (5.3) (Chapter 5); without centres it is
    :math:`c_k^\star = (I - nW)\mu_k` of Theorem 3.1 (Chapter 3) in whitened coordinates. In the
    original coordinates

    .. math::

       c_k = \mu_k - nW\Sigma_x(\mu_k - m_k) .

    At the optimal ``W`` of the finetune or joint regime this is the bias that :func:`optimum` returns.

    Parameters
    ----------
    spec : Spec
        The task mixture.
    n : int
        Context length.
    W : ndarray, shape (d, d)
        Preconditioner, original coordinates.
    centres : ndarray, shape (K, d), optional
        Task centres :math:`m_k`; zero by default.

    Returns
    -------
    ndarray, shape (K, d)
        Row ``k`` is :math:`c_k`.
    """
    centres = np.zeros_like(spec.means) if centres is None else np.asarray(centres, dtype=float)
    return spec.means - n * (W @ spec.x_cov @ (spec.means - centres).T).T


def profiled_loss(spec: Spec, n: int, W: np.ndarray) -> float:
    r"""The loss at ``W`` with the biases optimised out (no centres), in the spec's original coordinates.

    Equation (4.1) and Lemma 4.1, equation (4.2) (Chapter 4), with the whitened :math:`W' = RWR`,
    :math:`R = \Sigma_x^{1/2}`, :math:`\Delta = nW' - I` and :math:`Q_J` of :func:`curvature`:

    .. math::

       J(W) = \min_c L(W, c) = L_{\mathrm{PT}}(W') - \operatorname{tr}(M\Delta^\top\Delta)

       J(W) = n\operatorname{tr}(W'Q_JW'^\top) - 2n\operatorname{tr}(W'\bar\Sigma) + \operatorname{tr}\bar\Sigma + \sigma^2 .

    It is :func:`population_loss` at the biases of :func:`optimal_biases`.

    Parameters
    ----------
    spec : Spec
        The task mixture.
    n : int
        Context length.
    W : ndarray, shape (d, d)
        Preconditioner, original coordinates.

    Returns
    -------
    float
        :math:`J(W)`.
    """
    return population_loss(spec, n, W, optimal_biases(spec, n, W))


def centring_cost(spec: Spec, n: int, W: np.ndarray) -> float:
    r"""What not centring the labels costs at ``W``: the part of the loss no bias can remove.

    Remark 3.1 (Chapter 3): the variance of the fluctuation :math:`W(S - n\Sigma_x)\mu_k` of
    equation (3.3), averaged over tasks and evaluated by the Wishart moments of Lemma 2.3, with
    :math:`S = X^\top X`, :math:`B = W^\top\Sigma_xW` and :func:`wishart_sas`; whitened
    (:math:`W' = RWR`) it is the closed form on the right:

    .. math::

       \sum_k \pi_k\,\mu_k^\top\big(\mathbb E[SBS] - n^2\Sigma_xB\Sigma_x\big)\mu_k
       = n\operatorname{tr}(MW'^\top W') + n\operatorname{tr}(W'^\top W')\operatorname{tr}M .

    A centred head (Chapter 5) removes it entirely.

    Parameters
    ----------
    spec : Spec
        The task mixture.
    n : int
        Context length.
    W : ndarray, shape (d, d)
        Preconditioner, original coordinates.

    Returns
    -------
    float
        The cost, :math:`\ge 0`.
    """
    var_mean = mean_fluctuation(W, n, spec.x_cov)
    return float(np.einsum("k,ki,ij,kj->", spec.weights, spec.means, var_mean, spec.means))


def finetune_gap(spec: Spec, n: int) -> float:
    r"""The fine-tuning gain :math:`L_{\mathrm{PT}} - L_{\mathrm{FT}}`, whitened.

    Equation (3.5) of Theorem 3.1 (Chapter 3), the first line of equation (4.6) (Theorem 4.2):

    .. math::

       L_{\mathrm{PT}} - L_{\mathrm{FT}} = \operatorname{tr}\big(M\Delta_{\mathrm{PT}}^\top\Delta_{\mathrm{PT}}\big),
       \qquad \Delta_{\mathrm{PT}} = nW_{\mathrm{PT}} - I .

    :math:`\Delta_{\mathrm{PT}}` comes from :func:`one_minus_nW` (no cancellation at large ``n``).

    Parameters
    ----------
    spec : Spec
        The task mixture.
    n : int
        Context length.

    Returns
    -------
    float
        The gap, :math:`\ge 0` and zero exactly when :math:`M = 0` (Proposition 3.1).
    """
    mom = moments(spec)
    r = one_minus_nW("plain", mom, n, spec.noise)  # −(nW_PT − I), without the cancellation; r appears squared
    return float(np.trace(mom.mean_part @ r.T @ r))


def joint_gap(spec: Spec, n: int) -> float:
    r"""The joint-training gain :math:`L_{\mathrm{FT}} - L_{\mathrm{JT}}`, whitened.

    The second line of equation (4.6), Theorem 4.2 (Chapter 4), with :math:`Q_J` of :func:`curvature`
    (``"joint"``), the matrix of the profiled loss (Lemma 4.1) whose minimiser is :math:`W_{\mathrm{JT}}`:

    .. math::

       L_{\mathrm{FT}} - L_{\mathrm{JT}}
       = n\operatorname{tr}\big((W_{\mathrm{PT}} - W_{\mathrm{JT}})\,Q_J\,(W_{\mathrm{PT}} - W_{\mathrm{JT}})^\top\big) .

    Parameters
    ----------
    spec : Spec
        The task mixture.
    n : int
        Context length.

    Returns
    -------
    float
        The gap, :math:`\ge 0` and zero exactly when :math:`M = 0` (Proposition 4.1).
    """
    mom = moments(spec)
    delta = optimal_W_whitened("plain", mom, n, spec.noise) - optimal_W_whitened("joint", mom, n, spec.noise)
    return float(n * np.trace(delta @ curvature("joint", mom, n, spec.noise) @ delta.T))


def heads_gap(spec: Spec, n: int) -> float:
    r"""The gain of task heads :math:`L_{\mathrm{JT}} - L_{\mathrm D}`, whitened.

    Proposition 5.1 (Chapter 5, heads never hurt), with :math:`Q_J` and :math:`Q_{\mathrm D}` of
    :func:`curvature` (``"joint"`` and ``"joint-heads"``):

    .. math::

       L_{\mathrm{JT}} - L_{\mathrm D}
       = n\operatorname{tr}\big(\bar\Sigma(Q_{\mathrm D}^{-1} - Q_J^{-1})\bar\Sigma\big),
       \qquad Q_J - Q_{\mathrm D} = (\operatorname{tr}M)I + M,

    so the gap is positive exactly when :math:`M \ne 0` and :math:`\bar\Sigma \ne 0`. The book's page
    "The four regimes at a glance" states it with the other two gaps.

    Parameters
    ----------
    spec : Spec
        The task mixture.
    n : int
        Context length.

    Returns
    -------
    float
        The gap, :math:`\ge 0`.
    """
    mom = moments(spec)
    sb = mom.sigma_bar
    if not np.any(sb):  # no spread within tasks: the gap is 0, and Q_D is singular when also σ = 0
        return 0.0
    q_joint = curvature("joint", mom, n, spec.noise)
    q_heads = curvature("joint-heads", mom, n, spec.noise)
    diff = np.linalg.solve(q_heads, sb) - np.linalg.solve(q_joint, sb)  # (Q_D⁻¹ − Q_J⁻¹) Sigma_bar
    return float(n * np.trace(sb @ diff))


def finetune_gap_unwhitened(spec: Spec, n: int) -> float:
    r"""The fine-tuning gap evaluated with the *non-symmetric* products :math:`\Sigma_x(\cdot)`, no whitening.

    Equation (3.5) (Theorem 3.1, Chapter 3) fed with the paper's unwhitened moments:

    .. math::

       \operatorname{tr}\big(M'(nW' - I)^\top(nW' - I)\big), \qquad
       W' = \widetilde{\Sigma}'\big((n+1)\widetilde{\Sigma}' + (\operatorname{tr}\widetilde{\Sigma}' + \sigma^2)I\big)^{-1},

    with :math:`\widetilde{\Sigma}' = \Sigma_x\mathbb E[\beta\beta^\top]` and
    :math:`M' = \Sigma_x\sum_k \pi_k\mu_k\mu_k^\top`. It is **not** the fine-tuning gain
    (:func:`finetune_gap`) in general, only when :math:`\Sigma_x` is a multiple of the identity; it exists
    so the book can show the difference.

    Parameters
    ----------
    spec : Spec
        The task mixture.
    n : int
        Context length.

    Returns
    -------
    float
        The unwhitened expression.
    """
    sx = spec.x_cov
    m_raw = np.einsum("k,ki,kj->ij", spec.weights, spec.means, spec.means)
    b_raw = np.einsum("k,kij->ij", spec.weights, spec.covs) + m_raw
    st = sx @ b_raw
    mp = sx @ m_raw
    # the plain formula fed with the non-symmetric products (no means part: Sigma_bar' = Sigma_tilde')
    w = optimal_W_whitened("plain", Moments(st, np.zeros_like(st), st), n, spec.noise)
    r = n * w - np.eye(spec.d)
    return float(np.trace(mp @ r.T @ r))


def plain_excess_loss(spec: Spec, n: int, W: np.ndarray) -> float:
    r"""The excess plain-training loss :math:`L(W) - L_{\mathrm{PT}}` at any ``W`` (no biases).

    The completed square of Theorem 2.1, equation (2.9) (Chapter 2), with the whitened
    :math:`W' = RWR`, :math:`R = \Sigma_x^{1/2}` and :math:`Q` of :func:`curvature` (``"plain"``):

    .. math::

       L(W) - L_{\mathrm{PT}} = n\operatorname{tr}\big((W' - W_{\mathrm{PT}})\,Q\,(W' - W_{\mathrm{PT}})^\top\big) .

    It is zero exactly at the optimum and grows quadratically with the distance from it.

    Parameters
    ----------
    spec : Spec
        The task mixture.
    n : int
        Context length, at least 1.
    W : ndarray, shape (d, d)
        Preconditioner, original coordinates.

    Returns
    -------
    float
        The excess loss, :math:`\ge 0`.
    """
    n = check_context_length(n)
    mom = moments(spec)
    w_white, _, _ = whiten_parameters(spec, W)
    delta = w_white - optimal_W_whitened("plain", mom, n, spec.noise)
    q = curvature("plain", mom, n, spec.noise)
    return float(n * np.trace(delta @ q @ delta.T))
