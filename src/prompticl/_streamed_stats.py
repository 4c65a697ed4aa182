"""The training sample's statistics without its (d+1)⁴ moment tensor: re-drawn, contracted, O(d²) memory

:func:`~prompticl._risk_moments.sample_stats` reduces a training sample to per-task moments whose
largest, ``E[G⊗G]``, holds K·(d+1)⁴ numbers (0.8 GB per task at d = 100).  An alternating
least-squares sweep needs far less: for fixed read-outs ``b`` the (d+1)² statistics
``E[(Gb)(Gb)ᵀ]`` and ``E[β(Gb)ᵀ]``, for fixed ``(A, c)`` the (d+1)² statistic ``E[GMG]``
(``M = AᵀΣ_xA``) and ``E[GAᵀΣ_xβ]`` (chapter 7; chapter 8, Theorem 8.1).  :class:`StreamedStats`
keeps the random generator's state at the start of every task's prompts and, whenever a sweep asks
for one of these contractions, draws the same prompts again, chunk by chunk, and accumulates it
(a sample whose Gram matrices fit in :data:`CACHE_BYTES` is kept instead of re-drawn):
memory O(chunk·(d+1)² + K(d+1)²) instead of O(K(d+1)⁴), time O(N(d+1)³) per contraction instead
of once.  The sample is exactly the one :func:`sample_stats` draws from the same generator (same
task counts, same chunks), so the training risk is the same up to rounding.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from ._progress import progress_bar
from ._risk_moments import CHUNK
from ._sampling import gram_chunks, task_counts
from ._spec import Spec

#: Largest number of Gram-matrix entries of one chunk (16 MiB of float64 per array): the
#: chunk is ``min(CHUNK, CHUNK_ENTRIES // (d+1)²)`` prompts, the same as :func:`sample_stats`'s
#: up to d = 15 (so the two draw the same sample there).
CHUNK_ENTRIES = 2**21
#: Largest sample (bytes of its Gram matrices) kept in memory instead of re-drawn in every pass:
#: memory then grows like samples·(d+1)², still (d+1)², and a pass skips the O(N d³) drawing.
CACHE_BYTES = 2**29


def chunk_size(d: int) -> int:
    """Prompts per chunk of the streamed sample at dimension ``d``."""
    return int(max(1, min(CHUNK, CHUNK_ENTRIES // (d + 1) ** 2)))


@dataclass
class StreamedStats:
    """A training sample kept as its generator states, with the first moments (chapter 7, issue 23).

    Attributes ``weights``, ``G``, ``beta``, ``BB``, ``counts``, ``x_cov``, ``noise``, ``n`` are those of
    :class:`~prompticl._risk_moments.SampleStats`; the contractions ``gxg``, ``betag``, ``gbeta``
    (and :meth:`contract`, several in one pass) re-draw task ``k``'s prompts.
    """

    spec: Spec
    n: int
    counts: np.ndarray
    states: list
    chunk: int
    weights: np.ndarray
    G: np.ndarray
    beta: np.ndarray
    BB: np.ndarray
    x_cov: np.ndarray
    noise: float
    passes: int = field(default=0)
    cache: "list | None" = field(default=None, repr=False)

    def _chunks(self, k: int):
        if self.cache is not None:
            yield from self.cache[k]
            return
        rng = np.random.default_rng()
        rng.bit_generator.state = copy.deepcopy(self.states[k])
        yield from gram_chunks(self.spec, self.n, self.counts[k], rng, k, self.chunk)

    def contract(self, k: int, *, X=None, b=None, Q=None) -> dict:
        """Means over task ``k``'s prompts, in one pass: ``E[GXG]`` (key ``"GXG"``, ``X`` symmetric),
        ``E[(Gb)(Gb)ᵀ]`` and ``E[β(Gb)ᵀ]`` (``"U"``, ``"V"``), ``E[GQβ]`` (``"w"``, ``Q`` of shape (D, d))."""
        D = self.spec.d + 1
        out = {}
        if X is not None:
            out["GXG"] = np.zeros(np.shape(X))
        if b is not None:
            out["U"] = np.zeros((D, D))
            out["V"] = np.zeros((self.spec.d, D))
        if Q is not None:
            out["w"] = np.zeros(D)
        for G, beta in self._chunks(k):
            m = G.shape[0]
            if X is not None:
                if np.ndim(X) == 2:
                    GX = G @ X
                    out["GXG"] += np.swapaxes(GX, 0, 1).reshape(D, m * D) @ G.reshape(m * D, D)
                else:
                    out["GXG"] += np.einsum("mij,vjl,mlo->vio", G, X, G, optimize=True)
            if b is not None:
                Gb = G @ b
                out["U"] += Gb.T @ Gb
                out["V"] += beta.T @ Gb
            if Q is not None:
                out["w"] += np.einsum("mij,jb,mb->i", G, Q, beta, optimize=True)
        self.passes += 1
        return {key: v / self.counts[k] for key, v in out.items()}

    def gxg(self, k: int, X: np.ndarray) -> np.ndarray:
        """``E_k[G X G]`` (X symmetric)."""
        return self.contract(k, X=X)["GXG"]

    def betag(self, k: int, b: np.ndarray) -> np.ndarray:
        """``E_k[β (G b)ᵀ]``."""
        return self.contract(k, b=b)["V"]

    def gbeta(self, k: int, Q: np.ndarray) -> np.ndarray:
        """``E_k[G Q β]``."""
        return self.contract(k, Q=Q)["w"]


def streamed_stats(spec: Spec, n: int, samples: int, rng: np.random.Generator, progress: bool = False) -> StreamedStats:
    """Draw the training sample of :func:`sample_stats` once for its first moments; keep its generator states.

    Consumes ``rng`` exactly as :func:`sample_stats` does when the chunks agree (d ≤ 15).
    """
    d, D, K = spec.d, spec.d + 1, spec.K
    counts = task_counts(spec.weights, samples)
    chunk = chunk_size(d)
    Gm = np.zeros((K, D, D))
    bm = np.zeros((K, d))
    BB = np.zeros((K, d, d))
    states = []
    keep = int(counts.sum()) * D * D * 8 <= CACHE_BYTES
    cache = [[] for _ in range(K)] if keep else None
    bar = progress_bar(int(counts.sum()), progress, "sampling")
    for k in range(K):
        states.append(copy.deepcopy(rng.bit_generator.state))
        for G, beta in gram_chunks(spec, n, counts[k], rng, k, chunk):
            if keep:
                cache[k].append((G, beta))
            Gm[k] += G.sum(0)
            bm[k] += beta.sum(0)
            BB[k] += beta.T @ beta
            if bar is not None:
                bar.update(len(beta))
        Gm[k] /= counts[k]
        bm[k] /= counts[k]
        BB[k] /= counts[k]
    if bar is not None:
        bar.close()
    return StreamedStats(spec, int(n), counts, states, chunk, spec.weights.copy(), Gm, bm, BB, spec.x_cov.copy(),
                         float(spec.noise), cache=cache)
