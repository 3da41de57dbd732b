"""Square line maps on the 2D spectrum's grid: a line's column, cut-outs, and maps placed back.

A map of a spectrum with ``ny`` rows is ``ny`` x ``ny``; its first column sits at a whole
spectrum column ``start`` and its sub-pixel phase is carried separately (see
:mod:`ohmap.resample`). Fractional shifts along the rows use Lanczos-3 weights.
"""

from __future__ import annotations

import numpy as np


def line_column(wavelength_grid: np.ndarray, wavelength: float) -> float:
    """Fractional column index of an observed wavelength (linear in the local dispersion)."""
    return float(np.interp(wavelength, wavelength_grid, np.arange(wavelength_grid.size)))


def lanczos_row_weights(shift: float):
    """Columns offsets and weights that move a row by a fractional ``shift`` (Lanczos-3)."""
    base = int(np.floor(shift))
    frac = shift - base
    offs = np.arange(-2, 4)
    w = np.sinc(offs - frac) * np.sinc((offs - frac) / 3.0)
    return base + offs, w / w.sum()


def cutout_values(image, start, ny, fill=0.0):
    """The ``ny``-column window of a spectrum-grid ``image`` starting at column ``start``."""
    out = np.full((ny, ny), fill, dtype=float)
    c = start + np.arange(ny)
    inside = (c >= 0) & (c < image.shape[1])
    out[:, inside] = image[:, c[inside]]
    return out


def place_shifted(values, position: float, nx: int):
    """A map placed on an ``nx``-column spectrum grid with its first column at fractional
    ``position`` (Lanczos-3 along the rows)."""
    ny = values.shape[0]
    out = np.zeros((ny, nx))
    cols, weights = lanczos_row_weights(position)
    k = np.arange(values.shape[1])
    for c0, w in zip(cols, weights):
        c = c0 + k
        inside = (c >= 0) & (c < nx)
        out[:, c[inside]] += w * values[:, inside]
    return out


def member_image(values, start, shape):
    ny, nx = shape
    out = np.zeros(shape)
    k = np.arange(values.shape[1])
    c = start + k
    inside = (c >= 0) & (c < nx)
    out[:, c[inside]] = values[:, inside]
    return out


def shifted_mask(mask, offset: float) -> np.ndarray:
    """``mask`` moved by ``offset`` columns (both neighbouring integer shifts, so it covers the
    sub-pixel spread)."""
    out = np.zeros_like(mask)
    n = mask.shape[1]
    for s in {int(np.floor(offset)), int(np.ceil(offset))}:
        if abs(s) >= n:
            continue
        if s >= 0:
            out[:, s:] |= mask[:, : n - s]
        else:
            out[:, :s] |= mask[:, -s:]
    return out
