"""The [SII] BPT diagram: the extreme-starburst line of Kewley et al. (2001) (Wang et al. 2017,
Fig. 11). Line ratios as log10.
"""

from __future__ import annotations

import math

import numpy as np

#: Asymptote of the Kewley et al. (2001) [SII] line in log([SII]/H-alpha).
KEWLEY_SII_ASYMPTOTE = 0.32


def _sii_x(x, nii_ha):
    x = np.asarray(x, dtype=float)
    if nii_ha:
        if not nii_ha > -1:
            raise ValueError(f"nii_ha = {nii_ha!r}: need a flux ratio > -1 (usually >= 0)")
        x = x + math.log10(1.0 + nii_ha)
    return x


def kewley_sii_line(x, nii_ha: float = 0.0):
    """The extreme-starburst line of Kewley et al. (2001) in the [SII] BPT diagram.

    ``log([OIII]/H-beta) = 0.72 / (log([SII]/H-alpha) - 0.32) + 1.30``, defined for
    ``log([SII]/H-alpha) < 0.32`` (Kewley et al. 2001, Eq. 6; the line Kewley et al. 2006 keep
    as the star-forming boundary of this diagram).

    Parameters
    ----------
    x : float or array_like
        log10([SII]6718,6733 / H-alpha); with ``nii_ha`` > 0, log10([SII] / (H-alpha + [NII]))
        as measured against the blended grism line (Wang et al. 2017, Fig. 11).
    nii_ha : float, optional
        ([NII]6550 + [NII]6585)/H-alpha assumed in the blend (Wang et al. 2017 use the
        "vanilla" 0.05). The line is evaluated at ``x + log10(1 + nii_ha)``.

    Returns
    -------
    float or numpy.ndarray
        log10([OIII]5008/H-beta) of the line; NaN where ``log([SII]/H-alpha) >= 0.32``.
    """
    xs = _sii_x(x, nii_ha)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.where(xs < KEWLEY_SII_ASYMPTOTE, 0.72 / (xs - KEWLEY_SII_ASYMPTOTE) + 1.30, np.nan)
    return y if y.ndim else float(y)


def above_kewley_sii(x, y, nii_ha: float = 0.0):
    """Whether points lie above (beyond) the Kewley et al. (2001) [SII] extreme-starburst line.

    Parameters
    ----------
    x, y : float or array_like
        log10([SII]/H-alpha) (see ``nii_ha``) and log10([OIII]5008/H-beta).
    nii_ha : float, optional
        As in :func:`kewley_sii_line`.

    Returns
    -------
    bool or numpy.ndarray of bool
        True above the line, and everywhere at ``log([SII]/H-alpha) >= 0.32`` (right of the
        asymptote, where no starburst model reaches); False on or below it and for NaN input.
    """
    xs = _sii_x(x, nii_ha)
    yy = np.asarray(y, dtype=float)
    xs, yy = np.broadcast_arrays(xs, yy)
    line = np.asarray(kewley_sii_line(xs))
    right = xs >= KEWLEY_SII_ASYMPTOTE
    with np.errstate(invalid="ignore"):
        out = np.where(right, True, yy > line) & np.isfinite(yy) & np.isfinite(xs)
    return bool(out) if out.ndim == 0 else out


#: The lines of the [SII] BPT diagram.
BPT_LINES = ("OIII5008", "Hb", "SII", "Ha")


def spaxel_bpt_points(plan, radius_kpc, min_snr: float = 2.0):
    """log([SII]/H-alpha) and log([OIII]5008/H-beta) of the fitted spaxels whose four lines are
    all above ``min_snr`` sigma, with each spaxel's deprojected radius (Figure 11).

    Parameters
    ----------
    plan : astropy.table.Table
        The galaxy's spaxel plan (:func:`ohmap.inference.spaxels.read_plan`): ``iy``, ``ix`` and
        ``<line>_flux``, ``<line>_err`` (1e-17 erg/s/cm^2).
    radius_kpc : ndarray
        Radius map on the spaxel grid (kpc).
    min_snr : float
        S/N each of the four lines must exceed (a ratio needs both of its lines).

    Returns
    -------
    points : dict or None
        ``x``, ``y`` (log10 ratios) and ``radius`` (kpc) per spaxel kept; None when the plan
        lacks a line or has no spaxel.
    n_kept : int
    """
    if not (all(f"{n}_flux" in plan.colnames for n in BPT_LINES) and len(plan)):
        return None, 0
    f = {n: np.asarray(plan[f"{n}_flux"], float) for n in BPT_LINES}
    e = {n: np.asarray(plan[f"{n}_err"], float) for n in BPT_LINES}
    ok = np.all([f[n] > min_snr * e[n] for n in BPT_LINES], axis=0)
    points = {
        "x": np.log10(f["SII"][ok] / f["Ha"][ok]),
        "y": np.log10(f["OIII5008"][ok] / f["Hb"][ok]),
        "radius": radius_kpc[np.asarray(plan["iy"])[ok], np.asarray(plan["ix"])[ok]],
    }
    return points, int(ok.sum())


def integrated_bpt_point(fluxes) -> dict | None:
    """The galaxy's integrated log([SII]/H-alpha) and log([OIII]5008/H-beta) with their errors
    (first-order propagation), from its flux table (one row per line); None unless all four
    lines have positive fluxes."""
    rows = {str(r["line"]): r for r in fluxes}
    if not (all(n in rows for n in BPT_LINES) and all(rows[n]["flux"] > 0 for n in BPT_LINES)):
        return None

    def log_ratio(a, b):
        value = np.log10(rows[a]["flux"] / rows[b]["flux"])
        err = np.hypot(
            rows[a]["flux_error"] / rows[a]["flux"], rows[b]["flux_error"] / rows[b]["flux"]
        ) / np.log(10)
        return value, err

    (x, xerr), (y, yerr) = log_ratio("SII", "Ha"), log_ratio("OIII5008", "Hb")
    return dict(x=x, y=y, xerr=xerr, yerr=yerr)
