"""The emcee engine: one object at a time through ``emcee.EnsembleSampler`` (the reference)."""

from __future__ import annotations

import time

import numpy as np

from ohmap.inference.settings import SamplerSettings

from .autocorr import TAU_STRIDE, integrated_time
from .chains import ChainResult


def sample_emcee(
    log_prob, initial, rng: np.random.Generator, settings: SamplerSettings
) -> ChainResult:
    """Sample one object with ``emcee.EnsembleSampler`` (stretch move, a = ``stretch_scale``).

    Parameters
    ----------
    log_prob : callable
        ``log_prob(theta)`` with ``theta`` of shape ``(n_walkers, ndim)`` returns ``(n_walkers,)``.
    initial : ndarray
        ``(n_walkers, ndim)``.
    rng : numpy.random.Generator
        The object's stream; seeds emcee's ``RandomState``.
    """
    import emcee

    t0 = time.perf_counter()
    initial = np.asarray(initial, dtype=float)
    n_walk, ndim = initial.shape
    if settings.emcee_vectorize:
        fn = log_prob
    else:

        def fn(theta):
            return float(log_prob(theta[None])[0])

    sampler = emcee.EnsembleSampler(
        n_walk,
        ndim,
        fn,
        vectorize=settings.emcee_vectorize,
        moves=emcee.moves.StretchMove(a=settings.stretch_scale),
    )
    sampler.random_state = np.random.RandomState(int(rng.integers(2**32))).get_state()
    sampler.run_mcmc(initial, settings.n_steps, progress=False)
    chain = sampler.get_chain(discard=settings.n_burn)  # (steps, walkers, ndim)
    lp = sampler.get_log_prob(discard=settings.n_burn)
    tau = TAU_STRIDE * integrated_time(chain[::TAU_STRIDE][None])
    stored = chain[:: settings.thin][None]
    stored_lp = lp[:: settings.thin][None]
    acceptance = np.array([float(np.mean(sampler.acceptance_fraction))])
    seconds = time.perf_counter() - t0
    return ChainResult.of_kept(stored, stored_lp, acceptance, tau, settings, "emcee", seconds)
