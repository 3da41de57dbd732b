"""Gather the mock's truth tables; write its sample sheet and sensitivity curves."""

from pathlib import Path

from astropy.table import Table

from ohmap.io.atomic import write_table_atomic, write_text_atomic
from ohmap.logs import log_to_file
from ohmap.mock.grism import write_sensitivity_fits
from ohmap.mock.inputs import load_mock_inputs, select_galaxies
from ohmap.mock.products import sample_sheet_text, truth_tables

log = log_to_file(snakemake.log[0])
truth, alignment = truth_tables(
    [Table.read(p) for p in snakemake.input.rows],
    [Table.read(p) for p in snakemake.input.alignment],
)
write_table_atomic(truth, snakemake.output.galaxies, format="ascii.ecsv")
write_table_atomic(alignment, snakemake.output.alignment, format="ascii.ecsv")
galaxies, _ = load_mock_inputs(
    snakemake.input.table2, snakemake.input.table5, snakemake.input.parameters
)
galaxies = select_galaxies(galaxies, snakemake.params.galaxies)
write_text_atomic(
    sample_sheet_text(galaxies, snakemake.params.field), snakemake.output.sample_sheet
)
for path in snakemake.output.sensitivity:
    write_sensitivity_fits(path, Path(path).name.split(".")[1])
log.info("truth for %d galaxies", len(truth))
