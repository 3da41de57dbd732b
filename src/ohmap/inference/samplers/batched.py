"""The batched engine: the stretch move for many objects at once, as array operations on an
``(objects, walkers, parameters)`` block, every object drawing from its own stream.
"""

from __future__ import annotations

import time

import numpy as np

from ohmap.inference.settings import SamplerSettings

from .autocorr import TAU_STRIDE, integrated_time
from .chains import ChainResult


def _stretch_block(log_prob, x, lp, rngs, settings: SamplerSettings, record_from: int):
    """Run the batched stretch move on a block; returns every fifth kept step (float32, for the
    autocorrelation), the stored thinned chain, its log-probabilities and the acceptances."""
    n_obj, n_walk, ndim = x.shape
    half = n_walk // 2
    a = settings.stretch_scale
    rows = np.arange(n_obj)[:, None]
    n_kept = settings.n_steps - record_from
    kept = np.empty((n_obj, len(range(0, n_kept, TAU_STRIDE)), n_walk, ndim), dtype=np.float32)
    n_store = len(range(0, n_kept, settings.thin))
    stored = np.empty((n_obj, n_store, n_walk, ndim))
    stored_lp = np.empty((n_obj, n_store, n_walk))
    accepted = np.zeros(n_obj)
    chunk = 100
    for start in range(0, settings.n_steps, chunk):
        steps = min(chunk, settings.n_steps - start)
        # Every object's numbers come from its own stream, in the same order whatever the
        # block: (stretch, partner, accept) per walker and step.
        u = np.stack([g.random((steps, 3, n_walk)) for g in rngs])  # (obj, steps, 3, walkers)
        for s in range(steps):
            step = start + s
            for h in range(2):
                this = slice(h * half, (h + 1) * half)
                other = slice((1 - h) * half, (2 - h) * half)
                zz = ((a - 1.0) * u[:, s, 0, this] + 1.0) ** 2 / a
                pick = np.minimum((u[:, s, 1, this] * half).astype(np.intp), half - 1)
                xs = x[:, this]
                xc = x[:, other][rows, pick]
                proposal = xc + zz[..., None] * (xs - xc)
                lp_new = log_prob(proposal)
                accept = (ndim - 1) * np.log(zz) + lp_new - lp[:, this] > np.log(u[:, s, 2, this])
                x[:, this] = np.where(accept[..., None], proposal, xs)
                lp[:, this] = np.where(accept, lp_new, lp[:, this])
                accepted += accept.sum(axis=1)
            if step >= record_from:
                k = step - record_from
                if k % TAU_STRIDE == 0:
                    kept[:, k // TAU_STRIDE] = x
                if k % settings.thin == 0:
                    stored[:, k // settings.thin] = x
                    stored_lp[:, k // settings.thin] = lp
    return kept, stored, stored_lp, accepted / (settings.n_steps * n_walk)


def sample_batched(log_prob, initial, rngs, settings: SamplerSettings) -> ChainResult:
    """Sample many objects at once.

    Parameters
    ----------
    log_prob : callable
        ``log_prob(theta)`` with ``theta`` of shape ``(n_objects, m, ndim)`` returns
        ``(n_objects, m)`` (object ``i``'s posterior for row ``i``).
    initial : ndarray
        Starting walkers, ``(n_objects, n_walkers, ndim)``, each with finite log-probability.
    rngs : list of numpy.random.Generator
        One stream per object (after the starting walkers were drawn from it).
    """
    t0 = time.perf_counter()
    x = np.array(initial, dtype=float)
    lp = log_prob(x)
    if not np.all(np.isfinite(lp)):
        raise ValueError("every starting walker needs a finite log-probability")
    kept, stored, stored_lp, acceptance = _stretch_block(
        log_prob, x, lp, rngs, settings, settings.n_burn
    )
    # One object at a time, so that its estimate is the same whatever block it is in.
    tau = (
        TAU_STRIDE * np.stack([integrated_time(k) for k in kept])
        if len(kept)
        else np.zeros((0, x.shape[-1]))
    )
    seconds = time.perf_counter() - t0
    return ChainResult.of_kept(stored, stored_lp, acceptance, tau, settings, "batched", seconds)
