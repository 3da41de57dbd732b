"""Vetting and inverse-variance stacking of one galaxy's aligned line maps."""

from ohmap.io.atomic import write_table_atomic
from ohmap.linemaps.footprint import direct_on_map_grid
from ohmap.linemaps.products import (
    fluxes_table,
    read_galaxy_maps,
    vetting_table,
    write_stacked_maps,
)
from ohmap.linemaps.settings import VettingSettings, stacking_settings
from ohmap.linemaps.stack import stack_galaxy
from ohmap.logs import log_to_file

log = log_to_file(snakemake.log[0])
galaxy, redshift = snakemake.wildcards.galaxy, snakemake.params.redshift
settings = VettingSettings.from_config(snakemake.params.settings, "linemaps.vetting")
kernel, joint = stacking_settings(snakemake.params.stacking)
extractions, alignments = read_galaxy_maps(snakemake.input.maps, snakemake.input.alignments)
reference_key = tuple(snakemake.params.reference.split("-"))
result = stack_galaxy(
    extractions, alignments, reference_key, snakemake.params.lines or None, settings, kernel, joint
)
reference = extractions[reference_key]
direct = direct_on_map_grid(reference.direct_image, reference.footprint.shape[0])
out = snakemake.output
write_stacked_maps(
    out.maps, galaxy, reference, result.stacks, redshift, direct, result.notes, result.joint
)
write_table_atomic(vetting_table(galaxy, result.vetting), out.vetting, format="ascii.ecsv")
write_table_atomic(fluxes_table(galaxy, redshift, result.fluxes), out.fluxes, format="ascii.ecsv")
