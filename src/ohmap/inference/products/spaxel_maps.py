"""Per-spaxel maps of a galaxy (FITS): the summaries of all its shards on the binned map grid,
each bin's values on every spaxel of it (``BINID``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table, vstack

from ohmap import __version__
from ohmap.errors import InputError
from ohmap.inference.summary import conservative_error
from ohmap.io.atomic import write_fits_atomic
from ohmap.io.serialize import card_value

from .quantities import QUANTITY_UNITS

_NOT_FITTED = "NaN: spaxel not fitted, see FITTED"


#: Extensions of the spaxel-map product: name, (quantity, statistic) or a marker, unit, content.
_MAP_EXTENSIONS = (
    ("OH12", ("oh12", "p50"), "dex", "12+log(O/H), posterior median"),
    ("OH12_P16", ("oh12", "p16"), "dex", "12+log(O/H), 16th percentile"),
    ("OH12_P84", ("oh12", "p84"), "dex", "12+log(O/H), 84th percentile"),
    (
        "OH12_ERR",
        ("oh12", "err"),
        "dex",
        "conservative 1-sigma error of 12+log(O/H): max(p84-p50, p50-p16)",
    ),
    ("AV", ("av", "p50"), "mag", "nebular A_V, posterior median"),
    ("AV_ERR", ("av", "err"), "mag", "conservative 1-sigma error of A_V: max(p84-p50, p50-p16)"),
    (
        "SFRD",
        ("sfr_density", "p50"),
        QUANTITY_UNITS["sfr_density"],
        "star-formation-rate surface density, posterior median (lensing-invariant)",
    ),
    (
        "SFRD_ERR",
        ("sfr_density", "err"),
        QUANTITY_UNITS["sfr_density"],
        "conservative 1-sigma error of the SFR surface density: max(p84-p50, p50-p16)",
    ),
    (
        "HBETA",
        ("hbeta", "p50"),
        QUANTITY_UNITS["hbeta"],
        "intrinsic (dust-corrected, lensed) H-beta flux of the spaxel, posterior median",
    ),
)


def _as_summary(summary) -> Table:
    if isinstance(summary, Table):
        return summary
    tables = [t for t in summary]
    if not tables:
        return Table(
            {
                "spaxel": np.zeros(0, np.int64),
                "iy": np.zeros(0, np.int64),
                "ix": np.zeros(0, np.int64),
            }
        )
    return vstack(tables, join_type="outer", metadata_conflicts="silent")


def _check_positions(summary: Table, shape) -> tuple:
    ny, nx = (int(v) for v in shape)
    spaxel = (
        np.asarray(summary["spaxel"]) if "spaxel" in summary.colnames else np.arange(len(summary))
    )
    iy_raw = np.asarray(summary["iy"])
    ix_raw = np.asarray(summary["ix"])
    for name, raw in (("iy", iy_raw), ("ix", ix_raw)):
        if len(raw) and not np.issubdtype(raw.dtype, np.integer):
            as_float = raw.astype(float)
            bad = np.flatnonzero(~np.isfinite(as_float) | (as_float != np.round(as_float)))
            if bad.size:
                raise ValueError(
                    f"spaxel {spaxel[bad[0]]}: {name} = {raw[bad[0]]} is not an integer index"
                )
    iy = iy_raw.astype(np.int64)
    ix = ix_raw.astype(np.int64)
    outside = np.flatnonzero((iy < 0) | (iy >= ny) | (ix < 0) | (ix >= nx))
    if outside.size:
        k = outside[0]
        raise ValueError(
            f"spaxel {spaxel[k]} at (iy, ix) = ({iy[k]}, {ix[k]}) is outside the {ny} x {nx} "
            f"map grid ({outside.size} spaxel(s) outside)"
        )
    flat = iy * nx + ix
    order = np.argsort(flat, kind="stable")
    dup = np.flatnonzero(np.diff(flat[order]) == 0)
    if dup.size:
        a, b = order[dup[0]], order[dup[0] + 1]
        raise ValueError(
            f"spaxels {spaxel[a]} and {spaxel[b]} both sit at (iy, ix) = ({iy[a]}, {ix[a]}): "
            "each map pixel can hold one fit only"
        )
    return iy, ix


def _column(summary: Table, name: str):
    if name not in summary.colnames:
        return None
    col = summary[name]
    if hasattr(col, "filled"):
        col = col.filled(np.nan)
    return np.asarray(col, dtype=float)


def _bin_rows(summary: Table, iy, ix, shape, bin_id):
    """The bin-id map of the fitted bins and, per map pixel, the summary row of its bin (-1: not
    fitted); checks that each row's anchor pixel carries its bin id."""
    ny, nx = shape
    ids = (
        np.asarray(summary["spaxel"], dtype=np.int64)
        if "spaxel" in summary.colnames
        else iy * nx + ix
    )
    if bin_id is None:
        out = np.full((ny, nx), -1, dtype=np.int32)
        out[iy, ix] = ids
        row = np.full((ny, nx), -1, dtype=np.int64)
        row[iy, ix] = np.arange(len(ids))
        return out, row
    if len(np.unique(ids)) < len(ids):
        raise ValueError("two summary rows share a bin id (column 'spaxel')")
    out = np.asarray(bin_id)
    if out.shape != (ny, nx):
        raise ValueError(f"bin-id map {out.shape} is not on the {ny} x {nx} map grid")
    if not np.issubdtype(out.dtype, np.integer):
        raise ValueError(f"bin-id map of dtype {out.dtype}: bin ids are integers")
    wrong = np.flatnonzero(out[iy, ix] != ids)
    if wrong.size:
        k = wrong[0]
        raise ValueError(
            f"spaxel {ids[k]} at (iy, ix) = ({iy[k]}, {ix[k]}) is not in its own bin (the "
            f"bin-id map holds {out[iy[k], ix[k]]} there)"
        )
    out = np.where(np.isin(out, ids), out, -1).astype(np.int32)
    order = np.argsort(ids, kind="stable")
    flat = out.ravel()
    row = np.full(flat.size, -1, dtype=np.int64)
    inside = flat >= 0
    row[inside] = order[np.searchsorted(ids[order], flat[inside])]
    return out, row.reshape(ny, nx)


def _flag_hdus(summary, members, row, converged, fitted, bins) -> list:
    """The OH12_LIM, CONVERGED, FITTED and BINID extensions."""
    ny, nx = fitted.shape
    n_fit = int(fitted.sum())
    out = []
    lim = np.full((ny, nx), -2, dtype=np.int8)
    if "oh12_limit" in summary.colnames:
        codes = {"": 0, "<": -1, ">": 1}
        per_row = np.array(
            [codes.get(str(v).strip(), 0) for v in summary["oh12_limit"]], dtype=np.int8
        )
        lim[members] = per_row[row[members]]
    elif n_fit:
        lim[members] = 0
    hdu = fits.ImageHDU(lim, name="OH12_LIM")
    hdu.header["BUNIT"] = ("", "flag, no unit")
    hdu.header["CONTENT"] = (
        "12+log(O/H) limit flag: 0 measured, -1 upper limit, +1 lower limit, -2 not fitted"
    )
    out.append(hdu)
    hdu = fits.ImageHDU(converged, name="CONVERGED")
    hdu.header["BUNIT"] = ("", "flag, no unit")
    hdu.header["CONTENT"] = "chain convergence: 1 converged, 0 not converged, -1 not fitted"
    out.append(hdu)
    hdu = fits.ImageHDU(fitted, name="FITTED")
    hdu.header["BUNIT"] = ("", "mask, no unit")
    hdu.header["CONTENT"] = "1 = spaxel fitted (has a posterior), 0 = not fitted"
    out.append(hdu)
    hdu = fits.ImageHDU(bins, name="BINID")
    hdu.header["BUNIT"] = ("", "bin id, no unit")
    hdu.header["CONTENT"] = (
        "id of the spaxel's fitted bin (iy * nx + ix of its anchor spaxel), -1 = not fitted"
    )
    out.append(hdu)
    return out


def write_spaxel_maps(
    path, galaxy: str, shape, summary, header_cards: dict | None = None, bin_id=None
) -> Path:
    """Place the posterior summaries of a galaxy's spaxels (or bins) on its binned map grid.

    Parameters
    ----------
    path : str or Path
        Destination; written via ``<path>.part`` and renamed when complete.
    galaxy : str
        Galaxy id.
    shape : tuple of int
        ``(ny, nx)`` of the binned map grid.
    summary : Table or sequence of Table
        The summary tables of all the galaxy's shards (:attr:`~ohmap.inference.products.shards.ShardResult.summary`), already
        concatenated or as a list (stacked here); may be empty.
    header_cards : dict, optional
        ``key -> (value, comment)`` for the primary header (redshift, binning, pixel scale,
        calibration, ...). Keys longer than 8 characters become HIERARCH cards.
    bin_id : ndarray of int, optional
        The bin-id map (``shape``) of Voronoi bins (:func:`ohmap.inference.spaxels.plan_bin_ids`):
        each summary row (a bin, id ``spaxel`` at its anchor ``iy``, ``ix``) is painted on
        every spaxel holding its id. Default: each row is one spaxel, its own bin.

    Notes
    -----
    Extensions: ``OH12``, ``OH12_P16``, ``OH12_P84``, ``OH12_ERR`` (dex), ``AV``, ``AV_ERR`` (mag),
    ``SFRD``, ``SFRD_ERR`` (Msun/yr/kpc^2), ``HBETA`` (1e-17 erg/s/cm^2, per spaxel: a bin's
    flux divided by its number of spaxels), ``OH12_LIM`` (int8: 0 measured, -1 upper limit,
    +1 lower limit, -2 not fitted), ``CONVERGED`` (int16: 1 converged, 0 not, -1 not fitted),
    ``FITTED`` (uint8: 1 fitted) and ``BINID`` (int32: the id of the spaxel's fitted bin, -1
    none; the spaxel's own id with ``binning: paper``). Every member of a bin carries the
    bin's values. Errors are the conservative ``max(p84 - p50, p50 - p16)``. Value maps are
    NaN where no spaxel was fitted (each header says so); ``NFITTED`` in the primary header
    counts the fitted spaxels, ``NBINS`` the fitted bins, ``BINNING`` says which binning
    (``paper`` unless the header cards say otherwise or a bin has several spaxels).

    Raises
    ------
    ValueError
        Two spaxels share an ``(iy, ix)``, one lies outside ``shape`` (the message names it),
        or the bin-id map does not put a row's anchor in its own bin.
    """
    summary = _as_summary(summary)
    ny, nx = (int(v) for v in shape)
    if ny < 1 or nx < 1:
        raise ValueError(f"map shape {shape} must be positive")
    for c in ("iy", "ix"):
        if c not in summary.colnames:
            raise ValueError(f"summary table lacks column {c!r}")
    iy, ix = _check_positions(summary, (ny, nx))
    bins, row = _bin_rows(summary, iy, ix, (ny, nx), bin_id)
    members = row >= 0
    n_members = np.bincount(row[members], minlength=len(summary))
    n_bins = len(summary)
    fitted = members.astype(np.uint8)
    n_fit = int(fitted.sum())
    converged = np.full((ny, nx), -1, dtype=np.int16)
    if "converged" in summary.colnames:
        converged[members] = np.asarray(summary["converged"], dtype=bool).astype(np.int16)[
            row[members]
        ]
    n_conv = int(np.sum(converged == 1))

    primary = fits.PrimaryHDU()
    h = primary.header
    h["OBJECT"] = (str(galaxy), "galaxy id")
    h["PRODUCT"] = ("spaxel posterior maps", "ohmap product type")
    h["MAPNY"] = (ny, "[pixel] rows of the binned map grid")
    h["MAPNX"] = (nx, "[pixel] columns of the binned map grid")
    h["NFITTED"] = (n_fit, "spaxels with a posterior (FITTED = 1)")
    h["NBINS"] = (n_bins, "fitted bins (one posterior each; BINID)")
    h["NCONVERG"] = (n_conv, "fitted spaxels whose chains converged")
    h["BINNING"] = (
        "voronoi" if np.any(n_members > 1) else "paper",
        "paper: each spaxel fitted alone; voronoi: bins",
    )
    for key, card in (header_cards or {}).items():
        value, comment = card if isinstance(card, tuple) else (card, "")
        key = str(key).upper()
        if len(key) > 8 or not key.replace("-", "").replace("_", "").isalnum():
            key = f"HIERARCH {key}"
        h[key] = (card_value(value), str(comment))
    h["OHMAPVER"] = (__version__, "ohmap version")
    h["COMMENT"] = (
        "Posterior summaries of the per-spaxel Bayesian inference (Wang et al. 2017, "
        "Sect. 4.4 and 6.1) on the binned map grid; pixel (iy, ix) = (row, column)."
    )
    h["COMMENT"] = "Value maps are NaN where no spaxel was fitted (see FITTED)."
    h["COMMENT"] = "Each spaxel of a bin (BINID) carries the bin's values."
    if n_fit == 0:
        h["COMMENT"] = (
            "No spaxel of this galaxy was fitted (none passed the selection): every value "
            "map is NaN, FITTED is 0 and CONVERGED is -1 everywhere."
        )

    hdus = [primary]
    for name, (q, stat), unit, content in _MAP_EXTENSIONS:
        image = np.full((ny, nx), np.nan)
        if stat == "err":
            p16, p50, p84 = (_column(summary, f"{q}_{s}") for s in ("p16", "p50", "p84"))
            values = None if p50 is None else conservative_error(p16, p50, p84)
        else:
            values = _column(summary, f"{q}_{stat}")
        if values is not None:
            if q == "hbeta":
                values = values / np.maximum(n_members, 1)
            image[members] = values[row[members]]
        hdu = fits.ImageHDU(image, name=name)
        hh = hdu.header
        hh["BUNIT"] = (unit, {"dex": "12+log(O/H) in dex"}.get(unit, "unit of the map values"))
        hh["CONTENT"] = content
        hh["QUANTITY"] = (q, "ohmap quantity name")
        hh["NANMEANS"] = (
            _NOT_FITTED
            if values is not None or n_fit == 0
            else f"no {q} in the summaries: NaN everywhere",
            "meaning of NaN",
        )
        hh["COMMENT"] = _NOT_FITTED
        if values is None and n_fit:
            hh["COMMENT"] = (
                f"The summaries hold no {q} (e.g. no spaxel size was given), so this map is NaN "
                "at every pixel, fitted or not."
            )
        if n_fit == 0:
            hh["COMMENT"] = "No spaxel was fitted (NFITTED = 0): NaN everywhere."
        hdus.append(hdu)

    hdus += _flag_hdus(summary, members, row, converged, fitted, bins)
    write_fits_atomic(fits.HDUList(hdus), path)
    return Path(path)


def read_spaxel_maps(path) -> dict:
    """Read a product of :func:`write_spaxel_maps`.

    Returns
    -------
    dict
        Extension name -> array (value maps float64 with NaN where not fitted; ``CONVERGED``
        int16; ``OH12_LIM`` int8; ``FITTED`` bool; ``BINID`` int32, made from ``FITTED`` (each
        fitted spaxel its own bin) for a product written before bins), plus ``"header"`` (the
        primary header), ``"units"`` (extension -> BUNIT) and ``"galaxy"``.
    """
    try:
        hdul = fits.open(path)
    except OSError as error:
        raise InputError(path, f"not a readable FITS file ({error})") from None
    with hdul:
        h = hdul[0].header
        if "NFITTED" not in h or "FITTED" not in hdul:
            raise InputError(
                path, "not an ohmap spaxel-map product (no NFITTED card or FITTED extension)"
            )
        out = {"header": h.copy(), "galaxy": str(h["OBJECT"]), "units": {}}
        for hdu in hdul[1:]:
            name = hdu.name
            data = np.asarray(hdu.data)
            if name == "FITTED":
                data = data.astype(bool)
            elif name == "CONVERGED":
                data = data.astype(np.int16)
            elif name == "OH12_LIM":
                data = data.astype(np.int8)
            elif name == "BINID":
                data = data.astype(np.int32)
            else:
                data = data.astype(np.float64)
            out[name] = data
            out["units"][name] = hdu.header.get("BUNIT", "")
        if "BINID" not in out:
            fitted = out["FITTED"]
            ids = np.arange(fitted.size, dtype=np.int32).reshape(fitted.shape)
            out["BINID"] = np.where(fitted, ids, -1).astype(np.int32)
            out["units"]["BINID"] = ""
        return out


def spaxel_map_cards(galaxy: str, redshift: float, plan_meta: dict, model: dict) -> dict:
    """Header cards of a galaxy's spaxel maps: what was fitted and how.

    No card records the shard layout: the maps are the same whatever it is.

    Parameters
    ----------
    galaxy : str
    redshift : float
        Catalogue redshift.
    plan_meta : dict
        The spaxel plan's meta (``bin_pixels``, ``pixel_scale_arcsec``, ``min_snr``,
        ``selection_lines``; ``binning``, default ``paper``, and with ``voronoi`` ``target_snr``
        and ``binning_line``).
    model : dict
        The ``inference.model`` configuration section.
    """
    binning = str(plan_meta.get("binning", "paper"))
    cards = {
        "OBJECT": (galaxy, "galaxy id"),
        "REDSHIFT": (redshift, "catalogue redshift"),
        "BINPIX": (int(plan_meta["bin_pixels"]), "stacked-map pixels per spaxel side"),
        "PIXSCALE": (float(plan_meta["pixel_scale_arcsec"]), "[arcsec/spaxel] spaxel side"),
        "BINNING": (binning, "paper: each spaxel fitted alone; voronoi: bins"),
        "MINSNR": (float(plan_meta["min_snr"]), "selection: S/N of one selection line at least"),
        "SNRLINES": (",".join(plan_meta["selection_lines"]), "selection lines"),
        "CALIB": (model.get("calibration", "maiolino2008"), "strong-line calibration"),
        "LIKELIHD": (model.get("likelihood", "gaussian"), "likelihood"),
    }
    if binning == "voronoi":
        cards["TARGSNR"] = (float(plan_meta["target_snr"]), "target S/N of the Voronoi bins")
        cards["BINLINE"] = (str(plan_meta["binning_line"]), "line whose S/N the bins reach")
    return cards
