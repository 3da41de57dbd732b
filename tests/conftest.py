"""Shared fixtures. Files in ../shared (beside the repository) are read from there, never copied."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("OHMAP_SHARED", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The ``shared/`` folder beside the repository; tests using it skip when it is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent")
    return SHARED


@pytest.fixture(scope="session")
def grizli_object_dir(shared_dir) -> Path:
    path = shared_dir / "data" / "grizli-goodss-00152"
    if not path.is_dir():
        pytest.skip(f"{path} is absent")
    return path


@pytest.fixture(scope="session")
def wfc3_calibration_dir(shared_dir, tmp_path_factory) -> Path:
    """The WFC3/IR G102 and G141 configuration tarballs unpacked into one temporary folder."""
    tarballs = sorted((shared_dir / "calib").glob("WFC3.IR.G1*.tar.gz"))
    if len(tarballs) < 2:
        pytest.skip("WFC3 grism calibration tarballs are absent from shared/calib")
    out = tmp_path_factory.mktemp("wfc3_calib")
    for tarball in tarballs:
        with tarfile.open(tarball) as tar:
            tar.extractall(out, filter="data")
    return out


@pytest.fixture(scope="session")
def test_config_run(tmp_path_factory) -> Path:
    """A fresh copy of the workflow run once, ``--cores 2``, on the small test configuration.

    Shared by the workflow tests; a test that changes a file in it restores it before returning.
    """
    from workflow_helpers import TEST_CONFIG, copy_workflow, run_snakemake

    root = copy_workflow(tmp_path_factory.mktemp("clone"))
    run_snakemake(root, *TEST_CONFIG)
    return root
