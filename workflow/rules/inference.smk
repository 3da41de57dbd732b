# Bayesian line-flux inference (Wang et al. 2017, Sect. 4.4 and 6.1): a global fit per galaxy
# from its integrated fluxes; per spaxel, a checkpoint plans the spaxels and shards, one job per
# shard samples them, and a gather job writes the maps.


rule fit_global_fluxes:
    input:
        fluxes="results/linemaps/{galaxy}_fluxes.ecsv",
        lens=lens_maps_of,
    output:
        table="results/inference/global/{galaxy}_global.ecsv",
        chain="results/inference/global/{galaxy}_global.h5",
    log:
        "logs/fit_global_fluxes/{galaxy}.log",
    benchmark:
        "results/benchmarks/fit_global_fluxes/{galaxy}.tsv"
    conda:
        "../../envs/ohmap.yaml"
    params:
        settings=INFERENCE,
        galaxy_row=galaxy_lens_params,
        lens_prefix=lens_prefix_of,
        z_lens=lens_z_of,
    script:
        "../scripts/fit_global_fluxes.py"


rule plot_global_corner:
    input:
        chain="results/inference/global/{galaxy}_global.h5",
    output:
        report(
            "results/inference/global/{galaxy}_corner.png",
            caption="../report/corner.rst",
            category="Per galaxy",
            subcategory="{galaxy}",
            labels={"galaxy": "{galaxy}", "figure": "global fit"},
        ),
    log:
        "logs/plot_global_corner/{galaxy}.log",
    benchmark:
        "results/benchmarks/plot_global_corner/{galaxy}.tsv"
    conda:
        "../../envs/ohmap.yaml"
    script:
        "../scripts/plot_global_corner.py"


rule global_fit_summary:
    input:
        expand("results/inference/global/{galaxy}_global.ecsv", galaxy=GALAXIES),
    output:
        "results/inference/global_fits.ecsv",
    log:
        "logs/global_fit_summary/global_fit_summary.log",
    benchmark:
        "results/benchmarks/global_fit_summary.tsv"
    conda:
        "../../envs/ohmap.yaml"
    script:
        "../scripts/global_fit_summary.py"


checkpoint plan_spaxels:
    input:
        maps="results/linemaps/{galaxy}_linemaps.fits",
    output:
        plan="results/inference/spaxels/{galaxy}/plan.ecsv",
    log:
        "logs/plan_spaxels/{galaxy}.log",
    benchmark:
        "results/benchmarks/plan_spaxels/{galaxy}.tsv"
    conda:
        "../../envs/ohmap.yaml"
    params:
        settings=INFERENCE_CONFIG["spaxels"],
    script:
        "../scripts/plan_spaxels.py"


rule fit_spaxel_shard:
    input:
        plan="results/inference/spaxels/{galaxy}/plan.ecsv",
    output:
        "results/inference/spaxels/{galaxy}/shard_{shard}.h5",
    log:
        "logs/fit_spaxel_shard/{galaxy}_{shard}.log",
    benchmark:
        "results/benchmarks/fit_spaxel_shard/{galaxy}_{shard}.tsv"
    conda:
        "../../envs/ohmap.yaml"
    params:
        settings=INFERENCE,
        galaxy_row=galaxy_fit_params,
    script:
        "../scripts/fit_spaxel_shard.py"


rule gather_spaxel_maps:
    input:
        plan="results/inference/spaxels/{galaxy}/plan.ecsv",
        shards=spaxel_shards,
    output:
        maps="results/inference/maps/{galaxy}_maps.fits",
    log:
        "logs/gather_spaxel_maps/{galaxy}.log",
    benchmark:
        "results/benchmarks/gather_spaxel_maps/{galaxy}.tsv"
    conda:
        "../../envs/ohmap.yaml"
    params:
        galaxy_row=galaxy_fit_params,
        settings=INFERENCE,
    script:
        "../scripts/gather_spaxel_maps.py"


rule plot_spaxel_maps:
    input:
        maps="results/inference/maps/{galaxy}_maps.fits",
    output:
        report(
            "results/inference/maps/{galaxy}_maps.png",
            caption="../report/spaxel_maps.rst",
            category="Per galaxy",
            subcategory="{galaxy}",
            labels={"galaxy": "{galaxy}", "figure": "spaxel maps"},
        ),
    log:
        "logs/plot_spaxel_maps/{galaxy}.log",
    benchmark:
        "results/benchmarks/plot_spaxel_maps/{galaxy}.tsv"
    conda:
        "../../envs/ohmap.yaml"
    script:
        "../scripts/plot_spaxel_maps.py"
