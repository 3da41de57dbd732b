"""Spaxels to fit: binned stacked line maps, the S/N selection and the shard plan.

The stacked maps are on the interlaced 0.065" grid of the reference PA; the per-spaxel fits
(Wang et al. 2017, Sect. 6.1) use the native 0.13" scale, i.e. 2 x 2 bins. A spaxel is fitted
when at least one of the selection lines (H-alpha or [OIII]5008 by default) reaches S/N >= 5
in it (``binning: paper``). With ``binning: voronoi`` the native spaxels of the object's
footprint are grouped first into Voronoi bins of a target S/N (:mod:`ohmap.inference.binning`)
and each bin is fitted like a spaxel. The selected spaxels (bins) are cut into shards of a fixed
size, one Snakemake job each; a spaxel's (bin's) random stream derives from (galaxy, spaxel or
bin id), so the shard layout does not change any result.

Spaxel ids are ``iy * nx + ix`` on the binned grid (``ny, nx``); a Voronoi bin's id is that of
its anchor spaxel (the member nearest to its light-weighted centroid).
"""

from __future__ import annotations

import numpy as np
from astropy import units as u
from astropy.table import Table

from ohmap.errors import InputError
from ohmap.io.atomic import write_table_atomic
from ohmap.lines import FIT_LINES

from .binning import bin_members, spaxel_footprint, sum_bins, voronoi_bin_ids
from .settings import SpaxelSettings

LINE_FLUX_UNIT = u.Unit("1e-17 erg / (s cm2)")


def bin_map(flux, error, factor: int, covariance: dict | None = None):
    """Sum ``factor x factor`` blocks of a line map and add the errors in quadrature.

    A binned spaxel has data only if every pixel in it has (a partly covered spaxel's sum would
    miss flux); otherwise its flux is 0 and its error ``inf``. Rows and columns beyond a whole
    number of blocks are dropped.

    ``covariance`` (``(dy, dx)`` -> map, :attr:`ohmap.linemaps.maps.StackedMap.neighbour_covariance`)
    adds twice the covariance of every pair of pixels of a block at those lags: exact for
    2 x 2 blocks, whose pairs are all neighbours; for larger blocks the pairs further apart
    (weakly correlated by the resampling kernel) are left out.

    Returns
    -------
    flux, error : ndarray
        Shape ``(ny // factor, nx // factor)``.
    """
    flux = np.asarray(flux, dtype=float)
    error = np.asarray(error, dtype=float)
    ny, nx = (s // factor * factor for s in flux.shape)

    def blocks(image):
        return image[:ny, :nx].reshape(ny // factor, factor, nx // factor, factor)

    f, e = blocks(flux), blocks(error)
    ok = np.isfinite(e).all(axis=(1, 3))
    binned = np.where(ok, np.where(np.isfinite(e), f, 0.0).sum(axis=(1, 3)), 0.0)
    variance = (np.where(np.isfinite(e), e, 0.0) ** 2).sum(axis=(1, 3))
    if covariance:
        y, x = np.mgrid[0:ny, 0:nx]
        for (dy, dx), cov in covariance.items():
            same_block = (
                (y % factor + dy < factor) & (x % factor + dx >= 0) & (x % factor + dx < factor)
            )
            pairs = np.where(same_block, np.nan_to_num(np.asarray(cov, float)[:ny, :nx]), 0.0)
            variance = variance + 2.0 * blocks(pairs).sum(axis=(1, 3))
    binned_error = np.where(ok, np.sqrt(np.clip(variance, 0.0, None)), np.inf)
    return binned, binned_error


def select_spaxels(
    stacks: dict, settings: SpaxelSettings, galaxy: str = "", footprint=None
) -> tuple[Table, tuple]:
    """The spaxels (or Voronoi bins) of one galaxy to fit, with their binned fluxes.

    Parameters
    ----------
    stacks : dict
        Line name -> object with ``flux`` and ``error`` maps (line flux per pixel,
        1e-17 erg/s/cm^2), e.g. :class:`ohmap.linemaps.maps.StackedMap`; lines outside
        :data:`ohmap.lines.FIT_LINES` are ignored.
    settings : SpaxelSettings
    galaxy : str
        Named in errors.
    footprint : ndarray of bool, optional
        The object's footprint on the stacked maps' grid (their ``FOOTPRINT``): with
        ``binning: voronoi`` only the spaxels in it are binned (default: every spaxel).
        ``binning: paper`` does not use it.

    Returns
    -------
    table : astropy.table.Table
        One row per fitted object, by increasing id: ``spaxel``, ``iy``, ``ix``,
        ``<line>_flux`` and ``<line>_err`` per line (inf error: no data), ``snr_max`` and
        ``selected_by`` (the line with the highest S/N among the selection lines). With
        ``binning: paper`` an object is a spaxel, fitted when ``snr_max >= min_snr``. With
        ``binning: voronoi`` it is a Voronoi bin (:mod:`ohmap.inference.binning`): ``spaxel``
        is the bin id (its anchor spaxel's id), ``iy``, ``ix`` the anchor's position,
        ``n_spaxels`` and ``members`` (the member spaxel ids, ascending, comma-separated) are
        added, the fluxes are the members' sums (errors in quadrature), and a bin is fitted
        when its ``snr_max >= min_snr`` too.
    shape : tuple
        ``(ny, nx)`` of the binned grid.
    """
    lines = [n for n in FIT_LINES if n in stacks]
    if not lines:
        raise InputError(
            galaxy or "stacked maps",
            f"no map of any line the inference uses ({', '.join(FIT_LINES)})",
        )
    binned = {
        n: bin_map(
            stacks[n].flux,
            stacks[n].error,
            settings.bin_pixels,
            getattr(stacks[n], "neighbour_covariance", None),
        )
        for n in lines
    }
    shape = binned[lines[0]][0].shape
    selecting = [n for n in settings.snr_lines if n in binned] or lines
    meta = dict(
        lines=lines,
        shape=list(shape),
        bin_pixels=settings.bin_pixels,
        min_snr=settings.min_snr,
        selection_lines=selecting,
        binning=settings.binning,
    )
    if settings.binning == "voronoi":
        bin_id = _voronoi_bins(binned, selecting[0], footprint, settings, shape, galaxy)
        members = bin_members(bin_id)
        ids = np.array(sorted(members), dtype=np.int64)
        binned = {n: sum_bins(*binned[n], bin_id, ids) for n in lines}
        meta.update(target_snr=settings.target_snr, binning_line=selecting[0])
    else:
        ids = np.arange(shape[0] * shape[1], dtype=np.int64)
        binned = {n: (f.ravel(), e.ravel()) for n, (f, e) in binned.items()}
    snr = np.stack(
        [
            np.where(np.isfinite(binned[n][1]), binned[n][0] / binned[n][1], -np.inf)
            for n in selecting
        ]
    )
    best = np.argmax(snr, axis=0)
    snr_max = np.max(snr, axis=0)
    (keep,) = np.nonzero(snr_max >= settings.min_snr)
    table = Table()
    table["spaxel"] = ids[keep]
    table["iy"] = (ids[keep] // shape[1]).astype(np.int32)
    table["ix"] = (ids[keep] % shape[1]).astype(np.int32)
    if settings.binning == "voronoi":
        table["n_spaxels"] = np.array([members[i].size for i in ids[keep]], dtype=np.int32)
        table["members"] = np.array(
            [",".join(str(m) for m in members[i]) for i in ids[keep]], dtype=str
        )
    for n in lines:
        table[f"{n}_flux"] = binned[n][0][keep]
        table[f"{n}_flux"].unit = LINE_FLUX_UNIT
        table[f"{n}_err"] = binned[n][1][keep]
        table[f"{n}_err"].unit = LINE_FLUX_UNIT
    table["snr_max"] = snr_max[keep]
    table["selected_by"] = (
        np.array([selecting[k] for k in best[keep]], dtype=str)
        if keep.size
        else np.array([], dtype=str)
    )
    table.meta.update(meta)
    return table, shape


def _voronoi_bins(binned, line, footprint, settings, shape, galaxy) -> np.ndarray:
    """Bin-id map of the Voronoi bins of the footprint's spaxels, by the S/N of ``line``."""
    if footprint is None:
        usable = np.ones(shape, dtype=bool)
    else:
        usable = spaxel_footprint(footprint, settings.bin_pixels)
        if usable.shape != tuple(shape):
            raise InputError(
                galaxy or "stacked maps",
                f"footprint {np.shape(footprint)} is not on the grid of the line maps",
            )
    flux, error = (a.reshape(shape) for a in binned[line])
    return voronoi_bin_ids(flux, error, usable, settings.target_snr)


def plan_bin_ids(plan: Table) -> np.ndarray:
    """The bin-id map (int32, binned grid of meta ``shape``) of a plan: each fitted object's
    id (``spaxel``) on its member spaxels (``members``, or the spaxel itself without that
    column, as with ``binning: paper``), -1 elsewhere."""
    ny, nx = (int(v) for v in plan.meta["shape"])
    out = np.full(ny * nx, -1, dtype=np.int32)
    for row in plan:
        if "members" in plan.colnames:
            members = [int(m) for m in str(row["members"]).split(",") if m]
        else:
            members = [int(row["spaxel"])]
        out[members] = int(row["spaxel"])
    return out.reshape(ny, nx)


def shard_plan(n_spaxels: int, shard_size: int) -> np.ndarray:
    """Shard index of each of ``n_spaxels`` spaxels (in order), ``shard_size`` per shard. There
    is always at least one shard, empty when no spaxel qualifies, so every galaxy has a map."""
    return (np.arange(n_spaxels) // max(int(shard_size), 1)).astype(np.int32)


def n_shards(n_spaxels: int, shard_size: int) -> int:
    return max(1, -(-int(n_spaxels) // max(int(shard_size), 1)))


def line_columns(table: Table, lines) -> tuple[np.ndarray, np.ndarray]:
    """``(flux, error)`` arrays ``(n_spaxels, n_lines)`` of a spaxel table in ``lines`` order."""
    if len(table) == 0:
        return np.zeros((0, len(lines))), np.zeros((0, len(lines)))
    flux = np.column_stack([np.asarray(table[f"{n}_flux"], dtype=float) for n in lines])
    error = np.column_stack([np.asarray(table[f"{n}_err"], dtype=float) for n in lines])
    return flux, error


def write_plan(path, table: Table, galaxy: str, shard_size: int) -> Table:
    """Write a galaxy's spaxel plan (the selected spaxels and their shard) as ECSV, atomically.

    The table gets a ``shard`` column and the meta ``n_shards`` (at least 1), which the
    workflow reads to know the shard jobs.
    """
    table = table.copy()
    table["shard"] = shard_plan(len(table), shard_size)
    table.meta.update(
        galaxy=galaxy,
        n_shards=n_shards(len(table), shard_size),
        shard_size=int(shard_size),
        description="Spaxels of the binned stacked maps selected for the per-spaxel fits: "
        "spaxel = iy * nx + ix on the binned grid of meta 'shape'; "
        "<line>_flux/_err: binned line flux and 1-sigma error (inf: no data). "
        "With meta binning = voronoi each row is a Voronoi bin: spaxel = bin id = the id of "
        "its anchor spaxel (iy, ix), n_spaxels and members (member spaxel ids, "
        "comma-separated), fluxes summed over the members, errors in quadrature.",
    )
    write_table_atomic(table, path, format="ascii.ecsv")
    return table


def read_plan(path) -> Table:
    return Table.read(path, format="ascii.ecsv")


def plan_shard_count(path) -> int:
    """Number of shards a plan file asks for."""
    return int(read_plan(path).meta["n_shards"])
