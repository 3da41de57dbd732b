"""The alignment fit: shifts and rotation that bring a PA's line maps onto the reference's.

A chi-square over the line pairs the PA shares with the reference, with each pixel's
propagated variance; per pair a scale and an offset solved linearly at every trial transform;
a coarse grid over the shifts and a bounded Gauss-Newton fit; errors from the Fisher matrix
(see :mod:`ohmap.linemaps.align` for the method and its reasons).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ohmap.resample import FrameTransform, frame_coordinates

from .interpolation import Interpolator
from .nccf import expected_nccf, nccf, smooth_map
from .settings import AlignmentSettings


@dataclass
class _Pair:
    """One PA line map against one reference line map, on the reference map's pixels."""

    pa_line: str
    ref_line: str
    interp: Interpolator
    u: np.ndarray  # reference-frame coordinates of the pixels used, pixels
    v: np.ndarray
    ref: np.ndarray  # reference values there
    ref_var: np.ndarray  # and their variances
    use: np.ndarray = field(default=None)  # pixels (of u, v) kept in the fit


def _make_pair(
    pa_map,
    ref_map,
    mask,
    settings: AlignmentSettings,
    smooth: float,
    gradient_smoothing: float = 0.0,
) -> _Pair | None:
    """A :class:`_Pair` of two :class:`~ohmap.linemaps.maps.LineMap` over the reference pixels
    ``mask``, both maps smoothed by a Gaussian of sigma ``smooth`` pixels first (see
    :class:`~ohmap.linemaps.interpolation.Interpolator` for ``gradient_smoothing``)."""
    pa_flux, pa_err = smooth_map(pa_map.flux, pa_map.error, pa_map.valid, smooth)
    ref_flux, ref_err = smooth_map(ref_map.flux, ref_map.error, ref_map.valid, smooth)
    sel = mask & np.isfinite(ref_err)
    if settings.min_pixel_snr > 0:
        sel &= ref_flux > settings.min_pixel_snr * ref_err
    if sel.sum() < 10:
        return None
    x, y = frame_coordinates(ref_flux.shape, ref_map.x_phase)
    interp = Interpolator(
        pa_flux,
        pa_err,
        np.isfinite(pa_err),
        pa_map.x_phase,
        correlated=smooth > 0,
        gradient_smoothing=gradient_smoothing,
    )
    return _Pair(
        pa_map.line, ref_map.line, interp, x[sel], y[sel], ref_flux[sel], ref_err[sel] ** 2
    )


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

    r: np.ndarray  # normalised residuals, 0 for pixels left out
    jac: np.ndarray | None  # d r / d (shift_x, shift_y, rotation deg), scale and offset profiled
    noise_info: np.ndarray | None  # the part of jac^T jac that the data's noise contributes
    value: np.ndarray  # interpolated PA values
    var: np.ndarray  # and variances
    ok: np.ndarray  # pixels used


def _pair_terms(
    pair: _Pair, rotation: float, sx: float, sy: float, jacobian: bool = False
) -> _Terms:
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
        info = np.array(
            [
                [vx.sum(), cxy.sum(), (vx * ax + cxy * ay).sum()],
                [cxy.sum(), vy.sum(), (cxy * ax + vy * ay).sum()],
                [
                    (vx * ax + cxy * ay).sum(),
                    (cxy * ax + vy * ay).sum(),
                    (vx * ax * ax + 2 * cxy * ax * ay + vy * ay * ay).sum(),
                ],
            ]
        )
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


def _fit(
    pairs,
    coarse_pairs,
    rotation0: float,
    settings: AlignmentSettings,
    start=None,
    fix_rotation: bool = False,
):
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
    return (
        nccf(pair.ref, t.value, t.ok),
        expected_nccf(
            pair.ref, np.sqrt(pair.ref_var), t.ok, t.value, np.sqrt(np.maximum(t.var, 0.0))
        ),
    )


@dataclass
class _Fit:
    transform: FrameTransform
    nccf: float
    expected: float
    errors: tuple
    chi2: float
    rotation_fixed: bool = False


def fit_pairs(
    pairs, coarse_pairs, raw_pairs, rotation0: float, settings: AlignmentSettings
) -> _Fit:
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
        p, chi2 = _fit(
            pairs, coarse_pairs, rotation0, settings, start=(p[0], p[1], 0.0), fix_rotation=True
        )
        info = _information(raw_pairs, rotation0, p)
        errors = np.append(_errors(info[:2, :2]), np.nan)
        # What the data alone say about the rotation, for the record.
        rotation_error = float(_errors(info)[2])
    t = FrameTransform(rotation0 + float(p[2]), float(p[0]), float(p[1]))
    value, expected = _pair_statistics(pairs[0], t.rotation_deg, t.shift_x, t.shift_y)
    return _Fit(
        t, value, expected, (float(errors[0]), float(errors[1]), rotation_error), chi2, fixed
    )


def build_pairs(maps, mask, settings: AlignmentSettings):
    """Pairs to fit, to start the fit from and to take the errors from (see :func:`fit_pairs`)
    for a list of (PA map, reference map); ``None`` if the first has too few pixels."""
    fitted, coarse, raw = [], [], []
    for pa_m, ref_m in maps:
        pair = _make_pair(pa_m, ref_m, mask, settings, settings.smooth_pixels)
        if pair is None:
            continue
        fitted.append(pair)
        coarse.append(
            _make_pair(pa_m, ref_m, mask, settings, settings.search_smooth_pixels) or pair
        )
        raw.append(_make_pair(pa_m, ref_m, mask, settings, 0.0, _GRADIENT_SMOOTHING) or pair)
    if not fitted or fitted[0].pa_line != maps[0][0].line:
        return None
    return fitted, coarse, raw


def _map_like(line, flux, error, valid, x_phase):
    """Minimal stand-in for a :class:`~ohmap.linemaps.maps.LineMap` (for :func:`fit_alignment`)."""

    class _M:
        pass

    m = _M()
    m.line, m.flux, m.error, m.x_phase = (
        line,
        np.asarray(flux, float),
        np.asarray(error, float),
        x_phase,
    )
    m.valid = np.asarray(valid, bool) & np.isfinite(m.error)
    return m


def fit_alignment(
    pa_map,
    pa_error,
    pa_valid,
    pa_phase,
    ref_map,
    ref_error,
    ref_valid,
    ref_phase,
    mask,
    rotation0: float,
    settings: AlignmentSettings,
) -> tuple[FrameTransform, float, float]:
    """Shifts and rotation correction of one map pair (the fit :func:`~ohmap.linemaps.align.align_extraction` makes).

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
    built = build_pairs([(pa, ref)], mask, settings)
    if built is None:
        return FrameTransform(rotation0, 0.0, 0.0), np.nan, 0.0
    fit = fit_pairs(*built, rotation0, settings)
    return fit.transform, fit.nccf, fit.expected
