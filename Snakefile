# ohmap: sub-kpc metallicity maps from HST slitless grism spectroscopy of lensed galaxies.
#
#   snakemake --cores all          run on the embedded mock MACS1149 field (config/config.yaml)
#   snakemake -n                   show what would be (re)built
#   snakemake --report results/report.html   the HTML report of every figure, after a run
#
# The science lives in the ohmap package (src/ohmap); rules call it through workflow/scripts.

from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/mock.smk"
include: "workflow/rules/spectra.smk"
include: "workflow/rules/linemaps.smk"
include: "workflow/rules/inference.smk"
include: "workflow/rules/gradients.smk"
include: "workflow/rules/sample.smk"


rule all:
    default_target: True
    input:
        all_targets(),
