"""GLASS / 3D-HST ``*.2D.fits`` files: one galaxy, one PA, one grism per file.

Layout (as written by the 3D-HST interlacing pipeline used for GLASS, and by the ohmap mock):

===========  ======  ===============================================================
extension    shape   content
===========  ======  ===============================================================
DSCI         2D      direct-image stamp (F140W/F160W), e-/s; celestial TAN WCS
DSEG         2D      segmentation map of the stamp (object id per pixel, 0 = sky)
SCI          2D      2D spectrum, e-/s per pixel (BUNIT)
WHT          2D      1-sigma error, variance or inverse variance of SCI, as its BUNIT
                     and the primary WHTERROR say; 0 marks pixels without data
MODEL        2D      continuum model of the object itself, e-/s (BUNIT)
CONTAM       2D      contamination model (overlapping neighbours), e-/s (BUNIT)
WAVE         1D      wavelength of each column, Angstrom (BUNIT: or nm, micron)
SENS         1D      sensitivity per column, (e-/s) / (1e-17 erg/s/cm^2/Angstrom) (BUNIT)
YTRACE       1D      row of the trace centre in each column (0-based)
===========  ======  ===============================================================

Flux density per pixel is ``f = SCI / (SENS * GROWX * GROWY)`` in 1e-17 erg/s/cm^2/Angstrom,
following the 3D-HST convention that SENS is given per native pixel and the interlaced grid
repeats each native pixel's count rate ``GROWX * GROWY`` times (both default to 1 when absent).

What each unit and keyword means is decided in :mod:`ohmap.spectra.glass_units` (and WHT's
reading is checked on the data there); the spatial pixel scale comes from the WCS
(:mod:`ohmap.spectra.glass_wcs`). The PA_V3 is read from the file name, as in
``MACS1149-032-G141_01422.2D.fits``.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.io import fits

from ohmap.errors import InputError
from ohmap.io.atomic import write_fits_atomic
from ohmap.io.fitscheck import require_whole_fits

from . import glass_units as units
from .glass_wcs import celestial_cards, spatial_pixel_scale, spectrum_cards
from .grisms import get_grism
from .spectrum import Spectrum2D, dispersion_pa_from_pa_v3

log = logging.getLogger(__name__)

FILENAME_PATTERN = re.compile(
    r"(?P<field>[^/]*?)-(?P<pa>\d{3})-(?P<grism>G\d{3})_(?P<galaxy>[^/]+?)\.2D\.fits$",
    re.IGNORECASE,
)
IMAGE_EXTENSIONS = ("SCI", "WHT", "MODEL", "CONTAM")
VECTOR_EXTENSIONS = ("WAVE", "SENS")
#: Header spellings the writer uses for each reading of WHT (3D-HST capitals for the weights).
WHT_BUNITS = {
    "error": "electron/s",
    "inverse_variance": "(ELECTRONS/S)**-2",
    "variance": "(ELECTRONS/S)**2",
}


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


def _check_shapes(path, images, vectors) -> None:
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


def _to_documented_units(path, hdul, images, vectors, grism) -> float:
    """Convert images to e-/s, WAVE to Angstrom and SENS to its documented unit, in place.

    Returns the factor that took SCI to e-/s. Extensions without ``BUNIT`` keep their values
    (the documented unit is assumed) and are named in one log line.
    """
    rate = "a count rate (e-/s: 'electron/s', 'ELECTRONS/S', 'e-/s')"
    sens = (
        f"{units.SENS_UNIT_TEXT!r} or a unit convertible to it, e.g. "
        "'(electron/s)/(erg/s/cm2/Angstrom)'"
    )
    accepted = {
        "SCI": (units.COUNT_RATE, rate, "e-/s"),
        "MODEL": (units.COUNT_RATE, rate, "e-/s"),
        "CONTAM": (units.COUNT_RATE, rate, "e-/s"),
        "WAVE": (u.Angstrom, "a wavelength unit (Angstrom, nm, micron)", "Angstrom"),
        "SENS": (units.SENS_UNIT, sens, units.SENS_UNIT_TEXT),
    }
    factors, assumed = {}, {}
    for name, (target, words, documented) in accepted.items():
        missing = []
        factors[name] = units.unit_factor(path, name, hdul[name].header, target, words, missing)
        if missing:
            assumed.setdefault(documented, []).append(name)
        arrays = images if name in images else vectors
        arrays[name] = arrays[name] * factors[name]
    if assumed:
        said = "; ".join(f"{', '.join(names)}: {unit}" for unit, names in assumed.items())
        log.info("%s: no BUNIT, documented unit assumed for %s", path, said)
    wave = vectors["WAVE"]
    if np.all(np.isfinite(wave)) and (
        wave.max() < grism.wavelength_min or wave.min() > grism.wavelength_max
    ):
        stated = units.header_unit(hdul["WAVE"].header) or "none, Angstrom assumed"
        raise InputError(
            path,
            f"extension WAVE spans {wave.min():.5g}-{wave.max():.5g} Angstrom (BUNIT: "
            f"{stated}), which misses {grism.name}'s {grism.wavelength_min:g}-"
            f"{grism.wavelength_max:g} Angstrom; WAVE's BUNIT must say its unit "
            "(Angstrom, nm or micron)",
        )
    return factors["SCI"]


def read_glass_2d(path, galaxy: str | None = None) -> Spectrum2D:
    """Read one GLASS / 3D-HST ``*.2D.fits`` file into a :class:`~ohmap.spectra.spectrum.Spectrum2D`.

    Units are taken from each extension's ``BUNIT`` (the documented unit when absent), what WHT
    holds from its ``BUNIT`` and the primary ``WHTERROR`` (:mod:`ohmap.spectra.glass_units`),
    the spatial pixel scale from the WCS (:mod:`ohmap.spectra.glass_wcs`); the errors so read
    must describe the scatter of ``SCI - CONTAM - MODEL``.

    Parameters
    ----------
    path : path-like
        The file; its name carries PA_V3 and grism.
    galaxy : str, optional
        Galaxy id; defaults to the one in the file name.

    Returns
    -------
    Spectrum2D
        Science, error, contamination and continuum in 1e-17 erg/s/cm^2/Angstrom; pixels
        without data have infinite error. ``meta`` records how WHT was read
        (``wht_convention``, ``wht_source``), the normalised scatter and where the pixel scale
        came from.

    Raises
    ------
    InputError
        Naming the file and the extension or keyword, for anything the reader cannot
        interpret.
    """
    path = Path(path)
    info = parse_glass_filename(path)
    grism = get_grism(info["grism"], path)
    pa_v3 = float(info["pa"])
    if not path.is_file():
        raise InputError(path, "file not found")
    require_whole_fits(path)
    with fits.open(path) as hdul:
        images = {name: _extension(hdul, name, path) for name in IMAGE_EXTENSIONS}
        vectors = {name: _extension(hdul, name, path).ravel() for name in VECTOR_EXTENSIONS}
        primary = hdul[0].header
        key = "GRISM" if primary.get("GRISM") else "FILTER"
        header_grism = primary.get(key)
        if header_grism and str(header_grism).strip().upper() != grism.name:
            raise InputError(
                path,
                f"file name says grism {grism.name} but the header says {header_grism} "
                f"(primary keyword {key})",
            )
        _check_shapes(path, images, vectors)
        sci_factor = _to_documented_units(path, hdul, images, vectors, grism)
        convention = units.weight_convention(path, hdul["WHT"].header, primary, sci_factor)
        pixel_scale, scale_source = spatial_pixel_scale(path, hdul)
        ytrace = _extension(hdul, "YTRACE", path).ravel() if "YTRACE" in hdul else None
        direct = _extension(hdul, "DSCI", path) if "DSCI" in hdul else None
        seg = _extension(hdul, "DSEG", path).astype(int) if "DSEG" in hdul else None
        grow = float(primary.get("GROWX", 1)) * float(primary.get("GROWY", 1))
        exptime = primary.get("EXPTIME")
        ra, dec = primary.get("RA"), primary.get("DEC")

    wht = images["WHT"]
    sigma = units.weight_to_sigma(path, wht, convention)
    sens = vectors["SENS"] * grow
    if np.any(~np.isfinite(sens)) or np.any(sens < 0):
        raise InputError(path, "SENS extension has negative or non-finite values")
    usable_column = sens > 1e-3 * sens.max()
    good = np.isfinite(sigma) & usable_column[None, :]
    if not np.any(good):
        raise InputError(path, "no pixel has both data in WHT and a positive SENS")
    residual = images["SCI"] - images["CONTAM"] - images["MODEL"]
    scatter = units.check_normalised_scatter(
        path, residual, sigma, good, convention, wht=wht, sci_factor=sci_factor
    )

    conversion = np.where(usable_column, sens, 1.0)[None, :]
    error = np.where(good, sigma / conversion, np.inf)

    def to_flux(counts):
        return np.where(good, counts / conversion, 0.0)

    return Spectrum2D(
        galaxy=galaxy if galaxy is not None else info["galaxy"],
        pa_v3=pa_v3,
        dispersion_pa=dispersion_pa_from_pa_v3(pa_v3),
        grism=grism.name,
        science=to_flux(images["SCI"]),
        error=error,
        contamination=to_flux(images["CONTAM"]),
        continuum=to_flux(images["MODEL"]),
        wavelength=vectors["WAVE"],
        pixel_scale=pixel_scale,
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
            "wht_convention": convention.kind,
            "wht_source": convention.source,
            "normalised_scatter": scatter,
            "pixel_scale_source": scale_source,
        },
    )


def _card_value(cards: dict, key: str):
    """The value of a header card given as ``value`` or ``(value, comment)``."""
    value = cards.get(key)
    return value[0] if isinstance(value, tuple) else value


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
    weight: str = "error",
    pixel_scale: float | None = None,
    dispersion_pa: float | None = None,
) -> None:
    """Write a GLASS / 3D-HST style ``*.2D.fits`` file (the layout :func:`read_glass_2d` reads).

    The file carries what a real one does: BUNIT on every extension, ``WHTERROR``, a celestial
    TAN WCS on DSCI and DSEG (+x along the dispersion, when ``header_cards`` has RA and DEC) and
    a linear WCS on SCI, WHT, MODEL and CONTAM (wavelength on axis 1, arcsec on axis 2). It is
    written under a temporary name and renamed, so a crash never leaves a complete-looking file.

    Parameters
    ----------
    path : path-like
        The file; its name (``<field>-<PA>-<grism>_<id>.2D.fits``) gives the PA_V3.
    science_counts, error_counts, model_counts, contam_counts : ndarray
        SCI, its 1-sigma error (0 = no data), MODEL and CONTAM, e-/s per pixel, ``(ny, nx)``.
    wavelength : ndarray
        Angstrom per column.
    sensitivity : ndarray
        Per native pixel, (e-/s) / (1e-17 erg/s/cm^2/Angstrom).
    ytrace : ndarray
        0-based row of the trace centre per column.
    direct_image, segmentation : ndarray
        DSCI (e-/s) and DSEG stamps, in the spectrum's orientation.
    header_cards : dict
        Primary header cards, ``{key: value or (value, comment)}``; RA and DEC (deg) place the
        stamps' WCS, PIXSCALE (arcsec) is the pixel scale unless ``pixel_scale`` is given.
    grow : tuple of int
        Interlacing factors (GROWX, GROWY).
    weight : {"error", "inverse_variance", "variance"}
        What WHT holds: ``error_counts`` itself (BUNIT ``electron/s``, ``WHTERROR = T``), its
        inverse square (``(ELECTRONS/S)**-2``, ``WHTERROR = F``) or its square
        (``(ELECTRONS/S)**2``, no WHTERROR, whose T/F cannot say "variance").
    pixel_scale : float, optional
        Arcsec per pixel of the stamps and the spectrum's rows.
    dispersion_pa : float, optional
        PA (deg E of N) of the dispersion, the stamps' +x; by default that of the file name's
        PA_V3 (:func:`~ohmap.spectra.spectrum.dispersion_pa_from_pa_v3`).

    Raises
    ------
    ValueError
        For an unknown ``weight`` or no pixel scale.
    """
    if weight not in WHT_BUNITS:
        raise ValueError(f"weight must be one of {', '.join(WHT_BUNITS)}, got {weight!r}")
    if pixel_scale is None:
        pixel_scale = _card_value(header_cards, "PIXSCALE")
    if pixel_scale is None:
        raise ValueError("write_glass_2d needs pixel_scale (or a PIXSCALE header card)")
    if dispersion_pa is None:
        dispersion_pa = dispersion_pa_from_pa_v3(float(parse_glass_filename(path)["pa"]))
    primary = fits.PrimaryHDU()
    for key, value in header_cards.items():
        primary.header[key] = value
    primary.header["GROWX"] = (int(grow[0]), "interlacing factor along x")
    primary.header["GROWY"] = (int(grow[1]), "interlacing factor along y")
    primary.header["FLUXCONV"] = ("SCI/(SENS*GROWX*GROWY)", "gives 1e-17 erg/s/cm2/A per pixel")
    if weight != "variance":
        primary.header["WHTERROR"] = (weight == "error", "T: WHT is 1-sigma error; F: weight")

    sigma = np.asarray(error_counts, dtype=float)
    with np.errstate(divide="ignore"):
        wht = {
            "error": sigma,
            "inverse_variance": np.where(sigma > 0, 1.0 / sigma**2, 0.0),
            "variance": sigma**2,
        }[weight]
    ra, dec = _card_value(header_cards, "RA"), _card_value(header_cards, "DEC")
    stamp_wcs = {}
    if ra is not None and dec is not None:
        stamp_wcs = celestial_cards(ra, dec, pixel_scale, dispersion_pa, np.shape(direct_image))
    trace_row = float(np.median(ytrace)) if np.size(ytrace) else 0.0
    spectrum_wcs = spectrum_cards(wavelength, pixel_scale, trace_row)

    def image(data, name, unit, comment, dtype=np.float32, cards=None):
        hdu = fits.ImageHDU(np.asarray(data, dtype=dtype), name=name)
        hdu.header["BUNIT"] = unit
        for key, value in (cards or {}).items():
            hdu.header[key] = value
        hdu.header["COMMENT"] = comment
        return hdu

    weight_comment = {
        "error": "1-sigma error of SCI; 0 = no data",
        "inverse_variance": "inverse variance of SCI; 0 = no data",
        "variance": "variance of SCI; 0 = no data",
    }[weight]
    rate = "electron/s"
    hdus = fits.HDUList(
        [
            primary,
            image(direct_image, "DSCI", rate, "direct image stamp", cards=stamp_wcs),
            image(
                segmentation,
                "DSEG",
                "",
                "segmentation map (object id, 0 = sky)",
                np.int32,
                stamp_wcs,
            ),
            image(science_counts, "SCI", rate, "2D grism spectrum", cards=spectrum_wcs),
            image(wht, "WHT", WHT_BUNITS[weight], weight_comment, cards=spectrum_wcs),
            image(model_counts, "MODEL", rate, "continuum model of the object", cards=spectrum_wcs),
            image(
                contam_counts,
                "CONTAM",
                rate,
                "contamination model (neighbours)",
                cards=spectrum_wcs,
            ),
            image(wavelength, "WAVE", "Angstrom", "vacuum wavelength per column", np.float64),
            image(
                sensitivity,
                "SENS",
                units.SENS_UNIT_TEXT,
                "sensitivity per native pixel",
                np.float64,
            ),
            image(ytrace, "YTRACE", "pixel", "0-based row of the trace centre per column"),
        ]
    )
    write_fits_atomic(hdus, path)
