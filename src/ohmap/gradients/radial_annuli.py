"""The radial-annulus gradient: spaxels grouped into annuli of increasing radius, each wide enough
for its summed flux of one line to reach the S/N limit, and a line through the annuli's fitted
metallicities (Wang et al. 2017, Sect. 6.1).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ohmap.inference.summary import conservative_error

from .linear_fit import fit_linear_with_scatter
from .result import GradientResult

log = logging.getLogger(__name__)


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
    return Annulus(
        np.asarray(idx, dtype=int),
        tuple(shape),
        float(r_inner),
        float(r_outer),
        r_mean,
        flux,
        error,
        flux / error if error > 0 else np.nan,
    )


def radial_annuli(
    radius_kpc_map,
    snr_line_flux,
    snr_line_error,
    valid_mask,
    min_snr: float = 15.0,
    min_width_kpc: float = 0.0,
    max_radius_kpc: float | None = None,
) -> list[Annulus]:
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
        e.g. :func:`ohmap.inference.spaxels.bin_map` output).
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
    ends = np.flatnonzero(np.diff(rs) > 0) + 1  # a group may end before these positions
    ends = np.append(ends, n)

    annuli: list[tuple[int, int, float]] = []  # (start, stop, r_inner)
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
            log.info(
                "all %d spaxels together reach S/N %.1f < %.1f: no annulus",
                n,
                (cf[n] / np.sqrt(cv[n])) if n else 0.0,
                min_snr,
            )
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
        :func:`ohmap.inference.fitting.fit_fluxes` ignores) if any member spaxel lacks data for it
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
                error[k, j] = np.sqrt((ei**2).sum())
    return flux, error


def radial_annulus_gradient(
    annulus_fits,
    radii,
    rng_or_seed=0,
    *,
    fix_sigma_int: float | None = 0.0,
    limits=None,
    exclude_limits: bool = True,
    key: tuple = (),
    min_points: int = 3,
    **fit_kwargs,
) -> GradientResult:
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
        :func:`~ohmap.gradients.linear_fit.fit_linear_with_scatter`).
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
        Passed to :func:`~ohmap.gradients.linear_fit.fit_linear_with_scatter`.

    Returns
    -------
    GradientResult
    """
    if len(annulus_fits) and hasattr(annulus_fits[0], "summary"):
        pct = np.array(
            [[fit.summary["oh12"][q] for q in ("p16", "p50", "p84")] for fit in annulus_fits]
        )
        lim = np.array([bool(fit.summary["oh12"].get("limit", "")) for fit in annulus_fits])
    else:
        pct = np.asarray(annulus_fits, dtype=float).reshape(-1, 3)
        lim = np.zeros(len(pct), bool) if limits is None else np.asarray(limits, dtype=bool).ravel()
    if len(radii) and isinstance(radii[0], Annulus):
        rad = np.array([a.r_mean for a in radii])
    else:
        rad = np.asarray(radii, dtype=float).ravel()
    if not (len(rad) == len(pct) == len(lim)):
        raise ValueError(
            f"{len(pct)} annulus fits, {len(rad)} radii and {len(lim)} limit flags differ"
        )
    use = ~lim if exclude_limits else np.ones(len(pct), bool)
    err = conservative_error(pct[:, 0], pct[:, 1], pct[:, 2])
    fit = fit_linear_with_scatter(
        rad[use],
        pct[use, 1],
        err[use],
        rng_or_seed,
        fix_sigma_int=fix_sigma_int,
        min_points=min_points,
        key=("radial_annulus", *key),
        **fit_kwargs,
    )
    return GradientResult.from_fit("radial_annulus", fit)
