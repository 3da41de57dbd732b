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
the noise-limited NCCF (:func:`expected_nccf`) is what two maps of the same scene with these
noise levels reach. Too low a noise-limited NCCF, or a shift error above
``max_shift_error_pixels``, means the pair is too faint to align, and the nominal transform is
kept.

The reference grid is the reference PA's map frame with no sub-pixel phase: pixel ``(i, k)``
at ``x = k - (n-1)/2``, ``y = i - (n-1)/2`` (see :mod:`ohmap.resample`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import gaussian_filter

from .resample import KERNELS, FrameTransform, frame_coordinates
from .settings import ConfigSection


@dataclass
class AlignmentSettings(ConfigSection):
    """Science settings of the alignment (the ``linemaps.alignment`` config section).

    Attributes
    ----------
    line : str or None
        Line to align on, alone; ``None`` fits all lines the PA shares with the reference
        (see ``joint``), or pairs this PA's lines with the reference's strongest line when
        there is no common line.
    max_shift_pixels : float
        Bound on ``|shift_x|`` and ``|shift_y|``, pixels.
    max_rotation_deg : float
        Bound on the rotation correction, degrees.
    min_expected_nccf : float
        Below this noise-limited NCCF (of the primary line pair) the map is too faint to align:
        the nominal transform is used and the fact recorded.
    min_nccf_ratio : float
        A fit whose NCCF is below this fraction of the noise-limited value is poor (vetting
        rejects the PA's maps).
    smooth_pixels : float
        Gaussian sigma (pixels) by which both maps are smoothed before the fit. It does not
        move the optimum (see the module notes) and lowers the noise; 0 fits the maps as
        extracted.
    min_pixel_snr : float
        If positive, only reference-footprint pixels whose reference S/N exceeds this are used.
        Kept for old configurations: any such cut biases the shift towards the reference's
        noise peaks, so the default is 0 (all footprint pixels).
    joint : bool
        Fit all usable common lines jointly (one transform, summed chi-square). Off by default:
        on the mock the secondary lines (de-blended H-beta, [SII]) carry de-blending residuals
        that pull the transform more than their signal helps.
    min_line_snr : float
        Integrated S/N a line map must exceed, in the PA's map and in the reference's, to be
        aligned on: below it in the primary pair the nominal transform is kept (a fit to a
        barely detected map is mostly a fit to its noise); in the joint fit, lines below it
        are left out.
    search_step_pixels : float
        Step of the coarse grid over the shifts that starts the fit, pixels.
    search_smooth_pixels : float
        Gaussian sigma (pixels) of the smoothing applied for the coarse grid only, which widens
        the chi-square valley so that the grid cannot step over it.
    max_shift_error_pixels : float
        A fit whose 1-sigma error on either shift exceeds this (pixels) is too faint to align:
        it would not be clearly better than the nominal transform.
    rotation_prior_deg : float or None
        1-sigma of a Gaussian prior on the rotation correction (degrees), centred on 0; it keeps
        the fit stable when the rotation is weakly constrained. ``None`` or 0: no prior.
    max_rotation_error_deg : float
        The rotation correction is kept only if the data alone measure it to this 1-sigma
        error (degrees); otherwise it is 0 and only the shifts are fitted.
    """

    line: str | None = None
    max_shift_pixels: float = 3.0
    max_rotation_deg: float = 4.0
    min_expected_nccf: float = 0.3
    min_nccf_ratio: float = 0.8
    smooth_pixels: float = 1.0
    min_pixel_snr: float = 0.0
    joint: bool = False
    min_line_snr: float = 5.0
    search_step_pixels: float = 1.0
    search_smooth_pixels: float = 1.5
    max_shift_error_pixels: float = 0.5
    rotation_prior_deg: float | None = 1.0
    max_rotation_error_deg: float = 0.5


# ----------------------------------------------------------------------------------------------
# Correlation statistics
# ----------------------------------------------------------------------------------------------


def nccf(a, b, mask) -> float:
    """Normalised cross-correlation coefficient of ``a`` and ``b`` over ``mask`` (Eq. 1)."""
    x, y = a[mask], b[mask]
    if x.size < 3:
        return np.nan
    sx, sy = x.std(), y.std()
    if sx == 0 or sy == 0:
        return np.nan
    return float(np.mean((x - x.mean()) * (y - y.mean())) / (sx * sy))


def signal_fraction(flux, error, mask) -> float:
    """Square root of the fraction of a map's variance over ``mask`` that is not noise.

    The spatial variance of the map over the pixels is the signal's spatial variance plus the
    mean noise variance, so ``(var(flux) - mean(error**2)) / var(flux)`` estimates the signal's
    share without bias, provided the pixels are chosen without looking at the flux.
    """
    f, e = np.asarray(flux)[mask], np.asarray(error)[mask]
    if f.size < 3:
        return 0.0
    total = f.var()
    if not total > 0:
        return 0.0
    return float(np.sqrt(np.clip(1.0 - np.mean(e**2) / total, 0.0, 1.0)))


def expected_nccf(flux, error, mask, flux2=None, error2=None) -> float:
    """Noise-limited NCCF: what Eq. 1 reaches between noisy maps of the same scene.

    For two maps ``S1 = s + n1`` and ``S2 = c s + b + n2`` of one signal ``s`` with independent
    noises, the NCCF over a fixed set of pixels tends to ``rho1 * rho2``, with
    ``rho = sqrt(signal variance / total variance)`` of each map (:func:`signal_fraction`).

    Parameters
    ----------
    flux, error : ndarray
        A map and its 1-sigma error (same units).
    mask : ndarray of bool
        The pixels the NCCF is taken over: all of them, not a selection by flux (a selection of
        bright pixels has little spatial variance left and returns about 0).
    flux2, error2 : ndarray, optional
        The second map of the pair on the same pixels. Without it, the value for the map against
        a noiseless twin of itself (``rho1``) is returned.

    Returns
    -------
    float
        In [0, 1].
    """
    rho = signal_fraction(flux, error, mask)
    if flux2 is not None:
        rho *= signal_fraction(flux2, error2, mask)
    return float(rho)


def smooth_map(flux, error, valid, sigma: float):
    """Normalised Gaussian smoothing of a map with missing pixels, and the smoothed map's
    1-sigma noise (for independent pixels).

    Returns
    -------
    flux, error : ndarray
        ``error`` is ``inf`` where less than half the kernel's weight has data.
    """
    if sigma <= 0:
        return np.where(valid, flux, 0.0), np.where(valid, error, np.inf)
    w = valid.astype(float)
    norm = gaussian_filter(w, sigma)
    num = gaussian_filter(np.where(valid, flux, 0.0), sigma)
    # Variance of a kernel-weighted mean: sum k^2 var / (sum k)^2, and the squared kernel is
    # a Gaussian of sigma/sqrt(2) scaled by 1/(4 pi sigma^2).
    var = gaussian_filter(np.where(valid, error, 0.0) ** 2, sigma / np.sqrt(2)) / (4 * np.pi * sigma**2)
    ok = norm > 0.5
    out = np.where(ok, num / np.maximum(norm, 1e-12), 0.0)
    err = np.where(ok, np.sqrt(var) / np.maximum(norm, 1e-12), np.inf)
    return out, err


# ----------------------------------------------------------------------------------------------
# Interpolation with error propagation
# ----------------------------------------------------------------------------------------------


def _lanczos3_derivative(d):
    """Derivative of the Lanczos-3 kernel ``sinc(d) sinc(d/3)`` with respect to ``d``."""
    d = np.asarray(d, dtype=float)

    def dsinc(x):
        out = np.zeros_like(x)
        nz = np.abs(x) > 1e-8
        out[nz] = (np.cos(np.pi * x[nz]) - np.sinc(x[nz])) / x[nz]
        return out

    return np.where(np.abs(d) < 3, dsinc(d) * np.sinc(d / 3.0) + np.sinc(d) * dsinc(d / 3.0) / 3.0, 0.0)


class _Interpolator:
    """Lanczos-3 values, variances and gradients of a map with missing pixels at arbitrary
    frame points.

    The weights are renormalised over the valid pixels of each stencil (as
    :func:`ohmap.resample.resampling_matrix` renormalises to unit sum), so that a hole near a
    point does not pull the value to zero; ``coverage`` says how much of the stencil had data.

    Parameters
    ----------
    flux, error, valid : ndarray
        The map, its 1-sigma error and where it has data.
    x_phase : float
        Sub-pixel phase of the map's grid along x, pixels.
    correlated : bool
        The map's noise is correlated over a few pixels (a smoothed map): interpolation then
        averages it down hardly at all, and the variance is interpolated like the values
        rather than propagated as for independent pixels (``sum w^2 var``).
    gradient_smoothing : float
        If positive, gradients are taken from the map smoothed by a Gaussian of this sigma
        (pixels), whose noise is far smaller: the gradients then estimate the signal's, which is
        what the Fisher matrix needs (a slight underestimate, so errors come out conservative).
    """

    def __init__(self, flux, error, valid, x_phase: float, correlated: bool = False,
                 gradient_smoothing: float = 0.0):
        self.half, self.kernel = KERNELS["lanczos3"]
        pad = self.half + 1
        valid = np.asarray(valid, dtype=bool) & np.isfinite(error)
        self.pad = pad
        self.shape = flux.shape
        self.v = np.pad(valid.astype(float), pad).ravel()
        self.fv = np.pad(np.where(valid, flux, 0.0), pad).ravel()
        self.ev = np.pad(np.where(valid, error, 0.0) ** 2, pad).ravel()
        self.gradient_smoothing = float(gradient_smoothing)
        if self.gradient_smoothing > 0:
            gf, ge = smooth_map(flux, error, valid, self.gradient_smoothing)
            gok = np.isfinite(ge)
            self.gfv = np.pad(np.where(gok, gf, 0.0), pad).ravel()
            self.gev = np.pad(np.where(gok, ge, 0.0) ** 2, pad).ravel()
        self.width = flux.shape[1] + 2 * pad
        self.x_phase = float(x_phase)
        self.correlated = correlated
        self.offsets = np.arange(-self.half + 1, self.half + 1)

    def __call__(self, xs, ys, gradient: bool = False):
        """Interpolate at source-frame points ``(xs, ys)`` (pixels).

        Returns
        -------
        value, var, coverage : ndarray
            Values, their noise variances and the fraction of each stencil with data.
        gx, gy, gvar : ndarray
            With ``gradient`` only: derivatives of the values along x and y (per pixel) and the
            noise covariance of (gx, gy), shape ``(n, 3)``: var gx, var gy, cov.
        """
        n, m = self.shape
        col = xs + (m - 1) / 2.0 - self.x_phase + self.pad
        row = ys + (n - 1) / 2.0 + self.pad
        # Points beyond the padded map get an empty stencil (coverage 0), not a wrapped one.
        lo, hi_r, hi_c = self.half, n + 2 * self.pad - self.half - 1, m + 2 * self.pad - self.half - 1
        col = np.clip(col, lo, hi_c)
        row = np.clip(row, lo, hi_r)
        c0 = np.floor(col).astype(int)
        r0 = np.floor(row).astype(int)
        ri = r0[:, None] + self.offsets
        ci = c0[:, None] + self.offsets
        dr, dc = row[:, None] - ri, col[:, None] - ci
        wr, wc = self.kernel(dr), self.kernel(dc)
        idx = ri[:, :, None] * self.width + ci[:, None, :]
        vv = self.v[idx]
        fv = self.fv[idx]
        ev = self.ev[idx]
        w = wr[:, :, None] * wc[:, None, :]
        wv = w * vv
        den = wv.sum(axis=(1, 2))
        absw = np.abs(w).sum(axis=(1, 2))
        coverage = np.abs(wv).sum(axis=(1, 2)) / np.maximum(absw, 1e-300)
        safe = np.where(np.abs(den) > 1e-6, den, 1.0)
        num = (wv * fv).sum(axis=(1, 2))
        value = num / safe
        if self.correlated:
            var = (wv * ev).sum(axis=(1, 2)) / safe
        else:
            var = (wv * w * ev).sum(axis=(1, 2)) / safe**2
        if not gradient:
            return value, var, coverage
        wdx = wr[:, :, None] * _lanczos3_derivative(dc)[:, None, :] * vv
        wdy = _lanczos3_derivative(dr)[:, :, None] * wc[:, None, :] * vv
        sdx, sdy = wdx.sum(axis=(1, 2)), wdy.sum(axis=(1, 2))
        if self.gradient_smoothing > 0:
            gfv = self.gfv[idx]
            gnum = (wv * gfv).sum(axis=(1, 2))
            gx = ((wdx * gfv).sum(axis=(1, 2)) * safe - gnum * sdx) / safe**2
            gy = ((wdy * gfv).sum(axis=(1, 2)) * safe - gnum * sdy) / safe**2
            # White noise smoothed by a Gaussian of sigma s has gradients of variance
            # var / (2 s^2) along each axis, uncorrelated between the axes.
            gv = (wv * self.gev[idx]).sum(axis=(1, 2)) / safe / (2 * self.gradient_smoothing**2)
            gvar = np.stack([gv, gv, np.zeros_like(gv)], axis=1)
            return value, var, coverage, gx, gy, gvar
        gx = ((wdx * fv).sum(axis=(1, 2)) * safe - num * sdx) / safe**2
        gy = ((wdy * fv).sum(axis=(1, 2)) * safe - num * sdy) / safe**2
        # Noise covariance of the gradient: the weights of the flux in gx are
        # (wdx - w sdx / den) / den; sdx is about zero inside a fully covered map.
        ax = (wdx - wv * (sdx / safe)[:, None, None]) / safe[:, None, None]
        ay = (wdy - wv * (sdy / safe)[:, None, None]) / safe[:, None, None]
        gvar = np.stack([(ax * ax * ev).sum(axis=(1, 2)), (ay * ay * ev).sum(axis=(1, 2)),
                         (ax * ay * ev).sum(axis=(1, 2))], axis=1)
        return value, var, coverage, gx, gy, gvar


# ----------------------------------------------------------------------------------------------
# Line pairs and the chi-square
# ----------------------------------------------------------------------------------------------


@dataclass
class _Pair:
    """One PA line map against one reference line map, on the reference map's pixels."""

    pa_line: str
    ref_line: str
    interp: _Interpolator
    u: np.ndarray          # reference-frame coordinates of the pixels used, pixels
    v: np.ndarray
    ref: np.ndarray        # reference values there
    ref_var: np.ndarray    # and their variances
    use: np.ndarray = field(default=None)  # pixels (of u, v) kept in the fit


def _make_pair(pa_map, ref_map, mask, settings: AlignmentSettings, smooth: float,
               gradient_smoothing: float = 0.0) -> _Pair | None:
    """A :class:`_Pair` of two :class:`~ohmap.extract.LineMap` over the reference pixels
    ``mask``, both maps smoothed by a Gaussian of sigma ``smooth`` pixels first (see
    :class:`_Interpolator` for ``gradient_smoothing``)."""
    pa_flux, pa_err = smooth_map(pa_map.flux, pa_map.error, pa_map.valid, smooth)
    ref_flux, ref_err = smooth_map(ref_map.flux, ref_map.error, ref_map.valid, smooth)
    sel = mask & np.isfinite(ref_err)
    if settings.min_pixel_snr > 0:
        sel &= ref_flux > settings.min_pixel_snr * ref_err
    if sel.sum() < 10:
        return None
    x, y = frame_coordinates(ref_flux.shape, ref_map.x_phase)
    interp = _Interpolator(pa_flux, pa_err, np.isfinite(pa_err), pa_map.x_phase, correlated=smooth > 0,
                           gradient_smoothing=gradient_smoothing)
    return _Pair(pa_map.line, ref_map.line, interp, x[sel], y[sel], ref_flux[sel], ref_err[sel] ** 2)


def _solve_scale(p, p_var, t, t_var):
    """Scale ``c`` and offset ``b`` of ``p = c t + b`` by weighted least squares with the
    effective variance ``p_var + c^2 t_var`` (fixed-point passes from ``c = 0``), and the
    weights ``1 / (p_var + c^2 t_var)``."""
    c = b = 0.0
    for _ in range(3):
        w = 1.0 / (p_var + c * c * t_var)
        sw, swt, swp = w.sum(), (w * t).sum(), (w * p).sum()
        stt, stp = (w * t * t).sum() - swt**2 / sw, (w * t * p).sum() - swt * swp / sw
        c = stp / stt if stt > 0 else 0.0
        b = (swp - c * swt) / sw
    return c, b, 1.0 / (p_var + c * c * t_var)


_DEG = np.pi / 180.0
#: Smoothing (sigma, pixels) of the maps whose gradients enter the Fisher matrix.
_GRADIENT_SMOOTHING = 1.0


@dataclass
class _Terms:
    """Chi-square terms of one pair at one transform (see :func:`_pair_terms`)."""

    r: np.ndarray            # normalised residuals, 0 for pixels left out
    jac: np.ndarray | None   # d r / d (shift_x, shift_y, rotation deg), scale and offset profiled
    noise_info: np.ndarray | None  # the part of jac^T jac that the data's noise contributes
    value: np.ndarray        # interpolated PA values
    var: np.ndarray          # and variances
    ok: np.ndarray           # pixels used


def _pair_terms(pair: _Pair, rotation: float, sx: float, sy: float, jacobian: bool = False) -> _Terms:
    """Normalised residuals of one pair at a transform and, with ``jacobian``, their Jacobian."""
    xs, ys = FrameTransform(rotation, sx, sy).target_to_source(pair.u, pair.v)
    out = pair.interp(xs, ys, gradient=jacobian)
    value, var, coverage = out[:3]
    use = pair.use if pair.use is not None else coverage > 0.999
    # A pixel that loses its data during the fit contributes a zero residual rather than
    # leaving the vector, so that chi-squares at different transforms stay comparable.
    ok = use & (coverage > 0.5) & (var > 0)
    r = np.zeros(pair.u.size)
    jac = np.zeros((pair.u.size, 3)) if jacobian else None
    info = np.zeros((3, 3)) if jacobian else None
    if ok.sum() < 10:
        return _Terms(r, jac, info, value, var, ok)
    t, t_var = pair.ref[ok], pair.ref_var[ok]
    c, b, w = _solve_scale(value[ok], var[ok], t, t_var)
    sw = np.sqrt(w)
    r[ok] = (value[ok] - c * t - b) * sw
    if jacobian:
        gx, gy, gvar = out[3][ok], out[4][ok], out[5][ok]
        # d(source point)/d(parameters): the shifts move it directly; the rotation turns the
        # target point about the frame origin.
        ax, ay = (ys[ok] - sy) * _DEG, -(xs[ok] - sx) * _DEG
        g = np.stack([gx, gy, gx * ax + gy * ay], axis=1) * sw[:, None]
        # Variable projection (Kaufman): the scale and offset re-adjust at every step, so the
        # Jacobian is the part of d(residual) orthogonal to their columns.
        a = np.stack([t * sw, sw], axis=1)
        coef, *_ = np.linalg.lstsq(a, g, rcond=None)
        jac[ok] = g - a @ coef
        # The map's gradient is measured with noise, and that noise adds to jac^T jac on
        # average by sum w A cov(gx, gy) A^T; subtracting it leaves an unbiased Fisher matrix.
        vx, vy, cxy = gvar[:, 0] * w, gvar[:, 1] * w, gvar[:, 2] * w
        info = np.array([
            [vx.sum(), cxy.sum(), (vx * ax + cxy * ay).sum()],
            [cxy.sum(), vy.sum(), (cxy * ax + vy * ay).sum()],
            [(vx * ax + cxy * ay).sum(), (cxy * ax + vy * ay).sum(),
             (vx * ax * ax + 2 * cxy * ax * ay + vy * ay * ay).sum()],
        ])
    return _Terms(r, jac, info, value, var, ok)


def _chi_terms(pairs, rotation0, params, prior_deg: float = 0.0, jacobian=False):
    """Residual vector (and Jacobian) of all pairs, with the rotation prior's term last."""
    sx, sy, drot = params
    terms = [_pair_terms(p, rotation0 + drot, sx, sy, jacobian) for p in pairs]
    r = [t.r for t in terms]
    jac = [t.jac for t in terms] if jacobian else None
    if prior_deg > 0:
        r.append(np.array([drot / prior_deg]))
        if jacobian:
            jac.append(np.array([[0.0, 0.0, 1.0 / prior_deg]]))
    return np.concatenate(r), (np.concatenate(jac) if jacobian else None)


def _gauss_newton(pairs, rotation0, start, lower, upper, prior_deg: float, max_iter: int = 40):
    """Levenberg-Marquardt minimisation of the chi-square within bounds (analytic Jacobian).

    Returns
    -------
    params : ndarray
        (shift_x, shift_y, rotation correction).
    chi2 : float
    """
    p = np.clip(np.asarray(start, dtype=float), lower, upper)
    r, jac = _chi_terms(pairs, rotation0, p, prior_deg, jacobian=True)
    chi2 = float(r @ r)
    lam = 1e-3
    for _ in range(max_iter):
        h = jac.T @ jac
        g = jac.T @ r
        diag = np.diag(h).copy()
        diag[diag <= 0] = 1.0
        improved = False
        for _ in range(8):
            try:
                step = -np.linalg.solve(h + lam * np.diag(diag), g)
            except np.linalg.LinAlgError:
                lam *= 10.0
                continue
            trial = np.clip(p + step, lower, upper)
            r_t, jac_t = _chi_terms(pairs, rotation0, trial, prior_deg, jacobian=True)
            chi2_t = float(r_t @ r_t)
            if chi2_t <= chi2:
                moved = np.abs(trial - p)
                p, r, jac, chi2 = trial, r_t, jac_t, chi2_t
                lam = max(lam / 10.0, 1e-7)
                improved = True
                break
            lam *= 10.0
        if not improved or (moved[:2].max() < 1e-4 and moved[2] < 1e-3):
            break
    return p, chi2


def _information(pairs, rotation0, params):
    """Fisher matrix of (shift_x, shift_y, rotation correction) from the pairs at ``params``,
    without the prior, scaled down by the reduced chi-square when that exceeds 1 (mismatched
    morphologies and imperfect maps scatter more than their error maps say)."""
    sx, sy, drot = params
    info = np.zeros((3, 3))
    chi2, n = 0.0, 0
    for p in pairs:
        t = _pair_terms(p, rotation0 + drot, sx, sy, jacobian=True)
        info += t.jac.T @ t.jac - t.noise_info
        chi2 += float(t.r @ t.r)
        n += int(t.ok.sum()) - 2
    return info / max(chi2 / max(n - 3, 1), 1.0)


def _errors(info) -> np.ndarray:
    """1-sigma errors from a Fisher matrix; ``inf`` where the information is not positive
    definite (too little signal once the noise's share is taken out)."""
    try:
        if np.all(np.linalg.eigvalsh(info) > 0):
            return np.sqrt(np.diag(np.linalg.inv(info)))
    except np.linalg.LinAlgError:
        pass
    return np.full(info.shape[0], np.inf)


def _fit(pairs, coarse_pairs, rotation0: float, settings: AlignmentSettings, start=None,
         fix_rotation: bool = False):
    """Best (shift_x, shift_y, rotation correction) and the final chi-square: a coarse grid
    over the shifts at the nominal rotation (unless ``start`` is given), then
    Levenberg-Marquardt from the best node."""
    s = settings.max_shift_pixels
    prior = 0.0 if fix_rotation else (settings.rotation_prior_deg or 0.0)
    lower = np.array([-s, -s, 0.0 if fix_rotation else -settings.max_rotation_deg])
    upper = np.array([s, s, 0.0 if fix_rotation else settings.max_rotation_deg])
    if start is not None:
        return _gauss_newton(pairs, rotation0, start, lower, upper, prior)
    step = max(settings.search_step_pixels, 1e-3)
    n = int(np.floor(s / step))
    grid = step * np.arange(-n, n + 1)
    # Fix the pixel sets at the nominal transform so that every trial sees the same pixels.
    for p in list(pairs) + list(coarse_pairs):
        p.use = None
        p.use = _pair_terms(p, rotation0, 0.0, 0.0).ok
    chi = {}
    for dx in grid:
        for dy in grid:
            r, _ = _chi_terms(coarse_pairs, rotation0, (dx, dy, 0.0))
            chi[(dx, dy)] = float(r @ r)
    # Start from the best grid node, and from the best one not next to it when that is almost
    # as good (a second valley), and keep the better fit.
    order = sorted(chi, key=chi.get)
    starts = [order[0]]
    for k in order[1:]:
        if max(abs(k[0] - order[0][0]), abs(k[1] - order[0][1])) > 1.5 * step:
            if chi[k] < chi[order[0]] + 9.0:
                starts.append(k)
            break
    best = None
    for dx, dy in starts:
        fit = _gauss_newton(pairs, rotation0, (dx, dy, 0.0), lower, upper, prior)
        if best is None or fit[1] < best[1]:
            best = fit
    return best


def _pair_statistics(pair: _Pair, rotation: float, sx: float, sy: float):
    """Eq. 1 NCCF and the noise-limited NCCF of a pair at a transform."""
    t = _pair_terms(pair, rotation, sx, sy)
    if t.ok.sum() < 10:
        return np.nan, 0.0
    return (nccf(pair.ref, t.value, t.ok),
            expected_nccf(pair.ref, np.sqrt(pair.ref_var), t.ok, t.value, np.sqrt(np.maximum(t.var, 0.0))))


@dataclass
class _Fit:
    transform: FrameTransform
    nccf: float
    expected: float
    errors: tuple
    chi2: float
    rotation_fixed: bool = False


def _fit_pairs(pairs, coarse_pairs, raw_pairs, rotation0: float, settings: AlignmentSettings) -> _Fit:
    """Fit a transform to the line pairs (the first is the primary one, whose NCCF is reported).

    ``pairs`` are fitted, ``coarse_pairs`` (more smoothed) start the fit and ``raw_pairs``
    (unsmoothed, independent pixels) give the parameters' errors. The rotation correction is
    kept only when the data alone measure it to ``max_rotation_error_deg``; otherwise it is
    set to 0 (the nominal angle) and the shifts refitted: a rotation measured worse than that
    is more likely to add error than to remove it (the roll angle is known to about a degree).
    """
    p, chi2 = _fit(pairs, coarse_pairs, rotation0, settings)
    for q in raw_pairs:
        q.use = None
    info = _information(raw_pairs, rotation0, p)
    errors = _errors(info)
    rotation_error = float(errors[2])
    fixed = not rotation_error <= settings.max_rotation_error_deg
    if fixed:
        p, chi2 = _fit(pairs, coarse_pairs, rotation0, settings, start=(p[0], p[1], 0.0), fix_rotation=True)
        info = _information(raw_pairs, rotation0, p)
        errors = np.append(_errors(info[:2, :2]), np.nan)
        # What the data alone say about the rotation, for the record.
        rotation_error = float(_errors(info)[2])
    t = FrameTransform(rotation0 + float(p[2]), float(p[0]), float(p[1]))
    value, expected = _pair_statistics(pairs[0], t.rotation_deg, t.shift_x, t.shift_y)
    return _Fit(t, value, expected, (float(errors[0]), float(errors[1]), rotation_error), chi2, fixed)


def _build_pairs(maps, mask, settings: AlignmentSettings):
    """Pairs to fit, to start the fit from and to take the errors from (see :func:`_fit_pairs`)
    for a list of (PA map, reference map); ``None`` if the first has too few pixels."""
    fitted, coarse, raw = [], [], []
    for pa_m, ref_m in maps:
        pair = _make_pair(pa_m, ref_m, mask, settings, settings.smooth_pixels)
        if pair is None:
            continue
        fitted.append(pair)
        coarse.append(_make_pair(pa_m, ref_m, mask, settings, settings.search_smooth_pixels) or pair)
        raw.append(_make_pair(pa_m, ref_m, mask, settings, 0.0, _GRADIENT_SMOOTHING) or pair)
    if not fitted or fitted[0].pa_line != maps[0][0].line:
        return None
    return fitted, coarse, raw


def _map_like(line, flux, error, valid, x_phase):
    """Minimal stand-in for a :class:`~ohmap.extract.LineMap` (for :func:`fit_alignment`)."""

    class _M:
        pass

    m = _M()
    m.line, m.flux, m.error, m.x_phase = line, np.asarray(flux, float), np.asarray(error, float), x_phase
    m.valid = np.asarray(valid, bool) & np.isfinite(m.error)
    return m


def fit_alignment(pa_map, pa_error, pa_valid, pa_phase, ref_map, ref_error, ref_valid, ref_phase,
                  mask, rotation0: float, settings: AlignmentSettings) -> tuple[FrameTransform, float, float]:
    """Shifts and rotation correction of one map pair (the fit :func:`align_extraction` makes).

    Parameters
    ----------
    pa_map, pa_error, pa_valid, pa_phase
        The PA's map and its 1-sigma error (same units), its validity mask and its sub-pixel
        phase (pixels).
    ref_map, ref_error, ref_valid, ref_phase
        The same for the reference map.
    mask : ndarray of bool
        Reference-map pixels to correlate over (the reference footprint).
    rotation0 : float
        Nominal rotation from the PA to the reference frame, degrees.

    Returns
    -------
    transform : FrameTransform
    nccf : float
        Eq. 1 at the optimum.
    expected : float
        Noise-limited NCCF of the pair over the same pixels.
    """
    pa = _map_like("pa", pa_map, pa_error, pa_valid, pa_phase)
    ref = _map_like("ref", ref_map, ref_error, ref_valid, ref_phase)
    built = _build_pairs([(pa, ref)], mask, settings)
    if built is None:
        return FrameTransform(rotation0, 0.0, 0.0), np.nan, 0.0
    fit = _fit_pairs(*built, rotation0, settings)
    return fit.transform, fit.nccf, fit.expected


# ----------------------------------------------------------------------------------------------
# Driver
# ----------------------------------------------------------------------------------------------


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
    return max(pa_maps, key=lambda n: _snr(pa_maps[n])), max(ref_maps, key=lambda n: _snr(ref_maps[n]))


def alignment_pairs(pa_maps: dict, ref_maps: dict, settings: AlignmentSettings) -> list[tuple[str, str]]:
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
    for n in (common if line == ref_line else pa_maps):
        other = n if line == ref_line else ref_line
        if (n, other) in pairs:
            continue
        if min(_snr(pa_maps[n]), _snr(ref_maps[other])) > settings.min_line_snr:
            pairs.append((n, other))
    return pairs


def align_extraction(extraction, reference, settings: AlignmentSettings) -> AlignmentResult:
    """Alignment of one PA-grism's maps to the reference PA's (both :class:`Extraction`).

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
        return AlignmentResult(identity, rotation0, np.nan, np.nan, "nominal: no line map to align on",
                               "", "")
    line, ref_line = names[0]
    same = (extraction.pa == reference.pa and extraction.grism == reference.grism)
    if same:
        return AlignmentResult(identity, rotation0, 1.0, 1.0, "reference", line, ref_line)
    snr = min(_snr(extraction.maps[line]), _snr(reference.maps[ref_line]))
    if not snr > settings.min_line_snr:
        return AlignmentResult(identity, rotation0, np.nan, 0.0,
                               f"nominal: too faint to align (line S/N {snr:.1f} < {settings.min_line_snr:g})",
                               line, ref_line)
    built = _build_pairs([(extraction.maps[a], reference.maps[b]) for a, b in names],
                         reference.footprint, settings)
    if built is None or built[0][0].pa_line != line:
        return AlignmentResult(identity, rotation0, np.nan, 0.0,
                               "nominal: too few footprint pixels with data to align on", line, ref_line)
    pairs = built[0]
    fit = _fit_pairs(*built, rotation0, settings)
    transform, value, expected = fit.transform, fit.nccf, fit.expected
    used = tuple(f"{p.pa_line}/{p.ref_line}" for p in pairs)
    errs = dict(lines=used, shift_x_error=fit.errors[0], shift_y_error=fit.errors[1],
                rotation_error_deg=fit.errors[2], rotation_fixed=fit.rotation_fixed)
    max_err = max(fit.errors[0], fit.errors[1])
    if expected < settings.min_expected_nccf or not max_err <= settings.max_shift_error_pixels:
        why = (f"noise-limited NCCF {expected:.2f}" if expected < settings.min_expected_nccf
               else f"shift error {max_err:.2f} px")
        return AlignmentResult(identity, rotation0, value, expected, f"nominal: too faint to align ({why})",
                               line, ref_line, **errs)
    at_bound = (max(abs(transform.shift_x), abs(transform.shift_y)) > 0.98 * settings.max_shift_pixels
                or abs(transform.rotation_deg - rotation0) > 0.98 * settings.max_rotation_deg)
    if at_bound:
        status = "poor: a parameter reached its bound"
    elif not np.isfinite(value) or value < settings.min_nccf_ratio * expected:
        status = f"poor: NCCF {value:.2f} below {settings.min_nccf_ratio:g} x noise-limited {expected:.2f}"
    else:
        status = "fitted"
    return AlignmentResult(transform, rotation0, value, expected, status, line, ref_line, **errs)
