"""The sample's global properties (cf. Table 2) as ECSV and LaTeX."""

import numpy as np
from astropy.table import Table

from ohmap.inference.products.global_fits import read_global_fit
from ohmap.io.atomic import write_table_atomic, write_text_atomic
from ohmap.logs import log_to_file
from ohmap.sample.table2 import sample_table, sample_table_latex

log = log_to_file(snakemake.log[0])
table = sample_table(
    read_global_fit(snakemake.input.global_fits),
    Table.read(snakemake.input.agn, format="ascii.ecsv"),
    snakemake.params.galaxies,
)
write_table_atomic(table, snakemake.output.table, format="ascii.ecsv")
write_text_atomic(sample_table_latex(table), snakemake.output.latex)
log.info("%d galaxies, %d AGN candidates", len(table), int(np.sum(table["agn_candidate"])))
