"""The integrated autocorrelation time of ensemble chains (emcee's estimator, vectorised)."""

from __future__ import annotations

import numpy as np
import scipy.fft

#: The autocorrelation time is estimated from every this many steps of the kept chain (times
#: this stride): with tau of tens of steps the estimate is as good, and the block of chains
#: held in memory and transformed is this many times smaller.
TAU_STRIDE = 5


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
