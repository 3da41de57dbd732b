"""Products of the Bayesian inference: posterior shards, per-spaxel maps and global-fit tables.

Wang et al. (2017), Sect. 4.4 (the inference), Fig. 5 (a global fit) and Sect. 6.1 (the
per-spaxel metallicity maps). Three products:

* a **shard** (HDF5, :func:`write_shard` / :func:`read_shard`): the posteriors of a block of
  spaxels of one galaxy -- the spaxel table, the thinned chains (float32, gzip), and per spaxel
  the autocorrelation times, acceptance, convergence flag and the summary (16th/50th/84th
  percentiles, reported value and limit flag) of every quantity;
* the **spaxel maps** of a galaxy (FITS, :func:`write_spaxel_maps` / :func:`read_spaxel_maps`):
  the summaries of all its shards placed on the binned map grid;
* the **global-fit table** (ECSV, :func:`global_fit_row`, :func:`write_global_fit` /
  :func:`read_global_fit`): one row per galaxy, from its integrated line fluxes.

Quantities and their units (:data:`QUANTITY_UNITS`): ``oh12`` = 12+log(O/H) (dex), ``av`` = the
nebular A_V (mag), ``hbeta`` = the intrinsic (dust-corrected) H-beta flux (1e-17 erg/s/cm^2),
``sfr`` (Msun/yr, corrected for the magnification), ``sfr_density`` (Msun/yr/kpc^2, spaxel fits)
and ``nii_ha`` ([NII]/H-alpha, dimensionless; extended parameter set only).

Every file is written under a temporary name in the destination folder and renamed into place
only when complete; a failure removes the temporary file, so no partial product is ever left.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Column, MaskedColumn, Table, vstack

from .. import __version__
from ..inference import conservative_error
from ..errors import InputError
from .atomic import atomic_path, write_fits_atomic, write_table_atomic
from .serialize import card_value, dumps, plain

#: Unit of each summarised quantity (astropy unit strings; ``""`` = dimensionless).
QUANTITY_UNITS = {
    "oh12": "dex",
    "av": "mag",
    "hbeta": "1e-17 erg / (s cm2)",
    "nii_ha": "",
    "sfr": "solMass / yr",
    "sfr_density": "solMass / (yr kpc2)",
}
#: What each quantity is, for headers and table descriptions.
QUANTITY_DESCRIPTIONS = {
    "oh12": "gas-phase metallicity 12+log(O/H)",
    "av": "nebular extinction A_V",
    "hbeta": "intrinsic (dust-corrected) H-beta flux, observed (lensed)",
    "nii_ha": "[NII]/H-alpha flux ratio",
    "sfr": "star-formation rate from the intrinsic H-beta flux, divided by the magnification",
    "sfr_density": "star-formation-rate surface density of the spaxel (lensing-invariant)",
}
#: Unit of each sampled parameter (the chains' last axis).
PARAMETER_UNITS = {
    "oh12": "dex",
    "av": "mag",
    "log_hbeta": "dex(1e-17 erg / (s cm2))",
    "log_nii_ha": "dex",
}
#: Order in which :func:`ohmap.inference.derived_samples` produces the quantities.
_QUANTITY_ORDER = ("oh12", "av", "hbeta", "nii_ha", "sfr", "sfr_density")
_STATS = ("p16", "p50", "p84", "value")
_SHARD_FORMAT = "ohmap-posterior-shard-1"
_NOT_FITTED = "NaN: spaxel not fitted, see FITTED"


# ----------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------








def quantity_unit(name: str) -> str:
    """Unit of a summarised quantity (``""``: dimensionless)."""
    return QUANTITY_UNITS.get(name, "")


def _fit_quantities(fits_, model, meta) -> list:
    """Quantities of the summaries (checked the same for every fit), or, without fits, those the
    model would produce (``sfr_density`` when ``meta`` gives a ``spaxel_arcsec`` or
    ``pixel_scale_arcsec``)."""
    if fits_:
        names = list(fits_[0].summary)
        for f in fits_[1:]:
            if list(f.summary) != names:
                raise ValueError(f"fit {f.key} summarises {list(f.summary)}, the first fit {names}")
        return names
    extended = getattr(model, "extended", False)
    return [q for q in _QUANTITY_ORDER
            if (q != "nii_ha" or extended) and (q != "sfr_density" or _spaxel_size(meta))]


def _spaxel_size(meta) -> float | None:
    meta = meta or {}
    return meta.get("spaxel_arcsec") or meta.get("pixel_scale_arcsec")


def _stored_steps(sampler) -> int:
    if sampler is None:
        return 0
    return len(range(0, sampler.n_steps - sampler.n_burn, sampler.thin))


# ----------------------------------------------------------------------------------------------
# Shards (HDF5)
# ----------------------------------------------------------------------------------------------


@dataclass
class ShardResult:
    """What :func:`read_shard` returns.

    Attributes
    ----------
    galaxy : str
    spaxels : Table
        The spaxel table as written (``spaxel``, ``iy``, ``ix`` and any flux columns, with units).
    summary : Table
        One row per spaxel: ``spaxel``, ``iy``, ``ix``; per quantity ``<q>_p16``, ``<q>_p50``,
        ``<q>_p84``, ``<q>_value`` (its unit) and ``<q>_limit`` (``""``, ``"<"`` or ``">"``);
        ``err_oh12`` (dex, ``max(p84 - p50, p50 - p16)``), ``tau_max`` (steps), ``converged``,
        ``acceptance`` (fraction).
    chains : ndarray
        float32, ``(n_spaxels, n_stored_steps, n_walkers, ndim)``, sampled coordinates.
    names : tuple of str
        Sampled parameters (the chains' last axis).
    units : dict
        Unit of each sampled parameter.
    tau : ndarray
        ``(n_spaxels, ndim)`` integrated autocorrelation times, steps.
    keys : list of tuple
        The fits' keys.
    lines : tuple of str
    calibration : str
    inference_settings, sampler_settings : dict or None
        As written (``dataclasses.asdict``).
    meta : dict
    version : str
        ohmap version that wrote the shard.
    """

    galaxy: str
    spaxels: Table
    summary: Table
    chains: np.ndarray
    names: tuple
    units: dict = field(default_factory=dict)
    tau: np.ndarray | None = None
    keys: list = field(default_factory=list)
    lines: tuple = ()
    calibration: str = ""
    inference_settings: dict | None = None
    sampler_settings: dict | None = None
    meta: dict = field(default_factory=dict)
    version: str = ""

    @property
    def chain(self) -> np.ndarray:
        """Alias of :attr:`chains`."""
        return self.chains


def _write_column(group, name: str, col) -> None:
    import h5py

    data = np.asarray(col)
    mask = None
    if isinstance(col, MaskedColumn):
        mask = np.asarray(col.mask, dtype=bool).reshape(np.shape(col))
        data = np.asarray(col.filled())
    if data.dtype.kind in "US":
        values = [v.decode() if isinstance(v, bytes) else str(v) for v in data.ravel()]
        ds = group.create_dataset(name, data=np.array(values, dtype=object).reshape(data.shape),
                                  dtype=h5py.string_dtype("utf-8"))
        ds.attrs["kind"] = "str"
    elif data.dtype.kind == "O":
        raise ValueError(f"spaxel column {name!r} holds Python objects; cannot write it")
    else:
        ds = group.create_dataset(name, data=data)
        ds.attrs["kind"] = data.dtype.kind
    unit = getattr(col, "unit", None)
    ds.attrs["unit"] = "" if unit is None else unit.to_string()
    ds.attrs["description"] = getattr(col, "description", None) or ""
    if mask is not None and mask.any():
        group.create_dataset(f"{name}.mask", data=mask)


def _read_column(group, name: str):
    ds = group[name]
    if ds.attrs.get("kind") == "str":
        data = np.array([v.decode() if isinstance(v, bytes) else str(v) for v in ds[()].ravel()],
                        dtype=str).reshape(ds.shape)
    else:
        data = ds[()]
    unit = ds.attrs.get("unit") or None
    description = ds.attrs.get("description") or None
    if f"{name}.mask" in group:
        return MaskedColumn(data, name=name, mask=group[f"{name}.mask"][()], unit=unit,
                            description=description)
    return Column(data, name=name, unit=unit, description=description)


def _write_summary(h5, quantities, fits_) -> None:
    import h5py

    group = h5.create_group("summary")
    group.attrs["quantities"] = dumps(list(quantities))
    group.attrs["content"] = ("Per spaxel and quantity: 16th, 50th, 84th percentile, the reported value "
                              "(median, or the 84th/16th percentile for an upper/lower limit) and the "
                              "limit flag ('' measured, '<' upper limit, '>' lower limit).")
    for q in quantities:
        sub = group.create_group(q)
        sub.attrs["unit"] = quantity_unit(q)
        sub.attrs["description"] = QUANTITY_DESCRIPTIONS.get(q, q)
        for stat in _STATS:
            ds = sub.create_dataset(stat, data=np.array([f.summary[q][stat] for f in fits_], dtype=np.float64))
            ds.attrs["unit"] = quantity_unit(q)
        sub.create_dataset("limit", data=np.array([str(f.summary[q]["limit"]) for f in fits_], dtype=object),
                           dtype=h5py.string_dtype("utf-8"))


def write_shard(path, galaxy: str, spaxels: Table, fits, model, meta: dict | None = None,
                sampler=None) -> Path:
    """Write the posteriors of a block of spaxels of one galaxy to an HDF5 shard.

    Parameters
    ----------
    path : str or Path
        Destination (``.h5``); written via ``<path>.part`` and renamed when complete.
    galaxy : str
        Galaxy id.
    spaxels : astropy.table.Table
        At least ``spaxel`` (int id), ``iy``, ``ix`` (indices on the binned map grid), one row per
        fit in the order of ``fits``; every other column (fluxes, errors, with their units) is
        stored too.
    fits : list of ohmap.fitting.FluxFit
        Their posteriors; may be empty (a galaxy or shard without spaxels to fit).
    model : ohmap.inference.LineFluxModel
        The model the fits used (parameter names, lines, calibration, inference settings).
    meta : dict, optional
        Anything else to keep (JSON-serialisable; dataclasses are written as dicts), e.g.
        ``{"redshift": 1.49, "spaxel_arcsec": 0.13, "binning": 2}`` (the spaxel side,
        ``spaxel_arcsec`` or ``pixel_scale_arcsec``, tells an empty shard that its summaries would
        have ``sfr_density``). A ``SamplerSettings``
        under ``meta["sampler"]`` is used when ``sampler`` is not given.
    sampler : ohmap.samplers.SamplerSettings, optional
        The sampler settings (stored as JSON; also sizes the chains of an empty shard).

    Returns
    -------
    Path

    Raises
    ------
    ValueError
        The spaxel table lacks ``spaxel``/``iy``/``ix``, its length differs from the number of
        fits, a fit's key does not end with its row's spaxel id, or the chains differ in shape.
    """
    import h5py

    fits_ = list(fits)
    meta = dict(meta or {})
    missing = [c for c in ("spaxel", "iy", "ix") if c not in spaxels.colnames]
    if missing:
        raise ValueError(f"spaxel table lacks column(s) {', '.join(missing)}")
    if len(spaxels) != len(fits_):
        raise ValueError(f"{len(spaxels)} spaxel rows but {len(fits_)} fits")
    for row, f in zip(spaxels, fits_):
        last = f.key[-1] if len(f.key) else None
        if isinstance(last, (int, np.integer)) and int(last) != int(row["spaxel"]):
            raise ValueError(f"fit {f.key} is in the row of spaxel {int(row['spaxel'])}: the spaxel "
                             "table and the fits are not in the same order")
    if sampler is None and dataclasses.is_dataclass(meta.get("sampler")):
        sampler = meta["sampler"]
    names = tuple(model.names)
    ndim = len(names)
    quantities = _fit_quantities(fits_, model, meta)
    if fits_:
        shapes = {np.shape(f.chain) for f in fits_}
        if len(shapes) != 1:
            raise ValueError(f"chains of different shapes in one shard: {sorted(shapes)}")
        chains = np.stack([np.asarray(f.chain, dtype=np.float32) for f in fits_])
        tau = np.stack([np.asarray(f.tau, dtype=np.float64) for f in fits_])
    else:
        n_walkers = sampler.n_walkers if sampler is not None else 0
        chains = np.zeros((0, _stored_steps(sampler), n_walkers, ndim), dtype=np.float32)
        tau = np.zeros((0, ndim))
    if chains.shape[-1] != ndim:
        raise ValueError(f"chains have {chains.shape[-1]} parameters, the model {ndim} ({', '.join(names)})")
    calibration = getattr(getattr(model, "calibration", None), "name", None) or model.settings.calibration

    with atomic_path(path) as tmp, h5py.File(tmp, "w") as h5:
        a = h5.attrs
        a["format"] = _SHARD_FORMAT
        a["content"] = (
            f"Posteriors of {len(fits_)} spaxel(s) of galaxy {galaxy} from the Bayesian inference of "
            "their line fluxes (Wang et al. 2017, Sect. 4.4). 'spaxels': the spaxel table (iy, ix = "
            "row and column on the binned map grid; fluxes in 1e-17 erg/s/cm2). 'chains': thinned "
            "post-burn-in walker positions, float32, shape (spaxel, stored step, walker, parameter), "
            "in the sampled coordinates named by 'parameter_names' (units in 'parameter_units'). "
            "'tau': integrated autocorrelation time per spaxel and parameter, in steps. 'acceptance': "
            "mean acceptance fraction. 'converged': chain at least min_tau_multiple x max(tau) long. "
            "'summary/<quantity>': p16, p50, p84, value (units in each group's 'unit') and limit "
            "('' measured, '<' upper, '>' lower limit).")
        a["galaxy"] = str(galaxy)
        a["n_spaxels"] = len(fits_)
        a["parameter_names"] = dumps(list(names))
        a["parameter_units"] = dumps([PARAMETER_UNITS.get(n, "") for n in names])
        a["quantities"] = dumps(list(quantities))
        a["quantity_units"] = dumps({q: quantity_unit(q) for q in quantities})
        a["lines"] = dumps(list(model.lines))
        a["calibration"] = str(calibration)
        a["inference_settings"] = dumps(model.settings)
        a["sampler_settings"] = dumps(sampler)
        a["meta"] = dumps(meta)
        a["ohmap_version"] = __version__

        sp = h5.create_group("spaxels")
        sp.attrs["columns"] = dumps(list(spaxels.colnames))
        sp.attrs["content"] = "spaxel table: one row per spaxel, in the order of every per-spaxel dataset"
        for name in spaxels.colnames:
            _write_column(sp, name, spaxels[name])

        ds = h5.create_dataset("chains", data=chains, dtype=np.float32, compression="gzip",
                               compression_opts=4, chunks=(1,) + chains.shape[1:] if chains.size else None)
        ds.attrs["unit"] = dumps([PARAMETER_UNITS.get(n, "") for n in names])
        ds.attrs["axes"] = "spaxel, stored step, walker, parameter"
        ds = h5.create_dataset("tau", data=tau, dtype=np.float64)
        ds.attrs["unit"] = "steps"
        ds = h5.create_dataset("acceptance", data=np.array([f.acceptance for f in fits_], dtype=np.float64))
        ds.attrs["unit"] = "fraction of proposals accepted"
        h5.create_dataset("converged", data=np.array([bool(f.converged) for f in fits_], dtype=bool))
        h5.create_dataset("keys", data=np.array([dumps(list(f.key)) for f in fits_], dtype=object),
                          dtype=h5py.string_dtype("utf-8"))
        _write_summary(h5, quantities, fits_)
    return Path(path)


def summary_table(spaxels: Table, quantities, stats: dict, tau, converged, acceptance) -> Table:
    """The per-spaxel summary table (see :class:`ShardResult`).

    ``stats`` maps quantity -> {``p16``, ``p50``, ``p84``, ``value``: arrays, ``limit``: strings}.
    """
    n = len(spaxels)
    t = Table()
    t["spaxel"] = np.asarray(spaxels["spaxel"], dtype=np.int64)
    t["iy"] = np.asarray(spaxels["iy"], dtype=np.int64)
    t["ix"] = np.asarray(spaxels["ix"], dtype=np.int64)
    t["iy"].description = "row on the binned map grid"
    t["ix"].description = "column on the binned map grid"
    for q in quantities:
        unit = quantity_unit(q) or None
        for stat in _STATS:
            t[f"{q}_{stat}"] = Column(np.asarray(stats[q][stat], dtype=np.float64).reshape(n), unit=unit,
                                      description=f"{QUANTITY_DESCRIPTIONS.get(q, q)}: {stat}")
        t[f"{q}_limit"] = Column(np.array(list(stats[q]["limit"]) if n else [], dtype="U1").reshape(n),
                                 description="'' measured, '<' upper limit, '>' lower limit")
    if "oh12" in quantities:
        t["err_oh12"] = Column(conservative_error(t["oh12_p16"], t["oh12_p50"], t["oh12_p84"]), unit="dex",
                               description="conservative 1-sigma error of 12+log(O/H): "
                                           "max(p84 - p50, p50 - p16)")
    tau = np.asarray(tau, dtype=float).reshape(n, -1) if n else np.zeros((0, 1))
    t["tau_max"] = Column(tau.max(axis=1) if tau.shape[1] else np.full(n, np.nan),
                          description="largest integrated autocorrelation time over the parameters [steps]")
    t["converged"] = Column(np.asarray(converged, dtype=bool).reshape(n),
                            description="chain at least min_tau_multiple x tau_max long")
    t["acceptance"] = Column(np.asarray(acceptance, dtype=np.float64).reshape(n), unit="",
                             description="mean acceptance fraction of the walkers")
    t.meta["description"] = ("Posterior summaries per spaxel (Wang et al. 2017, Sect. 4.4): percentiles "
                             "16/50/84, the reported value (median, or the limit) and limit flag of each "
                             "quantity.")
    t.meta["units"] = {q: quantity_unit(q) for q in quantities}
    return t


def read_shard(path) -> ShardResult:
    """Read a shard written by :func:`write_shard`.

    Raises
    ------
    ohmap.errors.InputError
        The file is not readable HDF5 or not an ohmap posterior shard.
    """
    import h5py

    try:
        h5 = h5py.File(path, "r")
    except OSError as error:
        raise InputError(path, f"not a readable HDF5 file ({error})") from None
    with h5:
        a = h5.attrs
        if a.get("format") != _SHARD_FORMAT:
            raise InputError(path, f"not an ohmap posterior shard (format {a.get('format')!r})")
        names = tuple(json.loads(a["parameter_names"]))
        units = dict(zip(names, json.loads(a["parameter_units"])))
        quantities = json.loads(a["quantities"])
        sp = h5["spaxels"]
        spaxels = Table([_read_column(sp, c) for c in json.loads(sp.attrs["columns"])])
        chains = np.asarray(h5["chains"][()], dtype=np.float32)
        tau = np.asarray(h5["tau"][()], dtype=np.float64)
        acceptance = np.asarray(h5["acceptance"][()], dtype=np.float64)
        converged = np.asarray(h5["converged"][()], dtype=bool)
        keys = [tuple(json.loads(k.decode() if isinstance(k, bytes) else k)) for k in h5["keys"][()]]
        stats = {}
        for q in quantities:
            g = h5["summary"][q]
            stats[q] = {s: np.asarray(g[s][()], dtype=np.float64) for s in _STATS}
            stats[q]["limit"] = [v.decode() if isinstance(v, bytes) else str(v) for v in g["limit"][()]]
        galaxy = str(a["galaxy"])
        sampler = json.loads(a["sampler_settings"])
        return ShardResult(
            galaxy=galaxy, spaxels=spaxels,
            summary=summary_table(spaxels, quantities, stats, tau, converged, acceptance),
            chains=chains, names=names, units=units, tau=tau, keys=keys,
            lines=tuple(json.loads(a["lines"])), calibration=str(a["calibration"]),
            inference_settings=json.loads(a["inference_settings"]), sampler_settings=sampler,
            meta=json.loads(a["meta"]), version=str(a["ohmap_version"]))


# ----------------------------------------------------------------------------------------------
# Spaxel maps (FITS)
# ----------------------------------------------------------------------------------------------

#: Extensions of the spaxel-map product: name, (quantity, statistic) or a marker, unit, content.
_MAP_EXTENSIONS = (
    ("OH12", ("oh12", "p50"), "dex", "12+log(O/H), posterior median"),
    ("OH12_P16", ("oh12", "p16"), "dex", "12+log(O/H), 16th percentile"),
    ("OH12_P84", ("oh12", "p84"), "dex", "12+log(O/H), 84th percentile"),
    ("OH12_ERR", ("oh12", "err"), "dex", "conservative 1-sigma error of 12+log(O/H): max(p84-p50, p50-p16)"),
    ("AV", ("av", "p50"), "mag", "nebular A_V, posterior median"),
    ("AV_ERR", ("av", "err"), "mag", "conservative 1-sigma error of A_V: max(p84-p50, p50-p16)"),
    ("SFRD", ("sfr_density", "p50"), QUANTITY_UNITS["sfr_density"],
     "star-formation-rate surface density, posterior median (lensing-invariant)"),
    ("SFRD_ERR", ("sfr_density", "err"), QUANTITY_UNITS["sfr_density"],
     "conservative 1-sigma error of the SFR surface density: max(p84-p50, p50-p16)"),
    ("HBETA", ("hbeta", "p50"), QUANTITY_UNITS["hbeta"],
     "intrinsic (dust-corrected, lensed) H-beta flux of the spaxel, posterior median"),
)


def _as_summary(summary) -> Table:
    if isinstance(summary, Table):
        return summary
    tables = [t for t in summary]
    if not tables:
        return Table({"spaxel": np.zeros(0, np.int64), "iy": np.zeros(0, np.int64), "ix": np.zeros(0, np.int64)})
    return vstack(tables, join_type="outer", metadata_conflicts="silent")


def _check_positions(summary: Table, shape) -> tuple:
    ny, nx = (int(v) for v in shape)
    spaxel = np.asarray(summary["spaxel"]) if "spaxel" in summary.colnames else np.arange(len(summary))
    iy_raw = np.asarray(summary["iy"])
    ix_raw = np.asarray(summary["ix"])
    for name, raw in (("iy", iy_raw), ("ix", ix_raw)):
        if len(raw) and not np.issubdtype(raw.dtype, np.integer):
            as_float = raw.astype(float)
            bad = np.flatnonzero(~np.isfinite(as_float) | (as_float != np.round(as_float)))
            if bad.size:
                raise ValueError(f"spaxel {spaxel[bad[0]]}: {name} = {raw[bad[0]]} is not an integer index")
    iy = iy_raw.astype(np.int64)
    ix = ix_raw.astype(np.int64)
    outside = np.flatnonzero((iy < 0) | (iy >= ny) | (ix < 0) | (ix >= nx))
    if outside.size:
        k = outside[0]
        raise ValueError(f"spaxel {spaxel[k]} at (iy, ix) = ({iy[k]}, {ix[k]}) is outside the {ny} x {nx} "
                         f"map grid ({outside.size} spaxel(s) outside)")
    flat = iy * nx + ix
    order = np.argsort(flat, kind="stable")
    dup = np.flatnonzero(np.diff(flat[order]) == 0)
    if dup.size:
        a, b = order[dup[0]], order[dup[0] + 1]
        raise ValueError(f"spaxels {spaxel[a]} and {spaxel[b]} both sit at (iy, ix) = ({iy[a]}, {ix[a]}): "
                         "each map pixel can hold one fit only")
    return iy, ix


def _column(summary: Table, name: str):
    if name not in summary.colnames:
        return None
    col = summary[name]
    if hasattr(col, "filled"):
        col = col.filled(np.nan)
    return np.asarray(col, dtype=float)


def write_spaxel_maps(path, galaxy: str, shape, summary, header_cards: dict | None = None) -> Path:
    """Place the posterior summaries of a galaxy's spaxels on its binned map grid (FITS).

    Parameters
    ----------
    path : str or Path
        Destination; written via ``<path>.part`` and renamed when complete.
    galaxy : str
        Galaxy id.
    shape : tuple of int
        ``(ny, nx)`` of the binned map grid.
    summary : Table or sequence of Table
        The summary tables of all the galaxy's shards (:attr:`ShardResult.summary`), already
        concatenated or as a list (stacked here); may be empty.
    header_cards : dict, optional
        ``key -> (value, comment)`` for the primary header (redshift, binning, pixel scale,
        calibration, ...). Keys longer than 8 characters become HIERARCH cards.

    Notes
    -----
    Extensions: ``OH12``, ``OH12_P16``, ``OH12_P84``, ``OH12_ERR`` (dex), ``AV``, ``AV_ERR`` (mag),
    ``SFRD``, ``SFRD_ERR`` (Msun/yr/kpc^2), ``HBETA`` (1e-17 erg/s/cm^2, per spaxel), ``OH12_LIM``
    (int8: 0 measured, -1 upper limit, +1 lower limit, -2 not fitted), ``CONVERGED`` (int16: 1
    converged, 0 not, -1 not fitted) and ``FITTED`` (uint8: 1 fitted). Errors are the
    conservative ``max(p84 - p50, p50 - p16)``. Value maps are NaN where no spaxel was fitted
    (each header says so); ``NFITTED`` in the primary header counts the fitted spaxels.

    Raises
    ------
    ValueError
        Two spaxels share an ``(iy, ix)``, or one lies outside ``shape`` (the message names it).
    """
    summary = _as_summary(summary)
    ny, nx = (int(v) for v in shape)
    if ny < 1 or nx < 1:
        raise ValueError(f"map shape {shape} must be positive")
    for c in ("iy", "ix"):
        if c not in summary.colnames:
            raise ValueError(f"summary table lacks column {c!r}")
    iy, ix = _check_positions(summary, (ny, nx))
    n_fit = len(summary)
    fitted = np.zeros((ny, nx), dtype=np.uint8)
    fitted[iy, ix] = 1
    converged = np.full((ny, nx), -1, dtype=np.int16)
    if "converged" in summary.colnames:
        converged[iy, ix] = np.asarray(summary["converged"], dtype=bool).astype(np.int16)
    n_conv = int(np.sum(converged == 1))

    primary = fits.PrimaryHDU()
    h = primary.header
    h["OBJECT"] = (str(galaxy), "galaxy id")
    h["PRODUCT"] = ("spaxel posterior maps", "ohmap product type")
    h["MAPNY"] = (ny, "[pixel] rows of the binned map grid")
    h["MAPNX"] = (nx, "[pixel] columns of the binned map grid")
    h["NFITTED"] = (n_fit, "spaxels with a posterior (FITTED = 1)")
    h["NCONVERG"] = (n_conv, "fitted spaxels whose chains converged")
    for key, card in (header_cards or {}).items():
        value, comment = card if isinstance(card, tuple) else (card, "")
        key = str(key).upper()
        if len(key) > 8 or not key.replace("-", "").replace("_", "").isalnum():
            key = f"HIERARCH {key}"
        h[key] = (card_value(value), str(comment))
    h["OHMAPVER"] = (__version__, "ohmap version")
    h["COMMENT"] = ("Posterior summaries of the per-spaxel Bayesian inference (Wang et al. 2017, "
                    "Sect. 4.4 and 6.1) on the binned map grid; pixel (iy, ix) = (row, column).")
    h["COMMENT"] = "Value maps are NaN where no spaxel was fitted (see FITTED)."
    if n_fit == 0:
        h["COMMENT"] = ("No spaxel of this galaxy was fitted (none passed the selection): every value "
                        "map is NaN, FITTED is 0 and CONVERGED is -1 everywhere.")

    hdus = [primary]
    for name, (q, stat), unit, content in _MAP_EXTENSIONS:
        image = np.full((ny, nx), np.nan)
        if stat == "err":
            p16, p50, p84 = (_column(summary, f"{q}_{s}") for s in ("p16", "p50", "p84"))
            values = None if p50 is None else conservative_error(p16, p50, p84)
        else:
            values = _column(summary, f"{q}_{stat}")
        if values is not None:
            image[iy, ix] = values
        hdu = fits.ImageHDU(image, name=name)
        hh = hdu.header
        hh["BUNIT"] = (unit, {"dex": "12+log(O/H) in dex"}.get(unit, "unit of the map values"))
        hh["CONTENT"] = content
        hh["QUANTITY"] = (q, "ohmap quantity name")
        hh["NANMEANS"] = (_NOT_FITTED if values is not None or n_fit == 0 else
                          f"no {q} in the summaries: NaN everywhere", "meaning of NaN")
        hh["COMMENT"] = _NOT_FITTED
        if values is None and n_fit:
            hh["COMMENT"] = (f"The summaries hold no {q} (e.g. no spaxel size was given), so this map is NaN "
                             "at every pixel, fitted or not.")
        if n_fit == 0:
            hh["COMMENT"] = "No spaxel was fitted (NFITTED = 0): NaN everywhere."
        hdus.append(hdu)

    lim = np.full((ny, nx), -2, dtype=np.int8)
    if "oh12_limit" in summary.colnames:
        codes = {"": 0, "<": -1, ">": 1}
        lim[iy, ix] = [codes.get(str(v).strip(), 0) for v in summary["oh12_limit"]]
    elif n_fit:
        lim[iy, ix] = 0
    hdu = fits.ImageHDU(lim, name="OH12_LIM")
    hdu.header["BUNIT"] = ("", "flag, no unit")
    hdu.header["CONTENT"] = "12+log(O/H) limit flag: 0 measured, -1 upper limit, +1 lower limit, -2 not fitted"
    hdus.append(hdu)
    hdu = fits.ImageHDU(converged, name="CONVERGED")
    hdu.header["BUNIT"] = ("", "flag, no unit")
    hdu.header["CONTENT"] = "chain convergence: 1 converged, 0 not converged, -1 not fitted"
    hdus.append(hdu)
    hdu = fits.ImageHDU(fitted, name="FITTED")
    hdu.header["BUNIT"] = ("", "mask, no unit")
    hdu.header["CONTENT"] = "1 = spaxel fitted (has a posterior), 0 = not fitted"
    hdus.append(hdu)

    write_fits_atomic(fits.HDUList(hdus), path)
    return Path(path)


def read_spaxel_maps(path) -> dict:
    """Read a product of :func:`write_spaxel_maps`.

    Returns
    -------
    dict
        Extension name -> array (value maps float64 with NaN where not fitted; ``CONVERGED``
        int16; ``OH12_LIM`` int8; ``FITTED`` bool), plus ``"header"`` (the primary header),
        ``"units"`` (extension -> BUNIT) and ``"galaxy"``.
    """
    try:
        hdul = fits.open(path)
    except OSError as error:
        raise InputError(path, f"not a readable FITS file ({error})") from None
    with hdul:
        h = hdul[0].header
        if "NFITTED" not in h or "FITTED" not in hdul:
            raise InputError(path, "not an ohmap spaxel-map product (no NFITTED card or FITTED extension)")
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
            else:
                data = data.astype(np.float64)
            out[name] = data
            out["units"][name] = hdu.header.get("BUNIT", "")
        return out


# ----------------------------------------------------------------------------------------------
# Global fits (ECSV)
# ----------------------------------------------------------------------------------------------

_GLOBAL_BASE = ("galaxy_id", "redshift", "magnification")
_GLOBAL_TAIL = ("tau_max", "converged", "acceptance", "n_lines", "lines", "calibration")


def global_fit_row(galaxy: str, fit, redshift: float, magnification: float, model, n_lines: int) -> dict:
    """One galaxy's global fit (integrated line fluxes) as a row of the global-fit table.

    Parameters
    ----------
    galaxy : str
    fit : ohmap.fitting.FluxFit
    redshift, magnification : float
        As used for the SFR (which is divided by the magnification).
    model : ohmap.inference.LineFluxModel
    n_lines : int
        Lines that constrained the fit (finite flux and positive error).

    Returns
    -------
    dict
        ``galaxy_id``, ``redshift``, ``magnification``; per quantity ``<q>_p16``, ``<q>_p50``,
        ``<q>_p84``, ``<q>_value`` and ``<q>_limit``; ``tau_max`` (steps), ``converged``,
        ``acceptance``, ``n_lines``, ``lines`` (the model's, comma-separated), ``calibration``.
    """
    row = {"galaxy_id": str(galaxy), "redshift": float(redshift), "magnification": float(magnification)}
    for q in _QUANTITY_ORDER + tuple(k for k in fit.summary if k not in _QUANTITY_ORDER):
        if q not in fit.summary:
            continue
        s = fit.summary[q]
        for stat in _STATS:
            row[f"{q}_{stat}"] = float(s[stat])
        row[f"{q}_limit"] = str(s["limit"])
    tau = np.asarray(fit.tau, dtype=float)
    row["tau_max"] = float(np.max(tau)) if tau.size else float("nan")
    row["converged"] = bool(fit.converged)
    row["acceptance"] = float(fit.acceptance)
    row["n_lines"] = int(n_lines)
    row["lines"] = ",".join(model.lines)
    calibration = getattr(getattr(model, "calibration", None), "name", None) or model.settings.calibration
    row["calibration"] = str(calibration)
    return row


def _global_column_spec(name: str):
    """(dtype, unit, description) of a global-fit column."""
    fixed = {
        "galaxy_id": (str, None, "galaxy id"),
        "redshift": (float, None, "redshift used for the SFR"),
        "magnification": (float, "", "lensing magnification the SFR is divided by"),
        "tau_max": (float, None, "largest integrated autocorrelation time over the parameters [steps]"),
        "converged": (bool, None, "chain at least min_tau_multiple x tau_max long"),
        "acceptance": (float, "", "mean acceptance fraction of the walkers"),
        "n_lines": (int, None, "lines that constrained the fit"),
        "lines": (str, None, "lines of the model, comma-separated"),
        "calibration": (str, None, "metallicity calibration"),
    }
    if name in fixed:
        return fixed[name]
    q, _, stat = name.rpartition("_")
    if stat == "limit":
        return str, None, f"{QUANTITY_DESCRIPTIONS.get(q, q)}: '' measured, '<' upper limit, '>' lower limit"
    return float, quantity_unit(q), f"{QUANTITY_DESCRIPTIONS.get(q, q)}: {stat}"


def global_fit_table(rows, meta: dict | None = None) -> Table:
    """The global-fit table of ``rows`` (dicts of :func:`global_fit_row`), with units.

    Rows may differ in their quantities (e.g. only extended fits have ``nii_ha``): a missing
    float is NaN and a missing limit ``""``.
    """
    rows = list(rows)
    names = list(_GLOBAL_BASE)
    for r in rows:
        names += [k for k in r if k not in names and k not in _GLOBAL_TAIL]
    names += [k for k in _GLOBAL_TAIL if any(k in r for r in rows) or not rows]
    t = Table()
    for name in names:
        dtype, unit, description = _global_column_spec(name)
        default = {float: np.nan, str: "", bool: False, int: -1}[dtype]
        values = [r.get(name, default) for r in rows]
        if dtype is str:
            data = np.array([str(v) for v in values], dtype=str) if rows else np.zeros(0, dtype="U1")
        else:
            data = np.array(values, dtype={float: np.float64, bool: bool, int: np.int64}[dtype])
        t[name] = Column(data, unit=unit, description=description)
    t.meta.update(plain(meta or {}))
    t.meta["description"] = (
        "Global fits (integrated line fluxes) of Wang et al. (2017), Sect. 4.4: per quantity the "
        "16th/50th/84th posterior percentiles, the reported value (median, or the 84th/16th "
        "percentile for an upper '<' / lower '>' limit) and the limit flag. oh12 = 12+log(O/H) "
        "(dex); av = nebular A_V (mag); hbeta = intrinsic H-beta flux (1e-17 erg/s/cm2, lensed); sfr "
        "(Msun/yr, divided by the magnification); nii_ha = [NII]/H-alpha (extended fits only).")
    t.meta["quantity_units"] = {q: quantity_unit(q) for q in _QUANTITY_ORDER
                                if f"{q}_p50" in t.colnames}
    t.meta["ohmap_version"] = __version__
    return t


def write_global_fit(path, rows, meta: dict | None = None) -> Path:
    """Write global-fit rows (one per galaxy) to an ECSV table.

    Parameters
    ----------
    path : str or Path
        Destination; written via ``<path>.part`` and renamed when complete.
    rows : sequence of dict
        From :func:`global_fit_row`: one row for a galaxy's own file, all rows for the sample.
    meta : dict, optional
        Settings to keep in the table's metadata (JSON-serialisable; dataclasses become dicts,
        tuples lists), e.g. ``{"inference": InferenceSettings(...), "sampler": SamplerSettings(...)}``.

    Returns
    -------
    Path
    """
    table = global_fit_table(rows, meta)
    write_table_atomic(table, path, format="ascii.ecsv")
    return Path(path)


def read_global_fit(path) -> Table:
    """Read a table written by :func:`write_global_fit` (units and metadata included)."""
    try:
        table = Table.read(path, format="ascii.ecsv")
    except Exception as error:  # astropy raises several types for a bad ECSV file
        raise InputError(path, f"not a readable ECSV table ({error})") from None
    if "galaxy_id" not in table.colnames:
        raise InputError(path, "not an ohmap global-fit table (no galaxy_id column)")
    # ECSV reads an empty string as masked; a limit flag "" means "measured", so restore it.
    for name in table.colnames:
        col = table[name]
        if isinstance(col, MaskedColumn) and col.dtype.kind == "U":
            table[name] = Column(np.asarray(col.filled("")), name=name, unit=col.unit,
                                 description=col.description)
    return table
