"""Metallicity gradients against redshift and stellar mass (Figures 12 and 13)."""

from astropy.table import Table

from ohmap.logs import log_to_file
from ohmap.report.sample import plot_gradient_trends
from ohmap.sample.gradient_trends import gradient_trend_points
from ohmap.sample.literature import read_literature_gradients

log = log_to_file(snakemake.log[0])
this_work, literature = gradient_trend_points(
    Table.read(snakemake.input.gradients, format="ascii.ecsv"),
    Table.read(snakemake.input.table, format="ascii.ecsv"),
    read_literature_gradients(snakemake.input.literature),
)
plot_gradient_trends(
    this_work,
    literature,
    snakemake.output.redshift_png.removesuffix(".png"),
    snakemake.output.mass_png.removesuffix(".png"),
)
log.info(
    "%d galaxies of this work, %d literature gradients", len(this_work["gradient"]), len(literature)
)
