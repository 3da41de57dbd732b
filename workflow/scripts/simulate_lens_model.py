"""Write one mock cluster lens model as HFF-format maps."""

import yaml

from ohmap.logs import log_to_file
from ohmap.mock.cluster import AnalyticCluster

log = log_to_file(snakemake.log[0])
with open(snakemake.input.parameters) as fh:
    cluster = yaml.safe_load(fh)["cluster"]
name = snakemake.wildcards.model
if name not in cluster["models"]:
    raise ValueError(f"{snakemake.input.parameters}: no mock lens model named {name!r}")
model = AnalyticCluster(cluster["models"][name], cluster["z_lens"], name)
model.write_hff(snakemake.params.prefix, cluster["map_size_arcsec"], cluster["map_pixel_arcsec"])
log.info("wrote %s maps to %s_*.fits", name, snakemake.params.prefix)
