"""AGN screening on the mass-excitation (MEx) diagram of Juneau et al. (2014) (Wang et al. 2017,
Sect. 5, Fig. 6), optionally with the +0.75 dex mass shift of Coil et al. (2015).

Units: stellar mass as log10(M*/Msun), line ratios as log10([OIII]5008/H-beta).
"""

from __future__ import annotations

import logging

import numpy as np
from astropy.table import Table

#: Mass shift (dex) that Coil et al. (2015, ApJ 801, 35) apply to the Juneau et al. (2014)
#: curves for z ~ 2.3 MOSDEF galaxies (quoted in Wang et al. 2017, Sect. 5).
COIL2015_MASS_SHIFT = 0.75


# Juneau et al. (2014), the MEx demarcations. Both curves share the hyperbola at low mass; each
# switches to its own cubic above its breakpoint. The coefficients are the published ones (also
# identical in independent public code that implements "mass_excitation_j14").
_MEX_HYPERBOLA = (0.375, 10.5, 1.14)  # y = a / (x - b) + c


_MEX_UPPER_BREAK = 10.0


_MEX_UPPER_CUBIC = (410.24, -109.333, 9.71731, -0.288244)


_MEX_LOWER_BREAK = 9.6


_MEX_LOWER_CUBIC = (352.066, -93.8249, 8.32651, -0.246416)


#: The MEx classes returned by :func:`classify_mex`.
MEX_CLASSES = ("star-forming", "intermediate", "AGN")


def _hyperbola(x):
    a, b, c = _MEX_HYPERBOLA
    with np.errstate(divide="ignore", invalid="ignore"):
        return a / (x - b) + c


def _cubic(x, coeffs):
    a0, a1, a2, a3 = coeffs
    return a0 + a1 * x + a2 * x**2 + a3 * x**3


def mex_upper(logm):
    """Upper MEx demarcation of Juneau et al. (2014): above it, a galaxy is an AGN.

    ``y = 0.375 / (x - 10.5) + 1.14`` for ``x <= 10``, else
    ``y = 410.24 - 109.333 x + 9.71731 x^2 - 0.288244 x^3``.

    Parameters
    ----------
    logm : float or array_like
        log10(M*/Msun).

    Returns
    -------
    float or numpy.ndarray
        log10([OIII]5008/H-beta) of the curve.

    Notes
    -----
    The two pieces do not meet exactly: at ``x = 10`` the hyperbola gives 0.390 and the cubic
    0.397, a step of +0.0070 dex (cubic minus hyperbola).
    """
    x = np.asarray(logm, dtype=float)
    out = np.where(x <= _MEX_UPPER_BREAK, _hyperbola(x), _cubic(x, _MEX_UPPER_CUBIC))
    return out if out.ndim else float(out)


def mex_lower(logm):
    """Lower MEx demarcation of Juneau et al. (2014): below it, a galaxy is star-forming.

    ``y = 0.375 / (x - 10.5) + 1.14`` for ``x <= 9.6``, else
    ``y = 352.066 - 93.8249 x + 8.32651 x^2 - 0.246416 x^3``.

    Parameters
    ----------
    logm : float or array_like
        log10(M*/Msun).

    Returns
    -------
    float or numpy.ndarray
        log10([OIII]5008/H-beta) of the curve.

    Notes
    -----
    At ``x = 9.6`` the hyperbola gives 0.7233 and the cubic 0.7050, a step of -0.0183 dex (cubic
    minus hyperbola). Below 9.6 the two curves coincide, so there is no "intermediate" region
    there. Above log M* = 12.307 (beyond the masses Juneau et al. calibrated) the lower curve
    rises above the upper one; :func:`classify_mex` then uses the lower and higher of the two.
    """
    x = np.asarray(logm, dtype=float)
    out = np.where(x <= _MEX_LOWER_BREAK, _hyperbola(x), _cubic(x, _MEX_LOWER_CUBIC))
    return out if out.ndim else float(out)


def _mex_codes(logm, log_o3hb, mass_shift):
    """0 = star-forming, 1 = intermediate, 2 = AGN; NaN inputs give -1."""
    x = np.asarray(logm, dtype=float) - float(mass_shift)
    y = np.asarray(log_o3hb, dtype=float)
    x, y = np.broadcast_arrays(x, y)
    up = np.asarray(mex_upper(x))
    lo = np.asarray(mex_lower(x))
    low_curve = np.minimum(up, lo)
    high_curve = np.maximum(up, lo)
    codes = np.ones(x.shape, dtype=int)
    codes[y < low_curve] = 0
    codes[y > high_curve] = 2
    codes[~(np.isfinite(x) & np.isfinite(y))] = -1
    return codes


def classify_mex(logm, log_o3hb, mass_shift: float = 0.0):
    """Classify galaxies on the MEx diagram of Juneau et al. (2014).

    Parameters
    ----------
    logm : float or array_like
        log10(M*/Msun).
    log_o3hb : float or array_like
        log10([OIII]5008/H-beta). Juneau et al. use [OIII]5008 alone; ohmap's ``OIII5008`` map
        is that line (its [OIII]4960 companion is tied at 1/2.98 and not included).
    mass_shift : float, optional
        Shift of the curves in mass (dex): the curves are evaluated at ``logm - mass_shift``.
        ``0`` is Juneau et al. (2014); :data:`COIL2015_MASS_SHIFT` (0.75) is the Coil et al.
        (2015) version for z ~ 2.3.

    Returns
    -------
    str or numpy.ndarray of str
        ``"star-forming"`` below the lower curve, ``"AGN"`` above the upper curve,
        ``"intermediate"`` between them or on either curve; ``""`` where an input is NaN.
        A scalar for scalar inputs.
    """
    codes = _mex_codes(logm, log_o3hb, mass_shift)
    labels = list(MEX_CLASSES) + [""]
    if codes.ndim == 0:
        return labels[int(codes)]
    return np.array(labels)[codes]


def mex_class_fractions(logm_samples, log_o3hb_samples, mass_shift: float = 0.0) -> dict:
    """Posterior probability of each MEx class from samples.

    How it is used: draw joint posterior samples of log M* (SED fitting) and of
    log([OIII]5008/H-beta) (from the line-flux posterior: the ratio of the two lines' flux
    samples), classify every sample with :func:`classify_mex`, and report the fraction in each
    class. A galaxy is screened out as an AGN candidate when its ``"AGN"`` fraction is
    substantial (Wang et al. 2017 keep galaxies whose probability of being AGN is negligible and
    exclude 02607, which lies above the upper curve with and without the Coil et al. shift). The
    fractions measure where the measurement lies given its uncertainty; they are not the
    P(AGN) that Juneau et al. calibrate from SDSS, whose contours the curves are.

    Parameters
    ----------
    logm_samples : float or array_like
        Samples of log10(M*/Msun). A scalar (or a length-1 array) is used for every sample of
        the line ratio; otherwise it must be paired one to one with ``log_o3hb_samples``.
    log_o3hb_samples : array_like
        Samples of log10([OIII]5008/H-beta).
    mass_shift : float, optional
        As in :func:`classify_mex`.

    Returns
    -------
    dict
        ``{"star-forming": f, "intermediate": f, "AGN": f}``, fractions of the finite samples
        (summing to 1), and ``"n_samples"``: the number of finite samples used.

    Raises
    ------
    ValueError
        When the two sample sets have different lengths (and neither is a scalar), or when no
        sample is finite.
    """
    m = np.atleast_1d(np.asarray(logm_samples, dtype=float)).ravel()
    y = np.atleast_1d(np.asarray(log_o3hb_samples, dtype=float)).ravel()
    if m.size not in (1, y.size) and y.size != 1:
        raise ValueError(
            f"{m.size} mass samples and {y.size} line-ratio samples: pair them one "
            "to one, or give one mass"
        )
    codes = _mex_codes(m, y, mass_shift)
    good = codes >= 0
    n = int(good.sum())
    if n == 0:
        raise ValueError("no finite (log M*, log [OIII]/H-beta) sample")
    out = {name: float(np.count_nonzero(codes == i)) / n for i, name in enumerate(MEX_CLASSES)}
    out["n_samples"] = n
    return out


# ----------------------------------------------------------------------------------------------
# Screening a sample from its integrated line fluxes
# ----------------------------------------------------------------------------------------------

log = logging.getLogger(__name__)

#: Below this share of positive flux draws the ratio is not measured (e.g. an H-beta consistent
#: with zero) and the galaxy is not classified.
MIN_POSITIVE_FRACTION = 0.84


def _hbeta_correlation(o3_row) -> float:
    """Correlation of the [OIII]5008 and H-beta fluxes from the flux table's ``correlation``
    column (``"Hb=-0.412,..."``; 0 when not jointly de-blended)."""
    corr = 0.0
    for item in filter(None, str(o3_row["correlation"]).split(",")):
        name, _, value = item.partition("=")
        if name == "Hb":
            corr = float(value)
    return corr


def screen_agn(
    fluxes: Table,
    masses: dict,
    mass_shift: float = 0.0,
    agn_probability: float = 0.5,
    seed: int = 20170207,
    n_draws: int = 20000,
) -> Table:
    """MEx classification of every galaxy from its integrated [OIII]5008/H-beta (Figure 6).

    The ratio of two noisy fluxes (anti-correlated when de-blended together) is propagated by
    Monte Carlo: ``n_draws`` draws of the two fluxes with their covariance, classified one by
    one (:func:`classify_mex`).

    Parameters
    ----------
    fluxes : astropy.table.Table
        The sample's integrated line fluxes (``line_fluxes.ecsv``: ``galaxy_id``, ``line``,
        ``flux``, ``flux_error``, ``correlation``; 1e-17 erg/s/cm^2).
    masses : dict
        Galaxy id -> (log10 M*/Msun, lower error, upper error).
    mass_shift : float
        Shift of the curves in mass (dex), as in :func:`classify_mex`.
    agn_probability : float
        A constrained galaxy whose share of draws in the AGN region is at least this is an AGN
        candidate.
    seed : int
        Seed of the draws (one stream for the sample, in the order of ``masses``).
    n_draws : int
        Monte Carlo draws per galaxy.

    Returns
    -------
    astropy.table.Table
        One row per galaxy: ``log_o3hb`` and its error, ``p_star_forming``, ``p_intermediate``,
        ``p_agn`` (fractions of draws), ``mex_class`` (of the measured ratio; ``unconstrained``
        when under 84 per cent of the draws have both fluxes positive, ``unknown`` without
        both lines), ``agn_candidate`` and a ``note``.
    """
    rng = np.random.default_rng(int(seed))
    rows = []
    for gid, (logm, _, _) in masses.items():
        sub = {str(r["line"]): r for r in fluxes[fluxes["galaxy_id"] == gid]}
        if "OIII5008" not in sub or "Hb" not in sub:
            rows.append(
                dict(
                    galaxy_id=gid,
                    log_mstar=logm,
                    log_o3hb=np.nan,
                    log_o3hb_err=np.nan,
                    p_star_forming=np.nan,
                    p_intermediate=np.nan,
                    p_agn=np.nan,
                    mex_class="unknown",
                    note="[OIII]5008 or Hbeta not measured",
                )
            )
            continue
        o3, hb = sub["OIII5008"], sub["Hb"]
        corr = _hbeta_correlation(o3)
        cov = [
            [o3["flux_error"] ** 2, corr * o3["flux_error"] * hb["flux_error"]],
            [corr * o3["flux_error"] * hb["flux_error"], hb["flux_error"] ** 2],
        ]
        draws = rng.multivariate_normal([o3["flux"], hb["flux"]], cov, size=n_draws)
        positive = (draws > 0).all(axis=1)
        ratio = np.log10(draws[positive, 0] / draws[positive, 1])
        classes = classify_mex(np.full(ratio.size, logm), ratio, mass_shift=mass_shift)
        frac = {c: float(np.mean(classes == c)) for c in ("star-forming", "intermediate", "AGN")}
        point = (
            float(np.log10(o3["flux"] / hb["flux"]))
            if o3["flux"] > 0 and hb["flux"] > 0
            else float(np.median(ratio))
        )
        cls = str(classify_mex(np.array([logm]), np.array([point]), mass_shift=mass_shift)[0])
        if positive.mean() < MIN_POSITIVE_FRACTION:
            cls = "unconstrained"
        rows.append(
            dict(
                galaxy_id=gid,
                log_mstar=logm,
                log_o3hb=point,
                log_o3hb_err=float(np.diff(np.percentile(ratio, [16, 84]))[0] / 2),
                p_star_forming=frac["star-forming"],
                p_intermediate=frac["intermediate"],
                p_agn=frac["AGN"],
                mex_class=cls,
                note=f"{positive.mean():.0%} of flux draws positive",
            )
        )
        log.info(
            "%s: log M* %.2f, log([OIII]/Hb) %.2f -> %s (P(AGN) = %.2f)",
            gid,
            logm,
            point,
            cls,
            frac["AGN"],
        )
    table = Table(rows=rows)
    table["agn_candidate"] = (
        (table["mex_class"] != "unconstrained")
        & (table["mex_class"] != "unknown")
        & (np.nan_to_num(np.asarray(table["p_agn"], float)) >= agn_probability)
    )
    table["log_mstar"].unit = "dex(solMass)"
    table.meta.update(
        mass_shift_dex=mass_shift,
        description=(
            "Mass-excitation classification (Juneau et al. 2014) of the integrated [OIII]5008/Hbeta; "
            "p_*: fraction of Monte Carlo draws of the fluxes (with their correlation) in each class; "
            "mex_class: of the measured ratio, or 'unconstrained' when under 84% of the draws have both fluxes "
            "positive; agn_candidate: p_agn >= agn_probability for a constrained ratio (kept in the tables, left "
            "out of the MZR, FMR and gradient trends)."
        ),
        agn_probability=agn_probability,
    )
    return table
