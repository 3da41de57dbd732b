"""GLASS / 3D-HST ``*.2D.fits`` files: one galaxy, one PA, one grism per file.

Layout (as written by the 3D-HST interlacing pipeline used for GLASS, and by the ohmap mock):

===========  ======  ===============================================================
extension    shape   content
===========  ======  ===============================================================
DSCI         2D      direct-image stamp (F140W/F160W), e-/s
DSEG         2D      segmentation map of the stamp (object id per pixel, 0 = sky)
SCI          2D      2D spectrum, e-/s per pixel
WHT          2D      1-sigma uncertainty of SCI, e-/s (the 3D-HST name is historical);
                     0 marks pixels without data
MODEL        2D      continuum model of the object itself, e-/s
CONTAM       2D      contamination model (overlapping neighbours), e-/s
WAVE         1D      wavelength of each column, Angstrom
SENS         1D      sensitivity per column, (e-/s) / (1e-17 erg/s/cm^2/Angstrom)
YTRACE       1D      row of the trace centre in each column (0-based)
===========  ======  ===============================================================

Flux density per pixel is ``f = SCI / (SENS * GROWX * GROWY)`` in 1e-17 erg/s/cm^2/Angstrom,
following the 3D-HST convention that SENS is given per native pixel and the interlaced grid
repeats each native pixel's count rate ``GROWX * GROWY`` times (both default to 1 when absent).

The PA_V3 is read from the file name, as in ``MACS1149-032-G141_01422.2D.fits``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
from astropy.io import fits

from ohmap.errors import InputError
from ohmap.io.atomic import write_fits_atomic

from .grisms import get_grism
from .spectrum import Spectrum2D, dispersion_pa_from_pa_v3

FILENAME_PATTERN = re.compile(
    r"(?P<field>[^/]*?)-(?P<pa>\d{3})-(?P<grism>G\d{3})_(?P<galaxy>[^/]+?)\.2D\.fits$",
    re.IGNORECASE,
)
IMAGE_EXTENSIONS = ("SCI", "WHT", "MODEL", "CONTAM")
VECTOR_EXTENSIONS = ("WAVE", "SENS")
#: Interlaced WFC3/IR pixel, arcsec.
INTERLACED_PIXEL_SCALE = 0.065


def parse_glass_filename(path) -> dict:
    """Field, PA_V3 label, grism and galaxy id from a GLASS 2D file name.

    Raises
    ------
    InputError
        When the name does not follow ``<field>-<PA>-<grism>_<id>.2D.fits``.
    """
    match = FILENAME_PATTERN.search(os.path.basename(os.fspath(path)))
    if match is None:
        raise InputError(
            path,
            "cannot read the PA and grism from the file name; expected "
            "'<field>-<PA_V3 as 3 digits>-<grism>_<id>.2D.fits', e.g. MACS1149-032-G141_01422.2D.fits",
        )
    info = match.groupdict()
    info["grism"] = info["grism"].upper()
    return info


def _extension(hdul, name, path):
    if name not in hdul:
        raise InputError(path, f"missing extension {name}")
    data = hdul[name].data
    if data is None:
        raise InputError(path, f"extension {name} holds no data")
    return np.asarray(data, dtype=float)


def read_glass_2d(path, galaxy: str | None = None) -> Spectrum2D:
    """Read one GLASS / 3D-HST ``*.2D.fits`` file into a :class:`~ohmap.spectra.spectrum.Spectrum2D`.

    Parameters
    ----------
    path : path-like
        The file; its name carries PA_V3 and grism.
    galaxy : str, optional
        Galaxy id; defaults to the one in the file name.

    Returns
    -------
    Spectrum2D
        Science, error, contamination and continuum in 1e-17 erg/s/cm^2/Angstrom; pixels with
        zero weight have infinite error.
    """
    path = Path(path)
    info = parse_glass_filename(path)
    grism = get_grism(info["grism"], path).name
    pa_v3 = float(info["pa"])
    if not path.is_file():
        raise InputError(path, "file not found")
    with fits.open(path) as hdul:
        images = {name: _extension(hdul, name, path) for name in IMAGE_EXTENSIONS}
        vectors = {name: _extension(hdul, name, path).ravel() for name in VECTOR_EXTENSIONS}
        primary = hdul[0].header
        header_grism = primary.get("GRISM") or primary.get("FILTER")
        if header_grism and str(header_grism).strip().upper() != grism:
            raise InputError(
                path, f"file name says grism {grism} but the header says {header_grism}"
            )
        ytrace = _extension(hdul, "YTRACE", path).ravel() if "YTRACE" in hdul else None
        direct = _extension(hdul, "DSCI", path) if "DSCI" in hdul else None
        seg = _extension(hdul, "DSEG", path).astype(int) if "DSEG" in hdul else None
        grow = float(primary.get("GROWX", 1)) * float(primary.get("GROWY", 1))
        exptime = primary.get("EXPTIME")
        ra, dec = primary.get("RA"), primary.get("DEC")

    shape = images["SCI"].shape
    if len(shape) != 2:
        raise InputError(path, f"SCI must be a 2D image, got shape {shape}")
    for name, data in images.items():
        if data.shape != shape:
            raise InputError(path, f"extension {name} has shape {data.shape}, SCI has {shape}")
    for name, data in vectors.items():
        if data.shape != (shape[1],):
            raise InputError(
                path, f"extension {name} has {data.size} entries, SCI has {shape[1]} columns"
            )
    wht = images["WHT"]
    if np.any(np.isnan(wht)):
        raise InputError(path, f"WHT (error) extension has {int(np.isnan(wht).sum())} NaN values")
    if np.any(wht < 0):
        raise InputError(path, f"WHT (error) extension has {int((wht < 0).sum())} negative values")
    if not np.any(wht > 0):
        raise InputError(path, "WHT (error) extension is zero everywhere: no pixel has data")
    sens = vectors["SENS"] * grow
    if np.any(~np.isfinite(sens)) or np.any(sens < 0):
        raise InputError(path, "SENS extension has negative or non-finite values")

    usable_column = sens > 1e-3 * sens.max()
    good = (wht > 0) & usable_column[None, :]
    conversion = np.where(usable_column, sens, 1.0)[None, :]
    error = np.where(good, wht / conversion, np.inf)

    def to_flux(counts):
        return np.where(good, counts / conversion, 0.0)

    return Spectrum2D(
        galaxy=galaxy if galaxy is not None else info["galaxy"],
        pa_v3=pa_v3,
        dispersion_pa=dispersion_pa_from_pa_v3(pa_v3),
        grism=grism,
        science=to_flux(images["SCI"]),
        error=error,
        contamination=to_flux(images["CONTAM"]),
        continuum=to_flux(images["MODEL"]),
        wavelength=vectors["WAVE"],
        pixel_scale=float(primary.get("PIXSCALE", INTERLACED_PIXEL_SCALE)),
        source=str(path),
        exposure_time=None if exptime is None else float(exptime),
        direct_image=direct,
        segmentation=seg,
        meta={
            "field": info["field"],
            "ra": ra,
            "dec": dec,
            "ytrace": ytrace,
            "sensitivity_per_pixel": sens,
        },
    )


def write_glass_2d(
    path,
    *,
    science_counts,
    error_counts,
    model_counts,
    contam_counts,
    wavelength,
    sensitivity,
    ytrace,
    direct_image,
    segmentation,
    header_cards: dict,
    grow=(1, 1),
) -> None:
    """Write a GLASS / 3D-HST style ``*.2D.fits`` file (the layout :func:`read_glass_2d` reads).

    All 2D arrays are count rates (e-/s per pixel); ``sensitivity`` is per native pixel in
    (e-/s) / (1e-17 erg/s/cm^2/Angstrom) and ``grow`` the interlacing factors (GROWX, GROWY).
    The file is written under a temporary name and renamed, so a crash never leaves a
    complete-looking file behind.
    """
    primary = fits.PrimaryHDU()
    for key, value in header_cards.items():
        primary.header[key] = value
    primary.header["GROWX"] = (int(grow[0]), "interlacing factor along x")
    primary.header["GROWY"] = (int(grow[1]), "interlacing factor along y")
    primary.header["FLUXCONV"] = ("SCI/(SENS*GROWX*GROWY)", "gives 1e-17 erg/s/cm2/A per pixel")

    def image(data, name, unit, comment, dtype=np.float32):
        hdu = fits.ImageHDU(np.asarray(data, dtype=dtype), name=name)
        hdu.header["BUNIT"] = unit
        hdu.header["COMMENT"] = comment
        return hdu

    hdus = fits.HDUList(
        [
            primary,
            image(direct_image, "DSCI", "electron/s", "direct image stamp"),
            image(segmentation, "DSEG", "", "segmentation map (object id, 0 = sky)", np.int32),
            image(science_counts, "SCI", "electron/s", "2D grism spectrum"),
            image(error_counts, "WHT", "electron/s", "1-sigma error of SCI; 0 = no data"),
            image(model_counts, "MODEL", "electron/s", "continuum model of the object"),
            image(contam_counts, "CONTAM", "electron/s", "contamination model (neighbours)"),
            image(wavelength, "WAVE", "Angstrom", "vacuum wavelength per column", np.float64),
            image(
                sensitivity,
                "SENS",
                "(electron/s)/(1e-17 erg/s/cm2/Angstrom)",
                "sensitivity per native pixel",
                np.float64,
            ),
            image(ytrace, "YTRACE", "pixel", "0-based row of the trace centre per column"),
        ]
    )
    write_fits_atomic(hdus, path)
