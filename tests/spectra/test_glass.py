"""GLASS / 3D-HST 2D.fits reader: round trip of the mock files and every bad input."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from mock_helpers import simulate
from ohmap.errors import InputError
from ohmap.spectra.glass import parse_glass_filename, read_glass_2d


@pytest.fixture(scope="module")
def mock_04054(tmp_path_factory):
    out = tmp_path_factory.mktemp("mock")
    return simulate("04054", out)


def test_filename_parsing():
    info = parse_glass_filename("/data/MACS1149-032-G141_01422.2D.fits")
    assert info == {"field": "MACS1149", "pa": "032", "grism": "G141", "galaxy": "01422"}
    with pytest.raises(InputError, match="cannot read the PA"):
        parse_glass_filename("MACS1149_G141_01422.2D.fits")


def test_round_trip_units_and_geometry(mock_04054):
    path = next(p for p in mock_04054["spectra"] if "-119-G141_" in p.name)
    spec = read_glass_2d(path)
    assert (spec.galaxy, spec.pa, spec.grism) == ("04054", "119", "G141")
    assert spec.pa_v3 == 119.0 and spec.dispersion_pa == pytest.approx(74.0)
    assert spec.pixel_scale == pytest.approx(0.065)
    assert spec.exposure_time == pytest.approx(36088)
    with fits.open(path) as hdul:
        counts = hdul["SCI"].data.astype(float)
        conv = hdul["SENS"].data * hdul[0].header["GROWX"] * hdul[0].header["GROWY"]
        wave = hdul["WAVE"].data
    assert np.allclose(spec.wavelength, wave)
    assert np.median(np.diff(spec.wavelength)) == pytest.approx(22.0)
    ok = np.isfinite(spec.error)
    # flux density = counts / (SENS * GROWX * GROWY), independently recomputed here
    expected = counts[:, ok.any(axis=0)] / conv[None, ok.any(axis=0)]
    assert np.allclose(spec.science[:, ok.any(axis=0)], expected, rtol=1e-5)
    # columns without sensitivity carry no data, never NaN
    assert not np.isnan(spec.science).any() and not np.isnan(spec.error).any()
    assert (~ok).any() and ok.mean() > 0.8
    assert spec.direct_image.shape == (64, 64) and spec.segmentation.max() == 4054
    # the headers say what the numbers are, and the errors describe the data
    assert spec.meta["wht_convention"] == "error"
    assert spec.meta["wht_source"] == "WHT BUNIT = 'electron/s' and WHTERROR = T"
    assert spec.meta["pixel_scale_source"] == "the celestial WCS of DSCI"
    assert 0.9 < spec.meta["normalised_scatter"] < 1.2


def test_mock_stamp_wcs_follows_the_dispersion(mock_04054):
    for path in mock_04054["spectra"]:
        spec = read_glass_2d(path)
        with fits.open(path) as hdul:
            wcs = WCS(hdul["DSCI"].header)
            assert WCS(hdul["DSEG"].header).wcs.compare(wcs.wcs)
            sci = hdul["SCI"].header
            assert sci["CUNIT2"] == "arcsec" and sci["CD2_2"] == pytest.approx(spec.pixel_scale)
            wave = sci["CRVAL1"] + sci["CD1_1"] * (np.arange(spec.shape[1]) + 1 - sci["CRPIX1"])
            assert np.allclose(wave, spec.wavelength)
        c = (spec.direct_image.shape[0] - 1) / 2.0
        (ra0, ra1), (dec0, dec1) = wcs.pixel_to_world_values([c, c + 1], [c, c])
        east, north = (ra1 - ra0) * np.cos(np.radians(dec0)), dec1 - dec0
        assert np.degrees(np.arctan2(east, north)) % 360 == pytest.approx(spec.dispersion_pa)
        assert (ra0, dec0) == pytest.approx((spec.meta["ra"], spec.meta["dec"]))


def _copy(src, tmp_path, name=None):
    dst = tmp_path / (name or src.name)
    shutil.copy(src, dst)
    return dst


def _edit(path, func):
    with fits.open(path) as hdul:
        hdul = fits.HDUList([hdu.copy() for hdu in hdul])
    func(hdul)
    hdul.writeto(path, overwrite=True)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda h: h.pop(h.index_of("WHT")), "missing extension WHT"),
        (lambda h: h.pop(h.index_of("CONTAM")), "missing extension CONTAM"),
        (lambda h: setattr(h["MODEL"], "data", h["MODEL"].data[:10]), "extension MODEL has shape"),
        (
            lambda h: setattr(h["WAVE"], "data", h["WAVE"].data[:10]),
            "extension WAVE has 10 entries",
        ),
        (lambda h: h["WHT"].data.__setitem__((5, 5), np.nan), "NaN"),
        (lambda h: h["WHT"].data.__setitem__((5, 5), -1.0), "negative"),
        (lambda h: setattr(h["WHT"], "data", np.zeros_like(h["WHT"].data)), "zero everywhere"),
        (lambda h: h[0].header.__setitem__("GRISM", "G102"), "header says G102"),
    ],
)
def test_bad_inputs_name_file_and_problem(mock_04054, tmp_path, edit, message):
    path = _copy(next(p for p in mock_04054["spectra"] if "-032-G141_" in p.name), tmp_path)
    _edit(path, edit)
    with pytest.raises(InputError, match=message) as err:
        read_glass_2d(path)
    assert path.name in str(err.value)


def test_unknown_grism_and_unreadable_pa(mock_04054, tmp_path):
    src = mock_04054["spectra"][0]
    bad_grism = _copy(src, tmp_path, "MACS1149-032-G999_04054.2D.fits")
    with pytest.raises(InputError, match="unknown grism 'G999'"):
        read_glass_2d(bad_grism)
    no_pa = _copy(src, tmp_path, "MACS1149-G141_04054.2D.fits")
    with pytest.raises(InputError, match="cannot read the PA") as err:
        read_glass_2d(no_pa)
    assert "MACS1149-G141_04054.2D.fits" in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_glass_2d(tmp_path / "MACS1149-032-G141_04054.2D.fits")
