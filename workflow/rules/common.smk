# Configuration, sample sheet and input functions shared by all rules.

import os

from snakemake.logging import logger

from ohmap.config import (
    galaxy_masses,
    galaxy_observations,
    inference_settings,
    reference_observation,
    spectrum_path,
)
from ohmap.errors import InputError
from ohmap.inputs.checks import check_configuration, check_input_files

# ohmap validates with its own functions (not snakemake.utils.validate) so that a bad value is
# reported with the file, the row and the field, and so the same checks run in the unit tests
# and in `ohmap validate`. The input files are opened once, by the main process (not again in
# each cluster job), so that a bad file stops the run before any job starts.
CONFIG_SOURCE = (workflow.overwrite_configfiles or ["config/config.yaml"])[-1]
try:
    samples = check_configuration(
        config,
        CONFIG_SOURCE,
        workflow.source_path("../schemas/config.schema.yaml"),
        workflow.source_path("../schemas/galaxies.schema.yaml"),
    )
    LIMIT_FRACTION = inference_settings(config, CONFIG_SOURCE)["limit_fraction"]
    if workflow.is_main_process:
        INPUT_REPORT = check_input_files(samples, config, config["samples"])
        INPUT_REPORT.raise_for_problems(CONFIG_SOURCE)
        for message in INPUT_REPORT.warnings:
            logger.warning(f"ohmap: {message}")
        for message in INPUT_REPORT.notes:
            logger.info(f"ohmap: {message}")
except InputError as error:
    raise WorkflowError(f"ohmap: bad input: {error}") from None

GALAXIES = list(samples.index)
# The stages a galaxy takes part in follow from what the sample sheet gives it; what is left
# out is said when the run starts (ohmap.config.stage_messages), not found missing mid-run.
MASSES = {gid: galaxy_masses(samples.loc[gid]) for gid in GALAXIES}
SAMPLE_GALAXIES = [gid for gid in GALAXIES if MASSES[gid] is not None]
GRADIENT_GALAXIES = [
    gid
    for gid in GALAXIES
    if samples.loc[gid, "lens_model"] is not None
    and samples.loc[gid, "mass_map"] is not None
]
OBSERVATIONS = {gid: galaxy_observations(samples.loc[gid], config) for gid in GALAXIES}
REFERENCE = {
    gid: reference_observation(OBSERVATIONS[gid], config, gid, config["samples"])
    for gid in GALAXIES
}
LINEMAPS = config.get("linemaps") or {}
INFERENCE_CONFIG = config.get("inference") or {}
GRADIENTS = dict(config.get("gradients") or {})
if config["mock"]["enabled"]:
    # The mock's own knowledge (its galaxies are the paper's), kept out of the user's settings.
    GRADIENTS["agn_candidates"] = [
        *(GRADIENTS.get("agn_candidates") or []),
        *(config["mock"].get("agn_candidates") or []),
    ]
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


def direct_stamp_images(wildcards):
    """The sample sheet's direct_image and segmentation (those given), as named inputs of
    ingest_spectrum, for a galaxy whose spectrum file has no direct-image stamp (a grizli
    stack); none for GLASS and beams files, which carry their own (DSCI/DSEG, REF/SEG).
    """
    row = samples.loc[wildcards.galaxy]
    if row["spectra_format"] != "grizli":
        return {}
    return {key: row[key] for key in ("direct_image", "segmentation") if row.get(key)}


def direct_stamp_position(wildcards):
    """The galaxy's RA/Dec (deg) on which ingest_spectrum centres the resampled direct-image
    stamp; empty when no image is resampled (see direct_stamp_images).
    """
    if not direct_stamp_images(wildcards):
        return {}
    row = samples.loc[wildcards.galaxy]
    return {"ra_deg": float(row["ra_deg"]), "dec_deg": float(row["dec_deg"])}


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
        "lens_model": None if row["lens_model"] is None else str(row["lens_model"]),
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
    """Path prefix of the galaxy's lens-model maps (what ohmap.gradients.lensing.LensModel.from_hff reads):
    lens.models.<name>, or its prefix when it is a mapping."""
    from ohmap.gradients.lens_inputs import model_prefix

    name = samples.loc[wildcards.galaxy, "lens_model"]
    return None if name is None else model_prefix(config["lens"]["models"][name])


_LENS_Z = {}


def lens_z_of(wildcards):
    """Lens redshift of the galaxy's lens model: lens.models.<name>.z_lens, else lens.z_lens, else
    the maps' Z_LENS (ohmap.gradients.lens_inputs); None while the mock's maps are still to be
    written and nothing is configured (the job then reads Z_LENS)."""
    from ohmap.gradients.lens_inputs import lens_model_input

    name = samples.loc[wildcards.galaxy, "lens_model"]
    if name is None:
        return None
    if name not in _LENS_Z:
        try:
            _LENS_Z[name] = lens_model_input(
                config, name, CONFIG_SOURCE, maps_exist_required=False
            ).z_lens
        except InputError as error:
            raise WorkflowError(f"ohmap: bad input: {error}") from None
    return _LENS_Z[name]


def lens_maps_of(wildcards):
    """The four HFF maps of the galaxy's lens model (changing the model reruns its fits); none
    for a galaxy without one."""
    prefix = lens_prefix_of(wildcards)
    return [] if prefix is None else [f"{prefix}_{s}.fits" for s in LENS_SUFFIXES]


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
    """Stellar masses (log10 Msun, lensing-corrected; [value, error below, error above]) of
    the galaxies that take part in the sample-level science (:data:`SAMPLE_GALAXIES`).
    """
    return {gid: MASSES[gid] for gid in SAMPLE_GALAXIES}


def sample_positions():
    """Position, redshift and mass of every galaxy of the sample table (from the sheet)."""
    return {
        gid: {c: float(samples.loc[gid, c]) for c in ("ra_deg", "dec_deg", "redshift")}
        | dict(zip(("log_mstar", "log_mstar_err_lo", "log_mstar_err_hi"), MASSES[gid]))
        for gid in SAMPLE_GALAXIES
    }


def mock_truth_table(wildcards):
    """The mock's truth table when the mock is on (the MZR is then also fitted to the truth)."""
    return ["results/mock/truth/galaxies.ecsv"] if MOCK["enabled"] else []


def mock_settings():
    """Everything a mock galaxy depends on, passed as params so a change reruns the mock."""
    settings = {
        k: v
        for k, v in MOCK.items()
        if k not in ("enabled", "galaxies", "agn_candidates")
    }
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
        *gradient_targets(),
        *sample_targets(),
    ]


def gradient_targets():
    """Morphology, radii, gradients and BPT figures of the galaxies with a lens model and a
    stellar-mass map."""
    if not GRADIENT_GALAXIES:
        return []
    return [
        "results/gradients/gradients.ecsv",
        *expand("results/gradients/{galaxy}_gradient.png", galaxy=GRADIENT_GALAXIES),
        *expand(
            "results/gradients/{galaxy}_linemaps_radius.png", galaxy=GRADIENT_GALAXIES
        ),
        *expand("results/sample/bpt/{galaxy}_bpt.png", galaxy=GRADIENT_GALAXIES),
    ]


def sample_targets():
    """The sample-level products: none when no galaxy has a stellar mass."""
    if not SAMPLE_GALAXIES:
        return []
    return [
        "results/sample/table2.ecsv",
        "results/sample/mzr.ecsv",
        "results/sample/fmr_offsets.ecsv",
        "results/sample/figures/sfr_mass.png",
        *(
            ["results/sample/figures/gradient_redshift.png"]
            if GRADIENT_GALAXIES
            else []
        ),
    ]
