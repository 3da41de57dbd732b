"""ohmap's own FITS product for one normalised 2D spectrum (galaxy x PA x grism).

Whatever the input format (GLASS ``*.2D.fits`` or a grizli stack), the ingest step writes this
one layout, so later steps read a single format whose headers say what they hold.
"""

from __future__ import annotations

import os

import numpy as np
from astropy.io import fits

from ohmap import FLAMBDA_UNIT, __version__
from ohmap.io.atomic import write_fits_atomic

from .spectrum import Spectrum2D

_IMAGES = (
    ("SCI", "science", "observed flux density per pixel"),
    ("ERR", "error", "1-sigma error of SCI; inf = no data"),
    ("CONTAM", "contamination", "contamination model (neighbours)"),
    ("CONTINUUM", "continuum", "continuum model of the galaxy itself"),
)


def write_spectrum_product(spec: Spectrum2D, path) -> None:
    """Write ``spec`` to ``path`` (via a temporary file, so no partial product is left)."""
    primary = fits.PrimaryHDU()
    h = primary.header
    h["OBJECT"] = (spec.galaxy, "galaxy id")
    h["GRISM"] = (spec.grism, "WFC3/IR grism")
    h["PA_V3"] = (spec.pa_v3, "[deg] telescope roll angle")
    h["PA_LABEL"] = (spec.pa, "PA_V3 label used in file names")
    h["PA_DISP"] = (spec.dispersion_pa, "[deg] E of N of the dispersion axis (+x)")
    h["PIXSCALE"] = (spec.pixel_scale, "[arcsec/pixel] spatial pixel scale")
    if spec.exposure_time is not None:
        h["EXPTIME"] = (spec.exposure_time, "[s] exposure time")
    h["SOURCE"] = (os.path.basename(spec.source), "input file")
    h["CONTMOD"] = (
        has_continuum_model(spec),
        "F: no continuum model, CONTINUUM is 0",
    )
    h["OHMAPVER"] = (__version__, "ohmap version")
    hdus = [primary]
    for name, attr, what in _IMAGES:
        hdu = fits.ImageHDU(getattr(spec, attr).astype(np.float32), name=name)
        hdu.header["BUNIT"] = FLAMBDA_UNIT
        hdu.header["CONTENT"] = what
        hdus.append(hdu)
    wave = fits.ImageHDU(spec.wavelength, name="WAVE")
    wave.header["BUNIT"] = "Angstrom"
    wave.header["CONTENT"] = "vacuum wavelength of each column"
    hdus.append(wave)
    stamp = spec.meta.get("direct_stamp") or {}
    for name, data, what, key in (
        (
            "DIRECT",
            spec.direct_image,
            "direct-image stamp, same orientation as the spectrum",
            "direct_image",
        ),
        ("SEG", spec.segmentation, "segmentation map of the direct-image stamp", "segmentation"),
    ):
        if data is not None:
            hdu = fits.ImageHDU(np.asarray(data), name=name)
            hdu.header["CONTENT"] = what
            if stamp.get(key):
                # Resampled from the sample sheet's image (ohmap.spectra.direct_stamp).
                hdu.header["DIRSRC"] = f"sample sheet {key}: {os.path.basename(stamp[key])}"
                hdu.header.update(stamp.get("wcs") or {})
            else:
                hdu.header["DIRSRC"] = ("spectrum file", "where the stamp comes from")
            hdus.append(hdu)
    write_fits_atomic(fits.HDUList(hdus), path)


def has_continuum_model(spec: Spectrum2D) -> bool:
    """False when the reader found no continuum model (``meta['has_continuum_model']``)."""
    return bool(spec.meta.get("has_continuum_model", True))


def read_spectrum_product(path) -> Spectrum2D:
    """Read a product written by :func:`write_spectrum_product`."""
    with fits.open(path) as hdul:
        h = hdul[0].header
        arrays = {attr: np.asarray(hdul[name].data, dtype=float) for name, attr, _ in _IMAGES}
        return Spectrum2D(
            galaxy=str(h["OBJECT"]),
            pa_v3=float(h["PA_V3"]),
            dispersion_pa=float(h["PA_DISP"]),
            grism=h["GRISM"],
            wavelength=np.asarray(hdul["WAVE"].data, dtype=float),
            pixel_scale=float(h["PIXSCALE"]),
            source=str(path),
            exposure_time=h.get("EXPTIME"),
            direct_image=np.asarray(hdul["DIRECT"].data) if "DIRECT" in hdul else None,
            segmentation=np.asarray(hdul["SEG"].data) if "SEG" in hdul else None,
            # Products written before CONTMOD existed always had a model (or a GLASS MODEL).
            meta={"has_continuum_model": bool(h.get("CONTMOD", True))},
            **arrays,
        )
