"""grizli ``*.stack.fits`` reader: the real GOODS-S 152 stack and synthetic bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from ohmap.errors import InputError
from ohmap.io.sensitivity import read_axe_sensitivity, sensitivity_file_from_conf
from ohmap.spectra.grizli_stack import read_grizli_stack

STACK = "j033216m2743_00152.stack.fits"
REDSHIFT = 1.7429


# --- the real stack ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real(grizli_object_dir, wfc3_calibration_dir):
    path = grizli_object_dir / STACK
    spectra = read_grizli_stack(path, calibration_dir=wfc3_calibration_dir)
    with fits.open(path) as hdul:
        raw = {
            (hdu.name, str(hdu.header["EXTVER"]).strip()): (
                hdu.header.copy(),
                hdu.data.astype(float),
            )
            for hdu in hdul[1:]
        }
    return path, {s.meta["extver"]: s for s in spectra}, raw


def _pixel_factor(spec, calibration_dir):
    """e-/s per pixel for 1e-17 erg/s/cm^2/A, rebuilt here from the CONF card and the curve."""
    conf = calibration_dir / spec.meta["conf"].split("/")[-1]
    curve = read_axe_sensitivity(sensitivity_file_from_conf(conf))
    sens = curve.per_pixel(spec.wavelength)
    return sens * np.gradient(spec.wavelength) * 1e-17, sens >= 1e-3 * sens.max()


def test_real_blocks_and_angles(real):
    path, spectra, _ = real
    assert sorted(spectra) == ["G102,75.0", "G141,74.0"]
    g102, g141 = spectra["G102,75.0"], spectra["G141,74.0"]
    assert (g102.grism, g102.dispersion_pa, g102.pa_v3, g102.pa) == ("G102", 75.0, 120.0, "120")
    assert (g141.grism, g141.dispersion_pa, g141.pa_v3, g141.pa) == ("G141", 74.0, 119.0, "119")
    for spec in (g102, g141):
        assert spec.galaxy == "00152"
        assert spec.pixel_scale == 0.128
        assert spec.exposure_time == pytest.approx(1102.935669)
        assert spec.source == str(path)
        assert spec.shape[0] == 64
        assert spec.meta["combined"] is False
        assert spec.meta["ra"] == pytest.approx(53.06575, abs=1e-5)
        assert spec.meta["dec"] == pytest.approx(-27.72051, abs=1e-5)
        assert spec.meta["isflam"] is False
        # No direct image in a stack; the trace (where a stamp is centred) is on row CRPIX2 - 1.
        assert spec.direct_image is None and spec.meta["trace_center_row"] == 32.0
        assert spec.meta["has_continuum_model"] is True
    assert g102.meta["pa_label_from"] == (
        "G102: EXTVER 'G102,75.0': dispersion PA 75 + 45 = PA_V3 120"
    )
    assert g102.meta["conf"] == "CONF/G102.F098M.V4.32.conf"
    assert g102.meta["sensitivity_file"].endswith("WFC3.IR.G102.1st.sens.2.fits")
    assert g141.meta["sensitivity_file"].endswith("GD153_g141_A_sens.v1.fits")


def test_real_wavelength_grid(real):
    _, spectra, raw = real
    g102 = spectra["G102,75.0"]
    assert g102.wavelength[0] == pytest.approx((0.975 + (1 - 90) * 0.0023) * 1e4)
    assert g102.wavelength[-1] == pytest.approx((0.975 + (178 - 90) * 0.0023) * 1e4)
    for extver, spec in spectra.items():
        header, data = raw[("SCI", extver)]
        x = np.arange(header["NAXIS1"])
        micron = header["CRVAL1"] + (x + 1 - header["CRPIX1"]) * header["CD1_1"]
        assert spec.wavelength.shape == (data.shape[1],)
        assert np.allclose(spec.wavelength, micron * 1e4, rtol=0, atol=1e-6)
    assert np.allclose(np.diff(spectra["G141,74.0"].wavelength), 46.0)


def test_real_error_inf_exactly_where_wht_zero(real):
    _, spectra, raw = real
    for extver, spec in spectra.items():
        wht = raw[("WHT", extver)][1]
        assert np.array_equal(np.isinf(spec.error), wht == 0)
        assert np.all(np.isfinite(spec.science)) and np.all(spec.error > 0)


def test_real_units_round_trip(real, wfc3_calibration_dir):
    """Multiplying back by sens * dlam gives the file's count rates (SCI + CONTAM, see reader)."""
    _, spectra, raw = real
    for extver, spec in spectra.items():
        factor, usable = _pixel_factor(spec, wfc3_calibration_dir)
        assert np.allclose(factor, spec.meta["counts_per_flambda"])
        sci = raw[("SCI", extver)][1]
        contam = raw[("CONTAM", extver)][1]
        model = raw[("MODEL", extver)][1]
        wht = raw[("WHT", extver)][1]
        u = np.broadcast_to(usable, sci.shape)
        assert np.allclose((spec.science * factor)[u], (sci + contam)[u], rtol=1e-6, atol=1e-9)
        assert np.allclose((spec.contamination * factor)[u], contam[u], rtol=1e-6, atol=1e-9)
        assert np.allclose((spec.continuum * factor)[u], model[u], rtol=1e-6, atol=1e-9)
        # grizli's SCI is already contamination-subtracted: science - contamination is it.
        clean = (spec.science - spec.contamination) * factor
        assert np.allclose(clean[u], sci[u], rtol=1e-6, atol=1e-7)
        good = u & (wht > 0)
        assert np.allclose((spec.error * factor)[good], 1 / np.sqrt(wht[good]), rtol=1e-6)


def test_real_sci_is_contamination_subtracted(real):
    """The fact behind adding CONTAM back: SCI has no excess where CONTAM is strong."""
    _, _, raw = real
    sci, contam, wht = (raw[(n, "G102,75.0")][1] for n in ("SCI", "CONTAM", "WHT"))
    strong = (contam > 0.015) & (wht > 0)
    assert strong.sum() > 100
    assert abs(sci[strong].mean()) < 0.3 * contam[strong].mean()


def test_real_oii_flux_plausible(real):
    """[OII]3727 (G102) summed over a box around the trace: order 1e-17..1e-15 erg/s/cm^2."""
    _, spectra, _ = real
    g102 = spectra["G102,75.0"]
    x = int(np.argmin(np.abs(g102.wavelength - 3728.5 * (1 + REDSHIFT))))
    line = np.where(g102.valid, g102.science - g102.contamination - g102.continuum, 0.0)
    dlam = np.gradient(g102.wavelength)
    flux = np.sum(line[29:37, x - 4 : x + 5] * dlam[x - 4 : x + 5]) * 1e-17
    assert 1e-17 < flux < 1e-15


def test_real_flux_density_scale(real):
    """Continuum model peak of a ~24 mag galaxy: 1e-20..1e-17 erg/s/cm^2/A per pixel."""
    _, spectra, _ = real
    for spec in spectra.values():
        peak = np.max(spec.continuum[spec.valid]) * 1e-17
        assert 1e-20 < peak < 1e-17


def test_real_g141_stack_misses_oiii(real):
    """In this file the G141 trace leaves the 64-row stamp before [OIII]5008 (13737 A)."""
    _, spectra, _ = real
    g141 = spectra["G141,74.0"]
    x = int(np.argmin(np.abs(g141.wavelength - 5008.24 * (1 + REDSHIFT))))
    assert not g141.valid[:, x].any()
    assert g141.valid[:, :60].any()


def test_real_combined_blocks(grizli_object_dir, wfc3_calibration_dir):
    spectra = read_grizli_stack(
        grizli_object_dir / STACK, calibration_dir=wfc3_calibration_dir, include_combined=True
    )
    assert [s.meta["extver"] for s in spectra] == ["G102,75.0", "G102", "G141,74.0", "G141"]
    combined = [s for s in spectra if s.meta["combined"]]
    assert [(s.grism, s.pa_v3) for s in combined] == [("G102", 120.0), ("G141", 119.0)]
    assert all(np.all(s.contamination == 0) for s in combined)


def test_real_counts_without_calibration(grizli_object_dir):
    path = grizli_object_dir / STACK
    with pytest.raises(InputError) as exc:
        read_grizli_stack(path)
    assert str(path) in str(exc.value) and "calibration_dir" in str(exc.value)


# --- synthetic stacks -------------------------------------------------------------------------

NY, NX = 6, 20


def block(
    extver,
    *,
    isflam=True,
    conf="CONF/G141.F140W.V4.32.conf",
    skip=(),
    shapes=None,
    wht=None,
    crval=1.4,
    cd=0.0046,
    crpix=10,
    combined=False,
):
    """Image extensions of one grizli block, imitating the real layout (micron axis, fake CTYPE)."""
    shapes = shapes or {}
    rng = np.random.default_rng(1)
    names = ("SCI", "WHT", "CONTAM", "MODEL", "KERNEL")
    if combined:
        names = tuple(n for n in names if n != "CONTAM")
    values = {
        "SCI": lambda s: rng.normal(0.0, 1.0, s),
        "WHT": lambda s: np.full(s, 4.0) if wht is None else wht,
        "CONTAM": lambda s: np.full(s, 0.5),
        "MODEL": lambda s: np.full(s, 0.25),
        "KERNEL": lambda s: np.ones(s),
    }
    hdus = []
    for name in names:
        if name in skip:
            continue
        shape = shapes.get(name, (NY, NY) if name == "KERNEL" else (NY, NX))
        hdu = fits.ImageHDU(np.asarray(values[name](shape), dtype=np.float32), name=name)
        h = hdu.header
        h["CRPIX1"], h["CRVAL1"], h["CD1_1"] = crpix, crval, cd
        h["CRPIX2"], h["CRVAL2"], h["CD2_2"] = NY // 2 + 1, 0.0, 1
        h["CTYPE1"], h["CUNIT1"] = "RA---TAN-SIP", "mas"  # grizli's placeholders
        if name == "SCI":
            h["EXPTIME"] = 1000.0
            h["ISFLAM"] = isflam
            h["CONF"] = conf
            h["BEAM"] = "A"
        h["EXTVER"] = extver
        hdus.append(hdu)
    return hdus


def write_stack(path, *blocks, isflam=True, object_id=7):
    primary = fits.PrimaryHDU()
    primary.header["ID"] = object_id
    primary.header["RA"], primary.header["DEC"] = 53.1, -27.8
    primary.header["ISFLAM"] = isflam
    hdus = [primary]
    for b in blocks:
        hdus.extend(b)
    fits.HDUList(hdus).writeto(path)
    return path


def _raises(path, *words, **kwargs):
    with pytest.raises(InputError) as exc:
        read_grizli_stack(path, **kwargs)
    message = str(exc.value)
    assert str(path) in message, message
    for word in words:
        assert word in message, message
    return message


def test_synthetic_flam_stack(tmp_path):
    wht = np.full((NY, NX), 4.0)
    wht[0, :3] = 0.0
    path = write_stack(
        tmp_path / "ok.stack.fits",
        block("G141,74.0", wht=wht),
        block("G102,300.0", crval=1.0, cd=0.0023),
    )
    spectra = read_grizli_stack(path)
    assert [s.grism for s in spectra] == ["G141", "G102"]
    g141, g102 = spectra
    assert g141.galaxy == "00007"
    assert (g141.pa_v3, g141.pa, g102.pa_v3, g102.pa) == (119.0, "119", 345.0, "345")
    with fits.open(path) as hdul:
        sci = hdul["SCI", "G141,74.0"].data.astype(float)
    assert np.allclose(g141.science, sci + 0.5)  # CONTAM added back
    assert np.allclose(g141.contamination, 0.5) and np.allclose(g141.continuum, 0.25)
    assert np.array_equal(np.isinf(g141.error), wht == 0)
    assert np.allclose(g141.error[wht > 0], 0.5)
    assert g141.wavelength[0] == pytest.approx((1.4 + (1 - 10) * 0.0046) * 1e4)
    assert g141.meta["counts_per_flambda"] is None and g141.meta["isflam"] is True


def test_synthetic_counts_stack_with_fake_calibration(tmp_path):
    calib = tmp_path / "calib"
    calib.mkdir()
    (calib / "FAKE.conf").write_text("SENSITIVITY_A wrong.fits\nSENSITIVITY_A flat_sens.fits\n")
    w = np.arange(9000.0, 19000.0, 1.0)
    columns = (("WAVELENGTH", w), ("SENSITIVITY", np.full(w.size, 2e16)), ("ERROR", 0 * w))
    cols = [fits.Column(name=n, format="D", array=a) for n, a in columns]
    table = fits.BinTableHDU.from_columns(cols)
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(calib / "flat_sens.fits")
    counts_block = block("G141,74.0", isflam=False, conf="CONF/FAKE.conf")
    path = write_stack(tmp_path / "counts.stack.fits", counts_block, isflam=False)
    (spec,) = read_grizli_stack(path, calibration_dir=calib)
    factor = 2e16 * 46.0 * 1e-17  # e-/s per pixel for 1e-17 erg/s/cm^2/A
    with fits.open(path) as hdul:
        sci = hdul["SCI", "G141,74.0"].data.astype(float)
    assert np.allclose(spec.science, (sci + 0.5) / factor)
    assert np.allclose(spec.error, 0.5 / factor)
    assert np.allclose(spec.continuum, 0.25 / factor)
    assert spec.meta["sensitivity_file"].endswith("flat_sens.fits")


def test_synthetic_conf_not_in_calibration_dir(tmp_path):
    path = write_stack(tmp_path / "c.stack.fits", block("G141,74.0", isflam=False), isflam=False)
    _raises(path, "G141.F140W.V4.32.conf", "not found", calibration_dir=tmp_path)


def test_nan_science_without_data_is_zeroed(tmp_path):
    wht = np.full((NY, NX), 4.0)
    wht[3, 5] = 0.0
    blk = block("G141,74.0", wht=wht)
    blk[0].data[3, 5] = np.nan
    (spec,) = read_grizli_stack(write_stack(tmp_path / "nansci.stack.fits", blk))
    assert spec.science[3, 5] == 0.5 and np.isinf(spec.error[3, 5])


def test_missing_wht(tmp_path):
    path = write_stack(tmp_path / "nowht.stack.fits", block("G141,74.0", skip=("WHT",)))
    _raises(path, "WHT", "G141,74.0")


def test_missing_contam(tmp_path):
    path = write_stack(tmp_path / "nocontam.stack.fits", block("G141,74.0", skip=("CONTAM",)))
    _raises(path, "CONTAM")


def test_mismatched_shapes(tmp_path):
    bad = block("G141,74.0", shapes={"CONTAM": (NY, NX - 1)})
    path = write_stack(tmp_path / "shape.stack.fits", bad)
    _raises(path, "CONTAM", "shape", f"({NY}, {NX - 1})")


def test_mismatched_wht_shape(tmp_path):
    bad = block("G141,74.0", shapes={"WHT": (NY + 1, NX)})
    path = write_stack(tmp_path / "whtshape.stack.fits", bad)
    _raises(path, "WHT", "shape")


def test_nan_wht(tmp_path):
    wht = np.full((NY, NX), 4.0)
    wht[2, 3] = np.nan
    path = write_stack(tmp_path / "nanwht.stack.fits", block("G141,74.0", wht=wht))
    _raises(path, "WHT", "NaN", "G141,74.0")


def test_negative_wht(tmp_path):
    wht = np.full((NY, NX), 4.0)
    wht[1, 1] = -1.0
    path = write_stack(tmp_path / "negwht.stack.fits", block("G141,74.0", wht=wht))
    _raises(path, "WHT", "negative", "G141,74.0")


def test_unknown_grism(tmp_path):
    path = write_stack(tmp_path / "g999.stack.fits", block("G999,10.0"))
    _raises(path, "G999", "unknown grism")


def test_unparseable_pa(tmp_path):
    path = write_stack(tmp_path / "pa.stack.fits", block("G141,abc"))
    _raises(path, "'abc'", "PA")


def test_counts_without_calibration_dir(tmp_path):
    path = write_stack(
        tmp_path / "isflamf.stack.fits", block("G141,74.0", isflam=False), isflam=False
    )
    _raises(path, "ISFLAM=F", "calibration_dir")


def test_missing_file(tmp_path):
    _raises(tmp_path / "absent.stack.fits", "not found")


def test_combined_blocks(tmp_path):
    path = write_stack(
        tmp_path / "comb.stack.fits",
        block("G141,74.0"),
        block("G141", combined=True),
        block("G102,10.0", crval=1.0, cd=0.0023),
        block("G102,100.0", crval=1.0, cd=0.0023),
        block("G102", crval=1.0, cd=0.0023, combined=True),
    )
    default = read_grizli_stack(path)
    assert [s.meta["extver"] for s in default] == ["G141,74.0", "G102,10.0", "G102,100.0"]
    with pytest.warns(UserWarning, match="2 position angles"):
        spectra = read_grizli_stack(path, include_combined=True)
    assert [s.meta["extver"] for s in spectra] == ["G141,74.0", "G141", "G102,10.0", "G102,100.0"]
    comb = spectra[1]
    assert comb.meta["combined"] is True and comb.pa_v3 == 119.0
    assert np.all(comb.contamination == 0)
    assert comb.meta["contamination_added_back"] is False


def test_wavelength_axis_not_in_micron(tmp_path):
    path = write_stack(tmp_path / "angstrom.stack.fits", block("G141,74.0", crval=14000.0, cd=46.0))
    _raises(path, "micron", "G141,74.0")
