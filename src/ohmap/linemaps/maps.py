"""The line-map data model: one PA-grism's maps (:class:`LineMap`, :class:`Extraction`) and a
line's map stacked on the reference grid (:class:`StackedMap`).

Line fluxes are in 1e-17 erg/s/cm^2 per pixel; an error of ``inf`` marks a pixel without data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class LineMap:
    """One emission-line map from one PA and grism.

    Attributes
    ----------
    line : str
        Map line name (``"Hb"``, ``"OIII5008"``, ...).
    flux, error : ndarray
        Line flux per pixel and its 1-sigma error, 1e-17 erg/s/cm^2; ``error`` is ``inf``
        where there are no data (``flux`` is 0 there).
    blended : ndarray of bool
        Pixels that may hold unmodelled flux of another line.
    x_phase : float
        Sub-pixel position of the map grid along the dispersion (pixels).
    column : float
        Fractional spectrum column of the line centre at the catalogue redshift.
    wavelength : float
        Observed vacuum wavelength, Angstrom.
    integrated_flux, integrated_error : float
        Flux over the footprint, 1e-17 erg/s/cm^2 (for de-blended lines: the group's total
        split by the de-blended ratios, see :func:`~ohmap.linemaps.extract.extract_line_maps`).
    info : dict
        Provenance: method, contour level, continuum scale, window residual statistics, flags.
    """

    line: str
    flux: np.ndarray
    error: np.ndarray
    blended: np.ndarray
    x_phase: float
    column: float
    wavelength: float
    integrated_flux: float = np.nan
    integrated_error: float = np.nan
    info: dict = field(default_factory=dict)

    @property
    def valid(self) -> np.ndarray:
        return np.isfinite(self.error) & ~self.blended


@dataclass
class Extraction:
    """Everything extracted from one spectrum: maps, footprint and decisions.

    ``cleaned`` and ``cleaned_error`` are the whole spectrum after contamination and rescaled
    continuum subtraction, in line flux per pixel (1e-17 erg/s/cm^2; error ``inf`` without
    data), and ``columns`` the fractional column of every line on it (tied lines included), so
    that later steps can model the 2D spectrum itself.
    """

    galaxy: str
    pa: str
    grism: str
    dispersion_pa: float
    pixel_scale: float
    footprint: np.ndarray
    maps: dict
    decisions: list
    direct_image: np.ndarray | None = None
    cleaned: np.ndarray | None = None
    cleaned_error: np.ndarray | None = None
    columns: dict = field(default_factory=dict)
    redshift: float = np.nan


@dataclass
class StackedMap:
    """A line map combined over PAs and grisms on the reference grid.

    Attributes
    ----------
    flux, error : ndarray
        Inverse-variance weighted mean (1e-17 erg/s/cm^2 per pixel) and its error; ``error`` is
        ``inf`` where no map contributes.
    n_maps : ndarray of int
        Number of maps contributing to each pixel.
    contributors : list of str
        ``"PA-grism"`` labels of the maps that went in.
    aperture_flux, aperture_error : float
        Sum over the aperture and its exact error (NaN when an aperture pixel has no data).
    method : str
        ``"stack"`` (inverse-variance mean of PA-grism maps) or ``"joint"`` (joint de-blending
        of all PA-grisms' spectra, :mod:`ohmap.linemaps.joint_deblend`).
    covariance : dict
        Other line -> covariance of the two aperture fluxes, (1e-17 erg/s/cm^2)^2 (joint lines).
    """

    line: str
    flux: np.ndarray
    error: np.ndarray
    n_maps: np.ndarray
    contributors: list = field(default_factory=list)
    aperture_flux: float = np.nan
    aperture_error: float = np.nan
    method: str = "stack"
    covariance: dict = field(default_factory=dict)
