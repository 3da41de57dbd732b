"""Calibration registry, line-flux model, likelihoods, priors, limit rule and the calibration
(coverage) of the posterior credible intervals on simulated fluxes.

Truth is computed independently of ohmap wherever possible: Table 4 of Wang et al. (2017) typed
in here, ``dust_extinction``'s CCM89 and astropy's FlatLambdaCDM used directly, scipy.stats
densities.
"""

import inspect

import numpy as np
import pytest
from astropy import units as u
from astropy.cosmology import FlatLambdaCDM
from dust_extinction.parameter_averages import CCM89
from scipy import stats

from ohmap.errors import InputError
from ohmap.inference.calibrations import get_calibration, log_ratio
from ohmap.inference.fitting import fit_fluxes
from ohmap.inference.model import LineFluxModel, ObservedFluxes
from ohmap.inference.nebular import (
    intrinsic_hbeta_flux,
    sfr_surface_density,
    star_formation_rate,
)
from ohmap.inference.settings import InferenceSettings, SamplerSettings
from ohmap.inference.summary import derived_samples, summarize
from ohmap.lines import FIT_LINES

#: Table 4 of Wang et al. (2017): log R = sum c_i x^i, x = 12 + log(O/H) - 8.69.
TABLE4 = {
    "Ha": (0.4564,),
    "Hg": (-0.3279,),
    "OIII5008": (0.1549, -1.5031, -0.9790, -0.0297),
    "OII": (0.5603, 0.0450, -1.8017, -1.8434, -0.6549),
    "SII": (-0.5457, 0.4573, -0.8227, -0.0284, 0.5940, 0.3426),
}
#: Rest-frame vacuum wavelengths (Angstrom, SDSS DR7 line table) of the fitted lines.
WAVELENGTH = {
    "OII": 3728.48,
    "Hg": 4341.69,
    "Hb": 4862.69,
    "OIII5008": 5008.24,
    "Ha": 6564.61,
    "SII": 6725.48,
}
CALIBRATED = ("OII", "OIII5008", "SII")  # 0.1 dex intrinsic scatter in the registry
LN10 = np.log(10.0)


def table4_log_ratio(line, oh12):
    x = oh12 - 8.69
    return sum(c * x**i for i, c in enumerate(TABLE4[line]))


def hand_expected(oh12, av, hbeta, nii_ha, lines=FIT_LINES, scatter_dex=0.1):
    """Expected observed fluxes and their intrinsic-scatter sigma, from Table 4 and CCM89."""
    ccm = CCM89(Rv=3.1)
    mu, sigma = [], []
    for line in lines:
        dust = 10 ** (-0.4 * av * float(ccm(WAVELENGTH[line] * u.AA)))
        if line == "Hb":
            ratio = 1.0
        elif line == "Ha":
            ratio = 10 ** TABLE4["Ha"][0] * (1 + nii_ha)  # H-alpha + [NII] blend
        elif line == "SII":
            ratio = 10 ** table4_log_ratio("SII", oh12) * 10 ** TABLE4["Ha"][0]  # [SII]/Ha * Ha/Hb
        else:
            ratio = 10 ** table4_log_ratio(line, oh12)
        mu.append(ratio * hbeta * dust)
        sigma.append(mu[-1] * LN10 * scatter_dex if line in CALIBRATED else 0.0)
    return np.array(mu), np.array(sigma)


# ------------------------------------------------------------------------ calibration registry


def test_stored_turnovers_are_the_stationary_points_of_the_polynomials():
    cal = get_calibration("maiolino2008")
    checked = 0
    for line, ratio in cal.ratios.items():
        deriv = np.polynomial.polynomial.polyder(ratio.coefficients)
        roots = np.polynomial.polynomial.polyroots(deriv) if len(deriv) > 1 else np.array([])
        real = roots[np.abs(roots.imag) < 1e-9].real + cal.x_offset
        inside = (
            real[(real > ratio.valid[0]) & (real < ratio.valid[1])] if ratio.valid else real[:0]
        )
        if ratio.turnover is None:
            assert inside.size == 0, f"{line}: stationary point(s) {inside} inside {ratio.valid}"
        else:
            checked += 1
            assert inside.size == 1
            assert abs(inside[0] - ratio.turnover) < 0.005, (line, inside[0], ratio.turnover)
    assert checked == 2  # [OIII]/Hb (7.89) and [OII]/Hb (8.70)


def test_case_b_balmer_ratios():
    assert 10 ** log_ratio("Ha", 8.3) == pytest.approx(2.86, rel=0.005)
    assert 10 ** log_ratio("Hg", 8.3) == pytest.approx(0.47, rel=0.005)
    # metallicity-independent
    assert np.ptp(log_ratio("Ha", np.linspace(7, 9.3, 5))) == 0


def test_log_ratios_match_table4_by_hand():
    # [OIII]/Hb at 8.69 (x = 0): c0
    assert log_ratio("OIII5008", 8.69) == pytest.approx(0.1549, abs=1e-12)
    # [OIII]/Hb at 8.0 (x = -0.69): 0.1549 + 1.5031*0.69 - 0.9790*0.4761 + 0.0297*0.328509
    hand = 0.1549 + 1.037139 - 0.4661019 + 0.00975672
    assert log_ratio("OIII5008", 8.0) == pytest.approx(hand, abs=1e-7)
    # [OII]/Hb at 7.69 (x = -1): 0.5603 - 0.0450 - 1.8017 + 1.8434 - 0.6549
    assert log_ratio("OII", 7.69) == pytest.approx(-0.0979, abs=1e-9)
    # [SII]/Ha at 7.69: -0.5457 - 0.4573 - 0.8227 + 0.0284 + 0.5940 - 0.3426, relative to H-alpha
    assert log_ratio("SII", 7.69) == pytest.approx(-1.5459, abs=1e-9)
    assert get_calibration().ratios["SII"].denominator == "Ha"


def test_unknown_calibration_name_raises_input_error_naming_it():
    with pytest.raises(InputError, match="pettini2004"):
        get_calibration("pettini2004")
    with pytest.raises(InputError, match="pettini2004"):
        LineFluxModel(FIT_LINES, InferenceSettings(calibration="pettini2004"))


# ---------------------------------------------------------------------------- expected fluxes


def test_expected_fluxes_match_hand_computation_with_ccm89_vanilla():
    model = LineFluxModel(FIT_LINES, nii_ha=0.11)
    mu, sigma = model.expected(np.array([8.3, 1.0, np.log10(2.0)]))
    mu_hand, sigma_hand = hand_expected(8.3, 1.0, 2.0, nii_ha=0.11)
    np.testing.assert_allclose(mu, mu_hand, rtol=1e-9)
    np.testing.assert_allclose(sigma, sigma_hand, rtol=1e-9)
    # [SII] through H-alpha = 2.86 H-beta, not the [NII] blend: [SII]/H-alpha(observed) is the
    # calibrated ratio times the two dust factors' ratio, divided by 1 + [NII]/H-alpha
    ccm = CCM89(Rv=3.1)
    k_sii, k_ha = float(ccm(WAVELENGTH["SII"] * u.AA)), float(ccm(WAVELENGTH["Ha"] * u.AA))
    observed = mu[FIT_LINES.index("SII")] / mu[FIT_LINES.index("Ha")]
    expected = 10 ** table4_log_ratio("SII", 8.3) * 10 ** (-0.4 * (k_sii - k_ha)) / 1.11
    assert observed == pytest.approx(expected, rel=1e-9)


def test_vanilla_nii_ha_defaults_to_the_settings_value():
    for nii in (None, np.nan):
        model = LineFluxModel(("Ha",), nii_ha=nii)
        mu, _ = model.expected(np.array([8.3, 1.0, np.log10(2.0)]))
        assert mu[0] == pytest.approx(
            hand_expected(8.3, 1.0, 2.0, 0.05, lines=("Ha",))[0][0], rel=1e-9
        )


def test_expected_fluxes_match_hand_computation_extended_set():
    model = LineFluxModel(FIT_LINES, InferenceSettings(parameters="extended"), nii_ha=0.11)
    assert model.names == ("oh12", "av", "log_hbeta", "log_nii_ha")
    theta = np.array(
        [[8.3, 1.0, np.log10(2.0), np.log10(0.2)], [7.6, 0.2, np.log10(0.5), np.log10(0.01)]]
    )
    mu, sigma = model.expected(theta)
    for row, (oh, av, hb, nii) in zip(range(2), [(8.3, 1.0, 2.0, 0.2), (7.6, 0.2, 0.5, 0.01)]):
        mu_hand, sigma_hand = hand_expected(oh, av, hb, nii)
        np.testing.assert_allclose(mu[row], mu_hand, rtol=1e-9)
        np.testing.assert_allclose(sigma[row], sigma_hand, rtol=1e-9)


def test_scatter_override_changes_only_that_line():
    model = LineFluxModel(FIT_LINES, InferenceSettings(scatter_dex={"OIII5008": 0.25}))
    mu, sigma = model.expected(np.array([8.3, 1.0, np.log10(2.0)]))
    want = np.where([n in CALIBRATED for n in FIT_LINES], 0.1, 0.0)
    want[FIT_LINES.index("OIII5008")] = 0.25
    np.testing.assert_allclose(sigma, mu * LN10 * want, rtol=1e-12)


# ------------------------------------------------------------------------------------------ SFR


COSMO = FlatLambdaCDM(H0=70, Om0=0.3)


def hand_sfr(hbeta, z):
    dl = COSMO.luminosity_distance(z).to(u.cm).value
    return 4.6e-42 * 2.86 * hbeta * 1e-17 * 4 * np.pi * dl**2


def test_star_formation_rate_matches_hand_computation():
    for z, hb in [(1.49, 2.0), (0.7, 0.03), (2.3, 55.0)]:
        assert star_formation_rate(hb, z) == pytest.approx(hand_sfr(hb, z), rel=1e-9)
        assert star_formation_rate(hb, z, magnification=20.0) == pytest.approx(
            hand_sfr(hb, z) / 20, rel=1e-9
        )
        assert intrinsic_hbeta_flux(star_formation_rate(hb, z), z) == pytest.approx(hb, rel=1e-12)


def test_sfr_surface_density_is_sfr_per_image_plane_area_without_magnification():
    # By construction the function takes no magnification: lensing conserves surface
    # brightness, so the magnification divides the SFR and the source-plane area alike.
    assert "magnification" not in inspect.signature(sfr_surface_density).parameters
    z, hb, side = 1.49, 2.0, 0.1
    kpc_per_arcsec = COSMO.kpc_proper_per_arcmin(z).to(u.kpc / u.arcsec).value
    assert sfr_surface_density(hb, z, side) == pytest.approx(
        hand_sfr(hb, z) / (side * kpc_per_arcsec) ** 2, rel=1e-9
    )
    model = LineFluxModel(FIT_LINES)
    samples = np.array([[8.3, 1.0, np.log10(hb)], [8.0, 0.5, 0.0]])
    d1 = derived_samples(model, samples, z, magnification=1.0, spaxel_arcsec=side)
    d20 = derived_samples(model, samples, z, magnification=20.0, spaxel_arcsec=side)
    np.testing.assert_array_equal(d1["sfr_density"], d20["sfr_density"])
    np.testing.assert_allclose(d20["sfr"], d1["sfr"] / 20, rtol=1e-12)
    assert d1["sfr"][0] == pytest.approx(hand_sfr(hb, z), rel=1e-9)


# -------------------------------------------------------------------------------- likelihoods


THETAS = np.array([[8.3, 1.0, np.log10(2.0)], [7.5, 0.1, 0.3], [8.9, 2.5, -0.5], [8.0, 0.0, 1.2]])
FLUX = np.array([3.1, 0.9, 1.5, 2.7, 6.0, 0.8])
ERROR = np.array([0.5, 0.4, 0.3, 0.3, 0.6, 0.5])


def test_gaussian_likelihood_is_a_normal_logpdf_sum_up_to_the_constant():
    model = LineFluxModel(FIT_LINES, nii_ha=0.11)
    got = model.log_likelihood(THETAS, FLUX, ERROR)
    for theta, value in zip(THETAS, got):
        mu, sig = hand_expected(theta[0], theta[1], 10 ** theta[2], 0.11)
        want = stats.norm.logpdf(FLUX, mu, np.sqrt(ERROR**2 + sig**2)).sum() + 3 * np.log(2 * np.pi)
        assert value == pytest.approx(want, rel=1e-10, abs=1e-10)


def test_paper_chi2_likelihood_lacks_the_log_variance_term():
    model = LineFluxModel(FIT_LINES, InferenceSettings(likelihood="paper_chi2"), nii_ha=0.11)
    got = model.log_likelihood(THETAS, FLUX, ERROR)
    for theta, value in zip(THETAS, got):
        mu, sig = hand_expected(theta[0], theta[1], 10 ** theta[2], 0.11)
        assert value == pytest.approx(
            -0.5 * np.sum((FLUX - mu) ** 2 / (ERROR**2 + sig**2)), rel=1e-10
        )


@pytest.mark.parametrize("likelihood", ["gaussian", "paper_chi2"])
def test_unusable_lines_are_left_out(likelihood):
    settings = InferenceSettings(likelihood=likelihood)
    flux, error = FLUX.copy(), ERROR.copy()
    flux[1] = np.nan  # Hg
    error[0] = -0.5  # OII
    error[4] = 0.0  # Ha
    error[5] = np.inf  # SII
    kept = ("Hb", "OIII5008")
    full = LineFluxModel(FIT_LINES, settings).log_likelihood(THETAS, flux, error)
    reduced = LineFluxModel(kept, settings).log_likelihood(THETAS, FLUX[2:4], ERROR[2:4])
    np.testing.assert_allclose(full, reduced, rtol=1e-12)
    assert np.all(np.isfinite(full))
    prepared = LineFluxModel(FIT_LINES, settings).log_likelihood(
        THETAS, ObservedFluxes.of(flux, error), None
    )
    np.testing.assert_array_equal(prepared, full)
    error_nan = ERROR.copy()
    error_nan[3] = np.nan
    np.testing.assert_allclose(
        LineFluxModel(FIT_LINES, settings).log_likelihood(THETAS, FLUX, error_nan),
        LineFluxModel(("OII", "Hg", "Hb", "Ha", "SII"), settings).log_likelihood(
            THETAS, np.delete(FLUX, 3), np.delete(ERROR, 3)
        ),
        rtol=1e-12,
    )


@pytest.mark.parametrize("likelihood", ["gaussian", "paper_chi2"])
def test_diagonal_covariance_equals_the_diagonal_form(likelihood):
    model = LineFluxModel(FIT_LINES, InferenceSettings(likelihood=likelihood))
    diag = model.log_likelihood(THETAS, FLUX, ERROR)
    cov = model.log_likelihood(THETAS, FLUX, None, covariance=np.diag(ERROR**2))
    np.testing.assert_allclose(cov, diag, rtol=1e-10)


def test_full_covariance_likelihood_is_a_multivariate_normal_logpdf():
    model = LineFluxModel(FIT_LINES, nii_ha=0.11)
    rng = np.random.default_rng(4)
    a = rng.normal(size=(6, 6)) * 0.1
    cov = np.diag(ERROR**2) + a @ a.T
    got = model.log_likelihood(THETAS, FLUX, None, covariance=cov)
    for theta, value in zip(THETAS, got):
        mu, sig = hand_expected(theta[0], theta[1], 10 ** theta[2], 0.11)
        want = stats.multivariate_normal.logpdf(FLUX, mu, cov + np.diag(sig**2)) + 3 * np.log(
            2 * np.pi
        )
        assert value == pytest.approx(want, rel=1e-9)


def test_priors_box():
    model = LineFluxModel(FIT_LINES)  # oh12 [7, 9.3], A_V [0, 4], f_Hb [1e-3, 100]
    inside = np.array([[8.3, 1.0, 0.0], [7.0, 0.0, -3.0], [9.3, 4.0, 2.0]])
    outside = np.array(
        [
            [6.99, 1.0, 0.0],
            [9.31, 1.0, 0.0],
            [8.3, -0.01, 0.0],
            [8.3, 4.01, 0.0],
            [8.3, 1.0, -3.01],
            [8.3, 1.0, 2.01],
        ]
    )
    assert np.all(model.log_prior(inside) == 0.0)
    assert np.all(np.isfinite(model.log_posterior(inside, FLUX, ERROR)))
    assert np.all(model.log_prior(outside) == -np.inf)
    assert np.all(model.log_posterior(outside, FLUX, ERROR) == -np.inf)


def test_inference_settings_validation():
    with pytest.raises(InputError, match="hbeta_prior"):
        InferenceSettings(hbeta_prior=(0.0, 100.0))
    with pytest.raises(InputError, match="hbeta_prior"):
        InferenceSettings(hbeta_prior=(-1.0, 100.0))
    with pytest.raises(InputError, match="nii_ha_prior"):
        InferenceSettings(nii_ha_prior=(0.0, 0.5))
    with pytest.raises(InputError, match="chi_square"):
        InferenceSettings(likelihood="chi_square")
    with pytest.raises(InputError, match="chi_square"):
        InferenceSettings.from_config({"likelihood": "chi_square"})


# --------------------------------------------------------------------------------- limit rule


def test_posterior_piled_at_zero_dust_is_an_upper_limit_at_the_84th_percentile():
    model = LineFluxModel(FIT_LINES)
    rng = np.random.default_rng(0)
    n = 20000
    samples = np.column_stack(
        [rng.normal(8.3, 0.1, n), np.abs(rng.normal(0, 0.15, n)), rng.normal(0.5, 0.05, n)]
    )
    summary = summarize(model, samples, derived_samples(model, samples, 1.5))
    assert summary["av"]["limit"] == "<"
    assert summary["av"]["value"] == pytest.approx(np.percentile(samples[:, 1], 84), rel=1e-12)
    assert summary["oh12"]["limit"] == ""
    assert summary["oh12"]["value"] == pytest.approx(np.median(samples[:, 0]), rel=1e-12)
    assert summary["sfr"]["limit"] == "" and summary["hbeta"]["limit"] == ""


def test_well_measured_posterior_is_no_limit_and_bounds_give_both_kinds():
    model = LineFluxModel(FIT_LINES)
    rng = np.random.default_rng(1)
    n = 20000
    samples = np.column_stack(
        [rng.normal(8.3, 0.1, n), rng.normal(1.5, 0.1, n), rng.normal(0.5, 0.05, n)]
    )
    summary = summarize(model, samples, derived_samples(model, samples, 1.5))
    assert all(summary[k]["limit"] == "" for k in ("oh12", "av", "hbeta", "sfr"))
    assert summary["av"]["value"] == pytest.approx(np.median(samples[:, 1]), rel=1e-12)
    # 12+log(O/H) against the upper bound 9.3: a lower limit at the 16th percentile; f_Hb at
    # its lower bound: an upper limit that the SFR follows
    samples[:, 0] = 9.3 - np.abs(rng.normal(0, 0.05, n))
    samples[:, 2] = -3 + np.abs(rng.normal(0, 0.1, n))
    summary = summarize(model, samples, derived_samples(model, samples, 1.5))
    assert summary["oh12"]["limit"] == ">"
    assert summary["oh12"]["value"] == pytest.approx(np.percentile(samples[:, 0], 16), rel=1e-12)
    assert summary["hbeta"]["limit"] == "<" and summary["sfr"]["limit"] == "<"


# ---------------------------------------------------------------------------------- coverage


def test_credible_intervals_are_calibrated_on_prior_drawn_simulations():
    """N = 1000 cases: the binomial standard error of a 68% coverage is 1.5% (of a 95% one,
    0.7%), so the tolerances of 5% and 2.5% are 3.4 standard errors.

    Truths are drawn from the prior the model uses (here narrowed to 12+log(O/H) in [7.3, 9.0],
    A_V in [0, 2], f_Hb Jeffreys (log-uniform) in [0.3, 30], so that the truth distribution IS
    the prior); fluxes from the model with its intrinsic scatter drawn as Gaussian with
    ``sigma_model = mu ln(10) sigma_R`` -- exactly the density the default "gaussian"
    likelihood assumes (a log-normal scatter would test the first-order approximation as
    well, which perf/coverage_likelihood.py does) -- plus Gaussian measurement noise of fixed
    errors, so that S/N(H-beta) ranges from below 1 to ~60. Averaged over the prior, the
    posterior's 68% interval then contains the truth in 68% of cases whatever the data.

    Sampler: 32 walkers, 1500 steps, 750 burn-in. The autocorrelation time of this posterior is
    ~30-40 steps at 32 walkers, so the burn-in is ~20 tau and the kept chain gives ~700
    effective samples: the percentiles' Monte Carlo error (~0.05 posterior sigma) moves the
    coverage by well under 1%.
    """
    n = 1000
    settings = InferenceSettings(
        oh12_prior=(7.3, 9.0), av_prior=(0.0, 2.0), hbeta_prior=(0.3, 30.0)
    )
    model = LineFluxModel(FIT_LINES, settings)
    rng = np.random.default_rng(20170207)
    truth = np.column_stack(
        [
            rng.uniform(7.3, 9.0, n),
            rng.uniform(0.0, 2.0, n),
            rng.uniform(np.log10(0.3), np.log10(30.0), n),
        ]
    )
    mu, sigma_model = model.expected(truth)
    error = np.tile([0.6, 0.5, 0.5, 0.5, 0.5, 0.6], (n, 1))
    flux = mu + sigma_model * rng.standard_normal(mu.shape) + error * rng.standard_normal(mu.shape)
    fits = fit_fluxes(
        model,
        flux,
        error,
        [("cov", i) for i in range(n)],
        SamplerSettings(n_walkers=32, n_steps=1500, n_burn=750, thin=5, batch_size=n),
        redshift=1.5,
    )
    p = np.array([np.percentile(f.samples, [2.5, 16, 84, 97.5], axis=0) for f in fits])  # (n, 4, 3)
    in68 = np.mean((p[:, 1] <= truth) & (truth <= p[:, 2]), axis=0)
    in95 = np.mean((p[:, 0] <= truth) & (truth <= p[:, 3]), axis=0)
    snr = np.max(flux / error, axis=1)  # of the brightest line
    assert np.mean(snr < 5) > 0.2 and np.mean(snr > 20) > 0.2, np.percentile(snr, [20, 50, 80])
    assert abs(in68[0] - 0.68) < 0.05, in68
    assert abs(in95[0] - 0.95) < 0.025, in95
    assert np.all(np.abs(in68[1:] - 0.68) < 0.05), in68  # A_V and log f_Hb too
