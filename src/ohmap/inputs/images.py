"""Checks of the sky images a sample sheet names (direct image, segmentation map, stellar-mass
map): a readable 2D image with a celestial WCS that holds the galaxy, in a unit that says what
the pixels are."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning

from ohmap.errors import InputError
from ohmap.gradients.products import parse_mass_unit
from ohmap.io.fitscheck import require_whole_fits


def _first_image(hdul):
    for hdu in hdul:
        if isinstance(hdu, (fits.PrimaryHDU, fits.ImageHDU)) and hdu.data is not None:
            return hdu
    return None


def check_sky_image(path, column: str, ra: float, dec: float) -> str | None:
    """What is wrong with a sky image the sample sheet names, or None.

    Parameters
    ----------
    path : path-like
        The file.
    column : str
        The sample-sheet column (``direct_image``, ``segmentation`` or ``mass_map``); a mass
        map's BUNIT must be one of :data:`ohmap.gradients.products.MASS_MAP_UNITS` (absent: the documented Msun/kpc^2).
    ra, dec : float
        The galaxy's position, degrees; it must fall on the image.

    Returns
    -------
    str or None
        A sentence naming the file and the keyword or property that is wrong.
    """
    path = Path(path)
    if not path.is_file():
        return f"{path}: file not found"
    try:
        require_whole_fits(path)
    except InputError as error:
        return str(error)
    try:
        with fits.open(path) as hdul:
            hdu = _first_image(hdul)
            if hdu is None:
                return f"{path}: holds no image data"
            data = np.asarray(hdu.data, dtype=float)
            header = hdu.header.copy()
    except OSError as exc:
        return f"{path}: cannot be read as FITS ({exc})"
    if data.ndim != 2:
        return f"{path}: the image must be 2D, it has shape {data.shape}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        try:
            wcs = WCS(header).celestial
        except Exception as exc:  # astropy raises several types for broken WCS headers
            return f"{path}: its WCS cannot be parsed ({exc})"
    if wcs.naxis != 2:
        return f"{path}: no celestial (RA/Dec) WCS in its header (CTYPE1/2, CRVAL, CD or CDELT)"
    x, y = wcs.world_to_pixel_values(ra, dec)
    ny, nx = data.shape
    if not (np.isfinite(x) and np.isfinite(y) and -0.5 <= x <= nx - 0.5 and -0.5 <= y <= ny - 0.5):
        return (
            f"{path}: the galaxy (RA {ra:.6f}, Dec {dec:.6f} deg) falls outside the image "
            f"(at pixel x = {float(x):.1f}, y = {float(y):.1f}; the image has {nx} x {ny})"
        )
    if column == "mass_map":
        return _check_mass_map(path, data, header, x, y)
    if column == "segmentation" and not np.all(np.isfinite(data) & (data == np.round(data))):
        return f"{path}: a segmentation map holds integer object ids; this one has other values"
    return None


def _check_mass_map(path, data, header, x, y) -> str | None:
    bunit = header.get("BUNIT")
    if bunit is not None and str(bunit).strip() and parse_mass_unit(bunit) is None:
        return (
            f"{path}: BUNIT = {bunit!r} is not a linear stellar-mass surface density (accepted: "
            "Msun/kpc2, Msun/arcsec2 or Msun per pixel; a log10 map must be converted)"
        )
    finite = np.isfinite(data)
    if not finite.any() or not np.any(data[finite] > 0):
        return f"{path}: the mass map has no positive finite pixel"
    ix, iy = int(round(float(x))), int(round(float(y)))
    if not np.isfinite(data[iy, ix]):
        return f"{path}: the mass map is NaN at the galaxy's position (pixel x = {ix}, y = {iy})"
    return None
