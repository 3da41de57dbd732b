"""Samplers: autocorrelation time against emcee and AR(1) theory, the batched stretch move on
known Gaussian targets, emcee and batched posteriors of line fluxes against each other,
independence of the results from the shard layout, and settings validation."""

import dataclasses

import emcee
import numpy as np
import pytest
from scipy.signal import lfilter

from ohmap.errors import InputError
from ohmap.inference.fitting import fit_fluxes
from ohmap.inference.model import LineFluxModel
from ohmap.inference.samplers.autocorr import integrated_time
from ohmap.inference.samplers.batched import sample_batched
from ohmap.inference.settings import SamplerSettings
from ohmap.lines import FIT_LINES
from ohmap.streams import object_stream


def ar1_chain(rng, rho, n_steps, n_walkers, ndim, burn=2000):
    """AR(1) chains x_t = rho x_{t-1} + e_t, shape (n_steps, n_walkers, ndim); rho per dim.
    Integrated autocorrelation time (1 + rho) / (1 - rho)."""
    rho = np.broadcast_to(np.asarray(rho, float), (ndim,))
    e = rng.standard_normal((n_steps + burn, n_walkers, ndim))
    out = np.stack(
        [lfilter([1.0], [1.0, -r], e[..., d], axis=0) for d, r in enumerate(rho)], axis=-1
    )
    return out[burn:]


# ------------------------------------------------------------------------- autocorrelation time


def test_integrated_time_equals_emcee_autocorr():
    rng = np.random.default_rng(11)
    chains = [
        ar1_chain(rng, [0.5, 0.9], 3000, 16, 2),
        ar1_chain(rng, [0.0, 0.97, 0.7], 1500, 32, 3),
        ar1_chain(rng, 0.8, 777, 7, 1) * 3.0 + 5.0,
    ]
    for chain in chains:
        np.testing.assert_allclose(
            integrated_time(chain), emcee.autocorr.integrated_time(chain, quiet=True), rtol=1e-9
        )
    # leading object axes: each object as emcee computes it alone
    block = np.stack([ar1_chain(rng, [0.3, 0.9], 1000, 8, 2) for _ in range(3)])
    np.testing.assert_allclose(
        integrated_time(block),
        [emcee.autocorr.integrated_time(c, quiet=True) for c in block],
        rtol=1e-9,
    )


def test_integrated_time_of_ar1_matches_theory():
    rng = np.random.default_rng(12)
    rho = np.array([0.5, 0.8, 0.95])
    tau = integrated_time(ar1_chain(rng, rho, 100_000, 8, 3))
    np.testing.assert_allclose(tau, (1 + rho) / (1 - rho), rtol=0.15)


# ------------------------------------------------------------------------ batched stretch move


def test_sample_batched_recovers_gaussian_targets():
    """Four 3-D Gaussians with different means, widths and correlations, sampled in one block.

    32 walkers x 3000 steps (1000 burn-in): tau ~35 steps, so ~1800 effective samples per
    parameter; means and standard deviations must agree within 4 Monte Carlo standard errors
    sigma sqrt(tau / N) (of the mean) and sigma sqrt(tau / 2N) (of the standard deviation).
    """
    settings = SamplerSettings(n_walkers=32, n_steps=3000, n_burn=1000, thin=1)
    means = np.array([[0.0, 0.0, 0.0], [5.0, -3.0, 1.0], [100.0, 0.01, -20.0], [-1.0, 2.0, 3.0]])
    sds = np.array([[1.0, 1.0, 1.0], [0.5, 2.0, 1.0], [10.0, 0.001, 3.0], [1.0, 1.0, 0.2]])
    corr = [
        np.eye(3),
        np.array([[1, 0.6, 0], [0.6, 1, -0.3], [0, -0.3, 1]]),
        np.eye(3),
        np.array([[1, 0.9, 0.5], [0.9, 1, 0.6], [0.5, 0.6, 1]]),
    ]
    prec = np.stack([np.linalg.inv(np.diag(s) @ c @ np.diag(s)) for s, c in zip(sds, corr)])

    def log_prob(theta):  # (objects, m, 3) -> (objects, m); object i's target for row i
        d = theta - means[:, None, :]
        return -0.5 * np.einsum("oml,olk,omk->om", d, prec, d)

    rngs = [object_stream(1, "gauss", i) for i in range(len(means))]
    initial = np.stack(
        [m + 0.1 * s * g.standard_normal((32, 3)) for m, s, g in zip(means, sds, rngs)]
    )
    result = sample_batched(log_prob, initial, rngs, settings)
    assert result.chain.shape == (4, 2000, 32, 3)
    n = settings.n_kept * settings.n_walkers
    mean = result.chain.mean(axis=(1, 2))
    sd = result.chain.std(axis=(1, 2))
    assert np.all(np.abs(mean - means) < 4 * sds * np.sqrt(result.tau / n))
    assert np.all(np.abs(sd - sds) < 4 * sds * np.sqrt(result.tau / (2 * n)))
    assert np.all((result.acceptance > 0.5) & (result.acceptance < 0.7)), result.acceptance
    assert np.all(result.converged == (settings.n_kept >= 50 * result.tau.max(axis=1)))


# -------------------------------------------------------------------------- emcee vs batched


def agreement_cases():
    """11 flux vectors from the model (prior-drawn, fixed errors: S/N from ~1 to ~60) and one
    with a bimodal 12+log(O/H) posterior ([OIII]/Hb double-valued, [OII] and [SII] missing:
    ~50% of the posterior on each branch)."""
    model = LineFluxModel(FIT_LINES)
    rng = np.random.default_rng(5)
    n = 11
    truth = np.column_stack(
        [
            rng.uniform(7.3, 9.0, n),
            rng.uniform(0, 2, n),
            rng.uniform(np.log10(0.3), np.log10(30), n),
        ]
    )
    mu, sigma_model = model.expected(truth)
    error = np.full_like(mu, 0.5)
    flux = mu + sigma_model * rng.standard_normal(mu.shape) + error * rng.standard_normal(mu.shape)
    mu1, _ = model.expected(np.array([8.5, 0.3, 0.5]))
    f1 = mu1.copy()
    f1[[FIT_LINES.index("OII"), FIT_LINES.index("SII")]] = np.nan
    return model, np.vstack([flux, f1]), np.vstack([error, 0.05 * mu1 + 0.02])


def test_emcee_and_batched_posteriors_agree():
    """16/50/84th percentiles of oh12, av, log_hbeta of 12 objects from both engines.

    64 walkers x 2000 steps (1000 burn-in): tau ~30-90 steps, 700-2000 effective samples.
    The Monte Carlo error of each percentile is measured, not assumed: the batched engine fits
    every object R = 16 times with independent streams, and the spread of its percentile over
    the replicates is the error of one run (scaled by sqrt(tau_emcee / tau_batched) for emcee).
    The emcee value must lie within 4 combined standard errors of the replicates' mean. (The
    estimate sigma sqrt(tau / N) from the ensemble's tau is too small by ~2x for the bimodal
    case: the walkers' mode occupancy is a collective, slower variable.)
    """
    model, flux, error = agreement_cases()
    n_obj, reps = len(flux), 16
    base = SamplerSettings(n_walkers=64, n_steps=2000, n_burn=1000, thin=1)
    quantiles = [16, 50, 84]

    emcee_fits = fit_fluxes(
        model,
        flux,
        error,
        [("a", i) for i in range(n_obj)],
        dataclasses.replace(base, engine="emcee"),
        redshift=1.5,
    )
    rep_fits = fit_fluxes(
        model,
        np.tile(flux, (reps, 1)),
        np.tile(error, (reps, 1)),
        [("r", r, i) for r in range(reps) for i in range(n_obj)],
        dataclasses.replace(base, batch_size=reps * n_obj),
        redshift=1.5,
    )

    pe = np.array([np.percentile(f.samples, quantiles, axis=0) for f in emcee_fits])  # (obj, 3, 3)
    pb = np.array([np.percentile(f.samples, quantiles, axis=0) for f in rep_fits]).reshape(
        reps, n_obj, 3, 3
    )
    tau_e = np.array([f.tau for f in emcee_fits])  # (obj, 3)
    tau_b = np.array([f.tau for f in rep_fits]).reshape(reps, n_obj, 3).mean(axis=0)
    se_one = pb.std(axis=0, ddof=1)  # one batched run
    se_emcee = se_one * np.sqrt(tau_e / tau_b)[:, None, :]
    z = (pe - pb.mean(axis=0)) / np.sqrt(se_emcee**2 + se_one**2 / reps)
    assert np.all(np.abs(z) < 4), np.round(z, 1)
    # the comparison is sharp: one run's error is small next to the posterior widths
    width = pb.mean(axis=0)[:, 2] - pb.mean(axis=0)[:, 0]
    assert np.median(se_one[:, 1] / width) < 0.05
    # the bimodal case is bimodal in both engines
    for f in (emcee_fits[-1], rep_fits[n_obj - 1]):
        low = np.mean(f.samples[:, 0] < 7.893)
        assert 0.3 < low < 0.7


# ------------------------------------------------------------------------------ shard layout


def shard_cases(n=14):
    model = LineFluxModel(FIT_LINES)
    rng = np.random.default_rng(2)
    truth = np.column_stack(
        [rng.uniform(7.3, 9.0, n), rng.uniform(0, 2, n), rng.uniform(-0.5, 1.5, n)]
    )
    mu, _ = model.expected(truth)
    error = np.full_like(mu, 0.5)
    flux = mu + error * rng.standard_normal(mu.shape)
    flux[3, 0] = np.nan  # lines left out for some objects
    error[5, 5] = 0.0
    return model, flux, error


SHARD_SETTINGS = SamplerSettings(n_walkers=32, n_steps=600, n_burn=300, thin=10)


def test_results_do_not_depend_on_the_shard_layout():
    # Bitwise identity needs no converged chain: short chains suffice.
    model, flux, error = shard_cases()
    keys = [("g", i) for i in range(len(flux))]
    one = fit_fluxes(model, flux, error, keys, SHARD_SETTINGS, redshift=1.5)
    pairs = []
    for i in range(0, len(flux), 2):
        pairs += fit_fluxes(
            model, flux[i : i + 2], error[i : i + 2], keys[i : i + 2], SHARD_SETTINGS, redshift=1.5
        )
    threes = fit_fluxes(
        model, flux, error, keys, dataclasses.replace(SHARD_SETTINGS, batch_size=3), redshift=1.5
    )
    for a, b, c in zip(one, pairs, threes):
        assert a.key == b.key == c.key
        assert np.array_equal(a.samples, b.samples) and np.array_equal(a.samples, c.samples)
        assert np.array_equal(a.chain, b.chain) and np.array_equal(a.chain, c.chain)
        assert a.summary == b.summary == c.summary
        assert a.acceptance == b.acceptance == c.acceptance
        # tau is estimated object by object, so it (and the convergence flag) is identical too
        assert np.array_equal(a.tau, b.tau) and np.array_equal(a.tau, c.tau)
        assert a.converged == b.converged == c.converged


def test_changing_an_object_key_changes_its_samples():
    model, flux, error = shard_cases()
    same = np.tile(flux[:1], (2, 1)), np.tile(error[:1], (2, 1))
    fits = fit_fluxes(model, *same, [("g", 3), ("g", 4)], SHARD_SETTINGS, redshift=1.5)
    assert not np.array_equal(fits[0].samples, fits[1].samples)
    again = fit_fluxes(model, *same, [("g", 3), ("h", 3)], SHARD_SETTINGS, redshift=1.5)
    np.testing.assert_array_equal(again[0].samples, fits[0].samples)
    assert not np.array_equal(again[0].samples, again[1].samples)


@pytest.mark.parametrize(
    "key_a, key_b",
    [
        (("04054", 12345), ("04054", 12346)),  # spaxel indices >= 10000
        (("04054", 7), ("04055", 7)),  # five-digit galaxy IDs of MACS1149
        (("04054", "global"), ("04054", "globals")),
    ],
)
def test_object_streams_differ_for_keys_differing_beyond_four_characters(key_a, key_b):
    a = object_stream(20170207, *key_a).random(4)
    b = object_stream(20170207, *key_b).random(4)
    assert not np.array_equal(a, b)


# ---------------------------------------------------------------------------------- settings


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_walkers=31), "n_walkers"),
        (dict(n_walkers=2), "n_walkers"),
        (dict(n_steps=1000, n_burn=1000), "n_burn"),
        (dict(n_steps=1000, n_burn=1500), "n_burn"),
        (dict(n_burn=-1), "n_burn"),
        (dict(engine="pymc"), "pymc"),
        (dict(thin=0), "thin"),
    ],
)
def test_sampler_settings_validation(kwargs, match):
    with pytest.raises(InputError, match=match):
        SamplerSettings(**kwargs)
