"""The object footprint and isophotal contours, from the direct image and the segmentation map.

The footprint ``G`` bounds the aperture in which a line's flux is summed and in which line
emission is expected (:func:`object_footprint`); isophotes of the smoothed direct image give the
de-blending contours (:func:`isophote`). Maps are square, centred on the object
(:func:`direct_on_map_grid`).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import binary_dilation, gaussian_filter, label

from ohmap.spectra.spectrum import Spectrum2D

from .settings import ExtractionSettings


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


def isophote(
    direct: np.ndarray, level: float, floor: float = 0.0, exclude: np.ndarray | None = None
) -> np.ndarray:
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
        how.append(
            f"direct image above max({settings.footprint_level:g} of peak, "
            f"{settings.footprint_noise_sigma:g} sigma = {floor:.3g})"
        )
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


def footprint_extent(footprint: np.ndarray) -> tuple[int, int]:
    """Columns of the footprint's left and right edges relative to the map centre column."""
    cols = np.nonzero(footprint.any(axis=0))[0]
    centre = (footprint.shape[1] - 1) / 2.0
    return int(np.floor(cols.min() - centre)), int(np.ceil(cols.max() - centre))
