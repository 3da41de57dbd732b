"""The sample's metallicity gradients as one table (ECSV) and as LaTeX (cf. Table 5)."""

import numpy as np
from astropy.table import Table

from ohmap.gradients.products import read_morphology
from ohmap.gradients.summary import gradient_summary, gradient_summary_latex
from ohmap.io.atomic import write_table_atomic, write_text_atomic
from ohmap.logs import log_to_file

log = log_to_file(snakemake.log[0])
table = gradient_summary(
    [Table.read(path, format="ascii.ecsv") for path in snakemake.input.gradients],
    [read_morphology(path) for path in snakemake.input.morphology],
)
write_table_atomic(table, snakemake.output.table, format="ascii.ecsv")
write_text_atomic(gradient_summary_latex(table), snakemake.output.latex)
log.info("%d galaxies, %d kept", len(table), int(np.sum(table["kept"])))
