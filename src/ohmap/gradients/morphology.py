"""Source-plane morphology of a lensed galaxy and its deprojected galactocentric radius.

Following Wang et al. (2017, Sect. 4.2) and Jones et al. (2015b), the centre, axis ratio,
inclination and major-axis orientation of a galaxy are measured from its stellar-mass
surface-density map: every image-plane pixel is ray-traced to the source plane through the
lens model, a 2D elliptical Gaussian is fitted to the surface density at those (irregular)
source-plane positions, and contours of constant mass surface density are taken to be
contours of constant deprojected radius. The radius of any image-plane position (e.g. a
spaxel of a metallicity map) then follows by tracing it to the source plane.

Conventions
-----------
* Source-plane positions are gnomonic tangent-plane offsets in arcsec, ``dx`` towards EAST
  (increasing RA) and ``dy`` towards NORTH (:func:`ohmap.gradients.sky.tangent_plane_offsets`),
  about the *source-plane position of the reference point* (``ra0``, ``dec0``), i.e. the
  galaxy's catalogue RA/Dec ray-traced through the lens. A galaxy whose centre is exactly at
  its catalogue position therefore has centroid offset (0, 0).
* Position angles are in degrees east of north, major axes in [0, 180).
* Lengths in the disk plane are proper kpc at the source redshift (:func:`ohmap.inference.nebular.
  kpc_per_arcsec`, flat LambdaCDM H0 = 70, Omega_m = 0.3).
* Surface brightness (and surface density) is conserved by lensing, so the surface density
  in a pixel is the source's surface density at the traced position; a pixel covers
  ``pixel area / |mu|`` of source plane.
* Frames of maps follow :mod:`ohmap.resample`: pixel ``(iy, ix)`` of a map of shape
  ``(ny, nx)`` sits at ``x = ix - (nx - 1)/2``, ``y = iy - (ny - 1)/2`` pixels, +x at
  ``frame_pa_x_deg`` east of north and +y 90 deg further (not mirrored).
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass

import numpy as np
from astropy.wcs import WCS
from astropy.wcs.utils import proj_plane_pixel_scales
from scipy.ndimage import label
from scipy.optimize import least_squares

from ohmap.errors import InputError
from ohmap.inference.nebular import kpc_per_arcsec

from .coverage import covered_stamp_offsets
from .lensing import LensModel
from .sky import tangent_plane_to_sky
from .source_plane import pixel_jacobians, reference_source_position

log = logging.getLogger(__name__)

_FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))


#: 8-connectivity for the pixel mask: diagonal neighbours belong to the same object.
_EIGHT = np.ones((3, 3), dtype=int)


@dataclass(frozen=True)
class SourceMorphology:
    """Elliptical-Gaussian description of a galaxy in its source plane.

    Attributes
    ----------
    x0, y0 : float
        Centroid, arcsec east and north of the reference point's source-plane position
        (``ra_ref``, ``dec_ref``).
    sigma_major, sigma_minor : float
        Gaussian standard deviations along the major and minor axes, arcsec (source plane).
    pa_deg : float
        Position angle of the major axis, degrees east of north, in [0, 180).
    z_source : float
        Source redshift (sets the kpc scale).
    x0_err, y0_err, sigma_major_err, sigma_minor_err, axis_ratio_err, pa_err_deg,
    inclination_err_deg : float
        1-sigma uncertainties (same units); NaN when unknown.
    amplitude, amplitude_err : float
        Peak surface density of the fitted Gaussian and its uncertainty, in the units of the
        fitted map (Msun/kpc^2 for stellar-mass maps).
    ra_ref, dec_ref : float
        Source-plane position (degrees) of the reference point; offsets are about it.
    ra0, dec0 : float
        The image-plane reference point (degrees), normally the galaxy's catalogue position.
    galaxy, lens_model : str
        Names used in files and messages.
    n_pixels : int
        Number of image pixels used in the fit.
    n_uncovered : int
        Selected pixels left out because the lens-model maps do not cover them.
    reduced_chi2 : float
        Weighted sum of squared residuals over (n_pixels - 6), in units of the peak-normalised
        map (a goodness-of-fit figure: the map carries no per-pixel errors).
    threshold : float
        Fraction of the peak above which pixels were used.
    """

    x0: float
    y0: float
    sigma_major: float
    sigma_minor: float
    pa_deg: float
    z_source: float
    x0_err: float = math.nan
    y0_err: float = math.nan
    sigma_major_err: float = math.nan
    sigma_minor_err: float = math.nan
    axis_ratio_err: float = math.nan
    pa_err_deg: float = math.nan
    inclination_err_deg: float = math.nan
    amplitude: float = math.nan
    amplitude_err: float = math.nan
    ra_ref: float = math.nan
    dec_ref: float = math.nan
    ra0: float = math.nan
    dec0: float = math.nan
    galaxy: str = ""
    lens_model: str = ""
    n_pixels: int = 0
    n_uncovered: int = 0
    reduced_chi2: float = math.nan
    threshold: float = math.nan

    @property
    def axis_ratio(self) -> float:
        """Axis ratio q = sigma_minor / sigma_major (dimensionless, in (0, 1])."""
        return float(self.sigma_minor / self.sigma_major)

    @property
    def inclination_deg(self) -> float:
        """Inclination of a thin disk, arccos(q), degrees (0 = face-on).

        No correction for the intrinsic thickness of the disk is applied (a thick disk with
        intrinsic axis ratio q0 would give ``cos^2 i = (q^2 - q0^2) / (1 - q0^2)``).
        """
        return float(np.degrees(np.arccos(np.clip(self.axis_ratio, 0.0, 1.0))))

    @property
    def kpc_per_arcsec(self) -> float:
        """Proper kpc per arcsec at ``z_source``."""
        return kpc_per_arcsec(self.z_source)

    @property
    def sigma_major_kpc(self) -> float:
        """``sigma_major`` in proper kpc."""
        return self.sigma_major * self.kpc_per_arcsec

    @property
    def sigma_minor_kpc(self) -> float:
        """``sigma_minor`` in proper kpc."""
        return self.sigma_minor * self.kpc_per_arcsec

    @property
    def sigma_major_kpc_err(self) -> float:
        return self.sigma_major_err * self.kpc_per_arcsec

    @property
    def sigma_minor_kpc_err(self) -> float:
        return self.sigma_minor_err * self.kpc_per_arcsec

    @property
    def ra_center(self) -> float:
        """Source-plane RA of the centroid, degrees (NaN without a reference position)."""
        return float(self._center_sky()[0])

    @property
    def dec_center(self) -> float:
        """Source-plane Dec of the centroid, degrees (NaN without a reference position)."""
        return float(self._center_sky()[1])

    def _center_sky(self):
        if not (np.isfinite(self.ra_ref) and np.isfinite(self.dec_ref)):
            return math.nan, math.nan
        return tangent_plane_to_sky(self.x0, self.y0, self.ra_ref, self.dec_ref)

    def header_cards(self) -> dict:
        """FITS header cards (keyword -> (value, comment)) summarising the morphology."""

        def num(v):
            return float(v) if np.isfinite(v) else "NaN"

        return {
            "MORPHX0": (num(self.x0), "[arcsec] source-plane centroid, east of ref"),
            "MORPHY0": (num(self.y0), "[arcsec] source-plane centroid, north of ref"),
            "MORPHQ": (num(self.axis_ratio), "axis ratio b/a of the Gaussian fit"),
            "MORPHPA": (num(self.pa_deg), "[deg] major axis E of N (source plane)"),
            "MORPHINC": (num(self.inclination_deg), "[deg] thin-disk inclination arccos(q)"),
            "MORPHSMA": (num(self.sigma_major), "[arcsec] Gaussian sigma, major axis"),
            "SRCRAREF": (num(self.ra_ref), "[deg] source-plane RA of the offset origin"),
            "SRCDEREF": (num(self.dec_ref), "[deg] source-plane Dec of the offset origin"),
            "ZSOURCE": (float(self.z_source), "source redshift"),
            "LENSMOD": (str(self.lens_model), "lens model"),
        }


def select_galaxy_pixels(
    image,
    x_gal: float,
    y_gal: float,
    threshold: float = 0.05,
    max_distance_pixels: float = 10.0,
    where: str | None = None,
):
    """Pixels belonging to the galaxy: above ``threshold`` x its peak and connected to it.

    Two passes: (1) pixels above ``threshold`` times the stamp maximum are grouped into
    8-connected islands and the island holding the galaxy's pixel (or, failing that, the
    island closest to it within ``max_distance_pixels``) is taken; (2) the same is repeated
    with the threshold relative to *that island's* peak, keeping the island that holds it.
    So a brighter neighbour in the stamp neither sets the threshold nor enters the fit, and
    faint, detached features (low-mass clumps, other lensed images, noise) are left out.

    Parameters
    ----------
    image : numpy.ndarray
        2D map; non-finite and non-positive pixels are never used.
    x_gal, y_gal : float
        0-based pixel position of the galaxy.
    threshold : float
        Fraction of the peak, in (0, 1).
    max_distance_pixels : float
        How far (pixels) the nearest island may lie from the galaxy position.
    where : str, optional
        Galaxy or file named in errors.

    Returns
    -------
    numpy.ndarray of bool
        The selected pixels.

    Raises
    ------
    InputError
        If there is no finite positive pixel, or no island near the galaxy position.
    """
    image = np.asarray(image, dtype=float)
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be in (0, 1), got {threshold}")
    valid = np.isfinite(image) & (image > 0)
    if not valid.any():
        raise InputError(
            where,
            "the map has no pixel with a finite, positive value "
            "(no usable pixel for the morphology fit)",
        )
    ny, nx = image.shape
    yy, xx = np.mgrid[0:ny, 0:nx]

    def island(mask):
        labels, n = label(mask, structure=_EIGHT)
        if n == 0:
            return None
        ix, iy = int(round(x_gal)), int(round(y_gal))
        if 0 <= iy < ny and 0 <= ix < nx and labels[iy, ix] > 0:
            return labels == labels[iy, ix]
        d2 = np.where(labels > 0, (xx - x_gal) ** 2 + (yy - y_gal) ** 2, np.inf)
        k = np.unravel_index(np.argmin(d2), d2.shape)
        if not np.isfinite(d2[k]) or d2[k] > max_distance_pixels**2:
            return None
        return labels == labels[k]

    peak = np.max(image[valid])
    first = island(valid & (image >= threshold * peak))
    if first is None:
        raise InputError(
            where,
            f"no pixel above {threshold:g} of the peak lies within "
            f"{max_distance_pixels:g} pixels of the galaxy position "
            f"(x={x_gal:.1f}, y={y_gal:.1f}); no usable pixel",
        )
    peak_local = np.max(image[first])
    kpeak = np.unravel_index(np.argmax(np.where(first, image, -np.inf)), image.shape)
    labels, _ = label(valid & (image >= threshold * peak_local), structure=_EIGHT)
    return labels == labels[kpeak]


def _cov_from_params(u1, u2, u3):
    """Source-plane covariance (arcsec^2) from Cholesky parameters: L = [[e^u1, 0], [u2, e^u3]]."""
    l11, l22 = np.exp(u1), np.exp(u3)
    return np.array([[l11 * l11, l11 * u2], [l11 * u2, u2 * u2 + l22 * l22]])


def _shape_from_cov(cov):
    """(sigma_major, sigma_minor, pa_deg) of a 2x2 covariance in (east, north)."""
    vals, vecs = np.linalg.eigh(cov)
    minor, major = np.sqrt(np.clip(vals, 0.0, None))
    ve, vn = vecs[:, 1]
    pa = np.degrees(np.arctan2(ve, vn)) % 180.0
    return float(major), float(minor), float(pa)


def _model(p, dx, dy, extra):
    """Pixel-averaged elliptical Gaussian at source offsets.

    ``extra`` (n, 2, 2) is the source-plane covariance each pixel adds by its footprint (and
    the PSF): the map value is the intrinsic Gaussian convolved with it, so its covariance
    grows to ``C + extra`` and its peak drops by ``sqrt(det C / det(C + extra))``.
    """
    amp, x0, y0, u1, u2, u3 = p
    c = _cov_from_params(u1, u2, u3)
    cxx = c[0, 0] + extra[:, 0, 0]
    cxy = c[0, 1] + extra[:, 0, 1]
    cyy = c[1, 1] + extra[:, 1, 1]
    det = cxx * cyy - cxy**2
    ex, ey = dx - x0, dy - y0
    q = (cyy * ex**2 - 2 * cxy * ex * ey + cxx * ey**2) / det
    det0 = c[0, 0] * c[1, 1] - c[0, 1] ** 2
    return amp * np.sqrt(det0 / det) * np.exp(-0.5 * q)


def _derived(p):
    """(sigma_major, sigma_minor, q, pa_deg, inclination_deg) of fit parameters."""
    major, minor, pa = _shape_from_cov(_cov_from_params(*p[3:6]))
    q = minor / major
    return np.array([major, minor, q, pa, np.degrees(np.arccos(np.clip(q, 0.0, 1.0)))])


def _derived_errors(p, cov_p):
    """1-sigma errors of :func:`_derived` by linear propagation (central differences)."""
    n = len(p)
    jac = np.zeros((5, n))
    for j in range(3, 6):  # the shape depends on the Cholesky parameters only
        h = 1e-6 * max(1.0, abs(p[j]))
        pp, pm = np.array(p, float), np.array(p, float)
        pp[j] += h
        pm[j] -= h
        diff = _derived(pp) - _derived(pm)
        diff[3] = (diff[3] + 90.0) % 180.0 - 90.0  # PA wraps at 180 deg
        jac[:, j] = diff / (2 * h)
    var = np.einsum("ij,jk,ik->i", jac, cov_p, jac)
    return np.sqrt(np.clip(var, 0.0, None))


def fit_source_morphology(
    mass_map,
    wcs: WCS,
    lens: LensModel,
    z_source: float,
    ra0: float,
    dec0: float,
    *,
    threshold: float = 0.05,
    psf_fwhm_arcsec: float = 0.0,
    pixel_integration: bool = True,
    pixels_per_beam: float = 1.0,
    galaxy: str | None = None,
    source: str | os.PathLike | None = None,
) -> SourceMorphology:
    """Fit a 2D elliptical Gaussian to a surface-density map in the source plane.

    Every pixel of the image-plane ``mass_map`` is ray-traced to the source plane
    (:func:`~ohmap.gradients.source_plane.stamp_source_offsets`) and the map value there is one irregular sample of the
    source's surface density (lensing conserves surface density). The Gaussian

        ``S(d) = A exp(-d^T C^-1 d / 2)``,  ``d`` = source offset from the centroid,

    is fitted by weighted least squares, each sample weighted by the source-plane area its
    pixel covers, ``pixel area / |mu|``, so that the strongly magnified part of the galaxy
    (many pixels per source area) does not dominate and the fit is that of the source-plane
    distribution. The covariance ``C`` is parametrised by its Cholesky factor, which stays
    well defined for round sources. The fit starts from the weighted first and second
    moments of the selected samples.

    Pixel selection: finite, positive pixels above ``threshold`` times the galaxy's peak that
    are 8-connected to the galaxy's peak (see :func:`select_galaxy_pixels`); pixels where
    ``|mu|`` is not finite (on a critical curve) are dropped, and so are pixels off the
    lens-model maps (or, with ``pixel_integration``, next to their edge). Both parities of a
    fold arc that straddles a critical curve are kept: they image the same source region, so
    each point is counted twice and the weighting stays uniform over it.

    The model value of a pixel is the Gaussian averaged over the pixel's source-plane
    footprint: with ``pixel_integration`` the footprint (the image pixel mapped through the
    local lens Jacobian, from finite differences of the traced positions) is approximated by a
    Gaussian of the same second moments, and an image-plane Gaussian PSF of FWHM
    ``psf_fwhm_arcsec`` (0 for a PSF-free map) is added the same way, both mapped to the source
    plane with the local Jacobian. This removes the small, shear-dependent broadening by the
    pixel (and the PSF) from the fitted shape.

    An exponential disk is not a Gaussian, but for an elliptical profile of any radial form,
    sampled uniformly in source area within an isophote, the best-fitting Gaussian shares its
    centre, axis ratio and position angle; only ``sigma`` depends on the profile and on
    ``threshold``.

    Parameters
    ----------
    mass_map : array_like
        Image-plane surface density (e.g. stellar mass, Msun/kpc^2), 2D.
    wcs : astropy.wcs.WCS
        Celestial WCS of ``mass_map``.
    lens : ohmap.gradients.lensing.LensModel
        Lens model; ``ra0``, ``dec0`` and at least half the selected pixels must be on its maps.
    z_source : float
        Source redshift.
    ra0, dec0 : float
        Image-plane reference position of the galaxy (degrees; catalogue RA/Dec). Offsets are
        about its source-plane position, and the island of pixels containing it is fitted.
    threshold : float, optional
        Fraction of the galaxy's peak above which pixels are used (default 0.05).
    psf_fwhm_arcsec : float, optional
        FWHM (arcsec) of a Gaussian PSF the image-plane map is convolved with; default 0.
    pixel_integration : bool, optional
        Model the map as pixel averages (True, default) or as point samples at pixel centres.
    pixels_per_beam : float, optional
        Number of image pixels per independent resolution element of the map; the
        covariance is multiplied by it (default 1: pixels independent).
    galaxy : str, optional
        Galaxy id, written to the result and named in errors.
    source : str or os.PathLike, optional
        The map's file, named in errors.

    Returns
    -------
    SourceMorphology
        Centroid (offsets and source-plane RA/Dec), sigmas (arcsec and kpc), axis ratio,
        major-axis position angle, thin-disk inclination and their 1-sigma uncertainties.

    Notes
    -----
    Uncertainties are the least-squares covariance ``(J^T W J)^-1`` scaled by the reduced
    chi-square (weighted residual variance), times ``pixels_per_beam``; derived quantities
    (q, PA, inclination, sigmas) by linear propagation. This was chosen over a bootstrap over
    pixels because it is deterministic and cheap, and needs no per-pixel errors (mass maps from
    SED fitting seldom have trustworthy ones): the residual scatter sets the scale. Residuals
    of neighbouring pixels are correlated (PSF, the profile not being Gaussian), so a
    bootstrap of pixels would be equally optimistic; ``pixels_per_beam`` is the knob for that.
    For a noiseless map the errors measure only the Gaussian's misfit. The lens model's own
    uncertainty is not included.

    Raises
    ------
    InputError
        Naming ``source`` (or ``galaxy``) when the map has no usable pixel, the galaxy
        position is off the stamp's islands or the lens maps, fewer than half the selected
        pixels are on the lens maps, fewer than 7 pixels remain, or the fit fails.
    """
    where = os.fspath(source) if source is not None else (f"galaxy {galaxy}" if galaxy else None)
    image = np.asarray(mass_map, dtype=float)
    if image.ndim != 2:
        raise InputError(where, f"the mass map must be 2D, got shape {image.shape}")
    wcs = wcs.celestial
    xg, yg = (float(v) for v in wcs.world_to_pixel_values(float(ra0), float(dec0)))
    mask = select_galaxy_pixels(image, xg, yg, threshold=threshold, where=where)

    footprints = pixel_integration or psf_fwhm_arcsec > 0
    traced = covered_stamp_offsets(lens, wcs, z_source, ra0, dec0, mask, footprints, where)
    dx, dy, mu, mask, n_uncovered = traced
    mask &= np.isfinite(mu) & np.isfinite(dx) & np.isfinite(dy)
    n = int(mask.sum())
    if n < 7:
        raise InputError(
            where,
            f"only {n} usable pixel(s) above {threshold:g} of the peak; "
            "at least 7 are needed to fit an elliptical Gaussian",
        )

    pix_area = float(np.prod(proj_plane_pixel_scales(wcs) * 3600.0))  # arcsec^2
    area = pix_area / mu[mask]  # source-plane arcsec^2 per pixel
    w = area / area.mean()
    peak = image[mask].max()
    data = image[mask] / peak
    sx, sy = dx[mask], dy[mask]
    extra = _footprint_moments(dx, dy, mask, wcs, pixel_integration, psf_fwhm_arcsec)
    res = _fit_gaussian(data, w, sx, sy, extra, where)
    p = res.x
    red, cov_p = _scaled_covariance(res, n, pixels_per_beam)
    counts = (n, n_uncovered)
    m = _morphology(p, cov_p, red, counts, peak, lens, z_source, ra0, dec0, galaxy, threshold)
    log.info(
        "galaxy %s (lens model %s): centre (%+.3f, %+.3f) arcsec E, N of the traced position; "
        "q = %.2f +- %.2f; major axis %.1f +- %.1f deg E of N; inclination %.1f deg; %d pixels",
        m.galaxy,
        m.lens_model,
        m.x0,
        m.y0,
        m.axis_ratio,
        m.axis_ratio_err,
        m.pa_deg,
        m.pa_err_deg,
        m.inclination_deg,
        m.n_pixels,
    )
    return m


def _morphology(p, cov_p, red, counts, peak, lens, z_source, ra0, dec0, galaxy, threshold):
    """The fitted parameters and their covariance as a :class:`SourceMorphology`; ``counts``
    is (pixels used, selected pixels off the lens maps)."""
    perr = np.sqrt(np.clip(np.diag(cov_p), 0.0, None))
    major, minor, q, pa, inc = _derived(p)
    dmajor, dminor, dq, dpa, dinc = _derived_errors(p, cov_p)
    ra_ref, dec_ref = reference_source_position(lens, z_source, ra0, dec0)
    return SourceMorphology(
        x0=float(p[1]),
        y0=float(p[2]),
        sigma_major=major,
        sigma_minor=minor,
        pa_deg=pa,
        z_source=float(z_source),
        x0_err=float(perr[1]),
        y0_err=float(perr[2]),
        sigma_major_err=float(dmajor),
        sigma_minor_err=float(dminor),
        axis_ratio_err=float(dq),
        pa_err_deg=float(dpa),
        inclination_err_deg=float(dinc),
        amplitude=float(p[0] * peak),
        amplitude_err=float(perr[0] * peak),
        ra_ref=ra_ref,
        dec_ref=dec_ref,
        ra0=float(ra0),
        dec0=float(dec0),
        galaxy="" if galaxy is None else str(galaxy),
        lens_model=str(lens.name),
        n_pixels=counts[0],
        n_uncovered=counts[1],
        reduced_chi2=red,
        threshold=float(threshold),
    )


def _fit_gaussian(data, w, sx, sy, extra, where):
    """Levenberg-Marquardt fit of the pixel-averaged Gaussian to the samples, weighted by the
    source-plane area ``w`` of each, from their moments."""
    p0 = _moment_start(w * data, sx, sy)
    sqw = np.sqrt(w)

    def residuals(p):
        return sqw * (_model(p, sx, sy, extra) - data)

    try:
        res = least_squares(residuals, p0, method="lm", x_scale="jac", max_nfev=5000)
    except (ValueError, np.linalg.LinAlgError) as exc:  # pragma: no cover - defensive
        raise InputError(where, f"the elliptical-Gaussian fit failed: {exc}") from exc
    if not res.success or not np.all(np.isfinite(res.x)):
        raise InputError(where, f"the elliptical-Gaussian fit did not converge: {res.message}")
    return res


def _footprint_moments(dx, dy, mask, wcs, pixel_integration: bool, psf_fwhm_arcsec: float):
    """Second moments (arcsec^2, source plane) of each selected pixel's footprint and of the PSF,
    mapped through the local lens Jacobian: what the model Gaussian is averaged over."""
    extra = np.zeros((int(mask.sum()), 2, 2))
    if pixel_integration or psf_fwhm_arcsec > 0:
        jac = pixel_jacobians(dx, dy)[mask]  # arcsec (source) per image pixel
        var_pix = 1.0 / 12.0 if pixel_integration else 0.0
        scale = float(np.mean(proj_plane_pixel_scales(wcs) * 3600.0))
        var_psf = (float(psf_fwhm_arcsec) / _FWHM_PER_SIGMA / scale) ** 2
        extra = (var_pix + var_psf) * np.einsum("nij,nkj->nik", jac, jac)
    return extra


def _moment_start(mw, sx, sy) -> np.ndarray:
    """Starting parameters from the moments of the samples weighted by ``mw`` (area x surface
    density): amplitude 1, centroid, and the Cholesky factor of the second moments."""
    x0 = np.sum(mw * sx) / mw.sum()
    y0 = np.sum(mw * sy) / mw.sum()
    cxx = np.sum(mw * (sx - x0) ** 2) / mw.sum()
    cyy = np.sum(mw * (sy - y0) ** 2) / mw.sum()
    cxy = np.sum(mw * (sx - x0) * (sy - y0)) / mw.sum()
    floor = 1e-8 + 1e-4 * (cxx + cyy)
    cxx, cyy = max(cxx, floor), max(cyy, floor)
    l11 = math.sqrt(cxx)
    l21 = cxy / l11
    l22 = math.sqrt(max(cyy - l21**2, floor))
    return np.array([1.0, x0, y0, math.log(l11), l21, math.log(l22)])


def _scaled_covariance(res, n: int, pixels_per_beam: float):
    """Reduced chi-square and the parameter covariance ``(J^T W J)^-1`` scaled by it and by
    ``pixels_per_beam`` (NaN when singular)."""
    dof = max(n - res.x.size, 1)
    chi2 = float(np.sum(res.fun**2))
    red = chi2 / dof
    jtj = res.jac.T @ res.jac
    try:
        cov_p = np.linalg.inv(jtj) * red * float(pixels_per_beam)
    except np.linalg.LinAlgError:
        cov_p = np.full((res.x.size, res.x.size), np.nan)
    return red, cov_p
