"""The mock grisms: sensitivity curves, wavelength grids, noise, and images dispersed into 2D
spectra (continuum and lines).
"""

from __future__ import annotations

import numpy as np
from astropy import units as u
from astropy.table import Table
from scipy.interpolate import PchipInterpolator

from ohmap import lines as L
from ohmap.io.atomic import write_table_atomic
from ohmap.spectra.grisms import GRISMS, Grism

from .imaging import F160W_PIVOT, GalaxyRenderer
from .inputs import MockGalaxy

#: Sensitivity-curve shapes (relative to the peak) for the mock grisms: knots through which a
#: monotone cubic runs. G102: peak 1.13 um, above half peak 0.89-1.15 um; G141: peak 1.59 um,
#: above half peak 1.12-1.68 um, as the real WFC3/IR curves.
SENSITIVITY_KNOTS = {
    "G102": (
        [7600, 8200, 8600, 8900, 9400, 10000, 10600, 11000, 11300, 11430, 11500, 11650, 11900],
        [0.0, 0.03, 0.2, 0.5, 0.7, 0.8, 0.88, 0.95, 1.0, 0.8, 0.5, 0.08, 0.0],
    ),
    "G141": (
        [
            10400,
            10800,
            11000,
            11200,
            11700,
            12500,
            13500,
            14500,
            15300,
            15900,
            16400,
            16800,
            17100,
            17500,
        ],
        [0.0, 0.05, 0.2, 0.5, 0.66, 0.72, 0.8, 0.88, 0.95, 1.0, 0.85, 0.5, 0.12, 0.0],
    ),
}


#: Peak sensitivity, (e-/s) per (erg/s/cm^2/Angstrom), close to the WFC3/IR first orders.
SENSITIVITY_PEAK = {"G102": 1.03e16, "G141": 1.65e16}


def sensitivity_curve(grism: str, wavelength):
    """Mock first-order sensitivity, (e-/s) per (erg/s/cm^2/Angstrom), at ``wavelength`` (A)."""
    knots_x, knots_y = SENSITIVITY_KNOTS[grism]
    shape = PchipInterpolator(knots_x, knots_y, extrapolate=False)(wavelength)
    return SENSITIVITY_PEAK[grism] * np.clip(np.nan_to_num(shape), 0.0, None)


def wavelength_grid(grism: Grism, margin: float = 400.0):
    """Column wavelengths (Angstrom) of a mock 2D spectrum in ``grism``."""
    start = grism.wavelength_min - margin
    n = int(np.ceil((grism.wavelength_max + margin - start) / grism.dispersion_interlaced))
    return start + grism.dispersion_interlaced * np.arange(n)


def write_sensitivity_fits(path, grism: str) -> None:
    """The mock sensitivity curve as an aXe ``*sens*.fits`` table."""
    wave = np.arange(7000.0, 18000.0, 5.0)
    sens = sensitivity_curve(grism, wave)
    table = Table(
        [wave, sens, 0.02 * sens],
        names=("WAVELENGTH", "SENSITIVITY", "ERROR"),
        units=(u.AA, None, None),
    )
    table.meta["COMMENT"] = [f"ohmap mock {grism} first-order sensitivity, (e-/s)/(erg/s/cm2/A)"]
    write_table_atomic(table, path, format="fits")


def noise_per_pixel_counts(grism: str, exposure_time: float, observations, settings) -> float:
    """1-sigma count-rate noise per interlaced pixel (e-/s) for one PA-grism exposure.

    Scaled so that, combining all PAs of the grism, a line summed over
    ``settings['reference_aperture_pixels']`` pixels at the sensitivity peak has the paper's
    1-sigma flux limit (Sect. 2.1: 3.5e-18 for G102 and 1.2e-18 erg/s/cm^2 for G141).
    """
    total_time = sum(o["exposure_time"] for o in observations if o["grism"] == grism)
    limit = settings["line_flux_limit"][grism] / 1e-17
    disp = GRISMS[grism].dispersion_interlaced
    grow = settings["grow"][0] * settings["grow"][1]
    peak = SENSITIVITY_PEAK[grism] * 1e-17 * disp * grow  # e-/s per (1e-17 flam) per pixel
    k = limit * peak * np.sqrt(total_time) / (disp * np.sqrt(settings["reference_aperture_pixels"]))
    return float(k / np.sqrt(exposure_time))


def disperse_continuum(image, spectrum_of_wavelength, wave, dx: float):
    """2D spectrum (flux density per pixel) of a source whose light follows one spectral shape.

    A stamp column ``k`` is seen at the column where its wavelength lands: light of wavelength
    ``lam`` from column ``k`` falls at ``j = (lam - wave[0]) / dlam + (k - kc) + dx``.
    """
    ny, nk = image.shape
    kc = (nk - 1) / 2.0
    dlam = wave[1] - wave[0]
    out = np.zeros((ny, wave.size))
    j = np.arange(wave.size)
    for k in range(nk):
        lam = wave[0] + (j - (k - kc) - dx) * dlam
        out += image[:, k, None] * spectrum_of_wavelength(lam)[None, :]
    return out


def place_line(renderer: GalaxyRenderer, line: str, frame_pa: float, wave, z, dx, dy):
    """2D image of one line dispersed to its column (flux density per pixel).

    The scene is rendered at the sub-pixel phase the line lands at, so no interpolation of the
    image is needed and the line flux is conserved exactly.
    """
    n = renderer.geo.size
    kc = renderer.geo.center
    dlam = wave[1] - wave[0]
    j_line = (L.LINES_BY_NAME[line].wavelength * (1 + z) - wave[0]) / dlam + dx
    # Column j sees stamp position k' = j - j_line + kc; split into integer and phase.
    shift = int(np.floor(j_line - kc))
    phase = (j_line - kc) - shift
    img = renderer.render(frame_pa, dx=phase, dy=dy)[line]
    out = np.zeros((n, wave.size))
    lo, hi = max(0, shift), min(wave.size, shift + n)
    if hi > lo:
        out[:, lo:hi] = img[:, lo - shift : hi - shift]
    return out / dlam


def continuum_spectrum(gal: MockGalaxy):
    """Observed continuum f_lambda(lam) shape, normalised so that f(F160W pivot) is the H160 flux."""
    fnu = 10 ** (-0.4 * (gal.h160_abmag + 48.6))
    flam_pivot = fnu * 2.99792458e18 / F160W_PIVOT**2 / 1e-17
    return lambda lam: flam_pivot * (np.asarray(lam) / F160W_PIVOT) ** gal.beta
