"""Lanczos-3 interpolation of a map at arbitrary positions, with its variance and derivatives.

The alignment interpolates a PA's map at the positions of the reference map's pixels under a
trial transform; the interpolated values carry their propagated variance and their derivatives
with respect to the position (for the Jacobian of the fit).
"""

from __future__ import annotations

import numpy as np

from ohmap.resample import KERNELS

from .nccf import smooth_map


def _lanczos3_derivative(d):
    """Derivative of the Lanczos-3 kernel ``sinc(d) sinc(d/3)`` with respect to ``d``."""
    d = np.asarray(d, dtype=float)

    def dsinc(x):
        out = np.zeros_like(x)
        nz = np.abs(x) > 1e-8
        out[nz] = (np.cos(np.pi * x[nz]) - np.sinc(x[nz])) / x[nz]
        return out

    return np.where(
        np.abs(d) < 3, dsinc(d) * np.sinc(d / 3.0) + np.sinc(d) * dsinc(d / 3.0) / 3.0, 0.0
    )


class Interpolator:
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

    def __init__(
        self,
        flux,
        error,
        valid,
        x_phase: float,
        correlated: bool = False,
        gradient_smoothing: float = 0.0,
    ):
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
        lo, hi_r, hi_c = (
            self.half,
            n + 2 * self.pad - self.half - 1,
            m + 2 * self.pad - self.half - 1,
        )
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
        gvar = np.stack(
            [
                (ax * ax * ev).sum(axis=(1, 2)),
                (ay * ay * ev).sum(axis=(1, 2)),
                (ax * ay * ev).sum(axis=(1, 2)),
            ],
            axis=1,
        )
        return value, var, coverage, gx, gy, gvar
