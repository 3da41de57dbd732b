"""Checkpoint: the spaxels of one galaxy to fit, and their shards."""

from ohmap.inference.settings import SpaxelSettings
from ohmap.inference.spaxels import select_spaxels, write_plan
from ohmap.linemaps.products import read_stacked_maps
from ohmap.logs import log_to_file

log = log_to_file(snakemake.log[0])
galaxy = snakemake.wildcards.galaxy
settings = SpaxelSettings.from_config(snakemake.params.settings, "inference.spaxels")
stacked = read_stacked_maps(snakemake.input.maps)
stacks = {k: v for k, v in stacked.items() if k not in ("header", "footprint", "direct")}
table, shape = select_spaxels(stacks, settings, galaxy, footprint=stacked["footprint"])
table.meta["pixel_scale_arcsec"] = float(stacked["header"]["PIXSCALE"]) * settings.bin_pixels
table = write_plan(snakemake.output.plan, table, galaxy, settings.shard_size)
log.info(
    "galaxy %s: %d %s of %dx%d (binned %dx%d, binning %s) reach S/N >= %g in %s; %d shard(s)",
    galaxy,
    len(table),
    "bins" if settings.binning == "voronoi" else "spaxels",
    shape[0],
    shape[1],
    settings.bin_pixels,
    settings.bin_pixels,
    settings.binning,
    settings.min_snr,
    ",".join(table.meta["selection_lines"]),
    table.meta["n_shards"],
)
