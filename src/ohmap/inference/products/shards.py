"""Posterior shards (HDF5): the spaxel table, thinned chains and summaries of a block of spaxels."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.table import Column, MaskedColumn, Table

from ohmap import __version__
from ohmap.errors import InputError
from ohmap.inference.summary import conservative_error
from ohmap.io.atomic import atomic_path
from ohmap.io.serialize import dumps

from .quantities import (
    PARAMETER_UNITS,
    QUANTITY_DESCRIPTIONS,
    QUANTITY_ORDER,
    STATISTICS,
    quantity_unit,
)

_SHARD_FORMAT = "ohmap-posterior-shard-1"


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
    return [
        q
        for q in QUANTITY_ORDER
        if (q != "nii_ha" or extended) and (q != "sfr_density" or _spaxel_size(meta))
    ]


def _spaxel_size(meta) -> float | None:
    meta = meta or {}
    return meta.get("spaxel_arcsec") or meta.get("pixel_scale_arcsec")


def _stored_steps(sampler) -> int:
    if sampler is None:
        return 0
    return len(range(0, sampler.n_steps - sampler.n_burn, sampler.thin))


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
        ds = group.create_dataset(
            name,
            data=np.array(values, dtype=object).reshape(data.shape),
            dtype=h5py.string_dtype("utf-8"),
        )
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
        data = np.array(
            [v.decode() if isinstance(v, bytes) else str(v) for v in ds[()].ravel()], dtype=str
        ).reshape(ds.shape)
    else:
        data = ds[()]
    unit = ds.attrs.get("unit") or None
    description = ds.attrs.get("description") or None
    if f"{name}.mask" in group:
        return MaskedColumn(
            data, name=name, mask=group[f"{name}.mask"][()], unit=unit, description=description
        )
    return Column(data, name=name, unit=unit, description=description)


def _write_summary(h5, quantities, fits_) -> None:
    import h5py

    group = h5.create_group("summary")
    group.attrs["quantities"] = dumps(list(quantities))
    group.attrs["content"] = (
        "Per spaxel and quantity: 16th, 50th, 84th percentile, the reported value "
        "(median, or the 84th/16th percentile for an upper/lower limit) and the "
        "limit flag ('' measured, '<' upper limit, '>' lower limit)."
    )
    for q in quantities:
        sub = group.create_group(q)
        sub.attrs["unit"] = quantity_unit(q)
        sub.attrs["description"] = QUANTITY_DESCRIPTIONS.get(q, q)
        for stat in STATISTICS:
            ds = sub.create_dataset(
                stat, data=np.array([f.summary[q][stat] for f in fits_], dtype=np.float64)
            )
            ds.attrs["unit"] = quantity_unit(q)
        sub.create_dataset(
            "limit",
            data=np.array([str(f.summary[q]["limit"]) for f in fits_], dtype=object),
            dtype=h5py.string_dtype("utf-8"),
        )


def write_shard(
    path, galaxy: str, spaxels: Table, fits, model, meta: dict | None = None, sampler=None
) -> Path:
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
    fits : list of ohmap.inference.fitting.FluxFit
        Their posteriors; may be empty (a galaxy or shard without spaxels to fit).
    model : ohmap.inference.model.LineFluxModel
        The model the fits used (parameter names, lines, calibration, inference settings).
    meta : dict, optional
        Anything else to keep (JSON-serialisable; dataclasses are written as dicts), e.g.
        ``{"redshift": 1.49, "spaxel_arcsec": 0.13, "binning": 2}`` (the spaxel side,
        ``spaxel_arcsec`` or ``pixel_scale_arcsec``, tells an empty shard that its summaries would
        have ``sfr_density``). A ``SamplerSettings``
        under ``meta["sampler"]`` is used when ``sampler`` is not given.
    sampler : ohmap.inference.settings.SamplerSettings, optional
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
            raise ValueError(
                f"fit {f.key} is in the row of spaxel {int(row['spaxel'])}: the spaxel "
                "table and the fits are not in the same order"
            )
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
        raise ValueError(
            f"chains have {chains.shape[-1]} parameters, the model {ndim} ({', '.join(names)})"
        )
    calibration = (
        getattr(getattr(model, "calibration", None), "name", None) or model.settings.calibration
    )

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
            "('' measured, '<' upper, '>' lower limit)."
        )
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
        sp.attrs["content"] = (
            "spaxel table: one row per spaxel, in the order of every per-spaxel dataset"
        )
        for name in spaxels.colnames:
            _write_column(sp, name, spaxels[name])

        ds = h5.create_dataset(
            "chains",
            data=chains,
            dtype=np.float32,
            compression="gzip",
            compression_opts=4,
            chunks=(1,) + chains.shape[1:] if chains.size else None,
        )
        ds.attrs["unit"] = dumps([PARAMETER_UNITS.get(n, "") for n in names])
        ds.attrs["axes"] = "spaxel, stored step, walker, parameter"
        ds = h5.create_dataset("tau", data=tau, dtype=np.float64)
        ds.attrs["unit"] = "steps"
        ds = h5.create_dataset(
            "acceptance", data=np.array([f.acceptance for f in fits_], dtype=np.float64)
        )
        ds.attrs["unit"] = "fraction of proposals accepted"
        h5.create_dataset(
            "converged", data=np.array([bool(f.converged) for f in fits_], dtype=bool)
        )
        h5.create_dataset(
            "keys",
            data=np.array([dumps(list(f.key)) for f in fits_], dtype=object),
            dtype=h5py.string_dtype("utf-8"),
        )
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
        for stat in STATISTICS:
            t[f"{q}_{stat}"] = Column(
                np.asarray(stats[q][stat], dtype=np.float64).reshape(n),
                unit=unit,
                description=f"{QUANTITY_DESCRIPTIONS.get(q, q)}: {stat}",
            )
        t[f"{q}_limit"] = Column(
            np.array(list(stats[q]["limit"]) if n else [], dtype="U1").reshape(n),
            description="'' measured, '<' upper limit, '>' lower limit",
        )
    if "oh12" in quantities:
        t["err_oh12"] = Column(
            conservative_error(t["oh12_p16"], t["oh12_p50"], t["oh12_p84"]),
            unit="dex",
            description="conservative 1-sigma error of 12+log(O/H): max(p84 - p50, p50 - p16)",
        )
    tau = np.asarray(tau, dtype=float).reshape(n, -1) if n else np.zeros((0, 1))
    t["tau_max"] = Column(
        tau.max(axis=1) if tau.shape[1] else np.full(n, np.nan),
        description="largest integrated autocorrelation time over the parameters [steps]",
    )
    t["converged"] = Column(
        np.asarray(converged, dtype=bool).reshape(n),
        description="chain at least min_tau_multiple x tau_max long",
    )
    t["acceptance"] = Column(
        np.asarray(acceptance, dtype=np.float64).reshape(n),
        unit="",
        description="mean acceptance fraction of the walkers",
    )
    t.meta["description"] = (
        "Posterior summaries per spaxel (Wang et al. 2017, Sect. 4.4): percentiles "
        "16/50/84, the reported value (median, or the limit) and limit flag of each "
        "quantity."
    )
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
        keys = [
            tuple(json.loads(k.decode() if isinstance(k, bytes) else k)) for k in h5["keys"][()]
        ]
        stats = {}
        for q in quantities:
            g = h5["summary"][q]
            stats[q] = {s: np.asarray(g[s][()], dtype=np.float64) for s in STATISTICS}
            stats[q]["limit"] = [
                v.decode() if isinstance(v, bytes) else str(v) for v in g["limit"][()]
            ]
        galaxy = str(a["galaxy"])
        sampler = json.loads(a["sampler_settings"])
        return ShardResult(
            galaxy=galaxy,
            spaxels=spaxels,
            summary=summary_table(spaxels, quantities, stats, tau, converged, acceptance),
            chains=chains,
            names=names,
            units=units,
            tau=tau,
            keys=keys,
            lines=tuple(json.loads(a["lines"])),
            calibration=str(a["calibration"]),
            inference_settings=json.loads(a["inference_settings"]),
            sampler_settings=sampler,
            meta=json.loads(a["meta"]),
            version=str(a["ohmap_version"]),
        )
