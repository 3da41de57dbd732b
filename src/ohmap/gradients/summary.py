"""The sample's metallicity gradients in one table (Wang et al. 2017, Table 5), and as LaTeX."""

from __future__ import annotations

import numpy as np
from astropy.table import Table

_DAGGER = "$^\\dagger$"
_PREFIX = {"individual_spaxel": "spaxel", "radial_annulus": "annulus", "forward_model": "forward"}


def gradient_summary(gradients, morphologies) -> Table:
    """One row per galaxy: both gradients, whether the galaxy is kept, and its source-plane shape.

    Parameters
    ----------
    gradients : sequence of astropy.table.Table
        Each galaxy's gradient table (:func:`ohmap.gradients.galaxy.galaxy_gradients`).
    morphologies : sequence of ohmap.gradients.morphology.SourceMorphology
        The same galaxies' source-plane morphologies, in the same order.
    """
    rows = []
    for g, m in zip(gradients, morphologies):
        one = {
            "galaxy_id": g.meta["galaxy"],
            "redshift": g.meta["redshift"],
            "n_fitted_spaxels": int(g["n_fitted_spaxels"][0]),
            "kept": bool(g["kept"][0]),
            "agn_candidate": bool(g["agn_candidate"][0]),
            "axis_ratio": m.axis_ratio,
            "axis_ratio_err": m.axis_ratio_err,
            "major_axis_pa_deg": m.pa_deg,
            "inclination_deg": m.inclination_deg,
        }
        for r in g:
            prefix = _PREFIX[r["method"]]
            one |= {
                f"{prefix}_slope": r["slope"],
                f"{prefix}_slope_err": r["slope_err"],
                f"{prefix}_n": int(r["n"]),
                f"{prefix}_flag": bool(r["flag"]),
                f"{prefix}_reason": str(r["reason"]),
            }
        rows.append(one)
    table = Table(rows=rows)
    for col in [f"{p}_slope{e}" for p in _PREFIX.values() for e in ("", "_err")]:
        if col in table.colnames:
            table[col].unit = "dex/kpc"
    table["major_axis_pa_deg"].unit = table["inclination_deg"].unit = "deg"
    table.meta["description"] = (
        "Metallicity gradients (Sect. 6.1): individual-spaxel and radial-annulus methods, "
        "and the forward-modelled gradient (one linear profile fitted to the line fluxes of "
        "every footprint spaxel; it needs no fitted spaxel); "
        "kept = enough fitted spaxels for a trustworthy map; agn_candidate flagged, not "
        "dropped; source-plane axis ratio, major-axis PA and inclination."
    )
    return table


def _cell(value, error, flag):
    if not np.isfinite(value):
        return "\\nodata"
    mark = _DAGGER if flag else ""
    return f"${value:+.3f}\\pm{error:.3f}${mark}"


def gradient_summary_latex(table) -> str:
    """Table 5 as a LaTeX tabular; flagged fits marked, galaxies left out noted."""
    lines = [
        "\\begin{tabular}{lccccc}",
        "\\hline",
        "ID & $z$ & individual spaxels & radial annuli & forward model & notes \\\\",
        " & & (dex kpc$^{-1}$) & (dex kpc$^{-1}$) & (dex kpc$^{-1}$) & \\\\",
        "\\hline",
    ]
    for r in table:
        notes = []
        if not r["kept"]:
            notes.append(f"{r['n_fitted_spaxels']} spaxels: not used")
        if r["agn_candidate"]:
            notes.append("AGN candidate")
        spaxel = (
            _cell(r["spaxel_slope"], r["spaxel_slope_err"], r["spaxel_flag"])
            if r["kept"]
            else "\\nodata"
        )
        annulus = (
            _cell(r["annulus_slope"], r["annulus_slope_err"], r["annulus_flag"])
            if r["kept"]
            else "\\nodata"
        )
        # The forward model uses every footprint spaxel, fitted or not: shown for every galaxy.
        forward = (
            _cell(r["forward_slope"], r["forward_slope_err"], r["forward_flag"])
            if "forward_slope" in r.colnames
            else "\\nodata"
        )
        lines.append(
            f"{r['galaxy_id']} & {r['redshift']:.2f} & {spaxel} & {annulus} & {forward} & "
            f"{'; '.join(notes)} \\\\"
        )
    lines += [
        "\\hline",
        "\\end{tabular}",
        "% $^\\dagger$: flagged fit (too few points or too small a radius range; see gradients.ecsv)",
    ]
    return "\n".join(lines) + "\n"
