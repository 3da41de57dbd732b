"""Posterior products: HDF5 shards, spaxel maps (FITS), global-fit tables (ECSV) and their plots."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from astropy import units as u
from astropy.io import fits
from astropy.table import Table

from ohmap.inference.fitting import fit_fluxes
from ohmap.inference.model import LineFluxModel
from ohmap.inference.products import shards
from ohmap.inference.products.global_fits import (
    global_fit_row,
    read_global_fit,
    write_global_fit,
)
from ohmap.inference.products.shards import read_shard, write_shard
from ohmap.inference.products.spaxel_maps import read_spaxel_maps, write_spaxel_maps
from ohmap.inference.settings import InferenceSettings, SamplerSettings
from ohmap.io.serialize import plain

LINES = ("OII", "Hb", "OIII5008", "Ha")
SAMPLER = SamplerSettings(n_walkers=16, n_steps=200, n_burn=100, thin=10)
REDSHIFT = 1.49


@pytest.fixture(scope="module")
def model():
    return LineFluxModel(LINES, InferenceSettings())


@pytest.fixture(scope="module")
def fitted(model):
    """Five spaxel fits (the first three for shard A, the last two for shard B)."""
    theta = np.array(
        [[8.2, 0.4, 1.0], [8.5, 1.0, 0.7], [8.0, 0.2, 0.5], [8.7, 1.5, 1.2], [8.3, 0.8, 0.3]]
    )
    mu, _ = model.expected(theta)
    err = 0.1 * mu
    ids = [101, 102, 103, 201, 202]
    fits_ = fit_fluxes(
        model, mu, err, [("04054", i) for i in ids], SAMPLER, REDSHIFT, spaxel_arcsec=0.13
    )
    spaxels = Table({"spaxel": ids, "iy": [0, 1, 2, 3, 0], "ix": [0, 1, 2, 0, 4]})
    for j, line in enumerate(LINES):
        spaxels[f"flux_{line}"] = mu[:, j]
        spaxels[f"flux_{line}"].unit = "1e-17 erg / (s cm2)"
        spaxels[f"err_{line}"] = err[:, j]
        spaxels[f"err_{line}"].unit = "1e-17 erg / (s cm2)"
    spaxels["selected_by"] = ["Ha", "OIII5008", "Ha", "Hb", "Ha"]
    return spaxels, fits_


META = {"redshift": REDSHIFT, "spaxel_arcsec": 0.13, "binning": 2, "shard": 0}


def _write_two(tmp_path, model, fitted):
    spaxels, fits_ = fitted
    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    write_shard(a, "04054", spaxels[:3], fits_[:3], model, META, sampler=SAMPLER)
    write_shard(b, "04054", spaxels[3:], fits_[3:], model, dict(META, shard=1), sampler=SAMPLER)
    return read_shard(a), read_shard(b)


def test_shard_round_trip_exact(tmp_path, model, fitted):
    spaxels, fits_ = fitted
    path = tmp_path / "shard.h5"
    write_shard(path, "04054", spaxels, fits_, model, META, sampler=SAMPLER)
    assert not (tmp_path / "shard.h5.part").exists()
    r = read_shard(path)
    assert r.galaxy == "04054" and r.names == model.names and r.lines == LINES
    assert r.units["oh12"] == "dex" and r.units["av"] == "mag"
    assert r.meta == META and r.calibration == model.settings.calibration
    assert r.sampler_settings == plain(dataclasses.asdict(SAMPLER))
    assert r.inference_settings == plain(dataclasses.asdict(model.settings))
    assert r.keys == [tuple(f.key) for f in fits_]
    # spaxel table, with its units
    assert r.spaxels.colnames == spaxels.colnames
    for c in spaxels.colnames:
        assert np.array_equal(r.spaxels[c], spaxels[c])
        assert r.spaxels[c].unit == spaxels[c].unit
    # chains exactly to float32, tau exactly
    assert r.chains.dtype == np.float32 and r.chain is r.chains
    assert r.chains.shape == (5,) + fits_[0].chain.shape
    assert np.array_equal(r.chains, np.stack([f.chain for f in fits_]).astype(np.float32))
    assert np.array_equal(r.tau, np.stack([f.tau for f in fits_]))
    # the summary table
    s = r.summary
    assert list(s["spaxel"]) == list(spaxels["spaxel"])
    for q in ("oh12", "av", "hbeta", "sfr", "sfr_density"):
        for stat in ("p16", "p50", "p84", "value"):
            assert np.array_equal(s[f"{q}_{stat}"], [f.summary[q][stat] for f in fits_]), (q, stat)
        assert list(s[f"{q}_limit"]) == [f.summary[q]["limit"] for f in fits_]
    assert s["oh12_p50"].unit == u.dex and s["av_p50"].unit == u.mag
    assert s["sfr_density_p50"].unit == u.Unit("solMass / (yr kpc2)")
    assert s["hbeta_p50"].unit == u.Unit("1e-17 erg / (s cm2)")
    assert "nii_ha_p50" not in s.colnames
    assert np.array_equal(s["converged"], [f.converged for f in fits_])
    assert np.array_equal(s["acceptance"], [f.acceptance for f in fits_])
    assert np.array_equal(s["tau_max"], [np.max(f.tau) for f in fits_])
    # the conservative error
    expected = [
        max(
            f.summary["oh12"]["p84"] - f.summary["oh12"]["p50"],
            f.summary["oh12"]["p50"] - f.summary["oh12"]["p16"],
        )
        for f in fits_
    ]
    assert np.array_equal(s["err_oh12"], expected) and s["err_oh12"].unit == u.dex
    # the file says what it holds
    import h5py

    with h5py.File(path) as h5:
        assert "spaxel" in h5.attrs["content"] and h5["chains"].compression == "gzip"


def test_empty_shard(tmp_path, model):
    path = tmp_path / "empty.h5"
    spaxels = Table({"spaxel": np.zeros(0, int), "iy": np.zeros(0, int), "ix": np.zeros(0, int)})
    write_shard(path, "00900", spaxels, [], model, META, sampler=SAMPLER)
    r = read_shard(path)
    assert r.galaxy == "00900" and len(r.spaxels) == 0 and len(r.summary) == 0
    assert r.chains.shape == (0, 10, 16, 3) and r.chains.dtype == np.float32
    assert "oh12_p50" in r.summary.colnames and "sfr_density_p50" in r.summary.colnames
    assert r.summary["oh12_p50"].unit == u.dex
    # an empty galaxy still gets maps, which say why they are empty
    maps_path = tmp_path / "maps.fits"
    write_spaxel_maps(
        maps_path, "00900", (4, 5), r.summary, {"REDSHIFT": (1.1, "catalogue redshift")}
    )
    m = read_spaxel_maps(maps_path)
    assert m["header"]["NFITTED"] == 0 and not m["FITTED"].any()
    assert np.all(m["CONVERGED"] == -1) and np.all(np.isnan(m["OH12"]))
    assert any("No spaxel" in str(c) for c in m["header"]["COMMENT"])


def test_shard_checks_order(tmp_path, model, fitted):
    spaxels, fits_ = fitted
    with pytest.raises(ValueError, match="spaxel 102"):
        write_shard(tmp_path / "x.h5", "04054", spaxels[1:3], fits_[0:2], model, META)
    with pytest.raises(ValueError, match="2 spaxel rows but 3 fits"):
        write_shard(tmp_path / "x.h5", "04054", spaxels[:2], fits_[:3], model, META)
    assert not list(tmp_path.iterdir())


def test_maps_from_two_shards(tmp_path, model, fitted):
    ra, rb = _write_two(tmp_path, model, fitted)
    path = tmp_path / "maps.fits"
    cards = {
        "REDSHIFT": (REDSHIFT, "catalogue redshift"),
        "BINNING": (2, "[pixel] binning factor"),
        "PIXSCALE": (0.13, "[arcsec/pixel] binned pixel scale"),
        "CALIBRATION": ("maiolino2008", "calib"),
    }
    write_spaxel_maps(path, "04054", (4, 5), [ra.summary, rb.summary], cards)
    m = read_spaxel_maps(path)
    h = m["header"]
    assert h["NFITTED"] == 5 and h["REDSHIFT"] == REDSHIFT and h["BINNING"] == 2
    assert h["CALIBRATION"] == "maiolino2008"
    summary = Table(
        np.concatenate([np.asarray(ra.summary.as_array()), np.asarray(rb.summary.as_array())])
    )
    fitted_mask = np.zeros((4, 5), bool)
    fitted_mask[summary["iy"], summary["ix"]] = True
    assert np.array_equal(m["FITTED"], fitted_mask)
    for row in summary:
        y, x = row["iy"], row["ix"]
        assert m["OH12"][y, x] == row["oh12_p50"]
        assert m["OH12_P16"][y, x] == row["oh12_p16"] and m["OH12_P84"][y, x] == row["oh12_p84"]
        assert m["OH12_ERR"][y, x] == row["err_oh12"]
        assert m["AV"][y, x] == row["av_p50"]
        assert m["AV_ERR"][y, x] == max(
            row["av_p84"] - row["av_p50"], row["av_p50"] - row["av_p16"]
        )
        assert m["SFRD"][y, x] == row["sfr_density_p50"] and m["HBETA"][y, x] == row["hbeta_p50"]
        assert m["CONVERGED"][y, x] == int(row["converged"])
    for name in (
        "OH12",
        "OH12_P16",
        "OH12_P84",
        "OH12_ERR",
        "AV",
        "AV_ERR",
        "SFRD",
        "SFRD_ERR",
        "HBETA",
    ):
        assert np.all(np.isnan(m[name][~fitted_mask])) and np.all(
            np.isfinite(m[name][fitted_mask])
        ), name
    assert np.all(m["CONVERGED"][~fitted_mask] == -1)
    assert m["units"]["OH12"] == "dex" and m["units"]["AV"] == "mag"
    assert m["units"]["SFRD"] == "solMass / (yr kpc2)"
    with fits.open(path) as hdul:
        for name in ("OH12", "AV", "SFRD", "HBETA", "OH12_ERR"):
            hh = hdul[name].header
            assert "BUNIT" in hh and "CONTENT" in hh
            assert "NaN: spaxel not fitted, see FITTED" in str(hh["COMMENT"])
        assert hdul["FITTED"].data.dtype == np.uint8 and hdul["CONVERGED"].data.dtype.kind == "i"


def test_maps_refuse_duplicates_and_outside(tmp_path, model, fitted):
    ra, rb = _write_two(tmp_path, model, fitted)
    dup = rb.summary.copy()
    dup["iy"][0], dup["ix"][0] = ra.summary["iy"][1], ra.summary["ix"][1]
    with pytest.raises(ValueError, match=r"spaxels 102 and 201"):
        write_spaxel_maps(tmp_path / "m.fits", "04054", (4, 5), [ra.summary, dup])
    with pytest.raises(ValueError, match=r"spaxel 202 .*outside"):
        write_spaxel_maps(tmp_path / "m.fits", "04054", (4, 4), [ra.summary, rb.summary])
    bad = ra.summary.copy()
    bad["iy"][2] = -1
    with pytest.raises(ValueError, match="spaxel 103"):
        write_spaxel_maps(tmp_path / "m.fits", "04054", (4, 5), bad)
    assert not (tmp_path / "m.fits").exists() and not (tmp_path / "m.fits.part").exists()


def test_no_partial_file_on_failure(tmp_path, model, fitted, monkeypatch):
    spaxels, fits_ = fitted

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(shards, "_write_summary", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        write_shard(tmp_path / "s.h5", "04054", spaxels, fits_, model, META)
    assert not list(tmp_path.iterdir())
    monkeypatch.undo()

    # a failing FITS write leaves the previous product untouched and no temporary file
    summary = Table(
        {
            "spaxel": [1],
            "iy": [0],
            "ix": [0],
            "oh12_p16": [8.0],
            "oh12_p50": [8.1],
            "oh12_p84": [8.3],
            "converged": [True],
        }
    )
    path = tmp_path / "maps.fits"
    write_spaxel_maps(path, "04054", (2, 2), summary)
    before = path.read_bytes()
    monkeypatch.setattr(fits.HDUList, "writeto", boom)
    with pytest.raises(RuntimeError):
        write_spaxel_maps(path, "04054", (2, 2), summary)
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == [
        "maps.fits"
    ]


def test_global_fit_round_trip(tmp_path, model, fitted):
    _, fits_ = fitted
    rows = [
        global_fit_row("04054", fits_[0], REDSHIFT, 22.5, model, 4),
        global_fit_row("01916", fits_[1], 1.0, 1.8, model, 3),
    ]
    meta = {"inference": model.settings, "sampler": SAMPLER, "note": "test"}
    path = tmp_path / "global.ecsv"
    write_global_fit(path, rows, meta)
    t = read_global_fit(path)
    assert list(t["galaxy_id"]) == ["04054", "01916"]
    for r, row in zip(rows, t):
        for k, v in r.items():
            assert row[k] == v, k
    assert t["oh12_p50"].unit == u.dex and t["av_p16"].unit == u.mag
    assert t["sfr_p84"].unit == u.Unit("solMass / yr") and t["hbeta_value"].unit == u.Unit(
        "1e-17 erg / (s cm2)"
    )
    assert t.meta["sampler"] == plain(dataclasses.asdict(SAMPLER))
    assert t.meta["inference"]["calibration"] == model.settings.calibration
    assert t["converged"].dtype == bool and t["n_lines"].dtype.kind == "i"
    # a one-galaxy file from the same writer; limit flags "" survive ECSV
    write_global_fit(tmp_path / "one.ecsv", rows[:1], meta)
    one = read_global_fit(tmp_path / "one.ecsv")
    assert len(one) == 1 and one["oh12_limit"][0] == rows[0]["oh12_limit"]


def test_plots_write_png(tmp_path, model, fitted):
    from ohmap.report.inference import plot_corner, plot_spaxel_maps

    _, fits_ = fitted
    f = fits_[0]
    oh, av, hb = model.unpack(f.samples)[:3]
    path = tmp_path / "corner.png"
    plot_corner(
        {"oh12": oh, "av": av, "hbeta": hb},
        {"oh12": "12+log(O/H)", "av": "A_V [mag]", "hbeta": "f_Hb [1e-17 cgs]"},
        path,
        truths={"oh12": 8.2, "av": 0.4, "hbeta": 10.0},
        chain=f.chain[:, :, 0],
        title="04054 global",
    )
    assert path.stat().st_size > 1000

    ra, rb = _write_two(tmp_path, model, fitted)
    write_spaxel_maps(tmp_path / "maps.fits", "04054", (4, 5), [ra.summary, rb.summary])
    maps = read_spaxel_maps(tmp_path / "maps.fits")
    truth = np.full((4, 5), 8.3)
    out = tmp_path / "maps.png"
    plot_spaxel_maps(maps, out, title="04054", truth_oh12=truth)
    assert out.stat().st_size > 1000
    out2 = tmp_path / "maps_plain.png"
    plot_spaxel_maps(maps, out2)
    assert out2.stat().st_size > 1000
