"""A user's own data, first try: a folder of files written in other conventions than ours (see
tests/own_data_helpers.py), outside the working directory, through ``ohmap init``,
``ohmap validate`` and ``snakemake`` with no hand conversion.

The numbers in the folder are those of the mock run on the test configuration, so the answers
must be the mock run's: the same spectra (to float32 rounding of the inverse variance), line
fluxes and global fits for the galaxies both have.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import yaml
from astropy.table import Table

from ohmap.spectra.products import read_spectrum_product
from own_data_helpers import LENS_NAME, foreign_data_folder
from workflow_helpers import copy_workflow, run_snakemake

pytestmark = pytest.mark.workflow

GALAXIES = ["01422", "02806"]  # the lens cut-out covers 01422 only


def _ohmap(workdir, *args):
    cmd = [sys.executable, "-m", "ohmap.cli", *args]
    return subprocess.run(cmd, cwd=workdir, capture_output=True, text=True)


@pytest.fixture(scope="module")
def own_run(test_config_run, tmp_path_factory):
    """``ohmap init`` on the foreign folder, then the whole workflow on what it wrote."""
    data = tmp_path_factory.mktemp("their_data") / "macs1149_othersim"
    foreign_data_folder(test_config_run, data, GALAXIES, half_lens_arcsec=1.7)
    work = copy_workflow(tmp_path_factory.mktemp("own"))
    # The mock run's reference PA, so that the answers can be compared (the default would be
    # 111: as many galaxies and as deep as 119, and the lower label).
    init = _ohmap(work, "init", os.fspath(data), "--reference-pa", "119")
    assert init.returncode == 0, init.stderr
    config = work / "config" / data.name / "config.yaml"
    # The test's short chains (config/test/config.yaml), which the user would not need.
    test_settings = yaml.safe_load((work / "config" / "test" / "config.yaml").read_text())
    speed = work / "config" / "speed.yaml"
    speed.write_text(yaml.safe_dump({k: test_settings[k] for k in ("inference", "sample")}))
    validate = _ohmap(work, "validate", os.fspath(config), "--base", "config/config.yaml")
    run = run_snakemake(work, "--configfile", os.fspath(config), os.fspath(speed))
    return dict(work=work, data=data, config=config, init=init, validate=validate, run=run)


def test_init_reads_everything_the_files_say(own_run):
    config = yaml.safe_load(own_run["config"].read_text())
    assert config["mock"] == {"enabled": False}
    assert {(o["pa"], o["grism"]) for o in config["observations"]} == {
        ("032", "G102"),
        ("032", "G141"),
        ("111", "G141"),
        ("119", "G141"),
        ("125", "G102"),
        ("125", "G141"),
    }
    assert all(o["exposure_time"] > 0 for o in config["observations"])
    assert config["reference_pa"] == "119"
    model = f"macs1149_{LENS_NAME}"  # the map prefix without hlsp_frontier_model_
    assert config["lens"]["models"][model]["z_lens"] == pytest.approx(0.544)
    sheet = Table.read(config["samples"], format="ascii.tab", comment="#")
    rows = {str(r["galaxy_id"]).zfill(5): r for r in sheet}
    assert sorted(rows) == GALAXIES
    assert rows["01422"]["lens_model"] == model
    assert np.ma.is_masked(rows["02806"]["lens_model"])  # no lens map covers it
    assert all(os.path.isabs(str(r["spectra"])) for r in sheet)
    assert str(own_run["data"]) in str(rows["01422"]["mass_map"])
    out = own_run["init"].stdout
    assert "MISSING: galaxy 02806: no lens map found covers it" in out
    assert "lens model" in out


def test_validate_passes_and_says_what_it_skips(own_run):
    result = own_run["validate"]
    assert result.returncode == 0, result.stderr
    assert "no lens model (lens_model) for galaxy 02806" in result.stdout
    assert "a missing mass error is taken as 0 dex" in result.stdout
    assert "warning:" in result.stdout and "01422" in result.stdout  # the lens cut-out


def test_spectra_read_as_the_mock_wrote_them(own_run, test_config_run):
    for gid in GALAXIES:
        for path in sorted((test_config_run / "results" / "spectra" / gid).glob("*.fits")):
            mine = read_spectrum_product(path)
            theirs = read_spectrum_product(
                own_run["work"] / "results" / "spectra" / gid / path.name
            )
            assert theirs.pixel_scale == pytest.approx(mine.pixel_scale, rel=1e-9)
            np.testing.assert_array_equal(np.isfinite(theirs.error), np.isfinite(mine.error))
            good = np.isfinite(mine.error)
            np.testing.assert_allclose(theirs.error[good], mine.error[good], rtol=2e-6)
            for name in ("science", "contamination", "continuum"):
                np.testing.assert_allclose(
                    getattr(theirs, name), getattr(mine, name), rtol=1e-6, atol=0
                )


def test_line_fluxes_and_global_fits_are_the_mock_runs(own_run, test_config_run):
    for gid in GALAXIES:
        relative = f"results/linemaps/{gid}_fluxes.ecsv"
        mine = Table.read(test_config_run / relative)
        theirs = Table.read(own_run["work"] / relative)
        assert set(theirs["continuum"]) == {"model"}  # GLASS files carry their MODEL
        for name in mine.colnames:
            if mine[name].dtype.kind == "f":
                np.testing.assert_allclose(theirs[name], mine[name], rtol=1e-4, atol=1e-6)
    mine = Table.read(test_config_run / "results/inference/global_fits.ecsv")
    theirs = Table.read(own_run["work"] / "results/inference/global_fits.ecsv")
    mine.add_index("galaxy_id")
    for row in theirs:
        ref = mine.loc[row["galaxy_id"]]
        width = 0.5 * (ref["oh12_p84"] - ref["oh12_p16"])
        assert abs(row["oh12_p50"] - ref["oh12_p50"]) < 0.2 * width, row["galaxy_id"]


def test_later_stages_run_where_their_inputs_are(own_run):
    results = own_run["work"] / "results"
    assert (results / "gradients" / "01422_gradient.ecsv").is_file()
    assert not (results / "gradients" / "02806_gradient.ecsv").exists()
    gradients = Table.read(results / "gradients" / "gradients.ecsv")
    assert [str(g) for g in gradients["galaxy_id"]] == ["01422"]
    fits_table = Table.read(results / "inference" / "global_fits.ecsv")
    by_id = {str(r["galaxy_id"]): r for r in fits_table}
    assert by_id["02806"]["magnification"] == 1.0
    assert not (results / "mock").exists()
