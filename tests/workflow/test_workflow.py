"""The Snakemake workflow end to end on the small test configuration (config/test/)."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from ohmap.gradients.products import read_radius_map
from ohmap.inference.products.global_fits import read_global_fit
from ohmap.inference.products.spaxel_maps import read_spaxel_maps
from ohmap.inference.spaxels import read_plan
from ohmap.linemaps.products import read_stacked_maps
from ohmap.spectra.products import read_spectrum_product
from workflow_helpers import (
    TEST_CONFIG,
    copy_workflow,
    planned_job_counts,
    planned_jobs,
    run_snakemake,
)

pytestmark = pytest.mark.workflow


def _snakemake(workdir, *args, check=True):
    return run_snakemake(workdir, *args, check=check)


@pytest.fixture(scope="module")
def workdir(test_config_run):
    """The workflow run once on the test config (shared with the other workflow tests)."""
    return test_config_run


def test_dry_run_plans_jobs(tmp_path):
    copy_workflow(tmp_path)
    out = _snakemake(tmp_path, "-n", *TEST_CONFIG).stdout
    assert "simulate_galaxy" in out and "ingest_spectrum" in out
    assert not (tmp_path / "results").exists()


def test_outputs_written(workdir):
    results = workdir / "results"
    truth = Table.read(results / "mock" / "truth" / "galaxies.ecsv")
    assert sorted(truth["galaxy_id"]) == ["01422", "02806", "05709"]
    alignment = Table.read(results / "mock" / "truth" / "alignment.ecsv")
    assert len(alignment) == 3 * 6
    inventory = Table.read(results / "spectra" / "inventory.ecsv")
    assert len(inventory) == 18 and inventory["median_error"].unit is not None
    row = inventory[(inventory["galaxy_id"] == "02806") & (inventory["grism"] == "G141")][0]
    assert "Ha" in row["lines_in_range"].split(",")
    spec = read_spectrum_product(results / "spectra" / "05709" / "05709_119-G141.fits")
    assert spec.pa == "119" and np.isfinite(spec.science).all()
    for gid in ("01422", "02806", "05709"):
        assert (results / "spectra" / f"{gid}_spectra.png").stat().st_size > 10_000
    for model in ("glafic_v3", "sharon_v3"):
        assert (
            results / "mock" / "lens_models" / f"hlsp_frontier_model_macs1149_{model}_kappa.fits"
        ).exists()
    assert (workdir / "logs" / "simulate_galaxy" / "05709.log").read_text().strip()


def test_line_map_products(workdir):
    results = workdir / "results"
    fluxes = Table.read(results / "linemaps" / "sample" / "line_fluxes.ecsv")
    assert sorted(set(fluxes["galaxy_id"])) == ["01422", "02806", "05709"]
    assert fluxes["flux"].unit == "1e-17 erg / (s cm2)"
    truth = Table.read(results / "mock" / "truth" / "galaxies.ecsv")
    truth.add_index("galaxy_id")
    # 05709's strongest isolated line, stacked from every PA-grism that covers it, against the
    # mock's lensed truth (a loose check: the accuracy itself is measured in perf/).
    row = fluxes[(fluxes["galaxy_id"] == "05709") & (fluxes["line"] == "OIII5008")][0]
    expected = truth.loc["05709"]["flux_OIII5008_lensed"]
    assert (
        row["n_maps"] >= 3 and abs(row["flux"] - expected) < 5 * row["flux_error"] + 0.1 * expected
    )
    vetting = Table.read(results / "linemaps" / "sample" / "vetting.ecsv")
    assert set(vetting["status"]) <= {"accepted", "rejected", "not_extracted"}
    assert (vetting["reason"] != "").all()
    alignments = Table.read(results / "alignment" / "alignment.ecsv")
    assert len(alignments) == 18 and alignments["shift_x"].unit == "pixel"
    assert set(alignments[alignments["pa"] == "119"]["status"]) == {"reference"}
    stacked = read_stacked_maps(results / "linemaps" / "05709_linemaps.fits")
    assert stacked["header"]["REF_PA"] == "119" and "OIII5008" in stacked
    for gid in ("01422", "02806", "05709"):
        assert (results / "linemaps" / f"{gid}_linemaps.png").stat().st_size > 10_000
        assert (workdir / "logs" / "stack_line_maps" / f"{gid}.log").read_text().strip()


def test_inference_products(workdir):
    results = workdir / "results" / "inference"
    fits_table = read_global_fit(results / "global_fits.ecsv")
    assert sorted(fits_table["galaxy_id"]) == ["01422", "02806", "05709"]
    assert fits_table["oh12_p50"].unit == "dex" and fits_table["sfr_p50"].unit == "solMass / yr"
    assert np.all(
        (fits_table["oh12_p16"] <= fits_table["oh12_p50"])
        & (fits_table["oh12_p50"] <= fits_table["oh12_p84"])
    )
    for gid in ("01422", "02806", "05709"):
        plan = read_plan(results / "spaxels" / gid / "plan.ecsv")
        shards = sorted((results / "spaxels" / gid).glob("shard_*.h5"))
        assert len(shards) == plan.meta["n_shards"] == max(1, -(-len(plan) // 8))
        maps = read_spaxel_maps(results / "maps" / f"{gid}_maps.fits")
        assert maps["header"]["NFITTED"] == len(plan) == int(maps["FITTED"].sum())
        fitted = maps["FITTED"]
        assert np.isfinite(maps["OH12"][fitted]).all() and np.isnan(maps["OH12"][~fitted]).all()
        assert (results / "maps" / f"{gid}_maps.png").stat().st_size > 10_000
        assert (results / "global" / f"{gid}_corner.png").stat().st_size > 10_000
    assert (
        sum(
            len(read_plan(results / "spaxels" / g / "plan.ecsv"))
            for g in ("01422", "02806", "05709")
        )
        > 0
    )


def test_changed_pa_spectrum_reruns_only_its_jobs(workdir, tmp_path):
    spectrum = workdir / "results" / "mock" / "spectra" / "MACS1149-032-G141_05709.2D.fits"
    kept = tmp_path / "kept.fits"
    shutil.copy2(spectrum, kept)
    try:
        # A content change: Snakemake does not rerun for a new mtime alone when the checksum of a
        # small input is unchanged.
        with fits.open(spectrum, mode="update") as hdul:
            hdul[0].header["HISTORY"] = "re-reduced"
        out = _snakemake(workdir, "-n", *TEST_CONFIG)
        out = out.stdout + out.stderr
    finally:
        shutil.copy2(kept, spectrum)
    counts = {k: str(v) for k, v in planned_job_counts(out).items()}
    assert counts == {
        "ingest_spectrum": "1",
        "extract_line_maps": "1",
        "align_line_maps": "1",
        "stack_line_maps": "1",
        "plot_line_maps": "1",
        "line_map_summary": "1",
        "plot_spectra": "1",
        "spectra_inventory": "1",
        "fit_global_fluxes": "1",
        "plot_global_corner": "1",
        "global_fit_summary": "1",
        # The shard jobs appear once the re-planned checkpoint has run.
        "plan_spaxels": "1",
        "gather_spaxel_maps": "1",
        "plot_spaxel_maps": "1",
        "radius_map": "1",
        "metallicity_gradient": "1",
        "plot_gradient": "1",
        "plot_line_maps_radius": "1",
        "gradient_summary": "1",
        "bpt_diagram": "1",
        # Sample-level jobs after them.
        "agn_screening": "1",
        "sample_table": "1",
        "sfr_mass_figure": "1",
        "mass_metallicity": "1",
        "fmr_offsets": "1",
        "gradient_trends": "1",
        "all": "1",
        "total": "27",
    }
    outputs = ",".join(re.findall(r"^\s+output: (.*)$", out, flags=re.M)).split(",")
    per_pa = {m.groups() for m in (re.search(r"/(\w+)/\1_(\d{3}-G\d{3})", o) for o in outputs) if m}
    assert per_pa == {("05709", "032-G141")}
    per_galaxy = {
        m.group(1)
        for m in (re.search(r"/(\d{5})_\w+\.(?:fits|png|ecsv)$", o.strip()) for o in outputs)
        if m
    }
    assert per_galaxy == {"05709"}
    assert _snakemake(workdir, "-n", *TEST_CONFIG).stdout.count("Nothing to be done") == 1


def test_gradient_products(workdir):
    results = workdir / "results"
    table = Table.read(results / "gradients" / "gradients.ecsv")
    assert sorted(table["galaxy_id"]) == ["01422", "02806", "05709"]
    assert table["spaxel_slope"].unit == "dex / kpc" and table["inclination_deg"].unit == "deg"
    for row in table:
        # A galaxy is kept exactly when it has enough fitted spaxels, and only kept ones count.
        assert row["kept"] == (row["n_fitted_spaxels"] >= 5)
    assert "\\begin{tabular}" in (results / "gradients" / "gradients.tex").read_text()
    for gid in ("01422", "02806", "05709"):
        radius = read_radius_map(results / "morphology" / f"{gid}_radius.fits")
        maps = read_spaxel_maps(results / "inference" / "maps" / f"{gid}_maps.fits")
        assert (
            radius.radius_kpc.shape == maps["FITTED"].shape and np.isfinite(radius.radius_kpc).all()
        )
        # The centre is on the grid: some spaxel lies within about one spaxel (0.13", ~1 kpc) of it.
        assert radius.radius_kpc.min() < 1.5
        assert (results / "gradients" / f"{gid}_gradient.png").stat().st_size > 10_000
        assert (results / "gradients" / f"{gid}_linemaps_radius.png").stat().st_size > 10_000


def test_changed_lens_model_reruns_only_that_galaxys_lensing_jobs(workdir):
    sheet = workdir / "config" / "test" / "galaxies.tsv"
    kept = sheet.read_text()
    try:
        lines = [
            (
                "\t".join(["02806", *line.split("\t")[1:4], "sharon_v3", *line.split("\t")[5:]])
                if line.startswith("02806\t")
                else line
            )
            for line in kept.splitlines()
        ]
        sheet.write_text("\n".join(lines) + "\n")
        out = _snakemake(workdir, "-n", *TEST_CONFIG)
        out = out.stdout + out.stderr
    finally:
        sheet.write_text(kept)
    counts = {k: str(v) for k, v in planned_job_counts(out).items()}
    assert counts == {
        "source_morphology": "1",
        "radius_map": "1",
        "metallicity_gradient": "1",
        "plot_gradient": "1",
        "plot_line_maps_radius": "1",
        "gradient_summary": "1",
        "bpt_diagram": "1",
        # The SFR of the global fit is divided by the lens model's magnification (Sect. 4.4).
        "fit_global_fluxes": "1",
        "plot_global_corner": "1",
        "global_fit_summary": "1",
        # Sample-level jobs after them.
        "sample_table": "1",
        "sfr_mass_figure": "1",
        "mass_metallicity": "1",
        "fmr_offsets": "1",
        "gradient_trends": "1",
        "all": "1",
        "total": "16",
    }
    outputs = ",".join(re.findall(r"^\s+output: (.*)$", out, flags=re.M)).split(",")
    per_galaxy = {
        m.group(1)
        for m in (re.search(r"/(\d{5})_\w+\.(?:fits|png|ecsv|h5)$", o.strip()) for o in outputs)
        if m
    }
    assert per_galaxy == {"02806"}


SAMPLE_LEVEL_RULES = {
    "spectra_inventory",
    "line_map_summary",
    "global_fit_summary",
    "gradient_summary",
    "agn_screening",
    "sample_table",
    "sfr_mass_figure",
    "mass_metallicity",
    "fmr_offsets",
    "gradient_trends",
    "all",
}


def test_edited_sample_sheet_row_plans_that_galaxy_and_the_sample_level_jobs(workdir):
    """A corrected redshift in one galaxy's row: that galaxy's chain from the line maps on, and
    the sample-level tables and figures, nothing of the other galaxies and no mock job."""
    sheet = workdir / "config" / "test" / "galaxies.tsv"
    kept = sheet.read_text()
    try:
        sheet.write_text(
            kept.replace(
                "02806\t177.392541\t22.394921\t1.5\t", "02806\t177.392541\t22.394921\t1.52\t"
            )
        )
        assert sheet.read_text() != kept
        out = _snakemake(workdir, "-n", *TEST_CONFIG)
        out = out.stdout + out.stderr
    finally:
        sheet.write_text(kept)
    jobs = planned_jobs(out)
    per_galaxy = [job for job in jobs if job["wildcards"]]
    assert {job["wildcards"]["galaxy"] for job in per_galaxy} == {"02806"}
    assert {job["rule"] for job in jobs if not job["wildcards"]} == SAMPLE_LEVEL_RULES
    counts = planned_job_counts(out)
    # Every PA-grism is re-extracted (the lines move with the redshift); the spectra themselves
    # and the mock are not touched.
    assert counts["extract_line_maps"] == counts["align_line_maps"] == 6
    assert not {
        "ingest_spectrum",
        "simulate_galaxy",
        "simulate_lens_model",
        "mock_truth_tables",
    } & set(counts)
    assert {"fit_global_fluxes", "plan_spaxels", "metallicity_gradient"} <= set(counts)
    assert "Nothing to be done" in _snakemake(workdir, "-n", *TEST_CONFIG).stdout


def test_sample_products_and_report(workdir):
    results = workdir / "results" / "sample"
    table = Table.read(results / "table2.ecsv")
    assert sorted(table["galaxy_id"]) == ["01422", "02806", "05709"]
    assert "\\begin{tabular}" in (results / "table2.tex").read_text()
    agn = Table.read(results / "agn_screening.ecsv")
    assert set(agn["mex_class"]) <= {
        "star-forming",
        "intermediate",
        "AGN",
        "unconstrained",
        "unknown",
    }
    assert len(Table.read(results / "mzr.ecsv")) >= 1 and (results / "fmr_offsets.ecsv").exists()
    for name in ("mex", "sfr_mass", "mzr", "fmr", "gradient_redshift", "gradient_mass"):
        for ext in ("png", "pdf"):
            assert (results / "figures" / f"{name}.{ext}").stat().st_size > 5_000
    for gid in ("01422", "02806", "05709"):
        assert (results / "bpt" / f"{gid}_bpt.png").stat().st_size > 5_000
    report = workdir / "results" / "report.html"
    _snakemake(workdir, "--report", str(report), *TEST_CONFIG)
    assert report.stat().st_size > 100_000


def test_new_literature_row_reruns_only_the_relations(workdir):
    table = workdir / "resources" / "literature_mzr.tsv"
    kept = table.read_text()
    try:
        header = [line for line in kept.splitlines() if line and not line.startswith("#")][0].split(
            "\t"
        )
        row = {c: "" for c in header} | {
            "id": "LIT1",
            "reference": "test",
            "z": "1.5",
            "log_mstar": "9.5",
            "log_mstar_err_lo": "0.1",
            "log_mstar_err_hi": "0.1",
            "oh12": "8.4",
            "oh12_err_lo": "0.1",
            "oh12_err_hi": "0.1",
            "sfr": "10",
            "sfr_err_lo": "2",
            "sfr_err_hi": "2",
            "calibration": "M08",
        }
        table.write_text(kept.rstrip("\n") + "\n" + "\t".join(row[c] for c in header) + "\n")
        out = _snakemake(workdir, "-n", *TEST_CONFIG)
        out = out.stdout + out.stderr
    finally:
        table.write_text(kept)
    counts = {k: str(v) for k, v in planned_job_counts(out).items()}
    assert counts == {"mass_metallicity": "1", "fmr_offsets": "1", "all": "1", "total": "3"}


def test_rerun_does_nothing(workdir):
    out = _snakemake(workdir, "-n", *TEST_CONFIG).stdout
    assert "Nothing to be done" in out
    out = _snakemake(workdir, "-n", "mock", *TEST_CONFIG).stdout
    assert "Nothing to be done" in out


def test_bad_sample_sheet_stops_before_any_job(tmp_path):
    copy_workflow(tmp_path)
    sheet = tmp_path / "config" / "test" / "galaxies.tsv"
    sheet.write_text(sheet.read_text().replace("\t2.28\t", "\tz=2.28\t"))
    result = _snakemake(tmp_path, *TEST_CONFIG, check=False)
    assert result.returncode != 0
    message = result.stdout + result.stderr
    assert (
        "config/test/galaxies.tsv" in message
        and "galaxy 01422" in message
        and "'redshift'" in message
    )
    assert not (tmp_path / "results").exists()
