"""The normalised cross-correlation coefficient of two maps (Wang et al. 2017, Eq. 1).

:func:`nccf` is Eq. 1 over a set of pixels; :func:`expected_nccf` is what two noisy maps of the
same scene reach (the noise-limited NCCF), from the share of each map's variance that is
signal (:func:`signal_fraction`).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter


def nccf(a, b, mask) -> float:
    """Normalised cross-correlation coefficient of ``a`` and ``b`` over ``mask`` (Eq. 1)."""
    x, y = a[mask], b[mask]
    if x.size < 3:
        return np.nan
    sx, sy = x.std(), y.std()
    if sx == 0 or sy == 0:
        return np.nan
    return float(np.mean((x - x.mean()) * (y - y.mean())) / (sx * sy))


def signal_fraction(flux, error, mask) -> float:
    """Square root of the fraction of a map's variance over ``mask`` that is not noise.

    The spatial variance of the map over the pixels is the signal's spatial variance plus the
    mean noise variance, so ``(var(flux) - mean(error**2)) / var(flux)`` estimates the signal's
    share without bias, provided the pixels are chosen without looking at the flux.
    """
    f, e = np.asarray(flux)[mask], np.asarray(error)[mask]
    if f.size < 3:
        return 0.0
    total = f.var()
    if not total > 0:
        return 0.0
    return float(np.sqrt(np.clip(1.0 - np.mean(e**2) / total, 0.0, 1.0)))


def expected_nccf(flux, error, mask, flux2=None, error2=None) -> float:
    """Noise-limited NCCF: what Eq. 1 reaches between noisy maps of the same scene.

    For two maps ``S1 = s + n1`` and ``S2 = c s + b + n2`` of one signal ``s`` with independent
    noises, the NCCF over a fixed set of pixels tends to ``rho1 * rho2``, with
    ``rho = sqrt(signal variance / total variance)`` of each map (:func:`signal_fraction`).

    Parameters
    ----------
    flux, error : ndarray
        A map and its 1-sigma error (same units).
    mask : ndarray of bool
        The pixels the NCCF is taken over: all of them, not a selection by flux (a selection of
        bright pixels has little spatial variance left and returns about 0).
    flux2, error2 : ndarray, optional
        The second map of the pair on the same pixels. Without it, the value for the map against
        a noiseless twin of itself (``rho1``) is returned.

    Returns
    -------
    float
        In [0, 1].
    """
    rho = signal_fraction(flux, error, mask)
    if flux2 is not None:
        rho *= signal_fraction(flux2, error2, mask)
    return float(rho)


def smooth_map(flux, error, valid, sigma: float):
    """Normalised Gaussian smoothing of a map with missing pixels, and the smoothed map's
    1-sigma noise (for independent pixels).

    Returns
    -------
    flux, error : ndarray
        ``error`` is ``inf`` where less than half the kernel's weight has data.
    """
    if sigma <= 0:
        return np.where(valid, flux, 0.0), np.where(valid, error, np.inf)
    w = valid.astype(float)
    norm = gaussian_filter(w, sigma)
    num = gaussian_filter(np.where(valid, flux, 0.0), sigma)
    # Variance of a kernel-weighted mean: sum k^2 var / (sum k)^2, and the squared kernel is
    # a Gaussian of sigma/sqrt(2) scaled by 1/(4 pi sigma^2).
    var = gaussian_filter(np.where(valid, error, 0.0) ** 2, sigma / np.sqrt(2)) / (
        4 * np.pi * sigma**2
    )
    ok = norm > 0.5
    out = np.where(ok, num / np.maximum(norm, 1e-12), 0.0)
    err = np.where(ok, np.sqrt(var) / np.maximum(norm, 1e-12), np.inf)
    return out, err
