"""The individual-spaxel gradient: a line through every fitted spaxel's metallicity against its
deprojected radius (Wang et al. 2017, Sect. 6.1). With Voronoi bins each bin counts once, at
the mean radius of its members.
"""

from __future__ import annotations

import numpy as np

from ohmap.inference.summary import conservative_error

from .linear_fit import fit_linear_with_scatter
from .result import GradientResult


def spaxel_points(radius_kpc, oh12_p16, oh12_p50, oh12_p84, use, bin_id=None) -> dict:
    """The points of the individual-spaxel gradient: one per fitted bin.

    Parameters
    ----------
    radius_kpc, oh12_p16, oh12_p50, oh12_p84 : array_like
        Per spaxel (map or 1-D, same shape).
    use : array_like of bool
        Spaxels that may enter.
    bin_id : array_like of int, optional
        The maps' ``BINID`` (-1: no bin). Spaxels of one bin make one point at the mean radius
        of those of them in ``use``, with the bin's percentiles (the same on every member).
        Default: every spaxel its own bin.

    Returns
    -------
    dict
        ``radius``, ``p16``, ``p50``, ``p84`` (1-D, by increasing bin id; a spaxel's id is its
        flat index without ``bin_id``) and ``n_spaxels`` (spaxels per point).
    """
    r = np.asarray(radius_kpc, dtype=float).ravel()
    p16, p50, p84 = (np.asarray(v, dtype=float).ravel() for v in (oh12_p16, oh12_p50, oh12_p84))
    use = np.asarray(use, dtype=bool).ravel()
    if not (r.shape == p16.shape == p50.shape == p84.shape == use.shape):
        raise ValueError("radius, percentile and mask maps differ in size")
    ids = np.arange(r.size) if bin_id is None else np.asarray(bin_id).ravel()
    if ids.shape != r.shape:
        raise ValueError(f"bin-id map of {ids.size} spaxels, the maps have {r.size}")
    use = use & (ids >= 0)
    bins, first, inverse, counts = np.unique(
        ids[use], return_index=True, return_inverse=True, return_counts=True
    )
    radius = np.bincount(inverse, weights=r[use], minlength=bins.size) / np.maximum(counts, 1)
    k = np.flatnonzero(use)[first]
    return {"radius": radius, "p16": p16[k], "p50": p50[k], "p84": p84[k], "n_spaxels": counts}


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
    bin_id=None,
    **fit_kwargs,
) -> GradientResult:
    """Metallicity gradient from individual spaxels (or bins).

    Uses every spaxel that was fitted (``fitted_mask``), has a finite radius and finite
    percentiles, is not a limit (``limit_mask``, when given: e.g. ``summary["oh12"]["limit"]
    != ""``) and has a positive conservative error ``max(p84 - p50, p50 - p16)``; fits
    ``12+log(O/H) = a + b r`` with :func:`~ohmap.gradients.linear_fit.fit_linear_with_scatter` (intrinsic scatter fitted
    unless ``fix_sigma_int`` is passed). With ``bin_id`` the spaxels of one bin count once
    (:func:`spaxel_points`).

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
    bin_id : array_like of int, optional
        The spaxel maps' ``BINID`` (-1: no bin): one point per bin, at the mean radius of its
        members that enter. Default (or ``binning: paper``, where each fitted spaxel is its
        own bin): one point per spaxel, the same fit.
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
    points = spaxel_points(r, p16, p50, p84, use, bin_id)
    fit = fit_linear_with_scatter(
        points["radius"],
        points["p50"],
        conservative_error(points["p16"], points["p50"], points["p84"]),
        rng_or_seed,
        key=("individual_spaxel", *key),
        **fit_kwargs,
    )
    return GradientResult.from_fit("individual_spaxel", fit)
