"""Same answer everywhere: the test configuration gives identical maps and tables with --cores 1
and --cores 2 and with different shard layouts, and a run killed with SIGKILL partway through the
per-spaxel shards resumes with only its unfinished jobs and ends identical to an uninterrupted run.
(The SLURM run is compared with the same reference in tests/workflow/test_slurm.py.)"""

from __future__ import annotations

import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import pytest
import yaml
from astropy.io import fits
from astropy.table import Table

from ohmap.inference.spaxels import read_plan
from workflow_helpers import (
    TEST_CONFIG,
    copy_workflow,
    planned_jobs,
    result_differences,
    run_snakemake,
)

pytestmark = pytest.mark.workflow
GALAXIES = ("01422", "02806", "05709")
# Files whose layout, not content, follows the shard size: the plans and the shards themselves.
SHARD_LAYOUT = ("inference/spaxels/*/*",)


def _copy_run(run: Path, destination: Path) -> Path:
    """A copy of a finished run, Snakemake's records (.snakemake) included."""
    shutil.copytree(run, destination, symlinks=True)
    return destination


def _set_shard_size(workdir: Path, shard_size: int) -> None:
    path = workdir / "config" / "test" / "config.yaml"
    config = yaml.safe_load(path.read_text())
    config["inference"]["spaxels"]["shard_size"] = shard_size
    path.write_text(yaml.safe_dump(config, sort_keys=False))


def _shard_files(results: Path) -> set[str]:
    return {str(p.relative_to(results)) for p in results.glob("inference/spaxels/*/shard_*.h5")}


def test_one_core_gives_identical_products(test_config_run, tmp_path):
    workdir = copy_workflow(tmp_path / "one_core")
    run_snakemake(workdir, *TEST_CONFIG, cores=1)
    assert result_differences(test_config_run / "results", workdir / "results") == {}


def test_shard_size_does_not_change_the_products(test_config_run, tmp_path):
    workdir = _copy_run(test_config_run, tmp_path / "shards_of_3")
    _set_shard_size(workdir, 3)
    dry = run_snakemake(workdir, "-n", *TEST_CONFIG).stdout
    # A new layout re-plans and re-samples; the line maps and everything before them stay.
    assert {job["rule"] for job in planned_jobs(dry)} >= {"plan_spaxels", "gather_spaxel_maps"}
    assert not {"extract_line_maps", "stack_line_maps", "fit_global_fluxes"} & {
        job["rule"] for job in planned_jobs(dry)
    }
    run_snakemake(workdir, *TEST_CONFIG)
    results = workdir / "results"
    for galaxy in GALAXIES:
        plan = read_plan(results / "inference" / "spaxels" / galaxy / "plan.ecsv")
        shards = sorted((results / "inference" / "spaxels" / galaxy).glob("shard_*.h5"))
        assert len(shards) == plan.meta["n_shards"] == max(1, math.ceil(len(plan) / 3))
    assert result_differences(test_config_run / "results", results, ignore=SHARD_LAYOUT) == {}


def _readable(path: Path) -> bool:
    try:
        if path.suffix == ".h5":
            with h5py.File(path, "r") as h5:
                h5.visit(lambda name: None)
        elif path.suffix == ".fits":
            with fits.open(path) as hdul:
                for hdu in hdul:
                    hdu.data
        elif path.suffix == ".ecsv":
            Table.read(path)
    except Exception:
        return False
    return True


def test_kill_during_the_shards_and_resume(test_config_run, tmp_path):
    """SIGKILL the whole Snakemake process group once some shards are written; the rerun plans
    only jobs that had not finished, and the final products equal an uninterrupted run's."""
    workdir = _copy_run(test_config_run, tmp_path / "killed")
    results = workdir / "results"
    # Shards of 2 spaxels: a new layout (so every shard job runs again) with many jobs.
    _set_shard_size(workdir, 2)
    for path in results.glob("inference/spaxels/*/shard_*.h5"):
        path.unlink()
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", *TEST_CONFIG]
    started = time.time() - 1.0
    log = (tmp_path / "killed.log").open("w")
    process = subprocess.Popen(
        cmd, cwd=workdir, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + 600
    try:
        while len(_shard_files(results)) < 3:
            assert process.poll() is None, "the workflow ended before it could be killed"
            assert time.monotonic() < deadline, "no shard written within 10 minutes"
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        process.wait()
        log.close()
    assert process.returncode == -signal.SIGKILL
    written = _shard_files(results)
    expected = sum(
        max(1, math.ceil(len(read_plan(results / "inference" / "spaxels" / g / "plan.ecsv")) / 2))
        for g in GALAXIES
        if (results / "inference" / "spaxels" / g / "plan.ecsv").exists()
    )
    assert 3 <= len(written) < expected, "the kill did not land partway through the shards"

    # Nothing under a final name is half-written: every product present now can be read. (A job
    # killed while writing leaves its temporary <name>.part<suffix>, which no rule takes for an
    # output; the rerun replaces it.)
    present = {
        str(p.relative_to(workdir))
        for p in results.rglob("*")
        if p.is_file() and ".part" not in p.name
    }
    unreadable = [p for p in present if not _readable(workdir / p)]
    assert unreadable == []
    # What the killed run itself wrote (the copied reference products are older).
    written_now = {p for p in present if (workdir / p).stat().st_mtime >= started}

    run_snakemake(workdir, "--unlock", *TEST_CONFIG)
    jobs = planned_jobs(run_snakemake(workdir, "-n", *TEST_CONFIG).stdout)
    # Only unfinished jobs run again: a planned job whose outputs were all present can only be
    # one that was running when the workflow was killed (two cores: at most two).
    rerun_finished = [job for job in jobs if job["outputs"] and set(job["outputs"]) <= written_now]
    assert len(rerun_finished) <= 2, rerun_finished
    planned_shards = {
        o for job in jobs if job["rule"] == "fit_spaxel_shard" for o in job["outputs"]
    }
    finished_shards = {f"results/{s}" for s in written}
    assert len(planned_shards & finished_shards) <= 2
    # And every shard not yet written is planned (for galaxies whose plan is not itself redone).
    replanned = {job["wildcards"]["galaxy"] for job in jobs if job["rule"] == "plan_spaxels"}
    for galaxy in set(GALAXIES) - replanned:
        n_shards = read_plan(results / "inference" / "spaxels" / galaxy / "plan.ecsv").meta[
            "n_shards"
        ]
        expected_shards = {
            f"results/inference/spaxels/{galaxy}/shard_{i}.h5" for i in range(n_shards)
        }
        assert expected_shards - finished_shards <= planned_shards

    run_snakemake(workdir, *TEST_CONFIG)
    assert "Nothing to be done" in run_snakemake(workdir, "-n", *TEST_CONFIG).stdout
    assert not list(results.rglob("*.part*")), "temporary files left behind"
    assert result_differences(test_config_run / "results", results, ignore=SHARD_LAYOUT) == {}
