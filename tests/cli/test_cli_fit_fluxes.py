"""``ohmap fit-fluxes``: users' own line fluxes in, percentiles and settings out."""

from __future__ import annotations

import os

import numpy as np
import pytest
import yaml
from astropy import units as u
from astropy.table import Table

from ohmap.cli import main
from ohmap.inference.model import LineFluxModel
from ohmap.io.fluxtable import read_flux_table
from ohmap.lines import FIT_LINES

FAST = ["--steps", "600", "--burn", "200", "--walkers", "32", "--seed", "7"]
# (id, z, magnification, nii_ha, oh12, av, log10 intrinsic H-beta, lines left out)
TRUTH = [
    ("gal-a", 1.45, 3.0, None, 8.40, 0.6, 0.5, ()),
    ("gal-b", 2.10, None, 0.10, 8.60, 1.0, 0.3, ("OII",)),
    ("gal-c", 1.30, 1.5, None, 8.20, 0.3, 0.8, ("OII", "Hg", "SII")),
]


def _row_dict(ident, z, mag, nii, oh12, av, log_hb, missing, rel_error=0.03):
    model = LineFluxModel(FIT_LINES, nii_ha=nii)
    mu, _ = model.expected(np.array([oh12, av, log_hb]))
    row = {
        "id": ident,
        "z": z,
        "magnification": np.nan if mag is None else mag,
        "nii_ha": np.nan if nii is None else nii,
    }
    for line, value in zip(FIT_LINES, mu):
        row[f"{line}_flux"] = np.nan if line in missing else float(value)
        row[f"{line}_err"] = np.nan if line in missing else float(rel_error * value)
    return row


def _table(rows=TRUTH) -> Table:
    return Table(rows=[_row_dict(*r) for r in rows])


def _write_csv(path, rows=TRUTH, table=None):
    (table if table is not None else _table(rows)).write(path, format="ascii.csv", overwrite=True)
    return path


@pytest.fixture(scope="module")
def config_file(tmp_path_factory):
    """A configuration without inference settings (library defaults), so that the tests do
    not depend on the working directory's config/config.yaml."""
    path = tmp_path_factory.mktemp("config") / "config.yaml"
    path.write_text("inference: {}\n")
    return path


def _run(tmp_path, capsys, table_path, out_name="result.ecsv", *extra, config=None):
    out = tmp_path / out_name
    options = ["--config", os.fspath(config)] if config else []
    rc = main(
        ["fit-fluxes", os.fspath(table_path), "--out", os.fspath(out), *FAST, *options, *extra]
    )
    return rc, out, capsys.readouterr()


@pytest.fixture(scope="module")
def fitted(tmp_path_factory, config_file):
    """One fit of the three-row table, shared by the checks of its output."""
    tmp = tmp_path_factory.mktemp("fit")
    table = _write_csv(tmp / "fluxes.csv")
    out = tmp / "result.ecsv"
    assert (
        main(
            [
                "fit-fluxes",
                os.fspath(table),
                "--out",
                os.fspath(out),
                *FAST,
                "--config",
                os.fspath(config_file),
            ]
        )
        == 0
    )
    return Table.read(out, format="ascii.ecsv"), out


def test_recovers_metallicity_in_input_order(fitted):
    result, _ = fitted
    assert list(result["id"]) == [r[0] for r in TRUTH]
    for row, truth in zip(result, TRUTH):
        half_width = 0.5 * (row["oh12_p84"] - row["oh12_p16"])
        assert abs(row["oh12_p50"] - truth[4]) < 3 * max(half_width, 0.02), (
            row["id"],
            row["oh12_p50"],
        )
        assert row["oh12_p16"] <= row["oh12_p50"] <= row["oh12_p84"]
    assert list(result["n_lines"]) == [6, 5, 3]
    assert list(result["magnification"]) == [3.0, 1.0, 1.5]
    assert list(result["nii_ha_fixed"]) == [0.05, 0.10, 0.05]
    assert np.all(result["sfr_p50"] > 0) and np.all(np.isfinite(result["tau_max"]))


def test_units_and_settings_in_header(fitted):
    result, _ = fitted
    assert result["oh12_p50"].unit == u.dex
    assert result["av_p16"].unit == u.mag
    assert result["hbeta_p84"].unit == u.Unit("1e-17 erg / (s cm2)")
    assert result["sfr_value"].unit == u.solMass / u.yr
    for q in ("oh12", "av", "hbeta", "sfr"):
        assert {f"{q}_{s}" for s in ("p16", "p50", "p84", "limit", "value")} <= set(result.colnames)
    assert "nii_ha_p50" not in result.colnames
    assert {"n_lines", "tau_max", "converged", "acceptance"} <= set(result.colnames)
    meta = result.meta
    assert meta["calibration"]["name"] == "maiolino2008" and meta["calibration"]["reference"]
    assert meta["sigma_R_dex"]["OIII5008"] == pytest.approx(0.1)
    assert meta["likelihood"] == "gaussian" and meta["parameters"] == "vanilla"
    assert meta["priors"]["oh12"]["bounds"] == [7.0, 9.3]
    assert set(meta["priors"]) == {"oh12", "av", "hbeta"}
    sampler = meta["sampler"]
    assert (sampler["n_walkers"], sampler["n_steps"], sampler["n_burn"], sampler["seed"]) == (
        32,
        600,
        200,
        7,
    )
    assert sampler["engine"] == "batched" and "thin" in sampler
    assert meta["ohmap_version"] and meta["input"].endswith("fluxes.csv")


def test_csv_output_with_sidecar(tmp_path, capsys, config_file):
    table = _write_csv(tmp_path / "fluxes.csv", rows=TRUTH[:1])
    rc, out, captured = _run(
        tmp_path, capsys, table, "result.csv", "--parameters", "extended", config=config_file
    )
    assert rc == 0, captured.err
    assert os.fspath(out) in captured.out
    result = Table.read(out, format="ascii.csv")
    assert list(result["id"]) == ["gal-a"] and "nii_ha_p50" in result.colnames
    side = yaml.safe_load((tmp_path / "result.csv.meta.yaml").read_text())
    assert side["meta"]["parameters"] == "extended" and "nii_ha" in side["meta"]["priors"]
    assert side["columns"]["oh12_p50"]["unit"] == "dex"
    assert side["columns"]["tau_max"]["unit"] == "steps"
    assert not list(tmp_path.glob(".*.part"))


def test_deterministic_and_independent_of_row_order(tmp_path, capsys, fitted, config_file):
    first, _ = fitted
    rc, out, captured = _run(
        tmp_path, capsys, _write_csv(tmp_path / "same.csv"), config=config_file
    )
    assert rc == 0, captured.err
    again = Table.read(out, format="ascii.ecsv")
    numeric = [c for c in first.colnames if c != "id" and not c.endswith("_limit")]
    for name in numeric:
        np.testing.assert_array_equal(
            np.asarray(again[name]), np.asarray(first[name]), err_msg=name
        )
    rc, out, captured = _run(
        tmp_path,
        capsys,
        _write_csv(tmp_path / "reordered.csv", rows=TRUTH[::-1]),
        "reordered.ecsv",
        config=config_file,
    )
    assert rc == 0, captured.err
    reordered = Table.read(out, format="ascii.ecsv")
    assert list(reordered["id"]) == [r[0] for r in TRUTH[::-1]]
    by_id = {row["id"]: row for row in reordered}
    for row in first:
        for name in numeric:
            assert by_id[row["id"]][name] == row[name], (row["id"], name)


def _bad(table: Table, edit):
    edit(table)
    return table


@pytest.mark.parametrize(
    "edit, expected",
    [
        (
            lambda t: t.add_column(np.ones(len(t)), name="OIII4960_flux"),
            ["OIII4960_flux", "unknown column"],
        ),
        (lambda t: t["Hb_err"].__setitem__(1, 0.0), ["row 2", "gal-b", "Hb_err"]),
        (lambda t: t["Ha_err"].__setitem__(2, -0.5), ["row 3", "gal-c", "Ha_err"]),
        (
            lambda t: [t[f"{line}_flux"].__setitem__(0, np.nan) for line in FIT_LINES],
            ["row 1", "gal-a", "no usable line"],
        ),
        (lambda t: t.remove_column("SII_err"), ["SII_flux", "SII_err"]),
        (lambda t: t["z"].__setitem__(1, -1.0), ["row 2", "gal-b", "z"]),
    ],
)
def test_bad_input_names_row_and_column_and_writes_nothing(
    tmp_path, capsys, config_file, edit, expected
):
    table = _write_csv(tmp_path / "bad.csv", table=_bad(_table(), edit))
    rc, out, captured = _run(tmp_path, capsys, table, config=config_file)
    assert rc != 0
    assert captured.err.startswith("ohmap: error: ") and "bad.csv" in captured.err
    for text in expected:
        assert text in captured.err, (text, captured.err)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv"]


def test_reader_converts_units_and_rejects_incompatible(tmp_path):
    table = _table(TRUTH[:1])
    table["id"] = [5]
    for line in FIT_LINES:
        for kind in ("flux", "err"):
            table[f"{line}_{kind}"] = table[f"{line}_{kind}"] * 1e-17
            table[f"{line}_{kind}"].unit = u.erg / u.s / u.cm**2
    table.rename_column("z", "Redshift")
    table.write(tmp_path / "units.ecsv", format="ascii.ecsv")
    read = read_flux_table(tmp_path / "units.ecsv")
    expected = _row_dict(*TRUTH[0])
    assert read.ids == [5] and read.redshift[0] == TRUTH[0][1]
    np.testing.assert_allclose(
        read.flux[0], [expected[f"{line}_flux"] for line in FIT_LINES], rtol=1e-12
    )
    table["Hb_err"].unit = u.erg / u.s / u.cm**2 / u.AA
    table.write(tmp_path / "wrong.ecsv", format="ascii.ecsv")
    with pytest.raises(ValueError, match="Hb_err"):
        read_flux_table(tmp_path / "wrong.ecsv")


def test_missing_cells_leave_lines_out_and_ids_default_to_row_numbers(tmp_path):
    path = tmp_path / "plain.csv"
    path.write_text(
        "# my fluxes\nredshift,Hb_flux,Hb_err,OIII5008_flux,OIII5008_err\n"
        "1.5,2.0,0.2,,\n2.0,nan,0.3,4.0,0.3\n"
    )
    read = read_flux_table(path)
    assert read.ids == [1, 2] and not read.id_given
    assert read.lines == ("Hb", "OIII5008")
    assert list(read.n_lines) == [1, 1]
    assert np.isnan(read.flux[0, 1]) and np.isnan(read.flux[1, 0])


def test_settings_from_config_then_options(tmp_path, capsys):
    config = tmp_path / "cfg" / "config.yaml"
    config.parent.mkdir()
    config.write_text(
        "samples: ignored.tsv\n"
        "inference:\n"
        "  model: {likelihood: paper_chi2, oh12_prior: [7.2, 9.1]}\n"
        "  sampler: {n_walkers: 16, n_steps: 5000, n_burn: 2000, thin: 10}\n"
        "  limit_fraction: 0.02\n"
    )
    table = _write_csv(tmp_path / "one.csv", rows=TRUTH[:1])
    out = tmp_path / "one.ecsv"
    rc = main(
        [
            "fit-fluxes",
            os.fspath(table),
            "--out",
            os.fspath(out),
            "--config",
            os.fspath(config),
            "--steps",
            "400",
            "--burn",
            "100",
            "-q",
        ]
    )
    assert rc == 0, capsys.readouterr().err
    meta = Table.read(out, format="ascii.ecsv").meta
    assert meta["likelihood"] == "paper_chi2" and meta["priors"]["oh12"]["bounds"] == [7.2, 9.1]
    assert (meta["sampler"]["n_walkers"], meta["sampler"]["n_steps"], meta["sampler"]["thin"]) == (
        16,
        400,
        10,
    )
    assert meta["config"] == os.fspath(config) and meta["limit_fraction"] == 0.02

    config.write_text("inference:\n  sampler: {walkers: 16}\n")
    rc = main(
        [
            "fit-fluxes",
            os.fspath(table),
            "--out",
            os.fspath(tmp_path / "two.ecsv"),
            "--config",
            os.fspath(config),
        ]
    )
    err = capsys.readouterr().err
    assert rc != 0 and "inference.sampler" in err and "walkers" in err
    assert not (tmp_path / "two.ecsv").exists()


def test_csv_ids_keep_leading_zeros(tmp_path):
    path = tmp_path / "ids.csv"
    path.write_text("ID,Z,HB_FLUX,HB_ERR\n04054,1.5,2.0,0.2\n00012,2.0,3.0,0.3\n")
    read = read_flux_table(path)
    assert read.ids == ["04054", "00012"] and read.id_given
    np.testing.assert_array_equal(read.error[:, 0], [0.2, 0.3])


def test_redshift_is_needed_only_for_the_sfr(tmp_path, capsys, config_file):
    """Without a z column the metallicity and dust are the same and the SFR cells are empty;
    a row with an empty z among rows with one loses its SFR only."""
    with_z = _write_csv(tmp_path / "with_z.csv")
    rc, out_z, captured = _run(tmp_path, capsys, with_z, "with_z.ecsv", config=config_file)
    assert rc == 0, captured.err
    table = _table()
    table.remove_column("z")
    without = _write_csv(tmp_path / "without_z.csv", table=table)
    rc, out_none, captured = _run(tmp_path, capsys, without, "without_z.ecsv", config=config_file)
    assert rc == 0, captured.err
    a = Table.read(out_z, format="ascii.ecsv")
    b = Table.read(out_none, format="ascii.ecsv")
    for name in ("oh12_p16", "oh12_p50", "oh12_p84", "av_p50", "hbeta_p50"):
        np.testing.assert_array_equal(a[name], b[name])
    assert np.isfinite(np.asarray(a["sfr_p50"], float)).all()
    assert np.ma.getmaskarray(b["sfr_p50"]).all() and np.ma.getmaskarray(b["z"]).all()
    table = _table()
    table["z"][1] = np.nan
    partial = _write_csv(tmp_path / "partial.csv", table=table)
    rc, out_partial, captured = _run(tmp_path, capsys, partial, "partial.ecsv", config=config_file)
    assert rc == 0, captured.err
    c = Table.read(out_partial, format="ascii.ecsv")
    assert list(np.ma.getmaskarray(c["sfr_p50"])) == [False, True, False]
    assert c["sfr_p50"][0] == a["sfr_p50"][0]


def test_help_states_the_limit_rule_default_the_code_uses(capsys):
    from ohmap.inference.summary import DEFAULT_LIMIT_FRACTION

    with pytest.raises(SystemExit):
        main(["fit-fluxes", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"the limit rule, default {DEFAULT_LIMIT_FRACTION})" in text
    assert "z optional" in text
