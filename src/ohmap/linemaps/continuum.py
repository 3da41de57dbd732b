"""Contamination and continuum removal before the line maps are cut out.

The contamination model is subtracted everywhere and its uncertainty joins every pixel's error
(:func:`contamination_model_variance`); the galaxy's own continuum model is rescaled, linearly
in column, to the observed level in line-free windows beside each group of lines
(:func:`continuum_windows`, :func:`fit_continuum_scale`).
"""

from __future__ import annotations

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
