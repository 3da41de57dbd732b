"""Sample the posteriors of one shard of a galaxy's spaxels."""

from ohmap.config import inference_settings
from ohmap.inference.fitting import fit_fluxes
from ohmap.inference.model import LineFluxModel
from ohmap.inference.products.shards import write_shard
from ohmap.inference.spaxels import line_columns, read_plan
from ohmap.logs import log_to_file

log = log_to_file(snakemake.log[0])
row = snakemake.params.galaxy_row
galaxy, z = row["galaxy_id"], row["redshift"]
shard = int(snakemake.wildcards.shard)
settings = inference_settings({"inference": snakemake.params.settings}, "inference settings")
plan = read_plan(snakemake.input.plan)
spaxels = plan[plan["shard"] == shard]
lines = list(plan.meta["lines"])
model = LineFluxModel(lines, settings["model"], nii_ha=row["nii_ha"])
flux, error = line_columns(spaxels, lines)
log.info("galaxy %s shard %d: %d spaxels, lines %s, %s engine", galaxy, shard, len(spaxels), ",".join(lines),
         settings["sampler"].engine)
fits = fit_fluxes(model, flux, error, [(galaxy, int(s)) for s in spaxels["spaxel"]], settings["sampler"], z,
                  spaxel_arcsec=float(plan.meta["pixel_scale_arcsec"]), progress_every=16,
                  limit_fraction=settings["limit_fraction"])
write_shard(snakemake.output[0], galaxy, spaxels, fits, model,
            dict(shard=shard, redshift=z, pixel_scale_arcsec=float(plan.meta["pixel_scale_arcsec"]),
                 limit_fraction=settings["limit_fraction"]), sampler=settings["sampler"])
