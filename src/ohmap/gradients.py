"""Radial metallicity gradients: individual spaxels and radial annuli (Wang et al. 2017, Sect. 6.1).

Two independent measurements of the gradient d(12+log(O/H))/dr of each galaxy (Table 5):

* **Individual spaxel** (:func:`individual_spaxel_gradient`): a straight line through the
  metallicity of every fitted spaxel (2 x 2 binned maps, at least one line at S/N >= 5)
  against its source-plane de-projected galactocentric radius.
* **Radial annulus** (:func:`radial_annuli`, :func:`annulus_fluxes`,
  :func:`radial_annulus_gradient`): spaxels grouped into annuli of increasing radius, each wide
  enough for its summed flux of one line to reach S/N >= 15; the summed line fluxes of each
  annulus are fitted like a spaxel's (:func:`ohmap.fitting.fit_fluxes`) and a line is drawn
  through the annuli's metallicities.

Both lines are fitted by :func:`fit_linear_with_scatter`: a straight line with an intrinsic
scatter about it, the line's parameters marginalised analytically.

Units: 12+log(O/H) in dex, radius in proper kpc (source plane, de-projected), gradients in
dex/kpc. Maps may be 2-D images or 1-D arrays of spaxels; spaxels are addressed by their flat
index (``numpy.ravel`` order) either way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import brentq
from scipy.special import ndtr, ndtri

from .inference import conservative_error
from .samplers import SamplerSettings, object_stream, sample_emcee

log = logging.getLogger(__name__)

#: Percentiles reported for every fitted quantity.
PERCENTILES = (16.0, 50.0, 84.0)
#: Intervals of the grid in sigma_int (coarse pass, then the refined pass over the region that
#: holds the posterior).
_GRID_COARSE = 800
_GRID_FINE = 1000
#: The refined grid spans the coarse points whose log-posterior is within this of the maximum.
_GRID_DLOGP = 25.0


# ----------------------------------------------------------------------------------------------
# Straight line with intrinsic scatter
# ----------------------------------------------------------------------------------------------


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
    v = sigma[None, :] ** 2 + s[:, None] ** 2          # (n_s, n)
    w = 1.0 / v
    sw = w.sum(axis=1)
    swx = (w * r).sum(axis=1)
    swxx = (w * r * r).sum(axis=1)
    swy = (w * y).sum(axis=1)
    swxy = (w * r * y).sum(axis=1)
    det = sw * swxx - swx ** 2
    b = (sw * swxy - swx * swy) / det
    a0 = (swxx * swy - swx * swxy) / det
    resid = y[None, :] - a0[:, None] - b[:, None] * r[None, :]
    chi2 = (w * resid ** 2).sum(axis=1)
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


def fit_linear_with_scatter(r, y, sigma, rng_or_seed, *, fix_sigma_int: float | None = None,
                            sigma_int_max: float = 1.0, min_points: int = 5,
                            min_radius_range: float = 0.5, method: str = "analytic",
                            n_samples: int = 4000, sampler_settings: SamplerSettings | None = None,
                            key: tuple = ()) -> LinearFit:
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
        A seed (the stream is :func:`ohmap.samplers.object_stream` of ``(seed, "linear_fit",
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
    r, y, sigma = r[ok], y[ok], sigma[ok]
    n = len(r)
    rng_range = (float(r.min()), float(r.max())) if n else (np.nan, np.nan)
    reasons = []
    if n < min_points:
        reasons.append("too_few_points")
    if not (n and rng_range[1] - rng_range[0] >= min_radius_range):
        reasons.append("small_radius_range")
    nan3 = np.full(3, np.nan)
    if n < 3 or len(np.unique(r)) < 2:
        reasons.append("no_fit")
        return LinearFit(np.nan, np.nan, nan3, np.nan, np.nan, nan3.copy(), np.nan, nan3.copy(),
                         fix_sigma_int, n, rng_range, True, ",".join(reasons), method)
    rng = _as_rng(rng_or_seed, key)
    qs = np.array(PERCENTILES) / 100.0
    r0 = float(np.mean(r))
    x = r - r0

    if method == "analytic":
        s = (np.array([float(fix_sigma_int)]) if fix_sigma_int is not None
             else _sigma_grid(x, y, sigma, sigma_int_max))
        a0, b, va0, vb, cab, lp = _conditional_lines(x, y, sigma, s)
        # intercept at r = 0 from the one at r0
        a = a0 - b * r0
        va = va0 + r0 ** 2 * vb - 2.0 * r0 * cab
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
        as_ = a[k] + np.sqrt(va[k]) * (rho * z[:, 0] + np.sqrt(np.clip(1 - rho ** 2, 0, None)) * z[:, 1])
        samples = np.column_stack([as_, bs, s[k]])
    else:
        samples = _emcee_line(x, y, sigma, rng, fix_sigma_int, sigma_int_max, sampler_settings)
        samples[:, 0] -= samples[:, 1] * r0
        icpt_p, slope_p, sig_p = (np.percentile(samples[:, j], PERCENTILES) for j in range(3))

    if fix_sigma_int is None and sig_p[2] > 0.9 * sigma_int_max:
        reasons.append("sigma_int_at_prior_bound")
    return LinearFit(slope=float(slope_p[1]), slope_err=0.5 * float(slope_p[2] - slope_p[0]),
                     slope_percentiles=np.asarray(slope_p, float),
                     intercept=float(icpt_p[1]), intercept_err=0.5 * float(icpt_p[2] - icpt_p[0]),
                     intercept_percentiles=np.asarray(icpt_p, float),
                     sigma_int=float(sig_p[1]), sigma_int_percentiles=np.asarray(sig_p, float),
                     sigma_int_fixed=None if fix_sigma_int is None else float(fix_sigma_int),
                     n=n, radius_range=rng_range, flag=bool(reasons), reason=",".join(reasons),
                     method=method, samples=samples)


def _emcee_line(x, y, sigma, rng, fix_sigma_int, s_max, settings):
    """emcee samples of ``(a0, b, sigma_int)`` (``a0`` at ``x = 0``)."""
    settings = settings or SamplerSettings(engine="emcee", n_walkers=32, n_steps=4000, n_burn=1000, thin=1)
    fixed = fix_sigma_int is not None

    def log_prob(theta):
        theta = np.atleast_2d(theta)
        s = np.full(len(theta), float(fix_sigma_int)) if fixed else theta[:, 2]
        v = sigma[None, :] ** 2 + s[:, None] ** 2
        resid = y[None, :] - theta[:, :1] - theta[:, 1:2] * x[None, :]
        lp = -0.5 * (resid ** 2 / v + np.log(v)).sum(axis=1)
        if not fixed:
            lp = np.where((s >= 0) & (s <= s_max), lp, -np.inf)
        return lp

    s_start = float(fix_sigma_int) if fixed else min(0.5 * s_max, max(float(np.std(y)), 1e-3 * s_max))
    a0, b, va, vb, _, _ = _conditional_lines(x, y, sigma, np.array([s_start]))
    nw = settings.n_walkers
    init = np.column_stack([a0[0] + np.sqrt(va[0]) * rng.standard_normal(nw),
                            b[0] + np.sqrt(vb[0]) * rng.standard_normal(nw)])
    if not fixed:
        init = np.column_stack([init, rng.uniform(0.05, 0.95, nw) * 2 * s_start])
        init[:, 2] = np.clip(init[:, 2], 1e-6 * s_max, s_max * (1 - 1e-6))
    res = sample_emcee(log_prob, init, rng, settings)
    samples = res.flat_samples(0)
    if fixed:
        samples = np.column_stack([samples, np.full(len(samples), float(fix_sigma_int))])
    return samples.copy()


# ----------------------------------------------------------------------------------------------
# Gradient results
# ----------------------------------------------------------------------------------------------


@dataclass
class GradientResult:
    """A metallicity gradient of one galaxy by one method.

    Attributes
    ----------
    method : str
        ``"individual_spaxel"`` or ``"radial_annulus"``.
    slope, slope_err : float
        Gradient (posterior median) and its 1-sigma error, dex/kpc.
    slope_p16, slope_p50, slope_p84 : float
        Percentiles of the gradient, dex/kpc.
    intercept, intercept_err : float
        12+log(O/H) at r = 0 and its error, dex.
    sigma_int, sigma_int_p16, sigma_int_p84 : float
        Intrinsic scatter about the line (median, percentiles), dex.
    sigma_int_fixed : float or None
        Value ``sigma_int`` was fixed to, or None when fitted.
    n : int
        Spaxels or annuli used.
    r_min_kpc, r_max_kpc : float
        Radius range of the points used.
    flag : bool
    reason : str
        See :class:`LinearFit`; ``"no_annuli"`` etc. added by the callers.
    fit : LinearFit
    """

    method: str
    slope: float
    slope_err: float
    slope_p16: float
    slope_p50: float
    slope_p84: float
    intercept: float
    intercept_err: float
    sigma_int: float
    sigma_int_p16: float
    sigma_int_p84: float
    sigma_int_fixed: float | None
    n: int
    r_min_kpc: float
    r_max_kpc: float
    flag: bool
    reason: str
    fit: LinearFit | None = field(default=None, repr=False)

    @classmethod
    def from_fit(cls, method: str, fit: LinearFit) -> "GradientResult":
        sp, ss = fit.slope_percentiles, fit.sigma_int_percentiles
        return cls(method, fit.slope, fit.slope_err, float(sp[0]), float(sp[1]), float(sp[2]),
                   fit.intercept, fit.intercept_err, fit.sigma_int, float(ss[0]), float(ss[2]),
                   fit.sigma_int_fixed, fit.n, float(fit.radius_range[0]), float(fit.radius_range[1]),
                   fit.flag, fit.reason, fit)


def gradient_row(galaxy: str, result: GradientResult) -> dict:
    """One table row (plain Python values) of a gradient: galaxy, method, slope and error
    (dex/kpc), percentiles, intercept (dex), intrinsic scatter (dex; ``sigma_int_fixed`` NaN
    when fitted), number of points, radius range (kpc), flag and reason."""
    return dict(galaxy=str(galaxy), method=result.method,
                slope=float(result.slope), slope_err=float(result.slope_err),
                slope_p16=float(result.slope_p16), slope_p50=float(result.slope_p50),
                slope_p84=float(result.slope_p84),
                intercept=float(result.intercept), intercept_err=float(result.intercept_err),
                sigma_int=float(result.sigma_int), sigma_int_p16=float(result.sigma_int_p16),
                sigma_int_p84=float(result.sigma_int_p84),
                sigma_int_fixed=float("nan") if result.sigma_int_fixed is None else float(result.sigma_int_fixed),
                n=int(result.n), r_min_kpc=float(result.r_min_kpc), r_max_kpc=float(result.r_max_kpc),
                flag=bool(result.flag), reason=str(result.reason))


# ----------------------------------------------------------------------------------------------
# Individual spaxels
# ----------------------------------------------------------------------------------------------


def individual_spaxel_gradient(radius_kpc, oh12_p16, oh12_p50, oh12_p84, fitted_mask, rng_or_seed,
                               limit_mask=None, *, key: tuple = (), **fit_kwargs) -> GradientResult:
    """Metallicity gradient from individual spaxels.

    Uses every spaxel that was fitted (``fitted_mask``), has a finite radius and finite
    percentiles, is not a limit (``limit_mask``, when given: e.g. ``summary["oh12"]["limit"]
    != ""``) and has a positive conservative error ``max(p84 - p50, p50 - p16)``; fits
    ``12+log(O/H) = a + b r`` with :func:`fit_linear_with_scatter` (intrinsic scatter fitted
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
        Passed to :func:`fit_linear_with_scatter` (``min_points``, ``fix_sigma_int``, ...).

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
    fit = fit_linear_with_scatter(r[use], p50[use], err[use], rng_or_seed,
                                  key=("individual_spaxel", *key), **fit_kwargs)
    return GradientResult.from_fit("individual_spaxel", fit)


# ----------------------------------------------------------------------------------------------
# Radial annuli
# ----------------------------------------------------------------------------------------------


@dataclass
class Annulus:
    """One radial annulus.

    Attributes
    ----------
    indices : ndarray of int
        Flat indices (``numpy.ravel`` order) of its spaxels.
    shape : tuple
        Shape of the map the indices refer to.
    r_inner, r_outer : float
        Edges, kpc: the annulus holds the member spaxels with ``r_inner < r <= r_outer``
        (``r_inner = 0`` for the first, inclusive). Between two annuli the edge lies halfway
        between the outermost radius of one and the innermost of the next; the last
        annulus ends at its outermost spaxel.
    r_mean : float
        Mean radius of its spaxels weighted by the flux of the S/N line (negative fluxes
        weighted 0; unweighted mean if no flux is positive), kpc.
    flux, error, snr : float
        Summed flux of the S/N line, its error (quadrature sum) and their ratio.
    """

    indices: np.ndarray
    shape: tuple
    r_inner: float
    r_outer: float
    r_mean: float
    flux: float
    error: float
    snr: float

    @property
    def n_spaxels(self) -> int:
        return len(self.indices)

    @property
    def mask(self) -> np.ndarray:
        """Boolean map of the member spaxels."""
        m = np.zeros(int(np.prod(self.shape)), dtype=bool)
        m[self.indices] = True
        return m.reshape(self.shape)


def annulus_label_map(annuli, shape) -> np.ndarray:
    """Integer map: the annulus index of each spaxel, -1 outside all annuli."""
    lab = np.full(int(np.prod(shape)), -1, dtype=int)
    for k, ann in enumerate(annuli):
        lab[ann.indices] = k
    return lab.reshape(shape)


def _make_annulus(idx, shape, r, f, e, r_inner, r_outer):
    flux = float(f[idx].sum())
    error = float(np.sqrt((e[idx] ** 2).sum()))
    wpos = np.clip(f[idx], 0.0, None)
    r_mean = float(np.average(r[idx], weights=wpos)) if wpos.sum() > 0 else float(r[idx].mean())
    r_mean = min(max(r_mean, float(r[idx].min())), float(r[idx].max()))  # rounding
    return Annulus(np.asarray(idx, dtype=int), tuple(shape), float(r_inner), float(r_outer), r_mean,
                   flux, error, flux / error if error > 0 else np.nan)


def radial_annuli(radius_kpc_map, snr_line_flux, snr_line_error, valid_mask, min_snr: float = 15.0,
                  min_width_kpc: float = 0.0, max_radius_kpc: float | None = None) -> list[Annulus]:
    """Group spaxels into annuli of de-projected radius, each reaching S/N >= ``min_snr``.

    Starting at r = 0, spaxels are added in order of increasing radius to the current
    annulus until the summed flux of the S/N line reaches ``sum f / sqrt(sum e^2) >=
    min_snr`` and the annulus is at least ``min_width_kpc`` wide (from its inner edge to its
    outermost spaxel); spaxels at exactly the same radius always go into the same annulus.
    Then the next annulus starts. The spaxels left over at the end, if they do not reach the
    threshold by themselves, are merged into the last complete annulus when the merged sum
    still reaches ``min_snr`` (so no data are thrown away), and dropped otherwise (an annulus
    below the threshold is never returned). If not even all spaxels together reach the
    threshold, no annulus is returned.

    The S/N line is the caller's choice: H-alpha where the grisms cover it, else
    [OIII]5008 (Sect. 6.1). It must not be chosen by, or be, a metallicity-sensitive ratio:
    the annuli then would be defined by the quantity they measure. In particular,
    [OIII]/H-beta rises with falling metallicity on the lower branch where most of the sample
    lies, so annuli cut on [OIII] are narrower where the metallicity is low, biasing the
    annulus metallicities low; H-alpha, a recombination line, does not correlate with O/H.

    Parameters
    ----------
    radius_kpc_map : array_like
        De-projected source-plane radius of each spaxel, kpc.
    snr_line_flux, snr_line_error : array_like
        Map of the S/N line's flux and its 1-sigma error (infinite or NaN where no data;
        e.g. :func:`ohmap.spaxels.bin_map` output).
    valid_mask : array_like of bool
        Spaxels that may enter an annulus (e.g. in the galaxy's segmentation, covered by the
        maps).
    min_snr : float
        Threshold of each annulus's S/N (paper: 15).
    min_width_kpc : float
        Least width of an annulus, kpc (default 0: set it to about the source-plane
        resolution so that neighbouring annuli are not dominated by the same PSF).
    max_radius_kpc : float, optional
        Spaxels beyond this radius are not used.

    Returns
    -------
    list of Annulus
        In order of increasing radius; each spaxel in at most one.
    """
    r = np.asarray(radius_kpc_map, dtype=float)
    shape = r.shape
    r = r.ravel()
    f = np.asarray(snr_line_flux, dtype=float).ravel()
    e = np.asarray(snr_line_error, dtype=float).ravel()
    valid = np.asarray(valid_mask, dtype=bool).ravel()
    if not (len(r) == len(f) == len(e) == len(valid)):
        raise ValueError("radius, flux, error and mask maps differ in size")
    if not min_snr > 0:
        raise ValueError(f"min_snr = {min_snr} must be > 0")
    use = valid & np.isfinite(r) & (r >= 0) & np.isfinite(f) & np.isfinite(e) & (e > 0)
    if max_radius_kpc is not None:
        use &= r <= max_radius_kpc
    idx = np.flatnonzero(use)
    idx = idx[np.argsort(r[idx], kind="stable")]
    rs, fs, vs = r[idx], f[idx], e[idx] ** 2
    n = len(idx)
    # group boundaries: positions where the radius changes (ties are not split)
    ends = np.flatnonzero(np.diff(rs) > 0) + 1           # a group may end before these positions
    ends = np.append(ends, n)

    annuli: list[tuple[int, int, float]] = []           # (start, stop, r_inner)
    start, r_inner = 0, 0.0
    cf = np.concatenate([[0.0], np.cumsum(fs)])
    cv = np.concatenate([[0.0], np.cumsum(vs)])
    for stop in ends:
        fsum, vsum = cf[stop] - cf[start], cv[stop] - cv[start]
        if fsum / np.sqrt(vsum) >= min_snr and rs[stop - 1] - r_inner >= min_width_kpc:
            annuli.append((start, stop, r_inner))
            if stop < n:
                r_inner = 0.5 * (rs[stop - 1] + rs[stop])
            start = stop
    if start < n:  # leftover spaxels below the threshold
        if annuli:
            s0, _, rin = annuli[-1]
            fsum, vsum = cf[n] - cf[s0], cv[n] - cv[s0]
            if fsum / np.sqrt(vsum) >= min_snr:
                annuli[-1] = (s0, n, rin)
                log.debug("merged %d outer spaxels into the last annulus", n - start)
            else:
                log.debug("dropped %d outer spaxels that reach no S/N %.1f", n - start, min_snr)
        else:
            log.info("all %d spaxels together reach S/N %.1f < %.1f: no annulus", n,
                     (cf[n] / np.sqrt(cv[n])) if n else 0.0, min_snr)
    out = []
    for s0, s1, rin in annuli:
        out.append(_make_annulus(idx[s0:s1], shape, r, f, e, rin, rs[s1 - 1]))
    return out


def annulus_fluxes(line_fluxes: dict, annuli, lines=None):
    """Line fluxes summed over each annulus, errors added in quadrature.

    Parameters
    ----------
    line_fluxes : dict
        ``line -> (flux_map, error_map)`` (1e-17 erg/s/cm^2), maps of the shape the annuli
        index.
    annuli : sequence of Annulus
    lines : sequence of str, optional
        Column order (default: the dict's order); e.g. the fit model's ``lines``.

    Returns
    -------
    flux, error : ndarray
        ``(n_annuli, n_lines)``. A line is left out of an annulus (flux and error NaN, which
        :func:`ohmap.fitting.fit_fluxes` ignores) if any member spaxel lacks data for it
        (flux not finite, error not finite or not positive): summing only the covered
        spaxels would underestimate that line relative to the others.
    """
    lines = list(line_fluxes) if lines is None else list(lines)
    flux = np.full((len(annuli), len(lines)), np.nan)
    error = np.full((len(annuli), len(lines)), np.nan)
    for j, name in enumerate(lines):
        if name not in line_fluxes:
            continue
        fm, em = (np.asarray(m, dtype=float).ravel() for m in line_fluxes[name])
        for k, ann in enumerate(annuli):
            fi, ei = fm[ann.indices], em[ann.indices]
            if len(fi) and np.all(np.isfinite(fi) & np.isfinite(ei) & (ei > 0)):
                flux[k, j] = fi.sum()
                error[k, j] = np.sqrt((ei ** 2).sum())
    return flux, error


def radial_annulus_gradient(annulus_fits, radii, rng_or_seed=0, *, fix_sigma_int: float | None = 0.0,
                            limits=None, exclude_limits: bool = True, key: tuple = (),
                            min_points: int = 3, **fit_kwargs) -> GradientResult:
    """Metallicity gradient from radial annuli.

    Parameters
    ----------
    annulus_fits : sequence of FluxFit, or array_like
        The fit of each annulus's summed fluxes (``summary["oh12"]`` gives p16/p50/p84 and
        the limit flag), or an array ``(n_annuli, 3)`` of 12+log(O/H) p16, p50, p84.
    radii : sequence of Annulus, or array_like
        The annuli (their flux-weighted mean radius ``r_mean`` is used) or radii, kpc.
    rng_or_seed : int or numpy.random.Generator
        For the posterior samples (percentiles do not depend on it; see
        :func:`fit_linear_with_scatter`).
    fix_sigma_int : float or None
        Default 0: no intrinsic scatter, i.e. weighted least squares with the conservative
        errors. With the few annuli a galaxy has (3-6) ``sigma_int`` is poorly constrained,
        and its flat prior then dominates the slope's error; moreover an annulus averages over
        azimuth, so the clump-to-clump scatter that motivates ``sigma_int`` for spaxels is
        largely averaged out of the annulus metallicities, whose errors already include the
        calibration's intrinsic scatter. Pass None to fit it.
    limits : array_like of bool, optional
        For array input: annuli whose metallicity is a limit.
    exclude_limits : bool
        Leave out annuli whose metallicity is a limit.
    min_points : int
        Fewer annuli are flagged (default 3).
    **fit_kwargs
        Passed to :func:`fit_linear_with_scatter`.

    Returns
    -------
    GradientResult
    """
    if len(annulus_fits) and hasattr(annulus_fits[0], "summary"):
        pct = np.array([[fit.summary["oh12"][q] for q in ("p16", "p50", "p84")] for fit in annulus_fits])
        lim = np.array([bool(fit.summary["oh12"].get("limit", "")) for fit in annulus_fits])
    else:
        pct = np.asarray(annulus_fits, dtype=float).reshape(-1, 3)
        lim = np.zeros(len(pct), bool) if limits is None else np.asarray(limits, dtype=bool).ravel()
    if len(radii) and isinstance(radii[0], Annulus):
        rad = np.array([a.r_mean for a in radii])
    else:
        rad = np.asarray(radii, dtype=float).ravel()
    if not (len(rad) == len(pct) == len(lim)):
        raise ValueError(f"{len(pct)} annulus fits, {len(rad)} radii and {len(lim)} limit flags differ")
    use = ~lim if exclude_limits else np.ones(len(pct), bool)
    err = conservative_error(pct[:, 0], pct[:, 1], pct[:, 2])
    fit = fit_linear_with_scatter(rad[use], pct[use, 1], err[use], rng_or_seed, fix_sigma_int=fix_sigma_int,
                                  min_points=min_points, key=("radial_annulus", *key), **fit_kwargs)
    return GradientResult.from_fit("radial_annulus", fit)
