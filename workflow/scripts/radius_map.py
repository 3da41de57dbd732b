"""Deprojected radius of every spaxel of a galaxy's metallicity maps, and of every line-map pixel."""

from ohmap.gradients.lensing import LensModel
from ohmap.gradients.products import read_morphology, write_radius_map
from ohmap.gradients.radius import radius_map
from ohmap.inference.settings import SpaxelSettings
from ohmap.linemaps.products import read_stacked_maps
from ohmap.logs import log_to_file

log = log_to_file(snakemake.log[0])
row = snakemake.params.galaxy
galaxy, z = row["galaxy_id"], row["redshift"]
morphology = read_morphology(snakemake.input.morphology)
lens = LensModel.from_hff(snakemake.params.lens_prefix, snakemake.params.z_lens,
                          name=row["lens_model"])

stacked = read_stacked_maps(snakemake.input.maps)
header = stacked["header"]
shape = stacked["footprint"].shape
pixel = float(header["PIXSCALE"])
factor = SpaxelSettings.from_config(snakemake.params.spaxels, "inference.spaxels").bin_pixels
frame_pa = float(header["PA_X"])
for out, scale, grid in ((snakemake.output.pixels, pixel, shape),
                         (snakemake.output.spaxels, pixel * factor, (shape[0] // factor, shape[1] // factor))):
    radius = radius_map(lens, z, row["ra_deg"], row["dec_deg"], frame_pa, scale, grid, morphology,
                        supersample=factor if out == snakemake.output.spaxels else 1)
    cards = {"OBJECT": (galaxy, "galaxy id"), "REDSHIFT": (z, "catalogue redshift"),
             "PA_X": (frame_pa, "[deg] E of N of the map +x axis"), "PIXSCALE": (scale, "[arcsec/pixel]"),
             "LENSMOD": (row["lens_model"], "lens model"), "REF_PA": (header["REF_PA"], "reference PA of the grid")}
    write_radius_map(out, radius.radius_kpc, radius.source_dx, radius.source_dy, cards | morphology.header_cards())
    log.info("galaxy %s: radius map %dx%d at %.3f arcsec/pixel, %.2f-%.2f kpc", galaxy, grid[0], grid[1], scale,
             float(radius.radius_kpc.min()), float(radius.radius_kpc.max()))
