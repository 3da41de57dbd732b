"""The deprojected galactocentric radius (proper kpc) of any image-plane pixel of a map.

A pixel is traced to the source plane (:mod:`ohmap.gradients.source_plane`) and its offset from
the galaxy's centre deprojected with the galaxy's axis ratio and major-axis orientation
(:class:`ohmap.gradients.morphology.SourceMorphology`).
"""

from __future__ import annotations

import logging
from typing import NamedTuple

import numpy as np
from astropy.io import fits

from ohmap.errors import InputError
from ohmap.inference.nebular import kpc_per_arcsec

from .coverage import MIN_COVERED_FRACTION, check_frame_coverage
from .lensing import LensModel
from .morphology import SourceMorphology
from .source_plane import frame_coverage, frame_source_offsets

log = logging.getLogger(__name__)


class RadiusMap(NamedTuple):
    """A deprojected-radius map and the source-plane offsets it was computed from.

    Attributes
    ----------
    radius_kpc : numpy.ndarray
        Deprojected galactocentric radius, proper kpc; NaN exactly where not ``covered``.
    source_dx, source_dy : numpy.ndarray
        Source-plane offsets of the pixel centres, arcsec east and north of the reference
        point's source-plane position; NaN where not ``covered``.
    header : astropy.io.fits.Header or None
        Primary header (when read from a file).
    covered : numpy.ndarray of bool or None
        The pixels the lens-model maps cover (all of each pixel's sub-positions); the others
        have no radius. None only for maps built without it (all finite radii covered).
    """

    radius_kpc: np.ndarray
    source_dx: np.ndarray
    source_dy: np.ndarray
    header: fits.Header | None = None
    covered: np.ndarray | None = None

    @property
    def n_uncovered(self) -> int:
        """Number of pixels without a radius because the lens-model maps do not reach them."""
        if self.covered is None:
            return int(np.count_nonzero(~np.isfinite(self.radius_kpc)))
        return int(np.count_nonzero(~np.asarray(self.covered, dtype=bool)))


def deprojected_radius(dx, dy, morphology: SourceMorphology, z_source: float | None = None):
    """Galactocentric radius in the disk plane of source-plane offsets.

    Parameters
    ----------
    dx, dy : array_like
        Source-plane offsets in arcsec, east and north, about the same reference as the
        morphology's centroid (``morphology.ra_ref``, ``morphology.dec_ref``).
    morphology : SourceMorphology
        Centre, axis ratio and major-axis position angle.
    z_source : float, optional
        Source redshift for the kpc scale; defaults to ``morphology.z_source``.

    Returns
    -------
    numpy.ndarray or float
        ``hypot(a, b / q) * kpc_per_arcsec(z)`` in proper kpc, where ``a`` and ``b`` are the
        offsets from the centroid along the major axis and the minor axis (arcsec).
    """
    z = morphology.z_source if z_source is None else z_source
    t = np.radians(morphology.pa_deg)
    ddx = np.asarray(dx, dtype=float) - morphology.x0
    ddy = np.asarray(dy, dtype=float) - morphology.y0
    a = ddx * np.sin(t) + ddy * np.cos(t)
    b = ddx * np.cos(t) - ddy * np.sin(t)
    r = np.hypot(a, b / morphology.axis_ratio) * kpc_per_arcsec(z)
    return r[()] if np.ndim(r) == 0 else r


def radius_map(
    lens: LensModel,
    z_source: float,
    ra0: float,
    dec0: float,
    frame_pa_x_deg: float,
    pixel_arcsec: float,
    shape,
    morphology: SourceMorphology,
    supersample: int = 1,
    min_covered_fraction: float = MIN_COVERED_FRACTION,
) -> RadiusMap:
    """Deprojected radius (kpc) of every pixel of a map frame centred on (ra0, dec0) that the
    lens-model maps cover.

    Parameters
    ----------
    lens, z_source, ra0, dec0, frame_pa_x_deg, pixel_arcsec, shape
        As :func:`~ohmap.gradients.source_plane.frame_source_offsets`.
    morphology : SourceMorphology
        The fitted source-plane morphology. Offsets are taken about its source-plane
        reference (``ra_ref``, ``dec_ref``) when it has one, so the frame centre need not be
        the point the morphology was fitted about; otherwise about the source position of
        (``ra0``, ``dec0``).
    supersample : int, optional
        Average the radius over ``supersample x supersample`` sub-pixels of each pixel (the
        mean radius of the area a pixel covers, rather than the radius at its centre; they
        differ only within a pixel or so of the centre). Default 1.
    min_covered_fraction : float, optional
        Least fraction of the frame's pixels the lens-model maps must cover (default
        :data:`~ohmap.gradients.coverage.MIN_COVERED_FRACTION`).

    Returns
    -------
    RadiusMap
        ``radius_kpc`` (proper kpc) and the offsets ``source_dx``, ``source_dy`` (arcsec) of
        the pixel centres, shape ``shape``, and the ``covered`` mask: pixels (any of whose
        sub-positions) off the lens-model maps have no radius (NaN) and ``covered`` False.

    Raises
    ------
    InputError
        When the frame centre (``ra0``, ``dec0``) is off the lens-model maps or they cover
        less than ``min_covered_fraction`` of the frame, saying the extent needed.
    """
    if np.isfinite(morphology.ra_ref) and np.isfinite(morphology.dec_ref):
        ref = (morphology.ra_ref, morphology.dec_ref)
    else:
        ref = None
    frame = (ra0, dec0, frame_pa_x_deg, pixel_arcsec, shape)
    covered = frame_coverage(lens, *frame, supersample=max(int(supersample), 1))
    check_frame_coverage(lens, covered, ra0, dec0, pixel_arcsec, min_covered_fraction)
    dx, dy = frame_source_offsets(lens, z_source, *frame, source_reference=ref, only_covered=True)
    if int(supersample) > 1:
        sdx, sdy = frame_source_offsets(
            lens, z_source, *frame, source_reference=ref, supersample=supersample, only_covered=True
        )
        radius = deprojected_radius(sdx, sdy, morphology, z_source).mean(axis=-1)
    else:
        radius = deprojected_radius(dx, dy, morphology, z_source)
    radius, dx, dy = (np.where(covered, np.asarray(v, float), np.nan) for v in (radius, dx, dy))
    return RadiusMap(radius, dx, dy, None, covered)


def stacked_map_radii(lens, morphology, galaxy: dict, header, shape, bin_pixels: int) -> dict:
    """Radius maps on a galaxy's stacked-map grid and on its spaxel grid, with their FITS cards.

    Parameters
    ----------
    lens : ohmap.gradients.lensing.LensModel
    morphology : ohmap.gradients.morphology.SourceMorphology
    galaxy : dict
        ``galaxy_id``, ``redshift``, ``ra_deg``, ``dec_deg``, ``lens_model``.
    header : mapping
        The stacked maps' header: ``PIXSCALE`` (arcsec/pixel), ``PA_X`` (deg E of N of +x),
        ``REF_PA``.
    shape : tuple of int
        Shape of the stacked maps.
    bin_pixels : int
        Stacked-map pixels per spaxel side.

    Returns
    -------
    dict
        ``"pixels"`` and ``"spaxels"`` -> (:class:`RadiusMap`, header cards); the spaxel radii
        are averaged over ``bin_pixels`` x ``bin_pixels`` sub-positions.
    """
    gid, z = galaxy["galaxy_id"], galaxy["redshift"]
    pixel = float(header["PIXSCALE"])
    frame_pa = float(header["PA_X"])
    out = {}
    for kind, scale, grid in (
        ("pixels", pixel, shape),
        ("spaxels", pixel * bin_pixels, (shape[0] // bin_pixels, shape[1] // bin_pixels)),
    ):
        try:
            radius = radius_map(
                lens,
                z,
                galaxy["ra_deg"],
                galaxy["dec_deg"],
                frame_pa,
                scale,
                grid,
                morphology,
                supersample=bin_pixels if kind == "spaxels" else 1,
            )
        except InputError as error:
            raise InputError(
                error.source, f"galaxy {gid}, radius map on its {kind}: {error.problem}"
            ) from None
        cards = {
            "OBJECT": (gid, "galaxy id"),
            "REDSHIFT": (z, "catalogue redshift"),
            "PA_X": (frame_pa, "[deg] E of N of the map +x axis"),
            "PIXSCALE": (scale, "[arcsec/pixel]"),
            "LENSMOD": (galaxy["lens_model"], "lens model"),
            "REF_PA": (header["REF_PA"], "reference PA of the grid"),
        }
        out[kind] = (radius, cards | morphology.header_cards())
        log.info(
            "galaxy %s: radius map %dx%d at %.3f arcsec/pixel, %.2f-%.2f kpc",
            gid,
            grid[0],
            grid[1],
            scale,
            float(np.nanmin(radius.radius_kpc)),
            float(np.nanmax(radius.radius_kpc)),
        )
        if radius.n_uncovered:
            log.warning(
                "galaxy %s: %d of %d %s of the radius map lie (partly) outside the maps of "
                "lens model %s: they get no radius (RADIUS NaN, COVERED 0, header NUNCOV)",
                gid,
                radius.n_uncovered,
                radius.radius_kpc.size,
                kind,
                galaxy["lens_model"],
            )
    return out
