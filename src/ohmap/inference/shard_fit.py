"""One shard of a galaxy's spaxels fitted (Wang et al. 2017, Sect. 6.1): the shard's rows of the
spaxel plan through the line-flux model, one random stream per spaxel (or Voronoi bin, keyed by
its bin id)."""

from __future__ import annotations

import logging

import numpy as np

from .fitting import fit_fluxes
from .model import LineFluxModel
from .spaxels import line_columns

log = logging.getLogger(__name__)


def fit_shard(plan, shard: int, galaxy: dict, settings: dict):
    """Fit the spaxels of one shard.

    Parameters
    ----------
    plan : astropy.table.Table
        The galaxy's spaxel plan (:func:`ohmap.inference.spaxels.read_plan`).
    shard : int
    galaxy : dict
        ``galaxy_id``, ``redshift``, ``nii_ha`` (the sample sheet's row).
    settings : dict
        Inference settings (:func:`ohmap.config.inference_settings`).

    Returns
    -------
    spaxels : astropy.table.Table
        The shard's rows of the plan.
    fits : list of ohmap.inference.fitting.FluxFit
    model : ohmap.inference.model.LineFluxModel
    meta : dict
        What the shard file records of the fit (shard, redshift, spaxel size, limit rule).
    """
    gid, z = galaxy["galaxy_id"], galaxy["redshift"]
    spaxels = plan[plan["shard"] == shard]
    lines = list(plan.meta["lines"])
    model = LineFluxModel(lines, settings["model"], nii_ha=galaxy["nii_ha"])
    flux, error = line_columns(spaxels, lines)
    log.info(
        "galaxy %s shard %d: %d spaxels, lines %s, %s engine",
        gid,
        shard,
        len(spaxels),
        ",".join(lines),
        settings["sampler"].engine,
    )
    spaxel_arcsec = float(plan.meta["pixel_scale_arcsec"])
    # A bin's SFR surface density is over its whole area: a square of sqrt(n) spaxel sides.
    sides = (
        spaxel_arcsec * np.sqrt(np.asarray(spaxels["n_spaxels"], dtype=float))
        if "n_spaxels" in spaxels.colnames
        else spaxel_arcsec
    )
    keys = [(gid, int(s)) for s in spaxels["spaxel"]]
    fits = fit_fluxes(
        model,
        flux,
        error,
        keys,
        settings["sampler"],
        z,
        spaxel_arcsec=sides,
        progress_every=16,
        limit_fraction=settings["limit_fraction"],
    )
    meta = dict(
        shard=shard,
        redshift=z,
        pixel_scale_arcsec=spaxel_arcsec,
        limit_fraction=settings["limit_fraction"],
    )
    return spaxels, fits, model, meta
