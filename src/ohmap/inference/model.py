"""Bayesian inference of metallicity, nebular dust and star formation from line fluxes.

Wang et al. (2017), Sect. 4.4. The parameters are the gas-phase metallicity 12+log(O/H), the
nebular extinction A_V (mag) and the intrinsic (dust-corrected) H-beta flux f_Hb
(1e-17 erg/s/cm^2); the "extended" set adds [NII]/H-alpha. The expected flux of each line is

    mu_i = R_i(12+log(O/H)) * f_Hb * 10**(-0.4 A_V k(lambda_i)),

with ``R_i`` its ratio to H-beta from the calibration registry (:mod:`ohmap.inference.calibrations`;
[SII] is calibrated against H-alpha and carried through H-alpha = 2.86 H-beta), ``k`` the
Cardelli et al. (1989) curve with R_V = 3.1 (:mod:`ohmap.inference.nebular`), and the observed "H-alpha"
the blend H-alpha (1 + [NII]/H-alpha). Each calibrated ratio scatters intrinsically by
``sigma_R`` dex about its curve, which enters the likelihood in linear flux units as
``mu_i ln(10) sigma_R`` (first order in sigma_R).

Likelihood (Eq. 2). With ``V_i = sigma_obs,i^2 + (mu_i ln 10 sigma_R,i)^2``:

* ``"gaussian"`` (default): ``ln L = -1/2 sum [(f_i - mu_i)^2 / V_i + ln V_i]``. Because
  ``V_i`` depends on the parameters through ``mu_i``, the normalisation term is part of the
  likelihood; without it the fit prefers large model variances (bright, dusty solutions).
* ``"paper_chi2"``: Eq. 2 read literally, ``ln L = -chi^2 / 2`` without the ``ln V`` term.

With a covariance matrix of the observed fluxes (jointly de-blended lines are correlated), the
same with ``V = C_obs + diag(model variance)`` and ``ln det V``.

Priors (Table 3): 12+log(O/H) flat on [7.0, 9.3], A_V flat on [0, 4], f_Hb Jeffreys on
[lower, 100] and [NII]/H-alpha Jeffreys on [lower, 0.5], with explicit lower bounds (a Jeffreys
prior down to 0 is improper). The sampler works in log10 f_Hb and log10 [NII]/H-alpha, in which
the Jeffreys priors are flat.

Everything is vectorised: parameter arrays have shape ``(..., n_parameters)`` and fluxes
``(..., n_lines)``, broadcast against each other, so that many spaxels and walkers are
evaluated in one call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ohmap import lines as L
from ohmap.errors import InputError
from ohmap.lines import FIT_LINES

from .calibrations import get_calibration
from .nebular import extinction_curve
from .settings import InferenceSettings

_LN10 = np.log(10.0)


@dataclass
class ObservedFluxes:
    """Observed fluxes prepared once for many likelihood calls: lines left out (flux not
    finite, error not finite or not positive) get zero weight in ``use``."""

    flux: np.ndarray
    variance: np.ndarray
    use: np.ndarray

    @classmethod
    def of(cls, flux, error) -> "ObservedFluxes":
        flux = np.asarray(flux, dtype=float)
        error = np.asarray(error, dtype=float)
        use = np.isfinite(flux) & np.isfinite(error) & (error > 0)
        return cls(np.where(use, flux, 0.0), np.where(use, error, 1.0) ** 2, use.astype(float))


class LineFluxModel:
    """Expected line fluxes and the posterior of one set of observed lines.

    Parameters
    ----------
    lines : sequence of str
        Observed lines, a subset of :data:`~ohmap.lines.FIT_LINES`, in the order of the flux vectors.
    settings : InferenceSettings
    nii_ha : float, optional
        [NII]/H-alpha of the vanilla set (the sample sheet's value); default
        ``settings.nii_ha_vanilla``. Ignored by the extended set, which fits it.

    Attributes
    ----------
    names : tuple of str
        Sampled parameters: ``oh12``, ``av``, ``log_hbeta`` (log10 of the intrinsic H-beta flux in
        1e-17 erg/s/cm^2) and, extended, ``log_nii_ha``.
    lower, upper : ndarray
        Prior bounds in those coordinates.
    """

    def __init__(
        self, lines, settings: InferenceSettings | None = None, nii_ha: float | None = None
    ):
        self.settings = settings or InferenceSettings()
        self.lines = tuple(lines)
        unknown = [n for n in self.lines if n not in FIT_LINES]
        if unknown:
            raise InputError(
                "line list", f"unknown line(s) {', '.join(unknown)}; known: {', '.join(FIT_LINES)}"
            )
        s = self.settings
        self.calibration = get_calibration(s.calibration)
        self.extended = s.parameters == "extended"
        self.nii_ha = float(
            s.nii_ha_vanilla if nii_ha is None or not np.isfinite(nii_ha) else nii_ha
        )
        self.names = ("oh12", "av", "log_hbeta") + (("log_nii_ha",) if self.extended else ())
        bounds = [s.oh12_prior, s.av_prior, np.log10(s.hbeta_prior)]
        if self.extended:
            bounds.append(np.log10(s.nii_ha_prior))
        self.lower = np.array([b[0] for b in bounds], dtype=float)
        self.upper = np.array([b[1] for b in bounds], dtype=float)
        self.k = extinction_curve([L.LINES_BY_NAME[n].wavelength for n in self.lines], s.rv)
        self.scatter = np.array([self._scatter_dex(n) for n in self.lines])
        self._ha_ratio = 10 ** self.calibration.log_ratio("Ha", 0.0)
        self._coefficients = _log_ratio_coefficients(self.calibration, self.lines, self._ha_ratio)
        self._is_ha = np.array([n == "Ha" for n in self.lines])
        self._log_scatter_factor = _LN10 * self.scatter

    @property
    def ndim(self) -> int:
        return len(self.names)

    def _scatter_dex(self, line: str) -> float:
        if line in self.settings.scatter_dex:
            return float(self.settings.scatter_dex[line])
        if line == "Hb":
            return 0.0
        return self.calibration.ratios[line].scatter_dex

    def ratios_to_hbeta(self, oh12, nii_ha):
        """Intrinsic flux of each observed line relative to H-beta, shape ``(..., n_lines)``
        (H-alpha as the blend with [NII])."""
        oh12 = np.asarray(oh12, dtype=float)
        out = []
        for line in self.lines:
            if line == "Hb":
                out.append(np.ones_like(oh12))
            elif line == "Ha":
                out.append(self._ha_ratio * (1.0 + nii_ha) * np.ones_like(oh12))
            else:
                ratio = self.calibration.ratios[line]
                r = 10 ** self.calibration.log_ratio(line, oh12)
                if ratio.denominator == "Ha":
                    r = r * self._ha_ratio
                out.append(r)
        return np.stack(out, axis=-1)

    def unpack(self, theta):
        """(oh12, av, intrinsic H-beta flux, [NII]/H-alpha) from sampled coordinates."""
        theta = np.asarray(theta, dtype=float)
        nii = 10 ** theta[..., 3] if self.extended else np.full(theta.shape[:-1], self.nii_ha)
        return theta[..., 0], theta[..., 1], 10 ** theta[..., 2], nii

    def expected(self, theta):
        """Expected observed fluxes ``mu`` and their intrinsic-scatter 1-sigma (both
        1e-17 erg/s/cm^2), each of shape ``(..., n_lines)``."""
        theta = np.asarray(theta, dtype=float)
        x = theta[..., :1] - self.calibration.x_offset
        # Horner's rule, element by element: no BLAS call, whose summation order could depend
        # on how many objects are evaluated together (results must not depend on the batch).
        log_mu = np.broadcast_to(self._coefficients[-1], x.shape[:-1] + (len(self.lines),))
        for c in self._coefficients[-2::-1]:
            log_mu = log_mu * x + c
        log_mu = log_mu + theta[..., 2:3] - 0.4 * theta[..., 1:2] * self.k
        if self._is_ha.any():
            nii = 10 ** theta[..., 3:4] if self.extended else self.nii_ha
            log_mu = log_mu + np.where(self._is_ha, np.log10(1.0 + nii), 0.0)
        mu = 10**log_mu
        return mu, mu * self._log_scatter_factor

    def in_prior(self, theta):
        theta = np.asarray(theta, dtype=float)
        return np.all((theta >= self.lower) & (theta <= self.upper), axis=-1)

    def log_prior(self, theta):
        """0 inside the prior box, -inf outside (flat in the sampled coordinates)."""
        return np.where(self.in_prior(theta), 0.0, -np.inf)

    def log_likelihood(self, theta, flux, error, covariance=None):
        """ln L of observed fluxes (``(..., n_lines)``, 1e-17 erg/s/cm^2) at ``theta``.

        A line whose flux or error is not finite, or whose error is not positive, is left out
        (for that object only). ``covariance`` (``(n_lines, n_lines)``, one object) replaces
        the diagonal ``error**2`` by the full matrix.
        """
        mu, sigma_model = self.expected(theta)
        if covariance is not None:
            return _covariance_log_likelihood(
                mu, sigma_model, flux, covariance, self.settings.likelihood == "gaussian"
            )
        obs = flux if isinstance(flux, ObservedFluxes) else ObservedFluxes.of(flux, error)
        var = obs.variance + sigma_model**2
        terms = (obs.flux - mu) ** 2 / var
        if self.settings.likelihood == "gaussian":
            terms = terms + np.log(var)
        terms = terms * obs.use
        # Summed line by line in a fixed order (see expected()).
        total = terms[..., 0]
        for j in range(1, terms.shape[-1]):
            total = total + terms[..., j]
        return -0.5 * total

    def log_posterior(self, theta, flux, error=None, covariance=None):
        """ln prior + ln likelihood (up to a constant); -inf outside the prior. ``flux`` may
        be an :class:`ObservedFluxes` (then ``error`` is not used)."""
        theta = np.asarray(theta, dtype=float)
        inside = self.in_prior(theta)
        safe = np.where(inside[..., None], theta, 0.5 * (self.lower + self.upper))
        return np.where(inside, self.log_likelihood(safe, flux, error, covariance), -np.inf)

    def initial_guess(self, flux, error, rng, n_walkers: int):
        """Walker starting points for one object, shape ``(n_walkers, ndim)``, inside the prior.

        12+log(O/H) is drawn over the whole prior range (the calibrations are double-valued, so
        every branch gets walkers), A_V over its lower half, and log f_Hb around the value the
        brightest detected line implies at A_V = 0.5 and 12+log(O/H) = 8.3 (+- 0.5 dex).
        """
        flux = np.asarray(flux, dtype=float)
        error = np.asarray(error, dtype=float)
        ok = np.isfinite(flux) & np.isfinite(error) & (error > 0)
        guess = 0.0
        if ok.any():
            mu, _ = self.expected(
                np.array([8.3, 0.5, 0.0] + ([np.log10(self.nii_ha)] if self.extended else []))
            )
            snr = np.where(ok, flux / np.where(ok, error, 1.0), -np.inf)
            best = int(np.argmax(snr))
            if flux[best] > 0:
                guess = np.log10(flux[best] / mu[best])
        p = np.empty((n_walkers, self.ndim))
        p[:, 0] = rng.uniform(self.lower[0], self.upper[0], n_walkers)
        p[:, 1] = rng.uniform(self.lower[1], 0.5 * (self.lower[1] + self.upper[1]), n_walkers)
        p[:, 2] = guess + rng.uniform(-0.5, 0.5, n_walkers)
        if self.extended:
            p[:, 3] = rng.uniform(self.lower[3], self.upper[3], n_walkers)
        margin = 1e-6 * (self.upper - self.lower)
        return np.clip(p, self.lower + margin, self.upper - margin)


def _log_ratio_coefficients(calibration, lines, ha_ratio: float) -> np.ndarray:
    """log10 R_i(x) of all ``lines`` as one polynomial coefficient matrix ``(degree, n_lines)``
    (lowest power first); the denominator H-alpha's constant is folded into [SII]'s row."""
    degree = (
        max(len(calibration.ratios[n].coefficients) for n in lines if n != "Hb")
        if any(n != "Hb" for n in lines)
        else 1
    )
    coefficients = np.zeros((degree, len(lines)))
    for j, line in enumerate(lines):
        if line == "Hb":
            continue
        ratio = calibration.ratios[line]
        coefficients[: len(ratio.coefficients), j] = ratio.coefficients
        if ratio.denominator == "Ha":
            coefficients[0, j] += np.log10(ha_ratio)
    return coefficients


def _covariance_log_likelihood(mu, sigma_model, flux, covariance, gaussian: bool):
    """ln L with a full covariance of the observed fluxes plus the model's intrinsic scatter on
    the diagonal (one object; lines with non-finite flux or variance left out)."""
    flux = np.asarray(flux, dtype=float)
    cov = np.asarray(covariance, dtype=float)
    use = np.isfinite(flux) & np.isfinite(np.diag(cov)) & (np.diag(cov) > 0)
    idx = np.flatnonzero(use)
    v = cov[np.ix_(idx, idx)] + np.einsum(
        "...i,ij->...ij", sigma_model[..., idx] ** 2, np.eye(idx.size)
    )
    r = flux[idx] - mu[..., idx]
    sol = np.linalg.solve(v, r[..., None])[..., 0]
    out = -0.5 * np.sum(r * sol, axis=-1)
    if gaussian:
        out = out - 0.5 * np.linalg.slogdet(v)[1]
    return out
