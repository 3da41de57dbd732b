"""Panel of one galaxy's direct image and stacked line maps (cf. Wang et al. 2017, Figs. 3-4),
with contours of deprojected radius every 2 kpc when the rule gives a radius map."""

from astropy.table import Table

from ohmap.gradients.products import read_radius_map
from ohmap.linemaps.products import read_stacked_maps
from ohmap.logs import log_to_file
from ohmap.report.linemaps import missing_map_notes, plot_line_maps

log = log_to_file(snakemake.log[0])
stacked = read_stacked_maps(snakemake.input.maps)
lines = list(Table.read(snakemake.input.fluxes, format="ascii.ecsv")["line"])
radius = (
    read_radius_map(snakemake.input.radius).radius_kpc
    if "radius" in snakemake.input.keys()
    else None
)
plot_line_maps(
    stacked, lines, snakemake.output[0], missing_map_notes(stacked["header"]), radius_kpc=radius
)
log.info(
    "plotted %d line maps of %s", sum(line in stacked for line in lines), snakemake.wildcards.galaxy
)
