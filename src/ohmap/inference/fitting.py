"""Fit line fluxes of many objects (galaxies, regions, spaxels) with one sampler engine.

:func:`fit_fluxes` is what every caller uses: the global fit of a galaxy, a shard of spaxels,
and ``ohmap fit-fluxes``. Each object's random stream derives from the seed and the object's
key (:func:`ohmap.streams.object_stream`), so an object's result does not depend on the other
objects it is fitted with.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ohmap.inference.samplers.batched import sample_batched
from ohmap.inference.samplers.emcee_engine import sample_emcee
from ohmap.lines import FIT_LINES
from ohmap.streams import object_stream

from .model import LineFluxModel, ObservedFluxes
from .settings import SamplerSettings
from .summary import derived_samples, summarize

log = logging.getLogger(__name__)


@dataclass
class FluxFit:
    """Posterior of one object.

    Attributes
    ----------
    key : tuple
        The object's key (seeds its stream).
    samples : ndarray
        Thinned kept samples in the sampled coordinates, ``(n, ndim)``.
    summary : dict
        Percentiles and limit flags of every quantity (:func:`ohmap.inference.summary.summarize`).
    tau : ndarray
        Integrated autocorrelation time per parameter, steps.
    acceptance : float
    converged : bool
    chain : ndarray
        Thinned kept chain ``(n_stored_steps, n_walkers, ndim)``.
    """

    key: tuple
    samples: np.ndarray
    summary: dict
    tau: np.ndarray
    acceptance: float
    converged: bool
    chain: np.ndarray


def fit_fluxes(
    model: LineFluxModel,
    flux,
    error,
    keys,
    settings: SamplerSettings,
    redshift,
    magnification=1.0,
    covariances=None,
    progress_every: int = 0,
    spaxel_arcsec: float | None = None,
    limit_fraction: float = 0.2,
) -> list[FluxFit]:
    """Sample the posterior of each object's fluxes.

    Parameters
    ----------
    model : LineFluxModel
        Shared by all objects (same lines, calibration, priors).
    flux, error : array_like
        ``(n_objects, n_lines)`` in 1e-17 erg/s/cm^2, columns in ``model.lines`` order; a NaN
        flux or a non-finite or non-positive error leaves that line out for that object.
    keys : sequence of tuple
        One key per object, e.g. ``("04054", "global")`` or ``("04054", 1234)``.
    settings : SamplerSettings
    redshift, magnification : float or array_like
        For the SFR (divided by the magnification); one value, or one per object.
    covariances : sequence of ndarray, optional
        Per object, the ``(n_lines, n_lines)`` covariance of its fluxes (emcee and batched
        both accept it; objects with a covariance are sampled one at a time).
    progress_every : int
        Log progress every this many objects (0: only at the end).
    spaxel_arcsec : float or array_like, optional
        Side of a square spaxel (arcsec), one value or one per object (a bin of ``n`` spaxels:
        ``sqrt(n)`` times the side of one): adds the SFR surface density to the summaries.
    limit_fraction : float
        Of the limit rule (:func:`ohmap.inference.summary.summarize`).

    Returns
    -------
    list of FluxFit
    """
    flux = np.atleast_2d(np.asarray(flux, dtype=float))
    error = np.atleast_2d(np.asarray(error, dtype=float))
    keys = [tuple(k) if isinstance(k, (tuple, list)) else (k,) for k in keys]
    if not (
        flux.shape == error.shape
        and flux.shape[0] == len(keys)
        and flux.shape[1] == len(model.lines)
    ):
        raise ValueError(
            f"flux {flux.shape}, error {error.shape} and {len(keys)} keys do not match "
            f"{len(model.lines)} lines"
        )
    redshift = np.broadcast_to(np.asarray(redshift, dtype=float), (len(keys),))
    magnification = np.broadcast_to(np.asarray(magnification, dtype=float), (len(keys),))
    side = (
        [None] * len(keys)
        if spaxel_arcsec is None
        else np.broadcast_to(np.asarray(spaxel_arcsec, dtype=float), (len(keys),))
    )
    rngs = [object_stream(settings.seed, *k) for k in keys]
    initial = (
        np.stack(
            [
                model.initial_guess(flux[i], error[i], rngs[i], settings.n_walkers)
                for i in range(len(keys))
            ]
        )
        if keys
        else np.empty((0, settings.n_walkers, model.ndim))
    )
    results = []
    if covariances is not None or settings.engine == "emcee":
        blocks = [[i] for i in range(len(keys))]
    else:
        blocks = [
            list(range(i, min(i + settings.batch_size, len(keys))))
            for i in range(0, len(keys), settings.batch_size)
        ]
    done = 0
    for block in blocks:
        cov = None if covariances is None else covariances[block[0]]
        if cov is not None:
            obs = flux[block[0]]

            def one(th):
                return model.log_posterior(th, obs, None, cov)
        else:
            obs = ObservedFluxes.of(flux[block][:, None, :], error[block][:, None, :])

            def one(th):
                return model.log_posterior(
                    th, ObservedFluxes(obs.flux[0], obs.variance[0], obs.use[0])
                )

        if settings.engine == "emcee":
            chains = sample_emcee(one, initial[block[0]], rngs[block[0]], settings)
        elif cov is not None:
            chains = sample_batched(
                lambda th: one(th[0])[None], initial[block], [rngs[i] for i in block], settings
            )
        else:
            chains = sample_batched(
                lambda th: model.log_posterior(th, obs),
                initial[block],
                [rngs[i] for i in block],
                settings,
            )
        for j, i in enumerate(block):
            samples = chains.flat_samples(j)
            derived = derived_samples(model, samples, redshift[i], magnification[i], side[i])
            results.append(
                FluxFit(
                    keys[i],
                    samples,
                    summarize(model, samples, derived, limit_fraction),
                    chains.tau[j],
                    float(chains.acceptance[j]),
                    bool(chains.converged[j]),
                    chains.chain[j],
                )
            )
        done += len(block)
        if progress_every and (done // progress_every) != ((done - len(block)) // progress_every):
            log.info("fitted %d of %d objects (%s engine)", done, len(keys), settings.engine)
    log.info(
        "fitted %d objects with the %s engine; %d unconverged",
        len(results),
        settings.engine,
        sum(not r.converged for r in results),
    )
    return results


def integrated_flux_inputs(fluxes, lines=None):
    """Flux vector, errors and covariance of a galaxy's integrated line fluxes.

    Parameters
    ----------
    fluxes : astropy.table.Table
        A ``<galaxy>_fluxes.ecsv`` table of the line-map step (columns ``line``, ``flux``,
        ``flux_error`` in 1e-17 erg/s/cm^2, and ``correlation``: ``"LINE=r,..."`` for lines
        de-blended together).
    lines : sequence of str, optional
        Lines to use (default: those of :data:`ohmap.lines.FIT_LINES` in the table).

    Returns
    -------
    lines : tuple of str
    flux, error : ndarray
        ``(n_lines,)``; a line without a measurement (infinite error) has NaN flux.
    covariance : ndarray
        ``(n_lines, n_lines)``: errors squared on the diagonal, ``r sigma_i sigma_j`` between
        jointly de-blended lines.
    """
    rows = {str(r["line"]): r for r in fluxes}
    lines = tuple(n for n in (lines or FIT_LINES) if n in rows)
    flux = np.array([float(rows[n]["flux"]) for n in lines])
    error = np.array([float(rows[n]["flux_error"]) for n in lines])
    bad = ~(np.isfinite(error) & (error > 0) & np.isfinite(flux))
    flux[bad] = np.nan
    cov = np.diag(np.where(bad, np.inf, error) ** 2)
    for i, n in enumerate(lines):
        text = str(rows[n]["correlation"]) if "correlation" in rows[n].colnames else ""
        for item in filter(None, (t.strip() for t in text.split(","))):
            other, _, value = item.partition("=")
            if other in lines and not bad[i] and not bad[lines.index(other)]:
                j = lines.index(other)
                cov[i, j] = float(value) * error[i] * error[j]
    return lines, flux, error, cov
