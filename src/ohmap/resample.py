"""Resampling of maps between PA frames as sparse linear operators.

Every geometric operation on a line map (sub-pixel shift, rotation into the reference PA) is a
linear map from input pixels to output pixels. Writing it as a sparse matrix ``R`` lets the same
object move the flux (``R @ f``) and the variance (``(R**2) @ var``), so the error maps that
come out are exact for independent input pixels, and integrated fluxes over resampled maps can be
given their exact variance too.

Frame conventions (shared with :mod:`ohmap.mock`): a map of shape ``(n, m)`` has its pixel
``(i, k)`` at frame coordinates ``x = k - (m - 1)/2 + x_phase`` (along the dispersion) and
``y = i - (n - 1)/2`` (across it), in pixels. A frame whose +x axis points at position angle
``t`` (degrees east of north) has +y at ``t + 90``. A point at ``(u, v)`` in a frame at ``t``
is at ``(u cos d - v sin d, u sin d + v cos d)`` in a frame at ``T``, with ``d = t - T``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

#: Interpolation kernels: name -> (half-width in pixels, weight function of distance).
KERNELS = {}


def _keys_cubic(d, a=-0.5):
    d = np.abs(d)
    w = np.where(
        d <= 1, (a + 2) * d**3 - (a + 3) * d**2 + 1, a * d**3 - 5 * a * d**2 + 8 * a * d - 4 * a
    )
    return np.where(d < 2, w, 0.0)


def _lanczos3(d):
    d = np.asarray(d, dtype=float)
    return np.where(np.abs(d) < 3, np.sinc(d) * np.sinc(d / 3.0), 0.0)


def _linear(d):
    return np.clip(1.0 - np.abs(d), 0.0, None)


KERNELS["linear"] = (1, _linear)
KERNELS["cubic"] = (2, _keys_cubic)
KERNELS["lanczos3"] = (3, _lanczos3)


@dataclass(frozen=True)
class FrameTransform:
    """Where a pixel of one frame lies in another: rotation, then shift.

    A point at ``(u, v)`` in the source frame (the PA map) is placed at
    ``rot(rotation_deg) @ (u - shift_x, v - shift_y)`` in the target frame (the reference map).
    ``shift_x`` is along the dispersion (wavelength calibration and redshift error) and
    ``shift_y`` across it (trace offset), both in source-frame pixels.

    Attributes
    ----------
    rotation_deg : float
        Angle ``d = t_source - t_target`` between the frames' +x axes, degrees.
    shift_x, shift_y : float
        Offsets of the scene in the source frame, pixels.
    """

    rotation_deg: float = 0.0
    shift_x: float = 0.0
    shift_y: float = 0.0

    def target_to_source(self, u, v):
        """Source-frame coordinates of target-frame points ``(u, v)`` (pixels)."""
        d = np.radians(self.rotation_deg)
        c, s = np.cos(d), np.sin(d)
        return c * u + s * v + self.shift_x, -s * u + c * v + self.shift_y


def frame_coordinates(shape, x_phase: float = 0.0):
    """Frame coordinates ``(x, y)`` in pixels of every pixel of a map of ``shape``."""
    n, m = shape
    y, x = np.mgrid[0:n, 0:m].astype(float)
    return x - (m - 1) / 2.0 + x_phase, y - (n - 1) / 2.0


def resampling_matrix(
    out_shape,
    in_shape,
    transform: FrameTransform,
    in_x_phase: float = 0.0,
    out_x_phase: float = 0.0,
    kernel: str = "lanczos3",
) -> sparse.csr_matrix:
    """Sparse matrix taking a map on the input grid to the output grid.

    Parameters
    ----------
    out_shape, in_shape : tuple of int
        Shapes of the output (target frame) and input (source frame) maps.
    transform : FrameTransform
        Where source-frame points lie in the target frame.
    in_x_phase, out_x_phase : float
        Sub-pixel x offset of each grid (see the module docstring), pixels.
    kernel : {"lanczos3", "cubic", "linear"}
        Separable interpolation kernel.

    Returns
    -------
    scipy.sparse.csr_matrix
        Shape ``(prod(out_shape), prod(in_shape))``; rows of output pixels whose stencil leaves
        the input grid are dropped to zero, so callers must check coverage
        (see :func:`resample`).
    """
    half, weight = KERNELS[kernel]
    u, v = frame_coordinates(out_shape, out_x_phase)
    xs, ys = transform.target_to_source(u.ravel(), v.ravel())
    n_in, m_in = in_shape
    # Source-frame coordinates -> fractional input pixel indices.
    col = xs + (m_in - 1) / 2.0 - in_x_phase
    row = ys + (n_in - 1) / 2.0
    c0 = np.floor(col).astype(int)
    r0 = np.floor(row).astype(int)
    offsets = np.arange(-half + 1, half + 1)
    rows_idx, cols_idx, vals = [], [], []
    out_idx = np.arange(u.size)
    for di in offsets:
        ri = r0 + di
        wr = weight(row - ri)
        for dk in offsets:
            ck = c0 + dk
            w = wr * weight(col - ck)
            inside = (ri >= 0) & (ri < n_in) & (ck >= 0) & (ck < m_in) & (w != 0)
            rows_idx.append(out_idx[inside])
            cols_idx.append((ri * m_in + ck)[inside])
            vals.append(w[inside])
    rows_idx = np.concatenate(rows_idx)
    cols_idx = np.concatenate(cols_idx)
    vals = np.concatenate(vals)
    matrix = sparse.csr_matrix((vals, (rows_idx, cols_idx)), shape=(u.size, n_in * m_in))
    # Normalise each row to unit sum so a flat map stays flat (Lanczos weights do not sum to 1
    # exactly at fractional positions); rows with an incomplete stencil are flagged by coverage.
    stencil_weight = np.asarray(matrix.sum(axis=1)).ravel()
    norm = np.zeros(u.size)
    norm[stencil_weight != 0] = 1.0 / stencil_weight[stencil_weight != 0]
    return (sparse.diags(norm) @ matrix).tocsr()


def resample(flux, error, matrix, out_shape, min_coverage: float = 0.999):
    """Apply a resampling matrix to a map and its 1-sigma error map.

    Input pixels with non-finite error carry no data. An output pixel is valid only when the
    input pixels it draws on are all valid (within ``1 - min_coverage`` of its absolute
    weight); invalid outputs get flux 0 and error ``inf``.

    Returns
    -------
    flux_out, error_out : ndarray
        Maps of ``out_shape``.
    """
    flux = np.asarray(flux, dtype=float).ravel()
    error = np.asarray(error, dtype=float).ravel()
    valid = np.isfinite(error)
    f = np.where(valid, flux, 0.0)
    var = np.where(valid, error**2, 0.0)
    absm = abs(matrix)
    total = np.asarray(absm.sum(axis=1)).ravel()
    good = absm @ valid.astype(float)
    ok = (total > 0) & (good >= min_coverage * total)
    out = matrix @ f
    out_var = matrix.multiply(matrix) @ var
    flux_out = np.where(ok, out, 0.0).reshape(out_shape)
    error_out = np.where(ok, np.sqrt(np.maximum(out_var, 0.0)), np.inf).reshape(out_shape)
    return flux_out, error_out


def frame_axes(pa_x_deg: float):
    """Unit vectors (east, north) of the +x and +y axes of a frame whose +x points ``pa_x_deg``
    east of north (+y at ``pa_x_deg + 90``; images are not mirrored)."""
    t = np.radians(pa_x_deg)
    return np.array([np.sin(t), np.cos(t)]), np.array([np.cos(t), -np.sin(t)])
