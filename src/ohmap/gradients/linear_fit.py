"""A straight line with intrinsic scatter, fitted to points with asymmetric errors.

The line's intercept and slope are marginalised analytically on a grid of the scatter; the
percentiles of the slope come from the resulting mixture (:func:`fit_linear_with_scatter`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import brentq
from scipy.special import ndtr, ndtri

from ohmap.inference.samplers.emcee_engine import sample_emcee
from ohmap.inference.settings import SamplerSettings
from ohmap.streams import object_stream

#: Percentiles reported for every fitted quantity.
PERCENTILES = (16.0, 50.0, 84.0)


#: Intervals of the grid in sigma_int (coarse pass, then the refined pass over the region that
#: holds the posterior).
_GRID_COARSE = 800


_GRID_FINE = 1000


#: The refined grid spans the coarse points whose log-posterior is within this of the maximum.
_GRID_DLOGP = 25.0


@dataclass
class LinearFit:
    """Posterior of a straight line ``y = a + b r`` with intrinsic scatter ``sigma_int``.

    Attributes
    ----------
    slope, intercept, sigma_int : float
        Posterior medians (NaN when no fit was possible). ``intercept`` is the value at
        ``r = 0``; ``slope`` in units of y per unit r (dex/kpc for gradients).
    slope_err, intercept_err : float
        Half the 16th-84th percentile width of the marginal posterior (the 1-sigma error).
    slope_percentiles, intercept_percentiles, sigma_int_percentiles : ndarray
        16th, 50th, 84th percentiles of the marginal posteriors.
    sigma_int_fixed : float or None
        The value ``sigma_int`` was fixed to, or None when it was fitted.
    n : int
        Points used.
    radius_range : tuple of float
        Smallest and largest ``r`` of the points used.
    flag : bool
        True when the fit should not be trusted (see ``reason``).
    reason : str
        Comma-separated reasons for the flag: ``"too_few_points"`` (fewer than
        ``min_points``), ``"small_radius_range"`` (``r`` spans less than
        ``min_radius_range``), ``"no_fit"`` (fewer than 3 points or 2 distinct radii: nothing
        is fitted, values are NaN), ``"sigma_int_at_prior_bound"`` (the 84th percentile of
        ``sigma_int`` lies within 10% of ``sigma_int_max``: the scatter exceeds the prior
        range and the errors depend on it).
    method : str
        ``"analytic"`` or ``"emcee"``.
    samples : ndarray
        Posterior samples ``(n_samples, 3)`` of ``(intercept, slope, sigma_int)``.
    """

    slope: float
    slope_err: float
    slope_percentiles: np.ndarray
    intercept: float
    intercept_err: float
    intercept_percentiles: np.ndarray
    sigma_int: float
    sigma_int_percentiles: np.ndarray
    sigma_int_fixed: float | None
    n: int
    radius_range: tuple
    flag: bool
    reason: str
    method: str
    samples: np.ndarray = field(repr=False, default_factory=lambda: np.empty((0, 3)))

    @classmethod
    def unfitted(cls, n: int, radius_range, reason: str, sigma_int_fixed, method: str):
        """The result for points that admit no line: NaN parameters, flagged with the reason."""
        nan3 = np.full(3, np.nan)
        return cls(
            np.nan,
            np.nan,
            nan3,
            np.nan,
            np.nan,
            nan3.copy(),
            np.nan,
            nan3.copy(),
            sigma_int_fixed,
            n,
            radius_range,
            True,
            reason,
            method,
        )


def _as_rng(rng_or_seed, key=()) -> np.random.Generator:
    if isinstance(rng_or_seed, np.random.Generator):
        return rng_or_seed
    if rng_or_seed is None:
        raise ValueError("a seed (int) or numpy Generator is required for reproducible draws")
    return object_stream(int(rng_or_seed), "linear_fit", *key)


def _conditional_lines(r, y, sigma, s):
    """Weighted least squares of ``y = a + b r`` at each ``sigma_int`` in ``s`` (centred at
    ``r0 = mean(r)``): returns ``(a0, b, var_a0, var_b, cov_a0b, log_evidence)`` per ``s``,
    where ``a0`` is the value at ``r0`` and ``log_evidence`` is ln p(y | s) with ``a, b``
    integrated over flat priors (up to a constant)."""
    v = sigma[None, :] ** 2 + s[:, None] ** 2  # (n_s, n)
    w = 1.0 / v
    sw = w.sum(axis=1)
    swx = (w * r).sum(axis=1)
    swxx = (w * r * r).sum(axis=1)
    swy = (w * y).sum(axis=1)
    swxy = (w * r * y).sum(axis=1)
    det = sw * swxx - swx**2
    b = (sw * swxy - swx * swy) / det
    a0 = (swxx * swy - swx * swxy) / det
    resid = y[None, :] - a0[:, None] - b[:, None] * r[None, :]
    chi2 = (w * resid**2).sum(axis=1)
    log_ev = -0.5 * np.log(v).sum(axis=1) - 0.5 * np.log(det) - 0.5 * chi2
    return a0, b, swxx / det, sw / det, -swx / det, log_ev


def _mixture_percentiles(weights, means, sds, qs):
    """Percentiles of a mixture of Gaussians (exact, by root finding on its CDF)."""
    keep = weights > 1e-14 * weights.max()
    w, m, sd = weights[keep] / weights[keep].sum(), means[keep], sds[keep]
    if len(w) == 1 or (np.ptp(m) == 0 and np.ptp(sd) == 0):
        return np.array([m[0] + sd[0] * ndtri(q) for q in qs])
    lo, hi = float(np.min(m - 12 * sd)), float(np.max(m + 12 * sd))
    tol = 1e-10 * max(float(np.min(sd)), 1e-300)

    def cdf(x):
        return float(np.dot(w, ndtr((x - m) / sd)))

    return np.array([brentq(lambda x, q=q: cdf(x) - q, lo, hi, xtol=tol, rtol=1e-14) for q in qs])


def _grid_percentiles(s, density, qs):
    """Percentiles of a density tabulated on an increasing grid (trapezoid CDF, linear interp)."""
    if len(s) == 1:
        return np.full(len(qs), float(s[0]))
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (density[1:] + density[:-1]) * np.diff(s))])
    cdf /= cdf[-1]
    return np.interp(qs, cdf, s)


def _trapezoid_weights(s):
    if len(s) == 1:
        return np.ones(1)
    d = np.diff(s)
    w = np.zeros(len(s))
    w[:-1] += 0.5 * d
    w[1:] += 0.5 * d
    return w


def _sigma_grid(r, y, sigma, s_max):
    """Grid in sigma_int covering the posterior: a coarse pass over [0, s_max] (quadratic
    spacing, dense near 0), then a uniform grid over the region within ``_GRID_DLOGP`` of the
    coarse maximum, widened by one coarse step on each side."""
    coarse = s_max * np.linspace(0.0, 1.0, _GRID_COARSE + 1) ** 2
    lp = _conditional_lines(r, y, sigma, coarse)[-1]
    lp = np.where(np.isfinite(lp), lp, -np.inf)
    inside = np.flatnonzero(lp > lp.max() - _GRID_DLOGP)
    lo = coarse[max(inside[0] - 1, 0)]
    hi = coarse[min(inside[-1] + 1, len(coarse) - 1)]
    return np.linspace(lo, hi, _GRID_FINE + 1)


def fit_linear_with_scatter(
    r,
    y,
    sigma,
    rng_or_seed,
    *,
    fix_sigma_int: float | None = None,
    sigma_int_max: float = 1.0,
    min_points: int = 5,
    min_radius_range: float = 0.5,
    method: str = "analytic",
    n_samples: int = 4000,
    sampler_settings: SamplerSettings | None = None,
    key: tuple = (),
) -> LinearFit:
    """Fit ``y = a + b r`` to points with errors, admitting an intrinsic scatter about the line.

    Model: ``y_i ~ Normal(a + b r_i, sigma_i^2 + sigma_int^2)``, independent. Priors: flat on
    ``a`` and ``b``; flat on ``sigma_int`` over ``[0, sigma_int_max]``.

    Why not plain weighted least squares: the metallicities of spaxels scatter about a line by
    more than their errors (star-forming clumps, azimuthal variations, a gradient that is not
    exactly linear). WLS assumes the errors describe all the scatter; it then understates the
    slope's error (by the factor sqrt(chi^2/dof) and more), and its 1/sigma_i^2 weights let
    a few spaxels with small errors dominate the slope although each of them deviates from
    the line by the intrinsic scatter too. With ``sigma_int`` in the variance, the weights
    ``1/(sigma_i^2 + sigma_int^2)`` saturate and the slope's error includes the scatter. When
    the data have no intrinsic scatter the posterior of ``sigma_int`` piles up near 0 and the
    result tends to WLS (exactly WLS with ``fix_sigma_int=0``).

    Why a flat prior on ``sigma_int`` rather than Jeffreys ``1/sigma_int``: the likelihood
    is finite and non-zero at ``sigma_int = 0`` (the measurement errors keep the variance
    positive), so a ``1/sigma_int`` prior makes the posterior diverge there: it is improper
    without a lower cut-off, and with one it puts a cut-off-dependent mass at
    ``sigma_int ~ 0``, shrinking the scatter and the slope's error towards the WLS values
    this estimator is meant to correct. The flat prior leaves the shape of the likelihood in
    ``sigma_int`` unchanged; for ``n >= 4`` points the posterior would be proper even
    without the upper bound. The default bound, 1 dex, is about half the whole 7.0-9.3 prior
    range of 12+log(O/H), so no physical scatter reaches it; it matters only for very few
    points (then flagged anyway).

    Computation (``method="analytic"``, default): for given ``sigma_int`` the posterior of
    ``(a, b)`` is Gaussian (the WLS solution and covariance with weights
    ``1/(sigma_i^2 + sigma_int^2)``) and ``p(y | sigma_int)`` is known in closed form; the
    one-dimensional posterior of ``sigma_int`` is tabulated on a grid (1001 points over the
    region that holds it), and the marginal posteriors of slope and intercept are the
    corresponding mixtures of Gaussians. Percentiles are exact up to the grid (they do not
    depend on the random stream); the stream only draws ``samples`` (``sigma_int`` from the
    grid, then ``(a, b)`` from the conditional Gaussian). ``method="emcee"`` samples
    ``(a, b, sigma_int)`` with ``emcee`` instead (for cross-checks); its percentiles come
    from the samples.

    Asymmetric errors: pass the conservative (larger-side) error ``max(p84 - p50,
    p50 - p16)`` as ``sigma``. A symmetric Gaussian cannot carry the asymmetry; with the
    larger side the likelihood is never narrower than the data allow, and an overstated
    ``sigma_i`` cannot be compensated by ``sigma_int`` (which is >= 0), so the choice errs
    towards a larger, not a smaller, slope error. It is also the error the paper maps (Fig. 10).

    Parameters
    ----------
    r, y, sigma : array_like
        Abscissae (radius, kpc), ordinates (12+log(O/H), dex) and 1-sigma errors of ``y``
        (> 0). Points with a non-finite value or an error that is not positive are ignored.
    rng_or_seed : int or numpy.random.Generator
        A seed (the stream is :func:`ohmap.streams.object_stream` of ``(seed, "linear_fit",
        *key)``) or a generator, for the posterior samples.
    fix_sigma_int : float, optional
        Fix ``sigma_int`` to this value instead of fitting it (0: plain weighted least
        squares; the posterior of ``(a, b)`` is then exactly Gaussian).
    sigma_int_max : float
        Upper bound of the flat prior on ``sigma_int`` (units of ``y``).
    min_points : int
        Fewer points are flagged ``"too_few_points"`` (still fitted if there are at least 3).
    min_radius_range : float
        A smaller span ``max(r) - min(r)`` is flagged ``"small_radius_range"``.
    method : str
        ``"analytic"`` or ``"emcee"``.
    n_samples : int
        Posterior samples drawn by the analytic method.
    sampler_settings : SamplerSettings, optional
        For ``method="emcee"`` (default: 32 walkers, 4000 steps, 1000 burn-in, thin 1).
    key : tuple
        Appended to the seed's stream key (e.g. ``(galaxy, "spaxels")``).

    Returns
    -------
    LinearFit
    """
    if method not in ("analytic", "emcee"):
        raise ValueError(f"method {method!r} is not 'analytic' or 'emcee'")
    r, y, sigma = _usable_points(r, y, sigma, fix_sigma_int, sigma_int_max)
    n = len(r)
    rng_range = (float(r.min()), float(r.max())) if n else (np.nan, np.nan)
    reasons = []
    if n < min_points:
        reasons.append("too_few_points")
    if not (n and rng_range[1] - rng_range[0] >= min_radius_range):
        reasons.append("small_radius_range")
    if n < 3 or len(np.unique(r)) < 2:
        return LinearFit.unfitted(
            n, rng_range, ",".join(reasons + ["no_fit"]), fix_sigma_int, method
        )
    rng = _as_rng(rng_or_seed, key)
    r0 = float(np.mean(r))
    x = r - r0

    if method == "analytic":
        icpt_p, slope_p, sig_p, samples = _analytic_line(
            x, y, sigma, r0, rng, fix_sigma_int, sigma_int_max, n_samples
        )
    else:
        samples = _emcee_line(x, y, sigma, rng, fix_sigma_int, sigma_int_max, sampler_settings)
        samples[:, 0] -= samples[:, 1] * r0
        icpt_p, slope_p, sig_p = (np.percentile(samples[:, j], PERCENTILES) for j in range(3))

    if fix_sigma_int is None and sig_p[2] > 0.9 * sigma_int_max:
        reasons.append("sigma_int_at_prior_bound")
    return LinearFit(
        slope=float(slope_p[1]),
        slope_err=0.5 * float(slope_p[2] - slope_p[0]),
        slope_percentiles=np.asarray(slope_p, float),
        intercept=float(icpt_p[1]),
        intercept_err=0.5 * float(icpt_p[2] - icpt_p[0]),
        intercept_percentiles=np.asarray(icpt_p, float),
        sigma_int=float(sig_p[1]),
        sigma_int_percentiles=np.asarray(sig_p, float),
        sigma_int_fixed=None if fix_sigma_int is None else float(fix_sigma_int),
        n=n,
        radius_range=rng_range,
        flag=bool(reasons),
        reason=",".join(reasons),
        method=method,
        samples=samples,
    )


def _usable_points(r, y, sigma, fix_sigma_int, sigma_int_max):
    """The points with finite values and a positive error, after checking the arguments."""
    r = np.asarray(r, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    sigma = np.asarray(sigma, dtype=float).ravel()
    if not (r.shape == y.shape == sigma.shape):
        raise ValueError(f"r {r.shape}, y {y.shape} and sigma {sigma.shape} differ in length")
    if fix_sigma_int is not None and not fix_sigma_int >= 0:
        raise ValueError(f"fix_sigma_int = {fix_sigma_int} must be >= 0")
    if not sigma_int_max > 0:
        raise ValueError(f"sigma_int_max = {sigma_int_max} must be > 0")
    ok = np.isfinite(r) & np.isfinite(y) & np.isfinite(sigma) & (sigma > 0)
    return r[ok], y[ok], sigma[ok]


def _analytic_line(x, y, sigma, r0, rng, fix_sigma_int, sigma_int_max, n_samples):
    """Percentiles of the intercept (at r = 0), slope and intrinsic scatter from the tabulated
    posterior of ``sigma_int`` and the conditional Gaussians of the line; and ``n_samples``
    draws of (intercept, slope, sigma_int). ``x`` is the abscissa about ``r0``."""
    qs = np.array(PERCENTILES) / 100.0
    s = (
        np.array([float(fix_sigma_int)])
        if fix_sigma_int is not None
        else _sigma_grid(x, y, sigma, sigma_int_max)
    )
    a0, b, va0, vb, cab, lp = _conditional_lines(x, y, sigma, s)
    # intercept at r = 0 from the one at r0
    a = a0 - b * r0
    va = va0 + r0**2 * vb - 2.0 * r0 * cab
    cov_ab = cab - r0 * vb
    dens = np.exp(lp - lp.max())
    wts = dens * _trapezoid_weights(s)
    wts /= wts.sum()
    slope_p = _mixture_percentiles(wts, b, np.sqrt(vb), qs)
    icpt_p = _mixture_percentiles(wts, a, np.sqrt(va), qs)
    sig_p = _grid_percentiles(s, dens, qs)
    k = rng.choice(len(s), size=n_samples, p=wts)
    z = rng.standard_normal((n_samples, 2))
    sb = np.sqrt(vb[k])
    rho = cov_ab[k] / (np.sqrt(va[k]) * sb)
    bs = b[k] + sb * z[:, 0]
    as_ = a[k] + np.sqrt(va[k]) * (rho * z[:, 0] + np.sqrt(np.clip(1 - rho**2, 0, None)) * z[:, 1])
    return icpt_p, slope_p, sig_p, np.column_stack([as_, bs, s[k]])


def _emcee_line(x, y, sigma, rng, fix_sigma_int, s_max, settings):
    """emcee samples of ``(a0, b, sigma_int)`` (``a0`` at ``x = 0``)."""
    settings = settings or SamplerSettings(
        engine="emcee", n_walkers=32, n_steps=4000, n_burn=1000, thin=1
    )
    fixed = fix_sigma_int is not None

    def log_prob(theta):
        theta = np.atleast_2d(theta)
        s = np.full(len(theta), float(fix_sigma_int)) if fixed else theta[:, 2]
        v = sigma[None, :] ** 2 + s[:, None] ** 2
        resid = y[None, :] - theta[:, :1] - theta[:, 1:2] * x[None, :]
        lp = -0.5 * (resid**2 / v + np.log(v)).sum(axis=1)
        if not fixed:
            lp = np.where((s >= 0) & (s <= s_max), lp, -np.inf)
        return lp

    s_start = (
        float(fix_sigma_int) if fixed else min(0.5 * s_max, max(float(np.std(y)), 1e-3 * s_max))
    )
    a0, b, va, vb, _, _ = _conditional_lines(x, y, sigma, np.array([s_start]))
    nw = settings.n_walkers
    init = np.column_stack(
        [
            a0[0] + np.sqrt(va[0]) * rng.standard_normal(nw),
            b[0] + np.sqrt(vb[0]) * rng.standard_normal(nw),
        ]
    )
    if not fixed:
        init = np.column_stack([init, rng.uniform(0.05, 0.95, nw) * 2 * s_start])
        init[:, 2] = np.clip(init[:, 2], 1e-6 * s_max, s_max * (1 - 1e-6))
    res = sample_emcee(log_prob, init, rng, settings)
    samples = res.flat_samples(0)
    if fixed:
        samples = np.column_stack([samples, np.full(len(samples), float(fix_sigma_int))])
    return samples.copy()
