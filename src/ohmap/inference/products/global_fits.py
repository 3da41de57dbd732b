"""Global-fit tables (ECSV): one row per galaxy, from its integrated line fluxes (Table 2)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.table import Column, MaskedColumn, Table

from ohmap import __version__
from ohmap.errors import InputError
from ohmap.io.atomic import write_table_atomic
from ohmap.io.serialize import plain

from .quantities import QUANTITY_DESCRIPTIONS, QUANTITY_ORDER, STATISTICS, quantity_unit

_GLOBAL_BASE = ("galaxy_id", "redshift", "magnification")


_GLOBAL_TAIL = ("tau_max", "converged", "acceptance", "n_lines", "lines", "calibration")


def global_fit_row(
    galaxy: str, fit, redshift: float, magnification: float, model, n_lines: int
) -> dict:
    """One galaxy's global fit (integrated line fluxes) as a row of the global-fit table.

    Parameters
    ----------
    galaxy : str
    fit : ohmap.inference.fitting.FluxFit
    redshift, magnification : float
        As used for the SFR (which is divided by the magnification).
    model : ohmap.inference.model.LineFluxModel
    n_lines : int
        Lines that constrained the fit (finite flux and positive error).

    Returns
    -------
    dict
        ``galaxy_id``, ``redshift``, ``magnification``; per quantity ``<q>_p16``, ``<q>_p50``,
        ``<q>_p84``, ``<q>_value`` and ``<q>_limit``; ``tau_max`` (steps), ``converged``,
        ``acceptance``, ``n_lines``, ``lines`` (the model's, comma-separated), ``calibration``.
    """
    row = {
        "galaxy_id": str(galaxy),
        "redshift": float(redshift),
        "magnification": float(magnification),
    }
    for q in QUANTITY_ORDER + tuple(k for k in fit.summary if k not in QUANTITY_ORDER):
        if q not in fit.summary:
            continue
        s = fit.summary[q]
        for stat in STATISTICS:
            row[f"{q}_{stat}"] = float(s[stat])
        row[f"{q}_limit"] = str(s["limit"])
    tau = np.asarray(fit.tau, dtype=float)
    row["tau_max"] = float(np.max(tau)) if tau.size else float("nan")
    row["converged"] = bool(fit.converged)
    row["acceptance"] = float(fit.acceptance)
    row["n_lines"] = int(n_lines)
    row["lines"] = ",".join(model.lines)
    calibration = (
        getattr(getattr(model, "calibration", None), "name", None) or model.settings.calibration
    )
    row["calibration"] = str(calibration)
    return row


def _global_column_spec(name: str):
    """(dtype, unit, description) of a global-fit column."""
    fixed = {
        "galaxy_id": (str, None, "galaxy id"),
        "redshift": (float, None, "redshift used for the SFR"),
        "magnification": (float, "", "lensing magnification the SFR is divided by"),
        "tau_max": (
            float,
            None,
            "largest integrated autocorrelation time over the parameters [steps]",
        ),
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
        return (
            str,
            None,
            f"{QUANTITY_DESCRIPTIONS.get(q, q)}: '' measured, '<' upper limit, '>' lower limit",
        )
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
            data = (
                np.array([str(v) for v in values], dtype=str) if rows else np.zeros(0, dtype="U1")
            )
        else:
            data = np.array(values, dtype={float: np.float64, bool: bool, int: np.int64}[dtype])
        t[name] = Column(data, unit=unit, description=description)
    t.meta.update(plain(meta or {}))
    t.meta["description"] = (
        "Global fits (integrated line fluxes) of Wang et al. (2017), Sect. 4.4: per quantity the "
        "16th/50th/84th posterior percentiles, the reported value (median, or the 84th/16th "
        "percentile for an upper '<' / lower '>' limit) and the limit flag. oh12 = 12+log(O/H) "
        "(dex); av = nebular A_V (mag); hbeta = intrinsic H-beta flux (1e-17 erg/s/cm2, lensed); sfr "
        "(Msun/yr, divided by the magnification); nii_ha = [NII]/H-alpha (extended fits only)."
    )
    t.meta["quantity_units"] = {
        q: quantity_unit(q) for q in QUANTITY_ORDER if f"{q}_p50" in t.colnames
    }
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
            table[name] = Column(
                np.asarray(col.filled("")), name=name, unit=col.unit, description=col.description
            )
    return table
