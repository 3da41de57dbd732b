"""Benchmark of line-map extraction, alignment and stacking on the mock MACS1149 field.

Run after the mock exists (``snakemake --cores all mock``)::

    python perf/bench_linemaps.py [--mock results/mock] [--galaxies 04054,05709] [--no-joint]
                                  [--transforms fitted|truth] [--deeper FACTOR]

It runs the library functions the workflow runs (``extract_line_maps``, ``align_extraction``,
``stack_galaxy`` with the joint de-blending unless ``--no-joint``), in memory, and prints:

* per galaxy the time of each stage and, at the end, each stage's share of the total;
* (stacked map - truth) / error: standard deviation over the pixels with data, per map;
* integrated fluxes against the mock's lensed truth: the adopted flux, the per-PA (contour
  method) flux, and their pulls; the share within 1 and 2 sigma; lines at S/N > 20 within 10%;
* the [OIII]4960 test: mean pull of the stacked H-beta map where the reference PA's [OIII]4960
  image lands (the footprint shifted by the 4960 - H-beta separation), and its significance;
* alignment errors against the injected offsets, per fitted PA-grism, with the share within
  0.25 pixel and 1 degree: over all fitted, and over those whose data constrain the parameter
  to half that (the rest cannot meet it whatever the estimator).

``--deeper FACTOR`` first simulates the same field with the line-flux noise divided by FACTOR
(same galaxies, offsets and seed) and runs on it, to separate what the depth of the data limits
from what the method does.

``--transforms truth`` stacks with the mock's true alignment instead of the fitted one, which
separates the alignment's share of the flux errors from the rest. Times on a shared machine are
noisy: read the ratios between stages, not the absolute seconds.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table

from ohmap.linemaps.align import AlignmentResult, align_extraction, nominal_rotation
from ohmap.linemaps.extract import extract_line_maps
from ohmap.linemaps.settings import (
    AlignmentSettings,
    JointDeblendSettings,
    VettingSettings,
)
from ohmap.linemaps.stack import stack_galaxy
from ohmap.resample import FrameTransform
from ohmap.spectra.glass import read_glass_2d

REFERENCE = ("119", "G141")
LINES = ("OII", "Hg", "Hb", "OIII5008", "Ha", "SII")


def truth_map(truth_hdul, row, line):
    image = truth_hdul[f"LINE_{line}"].data.astype(float)
    total = row[f"flux_{line}_lensed"]
    if line == "Ha":  # the H-alpha map holds the [NII] doublet too
        for nii in ("NII6550", "NII6585"):
            image = image + truth_hdul[f"LINE_{nii}"].data
            total += row[f"flux_{nii}_lensed"]
    return image, total


def oiii4960_residual(stack, truth, reference):
    """Mean pull of the H-beta stack where the reference PA's [OIII]4960 image falls, and its
    significance (mean * sqrt(n); pixels are correlated, so this over-states it somewhat)."""
    if "OIII4960" not in reference.columns or "Hb" not in reference.columns:
        return np.nan, np.nan
    shift = int(round(reference.columns["OIII4960"] - reference.columns["Hb"]))
    region = np.roll(reference.footprint, shift, axis=1)
    region[:, : max(shift, 0)] = False
    ok = region & np.isfinite(stack.error)
    if ok.sum() < 5:
        return np.nan, np.nan
    z = (stack.flux - truth)[ok] / stack.error[ok]
    return float(z.mean()), float(z.mean() * np.sqrt(ok.sum()))


def run(mock: Path, galaxies, joint: bool, transforms: str):
    table = Table.read(mock / "truth" / "galaxies.ecsv")
    table.add_index("galaxy_id")
    times = {"extract": 0.0, "align": 0.0, "stack": 0.0}
    pulls, pixel_std, offsets, residual_4960 = [], [], [], []
    joint_settings = JointDeblendSettings() if joint else None
    for gid in galaxies:
        row = table.loc[gid]
        truth_alignment = Table.read(mock / "truth" / f"{gid}_alignment.ecsv")
        t0 = time.perf_counter()
        extractions = {
            (a["pa_v3"], a["grism"]): extract_line_maps(
                read_glass_2d(
                    mock / "spectra" / f"MACS1149-{a['pa_v3']}-{a['grism']}_{gid}.2D.fits"
                ),
                row["redshift"],
            )
            for a in truth_alignment
        }
        t1 = time.perf_counter()
        reference = extractions[REFERENCE]
        alignments = {
            k: align_extraction(ex, reference, AlignmentSettings()) for k, ex in extractions.items()
        }
        t2 = time.perf_counter()
        if transforms == "truth":
            for a in truth_alignment:
                key = (a["pa_v3"], a["grism"])
                rot0 = nominal_rotation(extractions[key].dispersion_pa, reference.dispersion_pa)
                fitted = alignments[key]
                alignments[key] = AlignmentResult(
                    FrameTransform(
                        rot0 + a["rotation_error_deg"],
                        a["wavelength_shift_pixels"],
                        a["trace_offset_pixels"],
                    ),
                    rot0,
                    fitted.nccf,
                    fitted.nccf_expected,
                    "reference" if key == REFERENCE else "fitted",
                    fitted.line,
                    fitted.reference_line,
                )
        result = stack_galaxy(
            extractions, alignments, REFERENCE, LINES, VettingSettings(), joint=joint_settings
        )
        t3 = time.perf_counter()
        with fits.open(mock / "truth" / f"{gid}_truth.fits") as truth:
            for frow in result.fluxes:
                line = frow["line"]
                if line not in result.stacks:
                    continue
                s = result.stacks[line]
                image, total = truth_map(truth, row, line)
                ok = np.isfinite(s.error)
                z = (s.flux - image)[ok] / s.error[ok]
                pixel_std.append((gid, line, float(z.std())))
                pulls.append(
                    (
                        gid,
                        line,
                        frow["method"],
                        frow["flux"],
                        frow["flux_error"],
                        frow["flux_per_pa"],
                        frow["flux_per_pa_error"],
                        total,
                        float(image[reference.footprint].sum()),
                    )
                )
                if line == "Hb":
                    residual_4960.append((gid, *oiii4960_residual(s, image, reference)))
        for a in truth_alignment:
            res = alignments[(a["pa_v3"], a["grism"])]
            if res.status == "fitted" and transforms == "fitted":
                offsets.append(
                    (
                        gid,
                        a["pa_v3"],
                        a["grism"],
                        res.line,
                        res.transform.shift_x - a["wavelength_shift_pixels"],
                        res.transform.shift_y - a["trace_offset_pixels"],
                        res.rotation_correction_deg - a["rotation_error_deg"],
                        res.shift_x_error,
                        res.shift_y_error,
                        res.rotation_error_deg,
                        res.rotation_fixed,
                    )
                )
        times["extract"] += t1 - t0
        times["align"] += t2 - t1
        times["stack"] += t3 - t2
        print(f"{gid}: extract {t1 - t0:5.2f} s  align {t2 - t1:5.2f} s  stack {t3 - t2:5.2f} s")
    total = sum(times.values())
    print(
        f"\n{len(galaxies)} galaxies, {total:.1f} s in all (joint de-blending {'on' if joint else 'off'}, "
        f"{transforms} alignment):"
    )
    for k, v in times.items():
        print(f"  {k:8s} {v:6.2f} s  ({v / total:5.1%})")
    stds = np.array([s for _, _, s in pixel_std])
    print("\n(stacked map - truth) / error, standard deviation over pixels with data:")
    print(
        f"  median {np.median(stds):.3f}, range {stds.min():.3f}-{stds.max():.3f} over {stds.size} maps; "
        f"{np.mean((stds > 0.8) & (stds < 1.25)):.0%} within 0.8-1.25"
    )
    print(
        "\nintegrated fluxes (1e-17 erg/s/cm2): adopted +- error [method], pull | per-PA +- error, pull | "
        "truth, share of it in the reference footprint, adopted pull against that"
    )
    z_adopted, z_per_pa, z_in_footprint, bright = [], [], [], []
    for gid, line, method, f, e, fp, ep, t, t_fp in pulls:
        za, zp, zf = (f - t) / e, (fp - t) / ep, (f - t_fp) / e
        z_adopted.append(za)
        z_per_pa.append(zp)
        z_in_footprint.append(zf)
        if f / e > 20:
            bright.append(abs(f / t - 1))
        print(
            f"  {gid} {line:9s} {f:8.2f} +- {e:6.2f} [{method:5s}] {za:+6.1f} | {fp:8.2f} +- {ep:6.2f} "
            f"{zp:+6.1f} | {t:8.2f} {t_fp / t:6.1%} {zf:+6.1f}"
        )
    for name, z in (
        ("adopted", z_adopted),
        ("per-PA", z_per_pa),
        ("adopted vs in-footprint truth", z_in_footprint),
    ):
        z = np.abs(np.array(z))
        z = z[np.isfinite(z)]
        print(
            f"  {name:8s}: |pull| < 1 for {np.mean(z < 1):.0%}, < 2 for {np.mean(z < 2):.0%}, "
            f"< 3 for {np.mean(z < 3):.0%} of {z.size} lines; rms pull {np.sqrt(np.mean(z**2)):.2f}"
        )
    if bright:
        bright = np.array(bright)
        print(
            f"  adopted, S/N > 20: {np.mean(bright < 0.1):.0%} of {bright.size} within 10% "
            f"(largest {bright.max():.1%})"
        )
    print(
        "\n[OIII]4960 residual in the H-beta stacks (mean pull where the reference's 4960 lands, significance):"
    )
    for gid, mean, sig in residual_4960:
        print(f"  {gid}: {mean:+.2f} ({sig:+.1f})")
    if offsets:
        report_alignment(offsets)


def report_alignment(offsets, shift_tolerance=0.25, rotation_tolerance=1.0):
    """Fitted minus injected alignment, and how often it is within the tolerances: over all
    fitted PA-grisms, and over those whose data constrain the parameter to half the tolerance
    (the others cannot be expected to meet it on any estimator)."""
    print(
        "\nalignment, fitted minus injected (shifts in pixels, rotation in deg; "
        "rotation 'held' = kept at nominal):"
    )
    for gid, pa, grism, line, dx, dy, dr, ex, ey, er, held in offsets:
        print(
            f"  {gid} {pa}-{grism} {line:8s} dx {dx:+.2f} +- {ex:.2f}  dy {dy:+.2f} +- {ey:.2f}  "
            f"drot {dr:+.2f} {'held' if held else f'+- {er:.2f}'}"
        )
    d = np.array([o[4:10] for o in offsets], dtype=float)
    held = np.array([o[10] for o in offsets], dtype=bool)
    shift_ok = (abs(d[:, 0]) < shift_tolerance) & (abs(d[:, 1]) < shift_tolerance)
    rot_ok = abs(d[:, 2]) < rotation_tolerance
    pulls = np.concatenate([d[:, 0] / d[:, 3], d[:, 1] / d[:, 4]])
    print(
        f"  all {len(d)} fitted: shifts within {shift_tolerance} px for {shift_ok.mean():.0%}, rotation "
        f"within {rotation_tolerance} deg for {rot_ok.mean():.0%}, both for {(shift_ok & rot_ok).mean():.0%}; "
        f"median |dx| {np.median(abs(d[:, 0])):.2f}, |dy| {np.median(abs(d[:, 1])):.2f} px; "
        f"rms shift pull {np.sqrt(np.mean(pulls**2)):.2f}"
    )
    constrained = (d[:, 3] <= shift_tolerance / 2) & (d[:, 4] <= shift_tolerance / 2)
    if constrained.any():
        print(
            f"  {constrained.sum()} with both shift errors <= {shift_tolerance / 2} px: within "
            f"{shift_tolerance} px for {shift_ok[constrained].mean():.0%}"
        )
    measured = ~held & (d[:, 5] <= rotation_tolerance / 2)
    if measured.any():
        print(
            f"  {measured.sum()} with the rotation measured (error <= {rotation_tolerance / 2} deg): within "
            f"{rotation_tolerance} deg for {rot_ok[measured].mean():.0%}"
        )
    if held.any():
        print(
            f"  {held.sum()} with the rotation held at nominal (not measurable): the injected roll error is "
            f"within {rotation_tolerance} deg for {rot_ok[held].mean():.0%}"
        )


def deeper_mock(factor: float, outdir: Path, config_path=Path("config/config.yaml")) -> Path:
    """Simulate the mock field of ``config_path`` with the line-flux noise divided by ``factor``
    (same galaxies, same injected offsets, same seed) into ``outdir``."""
    import yaml

    from ohmap.mock.cluster import AnalyticCluster
    from ohmap.mock.galaxy import simulate_galaxy
    from ohmap.mock.inputs import load_mock_inputs

    config = yaml.safe_load(config_path.read_text())
    mock = config["mock"]
    settings = {k: v for k, v in mock.items() if k not in ("enabled", "galaxies")}
    settings.update(
        field=config["field"],
        observations=config["observations"],
        reference_pa=config["reference_pa"],
    )
    settings["line_flux_limit"] = {k: v / factor for k, v in settings["line_flux_limit"].items()}
    galaxies, cluster = load_mock_inputs(mock["table2"], mock["table5"], mock["parameters"])
    rows = []
    for sub in ("spectra", "images", "truth"):
        (outdir / sub).mkdir(parents=True, exist_ok=True)
    for gal in galaxies:
        lens = AnalyticCluster(cluster["models"][gal.lens_model], cluster["z_lens"], gal.lens_model)
        written = simulate_galaxy(gal, lens, settings, outdir)
        Table(rows=written["alignment_rows"]).write(
            outdir / "truth" / f"{gal.galaxy_id}_alignment.ecsv", overwrite=True
        )
        rows.append(written["galaxy_row"])
    Table(rows=rows).write(outdir / "truth" / "galaxies.ecsv", overwrite=True)
    return outdir


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mock", type=Path, default=Path("results/mock"))
    parser.add_argument("--galaxies", default="all")
    parser.add_argument(
        "--no-joint", action="store_true", help="keep the per-PA contour de-blending"
    )
    parser.add_argument("--transforms", choices=("fitted", "truth"), default="fitted")
    parser.add_argument(
        "--deeper",
        type=float,
        default=None,
        metavar="FACTOR",
        help="simulate the mock again with its line-flux noise divided by FACTOR "
        "(in a temporary folder) and run on that",
    )
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    if args.deeper:
        scratch = tempfile.TemporaryDirectory(prefix="ohmap-deeper-")
        t0 = time.perf_counter()
        args.mock = deeper_mock(args.deeper, Path(scratch.name))
        print(
            f"mock with {args.deeper:g}x less line-flux noise simulated in {time.perf_counter() - t0:.0f} s"
        )
    if args.galaxies == "all":
        galaxies = list(Table.read(args.mock / "truth" / "galaxies.ecsv")["galaxy_id"])
    else:
        galaxies = args.galaxies.split(",")
    run(args.mock, galaxies, not args.no_joint, args.transforms)


if __name__ == "__main__":
    main()
