"""Adaptive spatial binning of the native spaxels: Voronoi bins of a target S/N.

``inference.spaxels.binning: voronoi`` groups the native 0.13" spaxels of an object's footprint
into bins that each reach a target S/N in the binning line (Cappellari & Copin 2003, with the
weighted Voronoi tessellation of Diehl & Statler 2006, through the ``vorbin`` package), and
fits each bin like one spaxel. The bins are given as a **bin-id map** on the binned grid: every
member spaxel holds its bin's id, ``-1`` a spaxel in no bin. A bin's id is the id
(``iy * nx + ix``) of its *anchor*: the member spaxel nearest to the bin's light-weighted
centroid, so ids are unique, stable and spaxel ids like those of ``binning: paper``, where every
spaxel is its own bin.

vorbin draws no random numbers (its ``seed`` only colours its plot): the same maps give the
same bins.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
from scipy import ndimage

#: Binning schemes of ``inference.spaxels.binning``.
BINNINGS = ("paper", "voronoi")

#: vorbin's criterion: a bin is good when its S/N reaches this fraction of the target.
GOOD_FRACTION = 0.8

#: Floor of the S/N vorbin is told a bin has, as a fraction of the target (see
#: :func:`voronoi_bin_ids`).
_SNR_FLOOR = 0.01

_EIGHT = np.ones((3, 3), dtype=bool)

log = logging.getLogger(__name__)


def spaxel_footprint(footprint, factor: int) -> np.ndarray:
    """The footprint on the binned grid: a spaxel is in it when at least half of its
    ``factor x factor`` pixels are (rows and columns beyond whole blocks are dropped, as by
    :func:`ohmap.inference.spaxels.bin_map`)."""
    fp = np.asarray(footprint, dtype=bool)
    ny, nx = (s // factor * factor for s in fp.shape)
    blocks = fp[:ny, :nx].reshape(ny // factor, factor, nx // factor, factor)
    return blocks.sum(axis=(1, 3)) * 2 >= factor * factor


def _bin_snr(signal, noise, index=None) -> float:
    s = signal if index is None else signal[index]
    n = noise if index is None else noise[index]
    return float(np.sum(s) / np.sqrt(np.sum(n**2)))


def voronoi_bin_ids(signal, noise, usable, target_snr: float) -> np.ndarray:
    """Voronoi bins of the ``usable`` spaxels reaching ``target_snr`` (vorbin).

    Parameters
    ----------
    signal, noise : ndarray
        Flux and 1-sigma error of the binning line on the binned grid; a bin's S/N is
        ``sum(signal) / sqrt(sum(noise**2))``.
    usable : ndarray of bool
        Spaxels that may join a bin (the footprint); only those with a finite signal and a
        finite, positive noise do.
    target_snr : float

    Returns
    -------
    ndarray of int64
        The bin-id map (shape of ``signal``): anchor spaxel id of each member's bin, -1 outside.

    Notes
    -----
    * A spaxel's signal may be negative (noise in the outskirts): it enters the sums as it is,
      so a bin's S/N is that of its summed fluxes. vorbin's weighted tessellation scales a bin
      by ``sqrt(n / S/N)``, which needs a positive S/N: the S/N vorbin is told is floored at 1%
      of the target. Only bins of no net signal are affected, and those never count as good.
    * Every usable spaxel at or above the target already: each is its own bin (vorbin refuses).
    * All usable spaxels together below 0.8 x the target (or none usable): no bin. Together
      between 0.8 and 1 x the target: one bin of them all (vorbin refuses, its criterion
      passes); likewise when vorbin's accretion makes no good bin although they reach the
      target together (vorbin fails then).
    * Bins are made 8-connected: a piece of a bin detached from its main part (possible where
      the footprint is not convex) joins the bin it borders most, or, bordering none, stays a
      bin of its own.
    * Every bin reaches vorbin's criterion, 0.8 x the target: vorbin's final tessellation can
      leave a few outer bins below it (noise spaxels reassigned to them), and those are merged,
      faintest first, into the neighbouring bin that gives the highest merged S/N; a bin below
      it with no neighbour is dropped.
    """
    signal = np.asarray(signal, dtype=float)
    noise = np.asarray(noise, dtype=float)
    ok = np.asarray(usable, dtype=bool) & np.isfinite(signal) & np.isfinite(noise) & (noise > 0)
    labels = np.full(signal.shape, -1, dtype=np.int64)
    iy, ix = np.nonzero(ok)
    if iy.size == 0:
        return labels
    s, n = signal[iy, ix], noise[iy, ix]
    total = _bin_snr(s, n)
    if not total >= GOOD_FRACTION * target_snr:
        return labels
    if np.all(s / n >= target_snr):
        classes = np.arange(iy.size)
    elif iy.size == 1 or total < target_snr:
        classes = np.zeros(iy.size, dtype=np.int64)
    else:
        classes = _vorbin_classes(ix, iy, s, n, target_snr)
    labels[iy, ix] = classes
    labels = _connected(labels)
    labels = _merge_faint(labels, signal, noise, target_snr)
    return _anchor_ids(labels, signal)


def _vorbin_classes(x, y, signal, noise, target_snr) -> np.ndarray:
    floor = _SNR_FLOOR * target_snr

    def snr(index, signal, noise):
        return max(_bin_snr(signal, noise, index), floor)

    with warnings.catch_warnings():
        # vorbin 3.2 warns on import and on every call that PowerBin supersedes it.
        warnings.simplefilter("ignore", UserWarning)
        from vorbin.voronoi_2d_binning import voronoi_2d_binning

        try:
            classes = voronoi_2d_binning(
                np.asarray(x, dtype=float),
                np.asarray(y, dtype=float),
                signal,
                noise,
                float(target_snr),
                pixelsize=1.0,
                plot=False,
                quiet=True,
                sn_func=snr,
            )[0]
        except (IndexError, ValueError) as error:
            # vorbin fails when its accretion makes no good bin (the S/N is spread too thinly
            # for any compact bin to reach 0.8 x the target, although all spaxels together do).
            log.info("vorbin made no bin (%s): one bin of all %d spaxels", error, len(x))
            return np.zeros(len(x), dtype=np.int64)
    return np.asarray(classes, dtype=np.int64)


def _connected(labels) -> np.ndarray:
    """Labels whose every bin is one 8-connected piece (see :func:`voronoi_bin_ids`)."""
    out = labels.copy()
    next_label = int(labels.max()) + 1
    for b in np.unique(labels[labels >= 0]):
        pieces, n_pieces = ndimage.label(labels == b, structure=_EIGHT)
        if n_pieces < 2:
            continue
        sizes = ndimage.sum(np.ones(labels.shape), pieces, index=np.arange(1, n_pieces + 1))
        main = 1 + int(np.argmax(sizes))
        for p in range(1, n_pieces + 1):
            if p == main:
                continue
            piece = pieces == p
            ring = ndimage.binary_dilation(piece, structure=_EIGHT) & ~piece
            neighbours = out[ring]
            neighbours = neighbours[(neighbours >= 0) & (neighbours != b)]
            if neighbours.size:
                values, counts = np.unique(neighbours, return_counts=True)
                out[piece] = values[np.argmax(counts)]
            else:
                out[piece] = next_label
                next_label += 1
    return out


def _merge_faint(labels, signal, noise, target_snr) -> np.ndarray:
    """Merge every bin below vorbin's criterion into the neighbour (8-connected) giving the
    highest merged S/N, faintest first, until none is left; a faint bin without neighbours is
    dropped."""
    out = labels.copy()
    threshold = GOOD_FRACTION * target_snr
    s = np.where(out >= 0, signal, 0.0)
    v = np.where(out >= 0, noise, 0.0) ** 2
    while True:
        inside = out >= 0
        size = int(out.max()) + 1 if inside.any() else 0
        fsum = np.bincount(out[inside], weights=s[inside], minlength=size)
        vsum = np.bincount(out[inside], weights=v[inside], minlength=size)
        present = np.bincount(out[inside], minlength=size) > 0
        snr = np.full(size, np.inf)
        snr[present] = fsum[present] / np.sqrt(vsum[present])
        if not size or snr.min() >= threshold:
            return out
        b = int(np.argmin(snr))
        piece = out == b
        ring = ndimage.binary_dilation(piece, structure=_EIGHT) & ~piece
        neighbours = np.unique(out[ring])
        neighbours = neighbours[neighbours >= 0]
        if not neighbours.size:
            out[piece] = -1
            continue
        merged = (fsum[neighbours] + fsum[b]) / np.sqrt(vsum[neighbours] + vsum[b])
        out[piece] = neighbours[np.argmax(merged)]


def _anchor_ids(labels, signal) -> np.ndarray:
    """Relabel bins by their anchor: the member nearest to the centroid weighted by
    ``max(signal, 0)`` (the geometric centroid for a bin without positive signal); ties go to
    the lower spaxel id."""
    nx = labels.shape[1]
    out = np.full(labels.shape, -1, dtype=np.int64)
    for b in np.unique(labels[labels >= 0]):
        my, mx = np.nonzero(labels == b)
        w = np.clip(signal[my, mx], 0.0, None)
        if not w.sum() > 0:
            w = np.ones_like(w)
        cy, cx = np.sum(w * my) / w.sum(), np.sum(w * mx) / w.sum()
        k = int(np.argmin((my - cy) ** 2 + (mx - cx) ** 2))  # nonzero: ascending ids
        out[my, mx] = my[k] * nx + mx[k]
    return out


def bin_members(bin_id) -> dict:
    """Bin id -> ascending array of its member spaxel ids (``iy * nx + ix``)."""
    flat = np.asarray(bin_id).ravel()
    members = np.flatnonzero(flat >= 0)
    order = np.argsort(flat[members], kind="stable")
    ids, starts = np.unique(flat[members][order], return_index=True)
    groups = np.split(members[order], starts[1:])
    return {int(i): g for i, g in zip(ids, groups)}


def sum_bins(flux, error, bin_id, ids):
    """Fluxes of bins: the sums of their members' fluxes, the errors added in quadrature.

    A bin has data only if every member has (as a binned spaxel in
    :func:`ohmap.inference.spaxels.bin_map`); otherwise its flux is 0 and its error ``inf``.

    Returns
    -------
    flux, error : ndarray
        One value per id of ``ids``.
    """
    flat = np.asarray(bin_id).ravel()
    f = np.asarray(flux, dtype=float).ravel()
    e = np.asarray(error, dtype=float).ravel()
    good = np.isfinite(e) & np.isfinite(f)
    ids = np.asarray(ids, dtype=np.int64)
    pos = np.searchsorted(ids, flat)
    inside = (flat >= 0) & (pos < ids.size)
    inside[inside] &= ids[pos[inside]] == flat[inside]
    k = pos[inside]
    fsum = np.bincount(k, weights=np.where(good[inside], f[inside], 0.0), minlength=ids.size)
    vsum = np.bincount(k, weights=np.where(good[inside], e[inside] ** 2, 0.0), minlength=ids.size)
    bad = np.bincount(k, weights=(~good[inside]).astype(float), minlength=ids.size) > 0
    return np.where(bad, 0.0, fsum), np.where(bad, np.inf, np.sqrt(vsum))
