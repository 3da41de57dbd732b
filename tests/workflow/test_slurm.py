"""The workflow under a real SLURM: profiles/slurm-ci on a private single-node cluster.

The module fixture starts munged, slurmctld and slurmd on this machine (tests/workflow/slurm/start_slurm.sh,
which installs Debian's SLURM with apt-get when absent) and stops them afterwards. The test runs
the small test configuration through the SLURM executor, runs it again locally with --cores 2,
and requires identical products. It needs Linux, root and apt-get (or SLURM installed) and the
executor plugin (in the ``test`` extra); without them it is skipped, unless OHMAP_REQUIRE_SLURM=1
(as in CI), when it fails instead.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import re
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
import yaml

from mock_helpers import REPO
from workflow_helpers import (
    TEST_CONFIG,
    copy_workflow,
    result_differences,
    run_snakemake,
)

SLURM_SCRIPTS = REPO / "tests" / "workflow" / "slurm"
REQUIRED = os.environ.get("OHMAP_REQUIRE_SLURM") == "1"
SLURM_COMMANDS = ("slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "scontrol", "munged")
# Longest the SLURM run may take before its jobs are cancelled (it takes about 6-8 min on 2 cores).
SLURM_RUN_LIMIT_S = int(os.environ.get("OHMAP_SLURM_RUN_LIMIT_S", "1800"))
# What profiles/slurm-ci must share with profiles/slurm, so that the test runs the users' grouping.
SHARED_PROFILE_KEYS = ("executor", "cores", "scheduler", "groups", "group-components")


def _not_runnable() -> str | None:
    """Why a SLURM cannot be started here, or None."""
    if platform.system() != "Linux":
        return "a test SLURM needs Linux"
    if os.geteuid() != 0:
        return "a test SLURM needs root (its daemons run as root)"
    if not all(shutil.which(c) for c in SLURM_COMMANDS) and not shutil.which("apt-get"):
        return "SLURM is not installed and apt-get is not available to install it"
    conf = Path("/etc/slurm/slurm.conf")
    if conf.exists() and not conf.is_symlink():
        return f"{conf} exists: a SLURM is configured on this machine, no test SLURM beside it"
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        return "snakemake-executor-plugin-slurm is not installed (pip install -e '.[test]')"
    return None


def _skip_or_fail(reason: str):
    if REQUIRED:
        pytest.fail(f"OHMAP_REQUIRE_SLURM=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def slurm_env():
    """A running single-node SLURM; yields the environment that points SLURM commands at it."""
    reason = _not_runnable()
    if reason:
        _skip_or_fail(reason)
    # Not under pytest's tmp_path: munged wants every folder above its socket searchable by all.
    state = Path(tempfile.mkdtemp(prefix="ohmap-slurm-", dir="/tmp"))
    env = os.environ | {"SLURM_CONF": str(state / "slurm.conf"), "OPENBLAS_NUM_THREADS": "1"}
    try:
        started = subprocess.run(
            [str(SLURM_SCRIPTS / "start_slurm.sh"), str(state)],
            env=env,
            capture_output=True,
            text=True,
            timeout=1200,
        )
    except subprocess.TimeoutExpired as error:
        subprocess.run([str(SLURM_SCRIPTS / "stop_slurm.sh"), str(state)], env=env)
        _skip_or_fail(f"start_slurm.sh did not finish in {error.timeout} s")
    if started.returncode != 0:
        subprocess.run([str(SLURM_SCRIPTS / "stop_slurm.sh"), str(state)], env=env)
        _skip_or_fail(f"start_slurm.sh failed:\n{started.stdout[-3000:]}\n{started.stderr[-6000:]}")
    try:
        yield env
    finally:
        stopped = subprocess.run(
            [str(SLURM_SCRIPTS / "stop_slurm.sh"), str(state)],
            env=env,
            capture_output=True,
            text=True,
        )
        if stopped.returncode == 0:
            shutil.rmtree(state, ignore_errors=True)
        else:
            print(f"stop_slurm.sh failed, state kept in {state}:\n{stopped.stderr}")


def _squeue(env, *args) -> str:
    return subprocess.run(
        ["squeue", "--noheader", *args], env=env, capture_output=True, text=True, timeout=30
    ).stdout


class _Watchdog:
    """Cancels every job of the test cluster after ``limit`` seconds, so that a job pending for
    ever (e.g. asking for more CPUs or memory than the node has) fails the run instead of hanging
    it; what squeue showed then is kept for the failure message."""

    def __init__(self, env, limit: float):
        self.env, self.fired, self.queue = env, False, ""
        self.timer = threading.Timer(limit, self._fire)

    def _fire(self):
        self.fired = True
        self.queue = _squeue(self.env, "--states=all", "--format=%i %j %T %R %C %m")
        ids = _squeue(self.env, "--format=%i").split()
        if ids:
            subprocess.run(["scancel", *ids], env=self.env, timeout=30)

    def __enter__(self):
        self.timer.start()
        return self

    def __exit__(self, *exc):
        self.timer.cancel()


def test_ci_profile_shares_the_user_profile_grouping():
    """profiles/slurm-ci differs from profiles/slurm only in what the test cluster needs."""
    user = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    ci = yaml.safe_load((REPO / "profiles" / "slurm-ci" / "config.yaml").read_text())
    shared = {key: user.get(key) for key in SHARED_PROFILE_KEYS}
    assert {key: ci.get(key) for key in SHARED_PROFILE_KEYS} == shared
    assert ci["slurm-status-command"] == "squeue"


@pytest.mark.parametrize("variables", [{}, {"SBATCH_ACCOUNT": "proj1", "SBATCH_PARTITION": "123"}])
def test_user_profile_forwards_sbatch_variables(monkeypatch, variables):
    """SBATCH_ACCOUNT and SBATCH_PARTITION become slurm_account and slurm_partition; unset, the
    profile sets neither (the plugin then finds the default partition itself)."""
    from snakemake.profiles import ProfileConfigFileParser

    for name in ("SBATCH_ACCOUNT", "SBATCH_PARTITION"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with open(REPO / "profiles" / "slurm" / "config.yaml") as stream:
        parsed = ProfileConfigFileParser().parse(stream)
    slurm = sorted(r for r in parsed["default-resources"] if r.startswith("slurm_"))
    expected = ["slurm_account=proj1", "slurm_partition='123'"] if variables else []
    assert slurm == expected
    assert {"runtime=5", "mem_mb=1000"} <= set(parsed["default-resources"])
    assert parsed["executor"] == "slurm"


@pytest.mark.slurm
@pytest.mark.workflow
def test_workflow_under_slurm_matches_local_run(slurm_env, test_config_run, tmp_path_factory):
    slurm_dir = copy_workflow(tmp_path_factory.mktemp("slurm-run"))
    started = time.monotonic()
    with _Watchdog(slurm_env, SLURM_RUN_LIMIT_S) as watchdog:
        run = run_snakemake(
            slurm_dir,
            "--profile",
            "profiles/slurm-ci",
            *TEST_CONFIG,
            cores=None,
            env=slurm_env,
            check=False,
        )
    slurm_seconds = time.monotonic() - started
    if run.returncode != 0:
        squeue = f"squeue when the jobs were cancelled:\n{watchdog.queue}" if watchdog.fired else ""
        raise AssertionError(
            f"the SLURM run failed after {slurm_seconds:.0f} s:\n"
            f"{run.stdout[-3000:]}\n{run.stderr[-6000:]}\n{squeue}"
        )

    print(
        f"\nworkflow on the test configuration: {slurm_seconds:.0f} s under SLURM (profiles/slurm-ci)"
    )

    # The same configuration run locally with --cores 2 (shared with the other workflow tests).
    assert result_differences(slurm_dir / "results", test_config_run / "results") == {}

    # The jobs went through SLURM: one log per SLURM job (kept by the CI profile), group jobs
    # among them, and the cluster's records of the run's jobs (named by its run id), all done.
    logs = sorted((slurm_dir / ".snakemake" / "slurm_logs").rglob("*.log"))
    assert logs, "no SLURM job logs"
    kinds = {log.relative_to(slurm_dir / ".snakemake" / "slurm_logs").parts[0] for log in logs}
    groups = set(
        yaml.safe_load((slurm_dir / "profiles" / "slurm-ci" / "config.yaml").read_text())[
            "groups"
        ].values()
    )
    assert {g for g in groups if any(k.startswith(f"group_{g}_") for k in kinds)} == groups, kinds
    assert "rule_fit_spaxel_shard" in kinds, kinds
    run_id = re.search(r"SLURM run ID: (\S+)", run.stdout + run.stderr).group(1)
    queue = _squeue(slurm_env, "--states=all", f"--name={run_id}", "--format=%i %T")
    records = [line.split() for line in queue.splitlines()]
    assert len(records) == len(logs), (records, logs)
    assert {state for _, state in records} == {"COMPLETED"}, records
