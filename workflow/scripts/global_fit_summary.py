"""The sample's global fits in one table (one row per galaxy)."""

from astropy.table import vstack

from ohmap.inference.products.global_fits import read_global_fit, write_global_fit
from ohmap.logs import log_to_file

log = log_to_file(snakemake.log[0])
tables = [read_global_fit(path) for path in snakemake.input]
table = vstack(tables, metadata_conflicts="silent")
meta = {
    k: v
    for k, v in tables[0].meta.items()
    if k not in ("galaxy", "redshift", "magnification", "input", "lens_model")
}
write_global_fit(snakemake.output[0], [dict(zip(table.colnames, r)) for r in table], meta)
log.info("%d galaxies", len(table))
