"""Offsets from the fundamental metallicity relation of Mannucci et al. (2011) (Figure 9)."""

import numpy as np
from astropy.table import Table

from ohmap.io.atomic import write_table_atomic
from ohmap.logs import log_to_file
from ohmap.report.sample import plot_fmr
from ohmap.sample.fmr import fmr_offset, median_offset
from ohmap.sample.literature import read_literature_mzr

log = log_to_file(snakemake.log[0])
settings = dict(snakemake.params.settings or {})
rng = np.random.default_rng(int(settings.get("seed", 20170207)))
n = int(settings.get("fmr_samples", 10000))
table = Table.read(snakemake.input.table, format="ascii.ecsv")


def text(v):
    return "" if v is np.ma.masked else str(v)


rows = []
for r in table:
    if r["agn_candidate"] or text(r["oh12_limit"]) or text(r["sfr_limit"]):
        log.info("%s left out: %s", r["galaxy_id"], "AGN candidate" if r["agn_candidate"] else "a limit")
        continue
    off = fmr_offset(r["oh12_p50"], 0.5 * (r["oh12_p84"] - r["oh12_p16"]), r["log_mstar"],
                       0.5 * (r["log_mstar_err_lo"] + r["log_mstar_err_hi"]), r["sfr_p50"],
                       r["sfr_p50"] - r["sfr_p16"], r["sfr_p84"] - r["sfr_p50"], n, rng)
    rows.append(dict(galaxy_id=r["galaxy_id"], subsample="this work", mu032=r["log_mstar"] - 0.32 * np.log10(r["sfr_p50"]),
                     fmr_offset=off["median"], fmr_offset_p16=off["p16"], fmr_offset_p84=off["p84"],
                     fmr_offset_deterministic=off["deterministic"]))
literature = read_literature_mzr(snakemake.input.literature)
for r in literature:
    # Only measured SFRs (a limit has no errors and would bias the median offset).
    if str(r["id"]) in set(table["galaxy_id"]) or any(r[c] is np.ma.masked for c in ("sfr", "sfr_err_lo", "sfr_err_hi")):
        continue
    if "sfr_limit" in literature.colnames and text(r["sfr_limit"]):
        continue
    off = fmr_offset(r["oh12"], 0.5 * (r["oh12_err_lo"] + r["oh12_err_hi"]), r["log_mstar"],
                       0.5 * (r["log_mstar_err_lo"] + r["log_mstar_err_hi"]), r["sfr"], r["sfr_err_lo"],
                       r["sfr_err_hi"], n, rng)
    rows.append(dict(galaxy_id=str(r["id"]), subsample=str(r["reference"]),
                     mu032=float(r["log_mstar"]) - 0.32 * np.log10(float(r["sfr"])),
                     fmr_offset=off["median"], fmr_offset_p16=off["p16"], fmr_offset_p84=off["p84"],
                     fmr_offset_deterministic=off["deterministic"]))
out = Table(rows=rows) if rows else Table(names=["galaxy_id", "subsample", "mu032", "fmr_offset", "fmr_offset_p16",
                                                  "fmr_offset_p84", "fmr_offset_deterministic"],
                                           dtype=[str, str, float, float, float, float, float])
summary = {}
for name in sorted(set(out["subsample"])):
    sub = out[out["subsample"] == name]
    med = median_offset(np.asarray(sub["fmr_offset"]), 0.5 * np.asarray(sub["fmr_offset_p84"] - sub["fmr_offset_p16"]))
    summary[name] = med
    log.info("%s: %d galaxies, median offset %+.3f, median uncertainty %.3f dex", name, len(sub), med[0], med[1])
out.meta.update(description="12+log(O/H) minus the Mannucci et al. (2011) FMR at each galaxy's M* and SFR (Monte "
                            "Carlo over M*, SFR and metallicity: median and 16/84th percentiles, dex).",
                medians={k: {"median_offset": float(v[0]), "median_uncertainty": float(v[1])} for k, v in summary.items()})
write_table_atomic(out, snakemake.output.offsets, format="ascii.ecsv")
plot_fmr(out, snakemake.output.png.removesuffix(".png"))
