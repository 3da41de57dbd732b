"""Alignment of line maps from different PAs to the reference PA (Wang et al. 2017, Eq. 1).

Three parameters bring a PA's map onto the reference orientation: a small vertical offset
``shift_y`` (trace tilt), a small horizontal shift ``shift_x`` (wavelength calibration and
redshift error) and a rotation correction ``rotation_deg`` added to the nominal angle between
the PAs' dispersion directions. They maximise the normalised cross-correlation coefficient

    NCCF = (1/n) sum (S_ref - <S_ref>)(S_PA - <S_PA>) / (sigma_ref sigma_PA)

over the ``n`` pixels of the reference footprint that have data in both maps.

The reference grid is the reference PA's map frame with no sub-pixel phase: pixel ``(i, k)``
at ``x = k - (n-1)/2``, ``y = i - (n-1)/2`` (see :mod:`ohmap.resample`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter, map_coordinates
from scipy.optimize import minimize

from .settings import ConfigSection
from .resample import FrameTransform, frame_coordinates


@dataclass
class AlignmentSettings(ConfigSection):
    """Science settings of the alignment (the ``linemaps.alignment`` config section).

    Attributes
    ----------
    line : str or None
        Line to align on; ``None`` picks the line with the highest integrated S/N in the
        reference PA that this PA also has (else this PA's strongest line).
    max_shift_pixels : float
        Bound on ``|shift_x|`` and ``|shift_y|``.
    max_rotation_deg : float
        Bound on the rotation correction.
    min_expected_nccf : float
        Below this noise-limited NCCF the map is too faint to align: the nominal transform is
        used and the fact recorded.
    min_nccf_ratio : float
        A fit whose NCCF is below this fraction of the noise-limited value is poor (vetting
        rejects the PA's maps).
    smooth_pixels : float
        Both maps are smoothed by a Gaussian of this sigma (pixels) before correlating, which
        raises the per-pixel S/N without moving the optimum.
    min_pixel_snr : float
        The NCCF is computed over reference-footprint pixels whose smoothed S/N exceeds this.
    """

    line: str | None = None
    max_shift_pixels: float = 3.0
    max_rotation_deg: float = 4.0
    min_expected_nccf: float = 0.3
    min_nccf_ratio: float = 0.8
    smooth_pixels: float = 1.0
    min_pixel_snr: float = 2.0



def nccf(a, b, mask) -> float:
    """Normalised cross-correlation coefficient of ``a`` and ``b`` over ``mask`` (Eq. 1)."""
    x, y = a[mask], b[mask]
    if x.size < 3:
        return np.nan
    sx, sy = x.std(), y.std()
    if sx == 0 or sy == 0:
        return np.nan
    return float(np.mean((x - x.mean()) * (y - y.mean())) / (sx * sy))


def expected_nccf(flux, error, mask) -> float:
    """Fraction of a map's variance over ``mask`` that is signal, sqrt'd: the NCCF a noiseless
    twin of the map would reach against it."""
    f, e = flux[mask], error[mask]
    if f.size < 3:
        return 0.0
    total = f.var()
    if total <= 0:
        return 0.0
    return float(np.sqrt(np.clip(1.0 - np.mean(e**2) / total, 0.0, 1.0)))


def smooth_map(flux, error, valid, sigma: float):
    """Normalised Gaussian smoothing of a map with missing pixels, and the smoothed map's
    1-sigma noise (for independent pixels)."""
    if sigma <= 0:
        return np.where(valid, flux, 0.0), np.where(valid, error, np.inf)
    w = valid.astype(float)
    norm = gaussian_filter(w, sigma)
    num = gaussian_filter(np.where(valid, flux, 0.0), sigma)
    # Variance of a kernel-weighted mean: sum k^2 var / (sum k)^2; for a Gaussian kernel the
    # squared kernel is a Gaussian of sigma/sqrt(2) scaled by 1/(4 pi sigma^2).
    var = gaussian_filter(np.where(valid, error, 0.0) ** 2, sigma / np.sqrt(2)) / (4 * np.pi * sigma**2)
    ok = norm > 0.5
    out = np.where(ok, num / np.maximum(norm, 1e-12), 0.0)
    err = np.where(ok, np.sqrt(var) / np.maximum(norm, 1e-12), np.inf)
    return out, err


def to_reference_grid(flux, valid, transform: FrameTransform, x_phase: float, out_shape):
    """Map and validity of a map resampled onto the reference grid (cubic spline, for fitting;
    the stack itself uses the exact sparse operators of :mod:`ohmap.resample`)."""
    u, v = frame_coordinates(out_shape)
    xs, ys = transform.target_to_source(u, v)
    n, m = flux.shape
    cols = xs + (m - 1) / 2.0 - x_phase
    rows = ys + (n - 1) / 2.0
    data = np.where(valid, flux, 0.0)
    out = map_coordinates(data, [rows, cols], order=3, mode="constant", cval=0.0)
    cover = map_coordinates(valid.astype(float), [rows, cols], order=1, mode="constant", cval=0.0)
    return out, cover > 0.999


@dataclass
class AlignmentResult:
    """Fitted alignment of one PA-grism to the reference."""

    transform: FrameTransform
    nominal_rotation_deg: float
    nccf: float
    nccf_expected: float
    status: str
    line: str
    reference_line: str

    @property
    def rotation_correction_deg(self) -> float:
        return self.transform.rotation_deg - self.nominal_rotation_deg


def nominal_rotation(dispersion_pa: float, reference_dispersion_pa: float) -> float:
    """Angle between the PA's and the reference's dispersion axes, in (-180, 180] degrees."""
    return float((dispersion_pa - reference_dispersion_pa + 180.0) % 360.0 - 180.0)


def fit_alignment(pa_map, pa_error, pa_valid, pa_phase, ref_map, ref_error, ref_valid, ref_phase,
                  mask, rotation0: float, settings: AlignmentSettings) -> tuple[FrameTransform, float, float]:
    """Shifts and rotation correction maximising the NCCF against the reference.

    Parameters
    ----------
    pa_map, pa_error, pa_valid, pa_phase
        The PA's map, its error, its validity mask and its sub-pixel phase.
    ref_map, ref_error, ref_valid, ref_phase
        The same for the reference map.
    mask : ndarray of bool
        Reference-grid pixels to correlate over (the reference footprint).
    rotation0 : float
        Nominal rotation from the PA to the reference frame, degrees.

    Returns
    -------
    transform : FrameTransform
    nccf : float
        At the optimum.
    expected : float
        Noise-limited NCCF of the pair.
    """
    shape = ref_map.shape
    sigma = settings.smooth_pixels
    ref_s, ref_se = smooth_map(ref_map, ref_error, ref_valid, sigma)
    pa_s, pa_se = smooth_map(pa_map, pa_error, pa_valid, sigma)
    pa_ok = np.isfinite(pa_se)
    ref, ref_ok = to_reference_grid(ref_s, np.isfinite(ref_se), FrameTransform(0.0, 0.0, 0.0), ref_phase, shape)
    ref_err, _ = to_reference_grid(np.where(np.isfinite(ref_se), ref_se, 0.0),
                                   np.isfinite(ref_se), FrameTransform(0.0, 0.0, 0.0), ref_phase, shape)
    mask = mask & ref_ok & (ref > settings.min_pixel_snr * ref_err)

    def evaluate(p):
        t = FrameTransform(rotation0 + p[2], p[0], p[1])
        img, ok = to_reference_grid(pa_s, pa_ok, t, pa_phase, shape)
        use = mask & ok & ref_ok
        if use.sum() < 10:
            return np.nan, use, img
        return nccf(ref, img, use), use, img

    def cost(p):
        value = evaluate(p)[0]
        return 1.0 if not np.isfinite(value) else -value

    s = settings.max_shift_pixels
    grid = np.arange(-np.floor(s), np.floor(s) + 1)
    start = min(((dx, dy, 0.0) for dx in grid for dy in grid), key=cost)
    bounds = [(-s, s), (-s, s), (-settings.max_rotation_deg, settings.max_rotation_deg)]
    best = minimize(cost, np.array(start), method="Powell", bounds=bounds,
                    options=dict(xtol=1e-3, ftol=1e-7))
    p = best.x
    value, use, img = evaluate(p)
    pa_err_img, _ = to_reference_grid(np.where(pa_ok, pa_se, 0.0), pa_ok,
                                      FrameTransform(rotation0 + p[2], p[0], p[1]), pa_phase, shape)
    expected = expected_nccf(ref, ref_err, use) * expected_nccf(img, pa_err_img, use)
    return FrameTransform(rotation0 + p[2], float(p[0]), float(p[1])), value, expected


def choose_alignment_line(pa_maps: dict, ref_maps: dict, configured: str | None):
    """Lines to align on: (this PA's line, reference line). Prefers a configured line, else the
    reference's highest-S/N line that this PA also has, else each side's strongest."""

    def snr(m):
        if not np.isfinite(m.integrated_error) or m.integrated_error <= 0:
            return -np.inf
        return m.integrated_flux / m.integrated_error

    if configured and configured in pa_maps and configured in ref_maps:
        return configured, configured
    common = [n for n in ref_maps if n in pa_maps]
    if common:
        best = max(common, key=lambda n: min(snr(ref_maps[n]), snr(pa_maps[n])))
        return best, best
    if not pa_maps or not ref_maps:
        return None, None
    return max(pa_maps, key=lambda n: snr(pa_maps[n])), max(ref_maps, key=lambda n: snr(ref_maps[n]))


def align_extraction(extraction, reference, settings: AlignmentSettings) -> AlignmentResult:
    """Alignment of one PA-grism's maps to the reference PA's (both :class:`Extraction`)."""
    rotation0 = nominal_rotation(extraction.dispersion_pa, reference.dispersion_pa)
    line, ref_line = choose_alignment_line(extraction.maps, reference.maps, settings.line)
    identity = FrameTransform(rotation0, 0.0, 0.0)
    if line is None:
        return AlignmentResult(identity, rotation0, np.nan, np.nan, "nominal: no line map to align on",
                               "", "")
    same = (extraction.pa == reference.pa and extraction.grism == reference.grism)
    if same:
        return AlignmentResult(identity, rotation0, 1.0, 1.0, "reference", line, ref_line)
    m, r = extraction.maps[line], reference.maps[ref_line]
    transform, value, expected = fit_alignment(
        m.flux, m.error, m.valid, m.x_phase, r.flux, r.error, r.valid, r.x_phase,
        reference.footprint, rotation0, settings)
    if expected < settings.min_expected_nccf:
        return AlignmentResult(identity, rotation0, value, expected,
                               f"nominal: too faint to align (noise-limited NCCF {expected:.2f})",
                               line, ref_line)
    at_bound = (max(abs(transform.shift_x), abs(transform.shift_y)) > 0.98 * settings.max_shift_pixels
                or abs(transform.rotation_deg - rotation0) > 0.98 * settings.max_rotation_deg)
    if at_bound:
        status = "poor: a parameter reached its bound"
    elif not np.isfinite(value) or value < settings.min_nccf_ratio * expected:
        status = f"poor: NCCF {value:.2f} below {settings.min_nccf_ratio:g} x noise-limited {expected:.2f}"
    else:
        status = "fitted"
    return AlignmentResult(transform, rotation0, value, expected, status, line, ref_line)
