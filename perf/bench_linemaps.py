"""Benchmark of line-map extraction, alignment and stacking on the mock MACS1149 field.

Run after the mock exists (``snakemake --cores all mock``)::

    python perf/bench_linemaps.py [--mock results/mock] [--galaxies 04054,05709]

Prints, per galaxy, the time spent in each stage and the share of the total, then the accuracy
against the mock's truth: the standard deviation of (stacked map - truth) / error over pixels
with data, the integrated-flux pulls of every line and the alignment errors. Times on a shared
machine are noisy: read the ratios between stages, not the absolute seconds.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table

from ohmap.align import AlignmentSettings, align_extraction
from ohmap.extract import extract_line_maps
from ohmap.io.glass import read_glass_2d
from ohmap.stack import VettingSettings, combine_integrated, stack_line, vet_map

REFERENCE = ("119", "G141")


def truth_map(truth_hdul, row, line):
    image = truth_hdul[f"LINE_{line}"].data.astype(float)
    total = row[f"flux_{line}_lensed"]
    if line == "Ha":  # the H-alpha map holds the [NII] doublet too
        for nii in ("NII6550", "NII6585"):
            image = image + truth_hdul[f"LINE_{nii}"].data
            total += row[f"flux_{nii}_lensed"]
    return image, total


def run(mock: Path, galaxies):
    table = Table.read(mock / "truth" / "galaxies.ecsv")
    table.add_index("galaxy_id")
    times = {"extract": 0.0, "align": 0.0, "stack": 0.0}
    pulls, pixel_std, offsets = [], [], []
    for gid in galaxies:
        row = table.loc[gid]
        truth_alignment = Table.read(mock / "truth" / f"{gid}_alignment.ecsv")
        t0 = time.perf_counter()
        extractions = {
            (a["pa_v3"], a["grism"]): extract_line_maps(
                read_glass_2d(mock / "spectra" / f"MACS1149-{a['pa_v3']}-{a['grism']}_{gid}.2D.fits"),
                row["redshift"])
            for a in truth_alignment
        }
        t1 = time.perf_counter()
        reference = extractions[REFERENCE]
        alignments = {k: align_extraction(ex, reference, AlignmentSettings()) for k, ex in extractions.items()}
        t2 = time.perf_counter()
        stacks = {}
        with fits.open(mock / "truth" / f"{gid}_truth.fits") as truth:
            for line in ("OII", "Hg", "Hb", "OIII5008", "Ha", "SII"):
                entries, values, errors = [], [], []
                for key, ex in extractions.items():
                    if line in ex.maps:
                        ok, _ = vet_map(ex.maps[line], ex.footprint, alignments[key].status, VettingSettings())
                        if ok:
                            m = ex.maps[line]
                            entries.append(("-".join(key), m, alignments[key].transform))
                            values.append(m.integrated_flux)
                            errors.append(m.integrated_error)
                if not entries:
                    continue
                stacks[line] = stack_line(line, entries, reference.footprint.shape, reference.footprint)
                image, total = truth_map(truth, row, line)
                ok = np.isfinite(stacks[line].error)
                z = (stacks[line].flux - image)[ok] / stacks[line].error[ok]
                pixel_std.append((gid, line, float(z.std())))
                flux, err = combine_integrated(values, errors)
                pulls.append((gid, line, flux, err, total))
        t3 = time.perf_counter()
        for a in truth_alignment:
            res = alignments[(a["pa_v3"], a["grism"])]
            if res.status == "fitted":
                offsets.append((gid, a["pa_v3"], a["grism"],
                                res.transform.shift_x - a["wavelength_shift_pixels"],
                                res.transform.shift_y - a["trace_offset_pixels"],
                                res.rotation_correction_deg - a["rotation_error_deg"]))
        times["extract"] += t1 - t0
        times["align"] += t2 - t1
        times["stack"] += t3 - t2
        print(f"{gid}: extract {t1 - t0:5.2f} s  align {t2 - t1:5.2f} s  stack {t3 - t2:5.2f} s")
    total = sum(times.values())
    print(f"\n{len(galaxies)} galaxies, {total:.1f} s in all:")
    for k, v in times.items():
        print(f"  {k:8s} {v:6.2f} s  ({v / total:5.1%})")
    print("\n(stacked map - truth) / error, standard deviation over pixels with data:")
    stds = np.array([s for _, _, s in pixel_std])
    print(f"  median {np.median(stds):.3f}, range {stds.min():.3f}-{stds.max():.3f} over {stds.size} maps")
    print("\nintegrated fluxes (1e-17 erg/s/cm2): measured +- error, truth, pull")
    for gid, line, f, e, t in pulls:
        print(f"  {gid} {line:9s} {f:9.2f} +- {e:6.2f}  {t:9.2f}  {(f - t) / e:+6.1f}")
    if offsets:
        d = np.array([o[3:] for o in offsets])
        print(f"\nalignment ({len(offsets)} fitted PA-grisms): |dx| median {np.median(abs(d[:, 0])):.2f} px, "
              f"|dy| median {np.median(abs(d[:, 1])):.2f} px, |drot| median {np.median(abs(d[:, 2])):.2f} deg; "
              f"within 0.25 px / 1 deg: {np.mean((abs(d[:, 0]) < .25) & (abs(d[:, 1]) < .25) & (abs(d[:, 2]) < 1)):.0%}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mock", type=Path, default=Path("results/mock"))
    parser.add_argument("--galaxies", default="all")
    args = parser.parse_args()
    if args.galaxies == "all":
        galaxies = list(Table.read(args.mock / "truth" / "galaxies.ecsv")["galaxy_id"])
    else:
        galaxies = args.galaxies.split(",")
    run(args.mock, galaxies)


if __name__ == "__main__":
    main()
