"""Metallicity gradients: the line fit with intrinsic scatter against analytic posteriors, WLS
and emcee, its frequentist coverage on simulated spaxels, the spaxel selection, radial annuli
on a synthetic exponential disk, annulus fluxes, determinism and flags."""

import numpy as np
import pytest
from scipy import stats

from ohmap.gradients.individual_spaxels import individual_spaxel_gradient
from ohmap.gradients.linear_fit import fit_linear_with_scatter
from ohmap.gradients.radial_annuli import (
    Annulus,
    annulus_fluxes,
    annulus_label_map,
    radial_annuli,
    radial_annulus_gradient,
)
from ohmap.gradients.result import GradientResult, gradient_row
from ohmap.inference.fitting import FluxFit
from ohmap.inference.settings import SamplerSettings
from ohmap.inference.summary import conservative_error

TRUE_A, TRUE_B, TRUE_S = 8.5, -0.08, 0.06
Z1 = stats.norm.ppf(0.84)  # 0.9945


def spaxels(seed, n=30, scatter=TRUE_S):
    """Radii (kpc), metallicities and heteroscedastic errors about a known line."""
    rng = np.random.default_rng([2017, seed])
    r = rng.uniform(0.0, 5.0, n)
    sig = np.exp(rng.normal(np.log(0.05), 0.5, n))
    y = TRUE_A + TRUE_B * r + rng.normal(0.0, scatter, n) + rng.normal(0.0, sig)
    return r, y, sig


def wls(r, y, sig):
    coef, cov = np.polyfit(r, y, 1, w=1.0 / sig, cov="unscaled")
    return coef[0], np.sqrt(cov[0, 0]), coef[1], np.sqrt(cov[1, 1])


# ------------------------------------------------------------------------------- line fit


def test_fixed_zero_scatter_is_weighted_least_squares():
    r, y, sig = spaxels(1)
    fit = fit_linear_with_scatter(r, y, sig, 5, fix_sigma_int=0.0)
    b, eb, a, ea = wls(r, y, sig)
    np.testing.assert_allclose(
        fit.slope_percentiles, b + eb * np.array([-Z1, 0, Z1]), rtol=0, atol=1e-9
    )
    np.testing.assert_allclose(
        fit.intercept_percentiles, a + ea * np.array([-Z1, 0, Z1]), atol=1e-9
    )
    assert fit.slope_err == pytest.approx(Z1 * eb, rel=1e-7)
    assert fit.sigma_int == 0 and fit.sigma_int_fixed == 0.0 and not fit.flag
    # samples follow the same Gaussian
    assert np.std(fit.samples[:, 1]) == pytest.approx(eb, rel=0.05)


def test_scatter_only_posterior_is_student_t():
    """Negligible measurement errors, flat priors on a, b and sigma_int: sigma_int^2 is
    inverse-gamma with shape (n-3)/2, and the slope's marginal is Student-t with n-3 degrees of
    freedom, centred on the OLS slope with scale sqrt(RSS / ((n-3) Sxx))."""
    rng = np.random.default_rng(3)
    n = 10
    r = np.linspace(0.0, 4.0, n)
    y = 1.0 + 0.3 * r + rng.normal(0.0, 0.5, n)
    fit = fit_linear_with_scatter(r, y, np.full(n, 1e-6), 0, sigma_int_max=200.0)
    b, a = np.polyfit(r, y, 1)
    rss = np.sum((y - a - b * r) ** 2)
    sxx = np.sum((r - r.mean()) ** 2)
    expected = b + np.sqrt(rss / ((n - 3) * sxx)) * stats.t.ppf([0.16, 0.5, 0.84], n - 3)
    np.testing.assert_allclose(fit.slope_percentiles, expected, rtol=1e-5)
    s_expected = np.sqrt(stats.invgamma.ppf([0.16, 0.5, 0.84], (n - 3) / 2, scale=rss / 2))
    np.testing.assert_allclose(fit.sigma_int_percentiles, s_expected, rtol=2e-3)


def test_tends_to_wls_without_intrinsic_scatter():
    """Data with correct errors and no scatter: slope and error close to WLS."""
    dz, ratio, s84 = [], [], []
    for seed in range(20):
        r, y, sig = spaxels(seed, n=40, scatter=0.0)
        fit = fit_linear_with_scatter(r, y, sig, seed)
        b, eb, _, _ = wls(r, y, sig)
        dz.append((fit.slope - b) / eb)
        ratio.append(fit.slope_err / (Z1 * eb))
        s84.append(fit.sigma_int_percentiles[2])
    assert np.mean(np.abs(dz)) < 0.15
    assert 0.95 < np.median(ratio) < 1.2
    assert np.median(s84) < 0.03  # small compared with the ~0.05 dex errors


def test_coverage_and_no_flattening_with_intrinsic_scatter():
    """400 simulated sets of 30 spaxels with intrinsic scatter: the 68% interval of the slope
    holds the truth in 68% +- 7% (binomial sd 2.3%; over 2000 sets the coverage is 0.70), the
    2-sigma interval in ~95%, the mean slope is unbiased; WLS (sigma_int = 0) covers ~1/3."""
    inside, inside2, wls_inside, err, dev = [], [], [], [], []
    for seed in range(400):
        r, y, sig = spaxels(seed)
        fit = fit_linear_with_scatter(r, y, sig, seed, n_samples=10)
        p = fit.slope_percentiles
        inside.append(p[0] <= TRUE_B <= p[2])
        inside2.append(abs(fit.slope - TRUE_B) < 2 * fit.slope_err)
        dev.append(fit.slope - TRUE_B)
        err.append(fit.slope_err)
        b, eb, _, _ = wls(r, y, sig)
        wls_inside.append(abs(b - TRUE_B) < Z1 * eb)
    assert abs(np.mean(inside) - 0.68) < 0.07
    assert np.mean(inside2) > 0.90
    assert abs(np.mean(dev)) < 3 * np.std(dev) / np.sqrt(len(dev))
    assert np.mean(dev) / np.mean(err) > -0.1  # no systematic flattening (TRUE_B < 0)
    assert np.mean(wls_inside) < 0.5


def test_emcee_agrees_with_analytic():
    r, y, sig = spaxels(4, n=40)
    ana = fit_linear_with_scatter(r, y, sig, 9)
    mc = fit_linear_with_scatter(
        r,
        y,
        sig,
        9,
        method="emcee",
        sampler_settings=SamplerSettings(
            engine="emcee", n_walkers=32, n_steps=3000, n_burn=1000, thin=1
        ),
    )
    np.testing.assert_allclose(
        mc.slope_percentiles, ana.slope_percentiles, atol=0.1 * ana.slope_err
    )
    np.testing.assert_allclose(
        mc.intercept_percentiles, ana.intercept_percentiles, atol=0.1 * ana.intercept_err
    )
    np.testing.assert_allclose(
        mc.sigma_int_percentiles,
        ana.sigma_int_percentiles,
        atol=0.1 * np.ptp(ana.sigma_int_percentiles),
    )
    # analytic samples follow the analytic percentiles
    np.testing.assert_allclose(
        np.percentile(ana.samples[:, 1], [16, 50, 84]),
        ana.slope_percentiles,
        atol=0.1 * ana.slope_err,
    )


def test_determinism():
    r, y, sig = spaxels(6)
    f1 = fit_linear_with_scatter(r, y, sig, 42, key=("g",))
    f2 = fit_linear_with_scatter(r, y, sig, 42, key=("g",))
    f3 = fit_linear_with_scatter(r, y, sig, 43, key=("g",))
    np.testing.assert_array_equal(f1.samples, f2.samples)
    np.testing.assert_array_equal(f1.slope_percentiles, f2.slope_percentiles)
    assert not np.array_equal(f1.samples, f3.samples)
    # percentiles are exact, independent of the stream
    np.testing.assert_array_equal(f1.slope_percentiles, f3.slope_percentiles)
    settings = SamplerSettings(engine="emcee", n_walkers=16, n_steps=300, n_burn=100, thin=1)
    m1 = fit_linear_with_scatter(r, y, sig, 42, method="emcee", sampler_settings=settings)
    m2 = fit_linear_with_scatter(
        r, y, sig, np.random.default_rng(0), method="emcee", sampler_settings=settings
    )
    m3 = fit_linear_with_scatter(r, y, sig, 42, method="emcee", sampler_settings=settings)
    np.testing.assert_array_equal(m1.samples, m3.samples)
    assert not np.array_equal(m1.samples, m2.samples)


def test_flags():
    r, y, sig = spaxels(7, n=4)
    fit = fit_linear_with_scatter(r, y, sig, 0)
    assert fit.flag and "too_few_points" in fit.reason and np.isfinite(fit.slope) and fit.n == 4
    assert not fit_linear_with_scatter(r, y, sig, 0, min_points=4).flag
    fit = fit_linear_with_scatter(r[:2], y[:2], sig[:2], 0)
    assert fit.flag and "no_fit" in fit.reason and np.isnan(fit.slope)
    fit = fit_linear_with_scatter([], [], [], 0)
    assert fit.flag and "no_fit" in fit.reason and fit.n == 0
    r, y, sig = spaxels(8)
    fit = fit_linear_with_scatter(0.1 * r, y, sig, 0)  # spans < 0.5 kpc
    assert fit.flag and fit.reason == "small_radius_range"
    # NaN points and non-positive errors are ignored
    y2, sig2 = y.copy(), sig.copy()
    y2[0], sig2[1] = np.nan, 0.0
    assert fit_linear_with_scatter(r, y2, sig2, 0).n == len(r) - 2
    with pytest.raises(ValueError):
        fit_linear_with_scatter(r, y, sig[:-1], 0)


# ------------------------------------------------------------------------ individual spaxels


def test_individual_spaxel_selection_and_conservative_error():
    r, y, sig = spaxels(9, n=36)
    shape = (6, 6)
    lo = y - 0.7 * sig
    hi = y + sig  # upper side larger: conservative error = sig
    fitted = np.ones(36, bool)
    fitted[[0, 1]] = False
    limit = np.zeros(36, bool)
    limit[2] = True
    rad = r.copy()
    rad[3] = np.nan
    p16, p50, p84 = (np.where(fitted, v, np.nan).reshape(shape) for v in (lo, y, hi))
    res = individual_spaxel_gradient(
        rad.reshape(shape),
        p16,
        p50,
        p84,
        fitted.reshape(shape),
        11,
        limit_mask=limit.reshape(shape),
    )
    use = np.arange(36) >= 4
    direct = fit_linear_with_scatter(r[use], y[use], sig[use], 11, key=("individual_spaxel",))
    assert isinstance(res, GradientResult) and res.method == "individual_spaxel"
    assert res.n == 32
    assert res.slope == pytest.approx(direct.slope, rel=1e-9) and res.slope_err == pytest.approx(
        direct.slope_err, rel=1e-9
    )
    np.testing.assert_allclose(conservative_error(lo, y, hi), sig)
    np.testing.assert_allclose(conservative_error(y - sig, y, y + 0.5 * sig), sig)
    row = gradient_row("04054", res)
    assert row["galaxy"] == "04054" and row["method"] == "individual_spaxel" and row["n"] == 32
    assert row["slope"] == res.slope and np.isnan(row["sigma_int_fixed"]) and row["flag"] is False
    assert set(row) >= {
        "slope_err",
        "slope_p16",
        "slope_p84",
        "intercept",
        "intercept_err",
        "sigma_int",
        "r_min_kpc",
        "r_max_kpc",
        "reason",
    }


# ----------------------------------------------------------------------------- radial annuli


def exponential_disk(seed=0, n=41, rd=1.5, scale=0.25, f0=30.0, noise=1.0):
    """H-alpha map of an inclined exponential disk (radius in kpc, 0.25 kpc spaxels)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:n, :n] - (n - 1) / 2
    radius = scale * np.hypot(xx, yy / np.cos(np.radians(50)))
    flux = f0 * np.exp(-radius / rd) + rng.normal(0, noise, (n, n))
    error = np.full((n, n), noise)
    error[:3] = np.inf  # no data in the top rows
    return radius, flux, error


def test_radial_annuli_on_exponential_disk():
    radius, flux, error = exponential_disk()
    valid = radius < 6.0
    annuli = radial_annuli(radius, flux, error, valid, min_snr=15)
    assert len(annuli) >= 4
    seen = np.concatenate([a.indices for a in annuli])
    assert len(seen) == len(np.unique(seen))  # each spaxel at most once
    assert valid.ravel()[seen].all() and np.isfinite(error.ravel()[seen]).all()
    for a in annuli:
        assert a.snr >= 15
        rr = radius.ravel()[a.indices]
        assert a.r_inner <= rr.min() and rr.max() <= a.r_outer
        assert a.r_inner <= a.r_mean <= a.r_outer
        f = flux.ravel()[a.indices]
        assert a.flux == pytest.approx(f.sum()) and a.error == pytest.approx(np.sqrt(a.n_spaxels))
    inner = [a.r_inner for a in annuli]
    outer = [a.r_outer for a in annuli]
    assert inner[0] == 0.0 and np.all(np.diff(inner) > 0) and np.all(np.diff(outer) > 0)
    for k in range(len(annuli) - 1):  # edges: halfway between neighbouring members
        assert outer[k] <= inner[k + 1] + 1e-12
        assert radius.ravel()[annuli[k + 1].indices].min() > inner[k + 1]
    # annuli widen outwards as the surface brightness falls
    assert annuli[-1].r_outer - annuli[-1].r_inner > annuli[0].r_outer
    lab = annulus_label_map(annuli, radius.shape)
    assert lab.shape == radius.shape and (lab >= 0).sum() == len(seen)
    assert annuli[1].mask.sum() == annuli[1].n_spaxels
    # min width and max radius
    wide = radial_annuli(
        radius, flux, error, valid, min_snr=15, min_width_kpc=1.0, max_radius_kpc=4.0
    )
    assert all(a.r_outer - a.r_inner >= 1.0 for a in wide)
    assert max(a.r_outer for a in wide) <= 4.0


def test_radial_annuli_merging_and_dropping():
    # 1-D "map": radii 1..10, each spaxel S/N 10 -> annuli of 3 spaxels (S/N 17.3)
    r = np.arange(1.0, 11.0)
    f = np.full(10, 10.0)
    e = np.ones(10)
    ann = radial_annuli(r, f, e, np.ones(10, bool), min_snr=15)
    # 10 spaxels: 3 + 3 + 3, the 10th (S/N 10) merged into the third
    assert [a.n_spaxels for a in ann] == [3, 3, 4]
    assert [a.r_inner for a in ann] == [0.0, 3.5, 6.5] and ann[-1].r_outer == 10.0
    # a noise-only outskirt that would pull the last annulus below threshold is dropped
    f2 = f.copy()
    f2[9] = -20.0
    e2 = e.copy()
    e2[9] = 5.0
    ann = radial_annuli(r, f2, e2, np.ones(10, bool), min_snr=15)
    assert [a.n_spaxels for a in ann] == [3, 3, 3] and 9 not in np.concatenate(
        [a.indices for a in ann]
    )
    # nothing reaches the threshold: no annulus
    assert radial_annuli(r, f / 10, e, np.ones(10, bool), min_snr=15) == []
    # spaxels at the same radius are never split
    ann = radial_annuli(
        np.array([1, 1, 1, 1, 2, 2.0]), np.full(6, 10.0), np.ones(6), np.ones(6, bool)
    )
    assert [a.n_spaxels for a in ann] == [6]


def test_annulus_fluxes_sums_in_quadrature():
    rng = np.random.default_rng(5)
    shape = (8, 8)
    radius = np.hypot(*(np.mgrid[:8, :8] - 3.5))
    ha = (rng.uniform(5, 10, shape), rng.uniform(0.5, 1, shape))
    hb = (rng.uniform(1, 3, shape), rng.uniform(0.5, 1, shape))
    o3 = (rng.uniform(1, 3, shape), rng.uniform(0.5, 1, shape))
    o3[1][0, 0] = np.inf  # a corner spaxel without [OIII]
    annuli = radial_annuli(radius, ha[0], ha[1], np.ones(shape, bool), min_snr=20)
    assert len(annuli) >= 2
    flux, error = annulus_fluxes(
        {"Ha": ha, "Hb": hb, "OIII5008": o3}, annuli, lines=("Hb", "OIII5008", "Ha", "SII")
    )
    assert flux.shape == error.shape == (len(annuli), 4)
    for k, a in enumerate(annuli):
        m = a.mask
        np.testing.assert_allclose(flux[k, 0], hb[0][m].sum())
        np.testing.assert_allclose(error[k, 0], np.sqrt((hb[1][m] ** 2).sum()))
        np.testing.assert_allclose(flux[k, 2], ha[0][m].sum())
        if m[0, 0]:
            assert np.isnan(flux[k, 1]) and np.isnan(error[k, 1])
        else:
            np.testing.assert_allclose(flux[k, 1], o3[0][m].sum())
    assert np.isnan(flux[:, 3]).all()  # line without a map
    assert any(a.mask[0, 0] for a in annuli)


def fake_fit(p16, p50, p84, limit=""):
    return FluxFit(
        ("g", "annulus"),
        np.empty((0, 3)),
        {"oh12": dict(p16=p16, p50=p50, p84=p84, limit=limit, value=p50)},
        np.zeros(3),
        0.3,
        True,
        np.empty((0, 1, 3)),
    )


def test_radial_annulus_gradient():
    rad = np.array([0.5, 1.5, 2.6, 3.8, 5.0])
    p50 = TRUE_A + TRUE_B * rad + np.array([0.01, -0.02, 0.0, 0.015, -0.01])
    up = np.array([0.03, 0.04, 0.03, 0.05, 0.06])
    dn = np.array([0.04, 0.02, 0.03, 0.03, 0.08])
    fits = [fake_fit(m - d, m, m + u) for m, u, d in zip(p50, up, dn)]
    annuli = [Annulus(np.array([k]), (5,), 0.0, 1.0, r, 1.0, 1.0, 1.0) for k, r in enumerate(rad)]
    res = radial_annulus_gradient(fits, annuli, 3)
    b, eb, _, _ = wls(rad, p50, np.maximum(up, dn))
    assert res.method == "radial_annulus" and res.sigma_int_fixed == 0.0 and res.n == 5
    assert res.slope == pytest.approx(b) and res.slope_err == pytest.approx(Z1 * eb)
    # array input, a limit excluded
    fits[4] = fake_fit(p50[4] - dn[4], p50[4], p50[4] + up[4], limit="<")
    res2 = radial_annulus_gradient(fits, rad, 3)
    arr = np.column_stack([p50 - dn, p50, p50 + up])
    res3 = radial_annulus_gradient(arr, rad, 3, limits=[0, 0, 0, 0, 1])
    assert res2.n == res3.n == 4 and res2.slope == pytest.approx(res3.slope)
    # sigma_int free on request; too few annuli flagged
    free = radial_annulus_gradient(arr, rad, 3, fix_sigma_int=None)
    assert free.sigma_int_fixed is None and free.slope_err >= res.slope_err * 0.99
    few = radial_annulus_gradient(arr[:2], rad[:2], 3)
    assert few.flag and "no_fit" in few.reason and "too_few_points" in few.reason
    assert gradient_row("05709", res)["sigma_int_fixed"] == 0.0
