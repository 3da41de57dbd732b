"""GLASS / 3D-HST 2D.fits: units, WHT's meaning and the pixel scale are read from the file, and
what cannot be interpreted is refused naming the file and the field."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from ohmap.errors import InputError
from ohmap.spectra.glass import read_glass_2d, write_glass_2d
from ohmap.spectra.glass_units import parse_unit

NAME = "MACS1149-119-G141_00042.2D.fits"
NY, NX = 25, 160
SCALE = 0.065


def _data(seed=3):
    """Noisy counts of a faint galaxy with a line, its continuum model and a neighbour."""
    rng = np.random.default_rng(seed)
    wave = 10500.0 + 46.5 * np.arange(NX) / 2.0
    rows = np.arange(NY)[:, None]
    cols = np.arange(NX)[None, :]
    profile = np.exp(-0.5 * ((rows - NY // 2) / 2.0) ** 2)
    continuum = 0.02 * profile * np.ones((1, NX))
    line = 0.4 * profile * np.exp(-0.5 * ((cols - 90) / 2.0) ** 2)
    contam = 0.05 * np.exp(-0.5 * ((rows - 4) / 1.5) ** 2) * np.ones((1, NX))
    sigma = rng.uniform(0.01, 0.05, (NY, NX))
    sigma[:, :6] = 0.0  # columns without data
    sigma[3, 40] = 0.0
    sens = np.full(NX, 2.0) * (1.0 + 0.3 * np.sin(cols[0] / 30.0))
    sens[-5:] = 0.0  # beyond the sensitivity curve
    science = continuum + line + contam + rng.normal(0.0, 1.0, (NY, NX)) * sigma
    model = continuum * 1.03  # a continuum model off by 3 per cent
    return dict(
        science_counts=science,
        error_counts=sigma,
        model_counts=model,
        contam_counts=contam * 0.95,
        wavelength=wave,
        sensitivity=sens,
        ytrace=np.full(NX, NY // 2 + 0.0),
        direct_image=rng.normal(0.0, 0.01, (NY, NY)) + profile * profile.T,
        segmentation=(profile * profile.T > 0.3).astype(int) * 42,
    )


def _cards(**extra):
    cards = {
        "ID": (42, "object id"),
        "RA": (177.4, "[deg]"),
        "DEC": (22.39, "[deg]"),
        "GRISM": ("G141", ""),
        "EXPTIME": (4000.0, "[s]"),
        "PIXSCALE": (SCALE, "[arcsec/pixel]"),
    }
    cards.update(extra)
    return cards


def _write(tmp_path, weight="error", name=NAME, data=None, cards=None, **kwargs):
    path = tmp_path / weight / name
    path.parent.mkdir(parents=True, exist_ok=True)
    write_glass_2d(
        path, **(data or _data()), header_cards=cards or _cards(), weight=weight, **kwargs
    )
    return path


def _edit(path, func):
    with fits.open(path) as hdul:
        hdul = fits.HDUList([hdu.copy() for hdu in hdul])
    func(hdul)
    hdul.writeto(path, overwrite=True)
    return path


def _refused(path, *fragments):
    with pytest.raises(InputError) as err:
        read_glass_2d(path)
    message = str(err.value)
    assert path.name in message
    for fragment in fragments:
        assert fragment in message, message
    return message


def _arrays(spec):
    return {
        name: getattr(spec, name) for name in ("science", "error", "continuum", "contamination")
    }


@pytest.mark.parametrize("weight", ["inverse_variance", "variance"])
def test_error_variance_and_inverse_variance_read_alike(tmp_path, weight):
    reference = read_glass_2d(_write(tmp_path, "error"))
    spec = read_glass_2d(_write(tmp_path, weight))
    assert spec.meta["wht_convention"] == weight
    assert reference.meta["wht_convention"] == "error"
    assert np.array_equal(np.isfinite(spec.error), np.isfinite(reference.error))
    ok = np.isfinite(reference.error)
    for name, ref in _arrays(reference).items():
        got = getattr(spec, name)
        assert np.allclose(got[ok], ref[ok], rtol=2e-6, atol=0), name
    assert spec.meta["normalised_scatter"] == pytest.approx(1.0, abs=0.1)
    assert spec.pixel_scale == reference.pixel_scale == pytest.approx(SCALE)


def test_the_written_headers_say_what_they_hold(tmp_path):
    with fits.open(_write(tmp_path, "inverse_variance")) as hdul:
        assert hdul["WHT"].header["BUNIT"] == "(ELECTRONS/S)**-2"
        assert hdul[0].header["WHTERROR"] is False
    with fits.open(_write(tmp_path, "error")) as hdul:
        assert hdul["WHT"].header["BUNIT"] == "electron/s"
        assert hdul[0].header["WHTERROR"] is True
        assert hdul["SCI"].header["CTYPE1"] == "WAVE"
        wave = hdul["SCI"].header["CRVAL1"] + hdul["SCI"].header["CD1_1"] * np.arange(NX)
        assert np.allclose(wave, hdul["WAVE"].data)
        assert hdul["SCI"].header["CD2_2"] == pytest.approx(SCALE)
        wcs = WCS(hdul["DSCI"].header)
    # +x of the stamp points along the dispersion (PA_V3 119 -> 74 deg E of N), +y 90 deg on
    c = (NY - 1) / 2.0
    ra0, dec0 = wcs.pixel_to_world_values(c, c)
    for (dx, dy), pa in (((1, 0), 74.0), ((0, 1), 164.0)):
        ra, dec = wcs.pixel_to_world_values(c + dx, c + dy)
        east = (ra - ra0) * np.cos(np.radians(dec0)) * 3600.0
        north = (dec - dec0) * 3600.0
        assert np.hypot(east, north) == pytest.approx(SCALE, rel=1e-4)
        assert np.degrees(np.arctan2(east, north)) % 360.0 == pytest.approx(pa, abs=1e-3)
    assert (ra0, dec0) == pytest.approx((177.4, 22.39))


@pytest.mark.parametrize(
    "text, expected",
    [
        ("ELECTRONS/S", "electron / s"),
        ("e-/s", "electron / s"),
        ("e/s", "electron / s"),
        ("electron s-1", "electron / s"),
        ("(ELECTRONS/S)**-2", "s2 / electron2"),
        ("(electron/s)^2", "electron2 / s2"),
    ],
)
def test_header_spellings_of_a_count_rate(text, expected):
    assert parse_unit(text) == parse_unit(expected.replace(" ", ""))


@pytest.mark.parametrize("spelling", ["ELECTRONS/S", "e-/s", "e/s"])
def test_count_rate_spellings_read_alike(tmp_path, spelling):
    reference = read_glass_2d(_write(tmp_path))

    def relabel(hdul):
        for name in ("SCI", "WHT", "MODEL", "CONTAM"):
            hdul[name].header["BUNIT"] = spelling

    spec = read_glass_2d(_edit(_write(tmp_path, name="MACS1149-119-G141_00043.2D.fits"), relabel))
    for name, ref in _arrays(reference).items():
        assert np.array_equal(getattr(spec, name), ref), name


def test_nothing_stated_is_the_documented_convention_and_logged(tmp_path, caplog):
    reference = read_glass_2d(_write(tmp_path))

    def strip(hdul):
        for name in ("SCI", "WHT", "MODEL", "CONTAM", "WAVE", "SENS"):
            del hdul[name].header["BUNIT"]
        del hdul[0].header["WHTERROR"]

    path = _edit(_write(tmp_path, name="MACS1149-119-G141_00043.2D.fits"), strip)
    with caplog.at_level(logging.INFO, logger="ohmap.spectra"):
        spec = read_glass_2d(path)
    text = caplog.text
    assert "assuming the GLASS/3D-HST convention" in text
    assert "documented unit assumed for SCI, MODEL, CONTAM: e-/s; WAVE: Angstrom; SENS" in text
    assert spec.meta["wht_convention"] == "error"
    for name, ref in _arrays(reference).items():
        assert np.array_equal(getattr(spec, name), ref), name


def test_whterror_alone_says_what_wht_is(tmp_path):
    reference = read_glass_2d(_write(tmp_path))
    path = _edit(_write(tmp_path, "inverse_variance"), lambda h: h["WHT"].header.remove("BUNIT"))
    spec = read_glass_2d(path)
    assert spec.meta["wht_convention"] == "inverse_variance"
    assert spec.meta["wht_source"] == "WHTERROR = F"
    ok = np.isfinite(reference.error)
    assert np.allclose(spec.error[ok], reference.error[ok], rtol=2e-6)


def _set(extension, key, value):
    def edit(hdul):
        hdul[extension].header[key] = value

    return edit


@pytest.mark.parametrize(
    "weight, edit, fragments",
    [
        ("error", _set("WHT", "BUNIT", "electron"), ["WHT", "BUNIT = 'electron'", "**-2"]),
        ("error", _set("WHT", "BUNIT", "banana/s"), ["WHT", "'banana/s'", "not a unit"]),
        (
            "inverse_variance",
            _set(0, "WHTERROR", True),
            ["WHT", "(ELECTRONS/S)**-2", "inverse variance", "WHTERROR = T"],
        ),
        ("variance", _set(0, "WHTERROR", False), ["WHT", "variance", "WHTERROR = F"]),
        ("error", _set(0, "WHTERROR", "yes"), ["WHTERROR = 'yes'", "boolean"]),
        ("error", _set("SCI", "BUNIT", "erg/s/cm2/Angstrom"), ["extension SCI", "count rate"]),
        ("error", _set("MODEL", "BUNIT", "DN/s"), ["extension MODEL", "'DN/s'", "count rate"]),
        ("error", _set("CONTAM", "BUNIT", "ct/s"), ["extension CONTAM", "'ct/s'"]),
        ("error", _set("SENS", "BUNIT", "erg/s"), ["extension SENS", "'erg/s'", "1e-17"]),
        ("error", _set("SENS", "BUNIT", "furlong/fortnight"), ["extension SENS", "not a unit"]),
        ("error", _set("WAVE", "BUNIT", "Hz"), ["extension WAVE", "'Hz'", "wavelength"]),
        ("error", _set("WAVE", "BUNIT", "micron"), ["extension WAVE spans", "G141"]),
        ("error", _set(0, "PIXSCALE", 0.13), ["PIXSCALE", "DSCI", "0.13", "0.065"]),
        ("error", _set("SCI", "CD2_2", 0.128), ["SCI's axis 2", "DSCI", "0.128"]),
        ("error", _set(0, "PIXSCALE", "wide"), ["PIXSCALE = 'wide'"]),
        (
            "inverse_variance",
            lambda h: h["WHT"].data.__setitem__((5, 50), np.inf),
            ["WHT (an inverse variance", "infinite"],
        ),
        (
            "variance",
            lambda h: h["WHT"].data.__setitem__((5, 50), -1.0),
            ["WHT (a variance", "1 negative values"],
        ),
        ("error", _set("DSCI", "CTYPE1", "RA---XYZ"), ["extension DSCI", "WCS"]),
    ],
)
def test_what_cannot_be_interpreted_is_refused(tmp_path, weight, edit, fragments):
    _refused(_edit(_write(tmp_path, weight), edit), *fragments)


def test_an_inverse_variance_labelled_as_an_error_is_caught_on_the_data(tmp_path):
    def mislabel(hdul):
        hdul["WHT"].header["BUNIT"] = "electron/s"
        del hdul[0].header["WHTERROR"]

    path = _edit(_write(tmp_path, "inverse_variance"), mislabel)
    message = _refused(path, "WHT", "a 1-sigma error", "robust scatter", "WHT BUNIT = 'electron/s'")
    # and it says what the file should carry
    assert "'(electron/s)**-2' or WHTERROR = F" in message


def test_a_variance_without_label_is_caught_on_the_data(tmp_path):
    def strip(hdul):
        del hdul["WHT"].header["BUNIT"]

    message = _refused(
        _edit(_write(tmp_path, "variance"), strip), "GLASS/3D-HST convention", "robust scatter"
    )
    assert "'(electron/s)**2'" in message


def _strip_wcs(hdul, keep_pixscale=False):
    for name in ("DSCI", "DSEG", "SCI", "WHT", "MODEL", "CONTAM"):
        header = hdul[name].header
        for key in list(header):
            if key[:5] in ("CTYPE", "CUNIT", "CRVAL", "CRPIX") or key.startswith("CD"):
                del header[key]
    if not keep_pixscale:
        del hdul[0].header["PIXSCALE"]


def test_no_wcs_and_no_pixscale_is_refused(tmp_path):
    path = _edit(_write(tmp_path), _strip_wcs)
    _refused(path, "no spatial pixel scale", "DSCI", "PIXSCALE", "CUNIT2")


def test_each_source_of_the_pixel_scale_alone(tmp_path):
    only_pixscale = _edit(_write(tmp_path), lambda h: _strip_wcs(h, keep_pixscale=True))
    assert read_glass_2d(only_pixscale).meta["pixel_scale_source"] == (
        "the primary keyword PIXSCALE"
    )

    def only_sci(hdul):
        sci = {k: hdul["SCI"].header[k] for k in ("CD2_2", "CUNIT2")}
        _strip_wcs(hdul)
        hdul["SCI"].header.update(sci)
        hdul["SCI"].header["CUNIT2"] = "mas"
        hdul["SCI"].header["CD2_2"] = 65.0

    spec = read_glass_2d(_edit(_write(tmp_path, name="MACS1149-119-G141_00043.2D.fits"), only_sci))
    assert spec.pixel_scale == pytest.approx(SCALE)
    assert spec.meta["pixel_scale_source"].startswith("SCI's axis 2")

    def only_dsci(hdul):
        for name in ("SCI", "WHT", "MODEL", "CONTAM"):
            del hdul[name].header["CD2_2"]
        del hdul[0].header["PIXSCALE"]

    path = _write(tmp_path, name="MACS1149-119-G141_00044.2D.fits", pixel_scale=0.1)
    spec = read_glass_2d(_edit(path, only_dsci))
    assert spec.pixel_scale == pytest.approx(0.1)
    assert spec.meta["pixel_scale_source"] == "the celestial WCS of DSCI"


def test_sens_per_erg_is_converted(tmp_path):
    reference = read_glass_2d(_write(tmp_path))
    data = _data()
    data["sensitivity"] = data["sensitivity"] * 1e17  # (e-/s) per (erg/s/cm2/A)

    def relabel(hdul):
        hdul["SENS"].header["BUNIT"] = "(electron/s)/(erg/s/cm2/Angstrom)"

    path = _edit(_write(tmp_path, name="MACS1149-119-G141_00043.2D.fits", data=data), relabel)
    spec = read_glass_2d(path)
    for name, ref in _arrays(reference).items():
        assert np.allclose(getattr(spec, name), ref, rtol=1e-12), name


@pytest.mark.parametrize("unit, scale", [("nm", 0.1), ("micron", 1e-4), ("Angstrom", 1.0)])
def test_wave_in_other_length_units(tmp_path, unit, scale):
    data = _data()
    reference = data["wavelength"].copy()
    data["wavelength"] = reference * scale
    path = _edit(_write(tmp_path, data=data), _set("WAVE", "BUNIT", unit))
    assert np.allclose(read_glass_2d(path).wavelength, reference, rtol=1e-12)
