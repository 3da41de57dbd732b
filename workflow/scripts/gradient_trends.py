"""Metallicity gradients against redshift and stellar mass (Figures 12 and 13)."""

import numpy as np
from astropy.table import Table, join

from ohmap.logs import log_to_file
from ohmap.report.sample import plot_gradient_trends
from ohmap.sample.literature import read_literature_gradients

log = log_to_file(snakemake.log[0])
gradients = Table.read(snakemake.input.gradients, format="ascii.ecsv")
table = Table.read(snakemake.input.table, format="ascii.ecsv")["galaxy_id", "log_mstar", "agn_candidate"]
table.rename_column("agn_candidate", "mex_agn")
both = join(gradients, table, keys="galaxy_id")
# AGN candidates from the screening or from the configured list are left out of the trends.
agn = np.asarray(both["agn_candidate"], dtype=bool) | np.asarray(both["mex_agn"], dtype=bool)
use = np.asarray(both["kept"], dtype=bool) & ~agn & np.isfinite(both["spaxel_slope"])
ours = both[use]
this_work = {"redshift": np.asarray(ours["redshift"]), "log_mstar": np.asarray(ours["log_mstar"]),
             "gradient": np.asarray(ours["spaxel_slope"]), "gradient_err": np.asarray(ours["spaxel_slope_err"])}
literature = read_literature_gradients(snakemake.input.literature)
# Rows for galaxies of this run's sample come from this run, not from the table.
literature = literature[[str(i) not in set(gradients["galaxy_id"]) for i in literature["id"]]]
plot_gradient_trends(this_work, literature, snakemake.output.redshift_png.removesuffix(".png"),
                     snakemake.output.mass_png.removesuffix(".png"))
log.info("%d galaxies of this work, %d literature gradients", len(ours), len(literature))
