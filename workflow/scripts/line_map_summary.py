"""Sample tables of the line-map step: integrated fluxes, vetting and alignment of all galaxies."""

from astropy.table import Table, vstack

from ohmap.io.atomic import write_table_atomic
from ohmap.logs import log_to_file

log = log_to_file(snakemake.log[0])
for key in ("fluxes", "vetting", "alignments"):
    table = vstack(
        [Table.read(path, format="ascii.ecsv") for path in snakemake.input[key]],
        metadata_conflicts="silent",
    )
    write_table_atomic(table, snakemake.output[key], format="ascii.ecsv")
    log.info("%s: %d rows from %d files", key, len(table), len(snakemake.input[key]))
