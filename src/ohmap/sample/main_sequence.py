"""Star-forming main sequences (Wang et al. 2017, Fig. 7): Speagle et al. (2014) and Whitaker et
al. (2014). Stellar mass as log10(M*/Msun), SFR as log10(SFR / (Msun/yr)).
"""

from __future__ import annotations

import numpy as np

from ohmap.cosmology import COSMOLOGY


def cosmic_age(z):
    """Age of the universe (Gyr) at redshift ``z`` in :data:`ohmap.cosmology.COSMOLOGY`
    (``FlatLambdaCDM(H0=70, Om0=0.3)``, the cosmology of Wang et al. 2017 and of Speagle et al.
    2014; no radiation term)."""
    age = COSMOLOGY.age(np.asarray(z, dtype=float)).to_value("Gyr")
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
