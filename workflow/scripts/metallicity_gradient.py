"""Metallicity gradient of one galaxy by both methods: individual spaxels and radial annuli."""

import numpy as np
from astropy.table import Table

from ohmap.config import inference_settings
from ohmap.gradients.individual_spaxels import individual_spaxel_gradient
from ohmap.gradients.products import read_radius_map
from ohmap.gradients.radial_annuli.radial_annuli import (
    annulus_fluxes,
    radial_annuli,
    radial_annulus_gradient,
)
from ohmap.gradients.result import gradient_row
from ohmap.inference.fitting import fit_fluxes
from ohmap.inference.model import LineFluxModel
from ohmap.inference.products.spaxel_maps import read_spaxel_maps
from ohmap.inference.spaxels import bin_map
from ohmap.io.atomic import write_table_atomic
from ohmap.linemaps.products import read_stacked_maps
from ohmap.lines import FIT_LINES
from ohmap.logs import log_to_file

log = log_to_file(snakemake.log[0])
row = snakemake.params.galaxy
galaxy, z = row["galaxy_id"], row["redshift"]
options = dict(snakemake.params.gradients or {})
min_spaxels = int(options.get("min_spaxels", 5))
seed = int(options.get("seed", 20170207))
settings = inference_settings({"inference": snakemake.params.settings}, "inference settings")
factor = settings["spaxels"].bin_pixels

maps = read_spaxel_maps(snakemake.input.maps)
radius = read_radius_map(snakemake.input.radius).radius_kpc
fitted = np.asarray(maps["FITTED"], dtype=bool)
if radius.shape != fitted.shape:
    raise ValueError(f"{snakemake.input.radius}: radius map {radius.shape} is not on the spaxel grid {fitted.shape}")
limits = np.asarray(maps["OH12_LIM"]) != 0
n_fitted = int(fitted.sum())
agn = galaxy in set(options.get("agn_candidates") or [])
rows = []

individual = individual_spaxel_gradient(radius, maps["OH12_P16"], maps["OH12"], maps["OH12_P84"], fitted, seed,
                                        limit_mask=limits, key=(galaxy,))
rows.append(gradient_row(galaxy, individual))

# Radial annuli from the stacked maps binned like the spaxels, within the object's footprint.
stacked = read_stacked_maps(snakemake.input.linemaps)
lines = [n for n in FIT_LINES if n in stacked]
binned = {n: bin_map(stacked[n].flux, stacked[n].error, factor) for n in lines}
footprint = bin_map(stacked["footprint"].astype(float), np.ones(stacked["footprint"].shape), factor)[0] > 0
snr_line = "Ha" if "Ha" in binned else "OIII5008"
flux, error = binned[snr_line]
annuli = radial_annuli(radius, flux, error, footprint & np.isfinite(error),
                       min_snr=float(options.get("annulus_min_snr", 15.0)))
annulus_table = Table(names=["annulus", "r_inner", "r_outer", "r_mean", "n_spaxels", "snr", "oh12_p16", "oh12_p50",
                             "oh12_p84", "oh12_limit"], dtype=[int, float, float, float, int, float, float, float,
                                                              float, str])
if annuli:
    f, e = annulus_fluxes(binned, annuli, lines)
    model = LineFluxModel(lines, settings["model"], nii_ha=row["nii_ha"])
    fits = fit_fluxes(model, f, e, [(galaxy, "annulus", k) for k in range(len(annuli))], settings["sampler"], z,
                      limit_fraction=settings["limit_fraction"])
    annular = radial_annulus_gradient(fits, annuli, seed, key=(galaxy,))
    for k, (a, fit) in enumerate(zip(annuli, fits)):
        s = fit.summary["oh12"]
        annulus_table.add_row([k, a.r_inner, a.r_outer, a.r_mean, a.n_spaxels, a.snr, s["p16"], s["p50"], s["p84"],
                               s["limit"]])
    rows.append(gradient_row(galaxy, annular))
else:
    rows.append({**{k: np.nan for k in rows[0]}, "galaxy": galaxy, "method": "radial_annulus", "n": 0,
                 "flag": True, "reason": f"no annulus reaches S/N {options.get('annulus_min_snr', 15.0)} in {snr_line}"})

table = Table(rows=rows)
table["n_fitted_spaxels"] = n_fitted
table["kept"] = n_fitted >= min_spaxels
table["agn_candidate"] = agn
table["snr_line"] = snr_line
if n_fitted < min_spaxels:
    table["reason"] = [f"only {n_fitted} spaxels fitted (< {min_spaxels}); {r}".rstrip("; ") for r in table["reason"]]
for col, unit in (("slope", "dex/kpc"), ("slope_err", "dex/kpc"), ("slope_p16", "dex/kpc"), ("slope_p50", "dex/kpc"),
                  ("slope_p84", "dex/kpc"), ("intercept", "dex"), ("intercept_err", "dex"), ("sigma_int", "dex"),
                  ("sigma_int_p16", "dex"), ("sigma_int_p84", "dex"), ("sigma_int_fixed", "dex"), ("r_min_kpc", "kpc"),
                  ("r_max_kpc", "kpc")):
    table[col].unit = unit
for col in ("r_inner", "r_outer", "r_mean"):
    annulus_table[col].unit = "kpc"
for col in ("oh12_p16", "oh12_p50", "oh12_p84"):
    annulus_table[col].unit = "dex"
table.meta.update(galaxy=galaxy, redshift=z, min_spaxels=min_spaxels, agn_candidate=agn,
                  description="Metallicity gradient d(12+log(O/H))/dr by individual spaxels (fit with intrinsic "
                              "scatter, conservative errors) and by radial annuli (S/N >= annulus_min_snr in "
                              "snr_line); kept = enough fitted spaxels for a trustworthy map.")
annulus_table.meta.update(galaxy=galaxy, snr_line=snr_line)
write_table_atomic(table, snakemake.output.gradient, format="ascii.ecsv")
write_table_atomic(annulus_table, snakemake.output.annuli, format="ascii.ecsv")
for r in rows:
    log.info("%s %s: %+.4f +- %.4f dex/kpc from %d points (%s)", galaxy, r["method"], r["slope"], r["slope_err"],
             r["n"], r["reason"] or "ok")
log.info("%s: %d spaxels fitted, %s; %d annuli in %s", galaxy, n_fitted,
         "kept" if n_fitted >= min_spaxels else "left out of the gradient analysis", len(annuli), snr_line)
