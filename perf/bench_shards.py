"""How large should the per-spaxel MCMC shards be?  Snakemake's cost per job against the sampler's
cost per spaxel, and the DAG at about 10,000 shard jobs.

    OPENBLAS_NUM_THREADS=1 python perf/bench_shards.py [--galaxies 100] [--shards-per-galaxy 100]
        [--overhead-jobs 24] [--fit-sizes 1,16,64] [--target-efficiency 0.9] [--ilp-timeout 300]
        [--keep DIR]

The default run takes about 25 minutes on two shared cores (most of it the real run of the
10,000 jobs). Four measurements, all in this one run (timings on a shared machine are noisy: read the ratios):

1. **Sampler cost of a shard** of n spaxels at the sampler settings of ``config/config.yaml``
   (the paper's: 100 walkers, 5000 steps), through :func:`ohmap.inference.fitting.fit_fluxes` as the
   ``fit_spaxel_shard`` script calls it, for each n of ``--fit-sizes``; a straight line through
   them gives a fixed cost per shard (the vectorised stretch move's per-step Python overhead)
   and a cost per spaxel.
2. **Snakemake's cost per job**: ``--overhead-jobs`` jobs of a ``script:`` rule that imports
   what ``fit_spaxel_shard.py`` imports and does nothing else, run with ``--cores 2``; the cost
   per job is wall time x cores / jobs (a fresh Python process, the script preamble, imports,
   bookkeeping).
3. **The DAG at scale**: a workflow of the same shape as ``workflow/rules/inference.smk``
   (a per-galaxy checkpoint writes a shard plan; one job per shard; a per-galaxy gather whose
   input function reads the plan; a sample summary) for ``--galaxies`` x
   ``--shards-per-galaxy`` shard jobs. Timed: the dry run with the greedy scheduler (this
   project's default, in ``profiles/default``) and with the ILP scheduler (Snakemake's own
   default, cut off at ``--ilp-timeout``), the real run of all the jobs as ``touch`` jobs
   (Snakemake's bookkeeping per job, without a Python start), and the no-op rerun (dry run when
   everything is up to date: what ``snakemake -n`` costs a user once the work is done).
4. **The choice**: the job time of a shard of s spaxels is t(s) = job + fixed + s x per-spaxel;
   the printed shard size is the smallest power of two whose useful share, s x per-spaxel /
   t(s), reaches ``--target-efficiency``, with the job time and the number of shard jobs for
   the mock field and for 10^5 spaxels.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import yaml
from bench_samplers import spaxels as synthetic_spaxels

from ohmap.inference.fitting import fit_fluxes
from ohmap.inference.settings import SamplerSettings

REPO = Path(__file__).resolve().parents[1]

SCALE_SNAKEFILE = textwrap.dedent("""
    # The shape of workflow/rules/inference.smk at scale; plans are shard counts in text files.
    GALAXIES = [f"g{i:04d}" for i in range(config["galaxies"])]

    rule all:
        input:
            "results/summary.txt",

    checkpoint plan_spaxels:
        output:
            "results/plans/{galaxy}.txt",
        params:
            n_shards=config["shards_per_galaxy"],
        shell:
            "echo {params.n_shards} > {output}"

    rule fit_spaxel_shard:
        input:
            "results/plans/{galaxy}.txt",
        output:
            "results/shards/{galaxy}/shard_{shard}.h5",
        shell:
            "touch {output}"

    def spaxel_shards(wildcards):
        plan = checkpoints.plan_spaxels.get(galaxy=wildcards.galaxy).output[0]
        n_shards = int(open(plan).read())
        return expand("results/shards/{galaxy}/shard_{shard}.h5", galaxy=wildcards.galaxy,
                      shard=range(n_shards))

    rule gather_spaxel_maps:
        input:
            spaxel_shards,
        output:
            "results/maps/{galaxy}.txt",
        shell:
            "echo {wildcards.galaxy} > {output}"

    rule summary:
        input:
            expand("results/maps/{galaxy}.txt", galaxy=GALAXIES),
        output:
            "results/summary.txt",
        shell:
            "cat {input} > {output}"
""")

OVERHEAD_SNAKEFILE = textwrap.dedent("""
    rule all:
        input:
            expand("results/job_{i}.done", i=range(config["jobs"])),

    rule job:
        output:
            "results/job_{i}.done",
        script:
            "job.py"
""")

# What fit_spaxel_shard.py imports, and nothing else done: the fixed price of one script job.
OVERHEAD_SCRIPT = textwrap.dedent("""
    from ohmap.config import inference_settings
    from ohmap.inference.products.shards import write_shard
    from ohmap.inference.shard_fit import fit_shard
    from ohmap.inference.spaxels import read_plan
    from ohmap.logs import log_to_file

    open(snakemake.output[0], "w").close()
""")


def snakemake(
    workdir: Path, *args, timeout: float | None = None
) -> tuple[float, subprocess.CompletedProcess | None]:
    """Run Snakemake in ``workdir``; return the wall time and the result (None on timeout)."""
    cmd = [sys.executable, "-m", "snakemake", *args]
    t0 = time.perf_counter()
    try:
        result = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return time.perf_counter() - t0, None
    seconds = time.perf_counter() - t0
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed in {workdir}:\n{result.stderr[-3000:]}")
    return seconds, result


def sampler_settings() -> SamplerSettings:
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    return SamplerSettings(**config["inference"]["sampler"])


def shard_fit_costs(sizes, seed: int = 1) -> dict[int, float]:
    """Seconds of fit_fluxes for one shard of each size (default sampler settings)."""
    settings = sampler_settings()
    model, flux, error = synthetic_spaxels(max(sizes), seed)
    costs = {}
    for n in sizes:
        keys = [("bench", i) for i in range(n)]
        t0 = time.perf_counter()
        fit_fluxes(model, flux[:n], error[:n], keys, settings, redshift=1.5, spaxel_arcsec=0.13)
        costs[n] = time.perf_counter() - t0
        print(
            f"  shard of {n:4d} spaxels: {costs[n]:7.2f} s  ({costs[n] / n:.3f} s per spaxel)",
            flush=True,
        )
    return costs


def job_overhead(workdir: Path, n_jobs: int) -> float:
    """Seconds of Snakemake and Python per script job (wall x cores / jobs)."""
    (workdir / "Snakefile").write_text(OVERHEAD_SNAKEFILE)
    (workdir / "job.py").write_text(OVERHEAD_SCRIPT)
    seconds, _ = snakemake(
        workdir, "--cores", "2", "--scheduler", "greedy", "--config", f"jobs={n_jobs}"
    )
    return seconds * 2 / n_jobs


def scale(workdir: Path, galaxies: int, shards_per_galaxy: int, ilp_timeout: float) -> dict:
    (workdir / "Snakefile").write_text(SCALE_SNAKEFILE)
    config = ["--config", f"galaxies={galaxies}", f"shards_per_galaxy={shards_per_galaxy}"]
    figures = {}
    # The plans first (the checkpoint), so that the dry run sees every shard job.
    figures["plans_s"], _ = snakemake(
        workdir, "--cores", "2", "--scheduler", "greedy", *config, "--until", "plan_spaxels"
    )
    figures["dry_greedy_s"], result = snakemake(
        workdir, "-n", "--cores", "2", "--scheduler", "greedy", "--quiet", "rules", *config
    )
    figures["planned_shards"] = _count(result.stdout + result.stderr, "fit_spaxel_shard")
    figures["dry_ilp_s"], result = snakemake(
        workdir,
        "-n",
        "--cores",
        "2",
        "--scheduler",
        "ilp",
        "--quiet",
        "rules",
        *config,
        timeout=ilp_timeout,
    )
    figures["dry_ilp_finished"] = result is not None
    figures["run_s"], _ = snakemake(
        workdir, "--cores", "2", "--scheduler", "greedy", "--quiet", "all", *config
    )
    figures["noop_s"], result = snakemake(
        workdir, "-n", "--cores", "2", "--scheduler", "greedy", *config
    )
    figures["noop_nothing_to_do"] = "Nothing to be done" in result.stdout + result.stderr
    return figures


def _count(output: str, rule: str) -> int:
    for line in output.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == rule and parts[1].isdigit():
            return int(parts[1])
    return 0


def choose_shard_size(per_job: float, fixed: float, per_spaxel: float, target: float) -> int:
    """The smallest power of two whose useful share of a job's time reaches ``target``."""
    size = 1
    while size * per_spaxel / (per_job + fixed + size * per_spaxel) < target and size < 2**16:
        size *= 2
    return size


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--galaxies", type=int, default=100)
    parser.add_argument("--shards-per-galaxy", type=int, default=100)
    parser.add_argument("--overhead-jobs", type=int, default=24)
    parser.add_argument("--fit-sizes", default="1,16,64")
    parser.add_argument("--target-efficiency", type=float, default=0.9)
    parser.add_argument("--ilp-timeout", type=float, default=300.0)
    parser.add_argument("--keep", type=Path, help="keep the scratch workflows in this folder")
    args = parser.parse_args(argv)
    sizes = sorted({int(s) for s in args.fit_sizes.split(",")})
    settings = sampler_settings()

    print(
        f"# bench_shards: {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}"
    )
    print(f"sampler: {settings.engine}, {settings.n_walkers} walkers, {settings.n_steps} steps\n")
    print("1. Sampler cost per shard (fit_fluxes, as fit_spaxel_shard runs it):")
    costs = shard_fit_costs(sizes)
    per_spaxel, fixed = (
        np.polyfit(sizes, [costs[n] for n in sizes], 1)
        if len(sizes) > 1
        else (costs[sizes[0]] / sizes[0], 0.0)
    )
    fixed = max(fixed, 0.0)
    print(f"  fit: {fixed:.2f} s per shard + {per_spaxel:.4f} s per spaxel\n")

    scratch = Path(tempfile.mkdtemp(prefix="bench_shards_", dir=args.keep))
    try:
        print(f"2. Snakemake cost per script job ({args.overhead_jobs} jobs, --cores 2):")
        (scratch / "overhead").mkdir()
        per_job = job_overhead(scratch / "overhead", args.overhead_jobs)
        print(f"  {per_job:.2f} s per job\n")

        total = args.galaxies * args.shards_per_galaxy
        print(
            f"3. The DAG at scale: {args.galaxies} galaxies x {args.shards_per_galaxy} shards = {total} shard jobs"
        )
        (scratch / "scale").mkdir()
        figures = scale(scratch / "scale", args.galaxies, args.shards_per_galaxy, args.ilp_timeout)
        n_jobs = total + 2 * args.galaxies + 2
        ilp = (
            f"{figures['dry_ilp_s']:.1f} s"
            if figures["dry_ilp_finished"]
            else f"not finished in {args.ilp_timeout:.0f} s"
        )
        print(f"  shard jobs planned by the dry run: {figures['planned_shards']}")
        print(
            f"  dry run, greedy scheduler:        {figures['dry_greedy_s']:7.1f} s "
            f"({1e3 * figures['dry_greedy_s'] / n_jobs:.1f} ms per job)"
        )
        print(f"  dry run, ILP scheduler:           {ilp}")
        print(
            f"  run of every job (touch), greedy:  {figures['run_s']:7.1f} s "
            f"({1e3 * figures['run_s'] / n_jobs:.1f} ms per job)"
        )
        print(
            f"  no-op rerun (dry run, up to date): {figures['noop_s']:7.1f} s "
            f"(said 'Nothing to be done': {figures['noop_nothing_to_do']})"
        )
        if figures["dry_ilp_finished"]:
            print(
                f"  ILP / greedy dry-run time: {figures['dry_ilp_s'] / figures['dry_greedy_s']:.1f}x"
            )
        bookkeeping = figures["run_s"] / n_jobs
        print(
            f"  Snakemake's main process handles at most {1 / bookkeeping:.0f} jobs per second here: "
            f"to keep 32 cores busy a job must last at least {32 * bookkeeping:.0f} s"
        )
        print()
    finally:
        if args.keep is None:
            shutil.rmtree(scratch, ignore_errors=True)

    print(f"4. Shard size (useful share of a job >= {args.target_efficiency:.0%}):")
    for size in (8, 16, 32, 64, 128, 256, 512, 1024):
        job = per_job + fixed + size * per_spaxel
        print(
            f"  {size:5d} spaxels: {job:7.1f} s per job, useful share {size * per_spaxel / job:.0%}"
        )
    chosen = choose_shard_size(per_job, fixed, per_spaxel, args.target_efficiency)
    job = per_job + fixed + chosen * per_spaxel
    print(
        f"chosen shard size: {chosen} spaxels ({job:.0f} s per job; "
        f"{int(np.ceil(1e5 / chosen))} shard jobs for 10^5 spaxels, "
        f"{1e5 * per_spaxel / 3600 / 32:.1f} h of sampling on 32 cores)"
    )


if __name__ == "__main__":
    main()
