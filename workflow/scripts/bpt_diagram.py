"""Spatially resolved [SII] BPT diagram of one galaxy (Figure 11)."""

import numpy as np
from astropy.table import Table

from ohmap.gradients.products import read_radius_map
from ohmap.inference.spaxels import read_plan
from ohmap.logs import log_to_file
from ohmap.report.sample import plot_bpt

log = log_to_file(snakemake.log[0])
galaxy = snakemake.wildcards.galaxy
plan = read_plan(snakemake.input.plan)
radius = read_radius_map(snakemake.input.radius).radius_kpc
needed = ("OIII5008", "Hb", "SII", "Ha")
spaxels = None
if all(f"{n}_flux" in plan.colnames for n in needed) and len(plan):
    f = {n: np.asarray(plan[f"{n}_flux"], float) for n in needed}
    e = {n: np.asarray(plan[f"{n}_err"], float) for n in needed}
    # A ratio needs both of its lines: spaxels where all four are above 2 sigma.
    ok = np.all([f[n] > 2 * e[n] for n in needed], axis=0)
    spaxels = {"x": np.log10(f["SII"][ok] / f["Ha"][ok]), "y": np.log10(f["OIII5008"][ok] / f["Hb"][ok]),
               "radius": radius[np.asarray(plan["iy"])[ok], np.asarray(plan["ix"])[ok]]}
    log.info("%s: %d of %d fitted spaxels have all four lines above 2 sigma", galaxy, int(ok.sum()), len(plan))
fluxes = {str(r["line"]): r for r in Table.read(snakemake.input.fluxes, format="ascii.ecsv")}
integrated = None
if all(n in fluxes for n in needed) and all(fluxes[n]["flux"] > 0 for n in needed):
    def log_ratio(a, b):
        value = np.log10(fluxes[a]["flux"] / fluxes[b]["flux"])
        err = np.hypot(fluxes[a]["flux_error"] / fluxes[a]["flux"], fluxes[b]["flux_error"] / fluxes[b]["flux"]) / np.log(10)
        return value, err
    (x, xerr), (y, yerr) = log_ratio("SII", "Ha"), log_ratio("OIII5008", "Hb")
    integrated = dict(x=x, y=y, xerr=xerr, yerr=yerr)
plot_bpt(spaxels, integrated, snakemake.output.png.removesuffix(".png"), f"{galaxy}: [SII] BPT, spaxels by radius")
