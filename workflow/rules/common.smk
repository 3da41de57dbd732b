# Configuration, sample sheet and input functions shared by all rules.

import os

from ohmap.config import (
    check_samples,
    galaxy_observations,
    inference_settings,
    linemap_settings,
    load_samples,
    reference_observation,
    spectrum_path,
    validate_config,
)
from ohmap.errors import InputError

# ohmap validates with its own functions (not snakemake.utils.validate) so that a bad value is
# reported with the file, the row and the field, and so the same checks run in the unit tests.
CONFIG_SOURCE = (workflow.overwrite_configfiles or ["config/config.yaml"])[-1]
try:
    validate_config(
        config, workflow.source_path("../schemas/config.schema.yaml"), CONFIG_SOURCE
    )
    samples = load_samples(
        config["samples"], workflow.source_path("../schemas/galaxies.schema.yaml")
    )
    check_samples(samples, config, config["samples"])
    linemap_settings(config, CONFIG_SOURCE)
    LIMIT_FRACTION = inference_settings(config, CONFIG_SOURCE)["limit_fraction"]
except InputError as error:
    raise WorkflowError(f"ohmap: bad input: {error}") from None

GALAXIES = list(samples.index)
OBSERVATIONS = {gid: galaxy_observations(samples.loc[gid], config) for gid in GALAXIES}
REFERENCE = {
    gid: reference_observation(OBSERVATIONS[gid], config, gid, config["samples"])
    for gid in GALAXIES
}
LINEMAPS = config.get("linemaps") or {}
INFERENCE_CONFIG = config.get("inference") or {}
GRADIENTS = config.get("gradients") or {}
SAMPLE = config.get("sample") or {}
# Passed whole as params, so that changing any inference setting reruns the fits. The shard size
# is left out: it only lays the spaxels out in jobs (the shard jobs get it through the plan) and
# no product depends on it (tests/workflow/test_resume.py), so a new layout reruns only the spaxel fits.
INFERENCE = {key: INFERENCE_CONFIG.get(key) or {} for key in ("model", "sampler")} | {
    "spaxels": {
        k: v
        for k, v in (INFERENCE_CONFIG.get("spaxels") or {}).items()
        if k != "shard_size"
    },
    "limit_fraction": LIMIT_FRACTION,
}
MOCK = config["mock"]
LENS_SUFFIXES = ("x-arcsec-deflect", "y-arcsec-deflect", "kappa", "gamma")


wildcard_constraints:
    galaxy=r"[A-Za-z0-9_.]+",
    pa=r"[0-9]{3}",
    grism=r"G[0-9]{3}",
    model=r"[A-Za-z0-9_]+",
    shard=r"[0-9]+",


def spectrum_input(wildcards):
    """The input file holding one galaxy's spectrum at one PA and grism."""
    row = samples.loc[wildcards.galaxy]
    return spectrum_path(row, wildcards.pa, wildcards.grism)


def spectra_format_of(wildcards):
    return samples.loc[wildcards.galaxy, "spectra_format"]


def redshift_of(wildcards):
    return float(samples.loc[wildcards.galaxy, "redshift"])


def ingested_spectra(galaxy):
    return [
        f"results/spectra/{galaxy}/{galaxy}_{pa}-{grism}.fits"
        for pa, grism in OBSERVATIONS[galaxy]
    ]


def galaxy_spectra(wildcards):
    return ingested_spectra(wildcards.galaxy)


def all_ingested_spectra(wildcards=None):
    return [path for gid in GALAXIES for path in ingested_spectra(gid)]


def line_maps_of(galaxy, pa, grism):
    return f"results/linemaps/{galaxy}/{galaxy}_{pa}-{grism}_maps.fits"


def reference_line_maps(wildcards):
    """The reference PA-grism's maps, which every PA-grism of the galaxy is aligned to."""
    return line_maps_of(wildcards.galaxy, *REFERENCE[wildcards.galaxy])


def reference_label(wildcards):
    return "-".join(REFERENCE[wildcards.galaxy])


def galaxy_line_maps(wildcards):
    return [
        line_maps_of(wildcards.galaxy, pa, grism)
        for pa, grism in OBSERVATIONS[wildcards.galaxy]
    ]


def alignment_of(galaxy, pa, grism):
    return f"results/alignment/{galaxy}/{galaxy}_{pa}-{grism}.ecsv"


def galaxy_alignments(wildcards):
    return [
        alignment_of(wildcards.galaxy, pa, grism)
        for pa, grism in OBSERVATIONS[wildcards.galaxy]
    ]


def all_alignments(wildcards=None):
    return [
        alignment_of(gid, pa, grism)
        for gid in GALAXIES
        for pa, grism in OBSERVATIONS[gid]
    ]


def all_line_fluxes(wildcards=None):
    return expand("results/linemaps/{galaxy}_fluxes.ecsv", galaxy=GALAXIES)


def all_vetting(wildcards=None):
    return expand("results/linemaps/{galaxy}_vetting.ecsv", galaxy=GALAXIES)


def galaxy_fit_params(wildcards):
    """The sample-sheet values a galaxy's line-flux fits need (redshift, [NII]/Halpha), as
    params: editing them reruns the fits; editing anything else (e.g. the lens model) does not.
    """
    row = samples.loc[wildcards.galaxy]
    nii = row.get("nii_ha")
    return {
        "galaxy_id": wildcards.galaxy,
        "redshift": float(row["redshift"]),
        "nii_ha": None if nii is None or nii != nii else float(nii),
    }


def galaxy_lens_params(wildcards):
    """The same plus the galaxy's position and lens model, for the jobs that use the lens."""
    row = samples.loc[wildcards.galaxy]
    return galaxy_fit_params(wildcards) | {
        "ra_deg": float(row["ra_deg"]),
        "dec_deg": float(row["dec_deg"]),
        "lens_model": str(row["lens_model"]),
    }


def mass_map_of(wildcards):
    """The galaxy's stellar-mass surface-density map (sample sheet column mass_map)."""
    path = samples.loc[wildcards.galaxy].get("mass_map")
    if not isinstance(path, str) or not path:
        raise WorkflowError(
            f"ohmap: bad input: {config['samples']}: galaxy {wildcards.galaxy}, field 'mass_map': empty; "
            "the source-plane morphology needs a stellar-mass map"
        )
    return path


def lens_prefix_of(wildcards):
    """Path prefix of the galaxy's lens-model maps (what ohmap.gradients.lensing.LensModel.from_hff reads)."""
    return config["lens"]["models"][samples.loc[wildcards.galaxy, "lens_model"]]


def lens_maps_of(wildcards):
    """The four HFF maps of the galaxy's lens model (changing the model reruns its fits)."""
    return [f"{lens_prefix_of(wildcards)}_{suffix}.fits" for suffix in LENS_SUFFIXES]


def spaxel_shards(wildcards):
    """The shard files of a galaxy, known once its spaxel plan exists (checkpoint)."""
    from ohmap.inference.spaxels import plan_shard_count

    plan = checkpoints.plan_spaxels.get(galaxy=wildcards.galaxy).output.plan
    return expand(
        "results/inference/spaxels/{galaxy}/shard_{shard}.h5",
        galaxy=wildcards.galaxy,
        shard=range(plan_shard_count(plan)),
    )


def sample_masses():
    """Stellar masses (log10 Msun, lensing-corrected) of the sample, from the sample sheet."""
    return {
        gid: [
            float(samples.loc[gid, c])
            for c in ("log_mstar", "log_mstar_err_lo", "log_mstar_err_hi")
        ]
        for gid in GALAXIES
    }


def sample_positions():
    """Position, redshift and mass of every galaxy (the sample table's columns from the sheet)."""
    cols = (
        "ra_deg",
        "dec_deg",
        "redshift",
        "log_mstar",
        "log_mstar_err_lo",
        "log_mstar_err_hi",
    )
    return {gid: {c: float(samples.loc[gid, c]) for c in cols} for gid in GALAXIES}


def mock_truth_table(wildcards):
    """The mock's truth table when the mock is on (the MZR is then also fitted to the truth)."""
    return ["results/mock/truth/galaxies.ecsv"] if MOCK["enabled"] else []


def mock_settings():
    """Everything a mock galaxy depends on, passed as params so a change reruns the mock."""
    settings = {k: v for k, v in MOCK.items() if k not in ("enabled", "galaxies")}
    settings.update(
        field=config["field"],
        observations=config["observations"],
        reference_pa=config["reference_pa"],
    )
    return settings


MOCK_OBSERVATIONS = [f"{o['pa']}-{o['grism']}" for o in config["observations"]]


def mock_truth_inputs(kind):
    return [f"results/mock/truth/{g.galaxy_id}_{kind}.ecsv" for g in mock_galaxies()]


def mock_galaxies():
    from ohmap.mock.inputs import load_mock_inputs, select_galaxies

    galaxies, _ = load_mock_inputs(MOCK["table2"], MOCK["table5"], MOCK["parameters"])
    return select_galaxies(galaxies, MOCK.get("galaxies", "all"))


def mock_targets():
    if not MOCK["enabled"]:
        return []
    ids = [g.galaxy_id for g in mock_galaxies()]
    return [
        "results/mock/truth/galaxies.ecsv",
        "results/mock/truth/alignment.ecsv",
        "results/mock/galaxies.tsv",
        *expand(
            "results/mock/calib/MOCK.{grism}.1st.sens.fits", grism=["G102", "G141"]
        ),
        *expand(
            "results/mock/images/{galaxy}_{kind}.fits",
            galaxy=ids,
            kind=["f160w", "seg", "mstar"],
        ),
    ]


def mock_lens_maps():
    if not MOCK["enabled"]:
        return []
    return expand(
        "results/mock/lens_models/hlsp_frontier_model_macs1149_{model}_{suffix}.fits",
        model=list(config["lens"]["models"]),
        suffix=LENS_SUFFIXES,
    )


def all_targets():
    return [
        *mock_targets(),
        *all_ingested_spectra(),
        *mock_lens_maps(),
        "results/spectra/inventory.ecsv",
        *expand("results/spectra/{galaxy}_spectra.png", galaxy=GALAXIES),
        *expand("results/linemaps/{galaxy}_linemaps.png", galaxy=GALAXIES),
        "results/linemaps/sample/line_fluxes.ecsv",
        "results/inference/global_fits.ecsv",
        *expand("results/inference/global/{galaxy}_corner.png", galaxy=GALAXIES),
        *expand("results/inference/maps/{galaxy}_maps.png", galaxy=GALAXIES),
        "results/gradients/gradients.ecsv",
        *expand("results/gradients/{galaxy}_gradient.png", galaxy=GALAXIES),
        *expand("results/gradients/{galaxy}_linemaps_radius.png", galaxy=GALAXIES),
        "results/sample/table2.ecsv",
        "results/sample/mzr.ecsv",
        "results/sample/fmr_offsets.ecsv",
        "results/sample/figures/sfr_mass.png",
        "results/sample/figures/gradient_redshift.png",
        *expand("results/sample/bpt/{galaxy}_bpt.png", galaxy=GALAXIES),
    ]
