"""Maps of metallicity, A_V and SFR surface density from all shards of one galaxy."""

from astropy.table import vstack

from ohmap.inference.products.shards import read_shard
from ohmap.inference.products.spaxel_maps import write_spaxel_maps
from ohmap.inference.spaxels import read_plan
from ohmap.logs import log_to_file

log = log_to_file(snakemake.log[0])
row = snakemake.params.galaxy_row
galaxy = row["galaxy_id"]
plan = read_plan(snakemake.input.plan)
shards = [read_shard(path) for path in snakemake.input.shards]
summaries = [s.summary for s in shards if len(s.summary)]
summary = vstack(summaries) if summaries else shards[0].summary
model = snakemake.params.settings["model"]
# No card records the shard layout: the maps are the same whatever it is (the log says it).
cards = {
    "OBJECT": (galaxy, "galaxy id"),
    "REDSHIFT": (row["redshift"], "catalogue redshift"),
    "BINNING": (int(plan.meta["bin_pixels"]), "stacked-map pixels per spaxel side"),
    "PIXSCALE": (float(plan.meta["pixel_scale_arcsec"]), "[arcsec/spaxel] spaxel side"),
    "MINSNR": (float(plan.meta["min_snr"]), "selection: S/N of one selection line at least"),
    "SNRLINES": (",".join(plan.meta["selection_lines"]), "selection lines"),
    "CALIB": (model.get("calibration", "maiolino2008"), "strong-line calibration"),
    "LIKELIHD": (model.get("likelihood", "gaussian"), "likelihood"),
}
n_unconverged = int((~summary["converged"]).sum()) if len(summary) else 0
write_spaxel_maps(snakemake.output.maps, galaxy, tuple(plan.meta["shape"]), summary, cards)
log.info("galaxy %s: %d spaxels fitted in %d shard(s), %d unconverged", galaxy, len(summary), len(shards),
         n_unconverged)
