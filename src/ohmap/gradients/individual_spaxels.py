"""The individual-spaxel gradient: a line through every fitted spaxel's metallicity against its
deprojected radius (Wang et al. 2017, Sect. 6.1).
"""

from __future__ import annotations

import numpy as np

from ohmap.inference.summary import conservative_error

from .linear_fit import fit_linear_with_scatter
from .result import GradientResult


def individual_spaxel_gradient(
    radius_kpc,
    oh12_p16,
    oh12_p50,
    oh12_p84,
    fitted_mask,
    rng_or_seed,
    limit_mask=None,
    *,
    key: tuple = (),
    **fit_kwargs,
) -> GradientResult:
    """Metallicity gradient from individual spaxels.

    Uses every spaxel that was fitted (``fitted_mask``), has a finite radius and finite
    percentiles, is not a limit (``limit_mask``, when given: e.g. ``summary["oh12"]["limit"]
    != ""``) and has a positive conservative error ``max(p84 - p50, p50 - p16)``; fits
    ``12+log(O/H) = a + b r`` with :func:`~ohmap.gradients.linear_fit.fit_linear_with_scatter` (intrinsic scatter fitted
    unless ``fix_sigma_int`` is passed).

    Parameters
    ----------
    radius_kpc : array_like
        De-projected source-plane radius of each spaxel, kpc (map or 1-D).
    oh12_p16, oh12_p50, oh12_p84 : array_like
        Percentiles of each spaxel's 12+log(O/H), dex (same shape; NaN where not fitted).
    fitted_mask : array_like of bool
        Spaxels that were fitted.
    rng_or_seed : int or numpy.random.Generator
    limit_mask : array_like of bool, optional
        Spaxels whose metallicity is only a limit; they are left out.
    key : tuple
        Stream key (default ``("individual_spaxel",)`` is prepended).
    **fit_kwargs
        Passed to :func:`~ohmap.gradients.linear_fit.fit_linear_with_scatter` (``min_points``, ``fix_sigma_int``, ...).

    Returns
    -------
    GradientResult
    """
    r = np.asarray(radius_kpc, dtype=float).ravel()
    p16, p50, p84 = (np.asarray(v, dtype=float).ravel() for v in (oh12_p16, oh12_p50, oh12_p84))
    use = np.asarray(fitted_mask, dtype=bool).ravel().copy()
    if not (r.shape == p16.shape == p50.shape == p84.shape == use.shape):
        raise ValueError("radius, percentile and mask maps differ in size")
    if limit_mask is not None:
        use &= ~np.asarray(limit_mask, dtype=bool).ravel()
    err = conservative_error(p16, p50, p84)
    use &= np.isfinite(r) & np.isfinite(p50) & np.isfinite(err) & (err > 0)
    fit = fit_linear_with_scatter(
        r[use], p50[use], err[use], rng_or_seed, key=("individual_spaxel", *key), **fit_kwargs
    )
    return GradientResult.from_fit("individual_spaxel", fit)
