"""One mock galaxy simulated end to end: its 2D spectra at every PA and grism, with calibration
errors, neighbours and noise, plus its stamps and truth.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from scipy.ndimage import shift as nd_shift
from scipy.signal import fftconvolve

from ohmap.spectra.glass import write_glass_2d
from ohmap.spectra.grisms import GRISMS
from ohmap.spectra.spectrum import dispersion_pa_from_pa_v3
from ohmap.streams import object_stream

from .cluster import AnalyticCluster
from .grism import (
    continuum_spectrum,
    disperse_continuum,
    noise_per_pixel_counts,
    place_line,
    sensitivity_curve,
    wavelength_grid,
)
from .imaging import (
    F160W_PIVOT,
    INTERLACED_PIXEL,
    GalaxyRenderer,
    StampGeometry,
    gaussian_psf,
    render_direct_image,
    segmentation_map,
)
from .inputs import MockGalaxy
from .products import truth_row, write_stamps, write_truth_maps
from .source import EMITTED_LINES

log = logging.getLogger(__name__)


def glass_filename(field: str, pa: str, grism: str, galaxy_id: str) -> str:
    return f"{field}-{pa}-{grism}_{galaxy_id}.2D.fits"


def calibration_errors(seed: int, galaxy_id: str, pa: str, grism: str, reference_pa: str, settings):
    """Trace offset, wavelength-zero-point shift (pixels) and roll error (deg) of one spectrum."""
    if pa == reference_pa and grism == "G141":
        return 0.0, 0.0, 0.0
    rng = object_stream(seed, galaxy_id, pa, grism, "calibration")
    err = settings["calibration_errors"]
    return (
        float(rng.uniform(-1, 1) * err["trace_offset_pixels"]),
        float(rng.uniform(-1, 1) * err["wavelength_shift_pixels"]),
        float(rng.uniform(-1, 1) * err["rotation_deg"]),
    )


def simulate_galaxy(gal: MockGalaxy, cluster: AnalyticCluster, settings: dict, outdir) -> dict:
    """Write one galaxy's 2D spectra at every PA and grism, its stamps and its truth.

    Parameters
    ----------
    gal : MockGalaxy
    cluster : AnalyticCluster
        The lens model named by ``gal.lens_model``.
    settings : dict
        The ``mock`` section of the configuration (seed, observations, noise, PSF, ...).
    outdir : path-like
        Root of the mock outputs (``spectra/``, ``images/``, ``truth/`` below it).

    Returns
    -------
    dict
        Paths written and the truth rows (``galaxy`` and ``alignment``).
    """
    outdir = Path(outdir)
    seed = int(settings["seed"])
    field = settings["field"]
    geo = StampGeometry(settings["stamp_pixels"], INTERLACED_PIXEL, settings["supersample"])
    psf = gaussian_psf(settings["psf_fwhm_arcsec"])
    renderer = GalaxyRenderer(gal, cluster, geo, psf)
    observations = settings["observations"]
    reference_pa = settings["reference_pa"]
    ref_frame_pa = dispersion_pa_from_pa_v3(float(reference_pa))
    grow = tuple(settings["grow"])
    written = {"spectra": []}
    alignment_rows = []
    cont_shape = continuum_spectrum(gal)

    # Truth in the reference frame, before any calibration error.
    truth = renderer.render(ref_frame_pa)
    truth_unconvolved = renderer.render(ref_frame_pa, convolve=False)
    intrinsic_total = renderer.source.hbeta_total

    for obs in observations:
        pa, grism_name = obs["pa"], obs["grism"]
        grism = GRISMS[grism_name]
        frame_pa = dispersion_pa_from_pa_v3(float(pa))
        dy, dx, drot = calibration_errors(
            seed, gal.galaxy_id, pa, grism_name, reference_pa, settings
        )
        true_frame = frame_pa + drot
        wave = wavelength_grid(grism)
        dlam = wave[1] - wave[0]
        rng = object_stream(seed, gal.galaxy_id, pa, grism_name, "noise")

        lines2d = np.zeros((geo.size, wave.size))
        for name in EMITTED_LINES:
            lines2d += place_line(renderer, name, true_frame, wave, gal.redshift, dx, dy)
        scene = renderer.render(true_frame, dy=dy)
        stellar = scene["mstar"] / scene["mstar"].sum()
        continuum2d = disperse_continuum(stellar, cont_shape, wave, dx)

        contam2d, contam_model = _neighbour(rng, geo, psf, wave, settings)
        sens = sensitivity_curve(grism_name, wave) * 1e-17 * dlam  # e-/s per (1e-17 flam) per pixel
        conversion = sens * grow[0] * grow[1]
        sigma_counts = noise_per_pixel_counts(
            grism_name, obs["exposure_time"], observations, settings
        )
        truth_counts = (lines2d + continuum2d + contam2d) * conversion[None, :]
        noise = rng.normal(0.0, sigma_counts, truth_counts.shape)
        covered = sens > 1e-3 * sens.max()
        err_counts = np.where(covered[None, :], sigma_counts, 0.0) * np.ones(truth_counts.shape)
        sci_counts = np.where(covered[None, :], truth_counts + noise, 0.0)
        model_scale = 1.0 + rng.normal(0.0, settings["continuum_model_scale_error"])
        model_counts = continuum2d * model_scale * conversion[None, :]

        direct = render_direct_image(renderer, frame_pa, gal, rng, settings)
        seg = segmentation_map(direct, settings["direct_noise_counts"], int(gal.galaxy_id))
        ytrace = np.full(wave.size, geo.center + 0.0)
        path = outdir / "spectra" / glass_filename(field, pa, grism_name, gal.galaxy_id)
        write_glass_2d(
            path,
            science_counts=sci_counts,
            error_counts=err_counts,
            model_counts=model_counts,
            contam_counts=contam_model * conversion[None, :],
            wavelength=wave,
            sensitivity=sens,
            ytrace=ytrace,
            direct_image=direct,
            segmentation=seg,
            header_cards={
                "ID": (int(gal.galaxy_id), "object id"),
                "RA": (gal.ra, "[deg] object position"),
                "DEC": (gal.dec, "[deg] object position"),
                "GRISM": (grism_name, "grism"),
                "PA_V3": (float(pa), "[deg] telescope roll (file name label)"),
                "PA_DISP": (frame_pa, "[deg] dispersion axis, E of N"),
                "EXPTIME": (float(obs["exposure_time"]), "[s] exposure time"),
                "PIXSCALE": (INTERLACED_PIXEL, "[arcsec/pixel] spatial scale"),
                "ORIGIN": ("ohmap mock", "simulated by ohmap.mock"),
                "MOCKSEED": (seed, "random seed of the mock"),
            },
            grow=grow,
        )
        written["spectra"].append(path)
        alignment_rows.append(
            dict(
                galaxy_id=gal.galaxy_id,
                pa_v3=pa,
                grism=grism_name,
                trace_offset_pixels=dy,
                wavelength_shift_pixels=dx,
                rotation_error_deg=drot,
                rotation_to_reference_deg=(ref_frame_pa - true_frame + 180.0) % 360.0 - 180.0,
                noise_counts_per_pixel=sigma_counts,
                has_neighbour=bool(np.any(contam2d > 0)),
                continuum_model_scale=model_scale,
            )
        )
        log.info("galaxy %s: wrote %s", gal.galaxy_id, path.name)

    written["images"] = write_stamps(renderer, gal, settings, outdir)
    truth_path = outdir / "truth" / f"{gal.galaxy_id}_truth.fits"
    galaxy_row = truth_row(gal, renderer, truth_unconvolved, intrinsic_total)
    write_truth_maps(truth_path, gal, truth, truth_unconvolved, ref_frame_pa, galaxy_row)
    written["truth"] = truth_path
    written["galaxy_row"] = galaxy_row
    written["alignment_rows"] = alignment_rows
    return written


def _neighbour(rng, geo: StampGeometry, psf, wave, settings):
    """True and modelled contamination from a compact neighbour, or zeros."""
    n = geo.size
    truth = np.zeros((n, wave.size))
    if rng.uniform() > settings["neighbour_probability"]:
        return truth, truth.copy()
    row = rng.uniform(0.15, 0.85) * n
    col_offset = rng.uniform(-0.6, 0.6) * wave.size
    mag = rng.uniform(*settings["neighbour_abmag"])
    yy, xx = np.mgrid[0:n, 0:n]
    sigma = 1.2
    img = np.exp(-0.5 * ((yy - row) ** 2 + (xx - geo.center) ** 2) / sigma**2)
    img = fftconvolve(img, psf, mode="same")
    img /= img.sum()
    fnu = 10 ** (-0.4 * (mag + 48.6))
    flam = fnu * 2.99792458e18 / F160W_PIVOT**2 / 1e-17
    slope = rng.uniform(-2.5, 0.5)
    truth = disperse_continuum(
        img, lambda lam: flam * (np.asarray(lam) / F160W_PIVOT) ** slope, wave, col_offset
    )
    err = settings["contamination_model_error"]
    # "Good but not perfect": the model is off in scale and slightly misplaced along the rows.
    model = truth * (1.0 + rng.normal(0.0, err["scale"]))
    model = nd_shift(
        model, (rng.normal(0.0, err["row_shift_pixels"]), 0.0), order=1, mode="constant"
    )
    return truth, model
