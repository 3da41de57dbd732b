"""Readers for the literature compilations shipped in ``resources/``: mass-metallicity
measurements (:func:`read_literature_mzr`) and metallicity gradients
(:func:`read_literature_gradients`). Every cell is validated; a bad one is named by file, row
and column.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from ohmap.errors import InputError

#: Columns of resources/literature_mzr.tsv: name -> (kind, required, unit, (min, max)).
LITERATURE_MZR_COLUMNS = {
    "id": ("str", True, None, None),
    "reference": ("str", True, None, None),
    "z": ("float", True, None, (0.0, 20.0)),
    "log_mstar": ("float", True, "dex(solMass)", (4.0, 13.0)),
    "log_mstar_err_lo": ("float", False, "dex", (0.0, 5.0)),
    "log_mstar_err_hi": ("float", False, "dex", (0.0, 5.0)),
    "oh12": ("float", True, "dex", (6.0, 10.0)),
    "oh12_err_lo": ("float", False, "dex", (0.0, 5.0)),
    "oh12_err_hi": ("float", False, "dex", (0.0, 5.0)),
    "sfr": ("float", False, "solMass / yr", (0.0, 1e5)),
    "sfr_err_lo": ("float", False, "solMass / yr", (0.0, 1e5)),
    "sfr_err_hi": ("float", False, "solMass / yr", (0.0, 1e5)),
    "sfr_limit": ("limit", False, None, None),
    "calibration": ("str", True, None, None),
    "note": ("str", False, None, None),
}


#: Columns of resources/literature_gradients.tsv.
LITERATURE_GRADIENT_COLUMNS = {
    "id": ("str", True, None, None),
    "reference": ("str", True, None, None),
    "z": ("float", True, None, (0.0, 20.0)),
    "log_mstar": ("float", False, "dex(solMass)", (4.0, 13.0)),
    "gradient": ("float", True, "dex / kpc", (-5.0, 5.0)),
    "gradient_err": ("float", False, "dex / kpc", (0.0, 5.0)),
    "method": ("str", True, None, None),
    "note": ("str", False, None, None),
}


def _read_literature(path, columns: dict, optional_columns=(), key_columns=("reference", "id")):
    """Parse a tab-separated literature table, validating every cell.

    Returns (header, rows, comments) with rows as dicts of parsed values (None for empty) and
    each row's 1-based data-row number and file line number.
    """
    path = Path(os.fspath(path))
    if not path.is_file():
        raise InputError(path, "literature table not found")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot be read as UTF-8 text: {exc}") from exc
    header = None
    comments = []
    rows = []
    for line_no, raw in enumerate(text.splitlines(), start=1):
        if raw.startswith("#"):
            comments.append(raw[1:].strip())
            continue
        if not raw.strip():
            continue
        fields = raw.split("\t")
        if header is None:
            header = [f.strip() for f in fields]
            unknown = [c for c in header if c not in columns]
            if unknown:
                raise InputError(
                    path,
                    f"line {line_no}: unknown column(s) {', '.join(unknown)}; "
                    f"allowed: {', '.join(columns)}",
                )
            dup = sorted({c for c in header if header.count(c) > 1})
            if dup:
                raise InputError(path, f"line {line_no}: column {dup[0]!r} appears twice")
            missing = [c for c in columns if c not in header and c not in optional_columns]
            if missing:
                raise InputError(
                    path,
                    f"line {line_no}: column {missing[0]!r} is missing "
                    f"(need {', '.join(c for c in columns if c not in optional_columns)})",
                )
            continue
        row_no = len(rows) + 1
        where = f"row {row_no} (line {line_no})"
        if len(fields) != len(header):
            raise InputError(
                path, f"{where}: {len(fields)} tab-separated fields, the header has {len(header)}"
            )
        record = {}
        for name, cell in zip(header, fields):
            kind, required, _unit, bounds = columns[name]
            cell = cell.strip()
            if cell == "":
                if required:
                    raise InputError(
                        path, f"{where}, column {name!r}: empty, but a value is required"
                    )
                record[name] = None
                continue
            if kind == "float":
                try:
                    value = float(cell)
                except ValueError:
                    raise InputError(
                        path, f"{where}, column {name!r}: {cell!r} is not a number"
                    ) from None
                if not math.isfinite(value):
                    raise InputError(path, f"{where}, column {name!r}: {cell!r} is not finite")
                lo, hi = bounds
                if not lo <= value <= hi:
                    raise InputError(
                        path, f"{where}, column {name!r}: {value} is outside [{lo}, {hi}]"
                    )
                record[name] = value
            elif kind == "limit":
                if cell not in ("<", ">"):
                    raise InputError(
                        path,
                        f"{where}, column {name!r}: {cell!r}; use '<' (upper "
                        "limit), '>' (lower limit) or leave it empty",
                    )
                record[name] = cell
            else:
                record[name] = cell
        for name in columns:
            record.setdefault(name, None)
        rows.append((row_no, line_no, record))
    if header is None:
        raise InputError(path, "no header line (every line is a comment or blank)")
    if not rows:
        raise InputError(path, "the table has no data rows")
    seen = {}
    for row_no, line_no, rec in rows:
        key = tuple(rec[c] for c in key_columns)
        if key in seen:
            what = ", ".join(f"{c}={rec[c]!r}" for c in key_columns)
            raise InputError(
                path,
                f"row {row_no} (line {line_no}), column 'id': the entry ({what}) "
                f"already appears in row {seen[key]}",
            )
        seen[key] = row_no
    return header, rows, comments


def _to_table(path, columns: dict, rows, comments):
    from astropy import units as u
    from astropy.table import MaskedColumn, Table

    table = Table(meta={"source": os.fspath(path), "comments": comments})
    for name, (kind, _required, unit, _bounds) in columns.items():
        values = [rec[name] for _r, _l, rec in rows]
        mask = [v is None for v in values]
        if kind == "float":
            data = np.array([np.nan if v is None else v for v in values], dtype=float)
        else:
            data = np.array(["" if v is None else v for v in values], dtype=str)
        col_unit = None if unit is None else u.Unit(unit)
        if any(mask):
            table[name] = MaskedColumn(data, mask=mask, unit=col_unit)
        else:
            table[name] = data
            if col_unit is not None:
                table[name].unit = col_unit
    return table


def read_literature_mzr(path):
    """Read a literature mass-metallicity compilation (``resources/literature_mzr.tsv``).

    Tab-separated, ``#`` comment lines, one header line. Columns (units):
    ``id``, ``reference``, ``z``, ``log_mstar`` (log10 Msun), ``log_mstar_err_lo``,
    ``log_mstar_err_hi`` (dex), ``oh12``, ``oh12_err_lo``, ``oh12_err_hi`` (12+log(O/H), dex),
    ``sfr``, ``sfr_err_lo``, ``sfr_err_hi`` (Msun/yr), ``sfr_limit`` (``<``, ``>`` or empty),
    ``calibration``, and an optional ``note``. Required: id, reference, z, log_mstar, oh12,
    calibration. An SFR limit must have an SFR value and no SFR errors; errors and a limit need
    an SFR.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    astropy.table.Table
        One row per measurement, in file order; empty cells are masked; ``log_mstar`` has unit
        dex(Msun), metallicities and mass errors dex, SFRs Msun/yr. ``meta["comments"]`` holds
        the header comments, ``meta["source"]`` the path.

    Raises
    ------
    ohmap.errors.InputError
        Naming the file and, for a bad cell, its 1-based data row (and file line) and column.
    """
    _header, rows, comments = _read_literature(
        path, LITERATURE_MZR_COLUMNS, optional_columns=("note",)
    )
    for row_no, line_no, rec in rows:
        where = f"row {row_no} (line {line_no})"
        if rec["sfr"] is None:
            for name in ("sfr_err_lo", "sfr_err_hi", "sfr_limit"):
                if rec[name] is not None:
                    raise InputError(path, f"{where}, column {name!r}: set, but 'sfr' is empty")
        elif rec["sfr"] <= 0:
            raise InputError(path, f"{where}, column 'sfr': {rec['sfr']} is not positive")
        if rec["sfr_limit"] is not None:
            for name in ("sfr_err_lo", "sfr_err_hi"):
                if rec[name] is not None:
                    raise InputError(
                        path,
                        f"{where}, column {name!r}: an SFR limit "
                        f"({rec['sfr_limit']}) has no errors; leave it empty",
                    )
    return _to_table(path, LITERATURE_MZR_COLUMNS, rows, comments)


def read_literature_gradients(path):
    """Read a literature metallicity-gradient compilation (``resources/literature_gradients.tsv``).

    Tab-separated, ``#`` comment lines, one header line. Columns (units): ``id``,
    ``reference``, ``z``, ``log_mstar`` (log10 Msun, may be empty), ``gradient`` and
    ``gradient_err`` (dex/kpc), ``method``, ``note`` (may be empty). Required: id, reference,
    z, gradient, method.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    astropy.table.Table
        One row per gradient, in file order; empty cells masked; ``gradient`` in dex/kpc.

    Raises
    ------
    ohmap.errors.InputError
        Naming the file and, for a bad cell, its 1-based data row (and file line) and column.
    """
    _header, rows, comments = _read_literature(
        path,
        LITERATURE_GRADIENT_COLUMNS,
        optional_columns=("note",),
        key_columns=("reference", "id", "method"),
    )
    return _to_table(path, LITERATURE_GRADIENT_COLUMNS, rows, comments)
