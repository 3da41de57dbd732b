"""Alignment of one PA-grism's line maps to the reference PA (NCCF, Eq. 1)."""

from ohmap.linemaps.align import align_extraction
from ohmap.linemaps.products import alignment_table, read_extraction, write_alignment
from ohmap.linemaps.settings import AlignmentSettings
from ohmap.logs import log_to_file

log = log_to_file(snakemake.log[0])
w = snakemake.wildcards
reference = snakemake.params.reference
settings = AlignmentSettings.from_config(snakemake.params.settings, "linemaps.alignment")
result = align_extraction(
    read_extraction(snakemake.input.maps), read_extraction(snakemake.input.reference), settings
)
log.info("%s %s-%s -> %s %s", w.galaxy, w.pa, w.grism, reference, result.summary())
write_alignment(alignment_table(w.galaxy, w.pa, w.grism, reference, result), snakemake.output[0])
