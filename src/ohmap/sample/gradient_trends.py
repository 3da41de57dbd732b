"""Metallicity gradients of the sample against redshift and stellar mass (Wang et al. 2017,
Figures 12 and 13), beside the literature's."""

from __future__ import annotations

import numpy as np
from astropy.table import join


def gradient_trend_points(gradients, table, literature):
    """This work's gradients for the trend figures, and the literature rows to show beside them.

    Parameters
    ----------
    gradients : astropy.table.Table
        The sample's gradients (``gradients.ecsv``: ``galaxy_id``, ``redshift``, ``kept``,
        ``agn_candidate``, ``spaxel_slope`` and its error, dex/kpc).
    table : astropy.table.Table
        The sample table (Table 2: ``galaxy_id``, ``log_mstar``, ``agn_candidate`` from the MEx
        screening).
    literature : astropy.table.Table
        :func:`ohmap.sample.literature.read_literature_gradients`.

    Returns
    -------
    points : dict
        ``redshift``, ``log_mstar``, ``gradient``, ``gradient_err`` of the kept galaxies with a
        finite individual-spaxel gradient that are AGN candidates neither by the screening nor
        by the configured list.
    literature : astropy.table.Table
        The literature rows of galaxies not in this run's sample (those come from this run).
    """
    table = table["galaxy_id", "log_mstar", "agn_candidate"]
    table.rename_column("agn_candidate", "mex_agn")
    both = join(gradients, table, keys="galaxy_id")
    agn = np.asarray(both["agn_candidate"], dtype=bool) | np.asarray(both["mex_agn"], dtype=bool)
    use = np.asarray(both["kept"], dtype=bool) & ~agn & np.isfinite(both["spaxel_slope"])
    ours = both[use]
    points = {
        "redshift": np.asarray(ours["redshift"]),
        "log_mstar": np.asarray(ours["log_mstar"]),
        "gradient": np.asarray(ours["spaxel_slope"]),
        "gradient_err": np.asarray(ours["spaxel_slope_err"]),
    }
    literature = literature[[str(i) not in set(gradients["galaxy_id"]) for i in literature["id"]]]
    return points, literature
