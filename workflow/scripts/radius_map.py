"""Deprojected radius of every spaxel of a galaxy's metallicity maps, and of every line-map pixel."""

from ohmap.gradients.lensing import LensModel
from ohmap.gradients.products import read_morphology, write_radius_map
from ohmap.gradients.radius import stacked_map_radii
from ohmap.inference.settings import SpaxelSettings
from ohmap.linemaps.products import read_stacked_maps
from ohmap.logs import log_to_file

log = log_to_file(snakemake.log[0])
row = snakemake.params.galaxy
# z_lens: the model's resolved lens redshift (ohmap.gradients.lens_inputs); None: the maps' Z_LENS.
lens = LensModel.from_hff(
    snakemake.params.lens_prefix,
    snakemake.params.z_lens,
    name=row["lens_model"],
    z_lens_field=f"the configured z_lens of lens model {row['lens_model']}",
)
stacked = read_stacked_maps(snakemake.input.maps)
radii = stacked_map_radii(
    lens,
    read_morphology(snakemake.input.morphology),
    row,
    stacked["header"],
    stacked["footprint"].shape,
    SpaxelSettings.from_config(snakemake.params.spaxels, "inference.spaxels").bin_pixels,
)
for kind, path in (("pixels", snakemake.output.pixels), ("spaxels", snakemake.output.spaxels)):
    radius, cards = radii[kind]
    write_radius_map(
        path, radius.radius_kpc, radius.source_dx, radius.source_dy, cards, radius.covered
    )
