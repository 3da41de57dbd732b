"""Maps of metallicity, A_V and SFR surface density from all shards of one galaxy."""

from astropy.table import vstack

from ohmap.inference.products.shards import read_shard
from ohmap.inference.products.spaxel_maps import spaxel_map_cards, write_spaxel_maps
from ohmap.inference.spaxels import plan_bin_ids, read_plan
from ohmap.logs import log_to_file

log = log_to_file(snakemake.log[0])
row = snakemake.params.galaxy_row
galaxy = row["galaxy_id"]
plan = read_plan(snakemake.input.plan)
shards = [read_shard(path) for path in snakemake.input.shards]
summaries = [s.summary for s in shards if len(s.summary)]
summary = vstack(summaries) if summaries else shards[0].summary
cards = spaxel_map_cards(galaxy, row["redshift"], plan.meta, snakemake.params.settings["model"])
shape = tuple(plan.meta["shape"])
write_spaxel_maps(snakemake.output.maps, galaxy, shape, summary, cards, plan_bin_ids(plan))
n_unconverged = int((~summary["converged"]).sum()) if len(summary) else 0
log.info(
    "galaxy %s: %d %s fitted in %d shard(s), %d unconverged",
    galaxy,
    len(summary),
    "bins" if plan.meta.get("binning") == "voronoi" else "spaxels",
    len(shards),
    n_unconverged,
)
