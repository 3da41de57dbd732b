# Emission-line maps (Wang et al. 2017, Sect. 4.3): per galaxy x PA x grism extraction and
# alignment to the reference PA, then per galaxy vetting and inverse-variance stacking.


rule extract_line_maps:
    input:
        "results/spectra/{galaxy}/{galaxy}_{pa}-{grism}.fits",
    output:
        "results/linemaps/{galaxy}/{galaxy}_{pa}-{grism}_maps.fits",
    log:
        "logs/extract_line_maps/{galaxy}_{pa}-{grism}.log",
    benchmark:
        "results/benchmarks/extract_line_maps/{galaxy}_{pa}-{grism}.tsv"
    conda:
        "../../envs/ohmap.yaml"
    params:
        redshift=redshift_of,
        settings=LINEMAPS.get("extraction"),
    script:
        "../scripts/extract_line_maps.py"


rule align_line_maps:
    input:
        maps="results/linemaps/{galaxy}/{galaxy}_{pa}-{grism}_maps.fits",
        reference=reference_line_maps,
    output:
        "results/alignment/{galaxy}/{galaxy}_{pa}-{grism}.ecsv",
    log:
        "logs/align_line_maps/{galaxy}_{pa}-{grism}.log",
    benchmark:
        "results/benchmarks/align_line_maps/{galaxy}_{pa}-{grism}.tsv"
    conda:
        "../../envs/ohmap.yaml"
    params:
        reference=reference_label,
        settings=LINEMAPS.get("alignment"),
    script:
        "../scripts/align_line_maps.py"


rule stack_line_maps:
    input:
        maps=galaxy_line_maps,
        alignments=galaxy_alignments,
    output:
        maps="results/linemaps/{galaxy}_linemaps.fits",
        vetting="results/linemaps/{galaxy}_vetting.ecsv",
        fluxes="results/linemaps/{galaxy}_fluxes.ecsv",
    log:
        "logs/stack_line_maps/{galaxy}.log",
    benchmark:
        "results/benchmarks/stack_line_maps/{galaxy}.tsv"
    conda:
        "../../envs/ohmap.yaml"
    params:
        reference=reference_label,
        redshift=redshift_of,
        settings=LINEMAPS.get("vetting"),
        lines=LINEMAPS.get("extraction", {}).get("lines"),
        stacking=LINEMAPS.get("stacking"),
    script:
        "../scripts/stack_line_maps.py"


rule plot_line_maps:
    input:
        maps="results/linemaps/{galaxy}_linemaps.fits",
        fluxes="results/linemaps/{galaxy}_fluxes.ecsv",
    output:
        report(
            "results/linemaps/{galaxy}_linemaps.png",
            caption="../report/linemaps.rst",
            category="Per galaxy",
            subcategory="{galaxy}",
            labels={"galaxy": "{galaxy}", "figure": "line maps"},
        ),
    log:
        "logs/plot_line_maps/{galaxy}.log",
    benchmark:
        "results/benchmarks/plot_line_maps/{galaxy}.tsv"
    conda:
        "../../envs/ohmap.yaml"
    script:
        "../scripts/plot_line_maps.py"


rule line_map_summary:
    input:
        fluxes=all_line_fluxes,
        vetting=all_vetting,
        alignments=all_alignments,
    output:
        fluxes="results/linemaps/sample/line_fluxes.ecsv",
        vetting="results/linemaps/sample/vetting.ecsv",
        alignments="results/alignment/alignment.ecsv",
    log:
        "logs/line_map_summary/line_map_summary.log",
    benchmark:
        "results/benchmarks/line_map_summary.tsv"
    conda:
        "../../envs/ohmap.yaml"
    script:
        "../scripts/line_map_summary.py"
