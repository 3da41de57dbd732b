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


def stamp_source_offsets(
    lens: LensModel, wcs: WCS, shape, z_source: float, ra0: float, dec0: float
):
    """Source-plane offsets and magnification of every pixel centre of an image-plane stamp.

    Parameters
    ----------
    lens : ohmap.gradients.lensing.LensModel
        The lens model; every pixel must fall on its maps.
    wcs : astropy.wcs.WCS
        Celestial WCS of the stamp (any orientation).
    shape : tuple of int
        ``(ny, nx)`` of the stamp.
    z_source : float
        Source redshift.
    ra0, dec0 : float
        Image-plane reference point, degrees (normally the galaxy's catalogue position). It is
        ray-traced too, and offsets are taken about its source-plane position.

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
        If a pixel or the reference point falls outside the lens-model maps, or
        ``z_source <= z_lens``.
    """
    ny, nx = (int(n) for n in shape)
    yy, xx = np.mgrid[0:ny, 0:nx].astype(float)
    ra, dec = wcs.celestial.pixel_to_world_values(xx, yy)
    ra_ref, dec_ref = reference_source_position(lens, z_source, ra0, dec0)
    dx, dy = lens.source_plane_offsets(ra, dec, z_source, ra_ref, dec_ref)
    mu = lens.magnification(ra, dec, z_source)
    return np.asarray(dx, float), np.asarray(dy, float), np.asarray(mu, float)


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

    Returns
    -------
    dx, dy : numpy.ndarray
        Source-plane offsets in arcsec, east and north; shape ``(ny, nx)`` (or with a trailing
        sub-pixel axis, see ``supersample``).
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
    ra, dec = tangent_plane_to_sky(east, north, ra0, dec0)
    if source_reference is None:
        ra_ref, dec_ref = reference_source_position(lens, z_source, ra0, dec0)
    else:
        ra_ref, dec_ref = (float(v) for v in source_reference)
    dx, dy = lens.source_plane_offsets(ra, dec, z_source, ra_ref, dec_ref)
    dx, dy = np.asarray(dx, float), np.asarray(dy, float)
    if ss == 1:
        return dx[..., 0], dy[..., 0]
    return dx, dy
