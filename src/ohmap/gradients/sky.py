"""Tangent-plane (gnomonic) offsets on the sky and pixel scales of celestial WCSs.

Offsets ``(dx, dy)`` are in arcsec, ``dx`` towards east (increasing RA) and ``dy`` towards
north; positions in degrees.
"""

from __future__ import annotations

import numpy as np
from astropy.wcs import WCS
from astropy.wcs.utils import proj_plane_pixel_scales

ARCSEC_PER_RAD = 180.0 / np.pi * 3600.0


def tangent_plane_offsets(ra, dec, ra0, dec0):
    """Gnomonic offsets of sky positions from a reference point.

    Parameters
    ----------
    ra, dec : array_like
        Positions in degrees.
    ra0, dec0 : float or array_like
        Reference (tangent) point in degrees.

    Returns
    -------
    dx, dy : numpy.ndarray
        Offsets in arcsec; ``dx`` towards east (increasing RA), ``dy`` towards north.
    """
    ra, dec, ra0, dec0 = (np.radians(np.asarray(v, dtype=float)) for v in (ra, dec, ra0, dec0))
    dra = ra - ra0
    cos_c = np.sin(dec0) * np.sin(dec) + np.cos(dec0) * np.cos(dec) * np.cos(dra)
    dx = np.cos(dec) * np.sin(dra) / cos_c
    dy = (np.cos(dec0) * np.sin(dec) - np.sin(dec0) * np.cos(dec) * np.cos(dra)) / cos_c
    return dx * ARCSEC_PER_RAD, dy * ARCSEC_PER_RAD


def tangent_plane_to_sky(dx, dy, ra0, dec0):
    """Sky positions of gnomonic offsets; the inverse of :func:`tangent_plane_offsets`.

    Parameters
    ----------
    dx, dy : array_like
        Offsets in arcsec, ``dx`` towards east, ``dy`` towards north.
    ra0, dec0 : float
        Tangent point in degrees.

    Returns
    -------
    ra, dec : numpy.ndarray
        Degrees, RA in [0, 360).
    """
    xi = np.asarray(dx, dtype=float) / ARCSEC_PER_RAD
    eta = np.asarray(dy, dtype=float) / ARCSEC_PER_RAD
    ra0, dec0 = np.radians(float(ra0)), np.radians(float(dec0))
    denom = np.cos(dec0) - eta * np.sin(dec0)
    ra = ra0 + np.arctan2(xi, denom)
    dec = np.arctan2(np.sin(dec0) + eta * np.cos(dec0), np.hypot(xi, denom))
    return np.degrees(ra) % 360.0, np.degrees(dec)


def pixel_scales_arcsec(wcs: WCS) -> np.ndarray:
    """Arcsec per pixel along the x and y pixel axes (lengths of the CD-matrix columns)."""
    return np.asarray(proj_plane_pixel_scales(wcs.celestial), dtype=float) * 3600.0
