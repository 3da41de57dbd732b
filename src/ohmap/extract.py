"""Emission-line maps from one 2D grism spectrum (one galaxy, one PA, one grism).

Wang et al. (2017), Sect. 4.3. In slitless data an extended source is an image of itself at the
column where each emission line lands, so a line map is a cut-out of the spectrum centred on
that column, after the contamination model and the galaxy's own (locally rescaled) continuum
model have been subtracted.

Steps, in :func:`extract_line_maps`:

1. The **object footprint** ``G``: the direct-image light connected to the stamp centre above
   a small fraction of its peak, together with the segmentation map, grown by
   ``footprint_grow_arcsec``; line emission is taken to lie within it.
2. **Contamination** model subtracted everywhere. The model is not exact (its flux scale and
   its trace position are uncertain), so its uncertainty joins every pixel's error
   (:func:`contamination_model_variance`); without it, residual contamination from a bright
   neighbour looks like significant line flux and pulls the alignment.
3. **Continuum**: for each group of lines whose images can overlap, the continuum model is
   rescaled (a linear function of column) to match the observed level in line-free windows on
   both sides, then subtracted. The residuals in those windows are tested against zero-mean
   noise and the result is recorded with each map.
4. **Cut-outs** of every line in the grism's usable range, in line flux per pixel
   (1e-17 erg/s/cm^2), with an error map.
5. **De-blending** of lines whose images overlap (H-beta with [OIII]4960,5008; H-alpha+[NII]
   with [SII]): the paper's isophotal-contour method. A contour of the direct image (10 per cent
   of the peak by default) is applied at each line's column, and the lines' maps inside the
   contour are solved for together, row by row, by weighted least squares with [OIII]4960 tied
   to [OIII]5008/2.98 (Storey & Zeippen 2000). This is the fixed point of the paper's
   "subtract 4960, iterate" procedure. The contour level is raised until no two free lines of a
   group overlap inside it; where that cannot be done the decision is logged and written to the
   map's provenance. Outside the contour the modelled lines are subtracted and pixels that may
   still hold another line's unmodelled flux are flagged ``blended`` (left out of stacks).

Maps are square, with as many columns as the spectrum has rows, centred on the line's column;
pixel ``(i, k)`` lies at ``x = k - (n-1)/2 + x_phase`` along the dispersion (see
:mod:`ohmap.resample`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import binary_dilation, gaussian_filter, label

from .settings import ConfigSection
from . import lines as L
from .lines import TIED_LINES
from .grisms import get_grism
from .spectrum import Spectrum2D

log = logging.getLogger(__name__)


@dataclass
class ExtractionSettings(ConfigSection):
    """Science settings of the extraction (the ``linemaps.extraction`` config section).

    Attributes
    ----------
    lines : tuple of str
        Map lines to extract (names in :data:`ohmap.lines.LINES_BY_NAME`).
    footprint_level : float
        Direct-image isophote (fraction of the peak) that, with the segmentation map, bounds the
        object footprint.
    footprint_grow_arcsec : float
        Growth of the footprint, arcsec, to take in the PSF wings and line emission that is more
        extended than the stellar light.
    footprint_noise_sigma : float
        The footprint's isophote is never below this many times the robust noise of the smoothed
        direct image (see :func:`object_footprint`).
    footprint_grow_max_area : float
        The growth is reduced (to no less than one pixel) until the grown footprint is at most
        this many times the area of the ungrown one.
    contour_level, contour_level_max, contour_step : float
        De-blending contour: start level, highest level tried and step, as fractions of the
        direct-image peak (paper: about 10 per cent).
    continuum_window_pixels, window_gap_pixels : int
        Width of the line-free window on each side of a line group and its gap from the
        footprint's edge, in columns.
    residual_limit_sigma : float
        A window whose mean residual differs from zero by more than this many standard errors
        is flagged.
    residual_scatter_max : float
        A window whose residuals scatter by more than this many times their errors is flagged.
    continuum_scale_prior : float
        Prior width of the continuum model's rescaling (see :func:`fit_continuum_scale`).
    min_coverage : float
        Fraction of the footprint that must have data for a map to be kept.
    contamination_model_fraction : float
        1-sigma fractional uncertainty of the contamination model's flux.
    contamination_trace_pixels : float
        1-sigma uncertainty of the contamination model's position across the dispersion,
        pixels. Both enter the error maps (see :func:`contamination_model_variance`).
    """

    lines: tuple = L.MAP_LINES
    footprint_level: float = 0.02
    footprint_grow_arcsec: float = 0.3
    footprint_noise_sigma: float = 2.0
    footprint_grow_max_area: float = 3.0
    contour_level: float = 0.10
    contour_level_max: float = 0.5
    contour_step: float = 0.025
    continuum_window_pixels: int = 15
    window_gap_pixels: int = 2
    residual_limit_sigma: float = 4.0
    residual_scatter_max: float = 1.5
    continuum_scale_prior: float = 0.1
    min_coverage: float = 0.8
    contamination_model_fraction: float = 0.1
    contamination_trace_pixels: float = 0.1



@dataclass
class LineMap:
    """One emission-line map from one PA and grism.

    Attributes
    ----------
    line : str
        Map line name (``"Hb"``, ``"OIII5008"``, ...).
    flux, error : ndarray
        Line flux per pixel and its 1-sigma error, 1e-17 erg/s/cm^2; ``error`` is ``inf``
        where there are no data (``flux`` is 0 there).
    blended : ndarray of bool
        Pixels that may hold unmodelled flux of another line.
    x_phase : float
        Sub-pixel position of the map grid along the dispersion (pixels).
    column : float
        Fractional spectrum column of the line centre at the catalogue redshift.
    wavelength : float
        Observed vacuum wavelength, Angstrom.
    integrated_flux, integrated_error : float
        Flux over the footprint, 1e-17 erg/s/cm^2 (for de-blended lines: the group's total
        split by the de-blended ratios, see :func:`extract_line_maps`).
    info : dict
        Provenance: method, contour level, continuum scale, window residual statistics, flags.
    """

    line: str
    flux: np.ndarray
    error: np.ndarray
    blended: np.ndarray
    x_phase: float
    column: float
    wavelength: float
    integrated_flux: float = np.nan
    integrated_error: float = np.nan
    info: dict = field(default_factory=dict)

    @property
    def valid(self) -> np.ndarray:
        return np.isfinite(self.error) & ~self.blended


@dataclass
class Extraction:
    """Everything extracted from one spectrum: maps, footprint and decisions.

    ``cleaned`` and ``cleaned_error`` are the whole spectrum after contamination and rescaled
    continuum subtraction, in line flux per pixel (1e-17 erg/s/cm^2; error ``inf`` without
    data), and ``columns`` the fractional column of every line on it (tied lines included), so
    that later steps can model the 2D spectrum itself.
    """

    galaxy: str
    pa: str
    grism: str
    dispersion_pa: float
    pixel_scale: float
    footprint: np.ndarray
    maps: dict
    decisions: list
    direct_image: np.ndarray | None = None
    cleaned: np.ndarray | None = None
    cleaned_error: np.ndarray | None = None
    columns: dict = field(default_factory=dict)
    redshift: float = np.nan


# ----------------------------------------------------------------------------------------------
# Footprints and contours
# ----------------------------------------------------------------------------------------------


def _central_component(mask: np.ndarray) -> np.ndarray:
    """The connected part of ``mask`` nearest the stamp centre (empty if ``mask`` is empty)."""
    labels, n = label(mask)
    if n == 0:
        return np.zeros_like(mask, dtype=bool)
    ny, nx = mask.shape
    yy, xx = np.nonzero(labels)
    d2 = (yy - (ny - 1) / 2.0) ** 2 + (xx - (nx - 1) / 2.0) ** 2
    return labels == labels[yy[np.argmin(d2)], xx[np.argmin(d2)]]


def smoothed_direct(direct: np.ndarray) -> np.ndarray:
    """Direct image lightly smoothed (Gaussian, sigma 1 pixel) so isophotes follow the light,
    not the noise."""
    return gaussian_filter(np.nan_to_num(np.asarray(direct, dtype=float)), 1.0)


def direct_noise(direct: np.ndarray, exclude: np.ndarray | None = None) -> float:
    """Robust 1-sigma noise of the *smoothed* direct image, from the stamp's outskirts.

    It is measured on the smoothed image (not scaled from the raw one) so that it is in the units
    the isophote is cut in, whatever the pixel-to-pixel correlation of the drizzled stamp. Only
    the outskirts (outside the central half, where :func:`isophote` finds the peak) and pixels
    outside ``exclude`` (catalogued objects, grown) are used, and the statistic is the median
    absolute deviation (x 1.4826), because the object's and its neighbours' wings and sources below
    the catalogue's threshold would inflate a standard deviation. Exact zeros are left out: they
    are padding (a 64-row stamp on a 65-row grid) or masked pixels, not sky. Returns 0 where fewer
    than 50 pixels are left (a stamp filled by the object), so that only the peak fraction applies.
    """
    raw = np.nan_to_num(np.asarray(direct, dtype=float))
    smooth = smoothed_direct(raw)
    ny, nx = smooth.shape
    use = raw != 0
    use[ny // 4 : ny - ny // 4, nx // 4 : nx - nx // 4] = False
    if exclude is not None and (use & ~exclude).sum() >= 50:
        use &= ~exclude
    if use.sum() < 50:
        return 0.0
    values = smooth[use]
    return float(1.4826 * np.median(np.abs(values - np.median(values))))


def isophote(direct: np.ndarray, level: float, floor: float = 0.0,
             exclude: np.ndarray | None = None) -> np.ndarray:
    """Pixels connected to the centre where the smoothed direct image exceeds
    ``max(level x peak, floor)``, not counting pixels in ``exclude`` (other objects), so that an
    isophote cannot reach a neighbour through it."""
    smooth = smoothed_direct(direct)
    ny, nx = smooth.shape
    core = smooth[ny // 4 : ny - ny // 4, nx // 4 : nx - nx // 4]
    peak = core.max() if core.size else smooth.max()
    if not peak > 0:
        return np.zeros(smooth.shape, dtype=bool)
    above = smooth > max(level * peak, floor)
    if exclude is not None:
        above &= ~exclude
    return _central_component(above)


def direct_on_map_grid(direct, ny: int):
    """The direct-image stamp centred on a ``ny`` x ``ny`` grid (cropped or zero-padded), or
    ``None``. Readers deliver stamps centred on the object, sometimes a row or two smaller or
    larger than the spectrum is tall (grizli beams: 64 against 65 rectified rows)."""
    if direct is None:
        return None
    direct = np.nan_to_num(np.asarray(direct, dtype=float))
    out = np.zeros((ny, ny))
    src = [slice(max((n - ny) // 2, 0), max((n - ny) // 2, 0) + min(n, ny)) for n in direct.shape]
    dst = [slice(max((ny - n) // 2, 0), max((ny - n) // 2, 0) + min(n, ny)) for n in direct.shape]
    out[dst[0], dst[1]] = direct[src[0], src[1]]
    return out


def object_footprint(spec: Spectrum2D, settings: ExtractionSettings) -> tuple[np.ndarray, str]:
    """Footprint ``G`` of the object in the map frame, and how it was obtained.

    ``G`` is the union of (a) the smoothed direct image above ``max(footprint_level x peak,
    footprint_noise_sigma x noise)`` connected to the centre and (b) the central object's own
    segment, less the pixels of any other segment, grown by ``footprint_grow_arcsec`` (reduced
    so that the area grows at most ``footprint_grow_max_area`` times).

    Why so:

    - A fixed fraction of the peak is a meaningful isophote only where the direct image is
      nearly noiseless (the mock). In a real stamp of a faint object 2 per cent of the peak lies
      below the sky noise, so "connected to the centre" follows noise peaks and neighbours across
      much of the stamp (GOODS-S 00152: ~600 pixels for a ~70-pixel galaxy), and every pixel of
      noise added to the aperture adds grism noise to the integrated flux and nothing else. The
      noise floor stops the isophote where the light stops being measurable. At 2 sigma of the
      smoothed image sky alone passes in ~2 per cent of pixels, far below the fraction at which
      such pixels join into stamp-wide clusters, and a pixel must also connect to the centre.
      It is a compromise: at 1 sigma a noisy isolated galaxy's footprint still carries 15-40 per
      cent sky pixels; at 2 sigma and above the faint mock galaxies (whose 2-per-cent isophote
      is itself ~1 sigma) lose a few per cent of their line flux, more at 3 sigma. Where the
      image is clean the peak fraction rules, so the bright mock footprints are unchanged.
    - Only the segment under the stamp centre is the object; the others are catalogued
      neighbours whose light (and line emission, which the contamination model need not hold)
      must not enter the aperture. A segment stops at the catalogue's detection threshold while
      the neighbour's wings go on, so every pixel nearer another segment than the object's own
      is given to the neighbour. Those pixels are cut out before the isophote is joined to the
      centre (no bridging through a neighbour's wings) and again after growing.
    - The object's own segment is kept in full because the catalogue was detected on a deeper
      image than the single-exposure stamp: it is the better estimate of the object's extent
      where the stamp is noisy, and a footprint is never smaller than it.
    - The growth takes in the PSF wings and line emission beyond the stellar light, whose amount
      scales with the object's perimeter; for a compact footprint (a few pixels above the
      noise) a fixed growth in arcsec would multiply the area, and the aperture noise, many
      times for little flux, hence the area cap (3: it leaves the growth of resolved objects,
      mock and real, as it was). The growth never drops below one pixel, for the PSF.
    """
    ny = spec.shape[0]
    grow = max(1, int(round(settings.footprint_grow_arcsec / spec.pixel_scale)))
    shape = (ny, ny)
    how = []
    mask = np.zeros(shape, dtype=bool)
    others = np.zeros(shape, dtype=bool)
    direct = direct_on_map_grid(spec.direct_image, ny)
    if direct is not None:
        own = np.zeros(shape, dtype=bool)
        catalogued = None
        if spec.segmentation is not None:
            seg = direct_on_map_grid(spec.segmentation, ny).astype(int)
            centre = seg[ny // 2 - 1 : ny // 2 + 1, ny // 2 - 1 : ny // 2 + 1]
            ids = centre[centre > 0]
            if ids.size:
                object_id = np.bincount(ids).argmax()
                own = _central_component(seg == object_id)
                others = (seg > 0) & (seg != object_id)
                if others.any():
                    # A neighbour's wings reach beyond its segment: pixels nearer another
                    # segment than the object's own belong to the neighbour.
                    from scipy.ndimage import distance_transform_edt

                    others |= distance_transform_edt(~others) < distance_transform_edt(~own)
            catalogued = binary_dilation(seg > 0, iterations=grow)
        floor = settings.footprint_noise_sigma * direct_noise(direct, catalogued)
        mask |= isophote(direct, settings.footprint_level, floor, exclude=others)
        how.append(f"direct image above max({settings.footprint_level:g} of peak, "
                   f"{settings.footprint_noise_sigma:g} sigma = {floor:.3g})")
        if own.any():
            mask |= own
            how.append(f"segment {object_id}")
        if others.any():
            mask &= ~others
            n_other = len(np.unique(seg[(seg > 0) & (seg != object_id)]))
            how.append(f"less {n_other} neighbour segment(s) and the pixels nearer them")
    if not mask.any():
        # Without a usable direct image the footprint is a disc of 1 arcsec radius.
        y, x = np.mgrid[0:ny, 0:ny] - (ny - 1) / 2.0
        mask = np.hypot(x, y) <= 1.0 / spec.pixel_scale
        how = ["no usable direct image: disc of 1 arcsec radius"]
        grow = 0
    if grow:
        area = mask.sum()
        grown = binary_dilation(mask, iterations=grow)
        while grow > 1 and grown.sum() > settings.footprint_grow_max_area * area:
            grow -= 1
            grown = binary_dilation(mask, iterations=grow)
        mask = grown & ~others
    return mask, " + ".join(how) + (f", grown by {grow} px" if grow else "")


def row_overlap(mask: np.ndarray, shift: float) -> bool:
    """True when ``mask`` and ``mask`` shifted by ``shift`` columns share a pixel in any row."""
    s = int(np.ceil(abs(shift)))
    if s >= mask.shape[1]:
        return False
    # Sub-pixel shifts blur by a pixel: test both neighbouring integer shifts.
    for k in {s, max(s - 1, 0)}:
        if k == 0:
            if mask.any():
                return True
            continue
        if np.any(mask[:, k:] & mask[:, :-k]):
            return True
    return False


# ----------------------------------------------------------------------------------------------
# Geometry of lines on the spectrum
# ----------------------------------------------------------------------------------------------


def line_column(wavelength_grid: np.ndarray, wavelength: float) -> float:
    """Fractional column index of an observed wavelength (linear in the local dispersion)."""
    return float(np.interp(wavelength, wavelength_grid, np.arange(wavelength_grid.size)))


def footprint_extent(footprint: np.ndarray) -> tuple[int, int]:
    """Columns of the footprint's left and right edges relative to the map centre column."""
    cols = np.nonzero(footprint.any(axis=0))[0]
    centre = (footprint.shape[1] - 1) / 2.0
    return int(np.floor(cols.min() - centre)), int(np.ceil(cols.max() - centre))


def blend_groups(columns: dict, footprint: np.ndarray) -> list[list[str]]:
    """Lines whose footprints overlap on the spectrum (in some row), grouped transitively."""
    names = sorted(columns, key=columns.get)
    groups: list[list[str]] = []
    for name in names:
        if groups and row_overlap(footprint, columns[name] - columns[groups[-1][-1]]):
            groups[-1].append(name)
        else:
            groups.append([name])
    return groups


# ----------------------------------------------------------------------------------------------
# Continuum
# ----------------------------------------------------------------------------------------------


def _continuum_windows(columns, footprint, nx, other_columns, settings):
    """Columns of the left and right line-free windows of a group of lines at ``columns``."""
    left, right = footprint_extent(footprint)
    gap, width = settings.window_gap_pixels, settings.continuum_window_pixels
    lo = min(columns) + left - gap
    hi = max(columns) + right + gap
    wins = (np.arange(int(np.floor(lo)) - width + 1, int(np.floor(lo)) + 1),
            np.arange(int(np.ceil(hi)), int(np.ceil(hi)) + width))
    busy = np.zeros(nx, dtype=bool)
    for c in other_columns:
        a, b = int(np.floor(c + left - gap)), int(np.ceil(c + right + gap))
        busy[max(a, 0) : max(min(b + 1, nx), 0)] = True
    out = []
    for w in wins:
        w = w[(w >= 0) & (w < nx)]
        out.append(w[~busy[w]])
    return out


def fit_continuum_scale(data, error, model, windows, rows, centre: float, prior_width: float) -> dict:
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
    out = dict(n_window_pixels=0, window_sides=sides, residual_mean_sigma=np.nan,
               residual_std=np.nan, residual_z=np.nan)
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


# ----------------------------------------------------------------------------------------------
# De-blending
# ----------------------------------------------------------------------------------------------


def _lanczos_row_weights(shift: float):
    """Columns offsets and weights that move a row by a fractional ``shift`` (Lanczos-3)."""
    base = int(np.floor(shift))
    frac = shift - base
    offs = np.arange(-2, 4)
    w = np.sinc(offs - frac) * np.sinc((offs - frac) / 3.0)
    return base + offs, w / w.sum()


def deblend_rows(data, error, starts, members, support):
    """Row-by-row weighted least squares for overlapping line images.

    Parameters
    ----------
    data, error : ndarray
        Cleaned spectrum in line flux per pixel and its error (``inf`` = no data).
    starts : dict
        First spectrum column of each free line's map.
    members : list of tuple
        ``(name, parent, ratio, shift)``: a free line has ``parent None``; a tied line adds
        ``parent``'s map divided by ``ratio`` at ``shift`` columns from the parent's map start.
    support : ndarray of bool
        Map pixels (square map) where the free lines are solved for.

    Returns
    -------
    values, variances : dict of ndarray
        Per free line, the solved map inside ``support`` (0 elsewhere) and its variance
        (``inf`` where the row's system is singular or lacks data).
    model : ndarray
        The fitted line images on the spectrum grid (all group members), for subtraction.
    model_var : ndarray
        Variance of ``model`` (diagonal propagation).
    """
    ny, nx = data.shape
    free = [m[0] for m in members if m[1] is None]
    values = {name: np.zeros((ny, ny)) for name in free}
    variances = {name: np.full((ny, ny), np.inf) for name in free}
    model = np.zeros_like(data)
    model_var = np.zeros_like(data)
    for i in range(ny):
        ks = np.nonzero(support[i])[0]
        if ks.size == 0:
            continue
        # Columns of the spectrum each unknown lands on, with weights.
        entries = []  # (unknown index, column, weight)
        unknowns = [(name, k) for name in free for k in ks]
        index = {u: j for j, u in enumerate(unknowns)}
        for name, parent, ratio, shift in members:
            owner = name if parent is None else parent
            for k in ks:
                j = index[(owner, k)]
                if parent is None:
                    entries.append((j, starts[owner] + k, 1.0))
                else:
                    cols, w = _lanczos_row_weights(shift)
                    for c, wc in zip(starts[owner] + k + cols, w / ratio):
                        entries.append((j, c, wc))
        cols = np.array(sorted({c for _, c, _ in entries if 0 <= c < nx}))
        if cols.size == 0:
            continue
        colpos = {c: r for r, c in enumerate(cols)}
        design = np.zeros((cols.size, len(unknowns)))
        for j, c, w in entries:
            if c in colpos:
                design[colpos[c], j] += w
        err = error[i, cols]
        ok = np.isfinite(err)
        if not ok.any():
            continue
        sw = 1.0 / err[ok]
        a = design[ok] * sw[:, None]
        b = data[i, cols][ok] * sw
        normal = a.T @ a
        determined = np.diag(normal) > 0
        sol = np.zeros(len(unknowns))
        var = np.full(len(unknowns), np.inf)
        if determined.any():
            sub = normal[np.ix_(determined, determined)]
            try:
                cov = np.linalg.inv(sub)
                cond_ok = np.all(np.isfinite(cov)) and np.linalg.cond(sub) < 1e8
            except np.linalg.LinAlgError:
                cond_ok = False
            if cond_ok:
                sol[determined] = cov @ (a[:, determined].T @ b)
                var[determined] = np.diag(cov)
        for (name, k), j in index.items():
            values[name][i, k] = sol[j] if np.isfinite(var[j]) else 0.0
            variances[name][i, k] = var[j]
        good = np.isfinite(var)
        row_model = design[:, good] @ sol[good]
        row_var = (design[:, good] ** 2) @ var[good]
        model[i, cols] += row_model
        model_var[i, cols] += row_var
    return values, variances, model, model_var


# ----------------------------------------------------------------------------------------------
# Driver
# ----------------------------------------------------------------------------------------------


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


def _decision(line, status, reason, **extra):
    return dict(line=line, status=status, reason=reason, **extra)


def extract_line_maps(spec: Spectrum2D, redshift: float, settings: ExtractionSettings | None = None) -> Extraction:
    """Line maps of every requested line that the spectrum covers.

    Parameters
    ----------
    spec : Spectrum2D
        Ingested spectrum (flux density per pixel, 1e-17 erg/s/cm^2/Angstrom).
    redshift : float
        Catalogue redshift of the galaxy.
    settings : ExtractionSettings, optional

    Returns
    -------
    Extraction
        Maps keyed by line name, the footprint and one decision per requested line (extracted,
        or why not).
    """
    settings = settings or ExtractionSettings()
    grism = get_grism(spec.grism, spec.source)
    ny, nx = spec.shape
    wave = spec.wavelength
    dlam = np.gradient(wave)
    footprint, how = object_footprint(spec, settings)
    decisions = []
    log.info("%s PA %s %s: footprint of %d pixels (%s)", spec.galaxy, spec.pa, spec.grism,
             footprint.sum(), how)

    # Lines on the spectrum: requested map lines plus the lines tied to them.
    wanted = [n for n in settings.lines]
    present = {}
    for name in wanted + [t for t, (p, _) in TIED_LINES.items() if p in wanted]:
        lam = L.LINES_BY_NAME[name].wavelength * (1.0 + redshift)
        if not grism.covers(lam):
            if name in wanted:
                decisions.append(_decision(name, "not_covered",
                                           f"observed {lam:.0f} A is outside the {grism.name} usable "
                                           f"range {grism.wavelength_min:.0f}-{grism.wavelength_max:.0f} A"))
            continue
        if not (wave[0] <= lam <= wave[-1]):
            if name in wanted:
                decisions.append(_decision(name, "not_covered",
                                           f"observed {lam:.0f} A is outside the spectrum's wavelength grid"))
            continue
        present[name] = line_column(wave, lam)

    # Flux density -> line flux per pixel.
    science = spec.science - spec.contamination
    error = np.sqrt(spec.error**2 + contamination_model_variance(
        spec.contamination, settings.contamination_model_fraction, settings.contamination_trace_pixels))
    error = np.where(spec.valid, error, np.inf)
    cleaned = np.zeros_like(science)
    cleaned_error = np.full(science.shape, np.inf)
    centre = (ny - 1) / 2.0
    maps = {}
    fp_rows = footprint.any(axis=1)
    for group in blend_groups(present, footprint):
        group_cols = [present[n] for n in group]
        others = [c for n, c in present.items() if n not in group]
        windows = _continuum_windows(group_cols, footprint, nx, others, settings)
        gcentre = float(np.mean(group_cols))
        cont = fit_continuum_scale(science, error, spec.continuum, windows, fp_rows, gcentre,
                                   settings.continuum_scale_prior)
        residual_flag = (
            cont["n_window_pixels"] > 1
            and (abs(cont["residual_z"]) > settings.residual_limit_sigma
                 or cont["residual_std"] > settings.residual_scatter_max)
        )
        lo = max(int(np.floor(min(group_cols) - centre)) - 1, 0)
        hi = min(int(np.ceil(max(group_cols) + centre)) + 2, nx)
        cols = np.arange(lo, hi)
        basis = np.stack([np.ones(cols.size), cols - gcentre])
        scale = cont["a"] + cont["b"] * (cols - gcentre)
        # The rescaling's own uncertainty enters every pixel's error (it is correlated along
        # the rows; integrated fluxes get the exact sum in _continuum_variance).
        scale_var = np.einsum("ik,ij,jk->k", basis, cont["cov"], basis)
        cleaned[:, cols] = (science[:, cols] - spec.continuum[:, cols] * scale[None, :]) * dlam[cols]
        err_flux = error * dlam[None, :]
        err_flux[:, cols] = np.sqrt(err_flux[:, cols] ** 2
                                    + (spec.continuum[:, cols] * dlam[cols]) ** 2 * scale_var[None, :])
        cleaned_error[:, cols] = err_flux[:, cols]
        window_info = dict(
            continuum_scale=cont["a"], continuum_scale_slope=cont["b"],
            window_sides=cont["window_sides"], window_pixels=cont["n_window_pixels"],
            residual_mean_sigma=cont["residual_mean_sigma"], residual_std=cont["residual_std"],
            residual_z=cont["residual_z"], residual_flag=bool(residual_flag),
        )
        if cont["window_sides"] == 0:
            window_info["continuum_note"] = "no line-free window on either side: continuum model used unscaled"
        if residual_flag:
            log.warning("%s PA %s %s lines %s: continuum/contamination residuals not consistent with "
                        "zero-mean noise (z = %.1f, scatter %.2f)", spec.galaxy, spec.pa, spec.grism,
                        ",".join(group), cont["residual_z"], cont["residual_std"])
        free = [n for n in group if n not in TIED_LINES or TIED_LINES[n][0] not in group]
        starts = {n: int(np.round(present[n] - centre)) for n in group}
        phases = {n: starts[n] + centre - present[n] for n in group}
        if len(free) == 1 and len(group) == 1:
            name = group[0]
            maps[name] = _cutout(name, cleaned, err_flux, starts[name], phases[name], present[name],
                                 redshift, footprint, dict(method="isolated", **window_info),
                                 direct_on_map_grid(spec.direct_image, ny))
            continue
        maps.update(_deblend_group(spec, group, free, present, starts, phases, cleaned, err_flux,
                                   footprint, redshift, settings, window_info))

    for name in wanted:
        if name not in maps:
            continue
        m = maps[name]
        coverage = float(np.isfinite(m.error)[footprint].mean())
        m.info["coverage"] = coverage
        if coverage < settings.min_coverage:
            if m.info.get("method") == "deblended" and not m.info.get("contour_clean", True):
                why = f"could not be de-blended ({m.info['deblend_note']}); {coverage:.0%} of the footprint solved"
            else:
                why = (f"only {coverage:.0%} of the footprint has data (line near the edge of the "
                       f"spectrum or of the grism's sensitivity)")
            decisions.append(_decision(name, "rejected", why))
            del maps[name]
            continue
        decisions.append(_decision(name, "extracted", m.info.get("method", "")))
    for name in list(maps):
        if name not in wanted:
            del maps[name]
    if not maps:
        log.warning("%s PA %s %s: no line map extracted", spec.galaxy, spec.pa, spec.grism)
    return Extraction(spec.galaxy, spec.pa, spec.grism, spec.dispersion_pa, spec.pixel_scale,
                      footprint, maps, decisions, spec.direct_image, cleaned, cleaned_error,
                      dict(present), float(redshift))


def _cutout(name, cleaned, err_flux, start, phase, column, redshift, footprint, info, weight=None):
    ny = cleaned.shape[0]
    flux = _cutout_values(cleaned, start, ny)
    error = _cutout_values(err_flux, start, ny, fill=np.inf)
    flux[~np.isfinite(error)] = 0.0
    lam = L.LINES_BY_NAME[name].wavelength * (1.0 + redshift)
    m = LineMap(name, flux, error, np.zeros((ny, ny), dtype=bool), phase, column, lam, info=dict(info))
    m.integrated_flux, m.integrated_error = integrate(flux, error, footprint, weight)
    return m


def integrate(flux, error, aperture, weight=None):
    """Sum of ``flux`` over ``aperture`` and its error.

    Pixels without data are made up for by dividing by the share of ``weight`` (the
    direct-image light; uniform if ``None``) that falls on pixels with data. NaN when no pixel
    of the aperture has data.
    """
    ok = aperture & np.isfinite(error)
    if not ok.any():
        return np.nan, np.nan
    w = np.ones(flux.shape) if weight is None else np.clip(np.nan_to_num(weight), 0.0, None)
    share = w[ok].sum() / w[aperture].sum() if w[aperture].sum() > 0 else ok.sum() / aperture.sum()
    return float(flux[ok].sum() / share), float(np.sqrt(np.sum(error[ok] ** 2)) / share)


def _deblend_group(spec, group, free, present, starts, phases, cleaned, err_flux, footprint,
                   redshift, settings, window_info):
    """Paper's contour de-blending for one group of overlapping lines (see module docstring)."""
    direct = direct_on_map_grid(spec.direct_image, footprint.shape[0])
    members = []
    for n in group:
        if n in free:
            members.append((n, None, 1.0, 0.0))
        else:
            parent, ratio = TIED_LINES[n]
            members.append((n, parent, ratio, present[n] - present[parent]))
    separations = [abs(present[a] - present[b]) for i, a in enumerate(free) for b in free[i + 1:]]
    level = settings.contour_level
    note = ""
    if direct is None:
        contour = footprint.copy()
        note = "no direct image: the footprint is used as the contour"
        clean = not any(row_overlap(contour, s) for s in separations)
    else:
        while True:
            contour = isophote(direct, level) & footprint
            clean = not any(row_overlap(contour, s) for s in separations)
            if clean or level + settings.contour_step > settings.contour_level_max + 1e-9:
                break
            level += settings.contour_step
        if level > settings.contour_level:
            note = f"contour raised from {settings.contour_level:g} to {level:g} of the peak so the lines do not overlap"
    if not clean:
        note = (f"lines {', '.join(free)} still overlap inside the contour at {level:g} of the peak "
                f"(the highest allowed): their maps are blended inside it")
        log.warning("%s PA %s %s: %s", spec.galaxy, spec.pa, spec.grism, note)
    elif note:
        log.info("%s PA %s %s: %s", spec.galaxy, spec.pa, spec.grism, note)
    # Rows where the whole footprint is free of overlap are solved over all of it, so that only
    # the wide rows lose their wings to the contour.
    support = contour.copy()
    for i in range(footprint.shape[0]):
        row = footprint[i : i + 1]
        if row.any() and not any(row_overlap(row, s) for s in separations):
            support[i] = footprint[i]
    values, variances, model, model_var = deblend_rows(cleaned, err_flux, starts, members, support)
    contour = support
    ny = footprint.shape[0]
    shape = cleaned.shape
    outside = footprint & ~contour
    tied = [(n, p, r, sh) for n, p, r, sh in members if p is not None]
    # The paper's iteration: the tied line ([OIII]4960) is predicted from its parent's map and
    # subtracted, also outside the contour, where the parent is known only from its own cut-out.
    extra = np.zeros(shape)
    for _ in range(3 if tied else 1):
        full = {}
        for name in free:
            others = model - _member_image(values[name], starts[name], shape) + extra
            full[name] = _cutout_values(cleaned - others, starts[name], ny)
            full[name][contour] = values[name][contour]
        extra = np.zeros(shape)
        for _, parent, ratio, shift in tied:
            extra += _place_shifted(full[parent] * outside, starts[parent] + shift, shape[1]) / ratio
    maps = {}
    total_flux, total_var = _group_total(cleaned, err_flux, present, starts, footprint, group)
    inner = {n: float(values[n][contour].sum()) for n in free}
    for name in free:
        start = starts[name]
        own_var = _member_image(np.where(np.isfinite(variances[name]), variances[name], 0.0), start, shape)
        sub_var = np.maximum(model_var - own_var, 0.0)
        error = _cutout_values(np.sqrt(err_flux**2 + sub_var), start, ny, fill=np.inf)
        flux = full[name].copy()
        error[contour] = np.sqrt(variances[name][contour])
        flux[~np.isfinite(error)] = 0.0
        # Pixels where another free line's unmodelled flux (outside the contour, smoothed to
        # beat the noise) would exceed twice this map's error are flagged as blended.
        blended = np.zeros((ny, ny), dtype=bool)
        for other in free:
            if other == name:
                continue
            wing = gaussian_filter(full[other] * outside, 1.0)
            predicted = _cutout_values(_place_shifted(wing, starts[other], shape[1]), start, ny)
            blended |= np.abs(predicted) > 2.0 * error
            if not clean:
                blended |= _shifted_mask(contour, starts[other] - start) & contour
        # Integrated flux: the group's total (exact, no de-blending needed) split in the
        # proportions of the de-blended fluxes inside the contour.
        weights = {n: inner[n] * (1.0 + sum(1.0 / r for t, (p, r) in TIED_LINES.items() if p == n and t in group))
                   for n in free}
        denom = sum(weights.values())
        frac = inner[name] / denom if denom > 0 else np.nan
        info = dict(window_info, method="deblended", deblended_with=",".join(n for n in group if n != name),
                    contour_level=level, contour_clean=bool(clean), contour_pixels=int(contour.sum()),
                    deblend_note=note, group_flux=total_flux, group_fraction=frac)
        wavelength = L.LINES_BY_NAME[name].wavelength * (1.0 + redshift)
        m = LineMap(name, flux, error, blended, phases[name], present[name], wavelength, info=info)
        m.integrated_flux = frac * total_flux
        inner_var = variances[name][contour]
        inner_var = inner_var[np.isfinite(inner_var)]
        rel = np.sqrt(np.sum(inner_var)) / abs(inner[name]) if inner[name] else np.inf
        m.integrated_error = float(np.hypot(frac * np.sqrt(total_var), abs(m.integrated_flux) * rel * (1 - frac)))
        maps[name] = m
    return maps


def _cutout_values(image, start, ny, fill=0.0):
    """The ``ny``-column window of a spectrum-grid ``image`` starting at column ``start``."""
    out = np.full((ny, ny), fill, dtype=float)
    c = start + np.arange(ny)
    inside = (c >= 0) & (c < image.shape[1])
    out[:, inside] = image[:, c[inside]]
    return out


def _place_shifted(values, position: float, nx: int):
    """A map placed on an ``nx``-column spectrum grid with its first column at fractional
    ``position`` (Lanczos-3 along the rows)."""
    ny = values.shape[0]
    out = np.zeros((ny, nx))
    cols, weights = _lanczos_row_weights(position)
    k = np.arange(values.shape[1])
    for c0, w in zip(cols, weights):
        c = c0 + k
        inside = (c >= 0) & (c < nx)
        out[:, c[inside]] += w * values[:, inside]
    return out


def _member_image(values, start, shape):
    ny, nx = shape
    out = np.zeros(shape)
    k = np.arange(values.shape[1])
    c = start + k
    inside = (c >= 0) & (c < nx)
    out[:, c[inside]] = values[:, inside]
    return out


def _shifted_mask(mask, offset: float) -> np.ndarray:
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


def _group_total(cleaned, err_flux, present, starts, footprint, group):
    """Summed flux of all lines of a group: the union of their footprints on the spectrum."""
    ny, nx = cleaned.shape
    union = np.zeros((ny, nx), dtype=bool)
    for n in group:
        union |= _member_image(footprint.astype(float), starts[n], (ny, nx)) > 0
        # Sub-pixel spread of the image edges.
        union |= _member_image(footprint.astype(float), starts[n] + 1, (ny, nx)) > 0
    ok = union & np.isfinite(err_flux)
    if not ok.any():
        return np.nan, np.nan
    # Pixels without data are made up for by their share of the union (uniform weighting).
    share = ok.sum() / union.sum()
    return float(cleaned[ok].sum() / share), float(np.sum(err_flux[ok] ** 2) / share**2)
