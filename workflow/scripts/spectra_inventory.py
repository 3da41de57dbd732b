"""One row per ingested spectrum: what it covers and how deep it is."""

from ohmap.io.atomic import write_table_atomic
from ohmap.logs import log_to_file
from ohmap.spectra.inventory import inventory_table

log = log_to_file(snakemake.log[0])
table = inventory_table(snakemake.input, snakemake.params.redshifts)
write_table_atomic(table, snakemake.output[0], format="ascii.ecsv")
log.info("%d spectra", len(table))
