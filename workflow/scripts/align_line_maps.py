"""Alignment of one PA-grism's line maps to the reference PA (NCCF, Eq. 1)."""

from ohmap.linemaps.align import align_extraction
from ohmap.linemaps.products import alignment_table, read_extraction, write_alignment
from ohmap.linemaps.settings import AlignmentSettings
from ohmap.logs import log_to_file

log = log_to_file(snakemake.log[0])
w = snakemake.wildcards
settings = AlignmentSettings.from_config(snakemake.params.settings, "linemaps.alignment")
extraction = read_extraction(snakemake.input.maps)
reference = read_extraction(snakemake.input.reference)
result = align_extraction(extraction, reference, settings)
t = result.transform
log.info("%s %s-%s -> %s on %s: shift (%.2f +- %.2f, %.2f +- %.2f) px, rotation %.2f deg (nominal %.2f, "
         "correction %s), NCCF %.3f (noise-limited %.3f): %s", w.galaxy, w.pa, w.grism,
         snakemake.params.reference, ",".join(result.lines) or result.line, t.shift_x, result.shift_x_error,
         t.shift_y, result.shift_y_error, t.rotation_deg, result.nominal_rotation_deg,
         "fixed" if result.rotation_fixed else f"{result.rotation_correction_deg:.2f} +- {result.rotation_error_deg:.2f}",
         result.nccf, result.nccf_expected, result.status)
write_alignment(alignment_table(w.galaxy, w.pa, w.grism, snakemake.params.reference, result),
                snakemake.output[0])
