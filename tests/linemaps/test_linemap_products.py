"""Line-map products (FITS/ECSV round trips), per-galaxy stacking and the linemaps config."""

import copy

import numpy as np
import pytest
from astropy.io import fits

from linemap_helpers import synthetic_spectrum
from ohmap.config import linemap_settings, reference_observation
from ohmap.errors import InputError
from ohmap.linemaps.align import AlignmentResult, align_extraction
from ohmap.linemaps.extract import extract_line_maps
from ohmap.linemaps.products import (
    alignment_table,
    fluxes_table,
    read_alignment,
    read_extraction,
    read_stacked_maps,
    vetting_table,
    write_alignment,
    write_extraction,
    write_stacked_maps,
)
from ohmap.linemaps.settings import AlignmentSettings, VettingSettings
from ohmap.linemaps.stack import stack_galaxy, vet_map
from ohmap.report.linemaps import plot_line_maps
from ohmap.resample import FrameTransform

Z = 1.5
FLUXES = {"Hb": 8.0, "OIII4960": 12.0 / 2.98, "OIII5008": 12.0, "Hg": 3.0}
GRID = dict(wave0=10000.0, ncol=340)  # 10000-17458 A: Hg to [SII] at z = 1.5, not [OII]


@pytest.fixture(scope="module")
def extraction():
    spec, _ = synthetic_spectrum(FLUXES, Z, noise=0.003, seed=11, **GRID)
    return extract_line_maps(spec, Z)


def test_extraction_round_trip_is_exact(extraction, tmp_path):
    path = tmp_path / "maps.fits"
    write_extraction(extraction, path, source="spectrum.fits")
    back = read_extraction(path)
    assert (back.galaxy, back.pa, back.grism) == (
        extraction.galaxy,
        extraction.pa,
        extraction.grism,
    )
    assert back.redshift == Z and back.columns == pytest.approx(extraction.columns)
    assert np.array_equal(back.footprint, extraction.footprint)
    assert np.array_equal(back.cleaned, extraction.cleaned)
    assert np.array_equal(back.cleaned_error, extraction.cleaned_error)
    assert set(back.maps) == set(extraction.maps) == {"Hg", "Hb", "OIII5008", "Ha", "SII"}
    for name, m in extraction.maps.items():
        b = back.maps[name]
        assert np.array_equal(b.flux, m.flux) and np.array_equal(b.error, m.error)
        assert np.array_equal(b.blended, m.blended)
        np.testing.assert_equal(
            (b.x_phase, b.integrated_flux, b.integrated_error),
            (m.x_phase, m.integrated_flux, m.integrated_error),
        )
        assert b.info["method"] == m.info["method"]
    assert [d["status"] for d in back.decisions] == [d["status"] for d in extraction.decisions]
    with fits.open(path) as hdul:
        assert hdul["FLUX_Hb"].header["BUNIT"] == "1e-17 erg / (s cm2)"
        assert "inf" in hdul[0].header["COMMENT"][0]
        assert not np.isnan(hdul["ERR_Hb"].data).any() and not np.isnan(hdul["FLUX_Hb"].data).any()


def test_uncovered_lines_are_recorded_as_decisions(extraction):
    decisions = {d["line"]: d for d in extraction.decisions}
    # At z = 1.5 [OII] (9320 A) lies outside the G141 range; the decision says so.
    assert decisions["OII"]["status"] == "not_covered" and "outside" in decisions["OII"]["reason"]


def test_reading_a_foreign_file_names_it(tmp_path):
    path = tmp_path / "other.fits"
    fits.PrimaryHDU().writeto(path)
    with pytest.raises(InputError, match="other.fits.*not an ohmap line-map extraction"):
        read_extraction(path)


def test_alignment_round_trip(tmp_path):
    result = AlignmentResult(
        FrameTransform(12.5, 0.3, -0.2),
        12.0,
        0.91,
        0.95,
        "fitted",
        "Hb",
        "Hb",
        ("Hb/Hb", "OIII5008/OIII5008"),
        0.05,
        0.07,
        0.4,
        False,
    )
    table = alignment_table("g1", "032", "G141", "119-G141", result)
    assert table["shift_x"].unit == "pixel" and table["rotation"].unit == "deg"
    write_alignment(table, tmp_path / "a.ecsv")
    row, back = read_alignment(tmp_path / "a.ecsv")
    assert back == result and row["reference"] == "119-G141"
    assert back.rotation_correction_deg == pytest.approx(0.5)


def _two_pa_extractions():
    """The same galaxy seen at the reference PA and at a PA rotated by 20 degrees."""
    spec_ref, truth = synthetic_spectrum(FLUXES, Z, noise=0.003, seed=21, **GRID)
    spec_ref.pa_v3, spec_ref.dispersion_pa = 119.0, 74.0
    rotated = dict(sigma_x=2.0, sigma_y=1.4, angle_deg=30.0 + 20.0)
    from linemap_helpers import gaussian_image

    spec_pa, _ = synthetic_spectrum(
        FLUXES, Z, noise=0.003, seed=22, **GRID, source=lambda x, y: gaussian_image(x, y, **rotated)
    )
    spec_pa.pa_v3, spec_pa.dispersion_pa = 99.0, 54.0
    return extract_line_maps(spec_ref, Z), extract_line_maps(spec_pa, Z), truth


def test_stack_galaxy_vets_stacks_and_records(tmp_path):
    ref, other, truth = _two_pa_extractions()
    bad = copy.deepcopy(other)
    bad.pa = "125"
    bad.maps["Hg"].info["residual_flag"] = True
    extractions = {("119", "G141"): ref, ("099", "G141"): other, ("125", "G141"): bad}
    # The true transforms: this test is about vetting and stacking, not the alignment fit.
    exact = AlignmentResult(FrameTransform(-20.0, 0.0, 0.0), -20.0, 1.0, 1.0, "fitted", "Hb", "Hb")
    alignments = {
        ("119", "G141"): align_extraction(ref, ref, AlignmentSettings()),
        ("099", "G141"): exact,
        ("125", "G141"): exact,
    }
    assert alignments[("119", "G141")].status == "reference"
    result = stack_galaxy(
        extractions, alignments, ("119", "G141"), ["OII", "Hg", "Hb", "OIII5008"], VettingSettings()
    )
    assert set(result.stacks) == {"Hg", "Hb", "OIII5008"}
    assert "OII" in result.notes and "not_covered" in result.notes["OII"]
    rejected = [r for r in result.vetting if r["status"] == "rejected"]
    assert [(r["pa"], r["line"]) for r in rejected] == [("125", "Hg")]
    assert "residuals" in rejected[0]["reason"]
    hg = result.stacks["Hg"]
    assert hg.contributors == ["099-G141", "119-G141"] and hg.n_maps.max() == 2
    assert result.stacks["Hb"].n_maps.max() == 3
    fluxes = {r["line"]: r for r in result.fluxes}
    for line in ("Hb", "OIII5008"):
        f = fluxes[line]
        assert abs(f["flux"] - FLUXES[line]) < 4 * f["flux_error"] + 0.05 * FLUXES[line]
    assert np.isnan(fluxes["OII"]["flux"]) and fluxes["OII"]["n_maps"] == 0

    table = fluxes_table("g1", Z, result.fluxes)
    assert table["flux"].unit == "1e-17 erg / (s cm2)" and len(table) == 4
    vt = vetting_table("g1", result.vetting)
    assert len(vt) == 3 * 4 and set(vt["status"]) == {"accepted", "rejected", "not_extracted"}

    path = tmp_path / "stack.fits"
    write_stacked_maps(path, "g1", ref, result.stacks, Z, None, result.notes)
    back = read_stacked_maps(path)
    assert back["header"]["REF_PA"] == "119"
    assert np.array_equal(back["Hb"].flux, result.stacks["Hb"].flux)
    assert back["Hg"].contributors == hg.contributors
    for lag, cov in result.stacks["Hb"].neighbour_covariance.items():
        np.testing.assert_allclose(back["Hb"].neighbour_covariance[lag], cov, rtol=1e-6, atol=1e-12)
    with fits.open(path) as hdul:
        assert hdul["FLUX_Hg"].header["MAP1"] == "099-G141"
        assert hdul["NCOV_Hb"].header["LAG1"] == "0,1" and "erg2" in hdul["NCOV_Hb"].header["BUNIT"]
        assert "not_covered" in hdul[0].header["NOMAP OII"]
    png = tmp_path / "maps.png"
    plot_line_maps(back, ["OII", "Hg", "Hb", "OIII5008"], png, {"OII": result.notes["OII"]})
    assert png.stat().st_size > 10_000


def _config():
    return {"reference_pa": "119", "linemaps": {"reference_grism": "G141"}}


def test_reference_observation_prefers_the_configured_grism():
    pairs = [("032", "G102"), ("119", "G102"), ("119", "G141")]
    assert reference_observation(pairs, _config(), "g") == ("119", "G141")
    assert reference_observation([("119", "G102")], _config(), "g") == ("119", "G102")
    with pytest.raises(InputError, match="galaxy g.*not observed at the reference PA 119"):
        reference_observation([("032", "G141")], _config(), "g")


def test_linemap_settings_name_the_section_of_a_bad_key():
    config = dict(_config(), linemaps={"alignment": {"max_shift": 2}})
    with pytest.raises(InputError, match="linemaps.alignment.*max_shift"):
        linemap_settings(config, "config.yaml")
    config = dict(_config(), linemaps={"extraction": {"lines": ["Hb", "Lya"]}})
    with pytest.raises(InputError, match="'lines'.*Lya"):
        linemap_settings(config, "config.yaml")
    settings = linemap_settings(_config())
    assert settings["vetting"].outlier_sigma == 5.0


def test_a_pa_without_any_line_flows_through_as_recorded_decisions(tmp_path):
    ref, _, _ = _two_pa_extractions()
    # A G102 spectrum of a z = 1.5 galaxy whose grid stops short of every mapped line.
    spec, _ = synthetic_spectrum(
        {"Hb": 5.0}, Z, noise=0.003, seed=5, wave0=8000.0, ncol=40, grism="G102"
    )
    empty = extract_line_maps(spec, Z)
    assert not empty.maps and {d["status"] for d in empty.decisions} == {"not_covered"}
    write_extraction(empty, tmp_path / "empty.fits")
    empty = read_extraction(tmp_path / "empty.fits")
    result = align_extraction(empty, ref, AlignmentSettings())
    assert result.status.startswith("nominal") and "no line map" in result.status
    stacked = stack_galaxy(
        {("119", "G141"): ref, ("032", "G102"): empty},
        {("119", "G141"): align_extraction(ref, ref, AlignmentSettings()), ("032", "G102"): result},
        ("119", "G141"),
        ["Hb"],
        VettingSettings(),
    )
    rows = [r for r in stacked.vetting if r["pa"] == "032"]
    assert rows[0]["status"] == "not_extracted" and "outside" in rows[0]["reason"]
    assert stacked.stacks["Hb"].contributors == ["119-G141"]


def test_an_empty_contamination_model_is_caught_and_explained():
    # A neighbour's spectrum crosses the galaxy's rows but the contamination model is empty.
    spec, _ = synthetic_spectrum(FLUXES, Z, noise=0.003, seed=31, **GRID)
    neighbour = np.zeros_like(spec.science)
    neighbour[20:26, :] = 0.03
    spec.science = spec.science + neighbour
    assert not spec.contamination.any()
    ex = extract_line_maps(spec, Z)
    flagged = {n for n, m in ex.maps.items() if m.info["residual_flag"]}
    assert {"Hb", "OIII5008"} <= flagged
    ok, reason = vet_map(ex.maps["Hb"], ex.footprint, "fitted", VettingSettings())
    assert not ok and "residuals" in reason


def test_shipped_config_writes_out_the_library_defaults():
    import yaml

    from mock_helpers import REPO
    from ohmap.linemaps.settings import AlignmentSettings, ExtractionSettings

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    settings = linemap_settings(config)
    assert settings["extraction"] == ExtractionSettings()
    assert settings["alignment"] == AlignmentSettings()
    assert settings["vetting"] == VettingSettings()
    from dataclasses import replace

    from ohmap.linemaps.settings import JointDeblendSettings

    assert settings["joint"] == replace(
        JointDeblendSettings(), seed=config["linemaps"]["stacking"]["joint"]["seed"]
    )


def _joint_stack(ref, other):
    from ohmap.linemaps.settings import JointDeblendSettings

    exact = AlignmentResult(FrameTransform(-20.0, 0.0, 0.0), -20.0, 1.0, 1.0, "fitted", "Hb", "Hb")
    return stack_galaxy(
        {("119", "G141"): ref, ("099", "G141"): other},
        {("119", "G141"): align_extraction(ref, ref, AlignmentSettings()), ("099", "G141"): exact},
        ("119", "G141"),
        ["Hg", "Hb", "OIII5008"],
        VettingSettings(),
        joint=JointDeblendSettings(),
    )


def _less_precise_per_pa(*extractions, factor=4.0):
    """Copies whose per-PA integrated errors of the blend are ``factor`` times larger."""
    out = []
    for ex in extractions:
        ex = copy.deepcopy(ex)
        for line in ("Hb", "OIII5008"):
            ex.maps[line].integrated_error *= factor
        out.append(ex)
    return out


def test_a_less_precise_joint_deblending_keeps_the_per_pa_stacks_and_says_why(tmp_path):
    """Two compact, well-separated PAs: the per-PA fluxes are the more precise, so they stay;
    the joint solution is kept beside them (flux table, header cards, JFLUX_ maps)."""
    ref, other, _ = _two_pa_extractions()
    assert ref.maps["Hb"].info["method"] == "deblended"
    result = _joint_stack(ref, other)
    assert list(result.joint) == [("Hb", "OIII5008")]
    assert result.joint[("Hb", "OIII5008")]["choice"].adopted == "stack"
    fluxes = {r["line"]: r for r in result.fluxes}
    assert fluxes["Hg"]["method"] == "stack" and fluxes["Hg"]["deblend_choice"] == ""
    for line in ("Hb", "OIII5008"):
        row = fluxes[line]
        assert row["method"] == "stack" and row["blend_group"] == "Hb+OIII5008"
        assert row["flux"] == row["flux_per_pa"] and row["correlation"] == ""
        assert row["joint_flux_error"] > row["flux_per_pa_error"]
        assert abs(row["joint_flux"] - FLUXES[line]) < 3 * row["joint_flux_error"]
        assert row["deblend_choice"].startswith("per-PA kept: joint Hb error")
        assert "flux conserved" in row["deblend_choice"]
        assert result.stacks[line].method == "stack"
    table = fluxes_table("g1", Z, result.fluxes)
    assert table["joint_flux"].unit == "1e-17 erg / (s cm2)"
    path = tmp_path / "stack.fits"
    write_stacked_maps(path, "g1", ref, result.stacks, Z, None, result.notes, result.joint)
    back = read_stacked_maps(path)
    assert back["Hb"].method == "stack" and back["Hb"].deblend == fluxes["Hb"]["deblend_choice"]
    assert abs(back["Hb"].blend_z) < 3
    with fits.open(path) as hdul:
        h = hdul["FLUX_Hb"].header
        assert h["JCHOICE"] == "stack" and h["JGROUP"] == "Hb+OIII5008"
        assert h["JAPFLUX"] == pytest.approx(fluxes["Hb"]["joint_flux"])
        joint_map = result.joint[("Hb", "OIII5008")]["maps"]["Hb"]
        assert np.array_equal(hdul["JFLUX_Hb"].data, joint_map.flux)
        assert hdul["JERR_Hb"].header["BUNIT"] == "1e-17 erg / (s cm2)"


def test_a_more_precise_joint_deblending_replaces_the_stacks(tmp_path):
    ref, other, _ = _two_pa_extractions()
    result = _joint_stack(*_less_precise_per_pa(ref, other))
    fluxes = {r["line"]: r for r in result.fluxes}
    for line in ("Hb", "OIII5008"):
        row = fluxes[line]
        assert row["method"] == "joint" and row["deblend_choice"].startswith("joint adopted")
        assert row["flux"] == pytest.approx(result.stacks[line].corrected_aperture()[0])
        assert row["flux"] == row["joint_flux"] and row["flux_error"] < row["flux_per_pa_error"]
        assert abs(row["flux"] - FLUXES[line]) < 3 * row["flux_error"]
        assert np.isfinite(row["flux_per_pa"]) and row["flux_per_pa"] != row["flux"]
    assert fluxes["Hb"]["correlation"].startswith("OIII5008=")
    path = tmp_path / "stack.fits"
    write_stacked_maps(path, "g1", ref, result.stacks, Z, None, result.notes, result.joint)
    back = read_stacked_maps(path)
    assert back["Hb"].method == "joint" and "OIII5008" in back["Hb"].covariance
    with fits.open(path) as hdul:
        assert hdul["FLUX_Hb"].header["JCHOICE"] == "joint"
        assert 0.7 < hdul["FLUX_Hb"].header["JCHI2DOF"] < 1.3
        assert "JFLUX_Hb" not in hdul


def test_a_joint_deblending_that_does_not_conserve_the_blend_is_rejected():
    """Flux the per-PA integration never saw (added to the cleaned spectra at H-beta's column
    after extraction): the joint solution takes it into H-beta, beyond the blend's total."""
    from linemap_helpers import gaussian_image

    ref, other, _ = _two_pa_extractions()
    ref, other = _less_precise_per_pa(ref, other)
    for ex, angle in ((ref, 30.0), (other, 50.0)):
        ny, nx = ex.cleaned.shape
        j, i = np.meshgrid(np.arange(nx) - ex.columns["Hb"], np.arange(ny) - (ny - 1) / 2.0)
        ex.cleaned = ex.cleaned + gaussian_image(j, i, 2.0, 1.4, angle, flux=30.0)
    result = _joint_stack(ref, other)
    choice = result.joint[("Hb", "OIII5008")]["choice"]
    assert choice.adopted == "stack" and choice.checks["total"]["z"] > 3
    assert "joint blend total" in choice.reason and "does not conserve" in choice.reason
    assert {r["line"]: r for r in result.fluxes}["Hb"]["method"] == "stack"


def test_partial_coverage_round_trips_through_the_stacked_file(tmp_path):
    from ohmap.linemaps.maps import StackedMap

    ref, _, _ = _two_pa_extractions()
    n = ref.footprint.shape[0]
    flux, error = np.ones((n, n)), np.full((n, n), 0.1)
    error[:, : n // 2] = np.inf
    flux[~np.isfinite(error)] = 0.0
    s = StackedMap("Hb", flux, error, np.isfinite(error).astype(int), ["119-G141"])
    s.aperture_flux, s.aperture_error = 42.5, 1.25
    s.aperture_coverage, s.aperture_light = 0.55, 0.61
    path = tmp_path / "stack.fits"
    write_stacked_maps(path, "g1", ref, {"Hb": s}, Z)
    back = read_stacked_maps(path)["Hb"]
    assert (back.aperture_flux, back.aperture_error) == (42.5, 1.25)
    assert (back.aperture_coverage, back.aperture_light) == (0.55, 0.61)
    assert back.corrected_aperture() == pytest.approx((42.5 / 0.61, 1.25 / 0.61))
    assert back.deblend == "" and np.isnan(back.blend_z)
    # A file written before the coverage was recorded: unknown, and the raw sum is used.
    with fits.open(path, mode="update") as hdul:
        for key in ("APCOVFR", "APLIGHT"):
            del hdul["FLUX_Hb"].header[key]
    old = read_stacked_maps(path)["Hb"]
    assert np.isnan(old.aperture_coverage) and np.isnan(old.aperture_light)
    assert old.corrected_aperture() == (42.5, 1.25)
