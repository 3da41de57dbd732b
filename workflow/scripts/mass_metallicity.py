"""The mass-metallicity relation fitted with our Kelly (2007) linmix (Figure 8)."""

import numpy as np
from astropy.table import Table

from ohmap.io.atomic import write_table_atomic
from ohmap.logs import log_to_file
from ohmap.report.sample import plot_mzr
from ohmap.sample.linmix import LinmixSettings, linmix
from ohmap.sample.literature import read_literature_mzr
from ohmap.sample.mzr import wind_model_tension

log = log_to_file(snakemake.log[0])
settings = dict(snakemake.params.settings or {})
linmix_settings = LinmixSettings(**(settings.get("linmix") or {}))
table = Table.read(snakemake.input.table, format="ascii.ecsv")
limit = np.array([str(v) if v is not np.ma.masked else "" for v in table["oh12_limit"]])
use = ~np.asarray(table["agn_candidate"], dtype=bool) & (limit == "")
ours = table[use]
left_out = [f"{r['galaxy_id']} ({'AGN candidate' if r['agn_candidate'] else 'metallicity limit'})"
            for r in table[~use]]
log.info("MZR from %d galaxies; left out: %s", len(ours), ", ".join(left_out) or "none")
points = {"this work": dict(log_mstar=np.asarray(ours["log_mstar"]),
                            log_mstar_err=0.5 * (np.asarray(ours["log_mstar_err_lo"]) + np.asarray(ours["log_mstar_err_hi"])),
                            oh12=np.asarray(ours["oh12_p50"]),
                            oh12_err=0.5 * (np.asarray(ours["oh12_p84"]) - np.asarray(ours["oh12_p16"])))}
literature = read_literature_mzr(snakemake.input.literature)
# Rows for galaxies of this run's sample come from this run, not from the table.
literature = literature[[str(i) not in set(table["galaxy_id"]) for i in literature["id"]]]
if len(literature):
    points["literature"] = dict(log_mstar=np.asarray(literature["log_mstar"], float),
                                log_mstar_err=0.5 * (np.asarray(literature["log_mstar_err_lo"], float)
                                                     + np.asarray(literature["log_mstar_err_hi"], float)),
                                oh12=np.asarray(literature["oh12"], float),
                                oh12_err=0.5 * (np.asarray(literature["oh12_err_lo"], float)
                                                + np.asarray(literature["oh12_err_hi"], float)))
fits = {}
sets = {"this work": points["this work"]}
if "literature" in points:
    sets["this work + literature"] = {k: np.concatenate([points["this work"][k], points["literature"][k]])
                                      for k in points["this work"]}
if snakemake.input.truth:
    truth = Table.read(snakemake.input.truth[0], format="ascii.ecsv")
    truth.add_index("galaxy_id")
    true_oh = np.array([truth.loc[g]["oh12_global"] for g in ours["galaxy_id"]])
    # The mock's true metallicities with the recovered values' errors, so that both fits weight
    # the galaxies alike and differ only by the recovered values' errors.
    sets["mock truth"] = dict(points["this work"], oh12=true_oh)
# With flat priors on alpha, beta and sigma^2 the posterior of a line through a handful of points
# has tails too heavy to sample (the chains wander off); below this many galaxies, no fit.
min_galaxies = int(settings.get("mzr_min_galaxies", 5))
rows = []
for name, pts in sets.items():
    if len(pts["oh12"]) < min_galaxies:
        log.warning("%s: only %d galaxies (< %d), no MZR fit", name, len(pts["oh12"]), min_galaxies)
        rows.append(dict(fit=name, n=len(pts["oh12"]), converged=False, n_iterations=0,
                         note=f"only {len(pts['oh12'])} galaxies: not fitted"))
        continue
    result = linmix(pts["log_mstar"], pts["oh12"], pts["log_mstar_err"], pts["oh12_err"], settings=linmix_settings)
    fits[name] = result
    row = dict(fit=name, n=len(pts["oh12"]), converged=bool(result.converged), n_iterations=int(result.n_iterations),
               note="" if result.converged else "not converged")
    for q in ("alpha", "beta", "sigma"):
        lo, mid, hi = np.percentile(getattr(result, q), [16, 50, 84])
        row |= {f"{q}_p16": lo, f"{q}_p50": mid, f"{q}_p84": hi}
    for model, beta in (("momentum", 0.17), ("energy", 0.33)):
        tension = wind_model_tension(result.beta, beta)
        row |= {f"{model}_wind_tail_probability": tension["tail_probability"], f"{model}_wind_sigma": tension["n_sigma"]}
    rows.append(row)
    log.info("%s: beta %.3f (+%.3f/-%.3f), alpha %.2f, sigma %.3f; %s after %d iterations", name, row["beta_p50"],
             row["beta_p84"] - row["beta_p50"], row["beta_p50"] - row["beta_p16"], row["alpha_p50"], row["sigma_p50"],
             "converged" if result.converged else "NOT converged", result.n_iterations)
columns = list(dict.fromkeys(k for r in rows for k in r))
out = Table(rows=[{k: r.get(k, np.nan) for k in columns} for r in rows], names=columns)
out.meta.update(description=("12+log(O/H) = alpha + beta log(M*/Msun) + N(0, sigma), fitted with ohmap.sample.linmix "
                             "(Kelly 2007) to this work's star-forming galaxies (and the literature table's rows, "
                             "M08 calibration only); *_wind_*: how strongly beta disfavours the momentum-driven "
                             "(0.17) and energy-driven (0.33) wind models."), left_out=left_out,
                linmix=dict(vars(linmix_settings)))
write_table_atomic(out, snakemake.output.fits, format="ascii.ecsv")
plot_mzr(points, fits, snakemake.output.png.removesuffix(".png"))
