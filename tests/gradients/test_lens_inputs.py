"""Lens models from users' data: each model's lens redshift (own, default, header; refused when
they disagree or none is known), and lens-model cut-outs that do not cover a galaxy's whole frame
(radii only where covered, an explicit mask elsewhere, refusals, the cheap coverage check, the
morphology and gradient fits on covered pixels only)."""

from __future__ import annotations

import copy
import logging
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import yaml
from astropy.io import fits
from astropy.wcs import WCS

from ohmap.config import check_samples, inference_settings, load_samples, validate_config
from ohmap.errors import InputError
from ohmap.gradients.analytic_lenses import Component, cored_isothermal, maps_on_grid
from ohmap.gradients.coverage import lens_coverage, lens_coverage_problem
from ohmap.gradients.galaxy import galaxy_gradients
from ohmap.gradients.lens_inputs import lens_model_inputs
from ohmap.gradients.lensing import LensModel
from ohmap.gradients.morphology import SourceMorphology, fit_source_morphology
from ohmap.gradients.products import (
    read_morphology,
    read_radius_map,
    write_morphology,
    write_radius_map,
)
from ohmap.gradients.radius import deprojected_radius, radius_map, stacked_map_radii
from ohmap.gradients.sky import tangent_plane_offsets, tangent_plane_to_sky
from ohmap.gradients.source_plane import stamp_source_offsets
from ohmap.io.hff import hff_paths, write_hff_maps
from ohmap.linemaps.maps import StackedMap

REPO = Path(__file__).resolve().parents[2]
RA0, DEC0 = 177.4, 22.4
Z_LENS, Z_SOURCE = 0.544, 1.8


def tan_wcs(ra, dec, n, scale):
    """North-up, east-left TAN WCS of an n x n grid of ``scale`` arcsec pixels centred on ra, dec."""
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [ra, dec]
    wcs.wcs.crpix = [(n + 1) / 2.0, (n + 1) / 2.0]
    wcs.wcs.cd = np.diag([-scale / 3600.0, scale / 3600.0])
    return wcs


def write_model(prefix, n=40, scale=0.5, z_lens=Z_LENS, header_z=True):
    """Small HFF maps of a cored isothermal sphere centred on (RA0, DEC0)."""
    wcs = tan_wcs(RA0, DEC0, n, scale)
    profile = partial(cored_isothermal, theta_e=5.0, core=2.0)
    maps = maps_on_grid([Component(profile, 0.0, 0.0)], wcs, (n, n), RA0, DEC0)
    write_hff_maps(prefix, *maps, wcs=wcs, z_lens=z_lens, model_name="cis")
    if not header_z:
        for path in hff_paths(prefix).values():
            with fits.open(path, mode="update") as hdul:
                del hdul[0].header["Z_LENS"]
    return str(prefix)


def cut_out(n, scale, dx_arcsec=0.0, dy_arcsec=0.0):
    """A lens with no deflection on an n x n cut-out centred dx east, dy north of (RA0, DEC0):
    source-plane offsets are then image-plane offsets, so radii can be computed by hand."""
    ra, dec = tangent_plane_to_sky(dx_arcsec, dy_arcsec, RA0, DEC0)
    zero = np.zeros((n, n))
    return LensModel(zero, zero, zero, zero, tan_wcs(float(ra), float(dec), n, scale), Z_LENS)


# --------------------------------------------------------------------------------------------
# Lens redshift of each model
# --------------------------------------------------------------------------------------------


def test_z_lens_own_then_default_then_header(tmp_path):
    a = write_model(tmp_path / "a", z_lens=0.544)
    b = write_model(tmp_path / "b", z_lens=0.3961)
    c = write_model(tmp_path / "c", z_lens=0.308)
    config = {
        "lens": {
            "z_lens": 0.3965,  # within 0.001 of b's header
            "models": {"a": {"prefix": a, "z_lens": 0.5445}, "b": b, "c": {"prefix": c}},
        }
    }
    with pytest.raises(InputError, match=r"c_x-arcsec-deflect.fits.*Z_LENS = 0.308.*lens.z_lens"):
        lens_model_inputs(config, "cfg.yaml")
    del config["lens"]["z_lens"]
    got = lens_model_inputs(config, "cfg.yaml")
    assert (got["a"].z_lens, got["a"].z_lens_source) == (0.5445, "lens.models.a.z_lens")
    assert got["a"].prefix == a
    assert got["b"].z_lens == pytest.approx(0.3961) and "Z_LENS in" in got["b"].z_lens_source
    assert got["c"].z_lens == pytest.approx(0.308)
    config["lens"]["z_lens"] = 0.3961
    got = lens_model_inputs(config, "cfg.yaml", names=["b", "a"])
    assert list(got) == ["b", "a"]
    assert (got["b"].z_lens, got["b"].z_lens_source) == (0.3961, "lens.z_lens")


def test_z_lens_disagreeing_with_the_header_is_refused(tmp_path):
    a = write_model(tmp_path / "a", z_lens=0.544)
    config = {"lens": {"z_lens": 0.544, "models": {"a": {"prefix": a, "z_lens": 0.396}}}}
    with pytest.raises(InputError) as err:
        lens_model_inputs(config, "cfg.yaml")
    text = str(err.value)
    assert "a_x-arcsec-deflect.fits" in text and "Z_LENS = 0.544" in text
    assert "lens.models.a.z_lens = 0.396" in text and "cfg.yaml" in text
    # The job's loader refuses the same disagreement.
    with pytest.raises(InputError, match=r"Z_LENS = 0.544 in the header differs from"):
        LensModel.from_hff(a, 0.396)
    assert LensModel.from_hff(a, 0.5443).z_lens == 0.5443


def test_no_lens_redshift_at_all_is_refused_naming_the_model(tmp_path):
    a = write_model(tmp_path / "a", header_z=False)
    with pytest.raises(InputError, match=r"lens model 'a' has no lens redshift"):
        lens_model_inputs({"lens": {"models": {"a": a}}}, "cfg.yaml")
    got = lens_model_inputs({"lens": {"z_lens": 0.5, "models": {"a": a}}})
    assert got["a"].z_lens == 0.5


def test_missing_maps(tmp_path):
    prefix = str(tmp_path / "later")
    config = {"lens": {"models": {"m": prefix}}}
    with pytest.raises(InputError, match=r"later_x-arcsec-deflect.fits: map file of lens model"):
        lens_model_inputs(config)
    # Maps the workflow writes (the mock): not known yet, and no error.
    got = lens_model_inputs(config, maps_exist_required=False)["m"]
    assert got.z_lens is None and "not known yet" in got.z_lens_source
    config["lens"]["models"]["m"] = {"prefix": prefix, "z_lens": 0.4}
    assert lens_model_inputs(config, maps_exist_required=False)["m"].z_lens == 0.4
    with pytest.raises(InputError, match="no lens model named 'x'"):
        lens_model_inputs(config, names=["x"])


def test_schema_takes_both_forms_and_check_samples_uses_each_galaxys_model(tmp_path):
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    schema = REPO / "workflow" / "schemas" / "config.schema.yaml"
    glafic = write_model(tmp_path / "glafic", z_lens=0.544)
    sharon = write_model(tmp_path / "sharon", z_lens=1.6)
    del config["lens"]["z_lens"]
    config["lens"]["models"] = {"glafic_v3": glafic, "sharon_v3": {"prefix": sharon}}
    config["mock"]["enabled"] = False
    validate_config(config, schema, "cfg.yaml")
    bad = copy.deepcopy(config)
    bad["lens"]["models"]["sharon_v3"]["zlens"] = 1.6
    with pytest.raises(InputError, match="lens.models.sharon_v3"):
        validate_config(bad, schema, "cfg.yaml")
    sheet = tmp_path / "galaxies.tsv"
    text = (REPO / "config" / "test" / "galaxies.tsv").read_text()
    sheet.write_text(
        text.replace(
            "05709\t177.397234\t22.406181\t1.68\tglafic_v3",
            "05709\t177.397234\t22.406181\t1.68\tsharon_v3",
        )
    )
    samples = load_samples(sheet, REPO / "workflow" / "schemas" / "galaxies.schema.yaml")
    assert samples.loc["05709", "lens_model"] == "sharon_v3"
    check_samples(samples, config, sheet)  # 1.68 is behind sharon's 1.6, 1.5 behind glafic's
    config["lens"]["models"]["sharon_v3"]["z_lens"] = 1.7
    with pytest.raises(InputError, match=r"Z_LENS = 1.6 .* lens.models.sharon_v3.z_lens = 1.7"):
        check_samples(samples, config, sheet)
    sharon = write_model(tmp_path / "sharon", z_lens=1.7)
    with pytest.raises(InputError, match=r"galaxy 05709, field 'redshift'.*sharon_v3"):
        check_samples(samples, config, sheet)
    config["lens"]["models"]["sharon_v3"] = str(tmp_path / "absent")
    with pytest.raises(InputError, match="absent_x-arcsec-deflect.fits"):
        check_samples(samples, config, sheet)
    config["mock"]["enabled"] = True  # the workflow writes the mock's maps
    config["lens"]["z_lens"] = 0.544
    check_samples(samples, config, sheet)


# --------------------------------------------------------------------------------------------
# Lens maps that do not cover the frame
# --------------------------------------------------------------------------------------------

MORPH = SourceMorphology(0.05, -0.02, 0.3, 0.15, 30.0, Z_SOURCE, lens_model="cut")


def frame_offsets(pa, pix, shape):
    """East and north offsets (arcsec) of the frame's pixel centres, by hand."""
    ny, nx = shape
    yy, xx = np.mgrid[0:ny, 0:nx]
    x, y = xx - (nx - 1) / 2, yy - (ny - 1) / 2
    t = np.radians(pa)
    return (x * np.sin(t) + y * np.cos(t)) * pix, (x * np.cos(t) - y * np.sin(t)) * pix


def test_cut_out_smaller_than_the_frame_gives_radii_inside_and_a_mask_outside(tmp_path, caplog):
    lens = cut_out(20, 0.2)  # covers +-2.0 arcsec
    shape, pix = (24, 24), 0.2  # +-2.4 arcsec
    rmap = radius_map(lens, Z_SOURCE, RA0, DEC0, 0.0, pix, shape, MORPH)
    east, north = frame_offsets(0.0, pix, shape)
    inside = (np.abs(east) < 2.0) & (np.abs(north) < 2.0)
    assert inside.sum() == 400
    np.testing.assert_array_equal(rmap.covered, inside)
    assert rmap.n_uncovered == 576 - 400
    np.testing.assert_allclose(
        rmap.radius_kpc[inside], deprojected_radius(east, north, MORPH)[inside], rtol=1e-6
    )
    assert np.isnan(rmap.radius_kpc[~inside]).all() and np.isnan(rmap.source_dx[~inside]).all()

    path = write_radius_map(
        tmp_path / "r.fits", rmap.radius_kpc, rmap.source_dx, rmap.source_dy, {}, rmap.covered
    )
    back = read_radius_map(path)
    np.testing.assert_array_equal(back.covered, inside)
    assert back.header["NUNCOV"] == 176 and "outside the lens-model maps" in str(back.header)
    with fits.open(path) as hdul:
        assert hdul["COVERED"].data.dtype == np.uint8 and hdul["COVERED"].data.sum() == 400
    with pytest.raises(InputError, match="finite exactly"):
        write_radius_map(tmp_path / "bad.fits", rmap.radius_kpc, rmap.source_dx, rmap.source_dy,
                         covered=np.ones(shape, bool))  # fmt: skip

    # On the spaxel grid a spaxel has a radius only if all its sub-pixels are covered.
    header = {"PIXSCALE": pix, "PA_X": 0.0, "REF_PA": "032"}
    galaxy = {"galaxy_id": "g1", "redshift": Z_SOURCE, "ra_deg": RA0, "dec_deg": DEC0,
              "lens_model": "cut"}  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="ohmap.gradients.radius"):
        radii = stacked_map_radii(lens, MORPH, galaxy, header, shape, 2)
    spaxels = radii["spaxels"][0]
    assert spaxels.covered.shape == (12, 12) and spaxels.n_uncovered == 144 - 100
    assert "44 of 144 spaxels" in caplog.text and "NUNCOV" in caplog.text
    assert radii["pixels"][0].n_uncovered == 176


def test_centre_off_the_lens_or_too_little_covered_is_refused():
    shape, pix = (24, 24), 0.2
    off = cut_out(20, 0.2, dx_arcsec=6.0)
    with pytest.raises(InputError, match=r"galaxy centre is off the lens-model maps") as err:
        radius_map(off, Z_SOURCE, RA0, DEC0, 0.0, pix, shape, MORPH)
    assert "arcsec east" in str(err.value) and "+4.0 to +8.0" in str(err.value)
    small = cut_out(10, 0.2)  # 100 of 576 pixels
    with pytest.raises(InputError, match=r"cover 100 of the 24 x 24 pixels .*50% needed"):
        radius_map(small, Z_SOURCE, RA0, DEC0, 0.0, pix, shape, MORPH)


def test_lens_coverage_problem(tmp_path):
    lens = cut_out(20, 0.2)  # +-2.0 arcsec
    assert lens_coverage_problem(lens, RA0, DEC0, 1.5) is None
    partly = lens_coverage(lens, RA0, DEC0, 3.0)
    assert partly.centre_covered and partly.fraction == pytest.approx(4 / 9, abs=0.02)
    assert partly.largest_half_size_arcsec == pytest.approx(2.0, abs=1e-3)
    assert "+-3.0 arcsec" in partly.problem and "-2.0 to +2.0 arcsec east" in partly.problem
    assert "fully only +-2.0 arcsec" in partly.problem
    ra, dec = tangent_plane_to_sky(0.0, 10.0, RA0, DEC0)
    away = lens_coverage(lens, float(ra), float(dec), 1.0)
    assert not away.centre_covered and away.fraction == 0.0
    assert "is not on the lens-model maps" in away.problem and "-12.0 to -8.0 arcsec north" in (
        away.problem
    )
    # From an HFF prefix only a header is read.
    prefix = write_model(tmp_path / "m", n=40, scale=0.5)  # +-10 arcsec
    assert lens_coverage_problem(prefix, RA0, DEC0, 9.0) is None
    assert "+-12.0 arcsec" in lens_coverage_problem(prefix, RA0, DEC0, 12.0)


def test_morphology_fit_uses_only_covered_pixels(tmp_path):
    n, scale = 40, 0.1
    wcs = tan_wcs(RA0, DEC0, n, scale)
    yy, xx = np.mgrid[0:n, 0:n]
    east, north = tangent_plane_offsets(*wcs.pixel_to_world_values(xx, yy), RA0, DEC0)
    truth = SourceMorphology(0.0, 0.0, 0.6, 0.3, 30.0, Z_SOURCE)
    t = np.radians(truth.pa_deg)
    a, b = east * np.sin(t) + north * np.cos(t), east * np.cos(t) - north * np.sin(t)
    image = 1e8 * np.exp(-0.5 * ((a / 0.6) ** 2 + (b / 0.3) ** 2))
    lens = cut_out(22, 0.1)  # +-1.1 arcsec: the 5% isophote reaches 1.3 arcsec north
    full = cut_out(60, 0.1)
    kwargs = dict(pixel_integration=False, galaxy="g1")
    with pytest.raises(InputError, match="fall outside"):  # as it was: every pixel traced
        stamp_source_offsets(lens, wcs, (n, n), Z_SOURCE, RA0, DEC0)
    m = fit_source_morphology(image, wcs, lens, Z_SOURCE, RA0, DEC0, **kwargs)
    reference = fit_source_morphology(image, wcs, full, Z_SOURCE, RA0, DEC0, **kwargs)
    assert m.n_uncovered > 0 and reference.n_uncovered == 0
    assert m.n_pixels + m.n_uncovered == reference.n_pixels
    assert m.axis_ratio == pytest.approx(0.5, abs=1e-3) and m.pa_deg == pytest.approx(30, abs=0.1)
    assert abs(m.x0) < 1e-3 and abs(m.y0) < 1e-3
    # Pixel-averaged models need each pixel's neighbours: the edge pixels go too.
    edge = fit_source_morphology(image, wcs, lens, Z_SOURCE, RA0, DEC0, galaxy="g1")
    assert edge.n_uncovered > m.n_uncovered and np.isfinite(edge.axis_ratio)
    back = read_morphology(write_morphology(tmp_path / "m.ecsv", m))
    assert back.n_uncovered == m.n_uncovered
    with pytest.raises(InputError, match="galaxy centre is off"):
        fit_source_morphology(image, wcs, cut_out(10, 0.1, 3.0), Z_SOURCE, RA0, DEC0, **kwargs)
    with pytest.raises(InputError, match="selected pixels are on the lens-model maps"):
        fit_source_morphology(image, wcs, cut_out(8, 0.1), Z_SOURCE, RA0, DEC0, **kwargs)


def test_gradient_fit_ignores_uncovered_spaxels():
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    settings = inference_settings(config, "config.yaml")
    factor = settings["spaxels"].bin_pixels
    ny = nx = 10
    yy, xx = np.mgrid[0:ny, 0:nx]
    radius = 0.3 * np.hypot(xx - 4.5, yy - 4.5)
    covered = (np.abs(xx - 4.5) < 3) & (np.abs(yy - 4.5) < 3)  # 36 of 100
    rng = np.random.default_rng(3)
    oh12 = 8.6 - 0.1 * radius + rng.normal(0, 0.01, radius.shape)
    oh12[~covered] = 9.6  # nonsense where the lens does not reach: must not enter the fit
    maps = {
        "FITTED": np.ones((ny, nx), bool),
        "OH12_LIM": np.zeros((ny, nx), int),
        "OH12": oh12,
        "OH12_P16": oh12 - 0.02,
        "OH12_P84": oh12 + 0.02,
    }
    shape = (ny * factor, nx * factor)
    faint = StackedMap("Ha", np.zeros(shape), np.ones(shape), np.ones(shape, int), [], 0.0, 1.0,
                       "mean", {})  # fmt: skip
    stacked = {"Ha": faint, "footprint": np.ones(shape, bool)}
    galaxy = {"galaxy_id": "g1", "redshift": 1.5, "nii_ha": None}
    options = {"min_spaxels": 5, "seed": 1}
    result = galaxy_gradients(maps, radius, stacked, galaxy, settings, options, covered=covered)
    row = result.gradients[0]
    assert row["method"] == "individual_spaxel" and row["n"] == 36
    assert row["slope"] == pytest.approx(-0.1, abs=0.02)
    assert result.gradients.meta["n_fitted_uncovered"] == 64
    assert result.n_fitted == 100
    # Without a mask the NaN radii of a radius map do the same.
    nan_radius = np.where(covered, radius, np.nan)
    again = galaxy_gradients(maps, nan_radius, stacked, galaxy, settings, options)
    assert again.gradients[0]["n"] == 36 and again.gradients.meta["n_fitted_uncovered"] == 64
