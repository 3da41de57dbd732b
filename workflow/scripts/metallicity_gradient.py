"""Metallicity gradient of one galaxy by both methods: individual spaxels and radial annuli."""

from ohmap.config import inference_settings
from ohmap.gradients.galaxy import galaxy_gradients
from ohmap.gradients.products import read_radius_map
from ohmap.inference.products.spaxel_maps import read_spaxel_maps
from ohmap.io.atomic import write_table_atomic
from ohmap.linemaps.products import read_stacked_maps
from ohmap.logs import log_to_file

log = log_to_file(snakemake.log[0])
radius = read_radius_map(snakemake.input.radius)
result = galaxy_gradients(
    read_spaxel_maps(snakemake.input.maps),
    radius.radius_kpc,
    read_stacked_maps(snakemake.input.linemaps),
    snakemake.params.galaxy,
    inference_settings({"inference": snakemake.params.settings}, "inference settings"),
    snakemake.params.gradients,
    radius_source=snakemake.input.radius,
    covered=radius.covered,
)
write_table_atomic(result.gradients, snakemake.output.gradient, format="ascii.ecsv")
write_table_atomic(result.annuli, snakemake.output.annuli, format="ascii.ecsv")
