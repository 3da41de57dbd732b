"""Which de-blending a blend group adopts (ohmap.linemaps.stack.choose_deblend) and whether its
maps conserve the blend's flux (blend_conservation), on numbers alone."""

from __future__ import annotations

import numpy as np
import pytest

from ohmap.linemaps.maps import Extraction
from ohmap.linemaps.stack import blend_coefficients, blend_conservation, choose_deblend
from ohmap.lines import OIII_5008_TO_4960

C = {"Hb": 1.0, "OIII5008": 1.0 + 1.0 / OIII_5008_TO_4960}


def test_a_less_precise_joint_solution_keeps_the_per_pa_one():
    # Issue 17 (1), simulated: de-blended Hb -1.2 +- 7.8 against truth 9.1, per-PA 9.5 +- 1.05.
    per_pa = {"Hb": (9.5, 1.05), "OIII5008": (30.0, 1.5)}
    joint = {"Hb": (-1.2, 7.8), "OIII5008": (36.0, 6.0)}
    choice = choose_deblend(per_pa, joint, C)
    assert choice.adopted == "stack"
    assert choice.reason.startswith("per-PA kept")
    assert "joint Hb error 7.8 > per-PA 1.1" in choice.reason
    assert "OIII5008 error 6 > per-PA 1.5" in choice.reason
    # It agrees within the errors and conserves the blend: precision alone decided.
    assert abs(choice.checks["Hb"]["z"]) < 3 and abs(choice.checks["total"]["z"]) < 3


def test_a_better_joint_solution_is_adopted():
    per_pa = {"Hb": (9.5, 1.05), "OIII5008": (30.0, 1.5)}
    joint = {"Hb": (9.0, 0.9), "OIII5008": (30.4, 1.4)}
    choice = choose_deblend(per_pa, joint, C)
    assert choice.adopted == "joint"
    assert choice.reason.startswith("joint adopted (errors <= per-PA)")
    assert choice.checks["Hb"]["z"] == pytest.approx(-0.5 / np.hypot(0.9, 1.05))
    assert np.isfinite(choice.checks["total"]["z"])


def test_a_joint_solution_that_does_not_conserve_the_blend_is_rejected():
    # Each line within 3 sigma of its per-PA flux, and more precise, but together they hold
    # twice the blend's integrated total (the GOODS-S 152 map sums, had they been joint).
    per_pa = {"Hb": (2.14, 1.06), "OIII5008": (9.39, 3.05)}
    joint = {"Hb": (5.05, 1.0), "OIII5008": (19.05, 2.0)}
    choice = choose_deblend(per_pa, joint, C)
    assert choice.adopted == "stack"
    assert all(abs(choice.checks[n]["z"]) < 3 for n in per_pa)
    assert choice.checks["total"]["z"] > 3
    assert "joint blend total 30.5 vs integrated 14.7" in choice.reason
    assert "does not conserve" in choice.reason


def test_a_line_far_from_its_per_pa_flux_rejects_the_joint_solution():
    # The mock's 04054 H-alpha group: [SII] driven negative, H-alpha doubled.
    per_pa = {"Ha": (74.0, 15.9), "SII": (26.2, 6.0)}
    joint = {"Ha": (177.5, 19.0), "SII": (-78.0, 25.1)}
    choice = choose_deblend(per_pa, joint, per_pa_conserved=False)
    assert choice.adopted == "stack"
    assert "joint Ha 178 +- 19 vs per-PA 74 +- 16" in choice.reason
    assert "joint SII -78 +- 25" in choice.reason


def test_precision_is_not_compared_where_the_per_pa_maps_do_not_conserve_flux():
    per_pa = {"Hb": (33.4, 0.94), "OIII5008": (59.1, 1.2)}
    joint = {"Hb": (34.5, 6.2), "OIII5008": (59.2, 4.7)}
    assert choose_deblend(per_pa, joint, C).adopted == "stack"
    choice = choose_deblend(per_pa, joint, C, per_pa_conserved=False)
    assert choice.adopted == "joint"
    assert "precision not compared" in choice.reason


def test_lines_without_a_per_pa_flux_are_left_out_of_the_comparison():
    per_pa = {"Hb": (np.nan, np.nan), "OIII5008": (30.0, 1.5)}
    joint = {"Hb": (9.0, 5.0), "OIII5008": (30.4, 1.4)}
    choice = choose_deblend(per_pa, joint, C)
    assert choice.adopted == "joint" and "Hb" not in choice.checks
    only_joint = choose_deblend({"Hb": (np.nan, np.nan)}, {"Hb": (9.0, 5.0)})
    assert only_joint.adopted == "joint" and "no per-PA" in only_joint.reason


def test_blend_conservation_flags_maps_that_count_flux_twice():
    per_pa = {"Hb": (2.14, 1.06), "OIII5008": (9.39, 3.05)}
    # The per-PA contour maps of GOODS-S 152 summed over the footprint (coverage-corrected).
    z, text = blend_conservation({"Hb": (5.81, 2.9), "OIII5008": (25.3, 9.0)}, per_pa, C)
    total = 2.14 + 9.39 * C["OIII5008"]
    error = 1.06 + 3.05 * C["OIII5008"]
    assert z == pytest.approx((5.81 + 25.3 * C["OIII5008"] - total) / error)
    assert z > 3 and "does not conserve" in text and text.startswith("per-PA maps'")
    z, text = blend_conservation({"Hb": (2.5, 2.9), "OIII5008": (9.0, 9.0)}, per_pa, C)
    assert abs(z) < 1 and text.endswith("flux conserved")
    z, text = blend_conservation({}, per_pa, C)
    assert np.isnan(z) and "unknown" in text


def test_blend_coefficients_count_oiii4960_where_a_spectrum_has_it():
    def extraction(columns):
        fp = np.ones((4, 4), dtype=bool)
        return Extraction("g", "1", "G141", 0.0, 0.065, fp, {}, [], columns=columns)

    with_4960 = extraction({"Hb": 10.0, "OIII4960": 20.0, "OIII5008": 23.0})
    without = extraction({"Hb": 10.0, "OIII5008": 23.0})
    assert blend_coefficients(("Hb", "OIII5008"), [with_4960]) == pytest.approx(C)
    assert blend_coefficients(("Hb", "OIII5008"), [without]) == {"Hb": 1.0, "OIII5008": 1.0}
    assert blend_coefficients(("Ha", "SII"), [with_4960]) == {"Ha": 1.0, "SII": 1.0}
