"""Image-plane pixels traced to the source plane: offsets of stamp and map pixels from the
galaxy's traced catalogue position (gnomonic, arcsec, east and north).
"""

from __future__ import annotations

import numpy as np
from astropy.wcs import WCS

from ohmap.resample import frame_axes, frame_coordinates

from .lensing import LensModel
from .sky import tangent_plane_to_sky


def reference_source_position(lens: LensModel, z_source: float, ra0: float, dec0: float):
    ra_ref, dec_ref = lens.image_to_source(float(ra0), float(dec0), z_source)
    return float(ra_ref), float(dec_ref)


def _covered_offsets(lens: LensModel, ra, dec, z_source, ra_ref, dec_ref, with_mu=True):
    """Source-plane offsets (and magnification) of the positions on the lens maps; NaN for
    those off them."""
    ra, dec = np.broadcast_arrays(np.asarray(ra, float), np.asarray(dec, float))
    on = np.asarray(lens.covers(ra, dec), dtype=bool)
    dx, dy, mu = (np.full(ra.shape, np.nan) for _ in range(3))
    if on.any():
        dx[on], dy[on] = lens.source_plane_offsets(ra[on], dec[on], z_source, ra_ref, dec_ref)
        if with_mu:
            mu[on] = lens.magnification(ra[on], dec[on], z_source)
    return dx, dy, mu


def stamp_source_offsets(
    lens: LensModel,
    wcs: WCS,
    shape,
    z_source: float,
    ra0: float,
    dec0: float,
    only_covered: bool = False,
):
    """Source-plane offsets and magnification of every pixel centre of an image-plane stamp.

    Parameters
    ----------
    lens : ohmap.gradients.lensing.LensModel
        The lens model; every pixel must fall on its maps unless ``only_covered``.
    wcs : astropy.wcs.WCS
        Celestial WCS of the stamp (any orientation).
    shape : tuple of int
        ``(ny, nx)`` of the stamp.
    z_source : float
        Source redshift.
    ra0, dec0 : float
        Image-plane reference point, degrees (normally the galaxy's catalogue position). It is
        ray-traced too, and offsets are taken about its source-plane position.
    only_covered : bool, optional
        Give pixels off the lens-model maps NaN offsets and magnification instead of raising.

    Returns
    -------
    dx, dy : numpy.ndarray
        Source-plane gnomonic offsets of the pixel centres, arcsec, east and north of the
        source-plane position of (``ra0``, ``dec0``); shape ``(ny, nx)``.
    magnification : numpy.ndarray
        ``|mu|`` at each pixel centre (dimensionless; ``inf`` on a critical curve).

    Raises
    ------
    InputError
        If the reference point (or, without ``only_covered``, a pixel) falls outside the
        lens-model maps, or ``z_source <= z_lens``.
    """
    ny, nx = (int(n) for n in shape)
    yy, xx = np.mgrid[0:ny, 0:nx].astype(float)
    ra, dec = wcs.celestial.pixel_to_world_values(xx, yy)
    ra_ref, dec_ref = reference_source_position(lens, z_source, ra0, dec0)
    if only_covered:
        return _covered_offsets(lens, ra, dec, z_source, ra_ref, dec_ref)
    dx, dy = lens.source_plane_offsets(ra, dec, z_source, ra_ref, dec_ref)
    mu = lens.magnification(ra, dec, z_source)
    return np.asarray(dx, float), np.asarray(dy, float), np.asarray(mu, float)


def frame_sky_positions(
    ra0: float, dec0: float, frame_pa_x_deg: float, pixel_arcsec: float, shape, supersample=1
):
    """Sky positions of the (sub-)pixel centres of a map frame centred on (ra0, dec0).

    Parameters are those of :func:`frame_source_offsets`.

    Returns
    -------
    ra, dec : numpy.ndarray
        Degrees, shape ``(ny, nx, supersample**2)``.
    """
    ny, nx = (int(n) for n in shape)
    ss = int(supersample)
    if ss < 1:
        raise ValueError(f"supersample must be >= 1, got {supersample}")
    x, y = frame_coordinates((ny, nx))
    sub = (np.arange(ss) + 0.5) / ss - 0.5
    sy, sx = np.meshgrid(sub, sub, indexing="ij")
    x = x[..., None] + sx.ravel()[None, None, :]
    y = y[..., None] + sy.ravel()[None, None, :]
    ex, ey = frame_axes(frame_pa_x_deg)
    east = (x * ex[0] + y * ey[0]) * float(pixel_arcsec)
    north = (x * ex[1] + y * ey[1]) * float(pixel_arcsec)
    return tangent_plane_to_sky(east, north, ra0, dec0)


def frame_coverage(
    lens, ra0: float, dec0: float, frame_pa_x_deg: float, pixel_arcsec: float, shape, supersample=1
):
    """The pixels of a map frame the lens-model maps cover: every one of their
    ``supersample x supersample`` sub-pixel centres is on the maps.

    Parameters are those of :func:`frame_source_offsets`.

    Returns
    -------
    numpy.ndarray of bool
        Shape ``(ny, nx)``.
    """
    ra, dec = frame_sky_positions(ra0, dec0, frame_pa_x_deg, pixel_arcsec, shape, supersample)
    return np.asarray(lens.covers(ra, dec), dtype=bool).all(axis=-1)


def frame_source_offsets(
    lens: LensModel,
    z_source: float,
    ra0: float,
    dec0: float,
    frame_pa_x_deg: float,
    pixel_arcsec: float,
    shape,
    source_reference=None,
    supersample: int = 1,
    only_covered: bool = False,
):
    """Source-plane offsets of the pixel centres of a map frame centred on (ra0, dec0).

    Parameters
    ----------
    lens : ohmap.gradients.lensing.LensModel
    z_source : float
        Source redshift.
    ra0, dec0 : float
        Image-plane position of the frame centre, degrees (the point midway between the
        central pixels of an even-sized map).
    frame_pa_x_deg : float
        Position angle of the frame's +x axis, degrees east of north; +y is 90 deg further
        (:func:`ohmap.resample.frame_axes`).
    pixel_arcsec : float
        Pixel size, arcsec (e.g. 0.13 for maps binned 2x2 from 0.065").
    shape : tuple of int
        ``(ny, nx)``.
    source_reference : tuple of float, optional
        Source-plane (RA, Dec) in degrees about which the offsets are taken; by default the
        source-plane position of (``ra0``, ``dec0``).
    supersample : int, optional
        When > 1, return offsets of ``supersample x supersample`` sub-pixel centres per
        pixel instead, shape ``(ny, nx, supersample**2)``.
    only_covered : bool, optional
        Give positions off the lens-model maps NaN offsets instead of raising
        (:func:`frame_coverage` says which pixels are on them).

    Returns
    -------
    dx, dy : numpy.ndarray
        Source-plane offsets in arcsec, east and north; shape ``(ny, nx)`` (or with a trailing
        sub-pixel axis, see ``supersample``).
    """
    ss = int(supersample)
    ra, dec = frame_sky_positions(ra0, dec0, frame_pa_x_deg, pixel_arcsec, shape, ss)
    if source_reference is None:
        ra_ref, dec_ref = reference_source_position(lens, z_source, ra0, dec0)
    else:
        ra_ref, dec_ref = (float(v) for v in source_reference)
    if only_covered:
        dx, dy, _ = _covered_offsets(lens, ra, dec, z_source, ra_ref, dec_ref, with_mu=False)
    else:
        dx, dy = lens.source_plane_offsets(ra, dec, z_source, ra_ref, dec_ref)
    dx, dy = np.asarray(dx, float), np.asarray(dy, float)
    if ss == 1:
        return dx[..., 0], dy[..., 0]
    return dx, dy


def pixel_jacobians(dx, dy):
    """Source-plane displacement per image pixel step: (ny, nx, 2, 2), columns = x and y steps."""
    ddx_dy, ddx_dx = np.gradient(dx)
    ddy_dy, ddy_dx = np.gradient(dy)
    jac = np.empty(dx.shape + (2, 2))
    jac[..., 0, 0], jac[..., 0, 1] = ddx_dx, ddx_dy
    jac[..., 1, 0], jac[..., 1, 1] = ddy_dx, ddy_dy
    return jac
