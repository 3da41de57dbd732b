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
        Sum over the aperture pixels that have data (1e-17 erg/s/cm^2) and its exact error; not
        corrected for the pixels without data (see :meth:`corrected_aperture`). NaN only when
        no aperture pixel has data.
    method : str
        ``"stack"`` (inverse-variance mean of PA-grism maps) or ``"joint"`` (joint de-blending
        of all PA-grisms' spectra, :mod:`ohmap.linemaps.joint_deblend`).
    covariance : dict
        Other line -> covariance of the two aperture fluxes, (1e-17 erg/s/cm^2)^2 (joint lines).
    aperture_coverage : float
        Fraction of the aperture's pixels that have data (0-1; NaN when unknown, e.g. a file
        written before it was recorded).
    aperture_light : float
        Share of the reference direct-image light in the aperture that falls on those pixels
        (0-1; NaN without a direct image or when unknown).
    deblend : str
        For a line of a blend group: which de-blending its map and flux come from and why
        (:func:`ohmap.linemaps.stack.choose_deblend`), and whether the maps conserve the blend's
        flux; empty for an isolated line.
    blend_z : float
        For a line of a blend group: the group's maps summed over the aperture (coverage
        corrected, [OIII]4960 counted as [OIII]5008/2.98) minus the group's integrated per-PA
        flux, in combined standard errors; NaN for an isolated line or when unknown.
    neighbour_covariance : dict or None
        ``(dy, dx)`` -> map of the noise covariance of each pixel with the one at
        ``(y + dy, x + dx)``, (1e-17 erg/s/cm^2)^2, for the lags of
        :data:`ohmap.linemaps.noise_covariance.NEIGHBOUR_LAGS`; ``None`` where not known (a
        joint de-blending's map, a file written before it was recorded): pixels then count as
        independent.
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
    aperture_coverage: float = np.nan
    aperture_light: float = np.nan
    deblend: str = ""
    blend_z: float = np.nan
    neighbour_covariance: dict | None = None

    @property
    def aperture_share(self) -> float:
        """The covered share used to correct the aperture sum: the direct-light share where it
        is known, else the pixel fraction (NaN when neither is)."""
        return self.aperture_light if np.isfinite(self.aperture_light) else self.aperture_coverage

    def corrected_aperture(self) -> tuple[float, float]:
        """Aperture flux and error divided by :attr:`aperture_share` (the correction
        :func:`ohmap.linemaps.extract.integrate` applies to a map's own integrated flux), in
        1e-17 erg/s/cm^2; the raw sum when the share is unknown, NaN when it is zero."""
        share = self.aperture_share
        if not np.isfinite(share):
            return self.aperture_flux, self.aperture_error
        if share <= 0:
            return np.nan, np.nan
        return self.aperture_flux / share, self.aperture_error / share


def aperture_coverage(covered, aperture, light=None) -> tuple[float, float]:
    """How much of an aperture has data.

    Parameters
    ----------
    covered : ndarray of bool
        Pixels with data.
    aperture : ndarray of bool
        The aperture (the reference footprint).
    light : ndarray or None
        The reference direct image on the same grid (any flux unit; negative values count as 0).

    Returns
    -------
    fraction : float
        Fraction of the aperture's pixels that are covered (NaN for an empty aperture).
    light_share : float
        Share of ``light`` within the aperture that falls on covered pixels (NaN without
        ``light`` or when the aperture holds none of it).
    """
    aperture = np.asarray(aperture, dtype=bool)
    inside = aperture & np.asarray(covered, dtype=bool)
    fraction = float(inside.sum() / aperture.sum()) if aperture.any() else np.nan
    share = np.nan
    if light is not None:
        w = np.clip(np.nan_to_num(np.asarray(light, dtype=float)), 0.0, None)
        total = float(w[aperture].sum())
        if total > 0:
            share = float(w[inside].sum() / total)
    return fraction, share
