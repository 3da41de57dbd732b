"""Tests of :mod:`ohmap.sample.linmix`, the Kelly (2007) measurement-error regression.

Iteration counts are modest on purpose: each fit stops only once the Gelman-Rubin statistic of
alpha, beta, sigma, corr and the moments of the xi distribution is below 1.1 on the whole second
halves of 4 chains, so even 1000-2000 sweeps (2000-4000 kept draws) give posterior percentiles
whose Monte-Carlo error is a small fraction of the posterior width -- much smaller than the
tolerances below.  All data sets are simulated from fixed seeds, so the results are
deterministic.
"""

from __future__ import annotations

import numpy as np
import pytest

from ohmap.sample.linmix import LinmixResult, LinmixSettings, gelman_rubin, linmix


def simulate(seed, n, alpha=1.0, beta=0.5, sigma=0.3, xsig=(0.1, 0.5), ysig=(0.1, 0.5), rho=0.0):
    """Gaussian xi ~ N(0, 1); heteroscedastic errors uniform in the given ranges, correlation rho."""
    rng = np.random.default_rng([20170207, seed])
    xi = rng.normal(0.0, 1.0, n)
    eta = alpha + beta * xi + rng.normal(0.0, sigma, n)
    xs, ys = rng.uniform(*xsig, n), rng.uniform(*ysig, n)
    e1, e2 = rng.standard_normal(n), rng.standard_normal(n)
    ex = xs * e1
    ey = ys * (rho * e1 + np.sqrt(1.0 - rho**2) * e2)
    return xi + ex, eta + ey, xs, ys, rho * xs * ys


def posterior(result: LinmixResult, name: str):
    values = getattr(result, name)
    return float(np.median(values)), float(np.std(values))


def test_negligible_errors_match_least_squares():
    """N = 500 with errors 1e-4 of the spread: medians agree with the ML fit (OLS, sqrt(RSS/N))."""
    rng = np.random.default_rng(3)
    n = 500
    x = rng.normal(2.0, 1.5, n)
    y = -0.7 + 1.3 * x + rng.normal(0.0, 0.4, n)
    err = np.full(n, 1e-4)
    result = linmix(x, y, err, err, settings=LinmixSettings(min_iterations=1000))  # K = 3
    assert result.converged
    beta_ml, alpha_ml = np.polyfit(x, y, 1)
    sigma_ml = np.sqrt(np.mean((y - alpha_ml - beta_ml * x) ** 2))
    for name, ml, tol in (
        ("alpha", alpha_ml, 0.01),
        ("beta", beta_ml, 0.005),
        ("sigma", sigma_ml, 0.005),
    ):
        med, sd = posterior(result, name)
        assert abs(med - ml) < 0.3 * sd, (name, med, ml, sd)
        assert abs(med - ml) < tol, (name, med, ml)
    # the posterior widths are those of least squares
    se_beta = sigma_ml / np.sqrt(np.sum((x - x.mean()) ** 2))
    assert posterior(result, "beta")[1] == pytest.approx(se_beta, rel=0.1)
    assert np.median(result.xi_mean) == pytest.approx(x.mean(), abs=0.02)
    assert result.pi.shape == (result.n_draws, 3)


def test_exact_data_without_errors():
    """No errors given (xsig = ysig = 0): xi = x and eta = y exactly; the posterior is OLS's."""
    rng = np.random.default_rng(8)
    x = rng.uniform(-1.0, 3.0, 50)
    y = 0.2 - 0.8 * x + rng.normal(0.0, 0.5, 50)
    result = linmix(x, y, settings=LinmixSettings(K=2, min_iterations=1000))
    beta_ml, alpha_ml = np.polyfit(x, y, 1)
    for name, ml in (("alpha", alpha_ml), ("beta", beta_ml)):
        med, sd = posterior(result, name)
        assert abs(med - ml) < 0.1 * sd, name


def test_coverage_of_beta_68_percent_interval():
    """100 simulated data sets of N = 30 points, K = 1, heteroscedastic errors 0.1-0.5 on x and y,
    intrinsic scatter 0.3: the 16-84 % interval of beta contains the truth in 68 +- 7 % of them.

    2000 sweeps suffice: every fit converged (Rhat < 1.1) at the first check; 400 data sets gave
    a coverage of 0.71 +- 0.02 for beta (alpha 0.67, sigma 0.66).
    """
    n_sets, hits = 100, 0
    for seed in range(n_sets):
        x, y, xs, ys, _ = simulate(seed, 30)
        result = linmix(x, y, xs, ys, settings=LinmixSettings(K=1, min_iterations=2000, seed=seed))
        lo, _, hi = result.summary(["beta"])["beta"]
        hits += lo <= 0.5 <= hi
    assert 0.61 <= hits / n_sets <= 0.75, hits


def censor(y, seed, fraction=0.3):
    """Upper limits at per-point thresholds around the `fraction` quantile; y < limit is censored."""
    rng = np.random.default_rng([11, seed])
    limit = np.quantile(y, fraction) + 0.1 * rng.standard_normal(y.size)
    delta = (y > limit).astype(int)
    return np.where(delta == 1, y, limit), delta


def test_upper_limits_recover_parameters():
    """~30 % of 400 y values replaced by upper limits: truth within 2 sigma; limits treated as
    detections bias the slope."""
    x, y, xs, ys, _ = simulate(1, 400, alpha=1.0, beta=1.0, sigma=0.4, ysig=(0.1, 0.3))
    y_obs, delta = censor(y, 1)
    assert 0.25 < np.mean(delta == 0) < 0.35
    settings = LinmixSettings(K=1, min_iterations=2000)
    result = linmix(x, y_obs, xs, ys, delta=delta, settings=settings)
    assert result.converged
    for name, truth in (("alpha", 1.0), ("beta", 1.0), ("sigma", 0.4)):
        med, sd = posterior(result, name)
        assert abs(med - truth) < 2.0 * sd, (name, med, sd)
    naive = linmix(x, y_obs, xs, ys, settings=settings)
    beta, sd = posterior(result, "beta")
    beta_naive = posterior(naive, "beta")[0]
    assert abs(beta_naive - 1.0) > 4.0 * sd
    assert abs(beta_naive - 1.0) > 3.0 * abs(beta - 1.0)


def test_upper_limits_with_zero_y_errors():
    """Censored points without y errors: eta itself is drawn below the limit."""
    x, y, _, _, _ = simulate(2, 300, alpha=1.0, beta=1.0, sigma=0.4, xsig=(0, 0), ysig=(0, 0))
    y_obs, delta = censor(y, 2)
    result = linmix(x, y_obs, delta=delta, settings=LinmixSettings(K=1, min_iterations=1000))
    assert result.converged
    for name, truth in (("alpha", 1.0), ("beta", 1.0), ("sigma", 0.4)):
        med, sd = posterior(result, name)
        assert abs(med - truth) < 2.5 * sd, (name, med, sd)


def test_correlated_errors_need_xycov():
    """Error correlation 0.9, errors ~ half the spread of xi, N = 800: ignoring xycov biases beta.

    (Over 20 data sets of 400 points, (median - truth)/sd was -0.2 +- 0.9 with xycov and
    +3 to +5.5 without.)
    """
    x, y, xs, ys, cov = simulate(
        0, 800, beta=0.5, sigma=0.2, xsig=(0.4, 0.6), ysig=(0.4, 0.6), rho=0.9
    )
    settings = LinmixSettings(K=1, min_iterations=2000)
    with_cov = linmix(x, y, xs, ys, cov, settings=settings)
    without = linmix(x, y, xs, ys, settings=settings)
    beta, sd = posterior(with_cov, "beta")
    beta_wrong, sd_wrong = posterior(without, "beta")
    assert abs(beta - 0.5) < 2.0 * sd
    assert abs(beta_wrong - 0.5) > 4.0 * max(sd, sd_wrong)


def test_mixture_of_three_agrees_with_single_gaussian():
    """On Gaussian xi, K = 3 gives the same beta as K = 1 within a fraction of the posterior width."""
    x, y, xs, ys, _ = simulate(5, 100)
    one = linmix(x, y, xs, ys, settings=LinmixSettings(K=1, min_iterations=2000))
    three = linmix(x, y, xs, ys, settings=LinmixSettings(K=3, min_iterations=2000))
    assert one.converged and three.converged
    for name in ("beta", "alpha", "sigma"):
        (m1, s1), (m3, s3) = posterior(one, name), posterior(three, name)
        assert abs(m1 - m3) < 0.3 * s1, name
        assert s3 == pytest.approx(s1, rel=0.2)
    assert three.mu.shape == (three.n_draws, 3)
    assert np.allclose(three.pi.sum(axis=1), 1.0)
    assert abs(posterior(one, "beta")[0] - 0.5) < 2.0 * posterior(one, "beta")[1]


def small_data():
    x, y, xs, ys, _ = simulate(6, 20)
    return x, y, xs, ys


def test_same_seed_same_draws_and_different_seed_different_draws():
    x, y, xs, ys = small_data()
    settings = LinmixSettings(K=2, min_iterations=300, seed=42)
    a = linmix(x, y, xs, ys, settings=settings)
    b = linmix(x, y, xs, ys, settings=settings)
    c = linmix(x, y, xs, ys, settings=LinmixSettings(K=2, min_iterations=300, seed=43))
    for name in ("alpha", "beta", "sigma", "corr", "mu"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert a.n_iterations == b.n_iterations and a.rhat == b.rhat
    assert not np.array_equal(a.beta, c.beta)
    # kept draws: second half of every chain, pooled chain after chain
    assert a.n_draws == a.n_chains * a.n_iterations // 2
    assert a.chains("beta").shape == (4, a.n_iterations // 2)


def test_max_iterations_honoured():
    x, y, xs, ys = small_data()
    settings = LinmixSettings(
        K=1, min_iterations=100, max_iterations=250, check_every=100, rhat_threshold=0.5
    )
    with pytest.warns(RuntimeWarning, match="not converged"):
        result = linmix(x, y, xs, ys, settings=settings)
    assert not result.converged
    assert result.n_iterations == 250
    assert "max_iterations" in result.message
    assert result.alpha.size == 4 * 125


def test_thinning_keeps_every_thin_th_draw():
    x, y, xs, ys = small_data()
    result = linmix(x, y, xs, ys, settings=LinmixSettings(K=1, min_iterations=400, thin=4))
    assert result.n_draws == 4 * (result.n_iterations // 2) // 4


def test_summary_and_rhat():
    x, y, xs, ys = small_data()
    result = linmix(x, y, xs, ys, settings=LinmixSettings(K=1, min_iterations=1000))
    s = result.summary()
    assert set(s) == {"alpha", "beta", "sigma"}
    for lo, mid, hi in s.values():
        assert lo < mid < hi
    assert set(result.rhat) == {"alpha", "beta", "sigma", "corr", "xi_mean", "xi_sd"}
    assert np.all((result.corr > -1) & (result.corr < 1))
    rng = np.random.default_rng(0)
    same = rng.normal(size=(4, 1000))
    assert gelman_rubin(same) == pytest.approx(1.0, abs=0.01)
    assert gelman_rubin(same + np.arange(4)[:, None]) > 1.5


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(y=np.zeros(5)), r"y has length 5, expected 6"),
        (dict(xsig=[0.1, 0.1, -0.2, 0.1, 0.1, 0.1]), r"xsig\[2\] is negative"),
        (dict(ysig=[0.1, 0.1, 0.1, 0.1, np.inf, 0.1]), r"ysig\[4\] is not finite"),
        (dict(y=[1.0, np.nan, 2.0, 3.0, 4.0, 5.0]), r"y\[1\] is not finite"),
        (dict(delta=[1, 1, 1, 2, 1, 0]), r"delta\[3\]"),
        (dict(xycov=[0.0, 0.0, 0.0, 0.0, 0.0, 0.5]), r"xycov\[5\]"),
        (dict(x=[1.0, 2.0], y=[1.0, 2.0], xsig=None, ysig=None), r"at least 3"),
        (dict(delta=[0, 0, 0, 0, 1, 1]), r"detected"),
        (dict(settings=LinmixSettings(K=0)), r"K"),
        (dict(settings=LinmixSettings(min_iterations=1000, max_iterations=100)), r"max_iterations"),
        (dict(settings=LinmixSettings(n_chains=1)), r"n_chains"),
    ],
)
def test_input_validation(kwargs, match):
    args = dict(
        x=np.arange(6.0),
        y=np.arange(6.0) ** 1.5,
        xsig=np.full(6, 0.1),
        ysig=np.full(6, 0.1),
        settings=LinmixSettings(min_iterations=10),
    )
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        linmix(**args)


def test_three_points_with_flat_priors_stop_as_diverged_not_as_numbers():
    """Through three points the flat-prior posterior of (alpha, beta, sigma) is too broad to
    sample; the fit must say so rather than return infinite draws as a result."""
    import warnings

    x, y = np.array([8.5, 9.0, 9.5]), np.array([8.1, 8.3, 8.2])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = linmix(
            x,
            y,
            np.full(3, 0.1),
            np.full(3, 0.1),
            settings=LinmixSettings(K=1, min_iterations=2000, max_iterations=20000),
        )
    assert not result.converged and "diverged" in result.message
