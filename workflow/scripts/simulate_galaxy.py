"""Simulate one mock galaxy: 2D spectra at every PA and grism, stamps and truth."""

from astropy.table import Table

from ohmap.io.atomic import write_table_atomic
from ohmap.logs import log_to_file
from ohmap.mock.cluster import AnalyticCluster
from ohmap.mock.galaxy import simulate_galaxy
from ohmap.mock.inputs import load_mock_inputs

log = log_to_file(snakemake.log[0])
galaxies, cluster = load_mock_inputs(
    snakemake.input.table2, snakemake.input.table5, snakemake.input.parameters
)
galaxy = next(g for g in galaxies if g.galaxy_id == snakemake.wildcards.galaxy)
lens = AnalyticCluster(cluster["models"][galaxy.lens_model], cluster["z_lens"], galaxy.lens_model)
written = simulate_galaxy(galaxy, lens, snakemake.params.settings, snakemake.params.outdir)
write_table_atomic(
    Table(rows=[written["galaxy_row"]]), snakemake.output.truth_row, format="ascii.ecsv"
)
write_table_atomic(
    Table(rows=written["alignment_rows"]), snakemake.output.alignment, format="ascii.ecsv"
)
log.info("galaxy %s done: %d spectra", galaxy.galaxy_id, len(written["spectra"]))
