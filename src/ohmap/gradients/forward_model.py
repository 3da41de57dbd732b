"""The forward-modelled metallicity gradient: one linear profile fitted to the line fluxes of
every spaxel (or bin) of the footprint at once, the faint ones included.

The two methods of Wang et al. (2017, Sect. 6.1) first form a posterior of 12+log(O/H) per
spaxel (or annulus) and then fit a line through their medians. Both lose information: spaxels
below the S/N threshold are dropped, and a faint spaxel's posterior, squeezed between the
calibration's turnover and the prior bounds, has a median that leans toward the turnover. Here
the gradient is a parameter of the likelihood itself:

    12+log(O/H)(r_b) = Z0 + (dZ/dr) r_b

for every bin ``b`` at deprojected source-plane radius ``r_b``; the likelihood and calibration
are those of the spaxel fits (:class:`ohmap.inference.model.LineFluxModel`).

The nuisances, and why they are what they are:

* **H-beta is free per bin** and profiled out (maximised at every metallicity and A_V). Star
  formation in lensed galaxies is clumpy; any smooth profile would be wrong. Profiled rather
  than marginalised: with a prior on it (Jeffreys, as the spaxel fits), a bin's marginal
  likelihood carries an Occam factor that depends on how bright the model's lines are per unit
  H-beta at each metallicity, so hundreds of noise-only bins prefer the metallicities where the
  lines are faintest. The profile of a scale parameter has no such factor: projected on any
  line-ratio pattern, white noise gives the same gain.
* **A_V is one value per galaxy**, sampled with Z0 and dZ/dr (a smooth profile of the
  lowest order). Free per bin, it gives each bin a two-dimensional family of line patterns
  whose flexibility to fit noise depends on metallicity: 400 noise-only bins then moved
  ln L by 29 across the metallicity range in a test (tests/gradients/test_forward_model.py
  measures the remaining effect). The spaxel fits keep A_V per spaxel; a galaxy whose dust
  varies strongly is flagged by its chi^2, not absorbed.

Each bin thus contributes a table ``ln L_b(Z, A_V)`` on a grid (H-beta profiled), and
``(Z0, dZ/dr, A_V)`` is sampled from ``sum_b ln L_b(Z0 + dZ/dr r_b, A_V)`` (bilinear
interpolation) by the batched engine with flat priors. Because only likelihoods are multiplied,
no per-bin prior on the metallicity enters, and nothing leans toward the turnover.

:func:`gradient_fisher_bound` is the Cramér–Rao bound of the same model, the yardstick of the
method's error.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ohmap.inference.model import LineFluxModel
from ohmap.inference.samplers.batched import sample_batched
from ohmap.streams import object_stream

from .result import GradientResult

log = logging.getLogger(__name__)

METHOD = "forward_model"


@dataclass(frozen=True)
class ForwardSettings:
    """Settings of the forward-modelled gradient (``gradients.forward`` in the config).

    Attributes
    ----------
    z_step_dex : float
        Spacing of the metallicity nodes of the per-bin tables, dex (bilinear interpolation
        between nodes).
    av_step_mag : float
        Spacing of their A_V nodes, mag.
    hbeta_nodes : int
        Nodes of the H-beta profile search per table node: a window of +-4 sigma about the
        weighted least-squares flux (uniform in log H-beta, clipped to the prior), its best node
        refined by a parabola.
    slope_prior : tuple of float
        Flat prior on the gradient, dex/kpc.
    min_bins : int
        Fewer bins with data and a radius: no gradient.
    av : {"global", "per_bin"}
        ``"global"``: one A_V per galaxy, sampled with Z0 and dZ/dr (the default; see the
        module docstring for why). ``"per_bin"``: A_V profiled out in every bin like H-beta,
        for galaxies whose dust varies; it lets faint bins' A_V absorb line-ratio noise.
    bins_per_chunk : int
        Bins evaluated together (memory, not results).
    """

    z_step_dex: float = 0.02
    av_step_mag: float = 0.05
    hbeta_nodes: int = 24
    slope_prior: tuple = (-1.0, 1.0)
    min_bins: int = 5
    av: str = "global"
    bins_per_chunk: int = 2

    @classmethod
    def from_config(cls, section) -> "ForwardSettings":
        section = dict(section or {})
        if "slope_prior" in section:
            section["slope_prior"] = tuple(float(v) for v in section["slope_prior"])
        if section.get("av", "global") not in ("global", "per_bin"):
            raise ValueError(
                f"gradients.forward.av: {section['av']!r} is not one of 'global', 'per_bin'"
            )
        return cls(**section)


def bin_log_likelihood(model: LineFluxModel, flux, error, z_grid, settings: ForwardSettings):
    """ln L of each bin on a (metallicity, A_V) grid, its H-beta flux profiled out.

    Parameters
    ----------
    model : LineFluxModel
        Lines, calibration, likelihood and priors of the spaxel fits (vanilla parameter set:
        [NII]/H-alpha fixed).
    flux, error : array_like
        ``(n_bins, n_lines)``, 1e-17 erg/s/cm^2; a non-finite flux or error leaves the line out.
    z_grid : array_like
        Metallicity nodes, dex, inside the model's prior.

    Returns
    -------
    ndarray
        ``(n_bins, n_z, n_av)`` on ``z_grid`` and the A_V nodes of :func:`grids`: the maximum
        over the intrinsic H-beta flux (within its prior range) of the model's ln L.
    """
    flux = np.atleast_2d(np.asarray(flux, dtype=float))
    error = np.atleast_2d(np.asarray(error, dtype=float))
    z_grid = np.asarray(z_grid, dtype=float)
    av = grids(model, settings)[1]
    # a[z, av, line]: each line's observed flux per unit intrinsic H-beta; s2 its intrinsic
    # scatter as a squared fraction.
    grid = np.stack(np.meshgrid(z_grid, av, indexing="ij"), axis=-1)
    theta = np.concatenate([grid, np.zeros(grid.shape[:-1] + (1,))], axis=-1)
    a, scatter = model.expected(theta)
    s2 = (scatter / np.where(a > 0, a, 1.0)) ** 2
    out = np.empty((flux.shape[0], z_grid.size, av.size))
    for start in range(0, flux.shape[0], settings.bins_per_chunk):
        chunk = slice(start, start + settings.bins_per_chunk)
        out[chunk] = _profiled(model, flux[chunk], error[chunk], a, s2, settings)
    return out


def _profiled(model, flux, error, a, s2, settings):
    """ln L of a few bins at the (z, av) nodes of ``a``, maximised over H-beta."""
    use = np.isfinite(flux) & np.isfinite(error) & (error > 0)
    f = np.where(use, flux, 0.0)[:, None, None, :]
    var_obs = (np.where(use, error, 1.0) ** 2)[:, None, None, :]
    w_use = use.astype(float)[:, None, None, :]
    # Weighted least squares for H-beta at each node, once with the observational errors and
    # once more with the model scatter at that flux: centre and width of the search window.
    h = np.sum(w_use * f * a / var_obs, -1) / np.sum(w_use * a * a / var_obs, -1)
    v = var_obs + np.clip(h, 0, None)[..., None] ** 2 * a * a * s2
    h = np.sum(w_use * f * a / v, -1) / np.sum(w_use * a * a / v, -1)
    sig = 1.0 / np.sqrt(np.sum(w_use * a * a / v, -1))
    log_lo, log_hi = model.lower[2], model.upper[2]
    top = np.clip(np.log10(np.clip(h + 4 * sig, 1e-300, None)), log_lo, log_hi)
    bottom = np.log10(np.clip(h - 4 * sig, 10**log_lo, None))
    bottom = np.clip(np.minimum(bottom, top - 1e-6), log_lo, log_hi)
    t = np.linspace(0.0, 1.0, settings.hbeta_nodes)
    log_h = bottom[..., None] + (top - bottom)[..., None] * t  # (bins, z, av, nodes)
    mu = 10 ** log_h[..., None] * a[None, :, :, None, :]
    var = var_obs[..., None, :] + mu * mu * s2[None, :, :, None, :]
    terms = (f[..., None, :] - mu) ** 2 / var
    if model.settings.likelihood == "gaussian":
        terms = terms + np.log(var)
    ln_l = -0.5 * np.sum(terms * w_use[..., None, :], axis=-1)
    return _refined_max(ln_l)


def _refined_max(ln_y):
    """Maximum along the last axis of a function sampled on uniform nodes, refined by the
    parabola through the best node and its neighbours."""
    k = np.argmax(ln_y, axis=-1)
    n = ln_y.shape[-1]
    kc = np.clip(k, 1, n - 2)

    def take(j):
        return np.take_along_axis(ln_y, j[..., None], -1)[..., 0]

    y0, y1, y2 = take(kc - 1), take(kc), take(kc + 1)
    curvature = y0 - 2 * y1 + y2
    with np.errstate(invalid="ignore", divide="ignore"):
        peak = y1 - 0.125 * (y2 - y0) ** 2 / curvature
    interior = (k == kc) & (curvature < 0) & np.isfinite(peak)
    return np.where(interior, np.maximum(peak, take(k)), take(k))


@dataclass
class ForwardFit:
    """The forward-modelled gradient of one galaxy.

    Attributes
    ----------
    result : GradientResult
        Slope (median), error (half the 16-84 width), percentiles, intercept; ``sigma_int`` is
        NaN (no intrinsic scatter in the model).
    samples : ndarray
        Posterior samples of (Z0 [dex], dZ/dr [dex/kpc], A_V [mag]), ``(n, 3)``.
    z_grid, av_grid : ndarray
        Metallicity (dex) and A_V (mag) nodes of ``bin_log_likelihood``.
    bin_log_likelihood : ndarray
        ``(n_bins, n_z, n_av)``, each bin's table relative to its maximum.
    radius_kpc : ndarray
        Radius of each bin used, kpc.
    converged : bool
    """

    result: GradientResult
    samples: np.ndarray
    z_grid: np.ndarray
    av_grid: np.ndarray
    bin_log_likelihood: np.ndarray
    radius_kpc: np.ndarray
    converged: bool


def profile_log_likelihood(theta, radius_kpc, ln_l_bins, z_grid, av_grid):
    """ln L of profiles ``theta`` (``(..., 3)``: Z0 [dex], dZ/dr [dex/kpc], A_V [mag]) summed
    over bins, from the per-bin tables of :func:`bin_log_likelihood` interpolated bilinearly
    (metallicity clipped to the grid, the calibration's range)."""
    theta = np.asarray(theta, dtype=float)
    z = theta[..., :1] + theta[..., 1:2] * radius_kpc  # (..., n_bins)
    zi, zf = _node(z, z_grid)
    ai, af = _node(theta[..., 2:3], av_grid)
    rows = np.arange(ln_l_bins.shape[0])
    low = (1.0 - zf) * ln_l_bins[rows, zi, ai] + zf * ln_l_bins[rows, zi + 1, ai]
    high = (1.0 - zf) * ln_l_bins[rows, zi, ai + 1] + zf * ln_l_bins[rows, zi + 1, ai + 1]
    values = (1.0 - af) * low + af * high
    # Summed bin by bin in a fixed order: no BLAS reduction whose order could vary.
    total = values[..., 0]
    for j in range(1, values.shape[-1]):
        total = total + values[..., j]
    return total


def _node(x, grid):
    """Lower node index and fraction of ``x`` on a uniform ``grid`` (clipped to it)."""
    pos = np.clip((x - grid[0]) / (grid[1] - grid[0]), 0.0, grid.size - 1.0)
    i = np.minimum(pos.astype(np.intp), grid.size - 2)
    return i, pos - i


def forward_gradient(
    model: LineFluxModel,
    flux,
    error,
    radius_kpc,
    sampler,
    settings: ForwardSettings | None = None,
    key: tuple = (),
) -> ForwardFit:
    """Fit ``Z(r) = Z0 + dZ/dr r`` to the line fluxes of all bins of one galaxy.

    Parameters
    ----------
    model : LineFluxModel
    flux, error : array_like
        ``(n_bins, n_lines)`` in ``model.lines`` order, 1e-17 erg/s/cm^2.
    radius_kpc : array_like
        Deprojected source-plane radius of each bin, kpc; bins with a non-finite radius, or
        without one line with data, are left out.
    sampler : ohmap.inference.settings.SamplerSettings
        The batched engine's settings (walkers, steps, burn-in, seed).
    settings : ForwardSettings, optional
    key : tuple
        Stream key (``("forward_model",)`` is prepended).

    Returns
    -------
    ForwardFit
    """
    settings = settings or ForwardSettings()
    flux = np.atleast_2d(np.asarray(flux, dtype=float))
    error = np.atleast_2d(np.asarray(error, dtype=float))
    radius = np.asarray(radius_kpc, dtype=float).ravel()
    has_data = (np.isfinite(flux) & np.isfinite(error) & (error > 0)).any(axis=1)
    use = np.isfinite(radius) & has_data
    flux, error, radius = flux[use], error[use], radius[use]
    z_grid, av_grid = grids(model, settings)
    if radius.size < settings.min_bins:
        return _no_fit(radius, z_grid, av_grid, f"only {radius.size} bins (< {settings.min_bins})")
    ln_l = bin_log_likelihood(model, flux, error, z_grid, settings)
    if settings.av == "per_bin":
        ln_l = np.repeat(_refined_max(ln_l)[..., None], 2, axis=-1)
        av_grid = av_grid[[0, -1]]
    # Each bin's table relative to its best node; a bin no model reaches (every node -inf)
    # gets a flat table: it carries no shape.
    best = np.max(ln_l, axis=(1, 2), keepdims=True)
    ln_l = np.where(np.isfinite(best), ln_l - np.where(np.isfinite(best), best, 0.0), 0.0)
    ln_l = np.where(np.isfinite(ln_l), ln_l, -1e3)
    bounds = np.array(
        [
            (model.lower[0], model.upper[0]),
            tuple(settings.slope_prior),
            (model.lower[1], model.upper[1]),
        ]
    )

    def log_prob(theta):
        inside = np.all((theta >= bounds[:, 0]) & (theta <= bounds[:, 1]), axis=-1)
        safe = np.where(inside[..., None], theta, bounds.mean(axis=1))
        lp = profile_log_likelihood(safe, radius, ln_l, z_grid, av_grid)
        return np.where(inside, lp, -np.inf)

    rng = object_stream(sampler.seed, METHOD, *key)
    initial = _initial(log_prob, rng, sampler.n_walkers, bounds)
    chains = sample_batched(log_prob, initial[None], [rng], sampler)
    samples = chains.flat_samples(0)
    converged = bool(chains.converged[0])
    return ForwardFit(
        _result(samples, radius, converged, settings),
        samples,
        z_grid,
        av_grid,
        ln_l,
        radius,
        converged,
    )


def grids(model: LineFluxModel, settings: ForwardSettings):
    """The metallicity (dex) and A_V (mag) nodes of the per-bin tables, spanning the priors."""
    lo, hi = model.lower, model.upper
    n_z = max(int(round((hi[0] - lo[0]) / settings.z_step_dex)) + 1, 2)
    n_av = max(int(round((hi[1] - lo[1]) / settings.av_step_mag)) + 1, 2)
    return np.linspace(lo[0], hi[0], n_z), np.linspace(lo[1], hi[1], n_av)


def _initial(log_prob, rng, n_walkers, bounds):
    """Walkers around the best profile of a coarse grid, inside the prior."""
    axes = [np.linspace(b0, b1, n) for (b0, b1), n in zip(bounds, (47, 81, 21))]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    lp = log_prob(grid[None])[0]
    best = grid[int(np.argmax(lp))]
    width = np.array([a[1] - a[0] for a in axes])
    p = best + width * rng.uniform(-1.0, 1.0, (n_walkers, 3))
    margin = 1e-6 * (bounds[:, 1] - bounds[:, 0])
    return np.clip(p, bounds[:, 0] + margin, bounds[:, 1] - margin)


def _result(samples, radius, converged, settings) -> GradientResult:
    sp = np.percentile(samples[:, 1], [16, 50, 84])
    ip = np.percentile(samples[:, 0], [16, 50, 84])
    reasons = []
    if not converged:
        reasons.append("sampler not converged")
    lo, hi = settings.slope_prior
    if sp[0] - lo < 0.05 * (hi - lo) or hi - sp[2] < 0.05 * (hi - lo):
        reasons.append("slope posterior reaches its prior bound")
    r_span = float(radius.max() - radius.min())
    if r_span <= 0:
        reasons.append("no radius range")
    return GradientResult(
        METHOD,
        float(sp[1]),
        float(0.5 * (sp[2] - sp[0])),
        float(sp[0]),
        float(sp[1]),
        float(sp[2]),
        float(ip[1]),
        float(0.5 * (ip[2] - ip[0])),
        np.nan,
        np.nan,
        np.nan,
        None,
        int(radius.size),
        float(radius.min()),
        float(radius.max()),
        bool(reasons),
        "; ".join(reasons),
    )


def _no_fit(radius, z_grid, av_grid, reason) -> ForwardFit:
    nan = np.nan
    result = GradientResult(
        METHOD, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, None,
        int(radius.size),
        float(radius.min()) if radius.size else nan,
        float(radius.max()) if radius.size else nan,
        True,
        reason,
    )  # fmt: skip
    empty = np.zeros((0, z_grid.size, av_grid.size))
    return ForwardFit(result, np.zeros((0, 3)), z_grid, av_grid, empty, radius, False)


def gradient_fisher_bound(model: LineFluxModel, theta_bins, error, radius_kpc, step=1e-4):
    """Cramér–Rao bound on the gradient of the forward model: ``Z(r) = Z0 + dZ/dr r``, one A_V,
    log10 H-beta free per bin.

    Parameters
    ----------
    model : LineFluxModel
    theta_bins : array_like
        ``(n_bins, 3)``: each bin's true (12+log(O/H) [dex], A_V [mag], log10 intrinsic H-beta
        [1e-17 erg/s/cm^2]); A_V the same in every bin.
    error : array_like
        ``(n_bins, n_lines)``: 1-sigma observational errors, 1e-17 erg/s/cm^2 (non-finite:
        line not observed in that bin).
    radius_kpc : array_like
        ``(n_bins,)``, kpc.

    Returns
    -------
    float
        sqrt of the (dZ/dr, dZ/dr) element of the inverse Fisher matrix, dex/kpc. Each bin's
        Fisher matrix in (Z, A_V, log10 H-beta) (Gaussian likelihood with the model-dependent
        variance ``V``: ``F = J^T V^-1 J + 1/2 tr(V^-1 dV V^-1 dV)``) is reduced to (Z, A_V)
        by the Schur complement over its H-beta, and these add up through
        ``Z_b = Z0 + dZ/dr r_b`` into the 3 x 3 information on (Z0, dZ/dr, A_V).
    """
    info = bin_information(model, theta_bins, error, step)  # (bins, 2, 2) on (Z, A_V)
    r = np.asarray(radius_kpc, dtype=float)
    jac = np.zeros((r.size, 2, 3))
    jac[:, 0, 0], jac[:, 0, 1], jac[:, 1, 2] = 1.0, r, 1.0
    total = np.einsum("bij,bjk,bkl->il", jac.transpose(0, 2, 1), info, jac)
    return float(np.sqrt(np.linalg.inv(total)[1, 1]))


def bin_information(model: LineFluxModel, theta_bins, error, step=1e-4):
    """Fisher information on each bin's (12+log(O/H), A_V) with its log10 H-beta profiled
    (Schur complement); ``(n_bins, 2, 2)`` in dex^-2, dex^-1 mag^-1, mag^-2."""
    theta = np.atleast_2d(np.asarray(theta_bins, dtype=float))
    error = np.atleast_2d(np.asarray(error, dtype=float))
    use = np.isfinite(error) & (error > 0)
    var_obs = np.where(use, error, 1.0) ** 2
    n = theta.shape[1]
    mu0, s0 = model.expected(theta)
    v0 = var_obs + s0**2
    d_mu, d_v = [], []
    for j in range(n):
        dt = np.zeros(n)
        dt[j] = step
        mp, sp = model.expected(theta + dt)
        mm, sm = model.expected(theta - dt)
        d_mu.append((mp - mm) / (2 * step))
        d_v.append(((sp**2) - (sm**2)) / (2 * step))
    d_mu, d_v = np.stack(d_mu, -1), np.stack(d_v, -1)  # (bins, lines, params)
    w = use / v0
    fisher = np.einsum("bl,blj,blk->bjk", w, d_mu, d_mu)
    if model.settings.likelihood == "gaussian":
        fisher = fisher + 0.5 * np.einsum("bl,blj,blk->bjk", w * w, d_v, d_v)
    keep, nuisance = fisher[:, :2, :2], fisher[:, :2, 2:]
    inv = np.where(
        fisher[:, 2:, 2:] > 0, 1.0 / np.where(fisher[:, 2:, 2:] > 0, fisher[:, 2:, 2:], 1.0), 0.0
    )
    return keep - np.einsum("bij,bjk,blk->bil", nuisance, inv, nuisance)
