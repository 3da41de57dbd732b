"""Benchmark of the sampler engines at the paper's settings (100 walkers, 5000 steps, 2000
burn-in) on spaxel-like line fluxes.

    OPENBLAS_NUM_THREADS=1 python perf/bench_samplers.py [--loop-spaxels 2] [--vector-spaxels 8]
                                                        [--shards 64,128] [--walkers 100]
                                                        [--steps 5000] [--burn 2000] [--seed 1]

Spaxels: six lines (all of :data:`ohmap.lines.FIT_LINES`) drawn from the line-flux model with
its intrinsic scatter, truth 12+log(O/H) uniform in [7.3, 9.0], A_V in [0, 2], f_Hb log-uniform
in [0.3, 30] (1e-17 erg/s/cm^2) and errors 0.5-0.6: S/N of the brightest line from ~1 to ~100.
Every engine fits the first spaxels of the same list through :func:`ohmap.inference.fitting.fit_fluxes`:

* ``emcee loop``: emcee's default, one log-probability call per walker
  (``emcee_vectorize=False``) -- slow, so only ``--loop-spaxels`` spaxels;
* ``emcee vector``: emcee with the log-probability vectorised over the walkers of a half-step;
* ``batched N``: the batched engine on one shard of N spaxels (one fit_fluxes call).

Printed per engine: seconds per spaxel; the effective sample size per spaxel, kept steps x
walkers / tau with the largest tau of the three parameters (median over the spaxels timed, and
the batched engine's median over the same spaxels, to separate engine from spaxel); seconds per
effective sample; the acceptance and the converged fraction (kept chain >= 50 tau); then the
ratios of each emcee mode's seconds per spaxel and per effective sample to the batched
engine's (per effective sample on the same spaxels, since ESS varies from spaxel to spaxel).
All figures come from this one run (timings on a shared machine are noisy: read the ratios).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import time

import numpy as np

from ohmap.inference.fitting import fit_fluxes
from ohmap.inference.model import LineFluxModel
from ohmap.inference.settings import SamplerSettings
from ohmap.lines import FIT_LINES


def spaxels(n: int, seed: int):
    model = LineFluxModel(FIT_LINES)
    rng = np.random.default_rng(seed)
    truth = np.column_stack(
        [
            rng.uniform(7.3, 9.0, n),
            rng.uniform(0.0, 2.0, n),
            rng.uniform(np.log10(0.3), np.log10(30.0), n),
        ]
    )
    mu, sigma_model = model.expected(truth)
    error = np.tile([0.6, 0.5, 0.5, 0.5, 0.5, 0.6], (n, 1))
    flux = mu + sigma_model * rng.standard_normal(mu.shape) + error * rng.standard_normal(mu.shape)
    return model, flux, error


def run(model, flux, error, n, settings):
    keys = [("s", i) for i in range(n)]
    t0 = time.perf_counter()
    fits = fit_fluxes(model, flux[:n], error[:n], keys, settings, redshift=1.5)
    seconds = time.perf_counter() - t0
    ess = np.array([settings.n_kept * settings.n_walkers / np.max(f.tau) for f in fits])
    return dict(
        seconds=seconds,
        per_spaxel=seconds / n,
        ess=ess,
        n=n,
        converged=np.mean([f.converged for f in fits]),
        acceptance=np.mean([f.acceptance for f in fits]),
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loop-spaxels", type=int, default=2)
    parser.add_argument("--vector-spaxels", type=int, default=8)
    parser.add_argument("--shards", default="64,128", help="comma-separated batched shard sizes")
    parser.add_argument("--walkers", type=int, default=100)
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--burn", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    shards = [int(s) for s in args.shards.split(",")]
    n_max = max(shards + [args.loop_spaxels, args.vector_spaxels])
    model, flux, error = spaxels(n_max, args.seed)
    base = SamplerSettings(n_walkers=args.walkers, n_steps=args.steps, n_burn=args.burn)
    print(
        f"sampler benchmark: {args.walkers} walkers, {args.steps} steps, {args.burn} burn-in; "
        f"{len(FIT_LINES)} lines; python {platform.python_version()}, "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}, {os.cpu_count()} CPUs"
    )
    snr = np.max(flux / error, axis=1)
    print(
        f"S/N of the brightest line over the {n_max} spaxels: 10/50/90th percentiles "
        f"{np.percentile(snr, [10, 50, 90]).round(1).tolist()}"
    )

    results = {}
    if args.loop_spaxels:
        results["emcee loop"] = run(
            model,
            flux,
            error,
            args.loop_spaxels,
            dataclasses.replace(base, engine="emcee", emcee_vectorize=False),
        )
    if args.vector_spaxels:
        results["emcee vector"] = run(
            model,
            flux,
            error,
            args.vector_spaxels,
            dataclasses.replace(base, engine="emcee", emcee_vectorize=True),
        )
    for n in shards:
        results[f"batched {n}"] = run(
            model, flux, error, n, dataclasses.replace(base, batch_size=n)
        )

    largest = results[f"batched {max(shards)}"]
    print()
    print(
        f"{'engine':<14}{'spaxels':>8}{'s total':>9}{'s/spaxel':>10}{'ESS/spaxel':>11}"
        f"{'batched ESS':>12}{'ms/ESS':>9}{'accept':>8}{'converged':>10}"
    )
    for name, r in results.items():
        same = np.median(largest["ess"][: r["n"]])  # the batched engine on the same spaxels
        ess = np.median(r["ess"])
        r["s_per_ess"] = r["per_spaxel"] / ess
        print(
            f"{name:<14}{r['n']:>8}{r['seconds']:>9.1f}{r['per_spaxel']:>10.3f}{ess:>11.0f}"
            f"{same:>12.0f}{1e3 * r['s_per_ess']:>9.3f}{r['acceptance']:>8.3f}{r['converged']:>10.2f}"
        )
    print(
        "  ESS/spaxel: median over the spaxels timed of kept steps x walkers / max tau;"
        f" 'batched ESS': batched {max(shards)} on the same spaxels"
    )
    print()
    print(
        "ratios emcee / batched (how many times faster the batched engine is); per effective sample"
    )
    print("with the batched engine's ESS on the same spaxels as the emcee mode's")
    batched = [n for n in results if n.startswith("batched")]
    print(f"{'':<14}" + "".join(f"{'s/spaxel vs ' + b:>26}{'s/ESS vs ' + b:>24}" for b in batched))
    for name, e in results.items():
        if not name.startswith("emcee"):
            continue
        cells = ""
        for b in batched:
            r = results[b]
            b_per_ess = r["per_spaxel"] / np.median(r["ess"][: e["n"]])
            cells += (
                f"{e['per_spaxel'] / r['per_spaxel']:>26.1f}{e['s_per_ess'] / b_per_ess:>24.1f}"
            )
        print(f"{name:<14}{cells}")
    if "emcee loop" in results and "emcee vector" in results:
        loop, vec = results["emcee loop"], results["emcee vector"]
        print(
            f"emcee vector against emcee loop: {loop['per_spaxel'] / vec['per_spaxel']:.1f}x per spaxel, "
            f"{loop['s_per_ess'] / vec['s_per_ess']:.1f}x per effective sample"
        )


if __name__ == "__main__":
    main()
