"""Whitening the reduced model's parameters

The change of coordinates that reduces a general feature covariance to the identity.

With ``R = Σ_x^{1/2}`` write ``x = R g`` (so ``g ~ N(0, I)``) and ``β' = R β``; labels are unchanged
because ``xᵀβ = gᵀβ'``.  :meth:`Spec.whitened` maps the data model; this module maps
the parameters of the reduced model ``ŷ = xᵀ(W Xᵀ(y − X m_k) + c_k)`` so that the prediction, hence
the loss, is the same number in both coordinate systems.

Chapter 1 proves that whitening leaves the loss unchanged.
"""
from __future__ import annotations

import numpy as np

from ._spec import Spec

def _rows(arr: "np.ndarray | None", spec: Spec, label: str) -> np.ndarray:
    if arr is None:
        return np.zeros((spec.K, spec.d))
    arr = np.asarray(arr, dtype=float)
    if arr.shape != (spec.K, spec.d):
        raise ValueError(f"{label} must have shape ({spec.K}, {spec.d}), got {arr.shape}")
    return arr


def whiten_parameters(
    spec: Spec, W: np.ndarray, biases: "np.ndarray | None" = None, centres: "np.ndarray | None" = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Reduced-model parameters in whitened coordinates, equation (1.6) of Theorem 1.1 (Chapter 1).

    With :math:`R = \Sigma_x^{1/2}` the parameters map as :math:`W' = RWR`, :math:`c_k' = Rc_k`,
    :math:`m_k' = Rm_k`: because ``xᵀ W Xᵀ(y − X m) = gᵀ (RWR) Gᵀ(y − G Rm)`` and ``xᵀc = gᵀ(Rc)`` for
    ``X = G R``, the prediction of ``(W, c, m)`` on the original data equals that of the returned
    parameters on the whitened data (:meth:`Spec.whitened`).

    Parameters
    ----------
    spec : Spec
        The task mixture (gives :math:`\Sigma_x`).
    W : ndarray, shape (d, d)
        Preconditioner.
    biases, centres : ndarray, shape (K, d), optional
        Task biases and centres, one per row; zero by default.

    Returns
    -------
    (W', biases', centres') : tuple of ndarray
        Shapes (d, d), (K, d) and (K, d).
    """
    W = np.asarray(W, dtype=float)
    if W.shape != (spec.d, spec.d):
        raise ValueError(f"W must have shape ({spec.d}, {spec.d}), got {W.shape}")
    r = spec.x_sqrt
    # Rows hold c_kᵀ, so R c_k becomes c_kᵀ R (R is symmetric).
    return r @ W @ r, _rows(biases, spec, "biases") @ r, _rows(centres, spec, "centres") @ r


def unwhiten_parameters(
    spec: Spec, W: np.ndarray, biases: "np.ndarray | None" = None, centres: "np.ndarray | None" = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Inverse of :func:`whiten_parameters`: :math:`(R^{-1}WR^{-1}, R^{-1}c_k, R^{-1}m_k)` (Chapter 1).

    Parameters
    ----------
    spec : Spec
        The task mixture (gives :math:`R = \Sigma_x^{1/2}`).
    W : ndarray, shape (d, d)
        Whitened preconditioner.
    biases, centres : ndarray, shape (K, d), optional
        Whitened task biases and centres, one per row; zero by default.

    Returns
    -------
    (W, biases, centres) : tuple of ndarray
        The parameters in the original coordinates, shapes (d, d), (K, d) and (K, d).
    """
    W = np.asarray(W, dtype=float)
    if W.shape != (spec.d, spec.d):
        raise ValueError(f"W must have shape ({spec.d}, {spec.d}), got {W.shape}")
    r_inv = np.linalg.inv(spec.x_sqrt)
    return r_inv @ W @ r_inv, _rows(biases, spec, "biases") @ r_inv, _rows(centres, spec, "centres") @ r_inv
