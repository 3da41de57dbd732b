"""Alignment of line maps from different PAs to the reference PA (Wang et al. 2017, Eq. 1).

Three parameters bring a PA's map onto the reference orientation: a small vertical offset
``shift_y`` (trace tilt), a small horizontal shift ``shift_x`` (wavelength calibration and
redshift error) and a rotation correction added to the nominal angle between the PAs'
dispersion directions (see :class:`ohmap.resample.FrameTransform` for the exact definition;
shifts in PA-frame pixels, angles in degrees). The paper finds them by maximising the normalised
cross-correlation coefficient

    NCCF = (1/n) sum (S_ref - <S_ref>)(S_PA - <S_PA>) / (sigma_ref sigma_PA)

over the ``n`` pixels of the reference footprint that have data in both maps.

Maximising the NCCF is a least-squares fit of ``S_PA = c S_ref + b`` with equal weights and
free ``c, b``. This module fits that model as a chi-square with each pixel's variance, which
removes the bias a plain NCCF has with noisy maps (resampling a noisy map at a half-pixel phase
averages its noise down, so a plain NCCF prefers half-pixel shifts; with the propagated
variance in the denominator the expected chi-square is the same at every phase). In detail:

* Both maps are smoothed by the same circular Gaussian (``smooth_pixels``, 1 pixel). A circular
  kernel commutes with rotation and shift, so the optimum does not move, while the noise of
  *both* maps at frequencies above the PSF's, which carries no position information, drops:
  on noise-limited maps this halves the scatter of the shifts (Monte Carlo on the mock).
* The PA map is interpolated (Lanczos-3, the kernel of :mod:`ohmap.resample`) at the positions
  of the reference map's own pixels, so the reference map is never resampled; the variance of
  each interpolated value is propagated with it.
* Every pixel of the reference footprint with data in both maps is used: selecting pixels by
  their S/N in the reference would bias the shift towards the reference's noise peaks.
* The scale ``c`` and offset ``b`` of each line pair are solved for linearly at every trial
  transform (variable projection) with the effective variance ``var_PA + c^2 var_ref``.
* With ``joint``, all lines the PA shares with the reference (above ``min_line_snr``) are
  fitted with one transform (summed chi-squares). A PA-grism with no line in common (a G102 PA
  against the G141 reference) pairs its line with the reference's strongest line.
* A coarse grid over the shifts (on more heavily smoothed maps) starts a bounded
  Levenberg-Marquardt fit with an analytic Jacobian.
* The 1-sigma errors come from the Fisher matrix of the unsmoothed maps, with the noise's own
  contribution to the squared gradients subtracted (so a pure-noise map has no information).
* A pair whose line has an integrated S/N of ``min_line_snr`` (5) or less in either map is not
  fitted at all: the nominal transform is kept.
* The rotation correction is kept only when the data measure it to ``max_rotation_error_deg``
  (0.5 deg); otherwise it is set to zero and the shifts are refitted. Compact or faint
  sources hardly constrain the rotation, and a noisy fitted angle is worse than the nominal
  one (the roll angle is known to about a degree).

The reported NCCF is Eq. 1 for the primary line pair at the optimum, over the same pixels, and
the noise-limited NCCF (:func:`~ohmap.linemaps.nccf.expected_nccf`) is what two maps of the same scene with these
noise levels reach. Too low a noise-limited NCCF, or a shift error above
``max_shift_error_pixels``, means the pair is too faint to align, and the nominal transform is
kept.

The reference grid is the reference PA's map frame with no sub-pixel phase: pixel ``(i, k)``
at ``x = k - (n-1)/2``, ``y = i - (n-1)/2`` (see :mod:`ohmap.resample`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ohmap.resample import FrameTransform

from .settings import AlignmentSettings
from .shift_fit import build_pairs, fit_pairs


@dataclass
class AlignmentResult:
    """Fitted alignment of one PA-grism to the reference.

    Attributes
    ----------
    transform : FrameTransform
        Where PA-frame points lie in the reference frame (shifts in pixels, rotation in deg).
    nominal_rotation_deg : float
        Angle between the dispersion axes, degrees.
    nccf, nccf_expected : float
        Eq. 1 at the optimum and its noise-limited value, for the primary line pair.
    status : str
        ``"reference"``, ``"fitted"``, ``"poor: ..."`` or ``"nominal: ..."``.
    line, reference_line : str
        The primary line pair.
    lines : tuple of str
        Every pair fitted jointly, as ``"pa_line/ref_line"``.
    shift_x_error, shift_y_error, rotation_error_deg : float
        1-sigma errors of the fit (pixels, pixels, degrees), from the chi-square's curvature
        scaled by the reduced chi-square; NaN when no fit was kept.
    """

    transform: FrameTransform
    nominal_rotation_deg: float
    nccf: float
    nccf_expected: float
    status: str
    line: str
    reference_line: str
    lines: tuple = ()
    shift_x_error: float = np.nan
    shift_y_error: float = np.nan
    rotation_error_deg: float = np.nan
    rotation_fixed: bool = False

    @property
    def rotation_correction_deg(self) -> float:
        return self.transform.rotation_deg - self.nominal_rotation_deg

    def summary(self) -> str:
        """One line for the log: line pair, shifts and rotation with errors, NCCF, status."""
        t = self.transform
        correction = (
            "fixed"
            if self.rotation_fixed
            else f"{self.rotation_correction_deg:.2f} +- {self.rotation_error_deg:.2f}"
        )
        return (
            f"on {','.join(self.lines) or self.line}: shift ({t.shift_x:.2f} +- "
            f"{self.shift_x_error:.2f}, {t.shift_y:.2f} +- {self.shift_y_error:.2f}) px, rotation "
            f"{t.rotation_deg:.2f} deg (nominal {self.nominal_rotation_deg:.2f}, correction "
            f"{correction}), NCCF {self.nccf:.3f} (noise-limited {self.nccf_expected:.3f}): "
            f"{self.status}"
        )


def nominal_rotation(dispersion_pa: float, reference_dispersion_pa: float) -> float:
    """Angle between the PA's and the reference's dispersion axes, in (-180, 180] degrees."""
    return float((dispersion_pa - reference_dispersion_pa + 180.0) % 360.0 - 180.0)


def _snr(m) -> float:
    if not np.isfinite(m.integrated_error) or m.integrated_error <= 0:
        return -np.inf
    return float(m.integrated_flux / m.integrated_error)


def choose_alignment_line(pa_maps: dict, ref_maps: dict, configured: str | None):
    """Primary lines to align on: (this PA's line, reference line). Prefers a configured line,
    else the common line with the highest S/N in the poorer of the two maps, else each side's
    strongest."""
    if configured and configured in pa_maps and configured in ref_maps:
        return configured, configured
    common = [n for n in ref_maps if n in pa_maps]
    if common:
        best = max(common, key=lambda n: min(_snr(ref_maps[n]), _snr(pa_maps[n])))
        return best, best
    if not pa_maps or not ref_maps:
        return None, None
    return max(pa_maps, key=lambda n: _snr(pa_maps[n])), max(
        ref_maps, key=lambda n: _snr(ref_maps[n])
    )


def alignment_pairs(
    pa_maps: dict, ref_maps: dict, settings: AlignmentSettings
) -> list[tuple[str, str]]:
    """Line pairs (PA line, reference line) fitted with one transform, primary pair first.

    With ``joint``, every common line whose integrated S/N exceeds ``min_line_snr`` in both
    maps joins the primary pair; without a common line, every PA line above that S/N is paired
    with the reference's strongest line (different lines have different morphologies, but the
    strongest reference line is the best-measured template).
    """
    line, ref_line = choose_alignment_line(pa_maps, ref_maps, settings.line)
    if line is None:
        return []
    pairs = [(line, ref_line)]
    if not settings.joint or (settings.line and settings.line == line):
        return pairs
    common = [n for n in ref_maps if n in pa_maps]
    for n in common if line == ref_line else pa_maps:
        other = n if line == ref_line else ref_line
        if (n, other) in pairs:
            continue
        if min(_snr(pa_maps[n]), _snr(ref_maps[other])) > settings.min_line_snr:
            pairs.append((n, other))
    return pairs


def align_extraction(extraction, reference, settings: AlignmentSettings) -> AlignmentResult:
    """Alignment of one PA-grism's maps to the reference PA's (both :class:`~ohmap.linemaps.maps.Extraction`).

    Returns
    -------
    AlignmentResult
        ``status`` is ``"reference"`` for the reference itself, ``"nominal: ..."`` when the
        nominal transform is kept (no map, or too faint to align), ``"poor: ..."`` when the
        fit reached a bound or its NCCF is well below the noise-limited value, else
        ``"fitted"``.
    """
    rotation0 = nominal_rotation(extraction.dispersion_pa, reference.dispersion_pa)
    names = alignment_pairs(extraction.maps, reference.maps, settings)
    identity = FrameTransform(rotation0, 0.0, 0.0)
    if not names:
        return AlignmentResult(
            identity, rotation0, np.nan, np.nan, "nominal: no line map to align on", "", ""
        )
    line, ref_line = names[0]
    same = extraction.pa == reference.pa and extraction.grism == reference.grism
    if same:
        return AlignmentResult(identity, rotation0, 1.0, 1.0, "reference", line, ref_line)
    snr = min(_snr(extraction.maps[line]), _snr(reference.maps[ref_line]))
    if not snr > settings.min_line_snr:
        return AlignmentResult(
            identity,
            rotation0,
            np.nan,
            0.0,
            f"nominal: too faint to align (line S/N {snr:.1f} < {settings.min_line_snr:g})",
            line,
            ref_line,
        )
    built = build_pairs(
        [(extraction.maps[a], reference.maps[b]) for a, b in names], reference.footprint, settings
    )
    if built is None or built[0][0].pa_line != line:
        return AlignmentResult(
            identity,
            rotation0,
            np.nan,
            0.0,
            "nominal: too few footprint pixels with data to align on",
            line,
            ref_line,
        )
    pairs = built[0]
    fit = fit_pairs(*built, rotation0, settings)
    transform, value, expected = fit.transform, fit.nccf, fit.expected
    used = tuple(f"{p.pa_line}/{p.ref_line}" for p in pairs)
    errs = dict(
        lines=used,
        shift_x_error=fit.errors[0],
        shift_y_error=fit.errors[1],
        rotation_error_deg=fit.errors[2],
        rotation_fixed=fit.rotation_fixed,
    )
    max_err = max(fit.errors[0], fit.errors[1])
    if expected < settings.min_expected_nccf or not max_err <= settings.max_shift_error_pixels:
        why = (
            f"noise-limited NCCF {expected:.2f}"
            if expected < settings.min_expected_nccf
            else f"shift error {max_err:.2f} px"
        )
        return AlignmentResult(
            identity,
            rotation0,
            value,
            expected,
            f"nominal: too faint to align ({why})",
            line,
            ref_line,
            **errs,
        )
    at_bound = (
        max(abs(transform.shift_x), abs(transform.shift_y)) > 0.98 * settings.max_shift_pixels
        or abs(transform.rotation_deg - rotation0) > 0.98 * settings.max_rotation_deg
    )
    if at_bound:
        status = "poor: a parameter reached its bound"
    elif not np.isfinite(value) or value < settings.min_nccf_ratio * expected:
        status = f"poor: NCCF {value:.2f} below {settings.min_nccf_ratio:g} x noise-limited {expected:.2f}"
    else:
        status = "fitted"
    return AlignmentResult(transform, rotation0, value, expected, status, line, ref_line, **errs)
