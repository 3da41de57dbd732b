"""Figure of one galaxy's metallicity, error, A_V and SFR surface-density maps."""

from ohmap.inference.products.spaxel_maps import read_spaxel_maps
from ohmap.logs import log_to_file
from ohmap.report.inference import plot_spaxel_maps

log = log_to_file(snakemake.log[0])
maps = read_spaxel_maps(snakemake.input.maps)
plot_spaxel_maps(maps, snakemake.output[0], title=f"{snakemake.wildcards.galaxy}: per-spaxel fits")
log.info("wrote %s", snakemake.output[0])
