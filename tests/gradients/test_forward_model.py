"""The forward-modelled gradient: recovery of a known linear profile from noiseless and noisy
line fluxes, its error against the Cramér–Rao bound, noise-only bins that carry no
metallicity preference, the bound against a Monte Carlo of the estimator's scatter,
determinism and the no-fit case."""

import numpy as np
import pytest

from ohmap.gradients.forward_model import (
    ForwardSettings,
    bin_log_likelihood,
    forward_gradient,
    gradient_fisher_bound,
    grids,
    profile_log_likelihood,
)
from ohmap.inference.model import LineFluxModel
from ohmap.inference.settings import InferenceSettings, SamplerSettings

LINES = ("OII", "Hg", "Hb", "OIII5008", "Ha", "SII")
Z0, SLOPE, AV = 8.55, -0.12, 0.6
SAMPLER = SamplerSettings(n_walkers=32, n_steps=1500, n_burn=500, thin=5, min_tau_multiple=10)


def model():
    return LineFluxModel(LINES, InferenceSettings())


def disk(n=60, error=0.3, seed=1):
    """Bins of an exponential disk with a linear gradient: radii (kpc), the true parameters
    per bin and the flux errors (1e-17 erg/s/cm^2)."""
    rng = np.random.default_rng(seed)
    r = rng.uniform(0.0, 4.0, n)
    theta = np.column_stack([Z0 + SLOPE * r, np.full(n, AV), np.log10(3.0 * np.exp(-r / 1.5))])
    return r, theta, np.full((n, len(LINES)), error)


def test_noiseless_fluxes_give_the_truth_with_the_bound_as_error():
    m = model()
    r, theta, err = disk()
    mu, _ = m.expected(theta)
    fit = forward_gradient(m, mu, err, r, SAMPLER, key=("noiseless",))
    bound = gradient_fisher_bound(m, theta, err, r)
    res = fit.result
    assert res.method == "forward_model" and not res.flag, res.reason
    # Noiseless data: the posterior is centred on the truth within a fraction of its width,
    # and (high S/N, near-Gaussian) its width is the Cramér–Rao bound.
    assert abs(res.slope - SLOPE) < 0.25 * res.slope_err
    assert abs(res.intercept - Z0) < 0.25 * res.intercept_err
    assert abs(np.median(fit.samples[:, 2]) - AV) < 0.1
    assert res.slope_err == pytest.approx(bound, rel=0.15)
    assert res.n == len(r) and res.r_min_kpc == pytest.approx(r.min())


def test_estimator_scatter_matches_the_bound():
    """Maximum of the profile likelihood over (Z0, dZ/dr, A_V), over noisy realisations: its
    scatter is the bound (all three free, as in the bound)."""
    m = model()
    r, theta, err = disk(n=40, error=0.2)
    mu, sig_model = m.expected(theta)
    bound = gradient_fisher_bound(m, theta, err, r)
    settings = ForwardSettings(z_step_dex=0.02, av_step_mag=0.1)
    z_grid, av_grid = grids(m, settings)
    z0, slope, av = np.meshgrid(
        Z0 + np.linspace(-0.12, 0.12, 25),
        SLOPE + np.linspace(-0.08, 0.08, 33),
        np.linspace(0.2, 1.0, 17),
        indexing="ij",
    )
    trial = np.stack([z0, slope, av], axis=-1).reshape(-1, 3)
    rng = np.random.default_rng(7)
    slopes = []
    for _ in range(40):
        flux = mu + rng.normal(size=mu.shape) * np.sqrt(err**2 + sig_model**2)
        table = bin_log_likelihood(m, flux, err, z_grid, settings)
        ln_l = profile_log_likelihood(trial, r, table, z_grid, av_grid)
        slopes.append(trial[int(np.argmax(ln_l)), 1])
    assert abs(np.mean(slopes) - SLOPE) < 3 * bound / np.sqrt(len(slopes)) + 0.005
    assert np.std(slopes) == pytest.approx(bound, rel=0.3)


def test_noise_only_bins_carry_no_metallicity_preference():
    """Bins of pure noise: the profile over H-beta gains the same on average at every
    metallicity (within the Monte Carlo error), unlike a marginal with a prior on it."""
    m = model()
    settings = ForwardSettings(z_step_dex=0.1, av_step_mag=0.5)
    z_grid, _ = grids(m, settings)
    rng = np.random.default_rng(3)
    n = 600
    err = np.full((n, len(LINES)), 0.35)
    table = bin_log_likelihood(m, rng.normal(size=err.shape) * err, err, z_grid, settings)
    # ln L relative to the empty model (H-beta at its lower bound), per bin: the gain.
    per_z = table[:, :, 0] - table[:, :, 0].min(axis=1, keepdims=True)
    mean = per_z.mean(axis=0)
    spread = per_z.std(axis=0) / np.sqrt(n)
    assert np.ptp(mean) < 4 * spread.max() + 0.02


def test_positive_and_flat_slopes_and_flags():
    m = model()
    r, theta, err = disk(n=30, seed=4)
    theta[:, 0] = 8.2 + 0.05 * r
    mu, _ = m.expected(theta)
    fit = forward_gradient(m, mu, err, r, SAMPLER, key=("up",))
    assert abs(fit.result.slope - 0.05) < 0.3 * fit.result.slope_err + 0.005
    few = forward_gradient(m, mu[:3], err[:3], r[:3], SAMPLER, key=("few",))
    assert few.result.flag and "only 3 bins" in few.result.reason
    assert np.isnan(few.result.slope)


def test_bins_without_radius_or_data_are_left_out_and_results_repeat():
    m = model()
    r, theta, err = disk(n=30, seed=5)
    mu, _ = m.expected(theta)
    rng = np.random.default_rng(11)
    flux = mu + rng.normal(size=mu.shape) * err
    r_with_gaps = r.copy()
    r_with_gaps[:3] = np.nan
    err_with_gaps = err.copy()
    err_with_gaps[3:5] = np.inf
    a = forward_gradient(m, flux, err_with_gaps, r_with_gaps, SAMPLER, key=("g",))
    b = forward_gradient(m, flux[5:], err[5:], r[5:], SAMPLER, key=("g",))
    assert a.result.n == b.result.n == 25
    np.testing.assert_array_equal(a.samples, b.samples)


def test_av_per_bin_recovers_the_slope_and_unknown_modes_are_refused():
    m = model()
    r, theta, err = disk(n=30, seed=6)
    mu, _ = m.expected(theta)
    settings = ForwardSettings.from_config({"av": "per_bin", "av_step_mag": 0.1})
    fit = forward_gradient(m, mu, err, r, SAMPLER, settings, key=("per_bin",))
    assert abs(fit.result.slope - SLOPE) < 0.5 * fit.result.slope_err + 0.005
    with pytest.raises(ValueError, match="gradients.forward.av"):
        ForwardSettings.from_config({"av": "smooth"})
