"""Contamination and continuum removal before the line maps are cut out.

The contamination model is subtracted everywhere and its uncertainty joins every pixel's error
(:func:`contamination_model_variance`); the galaxy's own continuum model is rescaled, linearly
in column, to the observed level in line-free windows beside each group of lines
(:func:`continuum_windows`, :func:`fit_continuum_scale`).

A spectrum without a continuum model (``meta['has_continuum_model']`` False: a grizli beams file
of the 2020 layout, which has no ``MODEL``) must not be treated as having a zero continuum, which
would leave the galaxy's own continuum in every line map. Its continuum is instead fitted in the
same windows, row by row, by a straight line in wavelength (a constant where a row has data on one
side only), and its uncertainty is propagated: per pixel into the error maps and, since each row's
fit is shared by all the columns of that row, exactly into integrated fluxes
(:class:`WindowContinuum`, :func:`fit_window_continuum`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .footprint import footprint_extent


def continuum_windows(columns, footprint, nx, other_columns, settings):
    """Columns of the left and right line-free windows of a group of lines at ``columns``."""
    left, right = footprint_extent(footprint)
    gap, width = settings.window_gap_pixels, settings.continuum_window_pixels
    lo = min(columns) + left - gap
    hi = max(columns) + right + gap
    wins = (
        np.arange(int(np.floor(lo)) - width + 1, int(np.floor(lo)) + 1),
        np.arange(int(np.ceil(hi)), int(np.ceil(hi)) + width),
    )
    busy = np.zeros(nx, dtype=bool)
    for c in other_columns:
        a, b = int(np.floor(c + left - gap)), int(np.ceil(c + right + gap))
        busy[max(a, 0) : max(min(b + 1, nx), 0)] = True
    out = []
    for w in wins:
        w = w[(w >= 0) & (w < nx)]
        out.append(w[~busy[w]])
    return out


def fit_continuum_scale(
    data, error, model, windows, rows, centre: float, prior_width: float
) -> dict:
    """Scale of the continuum model, linear in column, fitted in the line-free windows.

    The scale has a Gaussian prior of mean 1 and width ``prior_width`` (and its slope one of
    mean 0 and width ``prior_width`` per window half-span), so a faint continuum, whose level
    the windows barely measure, keeps the model's own level instead of a noisy rescaling.

    Parameters
    ----------
    data, error, model : ndarray
        Contamination-subtracted spectrum, its error and the continuum model (flux density).
    windows : list of ndarray
        Column indices of the windows.
    rows : ndarray of bool
        Rows to use (those of the footprint).
    centre : float
        Column about which the linear scale is expanded.
    prior_width : float
        Prior width of the scale (fractional).

    Returns
    -------
    dict
        ``a``, ``b`` (scale ``a + b (column - centre)``), their covariance ``cov`` and the
        residual statistics ``n_window_pixels``, ``residual_mean_sigma``, ``residual_std``,
        ``residual_z``.
    """
    sides = sum(1 for w in windows if w.size)
    cols = np.concatenate(windows) if sides else np.array([], dtype=int)
    span = max(float(np.max(np.abs(cols - centre))), 1.0) if cols.size else 1.0
    precision = np.diag([1.0 / prior_width**2, (span / prior_width) ** 2])
    rhs = np.array([1.0 / prior_width**2, 0.0])
    out = dict(
        n_window_pixels=0,
        window_sides=sides,
        residual_mean_sigma=np.nan,
        residual_std=np.nan,
        residual_z=np.nan,
    )
    if cols.size:
        d = data[np.ix_(rows, cols)]
        e = error[np.ix_(rows, cols)]
        m = model[np.ix_(rows, cols)]
        ok = np.isfinite(e)
        dc = np.broadcast_to(cols[None, :] - centre, ok.shape)[ok]
        d, e, m = d[ok], e[ok], m[ok]
        w = 1.0 / e**2
        design = np.stack([m, m * dc], axis=1)
        precision = precision + design.T @ (design * w[:, None])
        rhs = rhs + design.T @ (d * w)
    cov = np.linalg.inv(precision)
    a, b = cov @ rhs
    out.update(a=float(a), b=float(b), cov=cov)
    if cols.size:
        resid = (d - m * (a + b * dc)) / e
        n = resid.size
        out["n_window_pixels"] = int(n)
        if n > 1:
            out["residual_mean_sigma"] = float(resid.mean())
            out["residual_std"] = float(resid.std(ddof=1))
            out["residual_z"] = float(resid.mean() * np.sqrt(n) / max(resid.std(ddof=1), 1e-12))
    return out


def contamination_model_variance(contamination, fraction: float, trace_pixels: float):
    """Variance that an uncertain contamination model leaves in each pixel after subtraction.

    A model off by a fraction ``f`` in flux leaves ``f C``; one displaced by ``dy`` pixels
    across the dispersion leaves about ``dy dC/dy``. With independent Gaussian uncertainties of
    these sizes the residual's variance is ``(f C)^2 + (dy dC/dy)^2``.

    Parameters
    ----------
    contamination : ndarray
        Contamination model, rows across the dispersion (any flux unit).
    fraction : float
        1-sigma fractional uncertainty of the model's flux.
    trace_pixels : float
        1-sigma uncertainty of its position across the dispersion, pixels.

    Returns
    -------
    ndarray
        Variance per pixel, in the model's unit squared.
    """
    c = np.asarray(contamination, dtype=float)
    variance = (fraction * c) ** 2
    if trace_pixels > 0 and c.shape[0] > 1:
        gradient = np.gradient(c, axis=0)
        if c.shape[0] > 4:
            # Fourth-order central differences: a trace barely wider than the PSF is steep on
            # the pixel scale, and the second-order ones underestimate its slope by ~20%.
            gradient[2:-2] = (c[:-4] - 8 * c[1:-3] + 8 * c[3:-1] - c[4:]) / 12.0
        variance = variance + (trace_pixels * gradient) ** 2
    return variance


#: Fewest data pixels on each side of a group that a row needs for a sloped fit; rows with fewer
#: on one side get a constant, rows with no window pixel at all get no continuum (no data).
MIN_SIDE_PIXELS = 3


@dataclass
class WindowContinuum:
    """Per-row continuum fitted in the line-free windows of one group of lines (no model).

    Row ``i`` has ``c_i(lambda) = coef[i] . (1, u)`` with ``u = (lambda - centre) / half_span``,
    in flux density (1e-17 erg/s/cm^2/Angstrom per pixel).

    Attributes
    ----------
    coef : ndarray
        ``(ny, 2)`` coefficients; NaN for rows without any window pixel with data.
    cov : ndarray
        ``(ny, 2, 2)`` their covariance (zero slope terms for the rows fitted by a constant).
    centre, half_span : float
        Wavelength (Angstrom) about which, and scale by which, ``u`` is taken.
    wavelength : ndarray
        Wavelength of every column.
    order : ndarray
        ``(ny,)`` 1 (line), 0 (constant) or -1 (no fit) per row.
    """

    coef: np.ndarray
    cov: np.ndarray
    centre: float
    half_span: float
    wavelength: np.ndarray
    order: np.ndarray

    def basis(self, cols) -> np.ndarray:
        """``(2, n)`` basis ``(1, u)`` at the columns ``cols``."""
        u = (self.wavelength[np.asarray(cols)] - self.centre) / self.half_span
        return np.stack([np.ones(u.size), u])

    def evaluate(self, cols):
        """Continuum and its variance, ``(ny, len(cols))`` each (NaN and inf for unfitted rows)."""
        b = self.basis(cols)
        value = self.coef @ b
        var = np.einsum("ik,nij,jk->nk", b, self.cov, b)
        bad = self.order < 0
        value[bad] = np.nan
        var[bad] = np.inf
        return value, var

    def extra_sum_variance(self, mask, dlam) -> float:
        """What the fits' correlation adds to the variance of a sum over pixels ``mask``.

        The error maps hold each pixel's own continuum variance; a sum over several columns of
        one row shares that row's fit, so its variance is ``s^T C s`` with ``s`` the summed basis
        (times the pixel widths ``dlam``, for line flux), larger than the sum of the diagonal
        terms by what this returns. Rows are independent (separate fits of separate pixels).
        """
        mask = np.asarray(mask, dtype=bool)
        ok = self.order >= 0
        rows = np.nonzero(mask.any(axis=1) & ok)[0]
        if rows.size == 0:
            return 0.0
        b = self.basis(np.arange(mask.shape[1])) * np.asarray(dlam)[None, :]
        weights = mask[rows].astype(float)
        summed = weights @ b.T  # (rows, 2): sum of the basis over each row's pixels
        full = np.einsum("ri,rij,rj->r", summed, self.cov[rows], summed)
        diagonal = np.einsum("rk,ik,rij,jk->r", weights, b, self.cov[rows], b)
        return float(np.sum(full - diagonal))


def fit_window_continuum(data, error, wavelength, windows, centre: float) -> WindowContinuum:
    """Fit each row's continuum in the windows beside a group of lines, without a model.

    Parameters
    ----------
    data, error : ndarray
        Contamination-subtracted spectrum and its error (flux density, ``inf`` = no data).
    wavelength : ndarray
        Wavelength of every column, Angstrom.
    windows : list of ndarray
        Column indices of the left and right windows (:func:`continuum_windows`).
    centre : float
        Wavelength about which the line is expanded (the group's centre), Angstrom.

    Returns
    -------
    WindowContinuum
        A straight line in wavelength for the rows with at least :data:`MIN_SIDE_PIXELS` data
        pixels in each window, a constant for the other rows with window data (a weighted mean),
        nothing (``order -1``) for rows without; weighted least squares with the pixel errors.
    """
    ny = data.shape[0]
    sides = [np.asarray(w, dtype=int) for w in windows if np.size(w)]
    cols = np.concatenate(sides) if sides else np.array([], dtype=int)
    wavelength = np.asarray(wavelength, dtype=float)
    span = float(np.max(np.abs(wavelength[cols] - centre))) if cols.size else 1.0
    span = span if span > 0 else 1.0
    coef = np.full((ny, 2), np.nan)
    cov = np.zeros((ny, 2, 2))
    order = np.full(ny, -1)
    for i in range(ny):
        counts = [int(np.isfinite(error[i, w]).sum()) for w in sides]
        if not counts or sum(counts) == 0:
            continue
        ok = np.isfinite(error[i, cols])
        c = cols[ok]
        w = 1.0 / error[i, c] ** 2
        u = (wavelength[c] - centre) / span
        sloped = len(counts) == 2 and min(counts) >= MIN_SIDE_PIXELS
        design = np.stack([np.ones(c.size), u], axis=1)[:, : 2 if sloped else 1]
        precision = design.T @ (design * w[:, None])
        inv = np.linalg.inv(precision)
        k = design.shape[1]
        coef[i] = 0.0
        coef[i, :k] = inv @ (design.T @ (data[i, c] * w))
        cov[i, :k, :k] = inv
        order[i] = k - 1
    return WindowContinuum(coef, cov, float(centre), span, wavelength, order)


def window_residuals(data, error, fit: WindowContinuum, windows, rows) -> dict:
    """Residual statistics of a :class:`WindowContinuum` in its windows, over ``rows``.

    The per-row fit has a constant term, so the mean residual is zero by construction; the
    scatter, taken with the fitted parameters' degrees of freedom removed, is what tells whether
    a straight line describes the continuum and the noise is as stated.
    """
    sides = [np.asarray(w, dtype=int) for w in windows if np.size(w)]
    out = dict(
        n_window_pixels=0,
        window_sides=len(sides),
        residual_mean_sigma=np.nan,
        residual_std=np.nan,
        residual_z=np.nan,
    )
    if not sides:
        return out
    cols = np.concatenate(sides)
    use = np.nonzero(np.asarray(rows, dtype=bool) & (fit.order >= 0))[0]
    value, _ = fit.evaluate(cols)
    err = error[np.ix_(use, cols)]
    resid = ((data[np.ix_(use, cols)] - value[use]) / err)[np.isfinite(err)]
    n = resid.size
    dof = n - int(np.sum(fit.order[use] + 1))
    out["n_window_pixels"] = int(n)
    if n > 1 and dof > 0:
        mean = float(resid.mean())
        std = float(np.sqrt(np.sum(resid**2) / dof))
        out.update(
            residual_mean_sigma=mean,
            residual_std=std,
            residual_z=float(mean * np.sqrt(n) / max(std, 1e-12)),
        )
    return out
