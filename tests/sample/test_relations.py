"""Population diagnostics and scaling relations (ohmap.sample): hand-computed values."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from ohmap.errors import InputError
from ohmap.sample.agn import (
    COIL2015_MASS_SHIFT,
    MEX_CLASSES,
    classify_mex,
    mex_class_fractions,
    mex_lower,
    mex_upper,
)
from ohmap.sample.bpt import above_kewley_sii, kewley_sii_line
from ohmap.sample.fmr import (
    WANG2017_FMR_OFFSETS,
    fmr_branch_gap,
    fmr_metallicity,
    fmr_offset,
    median_offset,
)
from ohmap.sample.literature import read_literature_gradients, read_literature_mzr
from ohmap.sample.main_sequence import cosmic_age, speagle_ms, whitaker_ms
from ohmap.sample.mzr import (
    ENERGY_DRIVEN_BETA,
    MOMENTUM_DRIVEN_BETA,
    ma2016_mzr,
    maiolino2008_mzr,
    wind_model_tension,
)

REPO = Path(__file__).resolve().parents[2]
MZR_TSV = REPO / "resources" / "literature_mzr.tsv"
GRADIENTS_TSV = REPO / "resources" / "literature_gradients.tsv"


# ----------------------------------------------------------------------------------------------
# MEx diagram (Juneau et al. 2014)
# ----------------------------------------------------------------------------------------------


def test_mex_curves_at_hand_computed_points():
    assert mex_upper(9.0) == pytest.approx(0.375 / (9.0 - 10.5) + 1.14)  # 0.89
    assert mex_upper(9.0) == pytest.approx(0.89)
    assert mex_lower(9.0) == pytest.approx(0.89)  # same hyperbola below 9.6
    x = 10.5
    assert mex_upper(x) == pytest.approx(410.24 - 109.333 * x + 9.71731 * x**2 - 0.288244 * x**3)
    assert mex_lower(x) == pytest.approx(352.066 - 93.8249 * x + 8.32651 * x**2 - 0.246416 * x**3)
    assert mex_upper(10.5) == pytest.approx(-0.101533, abs=1e-6)
    assert mex_lower(10.5) == pytest.approx(-0.355044, abs=1e-6)
    # vectorised
    np.testing.assert_allclose(mex_upper([9.0, 10.5]), [0.89, -0.101533], atol=1e-6)


def test_mex_curves_breakpoint_gaps():
    """The published pieces do not join exactly; the steps are small and pinned here."""
    eps = 1e-9
    gap_upper = mex_upper(10.0 + eps) - mex_upper(10.0)
    gap_lower = mex_lower(9.6 + eps) - mex_lower(9.6)
    assert gap_upper == pytest.approx(0.0070, abs=2e-4)
    assert gap_lower == pytest.approx(-0.0183, abs=2e-4)
    assert abs(gap_upper) < 0.01 and abs(gap_lower) < 0.02


def test_classify_mex_clear_cases_and_vectorised():
    assert classify_mex(9.0, 0.0) == "star-forming"
    assert classify_mex(10.5, 0.8) == "AGN"
    # between the curves at 10.5: lower -0.355, upper -0.102
    assert classify_mex(10.5, -0.2) == "intermediate"
    out = classify_mex([9.0, 10.5, 10.5, np.nan], [0.0, 0.8, -0.2, 0.0])
    assert list(out) == ["star-forming", "AGN", "intermediate", ""]


def test_coil_shift_moves_agn_to_star_forming():
    # 02607-like: log M* = 10.25. Unshifted upper curve ~0.094; shifted it is the hyperbola at 9.5,
    # 0.375 / (-1) + 1.14 = 0.765.
    assert classify_mex(10.25, 0.6) == "AGN"
    assert mex_upper(10.25 - COIL2015_MASS_SHIFT) == pytest.approx(0.765)
    assert classify_mex(10.25, 0.6, mass_shift=COIL2015_MASS_SHIFT) == "star-forming"
    assert classify_mex(10.25, 0.8, mass_shift=0.75) == "AGN"


def test_mex_class_fractions():
    rng = np.random.default_rng(1)
    y = rng.normal(0.0, 0.05, 4000)  # far below the curves at log M* = 9
    f = mex_class_fractions(9.0, y)
    assert f["star-forming"] == 1.0 and f["AGN"] == 0.0 and f["n_samples"] == 4000
    f = mex_class_fractions([10.25, 10.25, 10.25, 10.25], [0.6, 0.5, -1.0, np.nan])
    assert f["n_samples"] == 3
    assert f["AGN"] == pytest.approx(2 / 3) and f["star-forming"] == pytest.approx(1 / 3)
    assert sum(f[k] for k in MEX_CLASSES) == pytest.approx(1.0)
    # posterior straddling the upper curve at 10.5 (-0.1015): about half AGN
    y = rng.normal(mex_upper(10.5), 0.02, 20000)
    assert mex_class_fractions(10.5, y)["AGN"] == pytest.approx(0.5, abs=0.02)
    with pytest.raises(ValueError):
        mex_class_fractions([9.0, 9.1], [0.1, 0.2, 0.3])


# ----------------------------------------------------------------------------------------------
# Kewley [SII] line
# ----------------------------------------------------------------------------------------------


def test_kewley_sii_line_values():
    assert kewley_sii_line(0.0) == pytest.approx(0.72 / (0.0 - 0.32) + 1.30)  # -0.95
    assert kewley_sii_line(0.0) == pytest.approx(-0.95)
    assert kewley_sii_line(-0.5) == pytest.approx(0.72 / -0.82 + 1.30)
    assert math.isnan(kewley_sii_line(0.32)) and math.isnan(kewley_sii_line(0.5))
    # blended axis: [SII]/(Ha+[NII]) with [NII]/Ha = 0.05 -> evaluated at x + log10(1.05)
    assert kewley_sii_line(-0.5, nii_ha=0.05) == pytest.approx(
        0.72 / (-0.5 + math.log10(1.05) - 0.32) + 1.30
    )


def test_above_kewley_sii():
    assert above_kewley_sii(-0.5, 0.5) is True  # line at 0.422
    assert above_kewley_sii(-0.5, 0.3) is False
    assert above_kewley_sii(0.5, -2.0) is True  # right of the asymptote
    np.testing.assert_array_equal(
        above_kewley_sii([-0.5, -0.5, np.nan], [0.5, 0.3, 0.0]), [True, False, False]
    )


# ----------------------------------------------------------------------------------------------
# FMR (Mannucci et al. 2011)
# ----------------------------------------------------------------------------------------------


def test_fmr_high_branch_hand_computed():
    # log M* = 10.5, SFR = 10: mu = 10.18 >= 9.5; m = 0.5, s = 1
    expected = 8.90 + 0.37 * 0.5 - 0.14 * 1 - 0.19 * 0.25 + 0.12 * 0.5 - 0.054
    assert expected == pytest.approx(8.9035)
    assert fmr_metallicity(10.5, 1.0) == pytest.approx(expected)
    assert fmr_metallicity(10.0, 0.0) == pytest.approx(8.90)


def test_fmr_low_branch_hand_computed():
    # log M* = 9.0, SFR = 10: mu = 8.68 < 9.5 -> 8.93 + 0.51 (8.68 - 10)
    assert fmr_metallicity(9.0, 1.0) == pytest.approx(8.93 + 0.51 * (8.68 - 10.0))
    assert fmr_metallicity(9.0, 1.0) == pytest.approx(8.2568)
    np.testing.assert_allclose(fmr_metallicity([10.5, 9.0], [1.0, 1.0]), [8.9035, 8.2568])


def test_fmr_branch_discontinuity():
    # at mu = 9.5 and log SFR = 0: surface 8.90 + 0.37(-0.5) - 0.19(0.25) = 8.6675; linear 8.675
    assert fmr_branch_gap(0.0) == pytest.approx(8.6675 - 8.675)
    assert fmr_branch_gap(1.0) == pytest.approx(-0.0634, abs=1e-4)
    assert fmr_branch_gap(2.0) == pytest.approx(-0.1893, abs=1e-4)
    # the step seen by fmr_metallicity itself
    s = 1.0
    logm = 9.5 + 0.32 * s
    above = fmr_metallicity(logm + 1e-9, s)
    below = fmr_metallicity(logm - 1e-9, s)
    assert above - below == pytest.approx(fmr_branch_gap(s), abs=1e-6)


def test_fmr_offset_propagation():
    # symmetric errors far from the branch break: MC median ~ deterministic value
    o = fmr_offset(8.3, 0.1, 9.0, 0.05, 10.0, 2.0, 2.0, n_samples=40000, rng=3)
    det = 8.3 - fmr_metallicity(9.0, 1.0)
    assert o.deterministic == pytest.approx(det)
    assert o.median == pytest.approx(det, abs=0.01)
    assert o.p16 < o.median < o.p84
    # analytic width on the low branch: sqrt(0.1^2 + (0.51*0.05)^2 + (0.51*0.32*sigma_logSFR)^2)
    sig_ls = 0.5 * (math.log10(1.2) - math.log10(0.8))
    width = math.sqrt(0.1**2 + (0.51 * 0.05) ** 2 + (0.51 * 0.32 * sig_ls) ** 2)
    assert o.uncertainty == pytest.approx(width, rel=0.05)
    # larger errors widen the interval
    wide = fmr_offset(8.3, 0.3, 9.0, 0.2, 10.0, 5.0, 5.0, n_samples=40000, rng=3)
    assert wide.uncertainty > o.uncertainty * 2
    # asymmetric (lower, upper) pairs and the split-normal SFR option run and bracket the value
    a = fmr_offset(
        8.3, (0.1, 0.2), 9.0, (0.05, 0.1), 10.0, 4.0, 8.0, rng=4, sfr_dist="split-normal"
    )
    assert a.p16 < a.deterministic < a.p84
    # an SFR limit: no SFR errors, SFR held fixed
    lim = fmr_offset(8.3, 0.0, 9.0, 0.0, 10.0, None, None, n_samples=100, rng=5)
    assert lim.uncertainty == pytest.approx(0.0, abs=1e-12)
    assert lim.median == pytest.approx(det)


def test_fmr_offset_rejects_bad_input():
    with pytest.raises(ValueError):
        fmr_offset(8.3, 0.1, 9.0, 0.05, 0.0, 1.0, 1.0)
    with pytest.raises(ValueError):
        fmr_offset(8.3, 0.1, 9.0, 0.05, 10.0, 10.0, 1.0)  # lognormal with lower error = SFR
    with pytest.raises(ValueError):
        fmr_offset(8.3, -0.1, 9.0, 0.05, 10.0, 1.0, 1.0)
    with pytest.raises(ValueError):
        fmr_offset(8.3, 0.1, 9.0, 0.05, 10.0, 1.0, 1.0, sfr_dist="gamma")


def test_median_offset():
    mo, me = median_offset([0.1, -0.2, 0.3, np.nan], [0.1, 0.2, 0.3, 0.4])
    assert mo == pytest.approx(0.1) and me == pytest.approx(0.25)
    mo, me = median_offset([0.0, 1.0, 2.0], [[0.1, 0.1, 0.1], [0.3, 0.3, 0.3]])
    assert mo == pytest.approx(1.0) and me == pytest.approx(0.2)


def test_paper_this_work_fmr_median_offset():
    """Table 2 galaxies with measured SFRs reproduce the paper's median offset of -0.07 dex."""
    t = read_literature_mzr(MZR_TSV)
    keep = (t["id"] != "02607") & np.ma.getmaskarray(t["sfr_limit"])  # no SFR limit
    sub = t[keep]
    assert len(sub) == 7
    offsets = [
        float(r["oh12"]) - fmr_metallicity(float(r["log_mstar"]), math.log10(float(r["sfr"])))
        for r in sub
    ]
    assert np.median(offsets) == pytest.approx(WANG2017_FMR_OFFSETS["this work"][0], abs=0.005)


# ----------------------------------------------------------------------------------------------
# Main sequences
# ----------------------------------------------------------------------------------------------


def test_speagle_at_hand_computed_point():
    from astropy.cosmology import FlatLambdaCDM

    t = FlatLambdaCDM(H0=70, Om0=0.3).age(1.27).to_value("Gyr")
    assert cosmic_age(1.27) == pytest.approx(t)
    assert t == pytest.approx(4.819, abs=0.002)
    expected = (0.84 - 0.026 * t) * 9.36 - (6.51 - 0.11 * t)
    assert speagle_ms(9.36, 1.27) == pytest.approx(expected)
    assert speagle_ms(9.36, 1.27) == pytest.approx(0.7097, abs=1e-3)
    np.testing.assert_allclose(
        speagle_ms([9.36, 10.0], 1.27), [expected, (0.84 - 0.026 * t) * 10 - (6.51 - 0.11 * t)]
    )


def test_whitaker_bins():
    assert whitaker_ms(9.0, 1.6) == pytest.approx(-24.04 + 4.17 * 9 - 0.16 * 81)  # 0.53
    assert whitaker_ms(10.0, 2.5) == pytest.approx(-19.99 + 34.4 - 13.0)  # last bin closed
    assert whitaker_ms(10.0, 1.0) == pytest.approx(-26.03 + 46.2 - 19.0)  # 1.0 opens the 2nd bin
    np.testing.assert_allclose(
        whitaker_ms([10.0, 10.0], [0.75, 2.25]), [-27.40 + 50.2 - 22.0, -19.99 + 34.4 - 13.0]
    )
    with pytest.raises(ValueError):
        whitaker_ms(10.0, 3.0)
    with pytest.raises(ValueError):
        whitaker_ms(10.0, 0.4)


# ----------------------------------------------------------------------------------------------
# MZRs and wind models
# ----------------------------------------------------------------------------------------------


def test_ma2016_mzr():
    assert ma2016_mzr(9.0) == pytest.approx(0.35 * 9 + 4.87)
    # Ma et al.'s redshift-dependent form reproduces the quoted intercept at z = 1.84
    assert ma2016_mzr(0.0, z=1.84) == pytest.approx(4.87, abs=0.005)
    assert ma2016_mzr(10.0, z=0.0) == pytest.approx(9.0 + 0.93 - 1.05)


def test_maiolino2008_mzr():
    assert maiolino2008_mzr(9.0, "2.2") == pytest.approx(-0.0864 * (9.0 - 12.38) ** 2 + 8.99)
    assert maiolino2008_mzr(11.18, "0.07") == pytest.approx(9.04)  # the peak: log M* = log M0
    assert maiolino2008_mzr(9.0, 0.7) == pytest.approx(-0.0864 * (9.0 - 11.57) ** 2 + 9.04)
    np.testing.assert_allclose(maiolino2008_mzr([12.76, 11.76], "3.5"), [8.79, 8.79 - 0.0864])
    with pytest.raises(ValueError):
        maiolino2008_mzr(9.0, "1.0")


def test_wind_model_tension_on_synthetic_posterior():
    rng = np.random.default_rng(7)
    beta = rng.normal(0.40, 0.07, 200000)  # the paper's slope, 0.40 +- 0.07
    mom = wind_model_tension(beta, MOMENTUM_DRIVEN_BETA)
    en = wind_model_tension(beta, ENERGY_DRIVEN_BETA)
    assert mom.n_sigma == pytest.approx((0.40 - 0.17) / 0.07, rel=0.02)  # ~3.3
    assert mom.n_sigma > 3.0 and mom.n_sigma_equivalent > 3.0
    assert mom.p_two_sided == pytest.approx(2 * 0.5 * math.erfc(3.2857 / math.sqrt(2)), rel=0.15)
    assert en.n_sigma == pytest.approx(1.0, rel=0.03)
    assert en.p_two_sided == pytest.approx(0.317, abs=0.01)
    assert not mom.p_is_upper_limit
    # a model beyond every sample: the probability is a bound
    far = wind_model_tension(rng.normal(0.4, 0.01, 1000), 0.0)
    assert far.p_is_upper_limit and far.p_two_sided == pytest.approx(2 / 1000)
    # model above the median uses the upper side
    up = wind_model_tension(beta, 0.54)
    assert up.n_sigma == pytest.approx(2.0, rel=0.03)
    with pytest.raises(ValueError):
        wind_model_tension([0.4], 0.3)


# ----------------------------------------------------------------------------------------------
# Literature tables
# ----------------------------------------------------------------------------------------------


def test_shipped_literature_mzr_matches_table2():
    import csv

    t = read_literature_mzr(MZR_TSV)
    assert len(t) == 14
    assert set(t["reference"]) == {"Wang et al. 2017 (Table 2)"}
    assert set(t["calibration"]) == {"M08"}
    assert str(t["log_mstar"].unit) == "dex(solMass)" and str(t["sfr"].unit) == "solMass / yr"
    with open(REPO / "resources" / "wang2017_table2.tsv") as fh:
        rows = list(
            csv.DictReader((line for line in fh if not line.startswith("#")), delimiter="\t")
        )
    by_id = {r["id"]: r for r in t}
    for r in rows:
        row = by_id[r["galaxy_id"]]
        assert float(row["z"]) == float(r["redshift"])
        for mine, theirs in [
            ("log_mstar", "log_mstar"),
            ("log_mstar_err_lo", "log_mstar_err_lo"),
            ("log_mstar_err_hi", "log_mstar_err_hi"),
            ("oh12", "oh12"),
            ("oh12_err_lo", "oh12_err_lo"),
            ("oh12_err_hi", "oh12_err_hi"),
            ("sfr", "sfr_msun_yr"),
        ]:
            assert float(row[mine]) == float(r[theirs]), (r["galaxy_id"], mine)
        limit = r["sfr_limit"]
        if limit:
            assert row["sfr_limit"] == limit
            assert t["sfr_err_lo"].mask[list(t["id"]).index(r["galaxy_id"])]
        else:
            assert float(row["sfr_err_lo"]) == float(r["sfr_err_lo"])
            assert float(row["sfr_err_hi"]) == float(r["sfr_err_hi"])
    assert by_id["02607"]["sfr_limit"] == ">"


def test_shipped_literature_gradients():
    g = read_literature_gradients(GRADIENTS_TSV)
    assert str(g["gradient"].unit) == "dex / kpc"
    wang = g[g["reference"] == "Wang et al. 2017 (Table 5)"]
    assert len(wang) == 20
    spax = {
        r["id"]: float(r["gradient"]) for r in wang if r["method"].startswith("individual spaxel")
    }
    assert spax["07255"] == -0.16 and spax["05709"] == -0.22
    yuan = g[g["reference"] == "Yuan et al. 2011"]
    assert (
        len(yuan) == 1
        and float(yuan["gradient"][0]) == -0.16
        and float(yuan["gradient_err"][0]) == 0.02
    )
    assert yuan["log_mstar"].mask[0]


def test_literature_round_trip(tmp_path):
    """Writing the read table back as TSV and reading it again gives the same values."""
    for path, reader in [
        (MZR_TSV, read_literature_mzr),
        (GRADIENTS_TSV, read_literature_gradients),
    ]:
        t = reader(path)
        lines = ["\t".join(t.colnames)]
        for row in t:
            cells = []
            for name in t.colnames:
                value = row[name]
                cells.append("" if np.ma.is_masked(value) else str(value))
            lines.append("\t".join(cells))
        out = tmp_path / path.name
        out.write_text("\n".join(lines) + "\n")
        again = reader(out)
        assert again.colnames == t.colnames and len(again) == len(t)
        for name in t.colnames:
            a, b = t[name], again[name]
            if a.dtype.kind == "f":
                np.testing.assert_array_equal(np.ma.filled(a, np.nan), np.ma.filled(b, np.nan))
            else:
                assert list(np.ma.filled(a, "")) == list(np.ma.filled(b, ""))


def _write(tmp_path, text, name="bad.tsv"):
    path = tmp_path / name
    path.write_text(text)
    return path


MZR_HEADER = (
    "id\treference\tz\tlog_mstar\tlog_mstar_err_lo\tlog_mstar_err_hi\toh12\toh12_err_lo\t"
    "oh12_err_hi\tsfr\tsfr_err_lo\tsfr_err_hi\tsfr_limit\tcalibration\tnote\n"
)
GOOD_ROW = "A\tRef\t1.5\t9.0\t0.1\t0.1\t8.3\t0.1\t0.1\t10\t1\t2\t\tM08\t\n"


@pytest.mark.parametrize(
    "row, column",
    [
        ("B\tRef\t1.5\tnine\t0.1\t0.1\t8.3\t0.1\t0.1\t10\t1\t2\t\tM08\t\n", "log_mstar"),
        ("B\tRef\t1.5\t9.0\t0.1\t0.1\t12.3\t0.1\t0.1\t10\t1\t2\t\tM08\t\n", "oh12"),
        ("B\tRef\t1.5\t9.0\t-0.1\t0.1\t8.3\t0.1\t0.1\t10\t1\t2\t\tM08\t\n", "log_mstar_err_lo"),
        ("B\tRef\t1.5\t9.0\t0.1\t0.1\t8.3\t0.1\t0.1\t10\t1\t2\t<\tM08\t\n", "sfr_err_lo"),
        ("B\tRef\t1.5\t9.0\t0.1\t0.1\t8.3\t0.1\t0.1\t10\t\t\t<=\tM08\t\n", "sfr_limit"),
        ("B\tRef\t1.5\t9.0\t0.1\t0.1\t8.3\t0.1\t0.1\t\t\t\t<\tM08\t\n", "sfr_limit"),
        ("B\tRef\t1.5\t9.0\t0.1\t0.1\t8.3\t0.1\t0.1\t0\t\t\t\tM08\t\n", "sfr"),
        ("B\tRef\t\t9.0\t0.1\t0.1\t8.3\t0.1\t0.1\t10\t1\t2\t\tM08\t\n", "z"),
        ("B\tRef\t1.5\t9.0\t0.1\t0.1\t8.3\t0.1\t0.1\t10\t1\t2\t\t\t\n", "calibration"),
        ("A\tRef\t1.5\t9.0\t0.1\t0.1\t8.3\t0.1\t0.1\t10\t1\t2\t\tM08\t\n", "id"),
    ],
)
def test_bad_mzr_rows_name_row_and_column(tmp_path, row, column):
    path = _write(tmp_path, "# comment\n" + MZR_HEADER + GOOD_ROW + row)
    with pytest.raises(InputError) as err:
        read_literature_mzr(path)
    message = str(err.value)
    assert str(path) in message
    assert "row 2 (line 4)" in message
    assert f"column {column!r}" in message


def test_bad_mzr_files(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_literature_mzr(tmp_path / "missing.tsv")
    with pytest.raises(InputError, match="column 'oh12' is missing"):
        read_literature_mzr(_write(tmp_path, MZR_HEADER.replace("\toh12\t", "\t")))
    with pytest.raises(InputError, match="unknown column"):
        read_literature_mzr(_write(tmp_path, MZR_HEADER.replace("\tnote", "\tcomment") + GOOD_ROW))
    with pytest.raises(InputError, match="no data rows"):
        read_literature_mzr(_write(tmp_path, "# only a header\n" + MZR_HEADER))
    with pytest.raises(InputError, match=r"row 1 \(line 2\): 3 tab-separated fields"):
        read_literature_mzr(_write(tmp_path, MZR_HEADER + "a\tb\tc\n"))


def test_bad_gradient_rows_name_row_and_column(tmp_path):
    header = "id\treference\tz\tlog_mstar\tgradient\tgradient_err\tmethod\tnote\n"
    good = "A\tRef\t1.5\t\t-0.1\t0.02\tIFU\t\n"
    cases = [
        ("B\tRef\t1.5\t\tsteep\t0.02\tIFU\t\n", "gradient"),
        ("B\tRef\t1.5\t\t-0.1\t-0.02\tIFU\t\n", "gradient_err"),
        ("B\tRef\t1.5\t\t-0.1\t0.02\t\t\n", "method"),
        ("B\tRef\t1.5\t15\t-0.1\t0.02\tIFU\t\n", "log_mstar"),
        ("A\tRef\t1.5\t\t-0.1\t0.02\tIFU\t\n", "id"),
    ]
    for row, column in cases:
        path = _write(tmp_path, header + good + row, name=f"g_{column}.tsv")
        with pytest.raises(InputError) as err:
            read_literature_gradients(path)
        assert "row 2 (line 3)" in str(err.value) and f"column {column!r}" in str(err.value)
    # the same galaxy with another method is a separate entry
    t = read_literature_gradients(
        _write(tmp_path, header + good + good.replace("IFU", "slit"), "ok.tsv")
    )
    assert len(t) == 2


def test_results_allow_mapping_access():
    o = fmr_offset(8.3, 0.1, 9.0, 0.05, 10.0, 2.0, 2.0, n_samples=1000, rng=1)
    assert o["median"] == o.median and o["p16"] == o.p16 and o["uncertainty"] == o.uncertainty
    w = wind_model_tension(np.random.default_rng(2).normal(0.4, 0.07, 5000), 0.17)
    assert w["tail_probability"] == w.p_two_sided and w["n_sigma"] == w.n_sigma
    with pytest.raises(KeyError):
        o["nope"]
