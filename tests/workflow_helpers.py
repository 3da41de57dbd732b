"""Run the workflow in a scratch copy and compare two runs' science products file by file."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
from astropy.io import fits
from astropy.table import Table

from mock_helpers import REPO

TEST_CONFIG = ["--configfile", "config/test/config.yaml"]
WORKFLOW_ITEMS = ("Snakefile", "workflow", "config", "resources", "profiles", "envs")

# Products compared for identity: the maps, tables and chains. Figures are not compared (a PDF
# carries its creation date) and neither are logs, benchmarks or the report.
COMPARED_SUFFIXES = (".fits", ".ecsv", ".h5", ".tsv", ".tex")
SKIPPED_PARTS = ("benchmarks",)


def copy_workflow(destination: Path) -> Path:
    """Copy the workflow (as a clone would have it, without results) into ``destination``."""
    destination.mkdir(parents=True, exist_ok=True)
    for item in WORKFLOW_ITEMS:
        source = REPO / item
        (shutil.copytree if source.is_dir() else shutil.copy)(source, destination / item)
    return destination


def run_snakemake(
    workdir: Path, *args, cores: int | None = 2, check: bool = True, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run Snakemake in ``workdir``; on failure raise with the tail of its output."""
    cmd = [sys.executable, "-m", "snakemake", *(["--cores", str(cores)] if cores else []), *args]
    result = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, env=env)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed in {workdir}:\n{result.stdout[-3000:]}\n"
            f"{result.stderr[-5000:]}"
        )
    return result


def planned_job_counts(output: str) -> dict[str, int]:
    """The per-rule job counts of a dry run's summary table."""
    return {rule: int(n) for rule, n in re.findall(r"^([a-z_]+)\s+(\d+)$", output, flags=re.M)}


def planned_jobs(output: str) -> list[dict]:
    """The jobs of a dry run's listing: rule, wildcards (dict) and output paths of each."""
    jobs = []
    for block in re.split(r"^(?:local)?(?:rule|checkpoint) ", output, flags=re.M)[1:]:
        rule = block.split(":", 1)[0].strip()
        fields = dict(re.findall(r"^\s+(output|wildcards): (.*)$", block, flags=re.M))
        wildcards = dict(
            item.split("=", 1) for item in fields.get("wildcards", "").split(", ") if "=" in item
        )
        outputs = [o.strip() for o in fields.get("output", "").split(",") if o.strip()]
        jobs.append(dict(rule=rule, wildcards=wildcards, outputs=outputs))
    return jobs


def compared_products(results: Path, ignore: tuple[str, ...] = ()) -> list[Path]:
    """The product files under ``results`` that must be identical between equivalent runs.

    ``ignore`` holds glob patterns (relative to ``results``) of files left out, such as the
    shard files when two runs use different shard layouts.
    """
    return sorted(
        p.relative_to(results)
        for p in results.rglob("*")
        if p.is_file()
        and p.suffix in COMPARED_SUFFIXES
        and not set(SKIPPED_PARTS) & set(p.relative_to(results).parts)
        and not any(p.relative_to(results).match(pattern) for pattern in ignore)
    )


def _fits_differences(a: Path, b: Path) -> list[str]:
    diff = fits.FITSDiff(str(a), str(b), rtol=0.0, atol=0.0)
    if diff.identical:
        return []
    lines = [line.strip() for line in diff.report().splitlines()]
    return [
        line for line in lines if "differ" in line or line.startswith(("a>", "b>", "Extension"))
    ][:8]


def _ecsv_differences(a: Path, b: Path) -> list[str]:
    ta, tb = Table.read(a), Table.read(b)
    problems = []
    if ta.colnames != tb.colnames or len(ta) != len(tb):
        return [f"columns or lengths differ: {ta.colnames}/{len(ta)} vs {tb.colnames}/{len(tb)}"]
    if ta.meta != tb.meta:
        problems.append("table metadata differ")
    for name in ta.colnames:
        ca, cb = ta[name], tb[name]
        if ca.unit != cb.unit:
            problems.append(f"column {name}: unit {ca.unit} vs {cb.unit}")
        va, vb = np.asarray(ca), np.asarray(cb)
        same = (
            np.array_equal(va, vb, equal_nan=True)
            if va.dtype.kind == "f"
            else np.array_equal(va, vb)
        )
        if not same:
            problems.append(f"column {name} differs")
    return problems


def _h5_differences(a: Path, b: Path) -> list[str]:
    problems = []
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        names_a, names_b = [], []
        fa.visit(names_a.append)
        fb.visit(names_b.append)
        if sorted(names_a) != sorted(names_b):
            return [f"object names differ: {sorted(set(names_a) ^ set(names_b))}"]
        for name in ["/", *names_a]:
            oa, ob = fa[name], fb[name]
            if dict(oa.attrs).keys() != dict(ob.attrs).keys() or any(
                not np.array_equal(np.asarray(oa.attrs[k]), np.asarray(ob.attrs[k]))
                for k in oa.attrs
            ):
                problems.append(f"{name}: attributes differ")
            if isinstance(oa, h5py.Dataset):
                va, vb = oa[()], ob[()]
                kind = np.asarray(va).dtype.kind
                if not (
                    np.array_equal(va, vb, equal_nan=True)
                    if kind in "fc"
                    else np.array_equal(va, vb)
                ):
                    problems.append(f"{name}: data differ")
    return problems


def result_differences(
    results_a: Path, results_b: Path, ignore: tuple[str, ...] = ()
) -> dict[str, list[str]]:
    """Every difference between the products of two results folders, by relative path.

    Values are compared exactly (no tolerance): the workflow promises identical numbers whatever
    the core count, shard layout or executor. A file present in only one folder is a difference.
    """
    files_a, files_b = compared_products(results_a, ignore), compared_products(results_b, ignore)
    differences = {str(p): ["only in the first run"] for p in set(files_a) - set(files_b)}
    differences |= {str(p): ["only in the second run"] for p in set(files_b) - set(files_a)}
    compare = {".fits": _fits_differences, ".ecsv": _ecsv_differences, ".h5": _h5_differences}
    for relative in sorted(set(files_a) & set(files_b)):
        a, b = results_a / relative, results_b / relative
        check = compare.get(relative.suffix)
        problems = (
            check(a, b)
            if check
            else ([] if a.read_bytes() == b.read_bytes() else ["contents differ"])
        )
        if problems:
            differences[str(relative)] = problems
    return differences
