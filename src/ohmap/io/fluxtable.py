"""Tables of users' own line fluxes (input of ``ohmap fit-fluxes``) and of their fits (output).

Input: a CSV or ECSV table, one row per object or region (see ``docs/fit_fluxes.md``):

* ``id`` (optional; default the 1-based row number), ``z`` (or ``redshift``; optional, needed
  only for the SFR: a row without it gets no SFR),
  ``magnification`` (optional, default 1), ``nii_ha`` (optional, [NII]/H-alpha of the vanilla
  parameter set, default from the inference settings);
* per line ``<LINE>_flux`` and ``<LINE>_err``, LINE one of :data:`ohmap.lines.FIT_LINES`, in
  1e-17 erg/s/cm^2 (an ECSV column with a unit is converted to that unit).

Column names are matched without regard to case. Everything is validated for the whole table
before anything is fitted; every problem is reported in one :class:`~ohmap.errors.InputError`
that names the file, and the row (1-based data row and id) and column where it applies.

Output: :func:`result_table` builds one row per input row (in input order) with the
percentiles of every quantity; :func:`write_result_table` writes it as ECSV (settings in the
header) or CSV (settings and units in a ``<name>.meta.yaml`` sidecar), through a temporary file
in the same folder renamed into place, so no partial file is ever left under the final name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from astropy import units as u
from astropy.io import ascii
from astropy.table import MaskedColumn, Table

from ohmap.errors import InputError
from ohmap.lines import FIT_LINES

from .atomic import write_table_atomic
from .serialize import plain

#: Unit of every line flux read and written here.
FLUX_UNIT = u.Unit("1e-17 erg / (s cm2)")
#: Suffixes of readable tables; any file whose first line is ``# %ECSV`` is read as ECSV.
INPUT_SUFFIXES = (".csv", ".ecsv", ".txt")
#: Quantities of a fit, in output order, with their unit and description.
QUANTITIES = {
    "oh12": ("dex", "12 + log10(O/H), gas-phase metallicity"),
    "av": ("mag", "nebular extinction A_V (Cardelli et al. 1989)"),
    "hbeta": (FLUX_UNIT.to_string(), "intrinsic (dust-corrected, lensed) H-beta flux"),
    "sfr": ("solMass / yr", "star formation rate from H-beta, divided by the magnification"),
    "nii_ha": ("", "[NII]/H-alpha (extended parameter set only)"),
}
_STATISTICS = {
    "p16": "16th percentile of the posterior",
    "p50": "median of the posterior",
    "p84": "84th percentile of the posterior",
    "limit": "'' measured, '<' upper limit at p84, '>' lower limit at p16",
    "value": "value to quote: the median, or the limit",
}
_SCALAR_COLUMNS = ("id", "z", "magnification", "nii_ha")
_ALIASES = {"redshift": "z"}
_MAX_PROBLEMS = 20


@dataclass
class FluxTable:
    """A validated table of line fluxes.

    Attributes
    ----------
    source : str
        The file it was read from.
    ids : list
        One id per row (the ``id`` column's values, or the 1-based row numbers).
    id_given : bool
        Whether the table had an ``id`` column.
    redshift, magnification : ndarray
        Per row; the magnification is 1 where not given.
    nii_ha : ndarray
        [NII]/H-alpha per row, NaN where not given (the settings' default applies).
    lines : tuple of str
        Lines with columns in the table, in :data:`~ohmap.lines.FIT_LINES` order.
    flux, error : ndarray
        ``(n_rows, n_lines)`` in 1e-17 erg/s/cm^2; NaN where a line is left out for a row.
    """

    source: str
    ids: list
    id_given: bool
    redshift: np.ndarray
    magnification: np.ndarray
    nii_ha: np.ndarray
    lines: tuple
    flux: np.ndarray
    error: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def usable(self) -> np.ndarray:
        """``(n_rows, n_lines)``: the line has a finite flux and a finite positive error."""
        with np.errstate(invalid="ignore"):
            return np.isfinite(self.flux) & np.isfinite(self.error) & (self.error > 0)

    @property
    def n_lines(self) -> np.ndarray:
        """Usable lines per row."""
        return self.usable.sum(axis=1)

    def label(self, i: int) -> str:
        return _row_label(i, self.ids[i] if self.id_given else None)


def _row_label(i: int, ident=None) -> str:
    return f"row {i + 1}" + ("" if ident is None else f" (id {ident!r})")


def accepted_columns(lines=FIT_LINES) -> list[str]:
    """Column names :func:`read_flux_table` knows."""
    return ["id", "z (or redshift)", "magnification", "nii_ha"] + [
        f"{line}_{kind}" for line in lines for kind in ("flux", "err")
    ]


def _read_astropy(path: Path) -> Table:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            first = handle.readline()
    except OSError as exc:
        raise InputError(path, f"cannot read the table: {exc.strerror or exc}") from exc
    suffix = path.suffix.lower()
    if first.lstrip().startswith("# %ECSV"):
        fmt = "ascii.ecsv"
    elif suffix == ".ecsv":
        raise InputError(path, "an .ecsv file must start with the line '# %ECSV <version>'")
    elif suffix in (".csv", ".txt"):
        fmt = "ascii.csv"
    else:
        raise InputError(
            path,
            f"cannot tell the table's format from its suffix {path.suffix!r}; "
            f"use one of {', '.join(INPUT_SUFFIXES)} (CSV or ECSV)",
        )
    # CSV cells are read as text and converted here: ids keep their leading zeros ("04054") and
    # an unparsable cell is reported with its row.
    kwargs = (
        {"comment": "#", "converters": {"*": [ascii.convert_numpy(str)]}}
        if fmt == "ascii.csv"
        else {}
    )
    try:
        return Table.read(path, format=fmt, **kwargs)
    except Exception as exc:  # astropy raises many kinds for a malformed table
        raise InputError(
            path, f"cannot read the table as {fmt.split('.')[1].upper()}: {exc}"
        ) from exc


def _is_empty(value) -> bool:
    return value is np.ma.masked or (
        isinstance(value, (str, np.str_, bytes)) and not str(value).strip()
    )


def _numeric(column, name: str, problems: list, labels) -> np.ndarray:
    """A column as floats (NaN where empty or masked); unparsable cells are added to
    ``problems``."""
    mask = (
        np.asarray(column.mask) if isinstance(column, MaskedColumn) else np.zeros(len(column), bool)
    )
    data = np.asarray(column)
    if data.dtype.kind in "iuf":
        out = data.astype(float)
        out[mask] = np.nan
        return out
    if data.dtype.kind == "b":
        problems.append((-1, f"column {name!r}: holds true/false values, not numbers"))
        return np.full(len(column), np.nan)
    out = np.full(len(column), np.nan)
    for i, value in enumerate(data):
        if mask[i] or _is_empty(value):
            continue
        try:
            out[i] = float(value.decode() if isinstance(value, bytes) else value)
        except (TypeError, ValueError):
            problems.append((i, f"{labels(i)}: {name} = {str(value)!r} is not a number"))
    return out


def _in_unit(values, column, name: str, unit, source) -> np.ndarray:
    """``values`` (the column's numbers) converted from the column's unit (if any) to ``unit``."""
    col_unit = getattr(column, "unit", None)
    if col_unit is None:
        return values
    try:
        return (values * u.Unit(col_unit)).to_value(unit)
    except (u.UnitsError, ValueError, TypeError) as exc:
        want = "dimensionless" if unit == u.dimensionless_unscaled else f"{unit}"
        raise InputError(
            source,
            f"column {name!r} has unit {str(col_unit)!r}, which cannot be converted to {want}",
        ) from exc


def _ident(value):
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, (str, np.str_)):
        return str(value).strip()
    return value.item() if hasattr(value, "item") else value


def read_flux_table(path) -> FluxTable:
    """Read and validate a table of line fluxes (module notes; ``docs/fit_fluxes.md``).

    Raises
    ------
    InputError
        Naming the file and, for each problem (up to 20), the row and column: an unknown
        column, a missing ``z`` column, a flux column without its error column (or the
        reverse), a unit that cannot be converted, an unparsable cell, a missing or
        non-positive redshift, a non-positive magnification, a negative [NII]/H-alpha, an
        infinite flux, a zero or negative error with a finite flux, a row without any usable
        line, or duplicate ids.
    """
    path = Path(path)
    source = os.fspath(path)
    if not path.is_file():
        raise InputError(source, "flux table not found")
    table = _read_astropy(path)
    columns, lines = _table_columns(table, source)
    n = len(table)
    if n == 0:
        raise InputError(source, "the table has no rows")

    problems: list[tuple[int, str]] = []  # (row index or -1, text)
    ids, labels = _row_ids(table, columns, problems)

    def values(canonical, unit):
        name = columns[canonical]
        return _in_unit(
            _numeric(table[name], name, problems, labels), table[name], name, unit, source
        )

    redshift = values("z", u.dimensionless_unscaled) if "z" in columns else np.full(n, np.nan)
    magnification = (
        values("magnification", u.dimensionless_unscaled)
        if "magnification" in columns
        else np.ones(n)
    )
    nii_ha = (
        values("nii_ha", u.dimensionless_unscaled) if "nii_ha" in columns else np.full(n, np.nan)
    )
    flux = np.column_stack([values(f"{line}_flux", FLUX_UNIT) for line in lines])
    error = np.column_stack([values(f"{line}_err", FLUX_UNIT) for line in lines])
    for i in range(n):
        _check_row(
            i, labels(i), columns, lines, redshift, magnification, nii_ha, flux, error, problems
        )
    if problems:
        raise InputError(source, _problem_text(problems))
    # Lines left out of a row: NaN in both, so a reader need not repeat the rule.
    with np.errstate(invalid="ignore"):
        out = ~(np.isfinite(flux) & np.isfinite(error) & (error > 0))
    flux[out] = np.nan
    error[out] = np.nan
    return FluxTable(
        source, ids, "id" in columns, redshift, magnification, nii_ha, tuple(lines), flux, error
    )


def _table_columns(table, source) -> tuple[dict, list]:
    """The table's columns by canonical name (unknown or doubled ones refused) and the lines
    with both a flux and an error column."""
    known = {name.lower(): name for name in _SCALAR_COLUMNS}
    known.update({alias: target for alias, target in _ALIASES.items()})
    for line in FIT_LINES:
        for kind in ("flux", "err"):
            known[f"{line}_{kind}".lower()] = f"{line}_{kind}"
    columns: dict[str, str] = {}  # canonical name -> name in the table
    for name in table.colnames:
        canonical = known.get(name.strip().lower())
        if canonical is None:
            raise InputError(
                source,
                f"unknown column {name!r}; accepted columns: "
                f"{', '.join(accepted_columns())} (LINE one of {', '.join(FIT_LINES)}; "
                "names are matched without regard to case)",
            )
        if canonical in columns:
            raise InputError(
                source, f"columns {columns[canonical]!r} and {name!r} both give {canonical!r}"
            )
        columns[canonical] = name
    lines = []
    for line in FIT_LINES:
        has_flux, has_err = f"{line}_flux" in columns, f"{line}_err" in columns
        if has_flux != has_err:
            present, missing = (
                (f"{line}_flux", f"{line}_err") if has_flux else (f"{line}_err", f"{line}_flux")
            )
            raise InputError(
                source, f"column {columns[present]!r} has no matching column {missing!r}"
            )
        if has_flux:
            lines.append(line)
    if not lines:
        raise InputError(
            source,
            "no line columns: give at least one pair <LINE>_flux, <LINE>_err with "
            f"LINE one of {', '.join(FIT_LINES)}",
        )
    return columns, lines


def _row_ids(table, columns, problems):
    """The rows' ids (their numbers from 1 when the table has no id column), each empty or
    repeated id recorded in ``problems``, and the function naming a row in messages."""
    n = len(table)
    if "id" not in columns:
        return list(range(1, n + 1)), _row_label
    id_col = table[columns["id"]]
    mask = np.asarray(id_col.mask) if isinstance(id_col, MaskedColumn) else np.zeros(n, bool)
    ids = [None if mask[i] or _is_empty(v) else _ident(v) for i, v in enumerate(id_col)]
    for i, ident in enumerate(ids):
        if ident is None:
            problems.append((i, f"{_row_label(i)}: the id is empty"))
    seen: dict = {}
    for i, ident in enumerate(ids):
        if ident is None:
            continue
        key = str(ident)
        if key in seen:
            problems.append((i, f"{_row_label(i, ident)}: the same id as row {seen[key] + 1}"))
        else:
            seen[key] = i

    def label(i):
        return _row_label(i, ids[i])

    return ids, label


def _check_row(i, where, columns, lines, redshift, magnification, nii_ha, flux, error, problems):
    """Record what is wrong with row ``i`` in ``problems``; an empty magnification becomes 1."""
    z_name, m_name = columns.get("z", "z"), columns.get("magnification")
    # An empty redshift is allowed: it leaves out the SFR only (see derived_samples).
    if not np.isnan(redshift[i]) and not (np.isfinite(redshift[i]) and redshift[i] > 0):
        problems.append(
            (i, f"{where}: {z_name} = {redshift[i]:g}; a redshift must be finite and above 0")
        )
    if np.isnan(magnification[i]):
        magnification[i] = 1.0
    elif not (np.isfinite(magnification[i]) and magnification[i] > 0):
        problems.append(
            (
                i,
                f"{where}: {m_name} = {magnification[i]:g}; a magnification must be finite "
                "and above 0",
            )
        )
    if not np.isnan(nii_ha[i]) and not (np.isfinite(nii_ha[i]) and nii_ha[i] >= 0):
        problems.append(
            (
                i,
                f"{where}: {columns['nii_ha']} = {nii_ha[i]:g}; [NII]/H-alpha must be "
                "finite and not negative",
            )
        )
    for j, line in enumerate(lines):
        f_name, e_name = columns[f"{line}_flux"], columns[f"{line}_err"]
        if np.isinf(flux[i, j]):
            problems.append((i, f"{where}: {f_name} = {flux[i, j]:g} is not finite"))
        elif np.isfinite(flux[i, j]) and not np.isnan(error[i, j]) and not error[i, j] > 0:
            problems.append(
                (
                    i,
                    f"{where}: {e_name} = {error[i, j]:g}; an error must be above 0 "
                    "(leave the cell empty to leave the line out)",
                )
            )
    with np.errstate(invalid="ignore"):
        usable = np.isfinite(flux[i]) & np.isfinite(error[i]) & (error[i] > 0)
    if not usable.any():
        problems.append(
            (
                i,
                f"{where}: no usable line (a line needs a finite flux and a finite error "
                f"above 0; line columns: {', '.join(columns[f'{x}_flux'] for x in lines)})",
            )
        )


def _problem_text(problems) -> str:
    """The problems in row order, at most :data:`_MAX_PROBLEMS` of them shown."""
    problems = [text for _, text in sorted(problems, key=lambda p: p[0])]  # stable: by row
    shown = problems[:_MAX_PROBLEMS]
    more = len(problems) - len(shown)
    if len(problems) == 1:
        return shown[0]
    return (
        f"{len(problems)} problems:\n  "
        + "\n  ".join(shown)
        + (f"\n  ... and {more} more" if more else "")
    )


# ----------------------------------------------------------------------------------------------
# Output
# ----------------------------------------------------------------------------------------------


def result_table(
    table: FluxTable, fits, quantities, nii_ha_fixed=None, meta: dict | None = None
) -> Table:
    """The output table: one row per row of ``table`` (same order) from ``fits`` (one
    :class:`ohmap.inference.fitting.FluxFit` per row, in that order).

    Parameters
    ----------
    quantities : sequence of str
        Keys of :data:`QUANTITIES` to write (those in every fit's summary).
    nii_ha_fixed : array_like, optional
        [NII]/H-alpha each row was fitted with (vanilla set); written as ``nii_ha_fixed``.
    meta : dict, optional
        Table metadata (the settings used).
    """
    if len(fits) != len(table):
        raise ValueError(f"{len(fits)} fits for {len(table)} rows")
    out = Table(meta=dict(meta or {}))
    out["id"] = _id_column(table.ids)
    out["id"].description = "object id (the input's, or its 1-based row number)"
    _add(out, "z", table.redshift, "", "redshift (empty where not given: no SFR)")
    if np.isnan(table.redshift).any():
        out["z"] = MaskedColumn(out["z"], mask=np.isnan(table.redshift))
    _add(out, "magnification", table.magnification, "", "lensing magnification (1 where not given)")
    if nii_ha_fixed is not None:
        _add(
            out,
            "nii_ha_fixed",
            np.asarray(nii_ha_fixed, float),
            "",
            "[NII]/H-alpha held fixed in the fit (vanilla parameter set)",
        )
    for q in quantities:
        unit, what = QUANTITIES[q]
        # A quantity a row could not have (the SFR without a redshift) is an empty cell.
        missing = np.array([q not in f.summary for f in fits])
        for stat, text in _STATISTICS.items():
            values = [f.summary[q][stat] if q in f.summary else None for f in fits]
            if stat == "limit":
                out[f"{q}_{stat}"] = np.array([v or "" for v in values], dtype="U1")
                out[f"{q}_{stat}"].description = f"{what}: {text}"
            else:
                numbers = np.array([np.nan if v is None else v for v in values], float)
                _add(out, f"{q}_{stat}", numbers, unit, f"{what}: {text}")
            if missing.any():
                out[f"{q}_{stat}"] = MaskedColumn(out[f"{q}_{stat}"], mask=missing)
    _add(out, "n_lines", np.asarray(table.n_lines, int), "", "lines used in the fit")
    _add(
        out,
        "tau_max",
        np.array([float(np.max(f.tau)) for f in fits]),
        "",
        "largest integrated autocorrelation time of the sampled parameters, in sampler steps",
    )
    out["converged"] = np.array([bool(f.converged) for f in fits])
    out["converged"].description = "kept chain at least min_tau_multiple x tau_max steps long"
    _add(
        out,
        "acceptance",
        np.array([float(f.acceptance) for f in fits]),
        "",
        "mean acceptance fraction",
    )
    return out


def _id_column(ids):
    if all(isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in ids):
        return np.array(ids, dtype=np.int64)
    if all(
        isinstance(i, (int, float, np.integer, np.floating)) and not isinstance(i, bool)
        for i in ids
    ):
        return np.array(ids, dtype=float)
    return np.array([str(i) for i in ids], dtype=str)


def _add(out: Table, name: str, values, unit: str, description: str):
    out[name] = values
    out[name].unit = u.Unit(unit) if unit else u.dimensionless_unscaled
    out[name].description = description


def column_info(table: Table) -> dict:
    """``{column: {"unit": str, "description": str}}`` (the CSV sidecar's ``columns``)."""
    info = {}
    for name in table.colnames:
        col = table[name]
        unit = "" if col.unit is None else col.unit.to_string()
        if name == "tau_max":
            unit = "steps"
        info[name] = {"unit": unit, "description": col.description or ""}
    return info


def output_format(path) -> str:
    """``"csv"`` for a ``.csv`` path, else ``"ecsv"``."""
    return "csv" if Path(path).suffix.lower() == ".csv" else "ecsv"


def sidecar_path(path) -> Path:
    """Where the settings of a CSV result go: ``<path>.meta.yaml``."""
    path = Path(path)
    return path.with_name(path.name + ".meta.yaml")


def write_result_table(table: Table, path) -> list[Path]:
    """Write ``table`` to ``path``: ECSV (settings in the header) unless the name ends in
    ``.csv``, then CSV plus the sidecar :func:`sidecar_path` with the settings and every
    column's unit and description. Written to temporary files in the same folder and renamed
    into place. Returns the paths written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = table.copy(copy_data=False)
    table.meta = plain(dict(table.meta))
    if output_format(path) == "ecsv":
        write_table_atomic(table, path, format="ascii.ecsv")
        return [path]
    sidecar = sidecar_path(path)
    text = yaml.safe_dump(
        {"meta": table.meta, "columns": column_info(table)}, sort_keys=False, allow_unicode=True
    )
    bare = table.copy(copy_data=False)
    bare.meta = {}
    tmp_csv = _temporary(path)
    tmp_meta = _temporary(sidecar)
    try:
        bare.write(tmp_csv, format="ascii.csv", overwrite=True)
        Path(tmp_meta).write_text(text, encoding="utf-8")
        os.replace(tmp_meta, sidecar)
        os.replace(tmp_csv, path)
    finally:
        for tmp in (tmp_csv, tmp_meta):
            if os.path.exists(tmp):
                os.unlink(tmp)
    return [path, sidecar]


def _temporary(path: Path) -> str:
    """A hidden name beside ``path`` for this process (created by the writer, so it gets the
    usual permissions, not mkstemp's 0600)."""
    return os.fspath(path.with_name(f".{path.name}.{os.getpid()}.part"))
