"""Offsets from the fundamental metallicity relation of Mannucci et al. (2011) (Figure 9)."""

from astropy.table import Table

from ohmap.io.atomic import write_table_atomic
from ohmap.logs import log_to_file
from ohmap.report.sample import plot_fmr
from ohmap.sample.fmr import fmr_offset_table
from ohmap.sample.literature import read_literature_mzr

log = log_to_file(snakemake.log[0])
settings = dict(snakemake.params.settings or {})
out = fmr_offset_table(
    Table.read(snakemake.input.table, format="ascii.ecsv"),
    read_literature_mzr(snakemake.input.literature),
    n_samples=int(settings.get("fmr_samples", 10000)),
    seed=int(settings.get("seed", 20170207)),
)
write_table_atomic(out, snakemake.output.offsets, format="ascii.ecsv")
plot_fmr(out, snakemake.output.png.removesuffix(".png"))
