"""The sample's global properties (cf. Table 2) as ECSV and LaTeX."""

import numpy as np
from astropy.table import Table, join

from ohmap.inference.products.global_fits import read_global_fit
from ohmap.io.atomic import write_table_atomic, write_text_atomic
from ohmap.logs import log_to_file

log = log_to_file(snakemake.log[0])
fits = read_global_fit(snakemake.input.global_fits)
agn = Table.read(snakemake.input.agn, format="ascii.ecsv")["galaxy_id", "mex_class", "agn_candidate", "log_o3hb"]
sheet = Table(rows=[dict(galaxy_id=g, **v) for g, v in snakemake.params.galaxies.items()])
keep = ["galaxy_id", "magnification"] + [f"{q}_{s}" for q in ("oh12", "sfr", "av") for s in ("p16", "p50", "p84", "limit", "value")]
table = join(join(sheet, fits[keep], keys="galaxy_id"), agn, keys="galaxy_id")
table["log_mstar"].unit = "dex(solMass)"
table.meta["description"] = ("Global properties (Table 2): position, redshift, magnification at the galaxy (lens "
                             "model), stellar mass (sample sheet), and the global line-flux fit: 12+log(O/H), SFR "
                             "(lensing-corrected) and A_V with 16/50/84th percentiles and limits; MEx class.")
write_table_atomic(table, snakemake.output.table, format="ascii.ecsv")


def value(row, q, fmt):
    if row[f"{q}_limit"]:
        return f"${row[f'{q}_limit']}{row[f'{q}_value']:{fmt}}$"
    v, lo, hi = row[f"{q}_p50"], row[f"{q}_p16"], row[f"{q}_p84"]
    return f"${v:{fmt}}^{{+{hi - v:{fmt}}}}_{{-{v - lo:{fmt}}}}$"


lines = ["\\begin{tabular}{lccccccc}", "\\hline",
         "ID & RA & Dec & $z$ & $\\mu$ & $\\log M_*$ & 12+log(O/H) & SFR & $A_V$ \\\\",
         " & (deg) & (deg) & & & ($M_\\odot$) & & ($M_\\odot$/yr) & (mag) \\\\", "\\hline"]
for r in table:
    mark = "$^a$" if r["agn_candidate"] else ""
    lines.append(f"{r['galaxy_id']}{mark} & {r['ra_deg']:.6f} & {r['dec_deg']:.6f} & {r['redshift']:.2f} & "
                 f"{r['magnification']:.2f} & ${r['log_mstar']:.2f}^{{+{r['log_mstar_err_hi']:.2f}}}_{{-{r['log_mstar_err_lo']:.2f}}}$ & "
                 f"{value(r, 'oh12', '.2f')} & {value(r, 'sfr', '.2f')} & {value(r, 'av', '.2f')} \\\\")
lines += ["\\hline", "\\end{tabular}", "% a: AGN candidate on the mass-excitation diagram"]
write_text_atomic("\n".join(lines) + "\n", snakemake.output.latex)
log.info("%d galaxies, %d AGN candidates", len(table), int(np.sum(table["agn_candidate"])))
