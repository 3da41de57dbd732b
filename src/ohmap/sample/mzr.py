"""Mass-metallicity relations (Wang et al. 2017, Sect. 5, Fig. 8): Ma et al. (2016), Maiolino et
al. (2008), the paper's own fit, and the tension between a fitted slope and wind models.

Stellar mass as log10(M*/Msun), metallicity as 12+log(O/H) in dex.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .records import record_item

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
        return record_item(self, key)


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
