"""Figure 10-like panel of one galaxy's metallicity gradient."""

from astropy.table import Table

from ohmap.gradients.products import read_radius_map
from ohmap.inference.products.global_fits import read_global_fit
from ohmap.inference.products.spaxel_maps import read_spaxel_maps
from ohmap.logs import log_to_file
from ohmap.report.gradients import plot_galaxy_gradient

log = log_to_file(snakemake.log[0])
plot_galaxy_gradient(
    read_spaxel_maps(snakemake.input.maps),
    read_radius_map(snakemake.input.radius).radius_kpc,
    Table.read(snakemake.input.gradient, format="ascii.ecsv"),
    Table.read(snakemake.input.annuli, format="ascii.ecsv"),
    read_global_fit(snakemake.input.global_fit)[0],
    snakemake.output[0],
    snakemake.wildcards.galaxy,
)
log.info("wrote %s", snakemake.output[0])
