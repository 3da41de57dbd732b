"""Read one galaxy's spectrum at one PA and grism into ohmap's own product; a file without a
direct-image stamp (grizli stack) gets the sample sheet's (ohmap.spectra.direct_stamp)."""

from ohmap.logs import log_to_file
from ohmap.spectra.direct_stamp import stamp_on_spectrum_frame
from ohmap.spectra.ingest import read_spectrum
from ohmap.spectra.products import write_spectrum_product

log = log_to_file(snakemake.log[0])
w = snakemake.wildcards
spec = read_spectrum(
    snakemake.input[0],
    snakemake.params.spectra_format,
    w.galaxy,
    w.pa,
    w.grism,
    calibration_dir=snakemake.params.calibration_dir,
)
position = snakemake.params.position
spec = stamp_on_spectrum_frame(
    spec,
    snakemake.input.get("direct_image"),
    snakemake.input.get("segmentation"),
    position.get("ra_deg"),
    position.get("dec_deg"),
)
write_spectrum_product(spec, snakemake.output[0])
log.info(
    "%s PA %s %s: %d x %d pixels, %.0f-%.0f A, from %s",
    w.galaxy,
    w.pa,
    w.grism,
    *spec.shape,
    spec.wavelength[0],
    spec.wavelength[-1],
    snakemake.input[0],
)
