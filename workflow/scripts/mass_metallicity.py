"""The mass-metallicity relation fitted with our Kelly (2007) linmix (Figure 8)."""

from astropy.table import Table

from ohmap.io.atomic import write_table_atomic
from ohmap.logs import log_to_file
from ohmap.report.sample import plot_mzr
from ohmap.sample.literature import read_literature_mzr
from ohmap.sample.mzr import fit_mass_metallicity

log = log_to_file(snakemake.log[0])
truth = Table.read(snakemake.input.truth[0], format="ascii.ecsv") if snakemake.input.truth else None
mzr = fit_mass_metallicity(
    Table.read(snakemake.input.table, format="ascii.ecsv"),
    read_literature_mzr(snakemake.input.literature),
    truth,
    snakemake.params.settings,
)
write_table_atomic(mzr.table, snakemake.output.fits, format="ascii.ecsv")
plot_mzr(mzr.points, mzr.fits, snakemake.output.png.removesuffix(".png"))
