"""Whitening: the change of coordinates that reduces a general feature covariance to the identity.

With ``R = Σ_x^{1/2}`` write ``x = R g`` (so ``g ~ N(0, I)``) and ``β' = R β``; labels are unchanged
because ``xᵀβ = gᵀβ'``.  :meth:`prompticl._spec.Spec.whitened` maps the data model; this module maps
the parameters of the reduced model ``ŷ = xᵀ(W Xᵀ(y − X m_k) + c_k)`` so that the prediction, hence
the loss, is the same number in both coordinate systems.

Chapter 01 proves that whitening leaves the loss unchanged.
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
    """Reduced-model parameters in whitened coordinates: ``(R W R, R c_k, R m_k)``.

    Because ``xᵀ W Xᵀ(y − X m) = gᵀ (RWR) Gᵀ(y − G Rm)`` and ``xᵀc = gᵀ(Rc)`` for ``X = G R``,
    the prediction of ``(W, c, m)`` on the original data equals that of the returned parameters
    on the whitened data.

    Parameters
    ----------
    spec : Spec
    W : ndarray, shape (d, d)
    biases, centres : ndarray, shape (K, d), optional
        Default to zero.

    Returns
    -------
    (W', biases', centres') : tuple of ndarray
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
    """Inverse of :func:`whiten_parameters`: ``(R⁻¹ W R⁻¹, R⁻¹ c_k, R⁻¹ m_k)``."""
    W = np.asarray(W, dtype=float)
    if W.shape != (spec.d, spec.d):
        raise ValueError(f"W must have shape ({spec.d}, {spec.d}), got {W.shape}")
    r_inv = np.linalg.inv(spec.x_sqrt)
    return r_inv @ W @ r_inv, _rows(biases, spec, "biases") @ r_inv, _rows(centres, spec, "centres") @ r_inv
