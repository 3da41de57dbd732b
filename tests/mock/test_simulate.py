"""The mock field: flux bookkeeping, lensing, depth, determinism and the sample sheet."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from mock_helpers import REPO, mock_inputs, mock_settings, simulate
from ohmap.gradients.lensing import LensModel, distance_ratio
from ohmap.inference.nebular import extinction_factor, intrinsic_hbeta_flux
from ohmap.lines import HALPHA_TO_HBETA, LINES_BY_NAME
from ohmap.mock.cluster import AnalyticCluster
from ohmap.mock.grism import sensitivity_curve
from ohmap.mock.products import sample_sheet_text
from ohmap.mock.source import SourceModel
from ohmap.spectra.glass import read_glass_2d
from ohmap.spectra.grisms import GRISMS


@pytest.fixture(scope="module")
def mock_04054(tmp_path_factory):
    return simulate("04054", tmp_path_factory.mktemp("mock"))


@pytest.fixture(scope="module")
def mock_05968(tmp_path_factory):
    return simulate("05968", tmp_path_factory.mktemp("mock"))


def _column(spec, wavelength):
    return int(np.argmin(np.abs(spec.wavelength - wavelength)))


def test_line_flux_bookkeeping_through_the_2d_spectrum(mock_04054):
    """Summing the Hbeta + [OIII] complex over the dispersed spectrum gives the truth."""
    row = mock_04054["galaxy_row"]
    z = row["redshift"]
    checked = 0
    for path, align in zip(mock_04054["spectra"], mock_04054["alignment_rows"]):
        if align["grism"] != "G141" or align["has_neighbour"]:
            continue
        spec = read_glass_2d(path)
        # The true continuum is the (deliberately mis-scaled) model divided by its scale error.
        clean = spec.science - spec.continuum / align["continuum_model_scale"]
        half = spec.shape[0] // 2 + 6
        lo = _column(spec, LINES_BY_NAME["Hb"].wavelength * (1 + z)) - half
        hi = _column(spec, LINES_BY_NAME["OIII5008"].wavelength * (1 + z)) + half
        assert np.isfinite(spec.error[:, lo:hi]).all()
        dlam = np.gradient(spec.wavelength)[lo:hi]
        measured = np.sum(clean[:, lo:hi] * dlam)
        noise = np.sqrt(np.sum((spec.error[:, lo:hi] * dlam) ** 2))
        expected = sum(row[f"flux_{n}_lensed"] for n in ("Hb", "OIII4960", "OIII5008"))
        assert abs(measured - expected) < 4 * noise + 0.02 * expected, (
            path.name,
            measured,
            expected,
            noise,
        )
        checked += 1
    assert checked >= 1


def test_lensed_flux_is_input_flux_times_magnification(mock_05968):
    """Halpha has a fixed ratio to Hbeta, so its unlensed flux is known from the SFR alone."""
    row = mock_05968["galaxy_row"]
    unlensed = (
        HALPHA_TO_HBETA
        * intrinsic_hbeta_flux(row["sfr_msun_yr"], row["redshift"])
        * extinction_factor(LINES_BY_NAME["Ha"].wavelength, row["av_neb"])[0]
    )
    ratio = row["flux_Ha_lensed"] / unlensed
    assert ratio == pytest.approx(row["magnification_effective"], rel=0.005)
    # a galaxy that fits in its stamp is magnified as a whole by about its central value
    assert ratio == pytest.approx(row["magnification_center"], rel=0.03)


def test_sfr_round_trip():
    """SFR -> intrinsic Hbeta flux -> luminosity -> SFR (Kennicutt 1998)."""
    import astropy.units as u

    from ohmap.cosmology import COSMOLOGY

    flux = intrinsic_hbeta_flux(10.0, 1.5) * 1e-17
    lum = (
        flux * HALPHA_TO_HBETA * 4 * np.pi * COSMOLOGY.luminosity_distance(1.5).to(u.cm).value ** 2
    )
    assert 4.6e-42 * lum == pytest.approx(10.0, rel=1e-10)


def test_global_metallicity_is_hbeta_weighted_mean():
    galaxies, _ = mock_inputs()
    for gal in galaxies:
        if gal.galaxy_id not in ("05709", "07255", "04054"):
            continue
        src = SourceModel(gal)
        half = 10 * gal.sf_scale_kpc / src.scale
        grid = np.linspace(-half, half, 301)
        x, y = np.meshgrid(grid, grid)
        em = src.emission(x, y)
        mean = np.sum(em["oh12_weighted"]) / np.sum(em["hb_intrinsic"])
        assert mean == pytest.approx(gal.oh12_global, abs=0.01)


def test_hff_maps_reproduce_the_analytic_lens(tmp_path):
    galaxies, cluster = mock_inputs()
    model = AnalyticCluster(cluster["models"]["glafic_v3"], cluster["z_lens"], "glafic_v3")
    prefix = tmp_path / "hlsp_frontier_model_macs1149_glafic_v3"
    model.write_hff(prefix, 160.0, 0.25)
    lens = LensModel.from_hff(prefix)
    for gal in galaxies[:6]:
        x, y = model.offsets(gal.ra, gal.dec)
        bx, by = model.trace(x, y, gal.redshift)
        sx, sy = lens.source_plane_offsets(gal.ra, gal.dec, gal.redshift, model.ra0, model.dec0)
        assert np.hypot(sx - bx, sy - by) < 0.03
        mu_maps = lens.magnification(gal.ra, gal.dec, gal.redshift)
        assert mu_maps == pytest.approx(model.magnification(x, y, gal.redshift), rel=0.03)


def test_sensitivity_curves_are_shaped_like_wfc3():
    for name, peak, lo, hi in (("G102", 11300, 8900, 11500), ("G141", 15900, 11200, 16800)):
        wave = np.arange(7000.0, 18000.0, 1.0)
        sens = sensitivity_curve(name, wave)
        assert abs(wave[np.argmax(sens)] - peak) < 100
        above = wave[sens > 0.5 * sens.max()]
        assert abs(above[0] - lo) < 60 and abs(above[-1] - hi) < 60


def test_noise_reaches_the_paper_depth(mock_04054):
    """Combining all PAs of a grism, a 25-pixel line sum at the sensitivity peak has the
    1-sigma flux limit of Sect. 2.1 (3.5e-18 and 1.2e-18 erg/s/cm^2)."""
    settings = mock_settings()
    for grism, limit in settings["line_flux_limit"].items():
        inverse_variance = 0.0
        for path in mock_04054["spectra"]:
            spec = read_glass_2d(path)
            if spec.grism != grism:
                continue
            col = int(np.argmax(spec.meta["sensitivity_per_pixel"]))
            inverse_variance += 1.0 / spec.error[0, col] ** 2
        dlam = GRISMS[grism].dispersion_interlaced
        sigma_line = (
            np.sqrt(settings["reference_aperture_pixels"] / inverse_variance) * dlam * 1e-17
        )
        assert sigma_line == pytest.approx(limit, rel=0.01)


def test_noise_is_white_with_the_stated_error(mock_04054):
    spec = read_glass_2d(next(p for p in mock_04054["spectra"] if "-111-G141_" in p.name))
    # rows at the stamp edge in a line-free stretch hold only noise (and faint continuum)
    residual = (spec.science - spec.continuum - spec.contamination)[:4, 40:120] / spec.error[
        :4, 40:120
    ]
    assert 0.85 < np.std(residual) < 1.15


def test_same_seed_same_mock_other_seed_differs(tmp_path):
    a = simulate("05709", tmp_path / "a")
    b = simulate("05709", tmp_path / "b")
    c = simulate("05709", tmp_path / "c", seed=7)
    da, db, dc = (fits.getdata(x["spectra"][0], "SCI") for x in (a, b, c))
    assert np.array_equal(da, db)
    assert not np.array_equal(da, dc)


def test_calibration_errors_recorded_and_reference_clean(mock_04054):
    rows = {(r["pa_v3"], r["grism"]): r for r in mock_04054["alignment_rows"]}
    ref = rows[("119", "G141")]
    assert (
        ref["trace_offset_pixels"]
        == ref["wavelength_shift_pixels"]
        == ref["rotation_error_deg"]
        == 0
    )
    others = [r for k, r in rows.items() if k != ("119", "G141")]
    assert any(abs(r["rotation_error_deg"]) > 0.1 for r in others)
    assert any(abs(r["wavelength_shift_pixels"]) > 0.1 for r in others)
    r032 = rows[("032", "G141")]
    assert r032["rotation_to_reference_deg"] == pytest.approx(87.0 - r032["rotation_error_deg"])


def test_truth_maps_have_units(mock_04054):
    with fits.open(mock_04054["truth"]) as hdul:
        assert hdul["LINE_Hb"].header["BUNIT"] == "1e-17 erg/s/cm2"
        assert hdul["RADIUS_KPC"].header["BUNIT"] == "kpc"
        oh = hdul["OH12"].data
        assert np.nanmin(oh) >= 7.1 and np.nanmax(oh) <= 9.2


def test_shipped_sample_sheets_match_the_mock():
    galaxies, _ = mock_inputs()
    assert (REPO / "config" / "galaxies.tsv").read_text() == sample_sheet_text(galaxies, "MACS1149")
    subset = [g for g in galaxies if g.galaxy_id in ("01422", "02806", "05709")]
    assert (REPO / "config" / "test" / "galaxies.tsv").read_text() == sample_sheet_text(
        subset, "MACS1149"
    )


def test_distance_ratio_used_by_the_mock_is_physical():
    assert 0 < distance_ratio(0.544, 1.25) < distance_ratio(0.544, 2.31) < 1
