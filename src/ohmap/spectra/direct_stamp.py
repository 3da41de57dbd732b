"""A direct-image stamp on a spectrum's spatial frame, resampled from the sample sheet's images.

A grizli ``*.stack.fits`` carries no direct image, and without one the line maps have no
isophote to de-blend with and no footprint but a disc (:mod:`ohmap.linemaps.footprint`). The
sample sheet's ``direct_image`` and ``segmentation`` columns name FITS images with a celestial
WCS (a mosaic or a stamp, any orientation, pixel scale and parity); :func:`stamp_on_spectrum_frame`
resamples them onto the frame the linemaps code expects of ``Spectrum2D.direct_image``:

* ``ny`` x ``ny`` pixels (``ny`` = the spectrum's rows), of the spectrum's spatial pixel scale;
* pixel ``(i, k)`` at frame coordinates ``x = k - c_col``, ``y = i - c_row`` with ``+x`` along the
  dispersion, at position angle ``Spectrum2D.dispersion_pa`` east of north, and ``+y`` 90 deg
  further (:func:`ohmap.resample.frame_axes`: not mirrored, like the WFC3 detector, whose +y is
  at the dispersion PA + 90 in the real GOODS-S 152 headers);
* the galaxy's sample-sheet RA/Dec at ``c_col = (ny - 1) / 2`` and ``c_row`` = the spectrum's
  trace row (``meta['trace_center_row']``; grizli stacks: ``CRPIX2 - 1``, the middle otherwise),
  so that the stamp's rows are the spectrum's rows.

The direct image is sampled bilinearly at ``n x n`` points per output pixel (``n`` = the output
pixel over the input one, rounded up, at most 8) and averaged, then scaled by the ratio of the
pixel areas, so a stamp pixel holds the flux that falls on it (in the image's unit); output
pixels outside the image are 0 (padding, which the footprint's noise estimate ignores). The
segmentation map is sampled at the output pixel centres (nearest neighbour) and keeps its ids,
so that the footprint can tell the object's segment (the id under the galaxy's position,
``meta['direct_stamp']['object_id']``) from its neighbours'. A spectrum file with its own stamp
(GLASS ``DSCI``, beams ``REF``) keeps it; the sample sheet's images are then not read.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from scipy.ndimage import map_coordinates

from ohmap.errors import InputError
from ohmap.io.fitscheck import require_whole_fits
from ohmap.resample import frame_axes

from .spectrum import Spectrum2D

log = logging.getLogger(__name__)

#: Most sub-samples per output pixel and axis when the input pixels are much smaller.
MAX_SUBSAMPLE = 8


def stamp_on_spectrum_frame(
    spec: Spectrum2D,
    direct_image: str | os.PathLike | None = None,
    segmentation: str | os.PathLike | None = None,
    ra: float | None = None,
    dec: float | None = None,
) -> Spectrum2D:
    """``spec`` with a direct-image stamp (and segmentation) from the sample sheet's images.

    Parameters
    ----------
    spec : Spectrum2D
        The spectrum as read from its file.
    direct_image, segmentation : path-like, optional
        The sample sheet's ``direct_image`` and ``segmentation`` (empty or None: not given).
        The segmentation may lack a WCS when it has the direct image's shape (it is then taken
        to share the direct image's).
    ra, dec : float, optional
        The galaxy's sample-sheet position (``ra_deg``, ``dec_deg``), degrees; required with
        ``direct_image``.

    Returns
    -------
    Spectrum2D
        ``spec`` itself when it has its own stamp (the images are not read) or when no
        ``direct_image`` is given; else a copy with ``direct_image`` and ``segmentation`` (or
        ``None``) on the spectrum's frame (module notes) and ``meta['direct_stamp']``: files,
        ``object_id``, the galaxy's pixel in each image, ``subsample``, ``coverage`` (fraction of
        the stamp inside the image) and ``wcs`` (FITS cards of the stamp's TAN WCS).

    Raises
    ------
    InputError
        Naming the image file and the sample-sheet field, for: a missing or unreadable file, no
        2D image in it, no celestial WCS, the galaxy's position outside the image, and a
        segmentation map without a WCS whose shape differs from the direct image's.
    """
    what = f"{spec.galaxy} PA {spec.pa} {spec.grism}"
    given = [str(p) for p in (direct_image, segmentation) if p]
    if spec.direct_image is not None:
        if given:
            log.info(
                "%s: the spectrum file has its own direct-image stamp; the sample sheet's "
                "direct_image/segmentation (%s) are not read",
                what,
                ", ".join(given),
            )
        return spec
    if not direct_image:
        log.info(
            "%s: no direct-image stamp in the spectrum file and no direct_image in the sample "
            "sheet: the line maps use a disc footprint and cannot de-blend with a contour%s",
            what,
            f" (segmentation {segmentation} is not used without a direct image)"
            if segmentation
            else "",
        )
        return spec
    if ra is None or dec is None:
        raise InputError(direct_image, f"galaxy {spec.galaxy}: direct_image needs ra_deg/dec_deg")
    ny = spec.shape[0]
    centre = ((ny - 1) / 2.0, float(spec.meta.get("trace_center_row", (ny - 1) / 2.0)))
    grid = frame_wcs(ra, dec, spec.dispersion_pa, spec.pixel_scale, centre)
    with _open_image(direct_image, "direct_image", spec.galaxy) as (hdu, wcs, index):
        gal_px = _galaxy_pixel(wcs, hdu.shape, ra, dec, direct_image, "direct_image", spec.galaxy)
        direct, subsample, coverage = _resample_flux(hdu, wcs, grid, ny, spec.pixel_scale)
        direct_wcs, direct_shape = wcs, hdu.shape
    info = dict(
        direct_image=str(direct_image),
        direct_hdu=index,
        direct_pixel=[float(v) for v in gal_px],
        subsample=subsample,
        coverage=coverage,
        centre_col=centre[0],
        centre_row=centre[1],
        object_id=None,
        segmentation=None,
        wcs=dict(grid.to_header()),
    )
    seg = spec.segmentation  # already on the spectrum's frame, if the file had one
    if segmentation:
        fallback = (direct_wcs, direct_shape)
        with _open_image(segmentation, "segmentation", spec.galaxy, fallback) as (hdu, wcs, _):
            x, y = _galaxy_pixel(wcs, hdu.shape, ra, dec, segmentation, "segmentation", spec.galaxy)
            seg = _resample_nearest(hdu, wcs, grid, ny)
            row, col = int(np.floor(y + 0.5)), int(np.floor(x + 0.5))
            object_id = int(np.rint(np.nan_to_num(hdu.section[row, col])))
        info.update(segmentation=str(segmentation), object_id=object_id)
        if object_id == 0:
            log.warning(
                "%s: the segmentation map %s is 0 (sky) at the galaxy's position: the "
                "footprint will have no segment of the object",
                what,
                segmentation,
            )
    log.info(
        "%s: direct-image stamp resampled from the sample sheet's %s (x along PA %.1f deg, "
        "%.3f arcsec/pixel, %dx%d sub-samples, %.0f%% inside the image)%s",
        what,
        direct_image,
        spec.dispersion_pa,
        spec.pixel_scale,
        subsample,
        subsample,
        100 * coverage,
        f", segmentation from {segmentation} (object id {info['object_id']})"
        if segmentation
        else "",
    )
    meta = dict(spec.meta, direct_stamp=info)
    return dataclasses.replace(spec, direct_image=direct, segmentation=seg, meta=meta)


def frame_wcs(ra: float, dec: float, pa_x: float, pixel_scale: float, centre):
    """TAN WCS of a spectrum-frame stamp: ``+x`` at ``pa_x`` deg E of N, ``+y`` at ``pa_x + 90``.

    ``centre`` is the 0-based ``(column, row)`` of (``ra``, ``dec``).
    """
    from astropy.wcs import WCS

    ex, ey = frame_axes(pa_x)
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [float(ra), float(dec)]
    wcs.wcs.crpix = [centre[0] + 1.0, centre[1] + 1.0]
    # Intermediate world coordinates are (east, north) in degrees on the tangent plane.
    wcs.wcs.cd = pixel_scale / 3600.0 * np.array([[ex[0], ey[0]], [ex[1], ey[1]]])
    wcs.wcs.cunit = ["deg", "deg"]
    return wcs


@contextmanager
def _open_image(path, field: str, galaxy: str, fallback=None):
    """Yield the first 2D image HDU of a FITS file (memory-mapped), its celestial WCS and index.

    ``fallback`` = (WCS, shape): used for an image without a celestial WCS of that shape.
    """
    from astropy.io import fits
    from astropy.wcs import WCS, FITSFixedWarning

    path = Path(path)
    where = f"sample sheet field {field!r} of galaxy {galaxy}"
    if not path.is_file():
        raise InputError(path, f"{where}: file not found")
    try:
        require_whole_fits(path)
    except InputError as error:
        raise InputError(path, f"{where}: {error.problem}") from None
    try:
        hdul = fits.open(path, memmap=True)
    except OSError as exc:
        raise InputError(path, f"{where}: cannot read as FITS ({exc})") from exc
    with hdul:
        index = next(
            (j for j, h in enumerate(hdul) if h.is_image and h.header.get("NAXIS") == 2), None
        )
        if index is None:
            raise InputError(path, f"{where}: no 2D image in the file")
        hdu = hdul[index]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            try:
                wcs = WCS(hdu.header, hdul)
            except Exception as exc:  # astropy raises several kinds for broken WCS cards
                raise InputError(path, f"{where}: HDU {index} has an unusable WCS ({exc})") from exc
        if not (wcs.has_celestial and wcs.naxis == 2 and wcs.celestial.naxis == 2):
            if fallback is not None and tuple(hdu.shape) == tuple(fallback[1]):
                log.info("%s (%s) has no celestial WCS: the direct image's is used", path, where)
                wcs = fallback[0]
            else:
                raise InputError(
                    path,
                    f"{where}: HDU {index} has no celestial WCS (CTYPE1/2 RA---/DEC-- with "
                    "CRVAL, CRPIX and CD or CDELT cards): it cannot be placed on the spectrum's "
                    "frame",
                )
        yield hdu, wcs, index


def _section(hdu, x, y, margin: int = 2):
    """The part of the image holding the points (x, y), read alone, and its (x0, y0) origin."""
    ny, nx = hdu.shape
    finite = np.isfinite(x) & np.isfinite(y)
    if not finite.any():
        return np.zeros((1, 1)), 0, 0
    x0 = int(np.clip(np.floor(x[finite].min()) - margin, 0, nx - 1))
    x1 = int(np.clip(np.ceil(x[finite].max()) + margin + 1, x0 + 1, nx))
    y0 = int(np.clip(np.floor(y[finite].min()) - margin, 0, ny - 1))
    y1 = int(np.clip(np.ceil(y[finite].max()) + margin + 1, y0 + 1, ny))
    return np.asarray(hdu.section[y0:y1, x0:x1], dtype=float), x0, y0


def _galaxy_pixel(wcs, shape, ra, dec, path, field, galaxy):
    """0-based (x, y) of the galaxy in an image, or InputError when it is outside."""
    x, y = (float(v) for v in wcs.world_to_pixel_values(ra, dec))
    ny, nx = shape
    if not (np.isfinite(x) and np.isfinite(y) and -0.5 <= x <= nx - 0.5 and -0.5 <= y <= ny - 0.5):
        raise InputError(
            path,
            f"sample sheet field {field!r} of galaxy {galaxy}: the galaxy's position "
            f"(ra_deg, dec_deg = {ra:.6f}, {dec:.6f}) falls at pixel ({x:.1f}, {y:.1f}), "
            f"outside the {nx} x {ny} image",
        )
    return x, y


def _input_pixels(wcs, grid, ny: int, subsample: int):
    """Input-image (x, y) of the output pixels' sub-sample points, shape (ny, ny, n*n) each."""
    offsets = (np.arange(subsample) + 0.5) / subsample - 0.5
    oy, ox = (a.ravel() for a in np.meshgrid(offsets, offsets, indexing="ij"))
    rows, cols = np.mgrid[0:ny, 0:ny].astype(float)
    px = cols[..., None] + ox
    py = rows[..., None] + oy
    ra, dec = grid.wcs_pix2world(px.ravel(), py.ravel(), 0)
    x, y = wcs.world_to_pixel_values(ra, dec)
    return np.reshape(x, px.shape), np.reshape(y, py.shape)


def _pixel_scale(wcs) -> float:
    from astropy.wcs.utils import proj_plane_pixel_scales

    return float(np.sqrt(np.prod(proj_plane_pixel_scales(wcs.celestial)))) * 3600.0


def _resample_flux(hdu, wcs, grid, ny, pixel_scale):
    """Bilinear sub-sampled average times the pixel-area ratio; 0 outside the image."""
    in_scale = _pixel_scale(wcs)
    subsample = int(np.clip(np.ceil(pixel_scale / in_scale - 1e-6), 1, MAX_SUBSAMPLE))
    x, y = _input_pixels(wcs, grid, ny, subsample)
    nyi, nxi = hdu.shape
    inside = np.isfinite(x) & np.isfinite(y)
    inside &= (x >= -0.5) & (x <= nxi - 0.5) & (y >= -0.5) & (y <= nyi - 0.5)
    part, x0, y0 = _section(hdu, np.where(inside, x, np.nan), np.where(inside, y, np.nan))
    coords = [np.where(inside, y - y0, 0.0).ravel(), np.where(inside, x - x0, 0.0).ravel()]
    values = map_coordinates(np.nan_to_num(part), coords, order=1, mode="nearest")
    full = inside.all(axis=-1)
    mean = values.reshape(x.shape).mean(axis=-1)
    out = np.where(full, mean, 0.0) * (pixel_scale / in_scale) ** 2
    return out, subsample, float(full.mean())


def _resample_nearest(hdu, wcs, grid, ny):
    """Segmentation ids at the output pixel centres (nearest input pixel); 0 outside."""
    x, y = (a[..., 0] for a in _input_pixels(wcs, grid, ny, 1))
    ix, iy = np.floor(x + 0.5), np.floor(y + 0.5)
    nyi, nxi = hdu.shape
    inside = np.isfinite(ix) & np.isfinite(iy) & (ix >= 0) & (ix < nxi) & (iy >= 0) & (iy < nyi)
    part, x0, y0 = _section(hdu, np.where(inside, ix, np.nan), np.where(inside, iy, np.nan), 0)
    ids = np.rint(np.nan_to_num(part)).astype(np.int64)
    out = np.zeros((ny, ny), dtype=np.int32)
    out[inside] = ids[iy[inside].astype(int) - y0, ix[inside].astype(int) - x0]
    return out
