"""Continuum removal of a spectrum without a continuum model: the per-row window fit, its
uncertainty (per pixel and, correlated along the rows, in integrated fluxes), and the real
GOODS-S 152 beams file of the 2020 layout (no MODEL), whose zero "model" made a false 5 sigma
Hgamma, against the same exposures written with MODEL."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest

from linemap_helpers import synthetic_spectrum
from ohmap.linemaps.continuum import fit_window_continuum, window_residuals
from ohmap.linemaps.extract import extract_line_maps
from ohmap.linemaps.settings import ExtractionSettings

Z = 1.5
LINES = {"Ha": 3.0, "Hb": 1.0, "OIII4960": 1.0 / 2.98, "OIII5008": 1.0}
WANTED = ("Ha", "Hb", "OIII5008")


def _rows_and_windows(ny=6, nx=80):
    wave = 12000.0 + 46.0 * np.arange(nx)
    windows = [np.arange(10, 25), np.arange(55, 70)]
    return wave, windows


def test_a_straight_continuum_per_row_is_recovered_exactly():
    wave, windows = _rows_and_windows()
    ny = 6
    u = (wave - wave[40]) / 1000.0
    truth = np.array([0.5 + 0.1 * i + (0.02 * i - 0.05) * u for i in range(ny)])
    truth[4] = 0.9  # flat, so that the constant it gets describes it
    error = np.full(truth.shape, 0.01)
    error[4, windows[1]] = np.inf  # one side without data: a constant
    error[5, np.concatenate(windows)] = np.inf  # no window data: no fit
    fit = fit_window_continuum(truth, error, wave, windows, wave[40])
    assert list(fit.order) == [1, 1, 1, 1, 0, -1]
    value, var = fit.evaluate(np.arange(25, 55))
    np.testing.assert_allclose(value[:4], truth[:4, 25:55], atol=1e-12)
    # The constant row is the weighted mean of its left window.
    assert np.allclose(value[4], truth[4, windows[0]].mean())
    assert np.all(np.isnan(value[5])) and np.all(np.isinf(var[5]))
    assert np.all(np.isfinite(var[:5])) and np.all(var[:5] > 0)
    stats = window_residuals(truth, error, fit, windows, np.ones(ny, dtype=bool))
    assert stats["window_sides"] == 2 and stats["n_window_pixels"] == 4 * 30 + 15
    assert stats["residual_std"] < 1e-6


def test_fit_variance_and_row_sum_correlation_match_monte_carlo():
    wave, windows = _rows_and_windows()
    ny, sigma = 6, 0.02
    rng = np.random.default_rng(3)
    error = np.full((ny, wave.size), sigma)
    dlam = np.gradient(wave)
    mask = np.zeros((ny, wave.size), dtype=bool)
    mask[:, 30:50] = True
    mask[2, 30:35] = False
    values, sums = [], []
    for _ in range(3000):
        data = 1.0 + rng.normal(0.0, sigma, error.shape)
        fit = fit_window_continuum(data, error, wave, windows, wave[40])
        value, _ = fit.evaluate(np.arange(wave.size))
        values.append(value[:, 40])
        sums.append(np.sum((value * dlam)[mask]))
    _, var = fit.evaluate(np.arange(wave.size))
    np.testing.assert_allclose(np.var(values, axis=0), var[:, 40], rtol=0.1)
    diagonal = np.sum((var * dlam**2)[mask])
    exact = diagonal + fit.extra_sum_variance(mask, dlam)
    assert np.var(sums) == pytest.approx(exact, rel=0.1)
    # The correlation is most of it: each row's 20 columns share one fit.
    assert exact > 10 * diagonal


def _extract(spec):
    return extract_line_maps(spec, Z, ExtractionSettings(lines=WANTED))


def test_a_spectrum_without_model_gets_its_own_continuum_and_says_so():
    spec, _ = synthetic_spectrum(LINES, Z, noise=0.001, seed=4, continuum=0.08)
    bare = dataclasses.replace(spec, continuum=np.zeros_like(spec.continuum))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        taken_as_zero = _extract(bare)
    no_model = dataclasses.replace(bare, meta={"has_continuum_model": False})
    own = _extract(no_model)
    with_model = _extract(spec)
    for name in WANTED:
        m = own.maps[name]
        assert m.info["continuum_model"] is False
        assert "no continuum model" in m.info["continuum_method"]
        assert with_model.maps[name].info["continuum_model"] is True
        assert m.integrated_flux == pytest.approx(LINES[name], abs=3 * m.integrated_error)
        # The zero model leaves the galaxy's continuum in the maps: tens of sigma too bright.
        zero = taken_as_zero.maps[name]
        assert (zero.integrated_flux - LINES[name]) / zero.integrated_error > 20
    # The cleaned spectrum has no continuum left beside the lines.
    rows = own.footprint.any(axis=1)
    cleaned = own.cleaned[rows][:, 5:25]
    assert abs(cleaned.mean()) < 3 * own.cleaned_error[rows][:, 5:25].mean() / np.sqrt(cleaned.size)


def test_integrated_errors_without_a_model_describe_the_scatter():
    """Over noise realisations the line fluxes' pulls are as calibrated as those of a spectrum
    with no continuum at all (the fit's row-wise correlation is in the errors)."""
    pulls = {name: [] for name in WANTED}
    plain = {name: [] for name in WANTED}
    for seed in range(40):
        spec, _ = synthetic_spectrum(LINES, Z, noise=0.001, seed=seed, continuum=0.08)
        spec = dataclasses.replace(
            spec, continuum=np.zeros_like(spec.continuum), meta={"has_continuum_model": False}
        )
        ref, _ = synthetic_spectrum(LINES, Z, noise=0.001, seed=seed)
        for out, s in ((pulls, spec), (plain, ref)):
            ex = _extract(s)
            for name in WANTED:
                m = ex.maps[name]
                out[name].append((m.integrated_flux - LINES[name]) / m.integrated_error)
    for name in WANTED:
        assert abs(np.mean(pulls[name])) < 0.5, name
        # Hbeta's de-blended errors are somewhat small even without any continuum (1.3).
        assert np.std(pulls[name]) < max(1.25, 1.1 * np.std(plain[name])), name


# --- the real GOODS-S 152 beams files --------------------------------------------------------

BEAMS_2020 = "j033216m2743_00152.beams.fits"
BEAMS_MODEL = "j033216m2743_00152.model-trace.beams.fits"
Z_152 = 1.743


@pytest.fixture(scope="module")
def object_152(grizli_object_dir, wfc3_calibration_dir):
    from ohmap.spectra.grizli_beams import read_grizli_beams

    out = {}
    for key, name in (("2020", BEAMS_2020), ("model", BEAMS_MODEL)):
        spectra = read_grizli_beams(grizli_object_dir / name, calibration_dir=wfc3_calibration_dir)
        out[key] = {s.grism: s for s in spectra}
    return out


def _maps(spec):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return extract_line_maps(spec, Z_152).maps


def test_real_2020_beams_say_they_have_no_continuum_model(object_152, tmp_path):
    from astropy.io import fits

    from ohmap.spectra.products import read_spectrum_product, write_spectrum_product

    for grism, spec in object_152["2020"].items():
        assert spec.meta["has_continuum_model"] is False and not spec.continuum.any()
        assert object_152["model"][grism].meta["has_continuum_model"] is True
        out = tmp_path / f"{grism}.fits"
        write_spectrum_product(spec, out)
        assert fits.getheader(out)["CONTMOD"] is False
        assert read_spectrum_product(out).meta["has_continuum_model"] is False


def test_real_hgamma_is_no_longer_a_false_detection(object_152):
    """Hgamma (11909 A, G141) was 18.6 +- 3.5 (5.3 sigma) from the 2020 file, whose zero
    continuum left the galaxy's continuum in the map, against 1.3 +- 3.5 from the file with
    MODEL. With its own continuum the 2020 file agrees with the MODEL file, for every line."""
    g141 = object_152["2020"]["G141"]
    forced = dataclasses.replace(g141, meta=dict(g141.meta, has_continuum_model=True))
    before = _maps(forced)["Hg"]
    assert before.integrated_flux / before.integrated_error > 4.5  # the defect, reproduced
    after = {g: _maps(s) for g, s in object_152["2020"].items()}
    model = {g: _maps(s) for g, s in object_152["model"].items()}
    hg = after["G141"]["Hg"]
    assert hg.info["continuum_model"] is False and not hg.info["residual_flag"]
    assert abs(hg.integrated_flux / hg.integrated_error) < 2
    for grism, maps in after.items():
        assert set(maps) == set(model[grism])
        for name, m in maps.items():
            ref = model[grism][name]
            combined = np.hypot(m.integrated_error, ref.integrated_error)
            assert abs(m.integrated_flux - ref.integrated_flux) < 2 * combined, (grism, name)
