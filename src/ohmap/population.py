"""Population diagnostics and scaling relations (Wang et al. 2017, Sects. 5 and 6.1).

Pure functions for the global-property analysis of the paper:

* AGN screening on the mass-excitation (MEx) diagram of Juneau et al. (2014), optionally with the
  +0.75 dex mass shift of Coil et al. (2015) (Fig. 6): :func:`mex_upper`, :func:`mex_lower`,
  :func:`classify_mex`, :func:`mex_class_fractions`.
* The extreme-starburst line of Kewley et al. (2001) in the [SII] BPT diagram (Fig. 11):
  :func:`kewley_sii_line`, :func:`above_kewley_sii`.
* Star-forming main sequences (Fig. 7): :func:`speagle_ms`, :func:`whitaker_ms`.
* Mass-metallicity relations (Fig. 8): :func:`ma2016_mzr`, :func:`maiolino2008_mzr`, and the
  comparison of a fitted MZR slope with equilibrium wind models, :func:`wind_model_tension`.
* The fundamental metallicity relation of Mannucci et al. (2011) and offsets from it (Fig. 9):
  :func:`fmr_metallicity`, :func:`fmr_branch_gap`, :func:`fmr_offset`, :func:`median_offset`.
* Readers for the literature compilations shipped in ``resources/``:
  :func:`read_literature_mzr`, :func:`read_literature_gradients`.

Units throughout: stellar mass as log10(M*/Msun); SFR in Msun/yr (``log_sfr`` = log10 of it);
12+log(O/H) in dex; metallicity gradients in dex/kpc; redshift dimensionless.

Every numerical constant below names its source. Numbers that come from a third party's code
rather than from the paper itself are said to be so.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import InputError

# ----------------------------------------------------------------------------------------------
# Mass-excitation (MEx) diagram: Juneau et al. (2014, ApJ 788, 88)
# ----------------------------------------------------------------------------------------------

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
        raise ValueError(f"{m.size} mass samples and {y.size} line-ratio samples: pair them one "
                         "to one, or give one mass")
    codes = _mex_codes(m, y, mass_shift)
    good = codes >= 0
    n = int(good.sum())
    if n == 0:
        raise ValueError("no finite (log M*, log [OIII]/H-beta) sample")
    out = {name: float(np.count_nonzero(codes == i)) / n for i, name in enumerate(MEX_CLASSES)}
    out["n_samples"] = n
    return out


# ----------------------------------------------------------------------------------------------
# [SII] BPT: Kewley et al. (2001) maximum ("extreme") starburst line
# ----------------------------------------------------------------------------------------------

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


# ----------------------------------------------------------------------------------------------
# Star-forming main sequences
# ----------------------------------------------------------------------------------------------

_COSMOLOGY = None


def cosmic_age(z):
    """Age of the universe (Gyr) at redshift ``z`` for astropy ``FlatLambdaCDM(H0=70, Om0=0.3)``.

    The cosmology of Wang et al. (2017) and of Speagle et al. (2014); no radiation term.
    """
    global _COSMOLOGY
    if _COSMOLOGY is None:
        from astropy.cosmology import FlatLambdaCDM

        _COSMOLOGY = FlatLambdaCDM(H0=70.0, Om0=0.3)
    age = _COSMOLOGY.age(np.asarray(z, dtype=float)).to_value("Gyr")
    return age if np.ndim(age) else float(age)


def speagle_ms(logm, z):
    """Star-forming main sequence of Speagle et al. (2014, ApJS 214, 15), their best fit (Eq. 28).

    ``log SFR = (0.84 - 0.026 t) log M* - (6.51 - 0.11 t)``, ``t`` the age of the universe in
    Gyr (:func:`cosmic_age`, FlatLambdaCDM with H0 = 70, Om0 = 0.3, the cosmology Speagle et al.
    adopt). Published uncertainties: 0.84 +- 0.02, 0.026 +- 0.003, 6.51 +- 0.24, 0.11 +- 0.03.

    Speagle et al. normalise masses and SFRs to a Kroupa (2001) IMF, which is close to the
    Chabrier (2003) IMF of Wang et al. (2017); no conversion is applied here.

    Parameters
    ----------
    logm : float or array_like
        log10(M*/Msun).
    z : float or array_like
        Redshift (broadcast against ``logm``).

    Returns
    -------
    float or numpy.ndarray
        log10(SFR / (Msun/yr)).
    """
    t = np.asarray(cosmic_age(z), dtype=float)
    x = np.asarray(logm, dtype=float)
    out = (0.84 - 0.026 * t) * x - (6.51 - 0.11 * t)
    return out if np.ndim(out) else float(out)


#: Whitaker et al. (2014, ApJ 795, 104), Table 1: quadratic fits
#: log SFR = a + b log M* + c (log M*)^2, per redshift bin (z_lo, z_hi): (a, b, c).
#: Published 1-sigma errors: a +- 1.91, 1.69, 2.08, 1.87; b +- 0.39, 0.34, 0.40, 0.36;
#: c +- 0.02 in every bin. Coefficients checked against several independent public codes that
#: cite this table (not against the paper itself, which was not available here).
WHITAKER2014_QUADRATIC = {
    (0.5, 1.0): (-27.40, 5.02, -0.22),
    (1.0, 1.5): (-26.03, 4.62, -0.19),
    (1.5, 2.0): (-24.04, 4.17, -0.16),
    (2.0, 2.5): (-19.99, 3.44, -0.13),
}


def whitaker_ms(logm, z):
    """Star-forming main sequence of Whitaker et al. (2014): their quadratic fit (Table 1).

    ``log SFR = a + b log M* + c (log M*)^2`` with (a, b, c) of the redshift bin holding ``z``
    (:data:`WHITAKER2014_QUADRATIC`; bins 0.5-1.0, 1.0-1.5, 1.5-2.0, 2.0-2.5, each closed below
    and open above, the last closed at 2.5). Masses and SFRs for a Chabrier (2003) IMF, as in
    Wang et al. (2017). Whitaker et al. also give a broken power law (their Eq. 2); it is not
    implemented because its coefficients could not be verified for every bin here. The mass-
    completeness limits below which Wang et al. draw the curves dotted (Fig. 7) are not
    included either, for the same reason.

    Parameters
    ----------
    logm : float or array_like
        log10(M*/Msun).
    z : float or array_like
        Redshift, 0.5 <= z <= 2.5 (broadcast against ``logm``).

    Returns
    -------
    float or numpy.ndarray
        log10(SFR / (Msun/yr)).

    Raises
    ------
    ValueError
        For a redshift outside 0.5-2.5 (the fits are not extrapolated).
    """
    x, zz = np.broadcast_arrays(np.asarray(logm, dtype=float), np.asarray(z, dtype=float))
    out = np.full(x.shape, np.nan)
    done = np.zeros(x.shape, dtype=bool)
    bins = sorted(WHITAKER2014_QUADRATIC)
    for i, (z_lo, z_hi) in enumerate(bins):
        last = i == len(bins) - 1
        sel = (zz >= z_lo) & ((zz <= z_hi) if last else (zz < z_hi))
        a, b, c = WHITAKER2014_QUADRATIC[(z_lo, z_hi)]
        out[sel] = a + b * x[sel] + c * x[sel] ** 2
        done |= sel
    if not np.all(done | np.isnan(zz)):
        bad = zz[~(done | np.isnan(zz))].ravel()[0]
        raise ValueError(f"z = {bad}: the Whitaker et al. (2014) fits cover 0.5 <= z <= 2.5 only")
    return out if out.ndim else float(out)


# ----------------------------------------------------------------------------------------------
# Mass-metallicity relations and wind models
# ----------------------------------------------------------------------------------------------

#: Wang et al. (2017) Eq. 5: their MZR, 12+log(O/H) = alpha + beta log M* + N(sigma), fitted with
#: linmix to 38 M08-based measurements at 1.2 < z < 2.3 (median z = 1.84).
#: Each entry is (median, +error, -error).
WANG2017_MZR = {"alpha": (4.71, 0.62, 0.64), "beta": (0.40, 0.07, 0.07), "sigma": (0.03, 0.02, 0.01)}

#: MZR slopes of the equilibrium wind models of Finlator & Dave (2008) and Dave et al. (2012), as
#: summarised by Guo et al. (2016) and quoted in Wang et al. (2017, Sect. 5): momentum-driven
#: winds ~0.17, energy-driven winds ~0.33.
MOMENTUM_DRIVEN_BETA = 0.17
ENERGY_DRIVEN_BETA = 0.33

#: Maiolino et al. (2008, A&A 488, 463) MZR fits, 12+log(O/H) = -0.0864 (log M* - log M0)^2 + K0,
#: per redshift: (log M0, K0). The values are those given in the brief of this module; identical
#: numbers appear in independent public code (a "MAIOLINO08_PARAMS" table), which also lists
#: (12.87, 8.90) for z = 3.5, the Mannucci et al. (2009) revision, not included here. Not checked
#: against M08 itself, which was not available.
MAIOLINO2008_MZR = {
    "0.07": (11.18, 9.04),
    "0.7": (11.57, 9.04),
    "2.2": (12.38, 8.99),
    "3.5": (12.76, 8.79),
}
_M08_CURVATURE = -0.0864


def ma2016_mzr(logm, z=None):
    """Gas-phase MZR of the FIRE simulations, Ma et al. (2016, MNRAS 456, 2140).

    Without ``z``: ``12+log(O/H) = 0.35 log M* + 4.87``, the relation Wang et al. (2017, Sect. 5)
    quote at their median redshift z = 1.84. With ``z``: Ma et al.'s redshift-dependent fit,
    ``12+log(O/H) = 9.0 + 0.35 (log M* - 10) + 0.93 exp(-0.43 z) - 1.05`` (from their abstract,
    where log(Z_gas/Z_sun) = 12+log(O/H) - 9.0); at z = 1.84 its intercept is 4.8716, which
    rounds to the 4.87 that Wang et al. quote.

    Parameters
    ----------
    logm : float or array_like
        log10(M*/Msun).
    z : float or array_like, optional
        Redshift.

    Returns
    -------
    float or numpy.ndarray
        12+log(O/H).
    """
    x = np.asarray(logm, dtype=float)
    if z is None:
        out = 0.35 * x + 4.87
    else:
        out = 9.0 + 0.35 * (x - 10.0) + 0.93 * np.exp(-0.43 * np.asarray(z, dtype=float)) - 1.05
    return out if np.ndim(out) else float(out)


def maiolino2008_mzr(logm, z_label):
    """MZR fit of Maiolino et al. (2008) at one of their redshifts (Wang et al. 2017, Fig. 8).

    ``12+log(O/H) = -0.0864 (log M* - log M0)^2 + K0`` with (log M0, K0) from
    :data:`MAIOLINO2008_MZR`.

    Parameters
    ----------
    logm : float or array_like
        log10(M*/Msun).
    z_label : str or float
        One of ``"0.07"``, ``"0.7"``, ``"2.2"``, ``"3.5"`` (or the same numbers).

    Returns
    -------
    float or numpy.ndarray
        12+log(O/H) on the M08 scale.

    Raises
    ------
    ValueError
        For another redshift.
    """
    key = None
    if isinstance(z_label, str):
        key = z_label.strip()
    else:
        for k in MAIOLINO2008_MZR:
            if math.isclose(float(z_label), float(k), abs_tol=1e-9):
                key = k
    if key not in MAIOLINO2008_MZR:
        raise ValueError(f"z_label = {z_label!r}: Maiolino et al. (2008) fits exist for z = "
                         f"{', '.join(MAIOLINO2008_MZR)}")
    logm0, k0 = MAIOLINO2008_MZR[key]
    x = np.asarray(logm, dtype=float)
    out = _M08_CURVATURE * (x - logm0) ** 2 + k0
    return out if np.ndim(out) else float(out)


@dataclass(frozen=True)
class WindTension:
    """How far a posterior on the MZR slope lies from a wind model's slope.

    Attributes
    ----------
    beta_model : float
        The model slope.
    median : float
        Posterior median of the slope.
    sigma : float
        Posterior 1-sigma width on the side facing the model (median - 16th percentile when the
        model lies below the median, 84th percentile - median otherwise).
    n_sigma : float
        ``|median - beta_model| / sigma``: the distance in posterior sigmas.
    tail_fraction : float
        Fraction of samples on the far side of the model (beyond it, seen from the median).
    p_two_sided : float
        ``min(1, 2 * tail_fraction)``: the posterior probability of a slope at least as far
        from the median as the model, on either side. When no sample lies beyond the model it
        is the bound ``2 / n_samples`` and ``p_is_upper_limit`` is True.
    p_is_upper_limit : bool
        See ``p_two_sided``.
    n_sigma_equivalent : float
        The Gaussian two-sided significance of ``p_two_sided`` (a lower limit when
        ``p_is_upper_limit``).
    n_samples : int
        Finite samples used.
    """

    beta_model: float
    median: float
    sigma: float
    n_sigma: float
    tail_fraction: float
    p_two_sided: float
    p_is_upper_limit: bool
    n_sigma_equivalent: float
    n_samples: int

    @property
    def tail_probability(self) -> float:
        """Alias of ``p_two_sided``."""
        return self.p_two_sided

    def __getitem__(self, key: str):
        """Mapping-style access to the attributes (``result["n_sigma"]``)."""
        return _getitem(self, key)


def wind_model_tension(beta_samples, beta_model: float) -> WindTension:
    """Tension between posterior samples of the MZR slope and a wind model's slope.

    Wang et al. (2017, Sect. 5) compare their slope beta = 0.40 +- 0.07 with the
    energy-driven (:data:`ENERGY_DRIVEN_BETA`, ~0.33) and momentum-driven
    (:data:`MOMENTUM_DRIVEN_BETA`, ~0.17) equilibrium wind models (Finlator & Dave 2008;
    Dave et al. 2012, as summarised by Guo et al. 2016): "marginally compatible" with the first
    at 1 sigma, ruling out the second at 3 sigma.

    Parameters
    ----------
    beta_samples : array_like
        Posterior samples of the slope (e.g. from linmix). Non-finite samples are dropped.
    beta_model : float
        The model's slope.

    Returns
    -------
    WindTension

    Raises
    ------
    ValueError
        With fewer than two finite samples.
    """
    b = np.asarray(beta_samples, dtype=float).ravel()
    b = b[np.isfinite(b)]
    n = b.size
    if n < 2:
        raise ValueError("need at least two finite slope samples")
    p16, med, p84 = np.percentile(b, [16.0, 50.0, 84.0])
    model = float(beta_model)
    if model <= med:
        sigma = med - p16
        tail = np.count_nonzero(b <= model) / n
    else:
        sigma = p84 - med
        tail = np.count_nonzero(b >= model) / n
    n_sigma = abs(med - model) / sigma if sigma > 0 else math.inf
    limit = tail == 0
    p = 2.0 / n if limit else min(1.0, 2.0 * tail)
    from scipy.stats import norm

    p = min(p, 1.0)
    return WindTension(beta_model=model, median=float(med), sigma=float(sigma), n_sigma=float(n_sigma),
                       tail_fraction=float(tail), p_two_sided=float(p), p_is_upper_limit=bool(limit),
                       n_sigma_equivalent=float(norm.isf(p / 2.0)), n_samples=int(n))


# ----------------------------------------------------------------------------------------------
# Fundamental metallicity relation: Mannucci et al. (2011, MNRAS 414, 1263), their Eq. 2
# ----------------------------------------------------------------------------------------------

#: mu_alpha = log M* - alpha log SFR with alpha = 0.32 (Mannucci et al. 2010, 2011).
FMR_ALPHA = 0.32
#: mu_0.32 at which Mannucci et al. (2011) switch from the 2-D surface to the linear extension.
FMR_MU_BREAK = 9.5

#: Wang et al. (2017, Sect. 5) FMR offsets (median offset, median uncertainty), dex, for checks.
WANG2017_FMR_OFFSETS = {"all M08-based": (0.07, 0.14), "this work": (-0.07, 0.12),
                        "Wuyts et al. 2012": (0.22, 0.11)}


def _fmr_high(m, s):
    return 8.90 + 0.37 * m - 0.14 * s - 0.19 * m**2 + 0.12 * m * s - 0.054 * s**2


def _fmr_low(mu):
    return 8.93 + 0.51 * (mu - 10.0)


def fmr_metallicity(logm, log_sfr):
    """Metallicity predicted by the FMR of Mannucci et al. (2011), their Eq. 2.

    With ``mu = log M* - 0.32 log SFR``, ``m = log M* - 10`` and ``s = log SFR``:

    * ``mu >= 9.5``: ``12+log(O/H) = 8.90 + 0.37 m - 0.14 s - 0.19 m^2 + 0.12 m s - 0.054 s^2``
      (the surface of Mannucci et al. 2010);
    * ``mu < 9.5``: ``12+log(O/H) = 8.93 + 0.51 (mu - 10)`` (the low-mass extension).

    Metallicities are on the Maiolino et al. (2008) scale, masses and SFRs for a Chabrier
    (2003) IMF.

    The two branches do not join at ``mu = 9.5``: the linear branch gives 8.675 there, while the
    surface gives (surface minus linear, :func:`fmr_branch_gap`)

    ======= ====== =========
    log SFR log M* gap (dex)
    ======= ====== =========
    -1.0     9.18  -0.022
     0.0     9.50  -0.008
     0.5     9.66  -0.027
     1.0     9.82  -0.063
     1.5     9.98  -0.118
     2.0    10.14  -0.189
    ======= ====== =========

    so for the SFRs of the Wang et al. sample (about 2-85 Msun/yr, log SFR 0.3-1.9) the step is
    a few hundredths to ~0.2 dex. The surface never reaches the linear branch: the step is
    smallest, -0.0044 dex, at log SFR = -0.30.

    Parameters
    ----------
    logm : float or array_like
        log10(M*/Msun).
    log_sfr : float or array_like
        log10(SFR / (Msun/yr)).

    Returns
    -------
    float or numpy.ndarray
        12+log(O/H).
    """
    x, s = np.broadcast_arrays(np.asarray(logm, dtype=float), np.asarray(log_sfr, dtype=float))
    mu = x - FMR_ALPHA * s
    out = np.where(mu >= FMR_MU_BREAK, _fmr_high(x - 10.0, s), _fmr_low(mu))
    return out if out.ndim else float(out)


def fmr_branch_gap(log_sfr):
    """Step of the Mannucci et al. (2011) FMR at ``mu_0.32 = 9.5``: surface minus linear branch.

    Parameters
    ----------
    log_sfr : float or array_like
        log10(SFR / (Msun/yr)); the mass is the one that puts ``mu_0.32`` at 9.5.

    Returns
    -------
    float or numpy.ndarray
        The discontinuity in dex (negative: the surface lies below the linear extension).
    """
    s = np.asarray(log_sfr, dtype=float)
    m = FMR_MU_BREAK + FMR_ALPHA * s - 10.0
    out = _fmr_high(m, s) - _fmr_low(FMR_MU_BREAK)
    return out if out.ndim else float(out)


@dataclass(frozen=True)
class FMROffset:
    """Offset of a measured metallicity from the FMR prediction (measured minus predicted).

    Attributes
    ----------
    median, p16, p84 : float
        Median and 16th/84th percentiles of the Monte Carlo offsets (dex).
    deterministic : float
        Offset computed from the central values alone.
    n_samples : int
        Monte Carlo samples drawn.
    """

    median: float
    p16: float
    p84: float
    deterministic: float
    n_samples: int

    @property
    def err_lo(self) -> float:
        """``median - p16``."""
        return self.median - self.p16

    @property
    def err_hi(self) -> float:
        """``p84 - median``."""
        return self.p84 - self.median

    @property
    def uncertainty(self) -> float:
        """Half the 16th-84th percentile width: the symmetric 1-sigma uncertainty."""
        return 0.5 * (self.p84 - self.p16)

    def __getitem__(self, key: str):
        """Mapping-style access to the attributes (``result["median"]``)."""
        return _getitem(self, key)


def _getitem(obj, key):
    if not isinstance(key, str) or key.startswith("_") or not hasattr(obj, key):
        raise KeyError(key)
    return getattr(obj, key)


def _pair(err, name):
    """(lo, hi) from a scalar or a pair; None counts as 0."""
    if err is None:
        return 0.0, 0.0
    arr = np.asarray(err, dtype=float).ravel()
    if arr.size == 1:
        lo = hi = float(arr[0])
    elif arr.size == 2:
        lo, hi = float(arr[0]), float(arr[1])
    else:
        raise ValueError(f"{name}: give one error or a (lower, upper) pair")
    if not (lo >= 0 and hi >= 0):
        raise ValueError(f"{name} = {err!r}: errors must be >= 0")
    return lo, hi


def _split_normal(rng, centre, lo, hi, n):
    z = rng.standard_normal(n)
    return centre + np.where(z < 0, z * lo, z * hi)


def fmr_offset(oh12, oh12_err, logm, logm_err, sfr, sfr_err_lo=None, sfr_err_hi=None,
               n_samples: int = 20000, rng=None, sfr_dist: str = "lognormal",
               intrinsic_scatter: float = 0.0) -> FMROffset:
    """Offset from the Mannucci et al. (2011) FMR with Monte Carlo error propagation (Fig. 9).

    The offset is ``12+log(O/H)_measured - 12+log(O/H)_FMR(M*, SFR)``. Sign and usage were
    checked against the paper's Table 2: for its seven star-forming galaxies with a measured
    SFR (not a limit) the median of the deterministic offsets is -0.070 dex, the -0.07 that
    Wang et al. quote for "this work" (all seven lie on the low-mass branch, mu_0.32 < 9.5; with
    the six SFR limits taken as values the median of all 13 would be -0.043). The median
    uncertainty this function gives for those seven is 0.10 dex (0.11 taking the larger side),
    against the paper's 0.12: the paper's exact error recipe is not stated.

    With asymmetric input errors the Monte Carlo median is not the deterministic offset (a
    split normal's median is shifted towards its wider side): for those seven galaxies the
    medians of the two differ by ~0.02 dex. Both are returned.

    Each of metallicity, log M* and SFR is drawn independently: metallicity and log M* from
    split normals (the lower and upper 1-sigma errors on either side of the central value);
    SFR either log-normally (``"lognormal"``: a split normal in log SFR whose widths are
    ``log10(1 + err_hi/SFR)`` and ``-log10(1 - err_lo/SFR)``) or as a split normal in linear SFR
    truncated at zero (``"split-normal"``). The FMR prediction of every draw uses the branch its
    own mu_0.32 falls on, so draws near mu_0.32 = 9.5 feel the step between the branches (see
    :func:`fmr_metallicity`).

    An SFR limit has no errors: pass ``sfr_err_lo = sfr_err_hi = None`` (or 0) and the SFR is
    held at the limit. Then the offset is itself a limit: on the low-mass branch the FMR
    metallicity falls with SFR (d/dlogSFR = -0.32 x 0.51), so an SFR upper limit makes the
    offset an upper limit.

    Parameters
    ----------
    oh12 : float
        Measured 12+log(O/H).
    oh12_err : float or (float, float)
        Its 1-sigma error, or (lower, upper) errors.
    logm : float
        log10(M*/Msun).
    logm_err : float or (float, float)
        Its 1-sigma error, or (lower, upper).
    sfr : float
        SFR in Msun/yr (linear).
    sfr_err_lo, sfr_err_hi : float, optional
        Lower and upper 1-sigma errors of the SFR (Msun/yr). None for a limit.
    n_samples : int, optional
        Monte Carlo draws.
    rng : numpy.random.Generator or int or None, optional
        Random generator or seed.
    sfr_dist : {"lognormal", "split-normal"}, optional
        How SFR draws are made (see above).
    intrinsic_scatter : float, optional
        Gaussian scatter (dex) of the FMR itself, added to every draw; 0 (default) propagates
        the measurement errors alone, as the error bars of Fig. 9 do (the paper shows the
        FMR's scatter as a separate band).

    Returns
    -------
    FMROffset

    Raises
    ------
    ValueError
        For a non-positive SFR, negative errors, an unknown ``sfr_dist``, or a log-normal SFR
        whose lower error is not smaller than the SFR itself.
    """
    if not sfr > 0:
        raise ValueError(f"sfr = {sfr!r}: need a positive SFR in Msun/yr")
    if sfr_dist not in ("lognormal", "split-normal"):
        raise ValueError(f"sfr_dist = {sfr_dist!r}: use 'lognormal' or 'split-normal'")
    if n_samples < 1:
        raise ValueError("n_samples must be >= 1")
    rng = np.random.default_rng(rng)
    o_lo, o_hi = _pair(oh12_err, "oh12_err")
    m_lo, m_hi = _pair(logm_err, "logm_err")
    s_lo, s_hi = _pair((0.0 if sfr_err_lo is None else sfr_err_lo,
                        0.0 if sfr_err_hi is None else sfr_err_hi), "sfr errors")
    n = int(n_samples)
    oh = _split_normal(rng, float(oh12), o_lo, o_hi, n)
    lm = _split_normal(rng, float(logm), m_lo, m_hi, n)
    if sfr_dist == "lognormal":
        if s_lo >= sfr:
            raise ValueError(f"sfr = {sfr}, lower error {s_lo}: a log-normal cannot hold a lower "
                             "error as large as the SFR; use sfr_dist='split-normal'")
        ls_hi = math.log10(1.0 + s_hi / sfr)
        ls_lo = -math.log10(1.0 - s_lo / sfr)
        ls = _split_normal(rng, math.log10(sfr), ls_lo, ls_hi, n)
    else:
        lin = _split_normal(rng, float(sfr), s_lo, s_hi, n)
        for _ in range(100):
            bad = lin <= 0
            if not bad.any():
                break
            lin[bad] = _split_normal(rng, float(sfr), s_lo, s_hi, int(bad.sum()))
        else:
            lin[lin <= 0] = np.nan
        ls = np.log10(lin)
    pred = np.asarray(fmr_metallicity(lm, ls), dtype=float)
    if intrinsic_scatter:
        pred = pred + rng.normal(0.0, float(intrinsic_scatter), n)
    off = oh - pred
    p16, med, p84 = np.nanpercentile(off, [16.0, 50.0, 84.0])
    det = float(oh12) - fmr_metallicity(float(logm), math.log10(sfr))
    return FMROffset(median=float(med), p16=float(p16), p84=float(p84), deterministic=float(det),
                     n_samples=n)


def median_offset(offsets, errors) -> tuple[float, float]:
    """Median offset and median uncertainty of a subsample (Wang et al. 2017, Sect. 5, Fig. 9).

    Parameters
    ----------
    offsets : array_like
        FMR offsets (dex), one per galaxy.
    errors : array_like
        Their 1-sigma uncertainties: shape (N,), or (2, N) lower and upper errors, whose mean
        is used per galaxy.

    Returns
    -------
    (float, float)
        Median offset and median uncertainty, ignoring NaN entries (NaN when none is left).
    """
    off = np.asarray(offsets, dtype=float).ravel()
    err = np.asarray(errors, dtype=float)
    if err.ndim == 2 and err.shape[0] == 2 and err.shape[1] == off.size:
        err = err.mean(axis=0)
    err = np.broadcast_to(err.ravel() if err.size != 1 else err.reshape(()), off.shape)
    with np.errstate(all="ignore"):
        mo = float(np.nanmedian(off)) if np.isfinite(off).any() else math.nan
        me = float(np.nanmedian(err)) if np.isfinite(err).any() else math.nan
    return mo, me


# ----------------------------------------------------------------------------------------------
# Literature tables (resources/literature_mzr.tsv, resources/literature_gradients.tsv)
# ----------------------------------------------------------------------------------------------

#: Columns of resources/literature_mzr.tsv: name -> (kind, required, unit, (min, max)).
LITERATURE_MZR_COLUMNS = {
    "id": ("str", True, None, None),
    "reference": ("str", True, None, None),
    "z": ("float", True, None, (0.0, 20.0)),
    "log_mstar": ("float", True, "dex(solMass)", (4.0, 13.0)),
    "log_mstar_err_lo": ("float", False, "dex", (0.0, 5.0)),
    "log_mstar_err_hi": ("float", False, "dex", (0.0, 5.0)),
    "oh12": ("float", True, "dex", (6.0, 10.0)),
    "oh12_err_lo": ("float", False, "dex", (0.0, 5.0)),
    "oh12_err_hi": ("float", False, "dex", (0.0, 5.0)),
    "sfr": ("float", False, "solMass / yr", (0.0, 1e5)),
    "sfr_err_lo": ("float", False, "solMass / yr", (0.0, 1e5)),
    "sfr_err_hi": ("float", False, "solMass / yr", (0.0, 1e5)),
    "sfr_limit": ("limit", False, None, None),
    "calibration": ("str", True, None, None),
    "note": ("str", False, None, None),
}

#: Columns of resources/literature_gradients.tsv.
LITERATURE_GRADIENT_COLUMNS = {
    "id": ("str", True, None, None),
    "reference": ("str", True, None, None),
    "z": ("float", True, None, (0.0, 20.0)),
    "log_mstar": ("float", False, "dex(solMass)", (4.0, 13.0)),
    "gradient": ("float", True, "dex / kpc", (-5.0, 5.0)),
    "gradient_err": ("float", False, "dex / kpc", (0.0, 5.0)),
    "method": ("str", True, None, None),
    "note": ("str", False, None, None),
}


def _read_literature(path, columns: dict, optional_columns=(), key_columns=("reference", "id")):
    """Parse a tab-separated literature table, validating every cell.

    Returns (header, rows, comments) with rows as dicts of parsed values (None for empty) and
    each row's 1-based data-row number and file line number.
    """
    path = Path(os.fspath(path))
    if not path.is_file():
        raise InputError(path, "literature table not found")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot be read as UTF-8 text: {exc}") from exc
    header = None
    comments = []
    rows = []
    for line_no, raw in enumerate(text.splitlines(), start=1):
        if raw.startswith("#"):
            comments.append(raw[1:].strip())
            continue
        if not raw.strip():
            continue
        fields = raw.split("\t")
        if header is None:
            header = [f.strip() for f in fields]
            unknown = [c for c in header if c not in columns]
            if unknown:
                raise InputError(path, f"line {line_no}: unknown column(s) {', '.join(unknown)}; "
                                       f"allowed: {', '.join(columns)}")
            dup = sorted({c for c in header if header.count(c) > 1})
            if dup:
                raise InputError(path, f"line {line_no}: column {dup[0]!r} appears twice")
            missing = [c for c in columns if c not in header and c not in optional_columns]
            if missing:
                raise InputError(path, f"line {line_no}: column {missing[0]!r} is missing "
                                       f"(need {', '.join(c for c in columns if c not in optional_columns)})")
            continue
        row_no = len(rows) + 1
        where = f"row {row_no} (line {line_no})"
        if len(fields) != len(header):
            raise InputError(path, f"{where}: {len(fields)} tab-separated fields, the header has "
                                   f"{len(header)}")
        record = {}
        for name, cell in zip(header, fields):
            kind, required, _unit, bounds = columns[name]
            cell = cell.strip()
            if cell == "":
                if required:
                    raise InputError(path, f"{where}, column {name!r}: empty, but a value is required")
                record[name] = None
                continue
            if kind == "float":
                try:
                    value = float(cell)
                except ValueError:
                    raise InputError(path, f"{where}, column {name!r}: {cell!r} is not a number") from None
                if not math.isfinite(value):
                    raise InputError(path, f"{where}, column {name!r}: {cell!r} is not finite")
                lo, hi = bounds
                if not lo <= value <= hi:
                    raise InputError(path, f"{where}, column {name!r}: {value} is outside "
                                           f"[{lo}, {hi}]")
                record[name] = value
            elif kind == "limit":
                if cell not in ("<", ">"):
                    raise InputError(path, f"{where}, column {name!r}: {cell!r}; use '<' (upper "
                                           "limit), '>' (lower limit) or leave it empty")
                record[name] = cell
            else:
                record[name] = cell
        for name in columns:
            record.setdefault(name, None)
        rows.append((row_no, line_no, record))
    if header is None:
        raise InputError(path, "no header line (every line is a comment or blank)")
    if not rows:
        raise InputError(path, "the table has no data rows")
    seen = {}
    for row_no, line_no, rec in rows:
        key = tuple(rec[c] for c in key_columns)
        if key in seen:
            what = ", ".join(f"{c}={rec[c]!r}" for c in key_columns)
            raise InputError(path, f"row {row_no} (line {line_no}), column 'id': the entry ({what}) "
                                   f"already appears in row {seen[key]}")
        seen[key] = row_no
    return header, rows, comments


def _to_table(path, columns: dict, rows, comments):
    from astropy import units as u
    from astropy.table import MaskedColumn, Table

    table = Table(meta={"source": os.fspath(path), "comments": comments})
    for name, (kind, _required, unit, _bounds) in columns.items():
        values = [rec[name] for _r, _l, rec in rows]
        mask = [v is None for v in values]
        if kind == "float":
            data = np.array([np.nan if v is None else v for v in values], dtype=float)
        else:
            data = np.array(["" if v is None else v for v in values], dtype=str)
        col_unit = None if unit is None else u.Unit(unit)
        if any(mask):
            table[name] = MaskedColumn(data, mask=mask, unit=col_unit)
        else:
            table[name] = data
            if col_unit is not None:
                table[name].unit = col_unit
    return table


def read_literature_mzr(path):
    """Read a literature mass-metallicity compilation (``resources/literature_mzr.tsv``).

    Tab-separated, ``#`` comment lines, one header line. Columns (units):
    ``id``, ``reference``, ``z``, ``log_mstar`` (log10 Msun), ``log_mstar_err_lo``,
    ``log_mstar_err_hi`` (dex), ``oh12``, ``oh12_err_lo``, ``oh12_err_hi`` (12+log(O/H), dex),
    ``sfr``, ``sfr_err_lo``, ``sfr_err_hi`` (Msun/yr), ``sfr_limit`` (``<``, ``>`` or empty),
    ``calibration``, and an optional ``note``. Required: id, reference, z, log_mstar, oh12,
    calibration. An SFR limit must have an SFR value and no SFR errors; errors and a limit need
    an SFR.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    astropy.table.Table
        One row per measurement, in file order; empty cells are masked; ``log_mstar`` has unit
        dex(Msun), metallicities and mass errors dex, SFRs Msun/yr. ``meta["comments"]`` holds
        the header comments, ``meta["source"]`` the path.

    Raises
    ------
    ohmap.errors.InputError
        Naming the file and, for a bad cell, its 1-based data row (and file line) and column.
    """
    _header, rows, comments = _read_literature(path, LITERATURE_MZR_COLUMNS, optional_columns=("note",))
    for row_no, line_no, rec in rows:
        where = f"row {row_no} (line {line_no})"
        if rec["sfr"] is None:
            for name in ("sfr_err_lo", "sfr_err_hi", "sfr_limit"):
                if rec[name] is not None:
                    raise InputError(path, f"{where}, column {name!r}: set, but 'sfr' is empty")
        elif rec["sfr"] <= 0:
            raise InputError(path, f"{where}, column 'sfr': {rec['sfr']} is not positive")
        if rec["sfr_limit"] is not None:
            for name in ("sfr_err_lo", "sfr_err_hi"):
                if rec[name] is not None:
                    raise InputError(path, f"{where}, column {name!r}: an SFR limit "
                                           f"({rec['sfr_limit']}) has no errors; leave it empty")
    return _to_table(path, LITERATURE_MZR_COLUMNS, rows, comments)


def read_literature_gradients(path):
    """Read a literature metallicity-gradient compilation (``resources/literature_gradients.tsv``).

    Tab-separated, ``#`` comment lines, one header line. Columns (units): ``id``,
    ``reference``, ``z``, ``log_mstar`` (log10 Msun, may be empty), ``gradient`` and
    ``gradient_err`` (dex/kpc), ``method``, ``note`` (may be empty). Required: id, reference,
    z, gradient, method.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    astropy.table.Table
        One row per gradient, in file order; empty cells masked; ``gradient`` in dex/kpc.

    Raises
    ------
    ohmap.errors.InputError
        Naming the file and, for a bad cell, its 1-based data row (and file line) and column.
    """
    _header, rows, comments = _read_literature(path, LITERATURE_GRADIENT_COLUMNS,
                                               optional_columns=("note",),
                                               key_columns=("reference", "id", "method"))
    return _to_table(path, LITERATURE_GRADIENT_COLUMNS, rows, comments)
