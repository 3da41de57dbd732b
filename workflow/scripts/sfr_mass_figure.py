"""SFR against stellar mass (Figure 7)."""

from astropy.table import Table

from ohmap.logs import log_to_file
from ohmap.report.sample import plot_sfr_mass

log = log_to_file(snakemake.log[0])
plot_sfr_mass(
    Table.read(snakemake.input.table, format="ascii.ecsv"),
    snakemake.output.png.removesuffix(".png"),
)
log.info("wrote %s", snakemake.output.png)
