"""The global fit of a galaxy: its integrated line fluxes -> 12+log(O/H), A_V, SFR (Wang et al.
2017, Sect. 4.4, Fig. 5 and Table 2)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from .fitting import FluxFit, fit_fluxes, integrated_flux_inputs
from .model import LineFluxModel
from .products.global_fits import global_fit_row

log = logging.getLogger(__name__)


@dataclass
class GlobalFit:
    """A galaxy's global fit, its table row and the provenance both products carry."""

    fit: FluxFit
    model: LineFluxModel
    row: dict
    meta: dict


def fit_global(
    fluxes, galaxy: dict, settings: dict, magnification: float, source=None
) -> GlobalFit:
    """Fit a galaxy's integrated line fluxes (one object, with their covariance).

    Parameters
    ----------
    fluxes : astropy.table.Table
        The galaxy's flux table (``<galaxy>_fluxes.ecsv``, 1e-17 erg/s/cm^2).
    galaxy : dict
        ``galaxy_id``, ``redshift``, ``nii_ha``, ``lens_model`` (the sample sheet's row).
    settings : dict
        Inference settings (:func:`ohmap.config.inference_settings`).
    magnification : float
        |mu| at the galaxy; the SFR is divided by it.
    source : str or os.PathLike, optional
        The flux table's file, recorded as the fit's input.
    """
    gid, z = galaxy["galaxy_id"], galaxy["redshift"]
    lines, flux, error, covariance = integrated_flux_inputs(fluxes)
    model = LineFluxModel(lines, settings["model"], nii_ha=galaxy["nii_ha"])
    for line, f, e in zip(lines, flux, error):
        log.info(
            "  %-9s %9.3f +- %7.3f (1e-17 erg/s/cm2)%s",
            line,
            f,
            e,
            "" if f == f else "  (left out)",
        )
    fit = fit_fluxes(
        model,
        flux[None],
        error[None],
        [(gid, "global")],
        settings["sampler"],
        z,
        magnification,
        covariances=[covariance],
        limit_fraction=settings["limit_fraction"],
    )[0]
    for name, s in fit.summary.items():
        log.info(
            "%-8s %s%.4g  (16/50/84: %.4g %.4g %.4g)",
            name,
            s["limit"],
            s["value"],
            s["p16"],
            s["p50"],
            s["p84"],
        )
    log.info(
        "tau %s steps, acceptance %.2f, converged %s",
        fit.tau.round(1),
        fit.acceptance,
        fit.converged,
    )
    n_lines = int((flux == flux).sum())
    meta = dict(
        galaxy=gid,
        redshift=z,
        magnification=magnification,
        lens_model=galaxy["lens_model"],
        input=str(source),
        inference=settings["model"],
        sampler=settings["sampler"],
        limit_fraction=settings["limit_fraction"],
    )
    return GlobalFit(fit, model, global_fit_row(gid, fit, z, magnification, model, n_lines), meta)
