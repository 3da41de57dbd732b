"""Both metallicity gradients of one galaxy (Wang et al. 2017, Sect. 6.1, Table 5): individual
spaxels and radial annuli, as the tables the workflow writes."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np
from astropy.table import Table

from ohmap.errors import InputError
from ohmap.inference.fitting import fit_fluxes
from ohmap.inference.model import LineFluxModel
from ohmap.inference.spaxels import bin_map
from ohmap.lines import FIT_LINES

from .forward_model import METHOD as FORWARD_METHOD
from .forward_model import ForwardSettings, forward_gradient
from .individual_spaxels import individual_spaxel_gradient
from .radial_annuli import annulus_fluxes, radial_annuli, radial_annulus_gradient
from .result import gradient_row

log = logging.getLogger(__name__)

_UNITS = (
    ("slope", "dex/kpc"),
    ("slope_err", "dex/kpc"),
    ("slope_p16", "dex/kpc"),
    ("slope_p50", "dex/kpc"),
    ("slope_p84", "dex/kpc"),
    ("intercept", "dex"),
    ("intercept_err", "dex"),
    ("sigma_int", "dex"),
    ("sigma_int_p16", "dex"),
    ("sigma_int_p84", "dex"),
    ("sigma_int_fixed", "dex"),
    ("r_min_kpc", "kpc"),
    ("r_max_kpc", "kpc"),
)


@dataclass
class GalaxyGradients:
    """The gradient table (one row per method) and the annulus table of one galaxy."""

    gradients: Table
    annuli: Table
    n_fitted: int
    snr_line: str


def galaxy_gradients(
    maps: dict,
    radius,
    stacked: dict,
    galaxy: dict,
    settings: dict,
    options: dict | None = None,
    radius_source=None,
    covered=None,
) -> GalaxyGradients:
    """Metallicity gradient of one galaxy by individual spaxels and by radial annuli.

    Parameters
    ----------
    maps : dict
        The per-spaxel maps (:func:`ohmap.inference.products.spaxel_maps.read_spaxel_maps`).
    radius : ndarray
        Deprojected radius (kpc) on the spaxel grid; NaN where the lens maps do not cover it.
    stacked : dict
        The stacked line maps (:func:`ohmap.linemaps.products.read_stacked_maps`), binned here
        like the spaxels for the annuli.
    galaxy : dict
        ``galaxy_id``, ``redshift`` and ``nii_ha`` (the sample sheet's row).
    settings : dict
        Inference settings (:func:`ohmap.config.inference_settings`): the annuli are fitted with
        the spaxels' model and sampler.
    options : dict, optional
        The ``gradients`` configuration section: ``min_spaxels`` (5), ``seed``,
        ``annulus_min_snr`` (15), ``agn_candidates``.
    radius_source : str or os.PathLike, optional
        The radius map's file, named in errors.
    covered : ndarray of bool, optional
        Spaxels the lens-model maps cover (the radius map's ``COVERED``); default where the
        radius is finite. Only covered spaxels enter either gradient; the fitted spaxels left
        out for lack of coverage are counted in the table's meta ``n_fitted_uncovered``.

    Returns
    -------
    GalaxyGradients

    Raises
    ------
    ohmap.errors.InputError
        When the radius map is not on the spaxel grid.
    """
    gid, z = galaxy["galaxy_id"], galaxy["redshift"]
    options = dict(options or {})
    min_spaxels = int(options.get("min_spaxels", 5))
    seed = int(options.get("seed", 20170207))
    fitted = np.asarray(maps["FITTED"], dtype=bool)
    if radius.shape != fitted.shape:
        raise InputError(
            radius_source, f"radius map {radius.shape} is not on the spaxel grid {fitted.shape}"
        )
    radius = np.asarray(radius, dtype=float)
    covered = np.isfinite(radius) & (True if covered is None else np.asarray(covered, bool))
    limits = np.asarray(maps["OH12_LIM"]) != 0
    n_fitted = int(fitted.sum())
    n_uncovered = int(np.count_nonzero(fitted & ~covered))
    if n_uncovered:
        log.warning(
            "%s: %d of %d fitted spaxels have no radius (off the lens-model maps) and are "
            "left out of the gradients",
            gid,
            n_uncovered,
            n_fitted,
        )
    radius = np.where(covered, radius, np.nan)
    agn = gid in set(options.get("agn_candidates") or [])
    individual = individual_spaxel_gradient(
        radius,
        maps["OH12_P16"],
        maps["OH12"],
        maps["OH12_P84"],
        fitted & covered,
        seed,
        limit_mask=limits,
        key=(gid,),
        bin_id=maps.get("BINID"),
    )
    rows = [gradient_row(gid, individual)]
    annular, annulus_table, snr_line = _annulus_gradient(radius, stacked, galaxy, settings, options)
    rows.append(
        annular
        if annular is not None
        else {
            **{k: np.nan for k in rows[0]},
            "galaxy": gid,
            "method": "radial_annulus",
            "n": 0,
            "flag": True,
            "reason": f"no annulus reaches S/N {options.get('annulus_min_snr', 15.0)} in {snr_line}",
        }
    )

    rows.append(gradient_row(gid, _forward_gradient(radius, stacked, galaxy, settings, options)))

    table = Table(rows=rows)
    table["n_fitted_spaxels"] = n_fitted
    table["kept"] = n_fitted >= min_spaxels
    table["agn_candidate"] = agn
    table["snr_line"] = snr_line
    if n_fitted < min_spaxels:
        # The forward model needs no fitted spaxel: its reason stays its own.
        table["reason"] = [
            r
            if m == FORWARD_METHOD
            else f"only {n_fitted} spaxels fitted (< {min_spaxels}); {r}".rstrip("; ")
            for m, r in zip(table["method"], table["reason"])
        ]
    for col, unit in _UNITS:
        table[col].unit = unit
    table.meta.update(
        galaxy=gid,
        redshift=z,
        min_spaxels=min_spaxels,
        agn_candidate=agn,
        n_fitted_uncovered=n_uncovered,
        description="Metallicity gradient d(12+log(O/H))/dr by individual spaxels (fit with intrinsic "
        "scatter, conservative errors), by radial annuli (S/N >= annulus_min_snr in "
        "snr_line) and forward-modelled (one linear profile fitted to the line fluxes of "
        "every footprint spaxel, H-beta free per spaxel, one A_V unless gradients.forward.av "
        "is per_bin); kept = enough fitted spaxels for a trustworthy map. Only spaxels the "
        "lens-model maps cover have a radius; n_fitted_uncovered counts the fitted spaxels left "
        "out for lack of lens coverage.",
    )
    for r in rows:
        log.info(
            "%s %s: %+.4f +- %.4f dex/kpc from %d points (%s)",
            gid,
            r["method"],
            r["slope"],
            r["slope_err"],
            r["n"],
            r["reason"] or "ok",
        )
    log.info(
        "%s: %d spaxels fitted, %s; %d annuli in %s",
        gid,
        n_fitted,
        "kept" if n_fitted >= min_spaxels else "left out of the gradient analysis",
        len(annulus_table),
        snr_line,
    )
    return GalaxyGradients(table, annulus_table, n_fitted, snr_line)


_ANNULUS_COLUMNS = (
    "annulus",
    "r_inner",
    "r_outer",
    "r_mean",
    "n_spaxels",
    "snr",
    "oh12_p16",
    "oh12_p50",
    "oh12_p84",
    "oh12_limit",
)
_ANNULUS_TYPES = (int, float, float, float, int, float, float, float, float, str)


def _binned_footprint(stacked, settings):
    """The fitted lines, their stacked maps binned like the spaxels, and the binned footprint
    (a spaxel with any footprint pixel)."""
    factor = settings["spaxels"].bin_pixels
    lines = [n for n in FIT_LINES if n in stacked]
    binned = {
        n: bin_map(stacked[n].flux, stacked[n].error, factor, stacked[n].neighbour_covariance)
        for n in lines
    }
    footprint = stacked["footprint"]
    footprint = bin_map(footprint.astype(float), np.ones(footprint.shape), factor)[0] > 0
    return lines, binned, footprint


def _forward_gradient(radius, stacked, galaxy, settings, options):
    """The forward-modelled gradient (:mod:`ohmap.gradients.forward_model`) from every spaxel
    of the footprint with a radius, below the S/N threshold included."""
    lines, binned, footprint = _binned_footprint(stacked, settings)
    use = footprint & np.isfinite(radius)
    flux = np.column_stack([binned[n][0][use] for n in lines])
    error = np.column_stack([binned[n][1][use] for n in lines])
    model = LineFluxModel(lines, settings["model"], nii_ha=galaxy["nii_ha"])
    forward = ForwardSettings.from_config(options.get("forward"))
    sampler = replace(settings["sampler"], seed=int(options.get("seed", 20170207)))
    fit = forward_gradient(
        model, flux, error, radius[use], sampler, forward, key=(galaxy["galaxy_id"],)
    )
    return fit.result


def _annulus_gradient(radius, stacked, galaxy, settings, options):
    """The radial-annulus gradient: annuli from the stacked maps binned like the spaxels, within
    the object's footprint, each fitted like a spaxel.

    Returns the gradient's table row (None without an annulus), the annulus table and the line
    whose S/N sets the annuli.
    """
    gid, seed = galaxy["galaxy_id"], int(options.get("seed", 20170207))
    lines, binned, footprint = _binned_footprint(stacked, settings)
    snr_line = "Ha" if "Ha" in binned else "OIII5008"
    flux, error = binned[snr_line]
    annuli = radial_annuli(
        radius,
        flux,
        error,
        footprint & np.isfinite(error),
        min_snr=float(options.get("annulus_min_snr", 15.0)),
    )
    table = Table(names=list(_ANNULUS_COLUMNS), dtype=list(_ANNULUS_TYPES))
    row = None
    if annuli:
        f, e = annulus_fluxes(binned, annuli, lines)
        model = LineFluxModel(lines, settings["model"], nii_ha=galaxy["nii_ha"])
        keys = [(gid, "annulus", k) for k in range(len(annuli))]
        fits = fit_fluxes(
            model,
            f,
            e,
            keys,
            settings["sampler"],
            galaxy["redshift"],
            limit_fraction=settings["limit_fraction"],
        )
        annular = radial_annulus_gradient(fits, annuli, seed, key=(gid,))
        for k, (a, fit) in enumerate(zip(annuli, fits)):
            s = fit.summary["oh12"]
            table.add_row(
                [
                    k,
                    a.r_inner,
                    a.r_outer,
                    a.r_mean,
                    a.n_spaxels,
                    a.snr,
                    s["p16"],
                    s["p50"],
                    s["p84"],
                    s["limit"],
                ]
            )
        row = gradient_row(gid, annular)
    for col in ("r_inner", "r_outer", "r_mean"):
        table[col].unit = "kpc"
    for col in ("oh12_p16", "oh12_p50", "oh12_p84"):
        table[col].unit = "dex"
    table.meta.update(galaxy=gid, snr_line=snr_line)
    return row, table, snr_line
