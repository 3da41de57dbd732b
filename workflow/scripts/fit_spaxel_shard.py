"""Sample the posteriors of one shard of a galaxy's spaxels."""

from ohmap.config import inference_settings
from ohmap.inference.products.shards import write_shard
from ohmap.inference.shard_fit import fit_shard
from ohmap.inference.spaxels import read_plan
from ohmap.logs import log_to_file

log = log_to_file(snakemake.log[0])
row = snakemake.params.galaxy_row
settings = inference_settings({"inference": snakemake.params.settings}, "inference settings")
spaxels, fits, model, meta = fit_shard(
    read_plan(snakemake.input.plan), int(snakemake.wildcards.shard), row, settings
)
write_shard(
    snakemake.output[0], row["galaxy_id"], spaxels, fits, model, meta, sampler=settings["sampler"]
)
