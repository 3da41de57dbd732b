"""MCMC samplers behind one interface: ``emcee`` (the reference) and ``batched``.

Both run the affine-invariant ensemble sampler of Goodman & Weare (2010) with the stretch move
(scale ``a = 2``) in its parallel form: the walkers are split into two halves and each half is
moved using the other. The batched engine keeps the split fixed (first and second half, as in
Goodman & Weare and emcee 2); emcee 3 re-draws it at random every step. Both leave the
posterior invariant; the tests compare their posteriors. ``emcee`` runs one object at a
time through ``emcee.EnsembleSampler`` (log-probability vectorised over walkers);
``batched`` runs the same move for many objects at once, as array operations on a
``(objects, walkers, parameters)`` block, so a shard of spaxels costs a few numpy calls per step
instead of a Python loop per spaxel.

Determinism: every object has its own random stream (:func:`object_stream`, seeded from the
configuration's seed and the object's key, e.g. galaxy and spaxel), from which its starting
walkers and every random number of the batched move are drawn. Results therefore do not
depend on how objects are grouped into shards or batches. The emcee engine draws its moves
from a ``RandomState`` seeded from the same stream.

Convergence: the integrated autocorrelation time ``tau`` of each parameter is estimated from
every fifth step of the kept (post burn-in) chain, times five, with emcee's estimator (walker-averaged autocorrelation function,
Sokal's automatic window with ``c = 5``), vectorised here (:func:`integrated_time`); a fit is
flagged unconverged when the kept chain is shorter than ``min_tau_multiple`` (50) times the
largest ``tau``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import scipy.fft

from .errors import InputError
from .settings import ConfigSection

log = logging.getLogger(__name__)

ENGINES = ("batched", "emcee")
#: The autocorrelation time is estimated from every this many steps of the kept chain (times
#: this stride): with tau of tens of steps the estimate is as good, and the block of chains
#: held in memory and transformed is this many times smaller.
_TAU_STRIDE = 5


@dataclass
class SamplerSettings(ConfigSection):
    """Settings of the samplers (the ``inference.sampler`` config section).

    Attributes
    ----------
    engine : str
        ``"batched"`` or ``"emcee"``.
    n_walkers, n_steps, n_burn : int
        Walkers, steps per walker and burn-in steps discarded (paper: 100, 5000, 2000).
    thin : int
        Every ``thin``-th kept step is stored.
    min_tau_multiple : float
        A fit is converged when the kept chain is at least this many autocorrelation times
        long.
    stretch_scale : float
        Scale ``a`` of the stretch move.
    batch_size : int
        Objects advanced together by the batched engine (memory grows with it: the kept chain
        of a batch is held for the autocorrelation estimate).
    emcee_vectorize : bool
        The emcee engine evaluates all walkers of a half-step in one call (``vectorize=True``)
        rather than one call per walker (emcee's default); the samples are the same in
        distribution.
    seed : int
        Seed from which every object's random stream derives.
    """

    engine: str = "batched"
    n_walkers: int = 100
    n_steps: int = 5000
    n_burn: int = 2000
    thin: int = 25
    min_tau_multiple: float = 50.0
    stretch_scale: float = 2.0
    batch_size: int = 64
    emcee_vectorize: bool = True
    seed: int = 20170207

    def __post_init__(self):
        src = "sampler settings"
        if self.engine not in ENGINES:
            raise InputError(src, f"engine {self.engine!r} is not one of {', '.join(ENGINES)}")
        if self.n_walkers < 4 or self.n_walkers % 2:
            raise InputError(src, f"n_walkers = {self.n_walkers}: need an even number of at least 4")
        if not 0 <= self.n_burn < self.n_steps:
            raise InputError(src, f"n_burn = {self.n_burn} must be below n_steps = {self.n_steps}")
        if self.thin < 1 or self.batch_size < 1:
            raise InputError(src, "thin and batch_size must be at least 1")

    @property
    def n_kept(self) -> int:
        return self.n_steps - self.n_burn


def object_stream(seed: int, *key) -> np.random.Generator:
    """The random stream of one object (e.g. ``key = (galaxy, spaxel index)``)."""
    # Each key part enters whole (SeedSequence takes integers of any size), tagged with its type
    # so that 7 and "7" differ.
    words = [int(seed)] + [int.from_bytes(f"{type(k).__name__}:{k}".encode(), "little") for k in key]
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(words)))


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


# ----------------------------------------------------------------------------------------------
# Autocorrelation
# ----------------------------------------------------------------------------------------------


def integrated_time(chain, c: float = 5.0) -> np.ndarray:
    """Integrated autocorrelation time of chains ``(..., n_steps, n_walkers, ndim)``.

    emcee's estimator (``emcee.autocorr.integrated_time`` without its length check), applied to
    all leading objects at once: the normalised autocorrelation function of each walker
    (by FFT), averaged over walkers, summed up to Sokal's window, the smallest ``M`` with
    ``M >= c tau(M)``.

    Returns
    -------
    ndarray
        Shape ``(..., ndim)``, in steps.
    """
    x = np.asarray(chain, dtype=np.float64)
    n = x.shape[-3]
    x = x - x.mean(axis=-3, keepdims=True)
    size = scipy.fft.next_fast_len(2 * n - 1, real=True)
    f = scipy.fft.rfft(x, n=size, axis=-3)
    acf = scipy.fft.irfft(f * np.conj(f), n=size, axis=-3)[..., :n, :, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        acf = acf / acf[..., :1, :, :]
    acf = np.nan_to_num(acf, nan=0.0)
    rho = acf.mean(axis=-2)  # (..., n, ndim)
    taus = 2.0 * np.cumsum(rho, axis=-2) - 1.0
    m = np.arange(n)[:, None]
    ok = m >= c * taus
    first = np.where(ok.any(axis=-2), ok.argmax(axis=-2), n - 1)
    return np.take_along_axis(taus, first[..., None, :], axis=-2)[..., 0, :]


# ----------------------------------------------------------------------------------------------
# Engines
# ----------------------------------------------------------------------------------------------


def _stretch_block(log_prob, x, lp, rngs, settings: SamplerSettings, record_from: int):
    """Run the batched stretch move on a block; returns every fifth kept step (float32, for the
    autocorrelation), the stored thinned chain, its log-probabilities and the acceptances."""
    n_obj, n_walk, ndim = x.shape
    half = n_walk // 2
    a = settings.stretch_scale
    rows = np.arange(n_obj)[:, None]
    n_kept = settings.n_steps - record_from
    kept = np.empty((n_obj, len(range(0, n_kept, _TAU_STRIDE)), n_walk, ndim), dtype=np.float32)
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
                if k % _TAU_STRIDE == 0:
                    kept[:, k // _TAU_STRIDE] = x
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
    kept, stored, stored_lp, acceptance = _stretch_block(log_prob, x, lp, rngs, settings, settings.n_burn)
    # One object at a time, so that its estimate is the same whatever block it is in.
    tau = _TAU_STRIDE * np.stack([integrated_time(k) for k in kept]) if len(kept) else np.zeros((0, x.shape[-1]))
    return ChainResult(stored, stored_lp, acceptance, tau,
                       settings.n_kept >= settings.min_tau_multiple * tau.max(axis=-1),
                       "batched", time.perf_counter() - t0, n_kept_steps=settings.n_kept)


def sample_emcee(log_prob, initial, rng: np.random.Generator, settings: SamplerSettings) -> ChainResult:
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
    sampler = emcee.EnsembleSampler(n_walk, ndim, fn, vectorize=settings.emcee_vectorize,
                                    moves=emcee.moves.StretchMove(a=settings.stretch_scale))
    sampler.random_state = np.random.RandomState(int(rng.integers(2**32))).get_state()
    sampler.run_mcmc(initial, settings.n_steps, progress=False)
    chain = sampler.get_chain(discard=settings.n_burn)          # (steps, walkers, ndim)
    lp = sampler.get_log_prob(discard=settings.n_burn)
    tau = _TAU_STRIDE * integrated_time(chain[::_TAU_STRIDE][None])
    stored = chain[::settings.thin][None]
    stored_lp = lp[::settings.thin][None]
    acceptance = np.array([float(np.mean(sampler.acceptance_fraction))])
    return ChainResult(stored, stored_lp, acceptance, tau,
                       settings.n_kept >= settings.min_tau_multiple * tau.max(axis=-1),
                       "emcee", time.perf_counter() - t0, n_kept_steps=settings.n_kept)
