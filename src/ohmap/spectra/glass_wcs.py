"""World coordinates of a GLASS / 3D-HST ``*.2D.fits`` file: the spatial pixel scale it says it
has (read) and the WCS cards that say so (written).

The spectrum's rows are the rows of the direct-image stamp DSCI (for interlaced data both are
on the interlaced grid), so the spatial pixel scale is the scale of DSCI's pixel grid along its
y axis; the SCI extension may say the same through a linear WCS on its axis 2, and the primary
header through ``PIXSCALE``. Every source present must agree within
:data:`PIXEL_SCALE_TOLERANCE`; a file with none is refused.
"""

from __future__ import annotations

import warnings

import astropy.units as u
import numpy as np
from astropy.wcs import WCS, FITSFixedWarning
from astropy.wcs.utils import proj_plane_pixel_scales

from ohmap.errors import InputError

from .glass_units import parse_unit

#: Relative difference allowed between two statements of the spatial pixel scale.
PIXEL_SCALE_TOLERANCE = 0.01


def _dsci_scale(path, header) -> float | None:
    """Arcsec per pixel along y of DSCI's celestial WCS; ``None`` when it has none."""
    if not any(str(header.get(f"CTYPE{i}", "")).strip() for i in (1, 2)):
        return None
    with warnings.catch_warnings():
        # Headers of the interlacing era lack cards that wcslib fills in silently (RADESYS).
        warnings.simplefilter("ignore", FITSFixedWarning)
        try:
            wcs = WCS(header, naxis=2)
        except Exception as err:  # wcslib's errors share no base class worth naming
            raise InputError(
                path,
                f"extension DSCI has a WCS that does not parse ({' '.join(str(err).split())}); "
                "expected a celestial WCS such as CTYPE1/2 = RA---TAN/DEC--TAN with a CD matrix",
            ) from None
    if not wcs.has_celestial:
        return None
    celestial = wcs.celestial
    scales = proj_plane_pixel_scales(celestial) * u.Unit(celestial.wcs.cunit[1])
    # 10 significant digits: the CD matrix holds the scale times a cosine and a sine, so the
    # scale comes back with rounding (0.06499999999999971) that should not reach the products.
    scale = float(f"{scales[1].to_value(u.arcsec):.10g}")
    if not (np.isfinite(scale) and scale > 0):
        raise InputError(path, f"extension DSCI has a celestial WCS with pixel scale {scale}")
    return scale


def _sci_axis2_scale(path, header) -> float | None:
    """Arcsec per row from SCI's ``CD2_2`` (or ``CDELT2``) when ``CUNIT2`` is an angle."""
    step = header.get("CD2_2", header.get("CDELT2"))
    text = header.get("CUNIT2")
    if step is None or text is None or not str(text).strip():
        return None
    try:
        unit = parse_unit(str(text).strip())
    except ValueError:
        return None  # a label such as 'pixel offset' states no angle: not a source
    if not unit.is_equivalent(u.arcsec):
        return None
    scale = float(f"{abs(float(step)) * float(unit.to(u.arcsec)):.10g}")  # as for DSCI
    if not (np.isfinite(scale) and scale > 0):
        raise InputError(path, f"extension SCI has CUNIT2 = {text!r} but a step of {step}")
    return scale


def spatial_pixel_scale(path, hdul) -> tuple[float, str]:
    """The spatial pixel scale (arcsec) a GLASS file states, and where it was read.

    Sources, in order of preference: the celestial WCS of DSCI (its y axis), SCI's axis 2 when
    its ``CUNIT2`` is an angle, the primary keyword ``PIXSCALE`` (arcsec).

    Parameters
    ----------
    path : path-like
        The file, for messages.
    hdul : astropy.io.fits.HDUList
        The open file.

    Returns
    -------
    scale : float
    source : str

    Raises
    ------
    InputError
        When no source is present, a source is malformed, or two sources disagree by more than
        :data:`PIXEL_SCALE_TOLERANCE`.
    """
    found = []
    if "DSCI" in hdul:
        scale = _dsci_scale(path, hdul["DSCI"].header)
        if scale is not None:
            found.append((scale, "the celestial WCS of DSCI"))
    scale = _sci_axis2_scale(path, hdul["SCI"].header)
    if scale is not None:
        found.append((scale, "SCI's axis 2 (CD2_2/CDELT2, CUNIT2)"))
    primary = hdul[0].header
    if "PIXSCALE" in primary:
        try:
            scale = float(primary["PIXSCALE"])
        except (TypeError, ValueError):
            scale = float("nan")
        if not (np.isfinite(scale) and scale > 0):
            raise InputError(
                path,
                f"primary keyword PIXSCALE = {primary['PIXSCALE']!r} is not a positive number "
                "of arcsec per pixel",
            )
        found.append((scale, "the primary keyword PIXSCALE"))
    if not found:
        raise InputError(
            path,
            "no spatial pixel scale: DSCI has no celestial WCS (CTYPEn RA---TAN/DEC--TAN with a "
            "CD matrix), SCI's axis 2 has no CD2_2 or CDELT2 with an angular CUNIT2, and the "
            "primary header has no PIXSCALE (arcsec/pixel); add one of them",
        )
    best, where = found[0]
    for scale, other in found[1:]:
        if abs(scale / best - 1.0) > PIXEL_SCALE_TOLERANCE:
            raise InputError(
                path,
                f"the spatial pixel scale is {best:.5g} arcsec from {where} but {scale:.5g} "
                f"arcsec from {other}; they must agree within {PIXEL_SCALE_TOLERANCE:.0%}",
            )
    return best, where


def celestial_cards(ra: float, dec: float, pixel_scale: float, pa_x: float, shape) -> dict:
    """TAN WCS cards of a stamp centred on (ra, dec) whose +x points ``pa_x`` deg E of N.

    +y points ``pa_x + 90`` (the frames of :func:`ohmap.resample.frame_axes`, not mirrored:
    the sky's usual parity, east left of north), and the stamp's centre is the object.

    Parameters
    ----------
    ra, dec : float
        Degrees.
    pixel_scale : float
        Arcsec per pixel.
    pa_x : float
        Position angle of +x, degrees east of north.
    shape : tuple of int
        ``(ny, nx)`` of the stamp.

    Returns
    -------
    dict
        FITS cards, ``{key: (value, comment)}``.
    """
    t = np.radians(pa_x)
    scale = pixel_scale / 3600.0
    # Columns: (east, north) of +x and of +y; east is +RA, the first intermediate coordinate.
    cd = scale * np.array([[np.sin(t), np.cos(t)], [np.cos(t), -np.sin(t)]])
    ny, nx = shape
    return {
        "WCSAXES": (2, "celestial WCS of the stamp"),
        "CTYPE1": ("RA---TAN", ""),
        "CTYPE2": ("DEC--TAN", ""),
        "CUNIT1": ("deg", ""),
        "CUNIT2": ("deg", ""),
        "CRVAL1": (float(ra), "[deg] object position"),
        "CRVAL2": (float(dec), "[deg] object position"),
        "CRPIX1": ((nx + 1) / 2.0, "stamp centre (1-based)"),
        "CRPIX2": ((ny + 1) / 2.0, "stamp centre (1-based)"),
        "CD1_1": (float(cd[0, 0]), f"[deg/pixel] +x at PA {pa_x:.3f} deg"),
        "CD1_2": (float(cd[0, 1]), "[deg/pixel]"),
        "CD2_1": (float(cd[1, 0]), "[deg/pixel]"),
        "CD2_2": (float(cd[1, 1]), "[deg/pixel]"),
        "RADESYS": ("ICRS", ""),
    }


def spectrum_cards(wavelength, pixel_scale: float, trace_row: float) -> dict:
    """Linear WCS cards of a 2D spectrum: wavelength along axis 1, arcsec from the trace on 2.

    The wavelength axis is written only when the grid is linear (within 1e-3 of a step); for a
    non-linear grid axis 1 is the column index (WAVE says the wavelengths exactly in any case).

    Parameters
    ----------
    wavelength : ndarray
        Angstrom per column.
    pixel_scale : float
        Arcsec per row.
    trace_row : float
        0-based row of the trace centre (the origin of axis 2).

    Returns
    -------
    dict
        FITS cards, ``{key: (value, comment)}``.
    """
    wave = np.asarray(wavelength, dtype=float)
    cards = {"WCSAXES": (2, "linear WCS: wavelength, offset from the trace")}
    step = (wave[-1] - wave[0]) / max(wave.size - 1, 1)
    linear = wave.size > 1 and np.allclose(
        wave, wave[0] + step * np.arange(wave.size), rtol=0, atol=1e-3 * abs(step)
    )
    if linear:
        cards.update(
            {
                "CTYPE1": ("WAVE", "vacuum wavelength"),
                "CUNIT1": ("Angstrom", ""),
                "CRPIX1": (1.0, ""),
                "CRVAL1": (float(wave[0]), "[Angstrom] wavelength of column 1"),
                "CD1_1": (float(step), "[Angstrom/pixel]"),
            }
        )
    else:
        cards.update(
            {
                "CTYPE1": ("PIXEL", "column index; wavelengths in WAVE"),
                "CUNIT1": ("pixel", ""),
                "CRPIX1": (1.0, ""),
                "CRVAL1": (0.0, ""),
                "CD1_1": (1.0, ""),
            }
        )
    cards.update(
        {
            "CD1_2": (0.0, ""),
            "CD2_1": (0.0, ""),
            "CTYPE2": ("LINEAR", "offset from the trace, across the dispersion"),
            "CUNIT2": ("arcsec", ""),
            "CRPIX2": (float(trace_row) + 1.0, "trace centre (1-based)"),
            "CRVAL2": (0.0, "[arcsec]"),
            "CD2_2": (float(pixel_scale), "[arcsec/pixel] spatial pixel scale"),
        }
    )
    return cards
