"""grizli ``*.beams.fits`` reader: the real GOODS-S 152 beams, cross-checks against the drizzled
stack of the same exposures, and synthetic beams-like files."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from astropy.io import fits

from ohmap.errors import InputError
from ohmap.io.sensitivity import read_axe_sensitivity, sensitivity_file_from_conf
from ohmap.spectra.grisms import GRISMS
from ohmap.spectra.grizli_beams import read_grizli_beams
from ohmap.spectra.grizli_stack import read_grizli_stack
from ohmap.spectra.ingest import read_spectrum

BEAMS = "j033216m2743_00152.model-trace.beams.fits"
BEAMS_2020 = "j033216m2743_00152.beams.fits"
STACK = "j033216m2743_00152.stack.fits"
Z = 1.743
OII, HBETA = 3728.48 * (1 + Z), 4862.68 * (1 + Z)
OIII4960, OIII5008 = 4960.30 * (1 + Z), 5008.24 * (1 + Z)


@pytest.fixture(scope="module")
def beams(grizli_object_dir, wfc3_calibration_dir):
    # With calibration_dir the TRACE sensitivity is cross-checked; a mismatch would warn.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        spectra = read_grizli_beams(grizli_object_dir / BEAMS, calibration_dir=wfc3_calibration_dir)
    return {s.grism: s for s in spectra}


@pytest.fixture(scope="module")
def stack(grizli_object_dir, wfc3_calibration_dir):
    spectra = read_grizli_stack(grizli_object_dir / STACK, calibration_dir=wfc3_calibration_dir)
    return {s.grism: s for s in spectra}


@pytest.fixture(scope="module")
def raw(grizli_object_dir):
    """Per grism: the raw SCI/DQ arrays and the TRACE table of the model-trace file."""
    with fits.open(grizli_object_dir / BEAMS) as hdul:
        out = {}
        for i in range(1, len(hdul)):
            if hdul[i].name == "SCI":
                grism = hdul[i].header["FILTER"]
                out[grism] = {
                    name: hdul[i + k].data.astype(float)
                    for k, name in enumerate(("SCI", "ERR", "DQ", "CONTAM", "MODEL"))
                }
                out[grism]["TRACE"] = {
                    c: hdul[i + 5].data[c].astype(float)
                    for c in ("wavelength", "trace", "sensitivity")
                }
                out[grism]["CONFFILE"] = hdul[i].header["CONFFILE"].split("/")[-1]
    return out


def _box_flux(spec, obs, row, half_rows, half_width, side, exclude=()):
    """Line flux (1e-17 erg/s/cm^2) in a box: rows ``row +- half_rows``, wavelengths within
    ``half_width`` of ``obs``, minus a straight line fitted to the row-summed spectrum at
    ``side`` = (min, max) Angstrom from ``obs`` (fully valid columns only, away from
    ``exclude``d lines).  Pixels without data count as zero, as any box sum would."""
    rows = slice(row - half_rows, row + half_rows + 1)
    ok = spec.valid[rows]
    flux = np.where(ok, (spec.science - spec.contamination)[rows], 0.0).sum(0)
    var = np.where(ok, spec.error[rows] ** 2, 0.0).sum(0)
    wave = spec.wavelength
    dlam = np.gradient(wave)
    off = np.abs(wave - obs)
    line = off <= half_width
    cont = (off >= side[0]) & (off <= side[1]) & ok.all(0)
    for other in exclude:
        cont &= np.abs(wave - other) > half_width + dlam.mean()
    fit = np.polyfit(wave[cont], flux[cont], 1, w=1 / np.sqrt(var[cont]))
    resid = (flux - np.polyval(fit, wave)) * dlam
    return float(resid[line].sum()), float(np.sqrt((var * dlam**2)[line].sum())), ok[:, line]


def _continuum_row(spec, lo, hi):
    sel = (spec.wavelength > lo) & (spec.wavelength < hi)
    return int(np.argmax(spec.continuum[:, sel].sum(1)))


# --- the real beams file --------------------------------------------------------------------


def test_real_labels_shapes_and_stamps(beams, stack, grizli_object_dir):
    assert sorted(beams) == ["G102", "G141"]
    g102, g141 = beams["G102"], beams["G141"]
    # The PA is computed from the WCS and the trace tilt; it must give the stack's labels.
    assert (g102.dispersion_pa, g102.pa_v3, g102.pa) == (75.0, 120.0, "120")
    assert (g141.dispersion_pa, g141.pa_v3, g141.pa) == (74.0, 119.0, "119")
    for grism, spec in beams.items():
        assert (spec.pa, spec.dispersion_pa) == (stack[grism].pa, stack[grism].dispersion_pa)
        assert abs(spec.meta["dispersion_pa_exact"][0] - spec.dispersion_pa) < 0.5
        assert spec.galaxy == "00152"
        assert spec.pixel_scale == 0.128
        assert spec.exposure_time == pytest.approx(1102.935669)
        assert spec.source == str(grizli_object_dir / BEAMS)
        assert spec.shape[0] == 65 and spec.meta["trace_center_row"] == 32
        assert spec.direct_image.shape == spec.segmentation.shape == (64, 64)
        assert 152 in spec.segmentation
        # The object's segment is where grizli says the object is (ny/2 - 1 - YCENTER).
        rows, cols = np.nonzero(spec.segmentation == 152)
        weights = spec.direct_image[rows, cols]
        centroid = np.average(rows, weights=weights), np.average(cols, weights=weights)
        expected = spec.meta["direct_object_row"], spec.meta["direct_object_col"]
        assert centroid == pytest.approx(expected, abs=0.3)
    assert g102.shape == (65, 271) and g141.shape == (65, 245)
    assert g102.meta["exposures"] == ["ib6o21qmq_flt.fits"]
    assert g141.meta["exposures"] == ["ib6o23rsq_flt.fits"]
    assert g102.meta["layout"] == "TRACE"


def test_real_wavelength_from_trace_and_within_grism(beams, raw):
    for grism, spec in beams.items():
        assert np.array_equal(spec.wavelength, raw[grism]["TRACE"]["wavelength"])
        assert np.all(np.diff(spec.wavelength) > 0)
        with_data = spec.wavelength[spec.valid.any(axis=0)]
        # Data only where the grism transmits, and over all of ohmap's usable range.
        lo, hi = {"G102": (7400.0, 12300.0), "G141": (9800.0, 18000.0)}[grism]
        assert lo <= with_data.min() and with_data.max() <= hi
        assert with_data.min() <= GRISMS[grism].wavelength_min
        assert with_data.max() >= GRISMS[grism].wavelength_max
    assert np.allclose(np.diff(beams["G102"].wavelength), 25.0097, atol=2e-3)
    assert np.allclose(np.diff(beams["G141"].wavelength), 47.4087, atol=2e-3)


def test_real_sensitivity_is_per_pixel_with_dispersion(beams, raw, wfc3_calibration_dir):
    """TRACE sensitivity = aXe curve bin-averaged x dlam, so f = counts / sensitivity."""
    for grism, spec in beams.items():
        trace = raw[grism]["TRACE"]
        conf = wfc3_calibration_dir / raw[grism]["CONFFILE"]
        curve = read_axe_sensitivity(sensitivity_file_from_conf(conf))
        expected = curve.per_pixel(trace["wavelength"]) * np.gradient(trace["wavelength"])
        use = expected > 0.1 * expected.max()
        assert np.allclose(trace["sensitivity"][use], expected[use], rtol=1e-4)
        assert np.allclose(spec.meta["counts_per_flambda"], trace["sensitivity"] * 1e-17)


def test_real_rectified_values_are_interpolated_counts(beams, raw):
    """Central row = raw SCI interpolated at the 0-based trace (TRACE.trace - 1), / sensitivity."""
    for grism, spec in beams.items():
        r = raw[grism]
        y0 = r["TRACE"]["trace"] - 1.0
        c = spec.meta["trace_center_row"]
        rows = np.arange(r["SCI"].shape[0])
        per_unit = r["TRACE"]["sensitivity"] * 1e-17
        for x in np.nonzero(np.isfinite(spec.error[c]))[0][::7]:
            counts = np.interp(y0[x], rows, r["SCI"][:, x])
            assert spec.science[c, x] * per_unit[x] == pytest.approx(counts, rel=1e-5, abs=1e-9)
            k = int(np.floor(y0[x]))
            f = y0[x] - k
            err = np.hypot((1 - f) * r["ERR"][k, x], f * r["ERR"][k + 1, x])
            assert spec.error[c, x] * per_unit[x] == pytest.approx(err, rel=1e-5)


def test_real_trace_is_centred(beams):
    """The object's continuum peaks on the central row, in the data and in grizli's model."""
    for grism, spec in beams.items():
        lo, hi = {"G102": (8800, 11200), "G141": (11500, 16000)}[grism]
        sel = (spec.wavelength > lo) & (spec.wavelength < hi)
        c = spec.meta["trace_center_row"]
        data = np.where(spec.valid, spec.science - spec.contamination, 0.0)[:, sel].sum(1)
        assert abs(int(np.argmax(data)) - c) <= 1
        model = spec.continuum[:, sel].sum(1)
        assert np.average(np.arange(spec.shape[0]), weights=model) == pytest.approx(c, abs=0.5)


def test_real_error_inf_where_dq_flagged(beams, raw):
    for grism, spec in beams.items():
        r = raw[grism]
        y0 = r["TRACE"]["trace"] - 1.0
        c = spec.meta["trace_center_row"]
        usable = r["TRACE"]["sensitivity"] >= 1e-3 * r["TRACE"]["sensitivity"].max()
        n_checked = 0
        for row, x in zip(*np.nonzero(r["DQ"] != 0)):
            if not usable[x]:
                continue
            # Output rows whose sampling point lies within one row of the flagged pixel.
            touching = np.nonzero(np.abs(np.arange(spec.shape[0]) - c + y0[x] - row) < 1)[0]
            assert np.all(np.isinf(spec.error[touching, x])), (row, x)
            n_checked += 1
        assert n_checked > 100
        # Columns without usable sensitivity have no data at all.
        assert np.all(np.isinf(spec.error[:, ~usable]))
        assert np.all(spec.science[:, ~usable] == 0)


def test_real_model_scaled_to_counts(beams):
    """MODEL was computed from REF in e-/s; scaled by PHOTFLAM it matches the data's continuum."""
    for grism, spec in beams.items():
        assert "PHOTFLAM" in spec.meta["model_note"][0]
        lo, hi = {"G102": (8800, 11200), "G141": (11500, 16000)}[grism]
        sel = (spec.wavelength > lo) & (spec.wavelength < hi)
        rows = slice(26, 39)
        ok = spec.valid[rows][:, sel]
        clean = spec.science - spec.contamination - spec.meta["sky_residual"]
        data = clean[rows][:, sel][ok].sum()
        model = spec.continuum[rows][:, sel][ok].sum()
        assert 0.5 < data / model < 2.0


def test_real_continuum_matches_stack(beams, stack):
    """Same photons, two calibrations: the G102 continuum agrees within 10% (measured 5%)."""
    ratios = []
    for spec in (beams["G102"], stack["G102"]):
        c = _continuum_row(spec, 8800, 11200)
        data = np.where(spec.valid, spec.science - spec.contamination, np.nan)
        data[:, ~spec.valid.any(axis=0)] = 0.0
        # grizli's stack has its sky pedestal removed, the beams file does not: take each
        # column's median far from the trace off both.
        far = np.abs(np.arange(spec.shape[0]) - c) >= 8
        data = data - np.nanmedian(data[far], axis=0)
        sel = (spec.wavelength > 8800) & (spec.wavelength < 11200)
        box = data[c - 4 : c + 5][:, sel]
        n = np.isfinite(box).sum(0)
        per_column = np.where(n > 0, np.nansum(box, axis=0) * box.shape[0] / np.maximum(n, 1), 0.0)
        ratios.append(np.sum(per_column * np.gradient(spec.wavelength)[sel]))
    assert ratios[0] / ratios[1] == pytest.approx(1.0, abs=0.10)


def test_real_oii_flux_matches_stack(beams, stack):
    """[OII] box flux from the beams and from the stack agree within 25% (measured 3-9%)."""
    fluxes = []
    for spec in (beams["G102"], stack["G102"]):
        row = _continuum_row(spec, 8800, 11200)
        flux, err, ok = _box_flux(spec, OII, row, 3, 60.0, (100.0, 400.0))
        assert ok.mean() > 0.9
        fluxes.append((flux, err))
    (fb, eb), (fs, es) = fluxes
    assert fb > 2 * eb and fs > 2 * es  # ~5e-17 at S/N ~3 in one 1100 s exposure
    assert fb / fs == pytest.approx(1.0, abs=0.25)


def test_real_oiii_now_covered_and_detected(beams, stack):
    g141 = beams["G141"]
    c = g141.meta["trace_center_row"]
    # The stack's G141 trace has left its stamp there: not one pixel with data.
    k = int(np.argmin(np.abs(stack["G141"].wavelength - OIII5008)))
    assert not stack["G141"].valid[:, k].any()
    flux, err, ok = _box_flux(g141, OIII5008, c, 3, 70.0, (250.0, 700.0), exclude=(HBETA,))
    assert ok.mean() > 0.6
    assert flux > 3 * err and flux > 0
    # The doublet (blended at G141's resolution) together.
    middle = (OIII4960 + OIII5008) / 2
    flux2, err2, _ = _box_flux(g141, middle, c, 3, 136.0, (300.0, 800.0), exclude=(HBETA,))
    assert flux2 > 4 * err2 and flux2 > flux


# --- the 2020 layout --------------------------------------------------------------------------


def test_2020_layout_needs_calibration(grizli_object_dir):
    path = grizli_object_dir / BEAMS_2020
    with pytest.raises(InputError, match=r"exposure 0 \(ib6o21qmq_flt.fits\) has no TRACE") as info:
        read_grizli_beams(path)
    assert str(path) in str(info.value)
    assert "G102.F098M.V4.32.conf" in str(info.value)
    assert "write_master_fits" in str(info.value)


def test_2020_layout_from_header_matches_trace_file(grizli_object_dir, wfc3_calibration_dir, beams):
    old = {
        s.grism: s
        for s in read_grizli_beams(
            grizli_object_dir / BEAMS_2020, calibration_dir=wfc3_calibration_dir
        )
    }
    for grism, spec in beams.items():
        o = old[grism]
        assert o.meta["layout"] == "2020 (no TRACE)" and not o.meta["has_model"]
        # Zero is not a continuum model: the spectrum says it has none.
        assert o.meta["has_continuum_model"] is False and spec.meta["has_continuum_model"]
        assert (o.pa, o.shape) == (spec.pa, spec.shape)
        assert np.allclose(o.wavelength, spec.wavelength, atol=2e-3)
        assert np.array_equal(o.valid, spec.valid)
        ok = spec.valid
        # The header WCS gives the TRACE values to float32 precision (2e-6 pixel, 1e-3 A).
        assert np.all(np.abs(o.science - spec.science)[ok] < 1e-4 * spec.error[ok])
        assert np.allclose(o.error[ok], spec.error[ok], rtol=1e-4)
        assert np.all(o.continuum == 0)


def test_ingest_selects_pa_and_grism(grizli_object_dir):
    path = grizli_object_dir / BEAMS
    spec = read_spectrum(path, "grizli_beams", "00152", "119", "G141")
    assert spec.grism == "G141" and spec.pa == "119" and spec.galaxy == "00152"
    have = r"\(it has 120-G102, 119-G141\)"
    with pytest.raises(InputError, match=r"has no block for PA 032 G141 " + have) as info:
        read_spectrum(path, "grizli_beams", "00152", "032", "G141")
    # How the labels were derived: the beams file has no PA card, the PA comes from the WCS.
    message = str(info.value)
    assert "PA_V3 = dispersion PA + 45 deg" in message
    assert "G141: dispersion PA 74.38 deg (SCI header CD matrix and trace tilt) rounded" in message
    assert "to 74, PA_V3 = 74 + 45 = 119" in message


# --- synthetic files ------------------------------------------------------------------------

NY, NX = 20, 40
SENS = 2e18  # (e-/s per pixel) per (erg/s/cm^2/A): 20 e-/s for 1e-17
TRACE0 = 9.3  # 0-based trace row


def _exposure(name, wave0, sci_scale=1.0, dq_pixel=None, pa_x=30.0):
    """The HDUs of one synthetic G141 exposure: a flat 1e-17 spectrum on a Gaussian profile."""
    rows = np.arange(NY)[:, None]
    profile = np.exp(-0.5 * ((rows - TRACE0) / 1.5) ** 2)
    profile /= profile.sum()
    sci = np.repeat(profile * 20.0 * sci_scale, NX, axis=1)
    dq = np.zeros((NY, NX), dtype=np.int16)
    if dq_pixel is not None:
        dq[dq_pixel] = 4
    t, s = np.radians(pa_x), 0.128 / 3600
    header = fits.Header(
        {
            "FILTER": "G141",
            "EXPTIME": 100.0,
            "INSTRUME": "WFC3",
            "CD1_1": s * np.sin(t),
            "CD2_1": s * np.cos(t),
            "CD1_2": s * np.sin(t + np.pi / 2),
            "CD2_2": s * np.cos(t + np.pi / 2),
        }
    )
    hdus = [
        fits.ImageHDU(np.ones((NY, NY), np.float32), name="REF"),
        fits.ImageHDU(np.full((NY, NY), 7, np.int32), name="SEG"),
    ]
    for extname, data in (
        ("SCI", sci),
        ("ERR", np.full((NY, NX), 0.5)),
        ("DQ", dq),
        ("CONTAM", np.zeros((NY, NX))),
        ("MODEL", sci),
    ):
        hdus.append(fits.ImageHDU(data, header=header, name=extname))
    wave = wave0 + 46.0 * np.arange(NX)
    hdus.append(
        fits.BinTableHDU.from_columns(
            [
                fits.Column(name="wavelength", format="D", array=wave),
                fits.Column(name="trace", format="D", array=np.full(NX, TRACE0 + 1.0)),
                fits.Column(name="sensitivity", format="D", array=np.full(NX, SENS)),
            ],
            name="TRACE",
        )
    )
    return name, hdus


def _write(tmp_path, exposures, edit=None):
    primary = fits.PrimaryHDU()
    primary.header["ID"] = 7
    primary.header["COUNT"] = len(exposures)
    hdus = [primary]
    for i, (name, ext) in enumerate(exposures):
        primary.header[f"FILE{i:04d}"] = name
        primary.header[f"GRIS{i:04d}"] = "G141"
        primary.header[f"NEXT{i:04d}"] = len(ext)
        hdus.extend(ext)
    hdul = fits.HDUList(hdus)
    if edit:
        edit(hdul)
    path = tmp_path / "synthetic.beams.fits"
    hdul.writeto(path, overwrite=True)
    return path


def test_synthetic_single_exposure(tmp_path):
    path = _write(tmp_path, [_exposure("a_flt.fits", 12000.0, dq_pixel=(10, 5))])
    (spec,) = read_grizli_beams(path)
    assert spec.shape == (21, NX) and spec.meta["trace_center_row"] == 10
    assert spec.galaxy == "00007" and spec.grism == "G141"
    assert (spec.dispersion_pa, spec.pa_v3, spec.pa) == (30.0, 75.0, "075")
    assert np.allclose(spec.wavelength, 12000.0 + 46.0 * np.arange(NX))
    # Flux: 20 e-/s spread over the profile is 1e-17 erg/s/cm^2/A per column.
    inner = slice(1, 20)
    assert np.allclose(spec.science[inner, 10:].sum(0), 1.0, atol=1e-6)
    assert np.argmax(spec.science[:, 20]) == 10
    ok = spec.valid
    assert np.allclose(spec.continuum[ok], spec.science[ok])  # MODEL in e-/s: not rescaled
    assert spec.meta["model_scale"] == [1.0]
    # Sampling point of output row j is j - 0.7: the raw pixel (10, 5) touches rows 10 and 11.
    bad = np.isinf(spec.error[:, 5])
    assert np.array_equal(np.nonzero(bad)[0], [0, 10, 11, 20])
    # Edge rows sample outside the cutout.
    assert np.all(np.isinf(spec.error[[0, 20]]))
    # Variance propagation: 0.3^2 + 0.7^2 of (0.5 / 20)^2.
    assert spec.error[5, 20] == pytest.approx(0.5 / 20 * np.sqrt(0.3**2 + 0.7**2))


def test_synthetic_two_exposures_combined(tmp_path):
    # Second exposure half a pixel redder: it is resampled onto the first one's grid.
    path = _write(
        tmp_path,
        [_exposure("a_flt.fits", 12000.0, dq_pixel=(10, 5)), _exposure("b_flt.fits", 12023.0)],
    )
    (spec,) = read_grizli_beams(path)
    (tmp_path / "single").mkdir()
    (single,) = read_grizli_beams(_write(tmp_path / "single", [_exposure("a_flt.fits", 12000.0)]))
    assert spec.meta["exposures"] == ["a_flt.fits", "b_flt.fits"]
    assert spec.exposure_time == 200.0
    assert np.allclose(spec.science[1:20, 1:-1].sum(0), 1.0, atol=1e-6)
    assert np.all(spec.error[1:20, 1:-1] < single.error[1:20, 1:-1])
    # The flagged pixel of exposure a is covered by exposure b.
    assert np.isfinite(spec.error[10, 5])


def test_synthetic_different_pa_kept_apart(tmp_path):
    exposures = [_exposure("a_flt.fits", 12000.0), _exposure("b_flt.fits", 12000.0, pa_x=95.0)]
    path = _write(tmp_path, exposures)
    spectra = read_grizli_beams(path)
    assert [s.pa for s in spectra] == ["075", "140"]


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda h: h[0].header.__setitem__("NEXT0000", 9), "NEXT0000 = 9 extensions for exposure"),
        (
            lambda h: (h.pop(5), h[0].header.__setitem__("NEXT0000", 7)),
            r"exposure 0 \(a_flt.fits\) has no DQ extension",
        ),
        (lambda h: h[0].header.remove("COUNT"), "no COUNT card"),
        (
            lambda h: h[4].__setattr__("data", np.ones((NY, NX + 1))),
            r"ERR extension \(HDU 4\) of exposure 0 .* has shape",
        ),
        (
            lambda h: h[8].data.__setitem__("wavelength", h[8].data["wavelength"][::-1]),
            r"TRACE extension \(HDU 8\) of exposure 0 \(a_flt.fits\): wavelengths are not",
        ),
        (lambda h: h[8].data.__setitem__("sensitivity", -1.0), "column 'sensitivity' has negative"),
        (lambda h: h[3].header.remove("CD1_2"), r"SCI extension \(HDU 3\) .* has no CD1_2 card"),
        (lambda h: h[3].header.__setitem__("FILTER", "G800L"), "unknown grism 'G800L'"),
    ],
)
def test_synthetic_bad_inputs(tmp_path, edit, message):
    path = _write(tmp_path, [_exposure("a_flt.fits", 12000.0)], edit=edit)
    with pytest.raises(InputError, match=message) as info:
        read_grizli_beams(path)
    assert str(path) in str(info.value)


def test_synthetic_trace_without_column(tmp_path):
    def edit(hdul):
        cols = [c for c in hdul[8].columns if c.name != "sensitivity"]
        hdul[8] = fits.BinTableHDU.from_columns(cols, name="TRACE")

    path = _write(tmp_path, [_exposure("a_flt.fits", 12000.0)], edit=edit)
    message = r"TRACE extension \(HDU 8\) of exposure 0 \(a_flt.fits\) has no column 'sensitivity'"
    with pytest.raises(InputError, match=message):
        read_grizli_beams(path)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_grizli_beams(tmp_path / "nothing.beams.fits")
