"""Noise covariance between neighbouring pixels of a stacked map.

Resampling a PA-grism map onto the reference grid (:func:`ohmap.resample.resampling_matrix`)
spreads each input pixel's noise over several output pixels, so neighbouring stacked pixels are
correlated: on the mock a 2 x 2 spaxel summed with its errors added in quadrature has its error
understated by 10-15%. The stack is linear in the input pixels,

    S_j = sum_k a_kj (R_k m_k)_j,    a_kj = w_kj / sum_k w_kj,

and the PA-grism maps are independent, so the covariance of two stacked pixels is exact:

    Cov(S_j, S_j') = sum_k a_kj a_kj' sum_i R_k[j, i] R_k[j', i] sigma_ki^2.

:func:`neighbour_covariance` evaluates it for the lags in :data:`NEIGHBOUR_LAGS`, which are all
the pairs inside a 2 x 2 block: with them, a 2 x 2 spaxel's variance is exact
(:func:`ohmap.inference.spaxels.bin_map`).
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

#: (dy, dx) of the partner pixel: right, up, up-right, up-left.
NEIGHBOUR_LAGS = ((0, 1), (1, 0), (1, 1), (1, -1))


def neighbour_covariance(resampled, wsum, shape) -> dict:
    """Covariance of each stacked pixel with its neighbour at every lag of
    :data:`NEIGHBOUR_LAGS`.

    Parameters
    ----------
    resampled : list of tuple
        ``(matrix, error, w)`` per input map: its resampling matrix (output x input pixels),
        its 1-sigma error map (non-finite: no data) and its inverse-variance weight on the
        output grid.
    wsum : ndarray
        Sum of the weights, output grid.
    shape : tuple of int
        Output grid shape.

    Returns
    -------
    dict
        Lag -> map of ``Cov(S[y, x], S[y + dy, x + dx])`` (flux units squared; 0 where either
        pixel has no data or the partner is off the grid).
    """
    ny, nx = shape
    has = wsum > 0
    y, x = np.divmod(np.arange(ny * nx), nx)
    out = {lag: np.zeros(shape) for lag in NEIGHBOUR_LAGS}
    for matrix, error, w in resampled:
        a = np.where(has, w / np.where(has, wsum, 1.0), 0.0).ravel()
        sigma = np.asarray(error, dtype=float).ravel()
        sigma = np.where(np.isfinite(sigma), sigma, 0.0)
        h = (sparse.diags(a) @ matrix @ sparse.diags(sigma)).tocsr()
        for dy, dx in NEIGHBOUR_LAGS:
            inside = (y + dy < ny) & (x + dx >= 0) & (x + dx < nx)
            partner = np.where(inside, (y + dy) * nx + x + dx, 0)
            products = np.asarray(h.multiply(h[partner]).sum(axis=1)).ravel()
            out[(dy, dx)] += np.where(inside, products, 0.0).reshape(shape)
    return out
