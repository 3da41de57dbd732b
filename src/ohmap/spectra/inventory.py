"""A table of the ingested 2D spectra: coverage, depth and the lines each one sees."""

from __future__ import annotations

import numpy as np
from astropy import units as u
from astropy.table import Table

from ohmap.lines import LINES_BY_NAME, MAP_LINES

from .grisms import GRISMS, lines_in_range
from .products import read_spectrum_product


def inventory_table(paths, redshifts: dict) -> Table:
    """One row per spectrum product.

    Parameters
    ----------
    paths : iterable of path-like
        Products written by :func:`ohmap.spectra.products.write_spectrum_product`.
    redshifts : dict
        Galaxy id -> redshift, to list the mapped lines in each spectrum's usable range.
    """
    rows = []
    for path in paths:
        spec = read_spectrum_product(path)
        valid = spec.valid
        columns = valid.any(axis=0)
        lines = lines_in_range(
            redshifts[spec.galaxy], GRISMS[spec.grism], [LINES_BY_NAME[n] for n in MAP_LINES]
        )
        rows.append(
            dict(
                galaxy_id=spec.galaxy,
                pa_v3=spec.pa,
                grism=spec.grism,
                n_rows=spec.shape[0],
                n_columns=spec.shape[1],
                wavelength_min=spec.wavelength[columns].min(),
                wavelength_max=spec.wavelength[columns].max(),
                median_error=float(np.median(spec.error[valid])),
                valid_fraction=float(valid.mean()),
                exposure_time=np.nan if spec.exposure_time is None else spec.exposure_time,
                lines_in_range=",".join(line.name for line in lines),
                path=str(path),
            )
        )
    table = Table(rows=rows)
    table["wavelength_min"].unit = u.AA
    table["wavelength_max"].unit = u.AA
    table["median_error"].unit = u.Unit("1e-17 erg / (s cm2 Angstrom)")
    table["exposure_time"].unit = u.s
    table.meta["comment"] = ["Ingested 2D spectra; median_error is per pixel."]
    return table
