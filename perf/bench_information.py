"""Information efficiency of every stage on the mock field: error achieved against the
Cramér–Rao bound computed from the mock's noiseless truth and its noise model.

Run after the workflow has run on the mock (``snakemake --cores all``)::

    python perf/bench_information.py [--mock results/mock] [--results results]
                                     [--galaxies 04054,05709] [--stages 1,2,3,4,5,6]

Efficiency is ``(bound / achieved)**2``: the share of the information in the data that an
estimate uses (1 at the bound). Printed per galaxy and stage, then the median per stage.

Stages and their bounds (the noise model: the mock's per-pixel Gaussian noise, read from the
spectra's own error arrays; the truth: the mock's noiseless 2D images of every line, rendered
again here by :mod:`ohmap.mock` with the same calibration errors):

1. **per-PA line flux**: the matched filter, ``sigma_F = F / sqrt(sum T_i^2 / sigma_i^2)``
   with ``T`` the line's noiseless 2D image; for H-beta and [OIII]5008 the 2 x 2 Fisher bound
   of one PA with both free ([OIII]4960 tied to 5008), as their images overlap. Achieved: the
   extraction's ``integrated_error``; the pulls against the truth in its aperture say whether
   that error is honest.
2. **de-blended H-beta and [OIII]5008**: the same 2 x 2 Fisher matrices summed over every
   PA-grism. Achieved: the stacked flux table's adopted error.
3. **alignment shift**: the Fisher bound on the (x, y) shift of each PA-grism's whole noiseless
   2D spectrum (lines and continuum: all the data say about position), combined with the
   reference's own, plus the information of the injected offsets' known range (Van Trees),
   over the PA-grisms with a line map. Achieved: the rms of the applied shifts about the
   injected offsets (a declined fit leaves the nominal transform, whose error is the whole
   offset).
4. **stacked spaxel flux**: per reference pixel, the inverse-variance sum of the contributing
   maps' pixel noise (no resampling loss). Achieved: the rms of (stack - truth) over the
   footprint pixels with data, which includes the alignment errors.
5. **per-spaxel 12+log(O/H)**: the Fisher bound of the spaxel model (A_V and H-beta free per
   spaxel) at the spaxel's true parameters with its stacked flux errors and no intrinsic
   scatter about the calibration (the mock has none; the fits' likelihood keeps it, as real
   galaxies need, which is information the fits cannot use here). Achieved: the posterior's
   16-84 half-width, for the fitted spaxels.
6. **gradient**: the bound of ``Z(r) = Z0 + dZ/dr r`` with one A_V and H-beta free per bin
   (:func:`ohmap.gradients.forward_model.gradient_fisher_bound`) over every footprint spaxel,
   at the true radii and parameters. Achieved: each method's slope error in ``gradients.ecsv``.

Stages 1 and 3 run the library's extraction and alignment here, in memory; stages 2 and 4-6
read the workflow's products under ``--results``. Pixel-level efficiencies above 1 (stage 4)
mean smoothing by the resampling kernel, which trades resolution for noise.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import yaml
from astropy.io import fits
from astropy.table import Table

from ohmap.gradients.forward_model import bin_information, gradient_fisher_bound
from ohmap.inference.model import LineFluxModel
from ohmap.inference.products.spaxel_maps import read_spaxel_maps
from ohmap.inference.settings import InferenceSettings
from ohmap.inference.spaxels import bin_map
from ohmap.linemaps.align import align_extraction, nominal_rotation
from ohmap.linemaps.cutouts import cutout_values
from ohmap.linemaps.extract import extract_line_maps
from ohmap.linemaps.products import read_stacked_maps
from ohmap.linemaps.settings import AlignmentSettings
from ohmap.mock.cluster import AnalyticCluster
from ohmap.mock.galaxy import calibration_errors, glass_filename
from ohmap.mock.grism import continuum_spectrum, disperse_continuum, place_line, wavelength_grid
from ohmap.mock.imaging import INTERLACED_PIXEL, GalaxyRenderer, StampGeometry, gaussian_psf
from ohmap.mock.inputs import load_mock_inputs
from ohmap.spectra.glass import read_glass_2d
from ohmap.spectra.grisms import GRISMS
from ohmap.spectra.spectrum import dispersion_pa_from_pa_v3

LINES = ("OII", "Hg", "Hb", "OIII5008", "Ha", "SII")
# Map line -> the emitted lines whose images it holds (the H-alpha map holds [NII] too).
MEMBERS = {"Ha": ("Ha", "NII6550", "NII6585")}
STAGES = {
    1: "per-PA line flux",
    2: "de-blended Hb/[OIII]",
    3: "alignment shift",
    4: "stacked spaxel flux",
    5: "spaxel 12+log(O/H)",
    6: "gradient (forward)",
}


def mock_setup(config_path):
    """The mock's settings as the workflow passes them, its galaxies and lens models."""
    with open(config_path) as fh:
        config = yaml.safe_load(fh)
    settings = dict(config["mock"])
    settings.update(
        field=config["field"],
        observations=config["observations"],
        reference_pa=config["reference_pa"],
    )
    galaxies, cluster = load_mock_inputs(
        settings["table2"], settings["table5"], settings["parameters"]
    )
    return settings, {g.galaxy_id: g for g in galaxies}, cluster


class NoiselessGalaxy:
    """The mock's noiseless 2D images of one galaxy, rendered as :mod:`ohmap.mock` did."""

    def __init__(self, gal, cluster, settings):
        lens = AnalyticCluster(cluster["models"][gal.lens_model], cluster["z_lens"], gal.lens_model)
        geo = StampGeometry(settings["stamp_pixels"], INTERLACED_PIXEL, settings["supersample"])
        self.gal, self.settings = gal, settings
        self.renderer = GalaxyRenderer(gal, lens, geo, gaussian_psf(settings["psf_fwhm_arcsec"]))

    def spectrum(self, pa, grism_name):
        """Line images (name -> flux per pixel, 1e-17 erg/s/cm^2) and the continuum image."""
        s = self.settings
        dy, dx, drot = calibration_errors(
            int(s["seed"]), self.gal.galaxy_id, pa, grism_name, s["reference_pa"], s
        )
        frame = dispersion_pa_from_pa_v3(float(pa)) + drot
        wave = wavelength_grid(GRISMS[grism_name])
        dlam = wave[1] - wave[0]
        z = self.gal.redshift
        lines = {
            name: place_line(self.renderer, name, frame, wave, z, dx, dy) * dlam
            for name in (
                "OII",
                "Hg",
                "Hb",
                "OIII4960",
                "OIII5008",
                "NII6550",
                "Ha",
                "NII6585",
                "SII",
            )
        }
        scene = self.renderer.render(frame, dy=dy)
        stellar = scene["mstar"] / scene["mstar"].sum()
        continuum = disperse_continuum(stellar, continuum_spectrum(self.gal), wave, dx) * dlam
        return lines, continuum, (dx, dy)


def pixel_sigma(spec):
    """Per-pixel noise of a spectrum in line flux per pixel (1e-17 erg/s/cm^2); inf off data."""
    sigma = spec.error * np.gradient(spec.wavelength)[None, :]
    return np.where(spec.valid & np.isfinite(sigma) & (sigma > 0), sigma, np.inf)


def image_of(lines, name):
    return sum(lines[m] for m in MEMBERS.get(name, (name,)))


def blend_fisher(lines, sigma):
    """2 x 2 Fisher matrix of (H-beta, [OIII]5008) fluxes, [OIII]4960 tied at its mock ratio."""
    f_hb, f_o3 = lines["Hb"].sum(), lines["OIII5008"].sum()
    if f_hb <= 0 or f_o3 <= 0:
        return np.zeros((2, 2))
    t = np.stack([lines["Hb"] / f_hb, (lines["OIII5008"] + lines["OIII4960"]) / f_o3])
    w = 1.0 / sigma**2
    return np.einsum("iyx,jyx,yx->ij", t, t, w)


def matched_filter_bound(image, sigma):
    total = image.sum()
    info = np.sum(image**2 / sigma**2)
    return total / np.sqrt(info) if info > 0 and total > 0 else np.nan


def shift_fisher(model, sigma):
    """2 x 2 Fisher matrix of an (x, y) shift of a noiseless image ``model``."""
    gy, gx = np.gradient(model)
    g = np.stack([gx, gy])
    return np.einsum("iyx,jyx,yx->ij", g, g, 1.0 / sigma**2)


def rotated(matrix, angle_deg):
    c, s = np.cos(np.radians(angle_deg)), np.sin(np.radians(angle_deg))
    rot = np.array([[c, -s], [s, c]])
    return rot @ matrix @ rot.T


def stages_1_to_3(gid, noiseless, mock, settings):
    """Per-PA fluxes (stage 1), the joint Fisher matrices (for stage 2) and alignments (3)."""
    field, ref_pa = settings["field"], settings["reference_pa"]
    flux_rows, shift_rows, joint = [], [], np.zeros((2, 2))
    extractions, sigmas, models = {}, {}, {}
    for obs in settings["observations"]:
        pa, grism = obs["pa"], obs["grism"]
        spec = read_glass_2d(mock / "spectra" / glass_filename(field, pa, grism, gid))
        lines, continuum, _ = noiseless.spectrum(pa, grism)
        sigma = pixel_sigma(spec)
        ex = extract_line_maps(spec, noiseless.gal.redshift)
        extractions[(pa, grism)], sigmas[(pa, grism)] = ex, sigma
        models[(pa, grism)] = (sum(lines.values()) + continuum, sum(lines.values()))
        fisher = blend_fisher(lines, sigma)
        joint += fisher
        centre = (ex.footprint.shape[0] - 1) / 2.0
        for name, m in ex.maps.items():
            if name not in LINES or not np.isfinite(m.integrated_error):
                continue
            image = image_of(lines, name)
            start = int(np.round(m.column - centre))
            truth = cutout_values(image, start, ex.footprint.shape[0])[ex.footprint].sum()
            if name in ("Hb", "OIII5008") and np.linalg.det(fisher) > 0:
                k = 0 if name == "Hb" else 1
                bound = float(np.sqrt(np.linalg.inv(fisher)[k, k]))
            else:
                bound = matched_filter_bound(image, sigma)
            flux_rows.append(
                (gid, f"{pa}-{grism}", name, m.integrated_flux, m.integrated_error, truth, bound)
            )
    reference = extractions[(ref_pa, "G141")]
    truth_alignment = Table.read(mock / "truth" / f"{gid}_alignment.ecsv")
    ref_info = {
        kind: shift_fisher(models[(ref_pa, "G141")][k], sigmas[(ref_pa, "G141")])
        for k, kind in enumerate(("all", "lines"))
    }
    # The injected offsets are uniform in +-w: a prior of variance w^2 / 3 (Van Trees: the bound
    # with the prior's information added), so that a PA-grism whose data hardly constrain the
    # shift has a finite bound, the prior's width.
    w = settings["calibration_errors"]
    prior_info = np.diag(
        [3.0 / w["wavelength_shift_pixels"] ** 2, 3.0 / w["trace_offset_pixels"] ** 2]
    )
    for a in truth_alignment:
        key = (a["pa_v3"], a["grism"])
        if key == (ref_pa, "G141") or not extractions[key].maps:
            continue
        # Declined alignments (too faint: the nominal transform) count with the offset they
        # leave: that is the error the stack carries.
        res = align_extraction(extractions[key], reference, AlignmentSettings())
        angle = nominal_rotation(extractions[key].dispersion_pa, reference.dispersion_pa)
        bounds = {}
        for k, kind in enumerate(("all", "lines")):
            own = shift_fisher(models[key][k], sigmas[key])
            cov = np.linalg.pinv(own) + np.linalg.pinv(rotated(ref_info[kind], angle))
            bounds[kind] = np.sqrt(np.diag(np.linalg.inv(np.linalg.inv(cov) + prior_info)))
        shift_rows.append(
            (
                gid,
                f"{key[0]}-{key[1]}",
                res.transform.shift_x - a["wavelength_shift_pixels"],
                res.transform.shift_y - a["trace_offset_pixels"],
                *bounds["all"],
                *bounds["lines"],
            )
        )
    return flux_rows, joint, shift_rows, sigmas


def binned_truth(truth, row, stacked, factor):
    """Per-spaxel truth: line fluxes, the H-beta-weighted 12+log(O/H), A_V, radius; binned like
    the spaxels."""
    ones = np.ones(truth["LINE_HB"].data.shape)
    flux = {}
    for name in LINES:
        image = sum(
            truth[f"LINE_{m.upper()}"].data.astype(float) for m in MEMBERS.get(name, (name,))
        )
        flux[name] = bin_map(image, ones, factor)[0]
    hb = np.clip(truth["LINE_HB"].data.astype(float), 0, None)
    weighted = {
        k: bin_map(truth[k].data.astype(float) * hb, ones, factor)[0]
        / np.where(flux["Hb"] > 0, bin_map(hb, ones, factor)[0], np.nan)
        for k in ("OH12", "AV", "RADIUS_KPC")
    }
    return flux, weighted


def spaxel_truth_theta(model, truth_flux, z, av, error):
    """(Z, A_V, log10 H-beta) of each spaxel: the truth's Z and A_V, H-beta by weighted least
    squares on the noiseless fluxes."""
    theta = np.column_stack([z, av, np.zeros(z.size)])
    a, _ = model.expected(theta)
    w = np.where(np.isfinite(error) & (error > 0), 1.0 / error**2, 0.0)
    h = np.sum(w * truth_flux * a, 1) / np.sum(w * a * a, 1)
    theta[:, 2] = np.log10(np.clip(h, 1e-6, None))
    return theta


def stages_4_to_6(gid, row, results, mock, sigmas, galaxy_rows):
    """Stacked pixels (4), spaxel metallicities (5) and the gradient bound (6) of one galaxy."""
    out = {4: [], 5: [], 6: [], "expected_yield": 0}
    stacked_path = results / "linemaps" / f"{gid}_linemaps.fits"
    if not stacked_path.exists():
        return out, None
    stacked = read_stacked_maps(stacked_path)
    factor = 2
    with fits.open(mock / "truth" / f"{gid}_truth.fits") as truth:
        for name in LINES:
            if name not in stacked:
                continue
            sm = stacked[name]
            image = sum(
                truth[f"LINE_{m.upper()}"].data.astype(float) for m in MEMBERS.get(name, (name,))
            )
            per_map = [
                np.median(
                    sigmas[tuple(c.split("-", 1))][np.isfinite(sigmas[tuple(c.split("-", 1))])]
                )
                for c in sm.contributors
                if tuple(c.split("-", 1)) in sigmas
            ]
            ok = stacked["footprint"] & np.isfinite(sm.error) & (sm.n_maps > 0)
            if not per_map or ok.sum() < 5:
                continue
            bound2 = 1.0 / (sm.n_maps[ok] * np.mean(1.0 / np.square(per_map)))
            resid2 = (sm.flux - image)[ok] ** 2
            out[4].append(
                (
                    gid,
                    name,
                    np.mean(bound2) / np.mean(resid2),
                    np.mean(bound2) / np.mean(sm.error[ok] ** 2),
                )
            )
        flux, weighted = binned_truth(truth, row, stacked, factor)
    lines = [n for n in LINES if n in stacked]
    # The mock's line ratios follow the calibration exactly: its noise model has no intrinsic
    # scatter about it, so the bound has none (the fits' likelihood keeps the calibration's).
    model = LineFluxModel(
        lines, InferenceSettings(scatter_dex={n: 1e-6 for n in lines}), nii_ha=float(row["nii_ha"])
    )
    err = np.stack(
        [
            bin_map(stacked[n].flux, stacked[n].error, factor, stacked[n].neighbour_covariance)[1]
            for n in lines
        ],
        -1,
    )
    tflux = np.stack([flux[n] for n in lines], -1)
    footprint = (
        bin_map(stacked["footprint"].astype(float), np.ones(stacked["footprint"].shape), factor)[0]
        > 0
    )
    has_data = np.isfinite(err).any(-1) & footprint & np.isfinite(weighted["OH12"])
    z_true, av_true, r_true = (weighted[k][has_data] for k in ("OH12", "AV", "RADIUS_KPC"))
    theta = spaxel_truth_theta(model, tflux[has_data], z_true, av_true, err[has_data])
    # Truth-based expected yield: spaxels whose noiseless H-alpha or [OIII]5008 flux is at
    # S/N >= 5 with their stacked errors (the spaxel fits' threshold).
    selection = [lines.index(n) for n in ("Ha", "OIII5008") if n in lines]
    with np.errstate(divide="ignore", invalid="ignore"):
        snr = tflux[has_data][:, selection] / err[has_data][:, selection]
    out["expected_yield"] = int(np.sum(np.nanmax(np.where(np.isfinite(snr), snr, 0), axis=1) >= 5))
    info = bin_information(model, theta, err[has_data])
    det = np.linalg.det(info)
    z_bound = np.full(det.shape, np.nan)
    good = det > 0
    z_bound[good] = np.sqrt(np.linalg.inv(info[good])[:, 0, 0])

    maps_path = results / "inference" / "maps" / f"{gid}_maps.fits"
    if maps_path.exists():
        maps = read_spaxel_maps(maps_path)
        if str(maps["header"].get("BINNING", "paper")) == "paper":
            fitted = maps["FITTED"][has_data]
            half = 0.5 * (maps["OH12_P84"] - maps["OH12_P16"])[has_data]
            pull = (maps["OH12"][has_data] - z_true) / half
            use = fitted & np.isfinite(half) & np.isfinite(z_bound)
            if use.any():
                out[5].append(
                    (
                        gid,
                        int(use.sum()),
                        float(np.median((z_bound[use] / half[use]) ** 2)),
                        float(np.median(pull[use])),
                    )
                )
    # Stage 6: one A_V for the galaxy (the truth's), every footprint spaxel with a radius.
    rr = np.isfinite(r_true) & good
    theta6 = theta[rr].copy()
    theta6[:, 1] = float(row["av_neb"])
    bound = (
        gradient_fisher_bound(model, theta6, err[has_data][rr], r_true[rr])
        if rr.sum() >= 3
        else np.nan
    )
    g = galaxy_rows.get(gid)
    truth_slope = float(row["oh12_gradient_dex_per_kpc"])
    for method in ("forward", "spaxel", "annulus"):
        if g is None or f"{method}_slope_err" not in g.colnames:
            continue
        e, s = float(g[f"{method}_slope_err"]), float(g[f"{method}_slope"])
        out[6].append((gid, method, int(rr.sum()), bound, e, (s - truth_slope) / e))
    return out, bound


def summarise(name, per_galaxy):
    values = np.array([v for _, v in per_galaxy], dtype=float)
    finite = values[np.isfinite(values)]
    print(f"\nstage {name}: efficiency = (bound / achieved)^2")
    for gid, v in per_galaxy:
        print(f"  {gid}: {v:6.3f}")
    median = float(np.median(finite)) if finite.size else np.nan
    print(f"  median {median:.3f} over {finite.size} galaxies")
    return median


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mock", default="results/mock", type=Path)
    parser.add_argument("--results", default="results", type=Path)
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--galaxies", default="")
    parser.add_argument("--stages", default="1,2,3,4,5,6")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    stages = {int(s) for s in args.stages.split(",")}
    settings, galaxies, cluster = mock_setup(args.config)
    table = Table.read(args.mock / "truth" / "galaxies.ecsv")
    table.add_index("galaxy_id")
    wanted = [g for g in args.galaxies.split(",") if g] or list(table["galaxy_id"])
    gradients_path = args.results / "gradients" / "gradients.ecsv"
    galaxy_rows = {}
    if gradients_path.exists():
        for r in Table.read(gradients_path):
            galaxy_rows[str(r["galaxy_id"])] = r
    fluxes, yields, stacked_pulls = [], [], []
    results = {k: [] for k in STAGES}
    medians = {}
    for gid in wanted:
        row = table.loc[gid]
        noiseless = NoiselessGalaxy(galaxies[gid], cluster, settings)
        flux_rows, joint, shift_rows, sigmas = stages_1_to_3(gid, noiseless, args.mock, settings)
        fluxes += flux_rows
        results[1].append((gid, np.median([(b / e) ** 2 for *_, e, t, b in flux_rows])))
        if shift_rows:
            err2 = np.mean([dx**2 + dy**2 for _, _, dx, dy, *_ in shift_rows])
            b2 = np.mean([bx**2 + by**2 for _, _, _, _, bx, by, *_ in shift_rows])
            b2_lines = np.mean([bx**2 + by**2 for *_, bx, by in shift_rows])
            results[3].append((gid, b2 / err2))
            print(
                f"{gid} alignment: rms error {np.sqrt(err2 / 2):.3f} px per axis; bound "
                f"{np.sqrt(b2 / 2):.3f} px (lines and continuum), {np.sqrt(b2_lines / 2):.3f} px (lines)"
            )
        table_path = args.results / "linemaps" / f"{gid}_fluxes.ecsv"
        if table_path.exists() and np.linalg.det(joint) > 0:
            ft = Table.read(table_path)
            ft.add_index("line")
            bound = np.sqrt(np.diag(np.linalg.inv(joint)))
            effs = []
            for k, name in enumerate(("Hb", "OIII5008")):
                if name in ft["line"]:
                    r = ft.loc[name]
                    effs.append((bound[k] / r["flux_error"]) ** 2)
                    print(
                        f"{gid} {name}: adopted {r['flux']:.2f} +- {r['flux_error']:.2f} [{r['method']}], "
                        f"truth {row[f'flux_{name}_lensed']:.2f}, joint bound {bound[k]:.2f}"
                    )
            results[2].append((gid, float(np.mean(effs)) if effs else np.nan))
            for r in ft:
                truth_total = sum(
                    row[f"flux_{m}_lensed"] for m in MEMBERS.get(r["line"], (r["line"],))
                )
                if np.isfinite(r["flux"]) and r["flux_error"] > 0:
                    stacked_pulls.append((r["flux"] - truth_total) / r["flux_error"])
        out, _ = stages_4_to_6(gid, row, args.results, args.mock, sigmas, galaxy_rows)
        if out[4]:
            results[4].append((gid, float(np.median([e for _, _, e, _ in out[4]]))))
        if out[5]:
            _, n, eff, pull = out[5][0]
            results[5].append((gid, eff))
            print(f"{gid} spaxels: {n} fitted, median pull against the truth {pull:+.2f}")
        g = galaxy_rows.get(gid)
        if g is not None:
            has = bool(np.isfinite(g["spaxel_slope"]))
            print(
                f"{gid} spaxel yield: {out['expected_yield']} expected at S/N >= 5 from the truth, "
                f"{g['n_fitted_spaxels']} fitted; spaxel gradient {'yes' if has else 'no'}"
            )
            yields.append((out["expected_yield"], has))
        for _, method, n, bound, e, pull in out[6]:
            print(
                f"{gid} gradient [{method}]: error {e:.4f} dex/kpc, bound {bound:.4f} over {n} spaxels, pull {pull:+.2f}"
            )
            if method == "forward":
                results[6].append((gid, (bound / e) ** 2))
    if fluxes:
        pulls = np.array([(f - t) / e for _, _, _, f, e, t, _ in fluxes])
        print(
            f"\nper-PA line fluxes: {len(pulls)} measured; pull rms {np.sqrt(np.mean(pulls**2)):.2f}, "
            f"median efficiency {np.median([(b / e) ** 2 for *_, e, t, b in fluxes]):.3f}"
        )
    if stacked_pulls:
        pulls = np.array(stacked_pulls)
        print(
            f"stacked (adopted) line fluxes against the lensed truth: {pulls.size} measured; pull rms "
            f"{np.sqrt(np.mean(pulls**2)):.2f}, median |pull| {np.median(np.abs(pulls)):.2f}"
        )
    if yields:
        due = [has for n, has in yields if n >= 5]
        print(
            f"\nspaxel gradients: {sum(due)} of the {len(due)} galaxies with an expected yield >= 5 "
            f"spaxels have one ({sum(has for _, has in yields)} of {len(yields)} in all)"
        )
    for k in sorted(stages):
        if results[k]:
            medians[k] = summarise(f"{k} ({STAGES[k]})", results[k])
    print("\nmedian efficiency per stage:")
    for k in sorted(stages):
        print(f"  {k} {STAGES[k]:24s} {medians.get(k, np.nan):6.3f}")


if __name__ == "__main__":
    main()
