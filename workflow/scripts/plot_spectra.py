"""Quick-look figure of one galaxy's 2D spectra at every PA and grism."""

from ohmap.logs import log_to_file
from ohmap.report.spectra import plot_spectra
from ohmap.spectra.products import read_spectrum_product

log = log_to_file(snakemake.log[0])
spectra = [read_spectrum_product(path) for path in snakemake.input]
plot_spectra(spectra, snakemake.params.redshift, snakemake.output[0])
log.info("plotted %d spectra of %s", len(spectra), snakemake.wildcards.galaxy)
