# Sample-level science (Wang et al. 2017, Sect. 5 and 6): AGN screening, the sample table, star
# formation against mass, the mass-metallicity relation (our Kelly 2007 linmix), offsets from the
# fundamental metallicity relation, resolved BPT diagrams and the gradient trends. Every figure
# is written as PNG (in the report) and PDF.


rule agn_screening:
    input:
        fluxes="results/linemaps/sample/line_fluxes.ecsv",
    output:
        table="results/sample/agn_screening.ecsv",
        png=report(
            "results/sample/figures/mex.png",
            caption="../report/mex.rst",
            category="Sample",
            subcategory="AGN screening",
            labels={"figure": "Figure 6: mass-excitation"},
        ),
        pdf="results/sample/figures/mex.pdf",
    log:
        "logs/agn_screening/agn_screening.log",
    benchmark:
        "results/benchmarks/agn_screening.tsv"
    conda:
        "../../envs/ohmap.yaml"
    params:
        masses=sample_masses(),
        settings=SAMPLE,
    script:
        "../scripts/agn_screening.py"


rule sample_table:
    input:
        global_fits="results/inference/global_fits.ecsv",
        agn="results/sample/agn_screening.ecsv",
    output:
        table="results/sample/table2.ecsv",
        latex="results/sample/table2.tex",
    log:
        "logs/sample_table/sample_table.log",
    benchmark:
        "results/benchmarks/sample_table.tsv"
    conda:
        "../../envs/ohmap.yaml"
    params:
        galaxies=sample_positions(),
    script:
        "../scripts/sample_table.py"


rule sfr_mass_figure:
    input:
        table="results/sample/table2.ecsv",
    output:
        png=report(
            "results/sample/figures/sfr_mass.png",
            caption="../report/sfr_mass.rst",
            category="Sample",
            subcategory="scaling relations",
            labels={"figure": "Figure 7: SFR-M*"},
        ),
        pdf="results/sample/figures/sfr_mass.pdf",
    log:
        "logs/sfr_mass_figure/sfr_mass_figure.log",
    benchmark:
        "results/benchmarks/sfr_mass_figure.tsv"
    conda:
        "../../envs/ohmap.yaml"
    script:
        "../scripts/sfr_mass_figure.py"


rule mass_metallicity:
    input:
        table="results/sample/table2.ecsv",
        literature=SAMPLE.get("literature_mzr", "resources/literature_mzr.tsv"),
        truth=mock_truth_table,
    output:
        fits="results/sample/mzr.ecsv",
        png=report(
            "results/sample/figures/mzr.png",
            caption="../report/mzr.rst",
            category="Sample",
            subcategory="scaling relations",
            labels={"figure": "Figure 8: MZR"},
        ),
        pdf="results/sample/figures/mzr.pdf",
    log:
        "logs/mass_metallicity/mass_metallicity.log",
    benchmark:
        "results/benchmarks/mass_metallicity.tsv"
    conda:
        "../../envs/ohmap.yaml"
    params:
        settings=SAMPLE,
    script:
        "../scripts/mass_metallicity.py"


rule fmr_offsets:
    input:
        table="results/sample/table2.ecsv",
        literature=SAMPLE.get("literature_mzr", "resources/literature_mzr.tsv"),
    output:
        offsets="results/sample/fmr_offsets.ecsv",
        png=report(
            "results/sample/figures/fmr.png",
            caption="../report/fmr.rst",
            category="Sample",
            subcategory="scaling relations",
            labels={"figure": "Figure 9: FMR offsets"},
        ),
        pdf="results/sample/figures/fmr.pdf",
    log:
        "logs/fmr_offsets/fmr_offsets.log",
    benchmark:
        "results/benchmarks/fmr_offsets.tsv"
    conda:
        "../../envs/ohmap.yaml"
    params:
        settings=SAMPLE,
    script:
        "../scripts/fmr_offsets.py"


rule bpt_diagram:
    input:
        plan="results/inference/spaxels/{galaxy}/plan.ecsv",
        radius="results/morphology/{galaxy}_radius.fits",
        fluxes="results/linemaps/{galaxy}_fluxes.ecsv",
    output:
        png=report(
            "results/sample/bpt/{galaxy}_bpt.png",
            caption="../report/bpt.rst",
            category="Per galaxy",
            subcategory="{galaxy}",
            labels={"galaxy": "{galaxy}", "figure": "BPT (Figure 11)"},
        ),
        pdf="results/sample/bpt/{galaxy}_bpt.pdf",
    log:
        "logs/bpt_diagram/{galaxy}.log",
    benchmark:
        "results/benchmarks/bpt_diagram/{galaxy}.tsv"
    conda:
        "../../envs/ohmap.yaml"
    script:
        "../scripts/bpt_diagram.py"


rule gradient_trends:
    input:
        gradients="results/gradients/gradients.ecsv",
        table="results/sample/table2.ecsv",
        literature=SAMPLE.get(
            "literature_gradients", "resources/literature_gradients.tsv"
        ),
    output:
        redshift_png=report(
            "results/sample/figures/gradient_redshift.png",
            caption="../report/gradient_redshift.rst",
            category="Sample",
            subcategory="gradients",
            labels={"figure": "Figure 12: gradient-z"},
        ),
        redshift_pdf="results/sample/figures/gradient_redshift.pdf",
        mass_png=report(
            "results/sample/figures/gradient_mass.png",
            caption="../report/gradient_mass.rst",
            category="Sample",
            subcategory="gradients",
            labels={"figure": "Figure 13: gradient-M*"},
        ),
        mass_pdf="results/sample/figures/gradient_mass.pdf",
    log:
        "logs/gradient_trends/gradient_trends.log",
    benchmark:
        "results/benchmarks/gradient_trends.tsv"
    conda:
        "../../envs/ohmap.yaml"
    script:
        "../scripts/gradient_trends.py"
