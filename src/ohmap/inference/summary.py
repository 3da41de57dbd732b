"""Posterior samples summarised: physical quantities, percentiles, limits and error bars.

:func:`derived_samples` turns samples of the sampled coordinates into 12+log(O/H), A_V, the
intrinsic H-beta flux, the SFR (and its surface density); :func:`summarize` gives their
16th/50th/84th percentiles and decides which are limits; :func:`conservative_error` is the
error quoted for a percentile summary.
"""

from __future__ import annotations

import numpy as np

from .model import LineFluxModel
from .nebular import sfr_surface_density, star_formation_rate


def derived_samples(
    model: LineFluxModel,
    samples,
    redshift: float,
    magnification: float = 1.0,
    spaxel_arcsec: float | None = None,
) -> dict:
    """Physical quantities of posterior samples (``(..., ndim)`` in sampled coordinates).

    Returns
    -------
    dict of ndarray
        ``oh12``; ``av`` (mag); ``hbeta`` (intrinsic H-beta, 1e-17 erg/s/cm^2); ``nii_ha``;
        ``sfr`` (Msun/yr, divided by ``magnification``); with ``spaxel_arcsec`` (the side of a
        square spaxel, arcsec) also ``sfr_density`` (Msun/yr/kpc^2, which lensing leaves
        unchanged, see :func:`ohmap.inference.nebular.sfr_surface_density`). Without a
        redshift (NaN) there is no SFR: the metallicity and dust do not depend on it.
    """
    oh12, av, hbeta, nii = model.unpack(samples)
    out = dict(oh12=oh12, av=av, hbeta=hbeta, nii_ha=nii)
    if not np.isfinite(redshift):
        return out
    out["sfr"] = star_formation_rate(hbeta, redshift, magnification)
    if spaxel_arcsec:
        out["sfr_density"] = sfr_surface_density(hbeta, redshift, spaxel_arcsec)
    return out


def conservative_error(p16, p50, p84):
    """The larger side of an asymmetric 1-sigma error bar, ``max(p84 - p50, p50 - p16)``
    (element-wise): the error quoted for a posterior summarised by its percentiles."""
    p16, p50, p84 = (np.asarray(v, dtype=float) for v in (p16, p50, p84))
    return np.maximum(p84 - p50, p50 - p16)


#: Default of the limit rule's fraction (``inference.limit_fraction``; see :func:`summarize`).
DEFAULT_LIMIT_FRACTION = 0.2

#: Which parameters' prior bounds a derived quantity inherits for the limit rule.
_BOUNDED = {"oh12": 0, "av": 1, "hbeta": 2, "sfr": 2, "sfr_density": 2, "nii_ha": 3}


def summarize(
    model: LineFluxModel, samples, derived: dict, limit_fraction: float = DEFAULT_LIMIT_FRACTION
) -> dict:
    """16th/50th/84th percentiles of every quantity and whether it is reported as a limit.

    The limit rule: a quantity whose posterior piles up against a prior bound is not measured.
    In the sampled coordinate, if the 16th percentile lies closer to the lower bound than
    ``limit_fraction`` times the posterior's 16th-84th percentile width, the quantity is an
    upper limit (``"<"``) at the 84th percentile; if the 84th percentile lies that close to the
    upper bound, a lower limit (``">"``) at the 16th. A half-Gaussian with its mode at the bound
    has the ratio 0.17, a posterior spread evenly over the whole prior (unconstrained, not a
    limit) 0.235, and a Gaussian whose mean is 1.5 sigma inside the bound about 0.4; the default
    0.2 flags only the first. SFR and SFR surface density follow the intrinsic H-beta
    flux (they are proportional to it). Table 2 of the paper reports both kinds.

    Returns
    -------
    dict
        Per quantity: ``p16``, ``p50``, ``p84``, ``limit`` (``""``, ``"<"`` or ``">"``) and
        ``value`` (the median, or the limit).
    """
    samples = np.asarray(samples, dtype=float)
    s16, s84 = np.percentile(samples.reshape(-1, samples.shape[-1]), [16, 84], axis=0)
    margin = limit_fraction * (s84 - s16)
    out = {}
    for name, values in derived.items():
        if name == "nii_ha" and not model.extended:
            continue
        p16, p50, p84 = np.percentile(values, [16, 50, 84])
        limit = ""
        k = _BOUNDED.get(name)
        if k is not None and k < model.ndim:
            if s16[k] - model.lower[k] < margin[k]:
                limit = "<"
            elif model.upper[k] - s84[k] < margin[k]:
                limit = ">"
        value = p84 if limit == "<" else p16 if limit == ">" else p50
        out[name] = dict(
            p16=float(p16), p50=float(p50), p84=float(p84), limit=limit, value=float(value)
        )
    return out
