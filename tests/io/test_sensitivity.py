"""aXe sensitivity curves: reading, .conf look-up, pixel binning and count-rate conversion."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from ohmap.errors import InputError
from ohmap.io.sensitivity import (
    SensitivityCurve,
    counts_per_flambda,
    counts_to_flambda,
    read_axe_sensitivity,
    sensitivity_file_from_conf,
)


def _integral(curve: SensitivityCurve) -> float:
    """Trapezoid integral of a curve over its samples, (e-/s) per (erg/s/cm^2/A) x A."""
    w, s = curve.wavelength, curve.sensitivity
    return float(np.sum(0.5 * (s[1:] + s[:-1]) * np.diff(w)))


def write_sens(
    path, wavelength, sensitivity, error=None, names=("WAVELENGTH", "SENSITIVITY", "ERROR")
):
    """A synthetic aXe sensitivity file: binary table in HDU 1."""
    if error is None:
        error = 0.01 * np.asarray(sensitivity, dtype=float)
    cols = [
        fits.Column(name=n, format="E", array=np.asarray(a, dtype=float))
        for n, a in zip(names, (wavelength, sensitivity, error))
    ]
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(cols)]).writeto(path)
    return path


# --- real WFC3/IR curves -------------------------------------------------------------------


def _above_half(curve):
    w = curve.wavelength[curve.sensitivity >= 0.5 * curve.sensitivity.max()]
    return w.min(), w.max()


def test_real_g102_first_order(wfc3_calibration_dir):
    curve = read_axe_sensitivity(wfc3_calibration_dir / "WFC3.IR.G102.1st.sens.2.fits")
    peak = curve.wavelength[np.argmax(curve.sensitivity)]
    assert 11000 < peak < 11600  # ~1.13 um
    lo, hi = _above_half(curve)
    assert 8700 < lo < 9100 and 11300 < hi < 11700  # ~0.89-1.15 um
    # (e-/s) per (erg/s/cm^2/A): ~1e16 at peak for WFC3/IR G102
    assert 5e15 < curve.sensitivity.max() < 2e16
    assert curve.source.endswith("WFC3.IR.G102.1st.sens.2.fits")


def test_real_g141_first_order(wfc3_calibration_dir):
    curve = read_axe_sensitivity(wfc3_calibration_dir / "WFC3.IR.G141.1st.sens.2.fits")
    peak = curve.wavelength[np.argmax(curve.sensitivity)]
    assert 15000 < peak < 16000
    lo, hi = _above_half(curve)
    assert 11000 < lo < 11600 and 16500 < hi < 17000


def test_curve_is_read_only(wfc3_calibration_dir):
    curve = read_axe_sensitivity(wfc3_calibration_dir / "WFC3.IR.G141.1st.sens.2.fits")
    with pytest.raises(ValueError):
        curve.sensitivity[0] = 1.0


@pytest.mark.parametrize(
    "conf, expected",
    [
        ("G102.F098M.V4.32.conf", "WFC3.IR.G102.1st.sens.2.fits"),  # then a commented line
        ("G102.F110W.V4.32.conf", "GD71_g102_A_sens.v0.fits"),  # commented line first
        ("G141.F140W.V4.32.conf", "GD153_g141_A_sens.v1.fits"),  # two uncommented: last wins
    ],
)
def test_real_conf_sensitivity_a(wfc3_calibration_dir, conf, expected):
    path = sensitivity_file_from_conf(wfc3_calibration_dir / conf)
    assert path == wfc3_calibration_dir / expected
    assert path.is_file()
    read_axe_sensitivity(path)


def test_real_conf_other_beam(wfc3_calibration_dir):
    path = sensitivity_file_from_conf(wfc3_calibration_dir / "G102.F098M.V4.32.conf", beam="B")
    assert path.name == "WFC3.IR.G102.0th.sens.1.fits"


def test_real_per_pixel_conserves_flux(wfc3_calibration_dir):
    curve = read_axe_sensitivity(wfc3_calibration_dir / "WFC3.IR.G141.1st.sens.2.fits")
    grid = np.arange(9000.0, 18700.0, 46.0)  # G141-like pixels, well beyond both curve ends
    edges = np.concatenate([[grid[0] - 23], 0.5 * (grid[1:] + grid[:-1]), [grid[-1] + 23]])
    total = np.sum(curve.per_pixel(grid) * np.diff(edges))
    assert total == pytest.approx(_integral(curve), rel=1e-9)


# --- .conf parsing (synthetic) --------------------------------------------------------------


def test_conf_last_uncommented_line_wins(tmp_path):
    conf = tmp_path / "fake.conf"
    conf.write_text(
        "INSTRUMENT WFC3\n"
        "SENSITIVITY_A first.fits\n"
        "  # SENSITIVITY_A commented_indented.fits\n"
        "SENSITIVITY_B zeroth.fits\n"
        "SENSITIVITY_A second.fits ; the one grizli uses\n"
        "#SENSITIVITY_A commented_last.fits\n"
        "SENSITIVITY_AA not_beam_a.fits\n"
    )
    assert sensitivity_file_from_conf(conf) == tmp_path / "second.fits"
    assert sensitivity_file_from_conf(conf, beam="B") == tmp_path / "zeroth.fits"


def test_conf_missing_key_names_file(tmp_path):
    conf = tmp_path / "nosens.conf"
    conf.write_text("#SENSITIVITY_A commented.fits\nSENSITIVITY_B b.fits\n")
    with pytest.raises(InputError) as exc:
        sensitivity_file_from_conf(conf)
    assert str(conf) in str(exc.value) and "SENSITIVITY_A" in str(exc.value)


def test_conf_missing_file(tmp_path):
    with pytest.raises(InputError) as exc:
        sensitivity_file_from_conf(tmp_path / "absent.conf")
    assert "absent.conf" in str(exc.value)


# --- reading synthetic tables ---------------------------------------------------------------


def test_read_synthetic_and_lowercase_names(tmp_path):
    w = np.arange(10000.0, 10010.0)
    names = ("wavelength", "Sensitivity", "error")
    path = write_sens(tmp_path / "s.fits", w, np.full(10, 2e15), names=names)
    curve = read_axe_sensitivity(path)
    assert np.array_equal(curve.wavelength, w)
    assert np.allclose(curve.sensitivity, 2e15, rtol=1e-6)  # stored as float32


def _raises_naming(path, column):
    with pytest.raises(InputError) as exc:
        read_axe_sensitivity(path)
    message = str(exc.value)
    assert str(path) in message, message
    assert column in message, message
    return message


def test_missing_column(tmp_path):
    names = ("WAVELENGTH", "SENS", "ERROR")
    path = write_sens(tmp_path / "nocol.fits", [1.0, 2.0], [1.0, 1.0], names=names)
    _raises_naming(path, "SENSITIVITY")


def test_decreasing_wavelength(tmp_path):
    path = write_sens(tmp_path / "dec.fits", [3.0, 2.0, 1.0], [1.0, 1.0, 1.0])
    assert "increasing" in _raises_naming(path, "WAVELENGTH")


def test_repeated_wavelength(tmp_path):
    path = write_sens(tmp_path / "rep.fits", [1.0, 2.0, 2.0], [1.0, 1.0, 1.0])
    _raises_naming(path, "WAVELENGTH")


def test_nonfinite_wavelength(tmp_path):
    path = write_sens(tmp_path / "nan.fits", [1.0, np.nan, 3.0], [1.0, 1.0, 1.0])
    assert "non-finite" in _raises_naming(path, "WAVELENGTH")


def test_negative_sensitivity(tmp_path):
    path = write_sens(tmp_path / "neg.fits", [1.0, 2.0, 3.0], [1.0, -1.0, 1.0])
    assert "negative" in _raises_naming(path, "SENSITIVITY")


def test_missing_file(tmp_path):
    with pytest.raises(InputError) as exc:
        read_axe_sensitivity(tmp_path / "absent_sens.fits")
    assert "absent_sens.fits" in str(exc.value) and "not found" in str(exc.value)


def test_no_table_hdu(tmp_path):
    path = tmp_path / "primary_only.fits"
    fits.PrimaryHDU().writeto(path)
    _raises_naming(path, "WAVELENGTH")


def test_image_instead_of_table(tmp_path):
    path = tmp_path / "image.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.zeros((2, 2)))]).writeto(path)
    _raises_naming(path, "SENSITIVITY")


# --- per_pixel and conversion (synthetic) ---------------------------------------------------


def _triangle():
    w = np.linspace(10000.0, 12000.0, 2001)
    s = 1e16 * np.clip(1 - np.abs(w - 11000.0) / 1000.0, 0, None)
    return SensitivityCurve(w, s, 0.0 * s, "triangle")


@pytest.mark.parametrize("step", [7.3, 23.0, 46.0, 250.0])
def test_per_pixel_conserves_flux(step):
    curve = _triangle()
    grid = np.arange(9500.0, 12600.0, step)
    mid = 0.5 * (grid[1:] + grid[:-1])
    edges = np.concatenate([[grid[0] - step / 2], mid, [grid[-1] + step / 2]])
    total = np.sum(curve.per_pixel(grid) * np.diff(edges))
    assert total == pytest.approx(_integral(curve), rel=1e-10)


def test_per_pixel_nonuniform_grid_conserves_flux():
    curve = _triangle()
    grid = 9000.0 + np.cumsum(np.linspace(20.0, 60.0, 90))
    edges = np.concatenate(
        [
            [grid[0] - (grid[1] - grid[0]) / 2],
            0.5 * (grid[1:] + grid[:-1]),
            [grid[-1] + (grid[-1] - grid[-2]) / 2],
        ]
    )
    assert grid[0] < 10000 and grid[-1] > 12000
    total = np.sum(curve.per_pixel(grid) * np.diff(edges))
    assert total == pytest.approx(_integral(curve), rel=1e-10)


def test_per_pixel_values():
    w = np.array([1000.0, 2000.0])
    flat = SensitivityCurve(w, [4.0, 4.0], [0.0, 0.0])
    # bins of 1100 and 1500 lie inside; 500 and 2500 outside; 1000 and 1900 straddle the ends.
    grid = np.array([500.0, 1000.0, 1100.0, 1500.0, 1900.0, 2500.0])
    got = flat.per_pixel(grid)
    assert got[0] == 0.0 and got[-1] == 0.0
    assert np.allclose(got[2:4], 4.0)
    # partial bins: [750, 1050] has 50 of 300 Angstrom on the curve, [1700, 2200] 300 of 500
    assert got[1] == pytest.approx(4.0 * 50 / 300)
    assert got[4] == pytest.approx(4.0 * 300 / 500)
    ramp = SensitivityCurve(w, [0.0, 10.0], [0.0, 0.0])
    # linear curve: the bin mean equals the value at the bin centre
    assert ramp.per_pixel(np.array([1200.0, 1400.0, 1600.0])) == pytest.approx([2.0, 4.0, 6.0])


def test_per_pixel_rejects_bad_grid():
    with pytest.raises(InputError):
        _triangle().per_pixel(np.array([3.0, 2.0, 1.0]))


def test_counts_to_flambda_round_trip_and_edges():
    w = np.array([1000.0, 2000.0, 3000.0])
    curve = SensitivityCurve(w, [1e16, 1e16, 1e16], [0.0, 0.0, 0.0], "flat")
    wave = np.arange(500.0, 3600.0, 100.0)  # runs past both ends of the curve
    flux_true = np.linspace(1.0, 5.0, wave.size)  # 1e-17 erg/s/cm^2/A
    sens = curve.per_pixel(wave)
    counts = flux_true * sens * np.gradient(wave) * 1e-17
    counts2d = np.vstack([counts, 2 * counts])
    err2d = np.full_like(counts2d, 0.5)
    err2d[1, 10] = np.inf
    flux, err = counts_to_flambda(counts2d, err2d, wave, curve)
    usable = sens >= 1e-3 * sens.max()
    assert not usable[0] and not usable[-1]
    assert np.allclose(flux[0, usable], flux_true[usable])
    assert np.allclose(flux[1, usable], 2 * flux_true[usable])
    assert np.all(flux[:, ~usable] == 0) and np.all(np.isinf(err[:, ~usable]))
    assert np.isinf(err[1, 10])
    expected_err = 0.5 / (sens[usable] * np.gradient(wave)[usable] * 1e-17)
    assert np.allclose(err[0, usable], expected_err)
    assert not np.isnan(flux).any() and not np.isnan(err).any()
    assert np.allclose(counts_per_flambda(wave, curve), sens * np.gradient(wave) * 1e-17)


def test_counts_to_flambda_shape_mismatch():
    curve = _triangle()
    with pytest.raises(InputError):
        counts_to_flambda(np.zeros((2, 5)), np.zeros((2, 5)), np.arange(6.0) + 1e4, curve)
