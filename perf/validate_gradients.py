"""Metallicity gradients and source-plane radii of the mock field against its truth.

Run after the workflow (``snakemake --cores all``)::

    python perf/validate_gradients.py [--results results] [--mock results/mock]

Prints per galaxy the true gradient, the three recovered gradients (individual spaxels, radial
annuli, forward model) with their errors and pulls, and whether the galaxy is kept; then, per
method, how many gradients are within 2 sigma of the truth and the mean recovered-minus-true
gradient, plain and inverse-variance weighted, each with its standard error (a plain mean of
gradients whose errors reach 0.4 dex/kpc cannot test a +-0.02 dex/kpc bias; the weighted one
can): over the kept galaxies, and for the forward model also over the paper's Table 5 galaxies
(``resources/wang2017_table5.tsv``). Also the spaxel radius maps against the truth radius maps
(binned the same way).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table

from ohmap.gradients.products import read_radius_map


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--mock", type=Path, default=Path("results/mock"))
    parser.add_argument("--table5", type=Path, default=Path("resources/wang2017_table5.tsv"))
    args = parser.parse_args()
    truth = Table.read(args.mock / "truth" / "galaxies.ecsv")
    truth.add_index("galaxy_id")
    table = Table.read(args.results / "gradients" / "gradients.ecsv")
    methods = [m for m in ("spaxel", "annulus", "forward") if f"{m}_slope" in table.colnames]
    table5 = {
        str(r["galaxy_id"]).zfill(5)
        for r in Table.read(
            args.table5, format="ascii.tab", comment="#", converters={"galaxy_id": str}
        )
    }
    print(f"gradients (dex/kpc): truth | {' | '.join(methods)} (pull) | kept, spaxels")
    kept, paper = [], []
    for r in table:
        g = float(truth.loc[r["galaxy_id"]]["oh12_gradient_dex_per_kpc"])
        out = []
        for m in methods:
            s, e = r[f"{m}_slope"], r[f"{m}_slope_err"]
            out.append(
                f"{s:+.3f} +- {e:.3f} ({(s - g) / e:+.1f})"
                if np.isfinite(s)
                else "    --            "
            )
        print(
            f"  {r['galaxy_id']}: {g:+.3f} | {' | '.join(out)} | {'kept' if r['kept'] else 'left out'}, "
            f"{r['n_fitted_spaxels']}{', AGN candidate' if r['agn_candidate'] else ''}"
        )
        row = [v for m in methods for v in (r[f"{m}_slope"] - g, r[f"{m}_slope_err"])]
        if r["kept"]:
            kept.append(row)
        if r["galaxy_id"] in table5:
            paper.append(row)
    for galaxies, rows in (("kept", kept), ("Table 5", paper)):
        d = np.array(rows, dtype=float).reshape(-1, 2 * len(methods))
        for k, name in enumerate(methods):
            if galaxies == "Table 5" and name != "forward":
                continue
            ok = np.isfinite(d[:, 2 * k]) & np.isfinite(d[:, 2 * k + 1])
            if ok.sum() < 2:
                print(f"{name}: fewer than 2 {galaxies} galaxies with a gradient")
                continue
            diff, err = d[ok, 2 * k], d[ok, 2 * k + 1]
            w = 1 / err**2
            print(
                f"{name}: {ok.sum()} of {len(d)} {galaxies} galaxies with a gradient; within 2 sigma of "
                f"the truth: {np.sum(np.abs(diff / err) < 2)}; pull rms {np.sqrt(np.mean((diff / err) ** 2)):.2f}; "
                f"mean (recovered - true) {diff.mean():+.3f} +- {diff.std(ddof=1) / np.sqrt(ok.sum()):.3f}, "
                f"inverse-variance weighted {np.sum(w * diff) / w.sum():+.4f} +- {1 / np.sqrt(w.sum()):.4f} dex/kpc"
            )
    print(
        "\nspaxel radius maps against the truth radius (binned 2x2, spaxels with truth radius < 5 kpc):"
    )
    for gid in table["galaxy_id"]:
        radius = read_radius_map(args.results / "morphology" / f"{gid}_radius.fits").radius_kpc
        with fits.open(args.mock / "truth" / f"{gid}_truth.fits") as hdul:
            true = np.asarray(hdul["RADIUS_KPC"].data, dtype=float)
        n = radius.shape[0]
        f = true.shape[0] // n
        true = true[: n * f, : n * f].reshape(n, f, n, f).mean(axis=(1, 3))
        inner = true < 5
        dr = np.abs(radius - true)[inner]
        print(
            f"  {gid}: median |dR| {np.median(dr):.3f} kpc, 95th percentile {np.percentile(dr, 95):.3f} kpc"
        )


if __name__ == "__main__":
    main()
