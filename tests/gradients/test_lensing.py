"""Lensing against analytic lenses whose answers are known by hand, and HFF map I/O."""

from __future__ import annotations

from functools import partial

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.cosmology import FlatLambdaCDM
from astropy.io import fits
from astropy.wcs import WCS

from ohmap.cosmology import COSMOLOGY
from ohmap.errors import InputError
from ohmap.gradients.analytic_lenses import (
    Component,
    cored_isothermal,
    maps_on_grid,
    point_mass_deflection,
    sis_deflection,
)
from ohmap.gradients.lensing import LensModel, distance_ratio
from ohmap.gradients.sky import tangent_plane_offsets, tangent_plane_to_sky
from ohmap.io.hff import HFF_SUFFIXES, hff_paths, read_hff_maps, write_hff_maps

RA0, DEC0 = 177.4, 22.4
Z_LENS, Z_SOURCE = 0.544, 1.8
THETA_E = 10.0  # arcsec


def independent_s(z_lens=Z_LENS, z_source=Z_SOURCE):
    """D_ls/D_s straight from astropy's two-redshift distance, not through ohmap."""
    cosmo = FlatLambdaCDM(H0=70, Om0=0.3)
    try:  # astropy >= 7.1 spells the lens-to-source distance this way
        d_ls = cosmo.angular_diameter_distance(z_lens, z_source)
    except TypeError:
        d_ls = cosmo.angular_diameter_distance_z1z2(z_lens, z_source)
    return float(d_ls / cosmo.angular_diameter_distance(z_source))


def make_wcs(n=400, scale=0.2, rotation_deg=0.0, east_left=True):
    """TAN WCS of an n x n map centred (between pixels) on RA0, Dec0; scale in arcsec/pixel."""
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [RA0, DEC0]
    wcs.wcs.crpix = [(n + 1) / 2.0, (n + 1) / 2.0]
    t = np.radians(rotation_deg)
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    flip = np.diag([-1.0 if east_left else 1.0, 1.0])
    wcs.wcs.cd = scale / 3600.0 * rot @ flip
    return wcs


def radial_maps_by_hand(profile, n=400, scale=0.2):
    """Maps of an axisymmetric lens centred on the map of :func:`make_wcs` (north up).

    For a radial deflection the component along a pixel axis is alpha(r) times the pixel-axis
    offset over r, whatever the orientation, so no WCS is needed here.
    """
    centre = (n - 1) / 2.0
    yy, xx = np.mgrid[0:n, 0:n].astype(float)
    ax, ay, kappa, g1, g2 = profile((xx - centre) * scale, (yy - centre) * scale)
    return ax, ay, kappa, np.hypot(g1, g2)


def offset_position(pa_deg, sep_arcsec):
    """Sky position at a position angle (east of north) and separation from RA0, Dec0."""
    c = SkyCoord(RA0 * u.deg, DEC0 * u.deg).directional_offset_by(
        np.asarray(pa_deg) * u.deg, np.asarray(sep_arcsec) * u.arcsec
    )
    return c.ra.deg, c.dec.deg


def sep_and_pa(ra, dec):
    """Separation (arcsec) and position angle (deg) of positions seen from RA0, Dec0."""
    centre = SkyCoord(RA0 * u.deg, DEC0 * u.deg)
    c = SkyCoord(np.asarray(ra) * u.deg, np.asarray(dec) * u.deg)
    return centre.separation(c).arcsec, centre.position_angle(c).deg


@pytest.fixture(scope="module")
def sis_prefix(tmp_path_factory):
    prefix = tmp_path_factory.mktemp("sis") / "hlsp_frontier_model_mock_sis_v1"
    maps = radial_maps_by_hand(partial(sis_deflection, theta_e=THETA_E))
    write_hff_maps(prefix, *maps, wcs=make_wcs(), z_lens=Z_LENS, model_name="sis")
    return prefix


@pytest.fixture(scope="module")
def point_mass_prefix(tmp_path_factory):
    prefix = tmp_path_factory.mktemp("pm") / "hlsp_frontier_model_mock_pm_v1"
    maps = radial_maps_by_hand(partial(point_mass_deflection, theta_e=THETA_E))
    write_hff_maps(prefix, *maps, wcs=make_wcs(), z_lens=Z_LENS, model_name="pm")
    return prefix


# A small asymmetric "cluster": a BCG-scale halo plus two galaxy-scale ones (east/north arcsec).
CLUSTER = [
    Component(partial(cored_isothermal, theta_e=12.0, core=3.0), 0.0, 0.0),
    Component(partial(cored_isothermal, theta_e=4.0, core=1.5), 12.0, -6.0),
    Component(partial(cored_isothermal, theta_e=2.5, core=1.0), -9.0, 10.0),
]


def cluster_truth(dx, dy):
    """Summed analytic deflection (east, north), kappa and |gamma| of CLUSTER at offsets."""
    total = np.zeros((5,) + np.shape(dx))
    for profile, x0, y0 in CLUSTER:
        total += np.array(profile(np.asarray(dx) - x0, np.asarray(dy) - y0))
    ax, ay, kappa, g1, g2 = total
    return ax, ay, kappa, np.hypot(g1, g2)


# --------------------------------------------------------------------------------------------
# distance ratio
# --------------------------------------------------------------------------------------------


def test_distance_ratio_matches_astropy_and_increases():
    s = distance_ratio(Z_LENS, Z_SOURCE)
    assert s == pytest.approx(independent_s(), rel=1e-10)
    assert 0.0 < s < 1.0
    ratios = [distance_ratio(Z_LENS, z) for z in (0.6, 1.0, 1.8, 3.0, 6.0)]
    assert all(r > 0 for r in ratios)
    assert np.all(np.diff(ratios) > 0)
    assert COSMOLOGY.H0.value == 70 and COSMOLOGY.Om0 == 0.3


@pytest.mark.parametrize("z_source", [Z_LENS, 0.3, 0.0])
def test_distance_ratio_rejects_source_not_behind_lens(z_source):
    with pytest.raises(ValueError, match="not behind the lens"):
        distance_ratio(Z_LENS, z_source)


# --------------------------------------------------------------------------------------------
# analytic lenses through the HFF files
# --------------------------------------------------------------------------------------------


def test_sis_magnification_and_source_position_20_arcsec_east(sis_prefix):
    model = LensModel.from_hff(sis_prefix)
    assert model.z_lens == pytest.approx(Z_LENS)
    s = independent_s()
    assert model.scale(Z_SOURCE) == pytest.approx(s, rel=1e-10)

    theta = 20.0
    ra, dec = offset_position(90.0, theta)  # PA 90 deg = due east
    mu = model.magnification(ra, dec, Z_SOURCE)
    assert mu == pytest.approx(theta / (theta - s * THETA_E), rel=0.01)
    assert model.magnification(ra, dec, Z_SOURCE, signed=True) > 0
    assert model.convergence(ra, dec, Z_SOURCE) == pytest.approx(
        s * THETA_E / (2 * theta), rel=1e-3
    )
    assert model.shear(ra, dec, Z_SOURCE) == pytest.approx(s * THETA_E / (2 * theta), rel=1e-3)

    # East-left map: due east is the -x pixel direction, so the radial deflection is along -x.
    ax, ay = model.deflection(ra, dec, Z_SOURCE)
    assert ax == pytest.approx(-s * THETA_E, abs=1e-3)
    assert ay == pytest.approx(0.0, abs=1e-3)

    ra_s, dec_s = model.image_to_source(ra, dec, Z_SOURCE)
    beta = theta - s * THETA_E
    sep, pa = sep_and_pa(ra_s, dec_s)
    assert sep == pytest.approx(beta, abs=0.02)
    assert sep * np.sin(np.radians(pa - 90.0)) == pytest.approx(0.0, abs=0.02)

    dx, dy = model.source_plane_offsets(ra, dec, Z_SOURCE, RA0, DEC0)
    assert dx == pytest.approx(beta, abs=0.02)  # east is positive
    assert dy == pytest.approx(0.0, abs=0.02)


def test_sis_sources_lie_on_line_through_centre_vectorised(sis_prefix):
    model = LensModel.from_hff(sis_prefix)
    s = independent_s()
    pa = np.array([[0.0, 37.0, 135.0], [200.0, 270.0, 315.0]])
    theta = np.array([[12.0, 20.0, 30.0], [25.0, 15.0, 35.0]])
    ra, dec = offset_position(pa, theta)
    ra_s, dec_s = model.image_to_source(ra, dec, Z_SOURCE)
    assert ra_s.shape == pa.shape
    sep, pa_s = sep_and_pa(ra_s, dec_s)
    np.testing.assert_allclose(sep, theta - s * THETA_E, atol=0.02)
    # Perpendicular distance from the line through the centre and the image.
    np.testing.assert_allclose(sep * np.sin(np.radians(pa_s - pa)), 0.0, atol=0.02)
    np.testing.assert_allclose(
        model.magnification(ra, dec, Z_SOURCE), theta / (theta - s * THETA_E), rtol=0.01
    )


def test_sis_inside_einstein_radius_has_negative_parity(sis_prefix):
    model = LensModel.from_hff(sis_prefix)
    s = independent_s()
    theta = 4.0  # < s * theta_E, so the image is on the far side and parity-flipped
    ra, dec = offset_position(45.0, theta)
    mu = model.magnification(ra, dec, Z_SOURCE, signed=True)
    assert mu == pytest.approx(theta / (theta - s * THETA_E), rel=0.01)
    assert mu < 0 and model.parity(ra, dec, Z_SOURCE) == -1
    sep, pa = sep_and_pa(*model.image_to_source(ra, dec, Z_SOURCE))
    assert sep == pytest.approx(s * THETA_E - theta, abs=0.02)
    assert (pa - 225.0 + 180.0) % 360.0 - 180.0 == pytest.approx(0.0, abs=0.5)


def test_point_mass_magnification_and_source_position(point_mass_prefix):
    model = LensModel.from_hff(point_mass_prefix, name="pm")
    s = independent_s()
    theta = np.array([14.0, 20.0, 28.0])
    ra, dec = offset_position(np.array([90.0, 160.0, 300.0]), theta)
    expected_mu = 1.0 / (1.0 - (s * THETA_E**2 / theta**2) ** 2)
    np.testing.assert_allclose(model.magnification(ra, dec, Z_SOURCE), expected_mu, rtol=0.01)
    np.testing.assert_allclose(model.convergence(ra, dec, Z_SOURCE), 0.0, atol=1e-9)
    sep, _ = sep_and_pa(*model.image_to_source(ra, dec, Z_SOURCE))
    np.testing.assert_allclose(sep, theta - s * THETA_E**2 / theta, atol=0.02)


def test_maps_on_grid_matches_hand_built_maps_and_puts_east_on_the_left():
    n, scale = 120, 0.25
    wcs = make_wcs(n, scale)
    hand = radial_maps_by_hand(partial(sis_deflection, theta_e=THETA_E), n, scale)
    grid = maps_on_grid([partial(sis_deflection, theta_e=THETA_E)], wcs, (n, n), RA0, DEC0)
    for a, b in zip(hand, grid):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)

    # A halo 6" east of the reference point peaks 24 pixels towards -x on an east-left map.
    east_halo = Component(partial(cored_isothermal, theta_e=5.0, core=0.5), 6.0, 0.0)
    _, _, kappa, _ = maps_on_grid([east_halo], wcs, (n, n), RA0, DEC0)
    row, col = np.unravel_index(np.argmax(kappa), kappa.shape)
    centre = (n - 1) / 2.0
    assert abs(col - (centre - 6.0 / scale)) <= 0.5 and abs(row - centre) <= 0.5


@pytest.mark.parametrize(
    "rotation_deg, east_left",
    [(0.0, True), (30.0, True), (-65.0, False)],
    ids=["north-up-east-left", "rotated-30", "rotated-east-right"],
)
def test_cluster_source_positions_any_wcs_orientation(tmp_path, rotation_deg, east_left):
    n, scale = 240, 0.3
    wcs = make_wcs(n, scale, rotation_deg, east_left)
    prefix = tmp_path / "cluster"
    write_hff_maps(
        prefix,
        *maps_on_grid(CLUSTER, wcs, (n, n), RA0, DEC0),
        wcs=wcs,
        z_lens=Z_LENS,
        model_name="cluster",
    )
    model = LensModel.from_hff(prefix)
    s = independent_s()

    rng = np.random.default_rng(3)
    # Within a circle so the points stay on the map whatever its rotation.
    r = 30.0 * np.sqrt(rng.uniform(0.0, 1.0, 40))
    phi = rng.uniform(0.0, 2.0 * np.pi, 40)
    dx, dy = r * np.cos(phi), r * np.sin(phi)
    ra, dec = tangent_plane_to_sky(dx, dy, RA0, DEC0)
    ax, ay, kappa, gamma = cluster_truth(dx, dy)

    bx, by = model.source_plane_offsets(ra, dec, Z_SOURCE, RA0, DEC0)
    np.testing.assert_allclose(bx, dx - s * ax, atol=0.01)
    np.testing.assert_allclose(by, dy - s * ay, atol=0.01)

    det = (1 - s * kappa) ** 2 - (s * gamma) ** 2
    keep = np.abs(det) > 0.05  # away from critical curves interpolation error is amplified
    np.testing.assert_allclose(
        model.magnification(ra, dec, Z_SOURCE, signed=True)[keep], 1.0 / det[keep], rtol=0.02
    )


def test_magnification_from_kappa_gamma_matches_deflection_jacobian():
    n, scale = 200, 0.3
    wcs = make_wcs(n, scale, rotation_deg=20.0)
    alpha_x, alpha_y, kappa, gamma = maps_on_grid(CLUSTER, wcs, (n, n), RA0, DEC0)
    s = independent_s()
    # Deflection in pixels; A = I - s * d(alpha_pix)/d(pixel). Determinants are invariant under
    # the pixel-to-sky rotation/flip, so this must match (1 - s k)^2 - (s g)^2.
    dxx = np.gradient(alpha_x / scale, axis=1)
    dxy = np.gradient(alpha_x / scale, axis=0)
    dyx = np.gradient(alpha_y / scale, axis=1)
    dyy = np.gradient(alpha_y / scale, axis=0)
    det_jac = (1 - s * dxx) * (1 - s * dyy) - s**2 * dxy * dyx
    det_kg = (1 - s * kappa) ** 2 - (s * gamma) ** 2

    yy, xx = np.mgrid[0:n, 0:n]
    ra, dec = wcs.pixel_to_world_values(xx, yy)
    east, north = tangent_plane_offsets(ra, dec, RA0, DEC0)
    far = np.ones((n, n), bool)
    for _, x0, y0 in CLUSTER:
        far &= np.hypot(east - x0, north - y0) > 3.0
    far[:2, :] = far[-2:, :] = far[:, :2] = far[:, -2:] = False  # one-sided differences
    assert far.sum() > 0.5 * n * n
    # Compare det(A) where it is exact to first order; 1/det only where it is not amplified.
    np.testing.assert_allclose(det_jac[far], det_kg[far], atol=2e-3)
    keep = far & (np.abs(det_kg) > 0.1)
    np.testing.assert_allclose(1 / det_jac[keep], 1 / det_kg[keep], rtol=0.01)
    # Convergence from the divergence of the deflection, as a second check of maps_on_grid.
    np.testing.assert_allclose(0.5 * (dxx + dyy)[keep], kappa[keep], atol=2e-3)


def test_tangent_plane_round_trip():
    dx = np.array([-40.0, 0.0, 13.5, 60.0])
    dy = np.array([25.0, -50.0, 0.0, 60.0])
    ra, dec = tangent_plane_to_sky(dx, dy, RA0, DEC0)
    assert ra[2] > RA0  # east is increasing RA
    back = tangent_plane_offsets(ra, dec, RA0, DEC0)
    np.testing.assert_allclose(back, (dx, dy), atol=1e-8)


# --------------------------------------------------------------------------------------------
# HFF I/O
# --------------------------------------------------------------------------------------------


def write_small(prefix, n=(30, 40), z_lens=0.396, **kwargs):
    rng = np.random.default_rng(0)
    maps = [rng.normal(size=n) for _ in range(4)]
    wcs = make_wcs(n=max(n), scale=0.5, rotation_deg=10.0)
    write_hff_maps(prefix, *maps, wcs=wcs, z_lens=z_lens, model_name="glafic_mock", **kwargs)
    return maps, wcs


def test_hff_paths_names():
    paths = hff_paths("/data/hlsp_frontier_model_macs1149_glafic_v3")
    assert set(paths) == set(HFF_SUFFIXES)
    assert paths["alpha_x"].name == "hlsp_frontier_model_macs1149_glafic_v3_x-arcsec-deflect.fits"
    assert paths["gamma"].name == "hlsp_frontier_model_macs1149_glafic_v3_gamma.fits"


def test_write_read_round_trip(tmp_path):
    prefix = tmp_path / "sub" / "hlsp_frontier_model_mock_glafic_v1"
    maps, wcs = write_small(prefix)
    read = read_hff_maps(prefix)
    for key, original in zip(("alpha_x", "alpha_y", "kappa", "gamma"), maps):
        got = getattr(read, key)
        assert got.dtype == np.float64
        np.testing.assert_array_equal(got, original.astype(np.float32))
    assert read.z_lens == pytest.approx(0.396)
    assert read.source_paths == hff_paths(prefix)
    xs, ys = np.array([0.0, 39.0, 17.3]), np.array([0.0, 29.0, 8.9])
    np.testing.assert_allclose(
        read.wcs.pixel_to_world_values(xs, ys),
        wcs.pixel_to_world_values(xs, ys),
        rtol=0,
        atol=1e-10,
    )
    header = fits.getheader(hff_paths(prefix)["alpha_x"])
    assert header["BUNIT"] == "arcsec" and header["MODEL"] == "glafic_mock"
    assert header["DLS_DS"] == 1.0 and header["BITPIX"] == -32
    assert fits.getheader(hff_paths(prefix)["kappa"])["BUNIT"] == ""
    with pytest.raises(OSError):
        write_small(prefix, overwrite=False)


def test_missing_z_lens_header(tmp_path):
    prefix = tmp_path / "noz"
    write_small(prefix)
    for path in hff_paths(prefix).values():
        with fits.open(path, mode="update") as hdul:
            del hdul[0].header["Z_LENS"]
    assert read_hff_maps(prefix).z_lens is None
    with pytest.raises(InputError, match="Z_LENS"):
        LensModel.from_hff(prefix)
    assert LensModel.from_hff(prefix, z_lens=0.3).z_lens == 0.3


# --------------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------------


def test_missing_gamma_file(tmp_path):
    prefix = tmp_path / "m"
    write_small(prefix)
    hff_paths(prefix)["gamma"].unlink()
    with pytest.raises(InputError, match="gamma map file is missing") as info:
        read_hff_maps(prefix)
    assert info.value.source.endswith("m_gamma.fits")


def test_mismatched_shapes(tmp_path):
    prefix = tmp_path / "m"
    write_small(prefix)
    path = hff_paths(prefix)["kappa"]
    header = fits.getheader(path)
    fits.writeto(path, np.zeros((30, 41), np.float32), header, overwrite=True)
    with pytest.raises(InputError, match=r"shape \(30, 41\)") as info:
        read_hff_maps(prefix)
    assert info.value.source.endswith("m_kappa.fits")


def test_nan_in_kappa(tmp_path):
    prefix = tmp_path / "m"
    write_small(prefix)
    path = hff_paths(prefix)["kappa"]
    with fits.open(path, mode="update") as hdul:
        hdul[0].data[5, 7] = np.nan
    with pytest.raises(InputError, match=r"non-finite.*x=7, y=5") as info:
        read_hff_maps(prefix)
    assert info.value.source.endswith("m_kappa.fits")


def test_differing_wcs(tmp_path):
    prefix = tmp_path / "m"
    write_small(prefix)
    path = hff_paths(prefix)["gamma"]
    with fits.open(path, mode="update") as hdul:
        hdul[0].header["CRVAL2"] += 1.0 / 3600.0  # shifted by 1 arcsec
    with pytest.raises(InputError, match="WCS differs") as info:
        read_hff_maps(prefix)
    assert info.value.source.endswith("m_gamma.fits")


def test_no_image_data_and_non_2d(tmp_path):
    prefix = tmp_path / "m"
    write_small(prefix)
    paths = hff_paths(prefix)
    fits.PrimaryHDU().writeto(paths["alpha_y"], overwrite=True)
    with pytest.raises(InputError, match="no image data"):
        read_hff_maps(prefix)
    write_small(prefix)
    header = fits.getheader(paths["kappa"])
    fits.writeto(paths["kappa"], np.zeros((2, 30, 40), np.float32), header, overwrite=True)
    with pytest.raises(InputError, match="2D") as info:
        read_hff_maps(prefix)
    assert info.value.source.endswith("m_kappa.fits")


def test_write_rejects_bad_maps(tmp_path):
    wcs = make_wcs(10)
    good = np.zeros((10, 10))
    bad = good.copy()
    bad[0, 0] = np.inf
    with pytest.raises(InputError, match="non-finite"):
        write_hff_maps(tmp_path / "w", good, good, bad, good, wcs, 0.3, "x")
    with pytest.raises(InputError, match="shape"):
        write_hff_maps(tmp_path / "w", good, good, good, np.zeros((10, 11)), wcs, 0.3, "x")
    assert not any(tmp_path.iterdir())


def test_position_outside_map_and_bad_redshift(sis_prefix):
    model = LensModel.from_hff(sis_prefix)
    ra, dec = offset_position(np.array([90.0, 0.0]), np.array([20.0, 60.0]))  # map is 80" wide
    with pytest.raises(InputError, match="1 of 2 position.*outside the lens-model map"):
        model.magnification(ra, dec, Z_SOURCE)
    with pytest.raises(InputError, match="outside"):
        model.image_to_source(RA0 + 1.0, DEC0, Z_SOURCE)
    with pytest.raises(InputError, match="not behind the lens"):
        model.deflection(ra[0], dec[0], 0.5)
