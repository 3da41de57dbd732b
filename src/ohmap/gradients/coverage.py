"""Where a lens model's maps cover the sky around a galaxy.

Lens models are often released (or cut out by users) on grids that do not reach every pixel of
a galaxy's map frame. Positions off the maps cannot be ray-traced: they get no source-plane
position and no radius, and are masked explicitly. These functions say, before any job runs or
inside one, how much of a square or of a map frame the maps cover, and refuse when the galaxy's
centre is off them or too little of its frame is on them.
"""

from __future__ import annotations

import logging
import os
from typing import NamedTuple

import numpy as np

from ohmap.errors import InputError
from ohmap.io.hff import read_hff_footprint

from .lensing import footprint_covers
from .sky import pixel_scales_arcsec, tangent_plane_offsets, tangent_plane_to_sky
from .source_plane import pixel_jacobians, stamp_source_offsets

log = logging.getLogger(__name__)

#: Least fraction of a map frame the lens must cover (of its pixels) for radii to be computed.
MIN_COVERED_FRACTION = 0.5


class LensCoverage(NamedTuple):
    """How a lens model's maps cover a square around a position.

    Attributes
    ----------
    centre_covered : bool
        Whether the position itself is on the maps.
    fraction : float
        Fraction of the square's area on the maps (sampled on a grid).
    half_size_arcsec : float
        Half size of the square asked for, arcsec.
    largest_half_size_arcsec : float
        Half size of the largest square around the position that the maps cover fully (0 when
        the position is off them).
    east, north : tuple of float
        Range of the maps' footprint in arcsec east and north of the position (its bounding
        box in the tangent plane there).
    problem : str or None
        None when the square is fully covered, else a sentence saying what is needed and what
        the maps cover.
    """

    centre_covered: bool
    fraction: float
    half_size_arcsec: float
    largest_half_size_arcsec: float
    east: tuple
    north: tuple
    problem: str | None


def _footprint(lens):
    """(wcs, shape, name) of a LensGrid, or of an HFF prefix from its header alone."""
    if hasattr(lens, "wcs") and hasattr(lens, "shape"):
        return lens.wcs, tuple(lens.shape), getattr(lens, "source", None) or lens.name
    wcs, shape = read_hff_footprint(lens)
    return wcs, shape, os.fspath(lens)


def _square(ra, dec, half, n):
    """Sky positions of an ``n x n`` grid filling a square of half size ``half`` (arcsec)."""
    u = (np.arange(n) + 0.5) / n * 2.0 - 1.0
    ee, nn = np.meshgrid(u * half, u * half)
    return tangent_plane_to_sky(ee, nn, ra, dec)


def _corners_covered(wcs, shape, ra, dec, half) -> bool:
    # The footprint is convex in pixel space, so a square is on it when its corners are.
    e = np.array([-half, half, -half, half, 0.0])
    n = np.array([-half, -half, half, half, 0.0])
    return bool(np.all(footprint_covers(wcs, shape, *tangent_plane_to_sky(e, n, ra, dec))[0]))


def lens_coverage(lens, ra: float, dec: float, half_size_arcsec: float, n_grid: int = 41):
    """How a lens model's maps cover a square of half size ``half_size_arcsec`` around a position.

    Parameters
    ----------
    lens : ohmap.gradients.lensing.LensGrid or str or os.PathLike
        A lens model, or the prefix of its HFF maps (only the x-deflection map's header is
        read).
    ra, dec : float
        Centre of the square, degrees (e.g. a galaxy's catalogue position).
    half_size_arcsec : float
        Half the side of the square, arcsec; its sides run east-west and north-south.
    n_grid : int, optional
        Grid points per side used for the covered fraction.

    Returns
    -------
    LensCoverage
    """
    wcs, shape, name = _footprint(lens)
    ra, dec, half = float(ra), float(dec), float(half_size_arcsec)
    centre = bool(footprint_covers(wcs, shape, ra, dec)[0])
    fraction = float(np.mean(footprint_covers(wcs, shape, *_square(ra, dec, half, n_grid))[0]))
    full = centre and _corners_covered(wcs, shape, ra, dec, half) and fraction == 1.0
    ny, nx = shape
    # The footprint's edge, sampled, in the tangent plane about the position.
    t = np.linspace(0.0, 1.0, 9)
    lo_x, hi_x, lo_y, hi_y = (np.full_like(t, v) for v in (-0.5, nx - 0.5, -0.5, ny - 0.5))
    xs = np.concatenate([t * nx - 0.5, t * nx - 0.5, lo_x, hi_x])
    ys = np.concatenate([lo_y, hi_y, t * ny - 0.5, t * ny - 0.5])
    de, dn = tangent_plane_offsets(*wcs.pixel_to_world_values(xs, ys), ra, dec)
    east, north = (float(np.min(de)), float(np.max(de))), (float(np.min(dn)), float(np.max(dn)))
    largest = 0.0
    if centre:
        lo, hi = 0.0, max(abs(v) for v in (*east, *north))
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if _corners_covered(wcs, shape, ra, dec, mid) else (lo, mid)
        largest = lo
    problem = None
    if not full:
        where = f"RA={ra:.6f}, Dec={dec:.6f}"
        needs = f"a square of +-{half:.1f} arcsec (east and north) around {where} is needed"
        has = (
            f"the lens-model maps ({name}, {nx} x {ny} pixels) cover {east[0]:+.1f} to "
            f"{east[1]:+.1f} arcsec east and {north[0]:+.1f} to {north[1]:+.1f} arcsec north "
            "of it"
        )
        if not centre:
            problem = f"the position {where} is not on the lens-model maps: {needs}; {has}"
        else:
            problem = (
                f"only {100 * fraction:.0f}% of the square is on the lens-model maps: {needs}; "
                f"{has}, fully only +-{largest:.1f} arcsec around it"
            )
    return LensCoverage(centre, fraction, half, largest, east, north, problem)


def lens_coverage_problem(lens, ra: float, dec: float, half_size_arcsec: float) -> str | None:
    """What is missing when a lens model's maps do not cover a square around a position.

    Parameters
    ----------
    lens : ohmap.gradients.lensing.LensGrid or str or os.PathLike
        A lens model, or the prefix of its HFF maps (only a header is read).
    ra, dec : float
        Centre of the square, degrees.
    half_size_arcsec : float
        Half the side of the square (east-west, north-south), arcsec.

    Returns
    -------
    str or None
        None when the square is fully covered; otherwise a sentence giving the extent needed
        (arcsec) and what the maps cover. Use :func:`lens_coverage` to tell a partly covered
        square (``centre_covered``) from one whose centre is off the maps.
    """
    return lens_coverage(lens, ra, dec, half_size_arcsec).problem


def check_frame_coverage(
    lens,
    covered,
    ra0: float,
    dec0: float,
    pixel_arcsec: float,
    min_fraction: float = MIN_COVERED_FRACTION,
) -> None:
    """Refuse a map frame whose centre is off the lens maps or too little of which is on them.

    Parameters
    ----------
    lens : ohmap.gradients.lensing.LensGrid
    covered : numpy.ndarray of bool
        The frame's pixels the maps cover, shape ``(ny, nx)``.
    ra0, dec0 : float
        The frame centre (the galaxy's catalogue position), degrees.
    pixel_arcsec : float
        The frame's pixel size, arcsec.
    min_fraction : float, optional
        Least covered fraction of the frame's pixels.

    Raises
    ------
    InputError
        Naming the lens model's source, the frame, the extent needed and what the maps cover.
    """
    covered = np.asarray(covered, dtype=bool)
    ny, nx = covered.shape
    fraction = float(covered.mean())
    centre = bool(lens.covers(ra0, dec0))
    if centre and fraction >= min_fraction:
        return
    half = 0.5 * float(pixel_arcsec) * float(np.hypot(nx, ny))
    detail = lens_coverage(lens, ra0, dec0, half).problem
    frame = (
        f"the lens-model maps cover {int(covered.sum())} of the {ny} x {nx} pixels "
        f"({100 * fraction:.0f}%) of the map frame of {pixel_arcsec:g} arcsec pixels"
    )
    if not centre:
        raise InputError(
            lens.source or lens.name,
            f"the galaxy centre is off the lens-model maps ({frame}): {detail}",
        )
    raise InputError(
        lens.source or lens.name,
        f"{frame}, less than the {100 * min_fraction:.0f}% needed: {detail}",
    )


def check_centre_covered(lens, ra0: float, dec0: float, half_size_arcsec: float, where=None):
    """Refuse when a galaxy's centre (``ra0``, ``dec0``, degrees) is off the lens-model maps.

    Parameters
    ----------
    lens : ohmap.gradients.lensing.LensGrid
    ra0, dec0 : float
        The galaxy's catalogue position, degrees.
    half_size_arcsec : float
        Half size (arcsec) of the square around it that is needed, for the message.
    where : str, optional
        File or galaxy named in the error (default the lens model's source).

    Raises
    ------
    InputError
        Saying the extent needed and what the maps cover.
    """
    if not bool(lens.covers(ra0, dec0)):
        raise InputError(
            where or lens.source or lens.name,
            "the galaxy centre is off the lens-model maps: "
            f"{lens_coverage(lens, ra0, dec0, half_size_arcsec).problem}",
        )


def covered_selection(selected, on_maps, where=None, min_fraction: float = MIN_COVERED_FRACTION):
    """The selected pixels of an image that the lens-model maps cover.

    Parameters
    ----------
    selected : numpy.ndarray of bool
        Pixels selected for a fit (e.g. the galaxy's island of a mass map).
    on_maps : numpy.ndarray of bool
        Pixels that could be ray-traced, same shape.
    where : str, optional
        File or galaxy named in the error.
    min_fraction : float, optional
        Least fraction of the selected pixels that must be covered.

    Returns
    -------
    mask : numpy.ndarray of bool
        ``selected & on_maps``.
    n_uncovered : int
        Selected pixels left out for lack of lens coverage.

    Raises
    ------
    InputError
        When fewer than ``min_fraction`` of the selected pixels are covered.
    """
    selected = np.asarray(selected, dtype=bool)
    mask = selected & np.asarray(on_maps, dtype=bool)
    n_selected, n_kept = int(selected.sum()), int(mask.sum())
    if n_selected and n_kept < min_fraction * n_selected:
        raise InputError(
            where,
            f"only {n_kept} of the galaxy's {n_selected} selected pixels are on the lens-model "
            f"maps (less than {100 * min_fraction:.0f}%): lens maps covering the whole galaxy "
            "are needed",
        )
    return mask, n_selected - n_kept


def covered_stamp_offsets(lens, wcs, z_source, ra0, dec0, selected, footprints: bool, where=None):
    """Source-plane offsets of an image stamp's pixels, and its selected pixels the lens covers.

    Parameters
    ----------
    lens : ohmap.gradients.lensing.LensModel
    wcs : astropy.wcs.WCS
        Celestial WCS of the stamp.
    z_source : float
    ra0, dec0 : float
        The galaxy's catalogue position, degrees: it must be on the lens maps.
    selected : numpy.ndarray of bool
        The stamp's pixels selected for a fit; its shape is the stamp's.
    footprints : bool
        The fit needs each pixel's footprint (from the offsets of its neighbours), so pixels
        next to the maps' edge are left out too.
    where : str, optional
        File or galaxy named in errors and in the log.

    Returns
    -------
    dx, dy, mu : numpy.ndarray
        As :func:`~ohmap.gradients.source_plane.stamp_source_offsets`, NaN off the maps.
    mask : numpy.ndarray of bool
        The selected pixels that can be used.
    n_uncovered : int
        Selected pixels left out for lack of lens coverage (logged as a warning).

    Raises
    ------
    InputError
        When the galaxy's position, or half its selected pixels, are off the lens maps.
    """
    shape = np.shape(selected)
    half = 0.5 * float(np.hypot(*shape) * np.max(pixel_scales_arcsec(wcs)))
    check_centre_covered(lens, ra0, dec0, half, where)
    dx, dy, mu = stamp_source_offsets(lens, wcs, shape, z_source, ra0, dec0, only_covered=True)
    on_maps = np.isfinite(dx) & np.isfinite(dy)
    if footprints:
        on_maps &= np.isfinite(pixel_jacobians(dx, dy)).all(axis=(-2, -1))
    mask, n_uncovered = covered_selection(selected, on_maps, where)
    if n_uncovered:
        log.warning(
            "%s: %d selected pixels are off the maps of lens model %s (or at their edge) and "
            "are left out of the fit",
            where or "image",
            n_uncovered,
            lens.name,
        )
    return dx, dy, mu, mask, n_uncovered
