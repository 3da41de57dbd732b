"""Mass-metallicity relations (Wang et al. 2017, Sect. 5, Fig. 8): Ma et al. (2016), Maiolino et
al. (2008), the paper's own fit, and the tension between a fitted slope and wind models.

Stellar mass as log10(M*/Msun), metallicity as 12+log(O/H) in dex.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np
from astropy.table import Table

from .linmix import LinmixSettings, linmix
from .records import record_item

#: Wang et al. (2017) Eq. 5: their MZR, 12+log(O/H) = alpha + beta log M* + N(sigma), fitted with
#: linmix to 38 M08-based measurements at 1.2 < z < 2.3 (median z = 1.84).
#: Each entry is (median, +error, -error).
WANG2017_MZR = {
    "alpha": (4.71, 0.62, 0.64),
    "beta": (0.40, 0.07, 0.07),
    "sigma": (0.03, 0.02, 0.01),
}


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
        raise ValueError(
            f"z_label = {z_label!r}: Maiolino et al. (2008) fits exist for z = "
            f"{', '.join(MAIOLINO2008_MZR)}"
        )
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
    return WindTension(
        beta_model=model,
        median=float(med),
        sigma=float(sigma),
        n_sigma=float(n_sigma),
        tail_fraction=float(tail),
        p_two_sided=float(p),
        p_is_upper_limit=bool(limit),
        n_sigma_equivalent=float(norm.isf(p / 2.0)),
        n_samples=int(n),
    )


# ----------------------------------------------------------------------------------------------
# Fitting the sample's MZR (Figure 8)
# ----------------------------------------------------------------------------------------------

log = logging.getLogger(__name__)


@dataclass
class MassMetallicityFits:
    """The MZR fits of a sample (:func:`fit_mass_metallicity`).

    Attributes
    ----------
    table : astropy.table.Table
        One row per point set fitted: ``fit``, ``n``, ``converged``, ``n_iterations``, ``note``,
        the 16/50/84th percentiles of ``alpha``, ``beta`` and ``sigma``, and the tension of
        ``beta`` with the momentum- and energy-driven wind models.
    points : dict
        Point set -> ``log_mstar``, ``log_mstar_err``, ``oh12``, ``oh12_err`` arrays (for the
        figure): ``"this work"`` and, when given, ``"literature"``.
    fits : dict
        Point set -> :class:`ohmap.sample.linmix.LinmixResult`, for the sets that were fitted.
    """

    table: Table
    points: dict
    fits: dict = field(default_factory=dict)


def _mean_error(lo, hi):
    return 0.5 * (np.asarray(lo, float) + np.asarray(hi, float))


def fit_mass_metallicity(
    table, literature, truth=None, settings: dict | None = None
) -> MassMetallicityFits:
    """12+log(O/H) = alpha + beta log(M*/Msun) + N(0, sigma) fitted with linmix (Kelly 2007).

    The point sets: this work's star-forming galaxies (AGN candidates and metallicity limits left
    out), the same with the literature's measurements (rows of galaxies in ``table`` excluded),
    and, for the mock, its true metallicities with the recovered values' errors.

    Parameters
    ----------
    table : astropy.table.Table
        The sample table (Table 2).
    literature : astropy.table.Table
        :func:`ohmap.sample.literature.read_literature_mzr`.
    truth : astropy.table.Table, optional
        The mock's truth table (``galaxy_id``, ``oh12_global``).
    settings : dict, optional
        The ``sample`` configuration section: ``linmix`` (:class:`~ohmap.sample.linmix.LinmixSettings` fields) and
        ``mzr_min_galaxies`` (default 5: with flat priors on alpha, beta and sigma^2 the
        posterior of a line through a handful of points has tails too heavy to sample).

    Returns
    -------
    MassMetallicityFits
    """
    settings = dict(settings or {})
    linmix_settings = LinmixSettings(**(settings.get("linmix") or {}))
    limit = np.array([str(v) if v is not np.ma.masked else "" for v in table["oh12_limit"]])
    use = ~np.asarray(table["agn_candidate"], dtype=bool) & (limit == "")
    ours = table[use]
    left_out = [
        f"{r['galaxy_id']} ({'AGN candidate' if r['agn_candidate'] else 'metallicity limit'})"
        for r in table[~use]
    ]
    log.info("MZR from %d galaxies; left out: %s", len(ours), ", ".join(left_out) or "none")
    points = {
        "this work": dict(
            log_mstar=np.asarray(ours["log_mstar"]),
            log_mstar_err=0.5
            * (np.asarray(ours["log_mstar_err_lo"]) + np.asarray(ours["log_mstar_err_hi"])),
            oh12=np.asarray(ours["oh12_p50"]),
            oh12_err=0.5 * (np.asarray(ours["oh12_p84"]) - np.asarray(ours["oh12_p16"])),
        )
    }
    # Rows for galaxies of this run's sample come from this run, not from the table.
    literature = literature[[str(i) not in set(table["galaxy_id"]) for i in literature["id"]]]
    if len(literature):
        points["literature"] = dict(
            log_mstar=np.asarray(literature["log_mstar"], float),
            log_mstar_err=_mean_error(
                literature["log_mstar_err_lo"], literature["log_mstar_err_hi"]
            ),
            oh12=np.asarray(literature["oh12"], float),
            oh12_err=_mean_error(literature["oh12_err_lo"], literature["oh12_err_hi"]),
        )
    sets = {"this work": points["this work"]}
    if "literature" in points:
        sets["this work + literature"] = {
            k: np.concatenate([points["this work"][k], points["literature"][k]])
            for k in points["this work"]
        }
    if truth is not None:
        truth = truth.copy()
        truth.add_index("galaxy_id")
        true_oh = np.array([truth.loc[g]["oh12_global"] for g in ours["galaxy_id"]])
        # The mock's true metallicities with the recovered values' errors, so that both fits weight
        # the galaxies alike and differ only by the recovered values' errors.
        sets["mock truth"] = dict(points["this work"], oh12=true_oh)
    min_galaxies = int(settings.get("mzr_min_galaxies", 5))
    rows, fits = [], {}
    for name, pts in sets.items():
        if len(pts["oh12"]) < min_galaxies:
            log.warning(
                "%s: only %d galaxies (< %d), no MZR fit", name, len(pts["oh12"]), min_galaxies
            )
            rows.append(
                dict(
                    fit=name,
                    n=len(pts["oh12"]),
                    converged=False,
                    n_iterations=0,
                    note=f"only {len(pts['oh12'])} galaxies: not fitted",
                )
            )
            continue
        result = linmix(
            pts["log_mstar"],
            pts["oh12"],
            pts["log_mstar_err"],
            pts["oh12_err"],
            settings=linmix_settings,
        )
        fits[name] = result
        rows.append(_fit_row(name, len(pts["oh12"]), result))
    columns = list(dict.fromkeys(k for r in rows for k in r))
    out = Table(rows=[{k: r.get(k, np.nan) for k in columns} for r in rows], names=columns)
    out.meta.update(
        description=(
            "12+log(O/H) = alpha + beta log(M*/Msun) + N(0, sigma), fitted with ohmap.sample.linmix "
            "(Kelly 2007) to this work's star-forming galaxies (and the literature table's rows, "
            "M08 calibration only); *_wind_*: how strongly beta disfavours the momentum-driven "
            "(0.17) and energy-driven (0.33) wind models."
        ),
        left_out=left_out,
        linmix=dict(vars(linmix_settings)),
    )
    return MassMetallicityFits(out, points, fits)


def _fit_row(name: str, n: int, result) -> dict:
    """One row of the MZR table: percentiles of the parameters and the wind-model tensions."""
    row = dict(
        fit=name,
        n=n,
        converged=bool(result.converged),
        n_iterations=int(result.n_iterations),
        note="" if result.converged else "not converged",
    )
    for q in ("alpha", "beta", "sigma"):
        lo, mid, hi = np.percentile(getattr(result, q), [16, 50, 84])
        row |= {f"{q}_p16": lo, f"{q}_p50": mid, f"{q}_p84": hi}
    for model, beta in (("momentum", 0.17), ("energy", 0.33)):
        tension = wind_model_tension(result.beta, beta)
        row |= {
            f"{model}_wind_tail_probability": tension["tail_probability"],
            f"{model}_wind_sigma": tension["n_sigma"],
        }
    log.info(
        "%s: beta %.3f (+%.3f/-%.3f), alpha %.2f, sigma %.3f; %s after %d iterations",
        name,
        row["beta_p50"],
        row["beta_p84"] - row["beta_p50"],
        row["beta_p50"] - row["beta_p16"],
        row["alpha_p50"],
        row["sigma_p50"],
        "converged" if result.converged else "NOT converged",
        result.n_iterations,
    )
    return row
