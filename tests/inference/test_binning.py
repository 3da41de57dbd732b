"""Spatial binning of the per-spaxel fits: ``binning: paper`` as before, ``binning: voronoi``
(vorbin) bins of a target S/N, their plan, shards, maps and individual-spaxel gradient.

Expectations are computed here from the raw pixel maps (sums of 2 x 2 blocks, sums over a bin's
members, errors in quadrature), not with ohmap's binning helpers.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from scipy import ndimage

from ohmap.errors import InputError
from ohmap.gradients.individual_spaxels import individual_spaxel_gradient, spaxel_points
from ohmap.gradients.linear_fit import fit_linear_with_scatter
from ohmap.inference.binning import GOOD_FRACTION, voronoi_bin_ids
from ohmap.inference.products.shards import read_shard, write_shard
from ohmap.inference.products.spaxel_maps import (
    read_spaxel_maps,
    spaxel_map_cards,
    write_spaxel_maps,
)
from ohmap.inference.settings import InferenceSettings, SamplerSettings, SpaxelSettings
from ohmap.inference.shard_fit import fit_shard
from ohmap.inference.spaxels import plan_bin_ids, read_plan, select_spaxels, write_plan

LINES = ("OII", "Hb", "OIII5008", "Ha")
AMPLITUDE = {"OII": 1.5, "Hb": 1.0, "OIII5008": 2.5, "Ha": 3.0}
NOISE = {"OII": 0.6, "Hb": 0.4, "OIII5008": 0.5, "Ha": 0.35}
SIZE = 72  # interlaced pixels per side: 36 x 36 native spaxels
SCALE_PX = 9.0  # disk scale length, interlaced pixels
FOOTPRINT_PX = 26.0  # footprint radius, interlaced pixels


def _disk(seed=0, size=SIZE, amplitude=AMPLITUDE, noise=NOISE):
    """An exponential disk in every line with known Gaussian noise, and its footprint."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    r = np.hypot(yy - (size - 1) / 2, xx - (size - 1) / 2)
    stacks = {}
    for line in LINES:
        error = np.full((size, size), noise[line])
        flux = amplitude[line] * np.exp(-r / SCALE_PX) + rng.normal(0, noise[line], r.shape)
        stacks[line] = SimpleNamespace(flux=flux, error=error)
    return stacks, r < FOOTPRINT_PX


def _blocks(a):
    n = a.shape[0] // 2
    return a[: 2 * n, : 2 * n].reshape(n, 2, n, 2)


def _native(stacks, line):
    """Native 2 x 2 sums and quadrature errors, by hand."""
    f = _blocks(stacks[line].flux).sum(axis=(1, 3))
    e = np.sqrt((_blocks(stacks[line].error) ** 2).sum(axis=(1, 3)))
    return f, e


def _members(row):
    return np.array([int(m) for m in str(row["members"]).split(",")])


# -- binning: paper ---------------------------------------------------------------------------


def test_paper_binning_is_the_per_spaxel_selection():
    stacks, footprint = _disk(1)
    stacks["Ha"].error[:4, :6] = np.inf  # no data in a corner
    table, shape = select_spaxels(stacks, SpaxelSettings(), "g", footprint=footprint)
    assert shape == (SIZE // 2, SIZE // 2)
    nx = shape[1]
    snr = {n: _native(stacks, n)[0] / _native(stacks, n)[1] for n in ("Ha", "OIII5008")}
    best = np.maximum(snr["Ha"], snr["OIII5008"])
    iy, ix = np.nonzero(best >= 5.0)
    assert list(table["spaxel"]) == list(iy * nx + ix)
    assert list(table["iy"]) == list(iy) and list(table["ix"]) == list(ix)
    for line in LINES:
        f, e = _native(stacks, line)
        f = np.where(np.isfinite(e), f, 0.0)
        np.testing.assert_allclose(table[f"{line}_flux"], f[iy, ix], rtol=1e-12)
        np.testing.assert_allclose(table[f"{line}_err"], e[iy, ix], rtol=1e-12)
    np.testing.assert_allclose(table["snr_max"], best[iy, ix], rtol=1e-12)
    assert list(table["selected_by"]) == [
        "Ha" if snr["Ha"][y, x] >= snr["OIII5008"][y, x] else "OIII5008" for y, x in zip(iy, ix)
    ]
    # The plan is that of before: no bin columns; the footprint is not used.
    assert "members" not in table.colnames and "n_spaxels" not in table.colnames
    assert table.meta["binning"] == "paper"
    same, _ = select_spaxels(stacks, SpaxelSettings(), "g")
    assert all(np.array_equal(same[c], table[c]) for c in table.colnames)
    bins = plan_bin_ids(table)
    assert bins.dtype == np.int32 and bins.shape == shape
    expected = np.full(shape, -1)
    expected[iy, ix] = iy * nx + ix
    np.testing.assert_array_equal(bins, expected)


# -- binning: voronoi -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def disk_plan():
    stacks, footprint = _disk(2)
    settings = SpaxelSettings(binning="voronoi", target_snr=10.0, min_snr=0.1)
    table, shape = select_spaxels(stacks, settings, "g", footprint=footprint)
    return stacks, footprint, settings, table, shape


def test_voronoi_bins_reach_the_target_and_tile_the_footprint(disk_plan):
    stacks, footprint, settings, table, shape = disk_plan
    nx = shape[1]
    fp = _blocks(footprint).sum(axis=(1, 3)) >= 2
    assert table.meta["binning"] == "voronoi" and table.meta["binning_line"] == "Ha"
    assert table.meta["target_snr"] == 10.0
    assert 30 < len(table) < fp.sum() / 2  # bins of several spaxels, and many of them
    assert np.any(table["n_spaxels"] == 1) and np.max(table["n_spaxels"]) > 4
    f, e = _native(stacks, "Ha")
    seen = np.zeros(shape, dtype=int)
    for row in table:
        m = _members(row)
        assert list(m) == sorted(m) and m.size == row["n_spaxels"]
        my, mx = np.divmod(m, nx)
        assert fp[my, mx].all()
        seen[my, mx] += 1
        # the anchor is a member and gives the bin its id and position
        assert row["spaxel"] in m and (row["iy"], row["ix"]) == divmod(row["spaxel"], nx)
        mask = np.zeros(shape, bool)
        mask[my, mx] = True
        assert ndimage.label(mask, structure=np.ones((3, 3)))[1] == 1  # contiguous
        snr = f[my, mx].sum() / np.sqrt((e[my, mx] ** 2).sum())
        assert snr >= GOOD_FRACTION * 10.0
        assert row["Ha_flux"] / row["Ha_err"] == pytest.approx(snr, rel=1e-12)
    # every footprint spaxel is in exactly one bin (all fitted: min_snr is low)
    np.testing.assert_array_equal(seen, fp.astype(int))


def test_voronoi_bin_fluxes_are_member_sums_with_errors_in_quadrature(disk_plan):
    stacks, _, _, table, shape = disk_plan
    nx = shape[1]
    for line in LINES:
        f, e = _native(stacks, line)
        for row in table:
            my, mx = np.divmod(_members(row), nx)
            assert row[f"{line}_flux"] == pytest.approx(f[my, mx].sum(), rel=1e-12)
            assert row[f"{line}_err"] == pytest.approx(np.sqrt((e[my, mx] ** 2).sum()), rel=1e-12)


def test_voronoi_bin_id_map_matches_the_plan_and_survives_ecsv(disk_plan, tmp_path):
    _, _, settings, table, shape = disk_plan
    bins = plan_bin_ids(table)
    assert bins.shape == shape and bins.dtype == np.int32
    for row in table:
        assert set(np.flatnonzero(bins.ravel() == row["spaxel"])) == set(_members(row))
    assert set(np.unique(bins[bins >= 0])) == set(table["spaxel"])
    written = write_plan(tmp_path / "plan.ecsv", table, "g", shard_size=7)
    back = read_plan(tmp_path / "plan.ecsv")
    assert back.meta["n_shards"] == -(-len(table) // 7) and list(back["shard"]) == list(
        written["shard"]
    )
    assert back["members"].dtype.kind == "U"  # "123" stays a string of ids
    assert list(back["members"]) == list(table["members"])
    np.testing.assert_array_equal(plan_bin_ids(back), bins)


def test_voronoi_binning_is_deterministic(disk_plan):
    stacks, footprint, settings, table, _ = disk_plan
    again, _ = select_spaxels(stacks, settings, "g", footprint=footprint)
    for c in table.colnames:
        assert np.array_equal(np.asarray(again[c]), np.asarray(table[c])), c


def test_voronoi_min_snr_selects_bins():
    stacks, footprint = _disk(2)
    loose = SpaxelSettings(binning="voronoi", target_snr=10.0, min_snr=0.1)
    strict = SpaxelSettings(binning="voronoi", target_snr=10.0, min_snr=12.0)
    all_bins, _ = select_spaxels(stacks, loose, "g", footprint=footprint)
    some, _ = select_spaxels(stacks, strict, "g", footprint=footprint)
    assert 0 < len(some) < len(all_bins)
    assert set(some["spaxel"]) <= set(all_bins["spaxel"]) and np.all(some["snr_max"] >= 12.0)


def test_voronoi_edge_cases():
    shape = (8, 8)
    usable = np.zeros(shape, bool)
    usable[2:6, 2:6] = True
    noise = np.ones(shape)
    # every spaxel above the target: each its own bin
    bins = voronoi_bin_ids(np.full(shape, 20.0), noise, usable, 10.0)
    ids = np.arange(64).reshape(shape)
    np.testing.assert_array_equal(bins, np.where(usable, ids, -1))
    # no signal: no bin
    rng = np.random.default_rng(0)
    assert np.all(voronoi_bin_ids(rng.normal(0, 1, shape), noise, usable, 10.0) == -1)
    assert np.all(voronoi_bin_ids(np.zeros(shape), noise, usable, 10.0) == -1)
    assert np.all(voronoi_bin_ids(np.ones(shape), noise, np.zeros(shape, bool), 10.0) == -1)
    # together between 0.8 and 1 x the target: one bin of all
    bins = voronoi_bin_ids(np.full(shape, 0.55), noise, usable, 2.5)  # 16 x 0.55 / 4 = 2.2
    assert np.unique(bins[usable]).size == 1 and np.all(bins[~usable] == -1)
    # together below 0.8 x the target: none
    assert np.all(voronoi_bin_ids(np.full(shape, 0.45), noise, usable, 2.5) == -1)
    # one spaxel; spaxels without data or with zero noise stay out
    one = np.zeros(shape, bool)
    one[3, 3] = True
    assert voronoi_bin_ids(np.full(shape, 20.0), noise, one, 10.0)[3, 3] == 27
    bad = noise.copy()
    bad[2, 2], bad[2, 3] = np.inf, 0.0
    bins = voronoi_bin_ids(np.full(shape, 20.0), bad, usable, 10.0)
    assert bins[2, 2] == -1 and bins[2, 3] == -1 and np.sum(bins >= 0) == 14
    # spread too thinly for vorbin to make any bin (it fails), though the total reaches the
    # target: one bin of all
    grid = np.hypot(*np.mgrid[-15:15, -15:15])
    faint = 3 * np.exp(-grid / 4) + np.random.default_rng(0).normal(0, 1, grid.shape)
    disk = grid < 12
    assert faint[disk].sum() / np.sqrt(disk.sum()) > 10.0
    bins = voronoi_bin_ids(faint, np.ones(faint.shape), disk, 10.0)
    assert np.unique(bins[disk]).size == 1 and np.all(bins[disk] >= 0)
    assert np.all(bins[~disk] == -1)


def test_voronoi_empty_plan_when_nothing_has_signal(tmp_path):
    stacks, footprint = _disk(3, amplitude=dict.fromkeys(LINES, 0.0))
    settings = SpaxelSettings(binning="voronoi")
    table, shape = select_spaxels(stacks, settings, "g", footprint=footprint)
    assert len(table) == 0 and "members" in table.colnames
    written = write_plan(tmp_path / "plan.ecsv", table, "g", 8)
    assert written.meta["n_shards"] == 1
    assert np.all(plan_bin_ids(read_plan(tmp_path / "plan.ecsv")) == -1)


def test_voronoi_footprint_off_grid_is_refused():
    stacks, _ = _disk(1)
    with pytest.raises(InputError, match="footprint"):
        select_spaxels(
            stacks, SpaxelSettings(binning="voronoi"), "g", footprint=np.ones((10, 10), bool)
        )


def test_binning_settings():
    assert SpaxelSettings().binning == "paper" and SpaxelSettings().target_snr == 10.0
    s = SpaxelSettings.from_config({"binning": "voronoi", "target_snr": 15})
    assert s.binning == "voronoi" and s.target_snr == 15
    with pytest.raises(InputError, match="binning"):
        SpaxelSettings(binning="hexagons")
    with pytest.raises(InputError, match="target_snr"):
        SpaxelSettings(binning="voronoi", target_snr=0.0)


# -- shards and maps --------------------------------------------------------------------------

SAMPLER = SamplerSettings(n_walkers=8, n_steps=60, n_burn=30, thin=5)
FIT_SETTINGS = {"model": InferenceSettings(), "sampler": SAMPLER, "limit_fraction": 0.2}
GALAXY = {"galaxy_id": "g", "redshift": 1.5, "nii_ha": 0.05}


def test_bins_are_fitted_once_with_their_area(disk_plan):
    _, _, _, table, _ = disk_plan
    plan = table[:3].copy()
    plan["shard"] = np.zeros(len(plan), dtype=np.int32)
    plan.meta["pixel_scale_arcsec"] = 0.13
    spaxels, fits_, _, _ = fit_shard(plan, 0, GALAXY, FIT_SETTINGS)
    assert [f.key for f in fits_] == [("g", int(s)) for s in plan["spaxel"]]
    # The same bin as one spaxel: the same stream and data, only the area differs.
    single = plan.copy()
    single.remove_columns(["n_spaxels", "members"])
    _, fits_1, _, _ = fit_shard(single, 0, GALAXY, FIT_SETTINGS)
    for f, g, n in zip(fits_, fits_1, plan["n_spaxels"]):
        assert f.summary["oh12"]["p50"] == g.summary["oh12"]["p50"]
        assert f.summary["sfr_density"]["p50"] == pytest.approx(
            g.summary["sfr_density"]["p50"] / n, rel=1e-12
        )


def test_maps_paint_bin_values_on_members_and_round_trip(disk_plan, tmp_path):
    _, _, _, table, shape = disk_plan
    plan = table.copy()
    plan["shard"] = (np.arange(len(plan)) % 2).astype(np.int32)  # two shards
    plan.meta["pixel_scale_arcsec"] = 0.13
    model = None
    summaries = []
    for shard in (0, 1):
        rows = plan[plan["shard"] == shard][:3]
        spaxels, fits_, model, meta = fit_shard(rows, shard, GALAXY, FIT_SETTINGS)
        path = tmp_path / f"shard_{shard}.h5"
        write_shard(path, "g", spaxels, fits_, model, meta, sampler=SAMPLER)
        summaries.append(read_shard(path).summary)
    fitted_ids = [int(s) for t in summaries for s in t["spaxel"]]
    cards = spaxel_map_cards("g", 1.5, plan.meta, {})
    path = tmp_path / "maps.fits"
    write_spaxel_maps(path, "g", shape, summaries, cards, plan_bin_ids(plan))
    maps = read_spaxel_maps(path)
    bins = plan_bin_ids(plan)
    members = np.isin(bins, fitted_ids)
    np.testing.assert_array_equal(maps["BINID"], np.where(members, bins, -1))
    np.testing.assert_array_equal(maps["FITTED"], members)
    h = maps["header"]
    assert h["BINNING"] == "voronoi" and h["TARGSNR"] == 10.0 and h["BINLINE"] == "Ha"
    assert h["BINPIX"] == 2 and h["NBINS"] == 6 and h["NFITTED"] == int(members.sum())
    for t in summaries:
        for row in t:
            on = maps["BINID"] == row["spaxel"]
            n = int(on.sum())
            assert n == plan["n_spaxels"][plan["spaxel"] == row["spaxel"]][0]
            for ext, col in (("OH12", "oh12_p50"), ("OH12_P16", "oh12_p16"), ("AV", "av_p50")):
                assert np.all(maps[ext][on] == row[col])
            assert np.all(maps["HBETA"][on] == pytest.approx(row["hbeta_p50"] / n, rel=1e-12))
            assert np.all(maps["CONVERGED"][on] == int(row["converged"]))
    assert np.all(np.isnan(maps["OH12"][~members])) and np.all(maps["OH12_LIM"][~members] == -2)
    # an anchor outside its own bin is refused
    wrong = plan_bin_ids(plan)
    wrong[wrong == fitted_ids[0]] = -1
    with pytest.raises(ValueError, match="not in its own bin"):
        write_spaxel_maps(tmp_path / "bad.fits", "g", shape, summaries, cards, wrong)

    from ohmap.report.inference import plot_spaxel_maps

    out = tmp_path / "maps.png"
    plot_spaxel_maps(maps, out)
    assert out.stat().st_size > 1000


def test_paper_maps_have_one_bin_per_spaxel(tmp_path):
    summary = Table(
        {
            "spaxel": [7, 13, 14],
            "iy": [1, 2, 2],
            "ix": [2, 3, 4],
            "oh12_p16": [8.0, 8.1, 8.2],
            "oh12_p50": [8.1, 8.2, 8.3],
            "oh12_p84": [8.2, 8.3, 8.4],
            "hbeta_p50": [1.0, 2.0, 3.0],
        }
    )
    path = tmp_path / "maps.fits"
    write_spaxel_maps(path, "g", (4, 5), summary)
    maps = read_spaxel_maps(path)
    expected = np.full((4, 5), -1)
    expected[[1, 2, 2], [2, 3, 4]] = [7, 13, 14]
    np.testing.assert_array_equal(maps["BINID"], expected)
    assert maps["header"]["BINNING"] == "paper" and maps["header"]["NBINS"] == 3
    np.testing.assert_array_equal(maps["HBETA"][[1, 2, 2], [2, 3, 4]], [1.0, 2.0, 3.0])
    # A product written before bins gets its BINID from FITTED.
    with fits.open(path) as hdul:
        del hdul["BINID"]
        hdul.writeto(tmp_path / "old.fits")
    old = read_spaxel_maps(tmp_path / "old.fits")
    np.testing.assert_array_equal(
        old["BINID"], np.where(old["FITTED"], np.arange(20).reshape(4, 5), -1)
    )


# -- individual-spaxel gradient ----------------------------------------------------------------


def test_individual_spaxel_gradient_counts_a_bin_once():
    rng = np.random.default_rng(5)
    shape = (6, 8)
    radius = rng.uniform(0.2, 6.0, shape)
    bins = np.full(shape, -1)
    # six bins of 1 to 6 spaxels, anchors at their first member
    flat = bins.ravel()
    start = 0
    truth = []
    for size in range(1, 7):
        members = np.arange(start, start + size)
        flat[members] = members[0]
        truth.append((members[0], members))
        start += size + 1  # one spaxel between bins is not fitted
    p50 = np.full(shape, np.nan)
    err = np.full(shape, np.nan)
    for anchor, members in truth:
        p50.flat[members] = 8.6 - 0.05 * radius.flat[members].mean() + rng.normal(0, 0.02)
        err.flat[members] = rng.uniform(0.03, 0.08)
    p16, p84 = p50 - err, p50 + err
    fitted = bins >= 0
    res = individual_spaxel_gradient(radius, p16, p50, p84, fitted, 3, bin_id=bins, min_points=5)
    r = np.array([radius.flat[m].mean() for _, m in truth])
    y = np.array([p50.flat[a] for a, _ in truth])
    s = np.array([err.flat[a] for a, _ in truth])
    direct = fit_linear_with_scatter(r, y, s, 3, key=("individual_spaxel",), min_points=5)
    assert res.n == 6
    assert res.slope == pytest.approx(direct.slope, rel=1e-12)
    assert res.slope_err == pytest.approx(direct.slope_err, rel=1e-12)
    points = spaxel_points(radius, p16, p50, p84, fitted, bins)
    assert list(points["n_spaxels"]) == list(range(1, 7))
    np.testing.assert_allclose(points["radius"], r, rtol=1e-12)
    # Each spaxel its own bin (binning: paper): the same as without a bin-id map.
    own = np.where(fitted, np.arange(48).reshape(shape), -1)
    a = individual_spaxel_gradient(radius, p16, p50, p84, fitted, 3, bin_id=own, min_points=5)
    b = individual_spaxel_gradient(radius, p16, p50, p84, fitted, 3, min_points=5)
    assert a.n == b.n == int(fitted.sum()) and a.slope == b.slope and a.slope_err == b.slope_err
