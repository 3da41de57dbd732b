"""Global fit of one galaxy: its integrated line fluxes -> 12+log(O/H), A_V, SFR."""

from astropy.table import Table

from ohmap.config import inference_settings
from ohmap.gradients.lens_inputs import galaxy_magnification
from ohmap.inference.global_fit import fit_global
from ohmap.inference.products.global_fits import write_global_fit
from ohmap.inference.products.shards import write_shard
from ohmap.logs import log_to_file

log = log_to_file(snakemake.log[0])
row = snakemake.params.galaxy_row
settings = inference_settings({"inference": snakemake.params.settings}, "inference settings")
magnification, origin = galaxy_magnification(
    snakemake.params.lens_prefix, snakemake.params.z_lens, row
)
log.info(
    "galaxy %s at z = %.3f: magnification %.2f, %s",
    row["galaxy_id"],
    row["redshift"],
    magnification,
    origin,
)
result = fit_global(
    Table.read(snakemake.input.fluxes), row, settings, magnification, source=snakemake.input.fluxes
)
result.meta["magnification_from"] = origin
write_global_fit(snakemake.output.table, [result.row], result.meta)
write_shard(
    snakemake.output.chain,
    row["galaxy_id"],
    Table({"spaxel": [0], "iy": [0], "ix": [0]}),
    [result.fit],
    result.model,
    result.meta | {"kind": "global fit"},
    sampler=settings["sampler"],
)
