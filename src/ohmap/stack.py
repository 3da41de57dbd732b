"""Vetting and inverse-variance stacking of aligned line maps (Wang et al. 2017, Sect. 4.3).

Each PA-grism map of a line is resampled onto the reference grid with the exact sparse operator
of :mod:`ohmap.resample` (so its error map follows), maps that fail vetting are left out with the
reason recorded, and the rest are combined pixel by pixel with inverse-variance weights.
Pixels flagged ``blended`` in a map (possible flux of another line) do not enter the stack.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .settings import ConfigSection
from .resample import resample, resampling_matrix


@dataclass
class VettingSettings(ConfigSection):
    """Science settings of the vetting (the ``linemaps.vetting`` config section).

    Attributes
    ----------
    reject_residual_flag : bool
        Reject maps whose continuum windows show residuals inconsistent with zero-mean noise.
    reject_poor_alignment : bool
        Reject the maps of a PA-grism whose alignment fit is poor.
    outlier_sigma, max_outlier_fraction : float
        A map with more than ``max_outlier_fraction`` of its off-source pixels beyond
        ``outlier_sigma`` is taken to have a reduction defect.
    max_noise_ratio : float
        A map whose off-source pixels scatter by more than this many times their stated errors
        is rejected (its error map does not describe it).
    """

    reject_residual_flag: bool = True
    reject_poor_alignment: bool = True
    outlier_sigma: float = 5.0
    max_outlier_fraction: float = 0.005
    max_noise_ratio: float = 1.5



def vet_map(line_map, footprint, alignment_status: str, settings: VettingSettings) -> tuple[bool, str]:
    """Whether a PA-grism line map goes into the stack, and why (not)."""
    if settings.reject_residual_flag and line_map.info.get("residual_flag"):
        return False, (f"continuum/contamination residuals not zero-mean noise "
                       f"(z = {line_map.info.get('residual_z', np.nan):.1f})")
    if settings.reject_poor_alignment and alignment_status.startswith("poor"):
        return False, f"alignment {alignment_status}"
    off = np.isfinite(line_map.error) & ~footprint & ~line_map.blended
    if off.sum() > 20:
        z = line_map.flux[off] / line_map.error[off]
        outliers = np.mean(np.abs(z) > settings.outlier_sigma)
        if outliers > settings.max_outlier_fraction:
            return False, f"reduction defects: {outliers:.1%} of off-source pixels beyond {settings.outlier_sigma:g} sigma"
        ratio = float(np.std(z))
        if ratio > settings.max_noise_ratio:
            return False, f"off-source scatter {ratio:.2f} x the error map"
    return True, "accepted"


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
    """

    line: str
    flux: np.ndarray
    error: np.ndarray
    n_maps: np.ndarray
    contributors: list = field(default_factory=list)
    aperture_flux: float = np.nan
    aperture_error: float = np.nan


def stack_line(line: str, entries, out_shape, aperture, kernel: str = "lanczos3") -> StackedMap:
    """Inverse-variance mean of one line's maps on the reference grid.

    Parameters
    ----------
    line : str
    entries : list of tuple
        ``(label, LineMap, FrameTransform)`` for every accepted map.
    out_shape : tuple of int
        Shape of the reference grid.
    aperture : ndarray of bool
        Reference-grid pixels summed for the aperture flux.
    """
    num = np.zeros(out_shape)
    wsum = np.zeros(out_shape)
    count = np.zeros(out_shape, dtype=int)
    resampled = []
    for label, m, transform in entries:
        matrix = resampling_matrix(out_shape, m.flux.shape, transform, in_x_phase=m.x_phase,
                                   kernel=kernel)
        error = np.where(m.blended, np.inf, m.error)
        f, e = resample(m.flux, error, matrix, out_shape)
        ok = np.isfinite(e) & (e > 0)
        w = np.where(ok, 1.0 / np.where(ok, e, 1.0) ** 2, 0.0)
        num += w * f
        wsum += w
        count += ok
        resampled.append((matrix, error, w))
    has = wsum > 0
    flux = np.where(has, num / np.where(has, wsum, 1.0), 0.0)
    err = np.where(has, 1.0 / np.sqrt(np.where(has, wsum, 1.0)), np.inf)
    out = StackedMap(line, flux, err, count, [label for label, _, _ in entries])
    if np.any(aperture) and np.all(has[aperture]):
        # The aperture sum is linear in the input pixels: its variance is exact, including the
        # correlations the resampling introduces between neighbouring output pixels.
        var = 0.0
        coeff_out = np.where(aperture, 1.0, 0.0).ravel()
        for matrix, error, w in resampled:
            c = (coeff_out * (w / np.where(has, wsum, 1.0)).ravel()) @ matrix
            e = error.ravel()
            good = np.isfinite(e)
            var += float(np.sum((c[good] * e[good]) ** 2))
        out.aperture_flux = float(flux[aperture].sum())
        out.aperture_error = float(np.sqrt(var))
    return out


def combine_integrated(values, errors) -> tuple[float, float]:
    """Inverse-variance mean of independent integrated fluxes (NaNs ignored)."""
    v = np.asarray(values, dtype=float)
    e = np.asarray(errors, dtype=float)
    ok = np.isfinite(v) & np.isfinite(e) & (e > 0)
    if not ok.any():
        return np.nan, np.nan
    w = 1.0 / e[ok] ** 2
    return float(np.sum(w * v[ok]) / w.sum()), float(1.0 / np.sqrt(w.sum()))

