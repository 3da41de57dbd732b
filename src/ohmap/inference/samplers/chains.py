"""What a sampler returns: the thinned kept chains of a block of objects and their diagnostics."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class ChainResult:
    """Samples of a block of objects.

    Attributes
    ----------
    chain : ndarray
        Thinned kept chain, shape ``(n_objects, n_stored_steps, n_walkers, ndim)``.
    log_prob : ndarray
        Its log-probabilities, ``(n_objects, n_stored_steps, n_walkers)``.
    acceptance : ndarray
        Mean acceptance fraction per object.
    tau : ndarray
        Integrated autocorrelation time (steps) per object and parameter.
    converged : ndarray of bool
        Kept chain at least ``min_tau_multiple`` x max(tau) long.
    engine : str
    seconds : float
        Wall time of the sampling.
    """

    chain: np.ndarray
    log_prob: np.ndarray
    acceptance: np.ndarray
    tau: np.ndarray
    converged: np.ndarray
    engine: str
    seconds: float

    @classmethod
    def of_kept(cls, stored, stored_lp, acceptance, tau, settings, engine: str, seconds: float):
        """The result of a run of ``settings`` (a SamplerSettings): converged where the kept
        chain is at least ``min_tau_multiple`` autocorrelation times long."""
        converged = settings.n_kept >= settings.min_tau_multiple * tau.max(axis=-1)
        return cls(
            stored,
            stored_lp,
            acceptance,
            tau,
            converged,
            engine,
            seconds,
            n_kept_steps=settings.n_kept,
        )

    def flat_samples(self, i: int) -> np.ndarray:
        """Object ``i``'s stored samples, ``(n_stored_steps * n_walkers, ndim)``."""
        c = self.chain[i]
        return c.reshape(-1, c.shape[-1])

    @property
    def effective_sample_size(self) -> np.ndarray:
        """Kept steps x walkers / tau, per object and parameter (of the unthinned chain)."""
        n_kept = self.n_kept_steps
        return n_kept * self.chain.shape[2] / self.tau

    n_kept_steps: int = 0
