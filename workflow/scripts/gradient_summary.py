"""The sample's metallicity gradients as one table (ECSV) and as LaTeX (cf. Table 5)."""

import numpy as np
from astropy.table import Table

from ohmap.gradients.products import read_morphology
from ohmap.io.atomic import write_table_atomic, write_text_atomic
from ohmap.logs import log_to_file

log = log_to_file(snakemake.log[0])
rows = []
for gradient_path, morphology_path in zip(snakemake.input.gradients, snakemake.input.morphology):
    g = Table.read(gradient_path, format="ascii.ecsv")
    m = read_morphology(morphology_path)
    one = {"galaxy_id": g.meta["galaxy"], "redshift": g.meta["redshift"],
           "n_fitted_spaxels": int(g["n_fitted_spaxels"][0]), "kept": bool(g["kept"][0]),
           "agn_candidate": bool(g["agn_candidate"][0]), "axis_ratio": m.axis_ratio, "axis_ratio_err": m.axis_ratio_err,
           "major_axis_pa_deg": m.pa_deg, "inclination_deg": m.inclination_deg}
    for r in g:
        prefix = "spaxel" if r["method"] == "individual_spaxel" else "annulus"
        one |= {f"{prefix}_slope": r["slope"], f"{prefix}_slope_err": r["slope_err"], f"{prefix}_n": int(r["n"]),
                f"{prefix}_flag": bool(r["flag"]), f"{prefix}_reason": str(r["reason"])}
    rows.append(one)
table = Table(rows=rows)
for col in ("spaxel_slope", "spaxel_slope_err", "annulus_slope", "annulus_slope_err"):
    table[col].unit = "dex/kpc"
table["major_axis_pa_deg"].unit = table["inclination_deg"].unit = "deg"
table.meta["description"] = ("Metallicity gradients (Sect. 6.1): individual-spaxel and radial-annulus methods; "
                             "kept = enough fitted spaxels for a trustworthy map; agn_candidate flagged, not "
                             "dropped; source-plane axis ratio, major-axis PA and inclination.")
write_table_atomic(table, snakemake.output.table, format="ascii.ecsv")


DAGGER = "$^\\dagger$"


def cell(value, error, flag):
    if not np.isfinite(value):
        return "\\nodata"
    mark = DAGGER if flag else ""
    return f"${value:+.3f}\\pm{error:.3f}${mark}"


lines = ["\\begin{tabular}{lcccc}", "\\hline",
         "ID & $z$ & individual spaxels & radial annuli & notes \\\\",
         " & & (dex kpc$^{-1}$) & (dex kpc$^{-1}$) & \\\\", "\\hline"]
for r in table:
    notes = []
    if not r["kept"]:
        notes.append(f"{r['n_fitted_spaxels']} spaxels: not used")
    if r["agn_candidate"]:
        notes.append("AGN candidate")
    spaxel = cell(r["spaxel_slope"], r["spaxel_slope_err"], r["spaxel_flag"]) if r["kept"] else "\\nodata"
    annulus = cell(r["annulus_slope"], r["annulus_slope_err"], r["annulus_flag"]) if r["kept"] else "\\nodata"
    lines.append(f"{r['galaxy_id']} & {r['redshift']:.2f} & {spaxel} & {annulus} & {'; '.join(notes)} \\\\")
lines += ["\\hline", "\\end{tabular}",
          "% $^\\dagger$: flagged fit (too few points or too small a radius range; see gradients.ecsv)"]
write_text_atomic("\n".join(lines) + "\n", snakemake.output.latex)
log.info("%d galaxies, %d kept", len(table), int(np.sum(table["kept"])))
