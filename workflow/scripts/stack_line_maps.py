"""Vetting and inverse-variance stacking of one galaxy's aligned line maps."""

from ohmap.io.atomic import write_table_atomic
from ohmap.linemaps.footprint import direct_on_map_grid
from ohmap.linemaps.products import (
    fluxes_table,
    read_alignment,
    read_extraction,
    vetting_table,
    write_stacked_maps,
)
from ohmap.linemaps.settings import JointDeblendSettings, VettingSettings
from ohmap.linemaps.stack import stack_galaxy
from ohmap.logs import log_to_file

log = log_to_file(snakemake.log[0])
galaxy = snakemake.wildcards.galaxy
settings = VettingSettings.from_config(snakemake.params.settings, "linemaps.vetting")
stacking = dict(snakemake.params.stacking or {})
joint = None
if stacking.get("joint_deblend", True):
    joint = JointDeblendSettings.from_config(stacking.get("joint"), "linemaps.stacking.joint")
extractions, alignments = {}, {}
for maps_path, alignment_path in zip(snakemake.input.maps, snakemake.input.alignments):
    ex = read_extraction(maps_path)
    _, alignments[(ex.pa, ex.grism)] = read_alignment(alignment_path)
    extractions[(ex.pa, ex.grism)] = ex
reference_key = tuple(snakemake.params.reference.split("-"))
lines = snakemake.params.lines or list(dict.fromkeys(n for ex in extractions.values() for n in ex.maps))
result = stack_galaxy(extractions, alignments, reference_key, lines, settings,
                      stacking.get("kernel", "lanczos3"), joint)
reference = extractions[reference_key]
direct = None
if reference.direct_image is not None:
    direct = direct_on_map_grid(reference.direct_image, reference.footprint.shape[0])
redshift = snakemake.params.redshift
write_stacked_maps(snakemake.output.maps, galaxy, reference, result.stacks, redshift, direct, result.notes,
                   result.joint)
write_table_atomic(vetting_table(galaxy, result.vetting), snakemake.output.vetting, format="ascii.ecsv")
write_table_atomic(fluxes_table(galaxy, redshift, result.fluxes), snakemake.output.fluxes, format="ascii.ecsv")
