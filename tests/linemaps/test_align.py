"""Alignment of line maps to the reference PA on synthetic maps with a known transform."""

from types import SimpleNamespace

import numpy as np
import pytest

from linemap_helpers import gaussian_image
from ohmap.linemaps.align import align_extraction, alignment_pairs
from ohmap.linemaps.interpolation import Interpolator
from ohmap.linemaps.maps import LineMap
from ohmap.linemaps.nccf import expected_nccf, nccf
from ohmap.linemaps.settings import AlignmentSettings
from ohmap.linemaps.shift_fit import fit_alignment
from ohmap.resample import FrameTransform, frame_axes, frame_coordinates

N = 48
REF_PA = 74.0  # dispersion PA of the reference frame, deg E of N


def galaxy(east, north):
    """An inclined disk with an off-centre clump, on the sky (pixels east and north)."""
    return gaussian_image(
        east, north, sigma_x=3.0, sigma_y=1.5, angle_deg=25.0, flux=10.0
    ) + gaussian_image(east, north, sigma_x=1.0, sigma_y=1.0, x0=4.0, y0=2.5, flux=3.0)


def compact(east, north):
    """A small round source: its position is measurable, its orientation hardly."""
    return gaussian_image(east, north, sigma_x=1.3, sigma_y=1.2, angle_deg=0.0, flux=2.0)


def render(source, frame_pa, dx=0.0, dy=0.0, x_phase=0.0):
    """A map in the frame whose +x is at ``frame_pa``, the scene shifted by (dx, dy) pixels:
    the geometry of :meth:`ohmap.mock.imaging.GalaxyRenderer.sky_offsets`."""
    x, y = frame_coordinates((N, N), x_phase)
    ex, ey = frame_axes(frame_pa)
    east = (x - dx) * ex[0] + (y - dy) * ey[0]
    north = (x - dx) * ex[1] + (y - dy) * ey[1]
    return source(east, north)


def line_map(flux, noise, x_phase=0.0, line="Ha", snr=50.0):
    return LineMap(
        line,
        flux,
        np.full(flux.shape, noise),
        np.zeros(flux.shape, dtype=bool),
        x_phase,
        0.0,
        0.0,
        integrated_flux=snr,
        integrated_error=1.0,
    )


def extraction(pa, maps, dispersion_pa, footprint=None):
    return SimpleNamespace(
        pa=pa, grism="G141", dispersion_pa=dispersion_pa, maps=maps, footprint=footprint
    )


def observe(
    source, rotation_error, dx, dy, noise, seed, pa_offset=30.0, pa_phase=0.3, ref_phase=-0.2
):
    """Reference and PA extractions of ``source``; the PA's frame is ``pa_offset`` from the
    reference's, off by ``rotation_error`` (deg), and its scene shifted by (dx, dy) pixels."""
    rng = np.random.default_rng(seed)
    ref_flux = render(source, REF_PA, x_phase=ref_phase) + rng.normal(0.0, noise, (N, N))
    pa_flux = render(source, REF_PA + pa_offset + rotation_error, dx, dy, pa_phase) + rng.normal(
        0.0, noise, (N, N)
    )
    x, y = frame_coordinates((N, N))
    footprint = np.hypot(x, y) < 13
    ref = extraction("119", {"Ha": line_map(ref_flux, noise, ref_phase)}, REF_PA, footprint)
    pa = extraction("032", {"Ha": line_map(pa_flux, noise, pa_phase)}, REF_PA + pa_offset)
    return pa, ref


# ------------------------------------------------------------------------------- conventions


def test_transform_convention_matches_the_mock():
    """A PA map rendered like the mock (scene in frame_pa + rotation error, shifted by dx, dy)
    is brought onto the reference by FrameTransform(nominal + rotation error, dx, dy): the
    point the transform names for each reference pixel shows the same sky in the PA map."""
    t = FrameTransform(30.0 + 1.3, 0.7, -0.4)
    x, y = frame_coordinates((N, N))
    xs, ys = t.target_to_source(x, y)
    # The PA map at PA-frame point (xs, ys), evaluated analytically as render() would.
    ex, ey = frame_axes(REF_PA + t.rotation_deg)
    east = (xs - t.shift_x) * ex[0] + (ys - t.shift_y) * ey[0]
    north = (xs - t.shift_x) * ex[1] + (ys - t.shift_y) * ey[1]
    assert np.allclose(galaxy(east, north), render(galaxy, REF_PA), atol=1e-12)
    # And the wrong sign of the rotation would not do.
    wrong = FrameTransform(30.0 - 1.3, 0.7, -0.4).target_to_source(x, y)
    east_w = (wrong[0] - 0.7) * ex[0] + (wrong[1] + 0.4) * ey[0]
    north_w = (wrong[0] - 0.7) * ex[1] + (wrong[1] + 0.4) * ey[1]
    assert not np.allclose(galaxy(east_w, north_w), render(galaxy, REF_PA), atol=1e-3)


# ---------------------------------------------------------------------------------- accuracy


def test_high_snr_recovers_shifts_and_rotation():
    pa, ref = observe(galaxy, rotation_error=0.8, dx=0.6, dy=-0.45, noise=1e-3, seed=1)
    r = align_extraction(pa, ref, AlignmentSettings())
    assert r.status == "fitted"
    assert not r.rotation_fixed
    assert r.transform.shift_x == pytest.approx(0.6, abs=0.1)
    assert r.transform.shift_y == pytest.approx(-0.45, abs=0.1)
    assert r.rotation_correction_deg == pytest.approx(0.8, abs=0.5)
    assert r.nominal_rotation_deg == pytest.approx(30.0)
    assert r.shift_x_error < 0.05 and r.rotation_error_deg < 0.3
    assert r.nccf > 0.99 and r.nccf_expected > 0.99


def test_fit_alignment_single_pair_without_smoothing():
    pa, ref = observe(galaxy, rotation_error=-1.1, dx=-0.8, dy=0.35, noise=1e-3, seed=2)
    m, rm = pa.maps["Ha"], ref.maps["Ha"]
    t, value, expected = fit_alignment(
        m.flux,
        m.error,
        m.valid,
        m.x_phase,
        rm.flux,
        rm.error,
        rm.valid,
        rm.x_phase,
        ref.footprint,
        30.0,
        AlignmentSettings(smooth_pixels=0.0),
    )
    assert t.shift_x == pytest.approx(-0.8, abs=0.1)
    assert t.shift_y == pytest.approx(0.35, abs=0.1)
    assert t.rotation_deg == pytest.approx(30.0 - 1.1, abs=0.5)
    assert value == pytest.approx(expected, abs=0.01)


def test_fitted_errors_describe_the_scatter():
    """At moderate S/N the reported 1-sigma shift errors match the scatter of repeated fits
    (they are somewhat conservative by construction), and the fit is unbiased."""
    fits, errors = [], []
    for seed in range(12):
        pa, ref = observe(galaxy, rotation_error=0.0, dx=0.3, dy=0.2, noise=0.04, seed=100 + seed)
        r = align_extraction(pa, ref, AlignmentSettings())
        fits.append((r.transform.shift_x, r.transform.shift_y))
        errors.append((r.shift_x_error, r.shift_y_error))
    fits, errors = np.array(fits), np.array(errors)
    scatter = fits.std(axis=0)
    predicted = np.median(errors, axis=0)
    assert np.all(np.isfinite(predicted))
    assert np.all((scatter > 0.5 * predicted) & (scatter < 1.6 * predicted)), (scatter, predicted)
    assert np.all(
        np.abs(fits.mean(axis=0) - (0.3, 0.2)) < 3 * predicted / np.sqrt(len(fits)) + 0.02
    )


def test_unmeasurable_rotation_keeps_the_nominal_angle():
    pa, ref = observe(compact, rotation_error=1.2, dx=0.5, dy=-0.3, noise=0.01, seed=3)
    r = align_extraction(pa, ref, AlignmentSettings())
    assert r.status == "fitted"
    assert r.rotation_fixed and r.rotation_correction_deg == 0.0
    assert r.rotation_error_deg > AlignmentSettings().max_rotation_error_deg
    # The shifts are still measured (the source is at the rotation centre).
    assert r.transform.shift_x == pytest.approx(0.5, abs=0.1)
    assert r.transform.shift_y == pytest.approx(-0.3, abs=0.1)


# ---------------------------------------------------------------------------- faint and noise


def test_pure_noise_is_too_faint_to_align():
    pa, ref = observe(galaxy, rotation_error=0.5, dx=0.5, dy=0.5, noise=0.01, seed=4)
    rng = np.random.default_rng(5)
    pa.maps["Ha"].flux = rng.normal(0.0, 0.01, (N, N))
    r = align_extraction(pa, ref, AlignmentSettings())
    assert r.status.startswith("nominal: too faint")
    assert r.transform == FrameTransform(30.0, 0.0, 0.0)
    assert r.nccf_expected < 0.3
    # The fit's own errors say the same without the NCCF criterion: the noise's contribution
    # to the Fisher matrix is taken out, so none is left.
    r = align_extraction(pa, ref, AlignmentSettings(min_expected_nccf=0.0))
    assert r.status.startswith("nominal: too faint") and "shift error" in r.status


def test_a_barely_detected_line_is_not_aligned_on():
    pa, ref = observe(galaxy, rotation_error=0.5, dx=0.5, dy=0.5, noise=0.01, seed=4)
    pa.maps["Ha"].integrated_flux = 4.0  # integrated S/N 4, below the default 5
    r = align_extraction(pa, ref, AlignmentSettings())
    assert r.status.startswith("nominal: too faint") and "line S/N 4.0" in r.status
    assert r.transform == FrameTransform(30.0, 0.0, 0.0)
    assert align_extraction(pa, ref, AlignmentSettings(min_line_snr=3.0)).status == "fitted"


def test_expected_nccf_is_the_nccf_of_noisy_twins():
    x, y = frame_coordinates((N, N))
    truth = galaxy(x, y)
    mask = np.hypot(x, y) < 14  # the footprint: chosen without looking at the noisy maps
    rng = np.random.default_rng(6)
    for noise in (0.005, 0.02, 0.06):
        err = np.full((N, N), noise)
        measured, predicted = [], []
        for _ in range(40):
            a = truth + rng.normal(0.0, noise, truth.shape)
            b = 0.7 * truth + 0.1 + rng.normal(0.0, 1.5 * noise, truth.shape)
            measured.append(nccf(a, b, mask))
            predicted.append(expected_nccf(a, err, mask, b, 1.5 * err))
        assert np.mean(predicted) == pytest.approx(np.mean(measured), abs=0.02), noise
        # Each estimate is close to the truth, not just on average.
        assert np.std(predicted) < 0.05
    # One map against its own noiseless twin.
    a = truth + rng.normal(0.0, 0.02, truth.shape)
    assert expected_nccf(a, np.full((N, N), 0.02), mask) == pytest.approx(
        nccf(a, truth, mask), abs=0.03
    )
    # Pure noise has no signal variance left.
    assert expected_nccf(rng.normal(0.0, 0.02, (N, N)), np.full((N, N), 0.02), mask) < 0.15


# ------------------------------------------------------------------------------------- parts


def test_interpolator_gradient_matches_finite_differences():
    x, y = frame_coordinates((N, N), 0.25)
    image = galaxy(x, y)
    valid = np.ones((N, N), dtype=bool)
    valid[10, 30] = False
    interp = Interpolator(image, np.full((N, N), 0.01), valid, 0.25)
    rng = np.random.default_rng(7)
    xs, ys = rng.uniform(-8, 8, 50), rng.uniform(-8, 8, 50)
    value, var, cover, gx, gy, _ = interp(xs, ys, gradient=True)
    h = 1e-5
    assert np.allclose(gx, (interp(xs + h, ys)[0] - interp(xs - h, ys)[0]) / (2 * h), atol=1e-6)
    assert np.allclose(gy, (interp(xs, ys + h)[0] - interp(xs, ys - h)[0]) / (2 * h), atol=1e-6)
    # Lanczos-3 reproduces a smooth image closely away from the hole.
    far = cover > 0.999
    assert np.max(np.abs(value - galaxy(xs, ys))[far]) < 0.01 * image.max()
    # Independent pixels: an interpolated value between pixels averages noise down.
    assert np.all(var[far] <= 0.01**2 * (1 + 1e-9))


def test_alignment_pairs_joint_common_lines_or_reference_strongest():
    def m(snr):
        return SimpleNamespace(integrated_flux=snr, integrated_error=1.0)

    pa = {"Hb": m(8.0), "OIII5008": m(20.0), "Hg": m(2.0)}
    ref = {"Hb": m(9.0), "OIII5008": m(25.0), "Ha": m(40.0), "Hg": m(3.0)}
    joint = AlignmentSettings(joint=True)
    assert alignment_pairs(pa, ref, joint) == [("OIII5008", "OIII5008"), ("Hb", "Hb")]
    assert alignment_pairs(pa, ref, AlignmentSettings(joint=False)) == [("OIII5008", "OIII5008")]
    assert alignment_pairs(pa, ref, AlignmentSettings(line="Hb")) == [("Hb", "Hb")]
    # A G102 PA sharing no line with the G141 reference: its lines against the strongest.
    g102 = {"OII": m(9.0), "Hg": m(6.0)}
    g141 = {"OIII5008": m(25.0), "Ha": m(40.0)}
    assert alignment_pairs(g102, g141, joint) == [("OII", "Ha"), ("Hg", "Ha")]
    assert alignment_pairs(g102, g141, AlignmentSettings()) == [("OII", "Ha")]
    assert alignment_pairs({}, ref, joint) == []
