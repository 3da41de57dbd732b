"""Analytic 2D grism spectra for the extraction, alignment and stacking tests.

A source is an elliptical Gaussian; every line is an exact image of it at the column where the
line lands (sampled at the line's own sub-pixel phase, so no interpolation enters the truth).
"""

from __future__ import annotations

import numpy as np

from ohmap import lines as L
from ohmap.spectra.spectrum import Spectrum2D

DLAM = 22.0  # Angstrom per column, G141-like
N = 48


def gaussian_image(x, y, sigma_x=2.0, sigma_y=1.4, angle_deg=30.0, flux=1.0, x0=0.0, y0=0.0):
    """Elliptical Gaussian of total ``flux`` sampled at ``(x, y)`` (pixels)."""
    t = np.radians(angle_deg)
    u = (x - x0) * np.cos(t) + (y - y0) * np.sin(t)
    v = -(x - x0) * np.sin(t) + (y - y0) * np.cos(t)
    return (
        flux
        * np.exp(-0.5 * (u**2 / sigma_x**2 + v**2 / sigma_y**2))
        / (2 * np.pi * sigma_x * sigma_y)
    )


def synthetic_spectrum(
    line_fluxes: dict,
    redshift: float,
    noise: float = 0.002,
    seed: int = 1,
    wave0: float = 10800.0,
    ncol: int = 300,
    continuum: float = 0.0,
    continuum_model_scale: float = 1.0,
    contamination: float = 0.0,
    source=None,
    direct: bool = True,
    grism: str = "G141",
):
    """A Spectrum2D of one source and its truth.

    Parameters
    ----------
    line_fluxes : dict
        Line name -> total flux (1e-17 erg/s/cm^2).
    noise : float
        1-sigma noise per pixel in flux density (1e-17 erg/s/cm^2/A).
    continuum : float
        Flux density of the source's continuum at its peak... total over the image, per A.
    continuum_model_scale : float
        The continuum model handed to the extraction is the true continuum times this.
    contamination : float
        Level of a flat contamination stripe (modelled exactly).
    source : callable, optional
        ``source(x, y)`` -> image of unit flux; default an elliptical Gaussian.

    Returns
    -------
    spec : Spectrum2D
    truth : dict
        Per line, the map (line flux per pixel) on the phase-free grid.
    """
    source = source or gaussian_image
    rng = np.random.default_rng(seed)
    wave = wave0 + DLAM * np.arange(ncol)
    kc = (N - 1) / 2.0
    yy = np.arange(N)[:, None] - kc
    sci = np.zeros((N, ncol))
    truth = {}
    for name, flux in line_fluxes.items():
        column = (L.LINES_BY_NAME[name].wavelength * (1 + redshift) - wave0) / DLAM
        j = np.arange(ncol)[None, :]
        sci += flux * source(j - column, yy) / DLAM
        xg, yg = np.meshgrid(np.arange(N) - kc, np.arange(N) - kc)
        truth[name] = flux * source(xg, yg)
    image = source(*np.meshgrid(np.arange(N) - kc, np.arange(N) - kc))
    cont = np.zeros((N, ncol))
    if continuum:
        # A source of the same shape dispersed with a flat spectrum: column j collects the
        # image columns k at wavelengths landing there.
        profile = image.sum(axis=1)
        cont = continuum * profile[:, None] * np.ones(ncol)[None, :]
    contam = np.zeros((N, ncol))
    if contamination:
        contam[N // 2 + 12 : N // 2 + 15, :] = contamination
    sci = sci + cont + contam + rng.normal(0.0, noise, sci.shape)
    spec = Spectrum2D(
        galaxy="test",
        pa_v3=119.0,
        dispersion_pa=74.0,
        grism=grism,
        science=sci,
        error=np.full(sci.shape, noise),
        contamination=contam,
        continuum=cont * continuum_model_scale,
        wavelength=wave,
        pixel_scale=0.065,
        source="synthetic",
        direct_image=(image / image.max()) if direct else None,
    )
    return spec, truth
