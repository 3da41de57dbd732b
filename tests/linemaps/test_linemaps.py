"""Extraction, de-blending, alignment and stacking of line maps on analytic spectra."""

import numpy as np
import pytest

from linemap_helpers import N, gaussian_image, synthetic_spectrum
from ohmap.linemaps.continuum import contamination_model_variance
from ohmap.linemaps.extract import extract_line_maps
from ohmap.linemaps.footprint import row_overlap
from ohmap.linemaps.maps import LineMap
from ohmap.linemaps.nccf import nccf
from ohmap.linemaps.settings import AlignmentSettings, ExtractionSettings
from ohmap.linemaps.shift_fit import fit_alignment
from ohmap.linemaps.stack import combine_integrated, stack_line
from ohmap.resample import (
    FrameTransform,
    frame_coordinates,
    resample,
    resampling_matrix,
)

Z = 1.5  # Hbeta at 12157 A, [OIII]5008 at 12521 A: 16.5 columns apart at 22 A/column


# ------------------------------------------------------------------------------------ resample


def test_identity_resampling_is_the_identity():
    m = resampling_matrix((10, 12), (10, 12), FrameTransform())
    assert np.allclose(m.toarray(), np.eye(120))


def test_resampling_moves_a_smooth_image_exactly():
    x, y = frame_coordinates((N, N))
    image = gaussian_image(x, y, sigma_x=1.5, sigma_y=1.0, angle_deg=20)
    t = FrameTransform(rotation_deg=33.0, shift_x=0.6, shift_y=-0.35)
    out, err = resample(image, np.ones_like(image), resampling_matrix((N, N), (N, N), t), (N, N))
    xs, ys = t.target_to_source(x, y)
    expected = gaussian_image(xs, ys, sigma_x=1.5, sigma_y=1.0, angle_deg=20)
    ok = np.isfinite(err)
    assert ok.sum() > 0.8 * N * N
    assert np.max(np.abs(out - expected)[ok]) < 0.015 * expected.max()
    assert out[ok].sum() == pytest.approx(expected[ok].sum(), rel=2e-3)


def test_resampled_errors_match_monte_carlo():
    rng = np.random.default_rng(3)
    sigma = np.full((16, 16), 0.5)
    m = resampling_matrix(
        (16, 16), (16, 16), FrameTransform(rotation_deg=10, shift_x=0.5, shift_y=0.25)
    )
    draws = np.array(
        [resample(rng.normal(0, 0.5, (16, 16)), sigma, m, (16, 16))[0] for _ in range(3000)]
    )
    _, err = resample(np.zeros((16, 16)), sigma, m, (16, 16))
    ok = np.isfinite(err)
    ratio = draws.std(axis=0)[ok] / err[ok]
    assert abs(np.median(ratio) - 1) < 0.03


def test_missing_input_pixels_leave_holes_not_zeros():
    err = np.ones((16, 16))
    err[8, 8] = np.inf
    m = resampling_matrix((16, 16), (16, 16), FrameTransform(shift_x=0.3))
    _, e = resample(np.ones((16, 16)), err, m, (16, 16))
    assert not np.isfinite(e[8, 8]) and np.isfinite(e[2, 2])


# ------------------------------------------------------------------------------------- extract


def test_isolated_line_flux_is_recovered_with_calibrated_errors():
    pulls = []
    for seed in range(12):
        spec, truth = synthetic_spectrum(
            {"Ha": 3.0},
            0.8,
            noise=0.01,
            seed=seed,
            continuum=0.3,
            continuum_model_scale=1.05,
            contamination=0.05,
        )
        ex = extract_line_maps(spec, 0.8, ExtractionSettings(lines=("Ha",)))
        m = ex.maps["Ha"]
        pulls.append((m.integrated_flux - truth["Ha"][ex.footprint].sum()) / m.integrated_error)
        # The model was 5 per cent too bright: the local rescaling finds it.
        assert m.info["continuum_scale"] == pytest.approx(1 / 1.05, abs=0.04)
    pulls = np.array(pulls)
    assert abs(pulls.mean()) < 0.9 and 0.4 < pulls.std() < 1.6


def test_map_residuals_over_errors_are_unit_normal():
    spec, truth = synthetic_spectrum(
        {"OII": 5.0}, 1.9, noise=0.01, seed=5, wave0=8000.0, grism="G102"
    )
    m = extract_line_maps(spec, 1.9, ExtractionSettings(lines=("OII",))).maps["OII"]
    # The map grid sits at the line's sub-pixel phase: build the truth on that grid.
    x, y = frame_coordinates(m.flux.shape, m.x_phase)
    model = 5.0 * gaussian_image(x, y)
    z = (m.flux - model) / m.error
    assert 0.9 < z.std() < 1.1 and abs(z.mean()) < 4 / np.sqrt(z.size)


def test_contamination_model_uncertainty_enters_the_error_maps():
    """A neighbour's trace across the galaxy, modelled 10 per cent too faint: with the model's
    uncertainty in the error budget the map's residuals stay consistent with the errors; without
    it they are many sigma where the trace runs."""
    spec, truth = synthetic_spectrum(
        {"OII": 5.0}, 1.9, noise=0.01, seed=5, wave0=8000.0, grism="G102"
    )
    rows = np.arange(N)[:, None] - (N - 1) / 2.0
    trace = 0.4 * np.exp(-0.5 * ((rows - 3.0) / 1.2) ** 2) * np.ones(spec.shape[1])[None, :]
    spec.science = spec.science + trace
    spec.contamination = trace / 1.1
    on_trace = np.abs(rows[:, 0] - 3.0) < 1.5
    for fraction, worst in ((0.1, 1.2), (0.0, 2.5)):
        m = extract_line_maps(
            spec,
            1.9,
            ExtractionSettings(
                lines=("OII",),
                contamination_model_fraction=fraction,
                contamination_trace_pixels=0.0,
            ),
        ).maps["OII"]
        x, y = frame_coordinates(m.flux.shape, m.x_phase)
        z = ((m.flux - 5.0 * gaussian_image(x, y)) / m.error)[on_trace]
        if fraction:
            assert np.abs(z).mean() < worst
        else:
            assert np.abs(z).mean() > worst


def test_contamination_model_variance_of_a_displaced_trace():
    rows = np.arange(40, dtype=float)[:, None] - 20.0
    model = np.exp(-0.5 * (rows / 1.5) ** 2) * np.ones((1, 5))
    displaced = np.exp(-0.5 * ((rows - 0.05) / 1.5) ** 2) * np.ones((1, 5))
    var = contamination_model_variance(model, 0.0, 0.05)
    # A 0.05-pixel displacement leaves what the gradient term predicts, to first order.
    np.testing.assert_allclose(np.abs(displaced - model), np.sqrt(var), atol=2e-3)
    np.testing.assert_allclose(contamination_model_variance(model, 0.1, 0.0), (0.1 * model) ** 2)


def test_hbeta_is_deblended_from_oiii():
    fluxes = {"Hb": 2.0, "OIII4960": 10.0 / 2.98, "OIII5008": 10.0}
    spec, truth = synthetic_spectrum(fluxes, Z, noise=0.004, seed=2)
    ex = extract_line_maps(spec, Z, ExtractionSettings(lines=("Hb", "OIII5008")))
    hb, o3 = ex.maps["Hb"], ex.maps["OIII5008"]
    assert hb.info["method"] == "deblended" and hb.info["contour_clean"]
    for m, name in ((hb, "Hb"), (o3, "OIII5008")):
        x, y = frame_coordinates(m.flux.shape, m.x_phase)
        model = fluxes[name] * gaussian_image(x, y)
        ok = m.valid
        z = (m.flux - model)[ok] / m.error[ok]
        # No [OIII]4960 left in the H-beta map (it would sit 11 columns right of the centre).
        assert abs(z.mean()) < 0.1 and z.std() < 1.2, name
        assert m.integrated_flux == pytest.approx(fluxes[name], abs=3 * m.integrated_error)


def test_contour_is_raised_when_the_lines_overlap_and_says_so():
    def wide(x, y):
        return gaussian_image(x, y, sigma_x=6.0, sigma_y=2.0, angle_deg=0.0)

    spec, _ = synthetic_spectrum({"Hb": 2.0, "OIII4960": 1.0, "OIII5008": 3.0}, Z, source=wide)
    hb = extract_line_maps(spec, Z, ExtractionSettings(lines=("Hb", "OIII5008"))).maps["Hb"]
    assert hb.info["contour_level"] > 0.1
    assert "raised" in hb.info["deblend_note"] or "overlap" in hb.info["deblend_note"]


def test_row_overlap():
    mask = np.zeros((3, 20), dtype=bool)
    mask[1, 5:10] = True
    assert row_overlap(mask, 3.0) and not row_overlap(mask, 6.0)


def test_uncovered_lines_and_edges_are_recorded_decisions():
    spec, _ = synthetic_spectrum({"Ha": 3.0}, 0.8, ncol=120)
    ex = extract_line_maps(spec, 3.5, ExtractionSettings(lines=("Ha", "OII")))
    assert ex.maps == {}
    assert {d["status"] for d in ex.decisions} == {"not_covered"}
    assert all("outside" in d["reason"] for d in ex.decisions)
    # A line 5 columns from the end of the spectrum: most of its footprint has no data.
    lam = 10800.0 + 22.0 * (120 - 5)
    z_edge = lam / 6564.61 - 1
    spec, _ = synthetic_spectrum({"Ha": 3.0}, z_edge, ncol=120)
    ex = extract_line_maps(spec, z_edge, ExtractionSettings(lines=("Ha",)))
    (decision,) = ex.decisions
    assert decision["status"] == "rejected" and "footprint" in decision["reason"]


def test_without_direct_image_a_disc_footprint_is_used():
    spec, _ = synthetic_spectrum({"Ha": 3.0}, 0.8, direct=False)
    ex = extract_line_maps(spec, 0.8, ExtractionSettings(lines=("Ha",)))
    assert "Ha" in ex.maps and ex.footprint.sum() > 100


# --------------------------------------------------------------------------------------- align


def _pair(transform, noise=0.0, seed=0):
    x, y = frame_coordinates((N, N))

    def source(a, b):
        return gaussian_image(a, b, sigma_x=3.0, sigma_y=1.2, angle_deg=25.0) + gaussian_image(
            a, b, sigma_x=0.8, sigma_y=0.8, x0=3.0, y0=2.0, flux=0.3
        )

    ref = source(x, y)
    # The PA map shows the scene at rot(-d) of the reference coordinates, shifted.
    d = np.radians(transform.rotation_deg)
    xs, ys = x - transform.shift_x, y - transform.shift_y
    pa = source(np.cos(d) * xs - np.sin(d) * ys, np.sin(d) * xs + np.cos(d) * ys)
    rng = np.random.default_rng(seed)
    err = np.full((N, N), max(noise, 1e-6))
    return (
        ref + rng.normal(0, noise, ref.shape) if noise else ref,
        pa + (rng.normal(0, noise, pa.shape) if noise else 0),
        err,
    )


def test_alignment_recovers_shifts_and_rotation():
    truth = FrameTransform(rotation_deg=8.0 + 1.2, shift_x=0.7, shift_y=-0.4)
    ref, pa, err = _pair(truth)
    valid = np.ones((N, N), dtype=bool)
    mask = ref > 0.02 * ref.max()
    t, value, _ = fit_alignment(
        pa,
        err,
        valid,
        0.0,
        ref,
        err,
        valid,
        0.0,
        mask,
        8.0,
        AlignmentSettings(smooth_pixels=0.0, min_pixel_snr=0.0),
    )
    assert t.shift_x == pytest.approx(0.7, abs=0.05)
    assert t.shift_y == pytest.approx(-0.4, abs=0.05)
    assert t.rotation_deg == pytest.approx(9.2, abs=0.2)
    assert value > 0.999


def test_nccf_is_one_for_scaled_copies_and_zero_for_noise():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(20, 20))
    mask = np.ones_like(a, dtype=bool)
    assert nccf(a, 3 * a + 1, mask) == pytest.approx(1.0)
    assert abs(nccf(a, rng.normal(size=(20, 20)), mask)) < 0.2


# --------------------------------------------------------------------------------------- stack


def _map(flux, error):
    return LineMap("Ha", flux, error, np.zeros(flux.shape, dtype=bool), 0.0, 0.0, 0.0)


def test_stack_is_the_inverse_variance_mean_with_exact_aperture_error():
    rng = np.random.default_rng(4)
    shape = (20, 20)
    truth = np.zeros(shape)
    truth[8:12, 8:12] = 1.0
    aperture = np.zeros(shape, dtype=bool)
    aperture[6:14, 6:14] = True
    t = [FrameTransform(), FrameTransform(rotation_deg=3.0, shift_x=0.4)]
    sig = [0.1, 0.3]
    sums = []
    for _ in range(400):
        entries = []
        for k in range(2):
            # Each map shows the truth in its own frame: the inverse transform, noiselessly.
            m = resampling_matrix(shape, shape, FrameTransform(-t[k].rotation_deg))
            f = truth if k == 0 else np.asarray(m @ truth.ravel()).reshape(shape)
            entries.append(
                (str(k), _map(f + rng.normal(0, sig[k], shape), np.full(shape, sig[k])), t[k])
            )
        st = stack_line("Ha", entries, shape, aperture)
        sums.append(st.aperture_flux)
    assert st.n_maps[10, 10] == 2
    assert np.std(sums) == pytest.approx(st.aperture_error, rel=0.12)
    centre = st.error[10, 10]
    assert centre < 0.1  # better than the best single map


def test_partial_coverage_gives_the_covered_sum_and_its_share():
    """APFLUX over the part of the footprint with data, with the pixel fraction and the share
    of the direct-image light recorded; NaN only when no footprint pixel has data."""
    rng = np.random.default_rng(7)
    shape = (16, 16)
    flux = rng.normal(1.0, 0.2, shape)
    error = np.full(shape, 0.2)
    error[:, :6] = np.inf  # the edge of the spectrum: no data
    flux[~np.isfinite(error)] = 0.0
    aperture = np.zeros(shape, dtype=bool)
    aperture[4:12, 2:12] = True  # 80 pixels, 32 of them without data
    light = np.zeros(shape)
    light[aperture] = 1.0
    light[4:12, 2:6] = 3.0  # the bright part is the part without data
    st = stack_line(
        "Ha", [("a", _map(flux, error), FrameTransform())], shape, aperture, light=light
    )
    covered = aperture & np.isfinite(error)
    assert st.aperture_flux == pytest.approx(flux[covered].sum())
    assert st.aperture_error == pytest.approx(0.2 * np.sqrt(covered.sum()))
    assert st.aperture_coverage == pytest.approx(48 / 80)
    assert st.aperture_light == pytest.approx(48 / (48 + 3 * 32))
    # The correction uses the light share where it is known.
    assert st.corrected_aperture()[0] == pytest.approx(st.aperture_flux / st.aperture_light)
    no_light = stack_line("Ha", [("a", _map(flux, error), FrameTransform())], shape, aperture)
    assert np.isnan(no_light.aperture_light)
    assert no_light.corrected_aperture()[0] == pytest.approx(st.aperture_flux / 0.6)
    # No footprint pixel with data: NaN, coverage 0.
    empty = aperture & False
    empty[4:12, 2:5] = True
    st = stack_line("Ha", [("a", _map(flux, error), FrameTransform())], shape, empty)
    assert np.isnan(st.aperture_flux) and st.aperture_coverage == 0.0


def test_combine_integrated():
    v, e = combine_integrated([1.0, 3.0, np.nan], [1.0, 1.0, 1.0])
    assert v == pytest.approx(2.0) and e == pytest.approx(1 / np.sqrt(2))


# ----------------------------------------------------------------------------------- real data


def test_real_grizli_object_gives_oii_hbeta_and_oiii_maps(grizli_object_dir):
    from ohmap.spectra.grizli_beams import read_grizli_beams

    spectra = read_grizli_beams(grizli_object_dir / "j033216m2743_00152.model-trace.beams.fits")
    maps, decisions = {}, []
    for spec in spectra:
        ex = extract_line_maps(spec, 1.743)
        maps.update({(spec.grism, k): m for k, m in ex.maps.items()})
        decisions += [(spec.grism, d["line"], d["status"]) for d in ex.decisions]
    for key in (("G102", "OII"), ("G141", "Hb"), ("G141", "OIII5008")):
        m = maps[key]
        assert m.info["coverage"] >= 0.8
        assert np.isfinite(m.integrated_flux) and 0 < m.integrated_error < np.inf
        assert np.isfinite(m.flux).all() and (np.isfinite(m.error) | (m.flux == 0)).all()
    # grizli's redshift for this object (z = 1.743) rests on [OIII]: it must be detected.
    oiii = maps[("G141", "OIII5008")]
    assert oiii.integrated_flux > 2.5 * oiii.integrated_error
    # H-alpha is redshifted out of both grisms: a recorded decision, not a silent gap.
    assert ("G141", "Ha", "not_covered") in decisions and ("G102", "Ha", "not_covered") in decisions
