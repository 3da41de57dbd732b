"""Corner plot of one galaxy's global fit (in the spirit of Figure 5)."""

from ohmap.inference.products.shards import read_shard
from ohmap.logs import log_to_file
from ohmap.report.inference import plot_global_fit

log = log_to_file(snakemake.log[0])
plot_global_fit(read_shard(snakemake.input.chain), snakemake.output[0])
log.info("wrote %s", snakemake.output[0])
