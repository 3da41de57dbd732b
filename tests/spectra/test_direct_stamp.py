"""A direct-image stamp for a spectrum without one, resampled from the sample sheet's images.

The orientation is checked with an asymmetric synthetic scene against the frame convention
(+x at the dispersion PA, +y 90 deg further, as ohmap.resample.frame_axes), with images of both
parities, and on the real GOODS-S 152 files: the beams file's REF (a detector cutout with its
own SIP WCS) resampled onto the stack's frame must be the object where the stack's trace is.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from ohmap.errors import InputError
from ohmap.resample import frame_axes
from ohmap.spectra.direct_stamp import frame_wcs, stamp_on_spectrum_frame
from ohmap.spectra.products import read_spectrum_product, write_spectrum_product
from ohmap.spectra.spectrum import Spectrum2D

RA, DEC = 53.1, -27.8
NY = 21
SCALE = 0.128


def _spectrum(dispersion_pa=270.0, ny=NY, direct=None, meta=None):
    nx = 30
    return Spectrum2D(
        galaxy="00007",
        pa_v3=dispersion_pa + 45.0,
        dispersion_pa=dispersion_pa,
        grism="G141",
        science=np.zeros((ny, nx)),
        error=np.ones((ny, nx)),
        contamination=np.zeros((ny, nx)),
        continuum=np.zeros((ny, nx)),
        wavelength=11000.0 + 46.0 * np.arange(nx),
        pixel_scale=SCALE,
        source="synthetic",
        direct_image=direct,
        meta=dict(meta or {}),
    )


def _scene(east, north):
    """An asymmetric scene (arcsec offsets from the galaxy): a core, a knot 0.64" east and a
    fainter, longer tail 0.9" north."""
    core = np.exp(-0.5 * (east**2 + north**2) / 0.15**2)
    knot = 0.6 * np.exp(-0.5 * ((east - 0.64) ** 2 + north**2) / 0.12**2)
    tail = 0.3 * np.exp(-0.5 * (east**2 / 0.1**2 + (north - 0.9) ** 2 / 0.25**2))
    return core + knot + tail


def _image(tmp_path, name, scale, size, east_left=True, rotation=0.0, centre_shift=(3.2, -1.7)):
    """A FITS image of the scene on a TAN grid: ``scale`` arcsec pixels, +y at ``rotation`` deg
    E of N, east to the left of +y (sky parity) or to the right (mirrored)."""
    t = np.radians(rotation)
    north_dir = np.array([np.sin(t), np.cos(t)])  # (east, north) of +y
    left = np.array([np.cos(t), -np.sin(t)])  # +x when east is to the right
    x_dir = -left if east_left else left
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [RA, DEC]
    # The galaxy is off the image centre, so a wrong centre would show.
    c = (size - 1) / 2.0
    wcs.wcs.crpix = [c + 1 + centre_shift[0], c + 1 + centre_shift[1]]
    wcs.wcs.cd = scale / 3600 * np.array([[x_dir[0], north_dir[0]], [x_dir[1], north_dir[1]]])
    rows, cols = np.mgrid[0:size, 0:size].astype(float)
    ra, dec = wcs.wcs_pix2world(cols, rows, 0)
    east = (ra - RA) * np.cos(np.radians(DEC)) * 3600
    north = (dec - DEC) * 3600
    data = _scene(east, north) * scale**2
    seg = np.where(_scene(east, north) > 0.2, 7, 0).astype(np.int32)
    seg[:3, :3] = 9  # a neighbour in a corner
    path = tmp_path / f"{name}.fits"
    fits.PrimaryHDU(data, header=wcs.to_header()).writeto(path)
    seg_path = tmp_path / f"{name}_seg.fits"
    fits.PrimaryHDU(seg, header=wcs.to_header()).writeto(seg_path)
    return path, seg_path


def _expected(dispersion_pa, centre_row=(NY - 1) / 2.0, ny=NY):
    """The scene on the spectrum frame from the convention alone (pixel centres)."""
    ex, ey = frame_axes(dispersion_pa)
    rows, cols = np.mgrid[0:ny, 0:ny].astype(float)
    x, y = (cols - (ny - 1) / 2.0) * SCALE, (rows - centre_row) * SCALE
    return _scene(x * ex[0] + y * ey[0], x * ex[1] + y * ey[1]) * SCALE**2


@pytest.mark.parametrize("east_left, rotation", [(True, 0.0), (False, 0.0), (True, 37.0)])
@pytest.mark.parametrize("dispersion_pa", [270.0, 0.0, 74.0])
def test_stamp_follows_the_frame_convention_whatever_the_image(
    tmp_path, east_left, rotation, dispersion_pa
):
    # Input pixels 4x smaller than the spectrum's, so the sub-sampled mean is close to the
    # pixel-centre value of the smooth scene.
    direct, seg = _image(tmp_path, "img", SCALE / 4, 120, east_left, rotation)
    spec = stamp_on_spectrum_frame(_spectrum(dispersion_pa), direct, seg, RA, DEC)
    stamp = spec.direct_image
    assert stamp.shape == (NY, NY)
    assert spec.meta["direct_stamp"]["subsample"] == 4
    expected = _expected(dispersion_pa)
    # Averaging over the pixel smooths the 0.12" knot a little.
    assert np.abs(stamp - expected).max() < 0.08 * expected.max()
    assert np.corrcoef(stamp.ravel(), expected.ravel())[0, 1] > 0.99
    ex, ey = frame_axes(dispersion_pa)
    # The knot 0.64" east is 5 pixels from the centre, on the side of +x and +y that point east.
    c = (NY - 1) // 2
    k = int(round(c + 5 * ex[0])), int(round(c + 5 * ey[0]))
    assert stamp[k[1], k[0]] > 0.4 * stamp[c, c]
    mirrored = int(round(c - 5 * ex[0])), int(round(c - 5 * ey[0]))
    assert stamp[mirrored[1], mirrored[0]] < 0.05 * stamp[c, c]
    # Segmentation: nearest neighbour, ids kept; the object's id is the one under the galaxy.
    assert spec.meta["direct_stamp"]["object_id"] == 7
    assert set(np.unique(spec.segmentation)) <= {0, 7, 9}
    assert spec.segmentation[c, c] == 7


def test_pa_270_of_a_north_up_image_of_the_same_pixels_is_the_image(tmp_path):
    """+x west, +y north: a north-up east-left image of the spectrum's pixel scale, centred on
    the galaxy, comes back unchanged (one sub-sample, no pixel-area factor)."""
    direct, seg = _image(tmp_path, "same", SCALE, NY, True, 0.0, centre_shift=(0.0, 0.0))
    spec = stamp_on_spectrum_frame(_spectrum(270.0), direct, seg, RA, DEC)
    image = fits.getdata(direct)
    assert spec.meta["direct_stamp"]["subsample"] == 1
    np.testing.assert_allclose(spec.direct_image, image, rtol=1e-6, atol=1e-9 * image.max())
    assert np.array_equal(spec.segmentation, fits.getdata(seg))


def test_flux_is_kept_and_the_stamp_centred_on_the_trace_row(tmp_path):
    direct, _ = _image(tmp_path, "img", SCALE / 3, 150)
    total = fits.getdata(direct).sum()
    spec = stamp_on_spectrum_frame(_spectrum(74.0, ny=41), direct, None, RA, DEC)
    assert spec.direct_image.sum() == pytest.approx(total, rel=0.02)
    assert spec.segmentation is None and spec.meta["direct_stamp"]["object_id"] is None
    # A grizli stack's trace is on row CRPIX2 - 1 (= ny/2 for its even heights), not the middle.
    shifted = stamp_on_spectrum_frame(
        _spectrum(74.0, ny=40, meta={"trace_center_row": 20.0}), direct, None, RA, DEC
    )
    expected = _expected(74.0, centre_row=20.0, ny=40)
    assert np.unravel_index(np.argmax(shifted.direct_image), (40, 40)) == (20, 20)
    assert np.abs(shifted.direct_image - expected).max() < 0.08 * expected.max()
    # Half a row lower in the middle-centred frame would be off by far more.
    middle = _expected(74.0, centre_row=19.5, ny=40)
    assert np.abs(shifted.direct_image - middle).max() > 0.2 * expected.max()


def test_a_spectrum_with_its_own_stamp_keeps_it_and_reads_nothing(tmp_path, caplog):
    own = np.ones((NY, NY))
    spec = _spectrum(direct=own)
    with caplog.at_level(logging.INFO, logger="ohmap"):
        out = stamp_on_spectrum_frame(spec, tmp_path / "absent.fits", None, RA, DEC)
    assert out is spec and out.direct_image is own
    assert "has its own direct-image stamp" in caplog.text and "not read" in caplog.text
    assert stamp_on_spectrum_frame(_spectrum(), None, None, RA, DEC).direct_image is None


def test_bad_images_name_the_file_and_the_field(tmp_path):
    spec = _spectrum()
    with pytest.raises(InputError, match="sample sheet field 'direct_image' of galaxy 00007: file"):
        stamp_on_spectrum_frame(spec, tmp_path / "absent.fits", None, RA, DEC)
    plain = tmp_path / "plain.fits"
    fits.PrimaryHDU(np.ones((30, 30))).writeto(plain)
    with pytest.raises(InputError, match=r"plain.fits: .*'direct_image'.*no celestial WCS"):
        stamp_on_spectrum_frame(spec, plain, None, RA, DEC)
    direct, _ = _image(tmp_path, "img", SCALE, 40)
    with pytest.raises(InputError, match=r"img.fits: .*'direct_image'.* outside the 40 x 40 image"):
        stamp_on_spectrum_frame(spec, direct, None, RA + 0.1, DEC)
    # A segmentation map without WCS is taken to share the direct image's when shapes match.
    seg = tmp_path / "seg_nowcs.fits"
    fits.PrimaryHDU(np.full((40, 40), 3, np.int32)).writeto(seg)
    out = stamp_on_spectrum_frame(spec, direct, seg, RA, DEC)
    assert out.meta["direct_stamp"]["object_id"] == 3
    small = tmp_path / "seg_small.fits"
    fits.PrimaryHDU(np.ones((10, 10), np.int32)).writeto(small)
    with pytest.raises(InputError, match=r"seg_small.fits: .*'segmentation'.*no celestial WCS"):
        stamp_on_spectrum_frame(spec, direct, small, RA, DEC)
    text = tmp_path / "text.fits"
    text.write_text("not a FITS file")
    with pytest.raises(InputError, match=r"text.fits: .*'direct_image'"):
        stamp_on_spectrum_frame(spec, text, None, RA, DEC)


def test_frame_wcs_is_the_frame_convention():
    wcs = frame_wcs(RA, DEC, 74.0, SCALE, (10.0, 11.0))
    ex, ey = frame_axes(74.0)
    for step, axis in (((1, 0), ex), ((0, 1), ey)):
        ra, dec = wcs.wcs_pix2world(10.0 + step[0], 11.0 + step[1], 0)
        east = (ra - RA) * np.cos(np.radians(DEC)) * 3600
        north = (dec - DEC) * 3600
        np.testing.assert_allclose([east, north], SCALE * axis, atol=1e-6)


def test_product_keeps_the_stamp_and_says_where_it_came_from(tmp_path):
    direct, seg = _image(tmp_path, "img", SCALE / 2, 60)
    spec = stamp_on_spectrum_frame(_spectrum(74.0), direct, seg, RA, DEC)
    out = tmp_path / "product.fits"
    write_spectrum_product(spec, out)
    back = read_spectrum_product(out)
    np.testing.assert_allclose(back.direct_image, spec.direct_image, rtol=1e-6)
    assert np.array_equal(back.segmentation, spec.segmentation)
    header = fits.getheader(out, "DIRECT")
    assert "img.fits" in header["DIRSRC"]
    assert WCS(header).has_celestial


# --- the real GOODS-S 152 files -------------------------------------------------------------


@pytest.mark.parametrize("grism, hdu", [("G102", 1), ("G141", 7)])
def test_real_beams_ref_on_the_stack_frame_is_the_object_on_the_trace(
    grizli_object_dir, wfc3_calibration_dir, tmp_path, grism, hdu
):
    """A REF of the beams file (detector cutout with a SIP WCS; its +y is at the dispersion
    PA + 90) stands in for the sample sheet's direct image and its SEG for the segmentation: on
    the stack's frame (dispersion PA 75 / 74, trace on row 32 of 64) the object must sit on the
    trace and look like REF itself, which is in that orientation already, and not like REF
    mirrored across the dispersion."""
    from scipy.ndimage import gaussian_filter, shift

    from ohmap.spectra.grizli_stack import read_grizli_stack

    with fits.open(grizli_object_dir / "j033216m2743_00152.beams.fits") as hdul:
        ra, dec = hdul[0].header["RA"], hdul[0].header["DEC"]
        direct, segpath = tmp_path / "ref.fits", tmp_path / "seg.fits"
        for path, h in ((direct, hdul[hdu]), (segpath, hdul[hdu + 1])):
            fits.PrimaryHDU(h.data, header=h.header).writeto(path)
        ref = hdul[hdu].data.astype(float)
        gx, gy = (float(v) for v in WCS(hdul[hdu].header).world_to_pixel_values(ra, dec))
    stack = read_grizli_stack(
        grizli_object_dir / "j033216m2743_00152.stack.fits", calibration_dir=wfc3_calibration_dir
    )
    block = next(s for s in stack if s.grism == grism)
    assert block.direct_image is None and block.meta["trace_center_row"] == 32.0
    spec = stamp_on_spectrum_frame(block, direct, segpath, ra, dec)
    stamp, ids = spec.direct_image, spec.segmentation
    assert stamp.shape == ids.shape == (64, 64)
    assert spec.meta["direct_stamp"]["object_id"] == 152 and ids[32, 31] == 152
    assert spec.meta["direct_stamp"]["direct_pixel"] == pytest.approx([gx, gy])
    assert stamp.sum() == pytest.approx(ref.sum(), rel=0.15)
    # The stack's own model of the object is centred on the trace row too (G102; the G141
    # block's trace leaves its stamp at the red end, see test_grizli_beams).
    if grism == "G102":
        profile = block.continuum.sum(axis=1)
        assert np.average(np.arange(64), weights=profile) == pytest.approx(32.0, abs=0.6)
    # REF moved so that the galaxy is at (row 32, column 31.5), as is, and mirrored across rows.
    same = shift(ref, (32 - gy, 31.5 - gx), order=1)
    mirrored = shift(ref[::-1], (32 - (63 - gy), 31.5 - gx), order=1)
    inner = (slice(20, 44), slice(20, 44))

    def r(a):
        return np.corrcoef(
            gaussian_filter(stamp, 1)[inner].ravel(), gaussian_filter(a, 1)[inner].ravel()
        )[0, 1]

    assert r(same) > 0.98 and r(same) > r(mirrored) + 0.03


# --- what the stamp is for: de-blending H-beta from [OIII] -------------------------------------


def test_without_a_stamp_the_refusal_says_why_and_the_sample_sheet_image_fixes_it(tmp_path):
    """No direct image (a grizli stack): the disc footprint is the contour, H-beta and [OIII]
    overlap in it and the message says so, naming the real limit; the sample sheet's image,
    resampled, gives an isophote and the lines are de-blended."""
    from linemap_helpers import gaussian_image, synthetic_spectrum
    from ohmap.linemaps.extract import extract_line_maps
    from ohmap.linemaps.settings import ExtractionSettings

    z = 1.5
    fluxes = {"Hb": 2.0, "OIII4960": 10.0 / 2.98, "OIII5008": 10.0}
    spec, _ = synthetic_spectrum(fluxes, z, noise=0.004, seed=2, direct=False)
    settings = ExtractionSettings(lines=("Hb", "OIII5008"))
    ex = extract_line_maps(spec, z, settings)
    texts = [d["reason"] for d in ex.decisions] + [
        m.info.get("deblend_note", "") for m in ex.maps.values()
    ]
    text = " ".join(texts)
    assert "the spectrum has no direct image" in text
    assert "contour_level_max (0.5 of the peak)" in text and "direct_image" in text
    assert "0.1 of the peak (the highest allowed)" not in text
    for m in ex.maps.values():
        assert np.isnan(m.info["contour_level"])
    # A north-up image of the same source, twice as finely sampled, as the sample sheet's.
    scale, size = spec.pixel_scale / 2, 160
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [RA, DEC]
    wcs.wcs.crpix = [(size + 1) / 2.0, (size + 1) / 2.0]
    wcs.wcs.cdelt = [-scale / 3600, scale / 3600]
    rows, cols = np.mgrid[0:size, 0:size].astype(float)
    east, north = -(cols - (size - 1) / 2.0) * scale, (rows - (size - 1) / 2.0) * scale
    ex_, ey_ = frame_axes(spec.dispersion_pa)
    x = (east * ex_[0] + north * ex_[1]) / spec.pixel_scale
    y = (east * ey_[0] + north * ey_[1]) / spec.pixel_scale
    path = tmp_path / "f160w.fits"
    fits.PrimaryHDU(gaussian_image(x, y), header=wcs.to_header()).writeto(path)
    stamped = stamp_on_spectrum_frame(spec, path, None, RA, DEC)
    ex = extract_line_maps(stamped, z, settings)
    for name in ("Hb", "OIII5008"):
        m = ex.maps[name]
        assert m.info["method"] == "deblended" and m.info["contour_clean"], name
        assert m.info["contour_level"] >= 0.1
        assert m.integrated_flux == pytest.approx(fluxes[name], abs=3 * m.integrated_error)
