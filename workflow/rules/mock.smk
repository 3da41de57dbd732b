# The embedded mock MACS1149.6+2223 field: inputs with known truth (ohmap.mock).


rule simulate_lens_model:
    input:
        parameters=MOCK["parameters"],
    output:
        multiext(
            "results/mock/lens_models/hlsp_frontier_model_macs1149_{model}_",
            *[f"{suffix}.fits" for suffix in LENS_SUFFIXES],
        ),
    log:
        "logs/simulate_lens_model/{model}.log",
    benchmark:
        "results/benchmarks/simulate_lens_model/{model}.tsv"
    conda:
        "../../envs/ohmap.yaml"
    params:
        prefix=subpath(output[0], strip_suffix="_x-arcsec-deflect.fits"),
    script:
        "../scripts/simulate_lens_model.py"


rule simulate_galaxy:
    input:
        table2=MOCK["table2"],
        table5=MOCK["table5"],
        parameters=MOCK["parameters"],
    output:
        spectra=expand(
            "results/mock/spectra/{field}-{obs}_{{galaxy}}.2D.fits",
            field=config["field"],
            obs=MOCK_OBSERVATIONS,
        ),
        direct_image="results/mock/images/{galaxy}_f160w.fits",
        segmentation="results/mock/images/{galaxy}_seg.fits",
        mass_map="results/mock/images/{galaxy}_mstar.fits",
        truth_maps="results/mock/truth/{galaxy}_truth.fits",
        truth_row="results/mock/truth/{galaxy}_truth.ecsv",
        alignment="results/mock/truth/{galaxy}_alignment.ecsv",
    log:
        "logs/simulate_galaxy/{galaxy}.log",
    benchmark:
        "results/benchmarks/simulate_galaxy/{galaxy}.tsv"
    conda:
        "../../envs/ohmap.yaml"
    params:
        settings=mock_settings(),
        outdir=subpath(output.direct_image, ancestor=2),
    script:
        "../scripts/simulate_galaxy.py"


rule mock_truth_tables:
    input:
        rows=mock_truth_inputs("truth"),
        alignment=mock_truth_inputs("alignment"),
        table2=MOCK["table2"],
        table5=MOCK["table5"],
        parameters=MOCK["parameters"],
    output:
        galaxies="results/mock/truth/galaxies.ecsv",
        alignment="results/mock/truth/alignment.ecsv",
        sample_sheet="results/mock/galaxies.tsv",
        sensitivity=expand(
            "results/mock/calib/MOCK.{grism}.1st.sens.fits", grism=["G102", "G141"]
        ),
    log:
        "logs/mock_truth_tables/mock_truth_tables.log",
    benchmark:
        "results/benchmarks/mock_truth_tables.tsv"
    conda:
        "../../envs/ohmap.yaml"
    params:
        field=config["field"],
        galaxies=MOCK.get("galaxies", "all"),
    script:
        "../scripts/mock_truth_tables.py"


rule mock:
    """Only the mock field: snakemake --cores 2 mock"""
    input:
        mock_targets(),
        mock_lens_maps(),
