# Source-plane morphology and metallicity gradients (Wang et al. 2017, Sect. 4.2 and 6.1): the
# galaxy's shape in the source plane from its stellar-mass map and lens model, the deprojected
# radius of every spaxel, and the gradient by two methods (individual spaxels, radial annuli).


rule source_morphology:
    input:
        mass_map=mass_map_of,
        lens=lens_maps_of,
    output:
        "results/morphology/{galaxy}_morphology.ecsv",
    log:
        "logs/source_morphology/{galaxy}.log",
    benchmark:
        "results/benchmarks/source_morphology/{galaxy}.tsv"
    conda:
        "../../envs/ohmap.yaml"
    params:
        galaxy=galaxy_lens_params,
        lens_prefix=lens_prefix_of,
        z_lens=lens_z_of,
        psf_fwhm_arcsec=GRADIENTS.get("mass_map_psf_fwhm_arcsec", 0.0),
        threshold=GRADIENTS.get("mass_map_threshold", 0.05),
    script:
        "../scripts/source_morphology.py"


rule radius_map:
    input:
        morphology="results/morphology/{galaxy}_morphology.ecsv",
        lens=lens_maps_of,
        maps="results/linemaps/{galaxy}_linemaps.fits",
    output:
        spaxels="results/morphology/{galaxy}_radius.fits",
        pixels="results/morphology/{galaxy}_radius_fine.fits",
    log:
        "logs/radius_map/{galaxy}.log",
    benchmark:
        "results/benchmarks/radius_map/{galaxy}.tsv"
    conda:
        "../../envs/ohmap.yaml"
    params:
        galaxy=galaxy_lens_params,
        lens_prefix=lens_prefix_of,
        z_lens=lens_z_of,
        spaxels=INFERENCE["spaxels"],
    script:
        "../scripts/radius_map.py"


rule metallicity_gradient:
    input:
        maps="results/inference/maps/{galaxy}_maps.fits",
        radius="results/morphology/{galaxy}_radius.fits",
        linemaps="results/linemaps/{galaxy}_linemaps.fits",
    output:
        gradient="results/gradients/{galaxy}_gradient.ecsv",
        annuli="results/gradients/{galaxy}_annuli.ecsv",
    log:
        "logs/metallicity_gradient/{galaxy}.log",
    benchmark:
        "results/benchmarks/metallicity_gradient/{galaxy}.tsv"
    conda:
        "../../envs/ohmap.yaml"
    params:
        galaxy=galaxy_fit_params,
        settings=INFERENCE,
        gradients=GRADIENTS,
    script:
        "../scripts/metallicity_gradient.py"


rule plot_gradient:
    input:
        maps="results/inference/maps/{galaxy}_maps.fits",
        radius="results/morphology/{galaxy}_radius.fits",
        gradient="results/gradients/{galaxy}_gradient.ecsv",
        annuli="results/gradients/{galaxy}_annuli.ecsv",
        global_fit="results/inference/global/{galaxy}_global.ecsv",
    output:
        report(
            "results/gradients/{galaxy}_gradient.png",
            caption="../report/gradient.rst",
            category="Per galaxy",
            subcategory="{galaxy}",
            labels={"galaxy": "{galaxy}", "figure": "gradient"},
        ),
    log:
        "logs/plot_gradient/{galaxy}.log",
    benchmark:
        "results/benchmarks/plot_gradient/{galaxy}.tsv"
    conda:
        "../../envs/ohmap.yaml"
    script:
        "../scripts/plot_gradient.py"


rule plot_line_maps_radius:
    input:
        maps="results/linemaps/{galaxy}_linemaps.fits",
        fluxes="results/linemaps/{galaxy}_fluxes.ecsv",
        radius="results/morphology/{galaxy}_radius_fine.fits",
    output:
        report(
            "results/gradients/{galaxy}_linemaps_radius.png",
            caption="../report/linemaps_radius.rst",
            category="Per galaxy",
            subcategory="{galaxy}",
            labels={"galaxy": "{galaxy}", "figure": "line maps, radii"},
        ),
    log:
        "logs/plot_line_maps_radius/{galaxy}.log",
    benchmark:
        "results/benchmarks/plot_line_maps_radius/{galaxy}.tsv"
    conda:
        "../../envs/ohmap.yaml"
    script:
        "../scripts/plot_line_maps.py"


rule gradient_summary:
    input:
        gradients=expand(
            "results/gradients/{galaxy}_gradient.ecsv", galaxy=GRADIENT_GALAXIES
        ),
        morphology=expand(
            "results/morphology/{galaxy}_morphology.ecsv", galaxy=GRADIENT_GALAXIES
        ),
    output:
        table="results/gradients/gradients.ecsv",
        latex="results/gradients/gradients.tex",
    log:
        "logs/gradient_summary/gradient_summary.log",
    benchmark:
        "results/benchmarks/gradient_summary.tsv"
    conda:
        "../../envs/ohmap.yaml"
    params:
        gradients=GRADIENTS,
    script:
        "../scripts/gradient_summary.py"
