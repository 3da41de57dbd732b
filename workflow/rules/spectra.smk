# Per galaxy x PA x grism: read the input spectrum (GLASS or grizli) into ohmap's own product.


rule ingest_spectrum:
    input:
        spectrum_input,
    output:
        "results/spectra/{galaxy}/{galaxy}_{pa}-{grism}.fits",
    params:
        spectra_format=spectra_format_of,
        calibration_dir=config.get("calibration_dir"),
    log:
        "logs/ingest_spectrum/{galaxy}_{pa}-{grism}.log",
    benchmark:
        "results/benchmarks/ingest_spectrum/{galaxy}_{pa}-{grism}.tsv"
    script:
        "../scripts/ingest_spectrum.py"


rule plot_spectra:
    input:
        galaxy_spectra,
    output:
        "results/spectra/{galaxy}_spectra.png",
    params:
        redshift=redshift_of,
    log:
        "logs/plot_spectra/{galaxy}.log",
    benchmark:
        "results/benchmarks/plot_spectra/{galaxy}.tsv"
    script:
        "../scripts/plot_spectra.py"


rule spectra_inventory:
    input:
        all_ingested_spectra,
    output:
        "results/spectra/inventory.ecsv",
    params:
        redshifts={gid: float(samples.loc[gid, "redshift"]) for gid in GALAXIES},
    log:
        "logs/spectra_inventory/spectra_inventory.log",
    benchmark:
        "results/benchmarks/spectra_inventory.tsv"
    script:
        "../scripts/spectra_inventory.py"
