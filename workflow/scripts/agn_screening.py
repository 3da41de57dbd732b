"""AGN screening on the mass-excitation diagram (Juneau et al. 2014; Figure 6)."""

import numpy as np
from astropy.table import Table

from ohmap.io.atomic import write_table_atomic
from ohmap.logs import log_to_file
from ohmap.report.sample import plot_mex
from ohmap.sample.agn import classify_mex

log = log_to_file(snakemake.log[0])
settings = dict(snakemake.params.settings or {})
shift = float(settings.get("mex_mass_shift", 0.0))
threshold = float(settings.get("agn_probability", 0.5))
# Below this share of positive flux draws the ratio is not measured (e.g. an H-beta consistent
# with zero) and the galaxy is not classified.
MIN_POSITIVE = 0.84
rng = np.random.default_rng(int(settings.get("seed", 20170207)))
fluxes = Table.read(snakemake.input.fluxes, format="ascii.ecsv")
rows = []
for gid, (logm, _, _) in snakemake.params.masses.items():
    sub = {str(r["line"]): r for r in fluxes[fluxes["galaxy_id"] == gid]}
    if "OIII5008" not in sub or "Hb" not in sub:
        rows.append(dict(galaxy_id=gid, log_mstar=logm, log_o3hb=np.nan, log_o3hb_err=np.nan, p_star_forming=np.nan,
                         p_intermediate=np.nan, p_agn=np.nan, mex_class="unknown",
                         note="[OIII]5008 or Hbeta not measured"))
        continue
    o3, hb = sub["OIII5008"], sub["Hb"]
    corr = 0.0
    for item in filter(None, str(o3["correlation"]).split(",")):
        name, _, value = item.partition("=")
        if name == "Hb":
            corr = float(value)
    cov = [[o3["flux_error"] ** 2, corr * o3["flux_error"] * hb["flux_error"]],
           [corr * o3["flux_error"] * hb["flux_error"], hb["flux_error"] ** 2]]
    # The ratio of two noisy fluxes (anti-correlated when de-blended together): Monte Carlo.
    draws = rng.multivariate_normal([o3["flux"], hb["flux"]], cov, size=20000)
    positive = (draws > 0).all(axis=1)
    ratio = np.log10(draws[positive, 0] / draws[positive, 1])
    classes = classify_mex(np.full(ratio.size, logm), ratio, mass_shift=shift)
    frac = {c: float(np.mean(classes == c)) for c in ("star-forming", "intermediate", "AGN")}
    point = float(np.log10(o3["flux"] / hb["flux"])) if o3["flux"] > 0 and hb["flux"] > 0 else float(np.median(ratio))
    cls = str(classify_mex(np.array([logm]), np.array([point]), mass_shift=shift)[0])
    if positive.mean() < MIN_POSITIVE:
        cls = "unconstrained"
    rows.append(dict(galaxy_id=gid, log_mstar=logm, log_o3hb=point,
                     log_o3hb_err=float(np.diff(np.percentile(ratio, [16, 84]))[0] / 2), p_star_forming=frac["star-forming"],
                     p_intermediate=frac["intermediate"], p_agn=frac["AGN"], mex_class=cls,
                     note=f"{positive.mean():.0%} of flux draws positive"))
    log.info("%s: log M* %.2f, log([OIII]/Hb) %.2f -> %s (P(AGN) = %.2f)", gid, logm, point, cls, frac["AGN"])
table = Table(rows=rows)
table["agn_candidate"] = (table["mex_class"] != "unconstrained") & (table["mex_class"] != "unknown") & (
    np.nan_to_num(np.asarray(table["p_agn"], float)) >= threshold)
table["log_mstar"].unit = "dex(solMass)"
table.meta.update(mass_shift_dex=shift, description=(
    "Mass-excitation classification (Juneau et al. 2014) of the integrated [OIII]5008/Hbeta; "
    "p_*: fraction of Monte Carlo draws of the fluxes (with their correlation) in each class; "
    "mex_class: of the measured ratio, or 'unconstrained' when under 84% of the draws have both fluxes "
    "positive; agn_candidate: p_agn >= agn_probability for a constrained ratio (kept in the tables, left "
    "out of the MZR, FMR and gradient trends)."), agn_probability=threshold)
write_table_atomic(table, snakemake.output.table, format="ascii.ecsv")
plot_mex(table[np.isfinite(table["log_o3hb"])], snakemake.output.png.removesuffix(".png"), mass_shift=shift)
