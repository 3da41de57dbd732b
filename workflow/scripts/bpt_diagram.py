"""Spatially resolved [SII] BPT diagram of one galaxy (Figure 11)."""

from astropy.table import Table

from ohmap.gradients.products import read_radius_map
from ohmap.inference.spaxels import read_plan
from ohmap.logs import log_to_file
from ohmap.report.sample import plot_bpt
from ohmap.sample.bpt import integrated_bpt_point, spaxel_bpt_points

log = log_to_file(snakemake.log[0])
galaxy = snakemake.wildcards.galaxy
plan = read_plan(snakemake.input.plan)
spaxels, n_kept = spaxel_bpt_points(plan, read_radius_map(snakemake.input.radius).radius_kpc)
if spaxels is not None:
    log.info(
        "%s: %d of %d fitted spaxels have all four lines above 2 sigma", galaxy, n_kept, len(plan)
    )
integrated = integrated_bpt_point(Table.read(snakemake.input.fluxes, format="ascii.ecsv"))
plot_bpt(
    spaxels,
    integrated,
    snakemake.output.png.removesuffix(".png"),
    f"{galaxy}: [SII] BPT, spaxels by radius",
)
