"""AGN screening on the mass-excitation diagram (Juneau et al. 2014; Figure 6)."""

import numpy as np
from astropy.table import Table

from ohmap.io.atomic import write_table_atomic
from ohmap.logs import log_to_file
from ohmap.report.sample import plot_mex
from ohmap.sample.agn import screen_agn

log = log_to_file(snakemake.log[0])
settings = dict(snakemake.params.settings or {})
shift = float(settings.get("mex_mass_shift", 0.0))
table = screen_agn(
    Table.read(snakemake.input.fluxes, format="ascii.ecsv"),
    snakemake.params.masses,
    mass_shift=shift,
    agn_probability=float(settings.get("agn_probability", 0.5)),
    seed=int(settings.get("seed", 20170207)),
)
write_table_atomic(table, snakemake.output.table, format="ascii.ecsv")
plot_mex(
    table[np.isfinite(table["log_o3hb"])],
    snakemake.output.png.removesuffix(".png"),
    mass_shift=shift,
)
