# Per galaxy x PA x grism: read the input spectrum (GLASS or grizli) into ohmap's own product;
# a grizli stack gets its direct-image stamp from the sample sheet's direct_image/segmentation.


rule ingest_spectrum:
    input:
        spectrum_input,
        # grizli stacks carry no direct image: the sample sheet's is resampled onto the frame.
        unpack(direct_stamp_images),
    output:
        "results/spectra/{galaxy}/{galaxy}_{pa}-{grism}.fits",
    log:
        "logs/ingest_spectrum/{galaxy}_{pa}-{grism}.log",
    benchmark:
        "results/benchmarks/ingest_spectrum/{galaxy}_{pa}-{grism}.tsv"
    conda:
        "../../envs/ohmap.yaml"
    params:
        spectra_format=spectra_format_of,
        calibration_dir=config.get("calibration_dir"),
        position=direct_stamp_position,
    script:
        "../scripts/ingest_spectrum.py"


rule plot_spectra:
    input:
        galaxy_spectra,
    output:
        "results/spectra/{galaxy}_spectra.png",
    log:
        "logs/plot_spectra/{galaxy}.log",
    benchmark:
        "results/benchmarks/plot_spectra/{galaxy}.tsv"
    conda:
        "../../envs/ohmap.yaml"
    params:
        redshift=redshift_of,
    script:
        "../scripts/plot_spectra.py"


rule spectra_inventory:
    input:
        all_ingested_spectra,
    output:
        "results/spectra/inventory.ecsv",
    log:
        "logs/spectra_inventory/spectra_inventory.log",
    benchmark:
        "results/benchmarks/spectra_inventory.tsv"
    conda:
        "../../envs/ohmap.yaml"
    params:
        redshifts={gid: float(samples.loc[gid, "redshift"]) for gid in GALAXIES},
    script:
        "../scripts/spectra_inventory.py"
