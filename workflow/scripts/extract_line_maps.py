"""Emission-line maps of one galaxy at one PA and grism."""

from ohmap.linemaps.extract import extract_line_maps
from ohmap.linemaps.products import write_extraction
from ohmap.linemaps.settings import ExtractionSettings
from ohmap.logs import log_to_file
from ohmap.spectra.products import read_spectrum_product

log = log_to_file(snakemake.log[0])
settings = ExtractionSettings.from_config(snakemake.params.settings, "linemaps.extraction")
spec = read_spectrum_product(snakemake.input[0])
extraction = extract_line_maps(spec, snakemake.params.redshift, settings)
for d in extraction.decisions:
    log.info("%s: %s (%s)", d["line"], d["status"], d["reason"])
for name, m in extraction.maps.items():
    log.info(
        "%s: %.2f +- %.2f 1e-17 erg/s/cm2 in the footprint (%s)",
        name,
        m.integrated_flux,
        m.integrated_error,
        m.info.get("method"),
    )
write_extraction(extraction, snakemake.output[0], source=snakemake.input[0])
