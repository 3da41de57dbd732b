"""The inference step's results on the mock field against the mock's truth.

Run after the workflow (``snakemake --cores all``)::

    python perf/validate_inference.py [--results results] [--mock results/mock]

Prints:

* the global fits against the truth (12+log(O/H), A_V, SFR) per galaxy: the fitted median and
  16th-84th percentile interval, the truth, and the pull (fitted - truth) / (error on the side of
  the truth); how many galaxies have the truth within 1 and 2 sigma;
* the per-spaxel metallicity maps against the truth map binned the same way (weighted by the
  intrinsic H-beta, as the mock defines its metallicity): the pull distribution per galaxy and
  for the sample, with the share of spaxels within 1 and 2 sigma;
* the convergence flags and the wall time of the fit jobs (from results/benchmarks).

The truth is not a noiseless target: the global truth is the H-beta-weighted mean metallicity of
the source (the fluxes of a galaxy with a gradient are a mixture of metallicities), and the map
truth is PSF-free while the maps are PSF-convolved, so pulls in the steepest parts of a
gradient are expected to exceed 1 somewhat.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table

from ohmap.inference.products.global_fits import read_global_fit
from ohmap.inference.products.spaxel_maps import read_spaxel_maps


def pull(value, p16, p84, truth):
    """(value - truth) over the error on the side of the truth."""
    error = np.where(truth > value, p84 - value, value - p16)
    return (value - truth) / np.where(error > 0, error, np.nan)


def global_fits(results: Path, truth: Table):
    table = read_global_fit(results / "inference" / "global_fits.ecsv")
    print("global fits (median [16th, 84th]; truth; pull):")
    within = {"oh12": [], "av": [], "sfr": []}
    for row in table:
        t = truth.loc[row["galaxy_id"]]
        mu_ratio = t["magnification_effective"] / row["magnification"]
        out = []
        for q, true in (
            ("oh12", t["oh12_global"]),
            ("av", t["av_neb"]),
            ("sfr", t["sfr_msun_yr"] * mu_ratio),
        ):
            p = float(pull(row[f"{q}_p50"], row[f"{q}_p16"], row[f"{q}_p84"], true))
            within[q].append(p)
            flag = row[f"{q}_limit"]
            out.append(
                f"{q} {flag}{row[f'{q}_p50']:.2f} [{row[f'{q}_p16']:.2f}, {row[f'{q}_p84']:.2f}] "
                f"truth {true:.2f} pull {p:+.1f}"
            )
        print(
            f"  {row['galaxy_id']} (tau {row['tau_max']:.0f}, {'converged' if row['converged'] else 'NOT converged'}): "
            + " | ".join(out)
        )
    for q, pulls in within.items():
        pulls = np.abs(np.array(pulls))
        print(
            f"  {q}: truth within 1 sigma for {np.sum(pulls <= 1)} of {pulls.size}, within 2 sigma for "
            f"{np.sum(pulls <= 2)}"
        )
    print(
        "  (SFR truth times mu_effective / mu_centre: the fit divides by the lens model's magnification "
        "at the galaxy's position, the mock's flux by the light-weighted one)"
    )


def binned_truth(truth_path: Path, factor: int, shape):
    with fits.open(truth_path) as hdul:
        oh = np.asarray(hdul["OH12"].data, dtype=float)
        hb = np.asarray(hdul["HB_INTRINSIC"].data, dtype=float)
    ny, nx = shape
    oh, hb = oh[: ny * factor, : nx * factor], hb[: ny * factor, : nx * factor]
    w = hb.reshape(ny, factor, nx, factor)
    total = w.sum(axis=(1, 3))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (oh.reshape(ny, factor, nx, factor) * w).sum(axis=(1, 3)) / total


def spaxel_maps(results: Path, mock: Path, galaxies):
    print(
        "\nper-spaxel 12+log(O/H) against the binned truth map (pull = (median - truth) / conservative error):"
    )
    all_pulls = []
    for gid in galaxies:
        path = results / "inference" / "maps" / f"{gid}_maps.fits"
        maps = read_spaxel_maps(path)
        fitted = np.asarray(maps["FITTED"], dtype=bool)
        if not fitted.any():
            print(f"  {gid}: no spaxel fitted")
            continue
        factor = int(maps["header"].get("BINPIX", 2))
        truth = binned_truth(mock / "truth" / f"{gid}_truth.fits", factor, fitted.shape)
        p = (maps["OH12"] - truth) / maps["OH12_ERR"]
        p = p[fitted & np.isfinite(p)]
        all_pulls.append(p)
        conv = np.asarray(maps["CONVERGED"])[fitted]
        print(
            f"  {gid}: {p.size:4d} spaxels, pull median {np.median(p):+.2f}, std {p.std():.2f}, "
            f"|pull| < 1: {np.mean(np.abs(p) < 1):.0%}, < 2: {np.mean(np.abs(p) < 2):.0%}; "
            f"{np.sum(conv != 1)} unconverged"
        )
    if all_pulls:
        p = np.concatenate(all_pulls)
        print(
            f"  sample: {p.size} spaxels, pull median {np.median(p):+.2f}, std {p.std():.2f}, "
            f"|pull| < 1: {np.mean(np.abs(p) < 1):.0%}, < 2: {np.mean(np.abs(p) < 2):.0%}, "
            f"< 3: {np.mean(np.abs(p) < 3):.0%}"
        )
        hist, edges = np.histogram(np.clip(p, -4, 4), bins=16, range=(-4, 4))
        print("  histogram of pulls (-4..4, clipped):")
        for n, lo in zip(hist, edges[:-1]):
            print(f"    {lo:+.1f} {'#' * int(np.ceil(60 * n / max(hist.max(), 1)))} {n}")


def job_times(results: Path):
    bench = results / "benchmarks"
    for rule in ("fit_global_fluxes", "fit_spaxel_shard", "gather_spaxel_maps"):
        files = sorted((bench / rule).glob("*.tsv"))
        if not files:
            continue
        seconds = np.array([float(Table.read(f, format="ascii.tab")["s"][0]) for f in files])
        print(
            f"  {rule}: {len(files)} jobs, {seconds.sum():.0f} s in all, median {np.median(seconds):.1f} s, "
            f"max {seconds.max():.1f} s"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--mock", type=Path, default=Path("results/mock"))
    args = parser.parse_args()
    truth = Table.read(args.mock / "truth" / "galaxies.ecsv")
    truth.add_index("galaxy_id")
    global_fits(args.results, truth)
    spaxel_maps(args.results, args.mock, list(truth["galaxy_id"]))
    print("\njob wall times (results/benchmarks):")
    job_times(args.results)


if __name__ == "__main__":
    main()
