"""Gather the mock's truth tables; write its sample sheet and sensitivity curves."""

from pathlib import Path

from astropy.table import Table, vstack

from ohmap.io.atomic import write_table_atomic, write_text_atomic
from ohmap.logs import log_to_file
from ohmap.mock.grism import write_sensitivity_fits
from ohmap.mock.inputs import load_mock_inputs
from ohmap.mock.products import sample_sheet_text

log = log_to_file(snakemake.log[0])
truth = vstack([Table.read(p) for p in snakemake.input.rows])
truth.meta["comment"] = [
    "Truth of the ohmap mock MACS1149 field. Fluxes in 1e-17 erg/s/cm2 (lensed, reddened,",
    "summed over the image stamp); magnifications are |mu|; gradients in dex/kpc.",
]
write_table_atomic(truth, snakemake.output.galaxies, format="ascii.ecsv")
alignment = vstack([Table.read(p) for p in snakemake.input.alignment])
alignment.meta["comment"] = [
    "Calibration errors injected per galaxy, PA and grism: trace offset and wavelength shift in",
    "pixels of the PA frame, rotation error and total rotation to the reference frame in degrees.",
]
write_table_atomic(alignment, snakemake.output.alignment, format="ascii.ecsv")
galaxies, _ = load_mock_inputs(snakemake.input.table2, snakemake.input.table5, snakemake.input.parameters)
wanted = snakemake.params.galaxies
galaxies = [g for g in galaxies if wanted == "all" or g.galaxy_id in wanted]
write_text_atomic(sample_sheet_text(galaxies, snakemake.params.field), snakemake.output.sample_sheet)
for path in snakemake.output.sensitivity:
    write_sensitivity_fits(path, Path(path).name.split(".")[1])
log.info("truth for %d galaxies", len(truth))
