"""Corner plot of one galaxy's global fit (in the spirit of Figure 5)."""

import numpy as np

from ohmap.inference.products.shards import read_shard
from ohmap.logs import log_to_file
from ohmap.report.inference import plot_corner

log = log_to_file(snakemake.log[0])
shard = read_shard(snakemake.input.chain)
chain = np.asarray(shard.chain[0], dtype=float)                 # (steps, walkers, ndim)
flat = chain.reshape(-1, chain.shape[-1])
names = list(shard.names)
samples = {"oh12": flat[:, names.index("oh12")], "av": flat[:, names.index("av")],
           "hbeta": 10 ** flat[:, names.index("log_hbeta")]}
labels = {"oh12": "12+log(O/H)", "av": "A_V [mag]", "hbeta": "f(Hβ) intrinsic [1e-17 erg/s/cm²]"}
plot_corner(samples, labels, snakemake.output[0], chain=chain[..., names.index("oh12")],
            title=f"{shard.galaxy}: global line fluxes")
log.info("wrote %s", snakemake.output[0])
