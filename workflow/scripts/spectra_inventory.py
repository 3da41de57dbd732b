"""One row per ingested spectrum: what it covers and how deep it is."""

from ohmap.inventory import inventory_table
from ohmap.logs import log_to_file

log = log_to_file(snakemake.log[0])
table = inventory_table(snakemake.input, snakemake.params.redshifts)
table.write(snakemake.output[0], overwrite=True)
log.info("%d spectra", len(table))
