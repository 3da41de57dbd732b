"""aXe sensitivity curves of the WFC3/IR grisms and the count-rate to flux-density conversion.

An aXe sensitivity curve gives, for each wavelength, the count rate produced per Angstrom of
spectrum by a source of unit flux density: units (e-/s) per (erg/s/cm^2/Angstrom), i.e. a pixel
of width ``dlam`` Angstrom that sees a flux density ``f_lambda`` (erg/s/cm^2/Angstrom) records
``f_lambda * S(lambda) * dlam`` e-/s.  This is the convention grizli uses for its drizzled
stacks (``StackFitter``: ``sens * np.gradient(wave)``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ohmap.errors import InputError

from .fitscheck import require_whole_fits

#: Flux-density unit ohmap works in, erg/s/cm^2/Angstrom.
FLAMBDA_UNIT_CGS = 1e-17

#: Pixels whose bin-averaged sensitivity is below this fraction of the maximum are treated as
#: having no usable throughput (grism edges), where dividing by the sensitivity only amplifies
#: noise and calibration errors.
SENSITIVITY_FLOOR = 1e-3

_COLUMNS = ("WAVELENGTH", "SENSITIVITY", "ERROR")


@dataclass(frozen=True, eq=False)
class SensitivityCurve:
    """A grism sensitivity curve as aXe tabulates it.

    ``eq=False`` because element-wise array comparison has no single truth value; curves are
    compared by identity.

    Attributes
    ----------
    wavelength : ndarray
        Wavelength in Angstrom, finite and strictly increasing.
    sensitivity : ndarray
        Sensitivity in (e-/s) per (erg/s/cm^2/Angstrom): count rate per Angstrom of spectrum for
        a unit flux density.  Non-negative.
    error : ndarray
        1-sigma uncertainty of ``sensitivity``, same unit, as given in the file.
    source : str
        The file the curve was read from (empty when built in memory).
    """

    wavelength: np.ndarray
    sensitivity: np.ndarray
    error: np.ndarray
    source: str = ""

    def __post_init__(self):
        # Read-only float copies so a frozen curve cannot be changed through its arrays.
        for name in ("wavelength", "sensitivity", "error"):
            arr = np.array(getattr(self, name), dtype=float)
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        _check_curve(self.wavelength, self.sensitivity, self.error, self.source or None)

    def _cumulative(self, x: np.ndarray) -> np.ndarray:
        """Integral of the sensitivity from the curve's start to ``x`` (Angstrom).

        The curve is taken as piecewise linear between its samples and zero outside them, so the
        integral is exact (a quadratic within each sample interval).
        """
        w, s = self.wavelength, self.sensitivity
        steps = np.diff(w)
        nodes = np.concatenate([[0.0], np.cumsum(0.5 * (s[1:] + s[:-1]) * steps)])
        xc = np.clip(x, w[0], w[-1])
        i = np.clip(np.searchsorted(w, xc, side="right") - 1, 0, len(w) - 2)
        t = xc - w[i]
        slope = (s[i + 1] - s[i]) / steps[i]
        return nodes[i] + s[i] * t + 0.5 * slope * t * t

    def per_pixel(self, wavelength_grid) -> np.ndarray:
        """Mean sensitivity over each pixel's wavelength bin.

        Parameters
        ----------
        wavelength_grid : array_like
            Pixel-centre wavelengths in Angstrom, 1D, strictly increasing, at least 2 values.
            Bin edges lie at the midpoints between centres; the outer edges half a spacing
            beyond the first and last centre.

        Returns
        -------
        ndarray
            Bin-averaged sensitivity, (e-/s) per (erg/s/cm^2/Angstrom), same shape as the grid.
            The curve counts as zero outside its tabulated range, so a bin that only partly
            overlaps the curve gets the correspondingly smaller mean and a bin wholly outside
            gets 0.  ``per_pixel(grid) * bin_width`` summed over bins equals the integral of the
            curve over the bins' span (flux conservation).
        """
        grid = np.asarray(wavelength_grid, dtype=float)
        if grid.ndim != 1 or grid.size < 2:
            raise InputError(None, f"wavelength grid must be 1D with >= 2 values, got {grid.shape}")
        if not np.all(np.isfinite(grid)) or np.any(np.diff(grid) <= 0):
            raise InputError(None, "wavelength grid must be finite and strictly increasing")
        edges = bin_edges(grid)
        integral = np.diff(self._cumulative(edges))
        return integral / np.diff(edges)


def bin_edges(wavelength: np.ndarray) -> np.ndarray:
    """Pixel bin edges (Angstrom) for pixel-centre wavelengths: midpoints, outer edges mirrored."""
    w = np.asarray(wavelength, dtype=float)
    mid = 0.5 * (w[1:] + w[:-1])
    return np.concatenate([[w[0] - (mid[0] - w[0])], mid, [w[-1] + (w[-1] - mid[-1])]])


def _check_curve(wavelength, sensitivity, error, source, hdu_note: str = "") -> None:
    """Raise :class:`~ohmap.errors.InputError` naming the column when a curve is unusable."""
    for name, arr in zip(_COLUMNS, (wavelength, sensitivity, error)):
        if arr.ndim != 1:
            raise InputError(source, f"{hdu_note}column {name} is not one value per row")
    n = wavelength.size
    if n < 2:
        raise InputError(source, f"{hdu_note}column WAVELENGTH has {n} rows; need at least 2")
    if sensitivity.size != n or error.size != n:
        raise InputError(
            source, f"{hdu_note}columns WAVELENGTH, SENSITIVITY, ERROR differ in length"
        )
    bad = ~np.isfinite(wavelength)
    if bad.any():
        raise InputError(
            source, f"{hdu_note}column WAVELENGTH has {int(bad.sum())} non-finite values"
        )
    steps = np.diff(wavelength)
    if np.any(steps <= 0):
        row = int(np.argmax(steps <= 0)) + 1
        raise InputError(
            source,
            f"{hdu_note}column WAVELENGTH is not strictly increasing "
            f"(row {row}: {wavelength[row - 1]} -> {wavelength[row]})",
        )
    bad = ~np.isfinite(sensitivity)
    if bad.any():
        raise InputError(
            source, f"{hdu_note}column SENSITIVITY has {int(bad.sum())} non-finite values"
        )
    neg = sensitivity < 0
    if neg.any():
        raise InputError(
            source,
            f"{hdu_note}column SENSITIVITY has {int(neg.sum())} negative values "
            f"(first at {wavelength[np.argmax(neg)]} Angstrom)",
        )
    # ERROR is informational only; aXe files are known to carry negative errors (e.g. the G141
    # zeroth-order curve), so only a missing column is fatal.


def read_axe_sensitivity(path: str | os.PathLike) -> SensitivityCurve:
    """Read an aXe sensitivity curve (``*sens*.fits``).

    Parameters
    ----------
    path : str or os.PathLike
        FITS file with a binary table in HDU 1 holding columns WAVELENGTH (Angstrom),
        SENSITIVITY ((e-/s) per (erg/s/cm^2/Angstrom)) and ERROR (same unit).  Column names are
        matched case-insensitively and with surrounding blanks ignored (the WFC3 files declare
        ``'WAVELENGTH '``).

    Returns
    -------
    SensitivityCurve

    Raises
    ------
    InputError
        Naming the file and the column: file missing or not FITS, no table in HDU 1, a column
        missing, non-finite or non-increasing wavelengths, non-finite or negative sensitivity.
    """
    from astropy.io import fits

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "sensitivity file not found")
    require_whole_fits(path)
    try:
        with fits.open(path, memmap=False) as hdul:
            if len(hdul) < 2:
                raise InputError(
                    path,
                    "no HDU 1: expected a binary table with columns WAVELENGTH, SENSITIVITY, ERROR",
                )
            hdu = hdul[1]
            if not isinstance(hdu, fits.BinTableHDU):
                raise InputError(
                    path,
                    f"HDU 1 is a {type(hdu).__name__}, not a binary table with columns "
                    "WAVELENGTH, SENSITIVITY, ERROR",
                )
            names = {name.strip().upper(): name for name in hdu.columns.names}
            arrays = []
            for col in _COLUMNS:
                if col not in names:
                    raise InputError(
                        path,
                        f"HDU 1 has no column {col} (columns: {', '.join(hdu.columns.names)})",
                    )
                arrays.append(np.array(hdu.data[names[col]], dtype=float))
    except OSError as exc:
        raise InputError(path, f"cannot read as FITS: {exc}") from exc
    wavelength, sensitivity, error = arrays
    _check_curve(wavelength, sensitivity, error, path, "HDU 1 ")
    return SensitivityCurve(wavelength, sensitivity, error, str(path))


def sensitivity_file_from_conf(conf_path: str | os.PathLike, beam: str = "A") -> Path:
    """The sensitivity file an aXe configuration file assigns to a beam (spectral order).

    Parameters
    ----------
    conf_path : str or os.PathLike
        aXe ``.conf`` file.  Lines whose first non-blank character is ``#`` are comments.
    beam : str
        Beam letter: ``"A"`` is the first order.

    Returns
    -------
    Path
        The file named by the *last* uncommented ``SENSITIVITY_<beam>`` line (grizli's rule when
        a file lists several), taken relative to the folder holding the .conf file.  Whether it
        exists is left to the caller (:func:`read_axe_sensitivity` says so clearly).

    Raises
    ------
    InputError
        When the file is missing or has no uncommented ``SENSITIVITY_<beam>`` line with a value.
    """
    conf_path = Path(conf_path)
    key = f"SENSITIVITY_{str(beam).strip().upper()}"
    try:
        text = conf_path.read_text(errors="replace")
    except OSError as exc:
        raise InputError(conf_path, f"cannot read aXe configuration file: {exc}") from exc
    found = None
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        # aXe allows trailing "; comment" after a value.
        tokens = line.split(";", 1)[0].split()
        if not tokens or tokens[0].upper() != key:
            continue
        if len(tokens) < 2:
            raise InputError(conf_path, f"line {lineno}: {key} has no file name")
        found = tokens[1]
    if found is None:
        raise InputError(conf_path, f"no uncommented {key} line")
    return conf_path.parent / found


def counts_per_flambda(wavelength, sensitivity_curve: SensitivityCurve) -> np.ndarray:
    """Count rate per pixel produced by a flux density of 1e-17 erg/s/cm^2/Angstrom.

    Parameters
    ----------
    wavelength : array_like
        Pixel-centre wavelengths in Angstrom (1D, strictly increasing).
    sensitivity_curve : SensitivityCurve

    Returns
    -------
    ndarray
        ``per_pixel(wavelength) * np.gradient(wavelength) * 1e-17``: (e-/s per pixel) per
        (1e-17 erg/s/cm^2/Angstrom), one value per pixel.
    """
    wave = np.asarray(wavelength, dtype=float)
    return sensitivity_curve.per_pixel(wave) * np.gradient(wave) * FLAMBDA_UNIT_CGS


def counts_to_flambda(counts, counts_error, wavelength, sensitivity_curve: SensitivityCurve):
    """Convert count rates per pixel to flux density, grizli's stack convention.

    ``counts[e-/s/pixel] = f_lambda[erg/s/cm^2/A] * S(lambda) * dlam`` with ``S`` the
    bin-averaged sensitivity of each pixel (:meth:`SensitivityCurve.per_pixel`) and
    ``dlam = np.gradient(wavelength)`` the pixel width in Angstrom.

    Parameters
    ----------
    counts, counts_error : array_like
        Count rate and its 1-sigma error, e-/s per pixel; the last axis runs along
        ``wavelength`` (e.g. shape ``(ny, nx)`` images).  ``inf`` errors stay ``inf``.
    wavelength : array_like
        Pixel-centre wavelengths in Angstrom, shape ``(nx,)``.
    sensitivity_curve : SensitivityCurve

    Returns
    -------
    flux, error : ndarray
        Flux density and its error in 1e-17 erg/s/cm^2/Angstrom.  Where the pixel's
        sensitivity is below 1e-3 of the maximum over the grid (grism edges, or outside the
        curve) the flux is undefined: flux 0 and error ``inf`` there, never NaN.
    """
    counts = np.asarray(counts, dtype=float)
    counts_error = np.asarray(counts_error, dtype=float)
    wave = np.asarray(wavelength, dtype=float)
    if counts.shape[-1:] != wave.shape or counts_error.shape != counts.shape:
        raise InputError(
            sensitivity_curve.source or None,
            f"counts {counts.shape}, errors {counts_error.shape} and wavelength {wave.shape} "
            "do not line up along the last axis",
        )
    factor = counts_per_flambda(wave, sensitivity_curve)
    sens = sensitivity_curve.per_pixel(wave)
    # A curve that is zero over the whole grid leaves nothing usable (floor of 0 would keep all).
    usable = (sens >= SENSITIVITY_FLOOR * sens.max()) & (sens > 0)
    safe = np.where(usable, factor, 1.0)
    flux = np.where(usable, counts / safe, 0.0)
    error = np.where(usable, counts_error / safe, np.inf)
    return flux, error
