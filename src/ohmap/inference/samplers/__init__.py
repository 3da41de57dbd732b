"""MCMC samplers behind one interface: ``emcee`` (the reference) and ``batched``.

Both run the affine-invariant ensemble sampler of Goodman & Weare (2010) with the stretch move
(scale ``a = 2``) in its parallel form: the walkers are split into two halves and each half is
moved using the other. The batched engine keeps the split fixed (first and second half, as in
Goodman & Weare and emcee 2); emcee 3 re-draws it at random every step. Both leave the
posterior invariant; the tests compare their posteriors. ``emcee`` runs one object at a
time through ``emcee.EnsembleSampler`` (log-probability vectorised over walkers);
``batched`` runs the same move for many objects at once, as array operations on a
``(objects, walkers, parameters)`` block, so a shard of spaxels costs a few numpy calls per step
instead of a Python loop per spaxel.

Determinism: every object has its own random stream (:func:`~ohmap.streams.object_stream`, seeded from the
configuration's seed and the object's key, e.g. galaxy and spaxel), from which its starting
walkers and every random number of the batched move are drawn. Results therefore do not
depend on how objects are grouped into shards or batches. The emcee engine draws its moves
from a ``RandomState`` seeded from the same stream.

Convergence: the integrated autocorrelation time ``tau`` of each parameter is estimated from
every fifth step of the kept (post burn-in) chain, times five, with emcee's estimator (walker-averaged autocorrelation function,
Sokal's automatic window with ``c = 5``), vectorised here (:func:`~ohmap.inference.samplers.autocorr.integrated_time`); a fit is
flagged unconverged when the kept chain is shorter than ``min_tau_multiple`` (50) times the
largest ``tau``.
"""
