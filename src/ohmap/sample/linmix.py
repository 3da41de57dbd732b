"""Linear regression with measurement errors, intrinsic scatter and upper limits (Kelly 2007).

Implements the Bayesian regression of Kelly (2007, ApJ 665, 1489, "Some Aspects of Measurement
Error in Linear Regression of Astronomical Data"), written from the paper's equations:

* Sect. 4 -- the model.  The true quantities obey ``eta_i = alpha + beta xi_i + eps_i`` with
  ``eps_i ~ N(0, sigma^2)``; the measured ``(x_i, y_i)`` are ``(xi_i, eta_i)`` plus Gaussian errors
  of standard deviations ``xsig_i``, ``ysig_i`` and covariance ``xycov_i``.  The distribution of
  ``xi`` is a mixture of ``K`` Gaussians (weights ``pi_k``, means ``mu_k``, variances
  ``tau_k^2``).  Priors (Sect. 4.3): uniform on ``alpha``, ``beta`` and ``sigma^2``;
  ``pi ~ Dirichlet(1, ..., 1)``; the hierarchical prior on the mixture,
  ``mu_k | mu0, u^2 ~ N(mu0, u^2)``, ``tau_k^2 | w^2`` and ``u^2 | w^2 ~ Scaled-Inv-chi^2(1, w^2)``,
  ``mu0`` and ``w^2`` uniform.
* Sect. 5.1 -- non-detections.  ``delta_i = 0`` marks an upper limit: the measured ``y_i`` is
  only known to lie below the reported value.  The censored values are data-augmented: each
  Gibbs sweep draws them from their conditional distribution truncated above at the limit.
* Sect. 6.1 -- the Gibbs sampler (one sweep = steps 2 to 13 below), and the Gelman-Rubin
  potential scale reduction factor over several chains started from dispersed values
  (Gelman et al. 2004), computed on the whole second half of every chain.

One sweep, all chains advanced together as ``(n_chains, N)`` arrays:

2.  censored ``y_i``: ``y_i | x_i, xi_i, eta_i ~ N(eta_i + (xycov_i/xsig_i^2)(x_i - xi_i),
    ysig_i^2 - xycov_i^2/xsig_i^2)`` truncated to ``y_i <= limit_i``;
3.  ``xi_i | ...``: product of the measurement term ``N(x_i - (xycov_i/ysig_i^2)(y_i - eta_i),
    xsig_i^2 - xycov_i^2/ysig_i^2)``, the regression term (precision ``beta^2/sigma^2``, mean
    ``(eta_i - alpha)/beta``) and the prior ``N(mu_{G_i}, tau_{G_i}^2)`` of its class;
4.  ``eta_i | ...``: product of the measurement term ``N(y_i - (xycov_i/xsig_i^2)(x_i - xi_i),
    ysig_i^2 - xycov_i^2/xsig_i^2)`` and ``N(alpha + beta xi_i, sigma^2)``; for an upper limit
    with ``ysig_i = 0`` (``y_i = eta_i``) steps 2 and 4 are one block: ``eta_i`` is drawn from
    ``N(alpha + beta xi_i, sigma^2)`` truncated to ``eta_i <= limit_i``;
5.  ``(alpha, beta) | xi, eta, sigma^2 ~ N(least-squares fit of eta on xi, sigma^2 (X^T X)^-1)``;
6.  ``sigma^2 ~ Scaled-Inv-chi^2(N - 2, s^2)``, ``s^2 = sum(eta - alpha - beta xi)^2 / (N - 2)``;
7.  class labels ``G_i ~ Categorical(q_ik)``, ``q_ik ~ pi_k N(xi_i | mu_k, tau_k^2)``;
8.  ``pi ~ Dirichlet(n_1 + 1, ..., n_K + 1)``;
9.  ``mu_k ~ N(mu_hat_k, v_k)``, ``v_k = 1 / (1/u^2 + n_k/tau_k^2)``,
    ``mu_hat_k = v_k (mu0/u^2 + n_k xibar_k / tau_k^2)``;
10. ``tau_k^2 ~ Scaled-Inv-chi^2(n_k + 1, (w^2 + sum_{G_i=k} (xi_i - mu_k)^2) / (n_k + 1))``;
11. ``mu0 ~ N(mean(mu_k), u^2 / K)``;
12. ``u^2 ~ Scaled-Inv-chi^2(K + 1, (w^2 + sum_k (mu_k - mu0)^2) / (K + 1))``;
13. ``w^2 ~ Gamma(shape (K + 3)/2, rate (1/u^2 + sum_k 1/tau_k^2) / 2)``.

Step 1 (start) uses moment-corrected estimates of ``alpha, beta, sigma^2`` randomly perturbed
per chain, ``xi = x`` and ``eta = y``, random class labels and mixture means drawn from ``x``.

Units are those of ``x`` and ``y``; nothing here assumes any.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np

from .linmix_gibbs import GibbsSampler

__all__ = ["LinmixSettings", "LinmixResult", "linmix", "gelman_rubin"]


#: Parameters whose Gelman-Rubin statistic decides convergence (the mixture components
#: themselves are not identifiable -- label switching -- so only their moments are checked).
RHAT_PARAMETERS = ("alpha", "beta", "sigma", "corr", "xi_mean", "xi_sd")


@dataclass
class LinmixSettings:
    """Settings of :func:`linmix`.

    Attributes
    ----------
    K : int
        Number of Gaussians in the mixture model for the distribution of the independent
        variable (Kelly 2007 uses 3; 1 is a single Gaussian and the fastest).
    n_chains : int
        Number of Markov chains (at least 2, for the Gelman-Rubin statistic).
    min_iterations : int
        Gibbs sweeps per chain before the first convergence check.
    max_iterations : int
        Hard cap on the sweeps per chain; reaching it unconverged returns ``converged=False``.
    rhat_threshold : float
        Convergence when every parameter of :data:`RHAT_PARAMETERS` has ``Rhat`` below this.
    seed : int
        Seed of :class:`numpy.random.SeedSequence`; each chain gets its own spawned stream.
    thin : int
        Keep every ``thin``-th sweep.
    check_every : int
        Sweeps between convergence checks after ``min_iterations``.
    """

    K: int = 3
    n_chains: int = 4
    min_iterations: int = 5000
    max_iterations: int = 100000
    rhat_threshold: float = 1.1
    seed: int = 20170207
    thin: int = 1
    check_every: int = 1000

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first inconsistent setting."""
        for name, low in (
            ("K", 1),
            ("n_chains", 2),
            ("min_iterations", 4),
            ("max_iterations", 4),
            ("thin", 1),
            ("check_every", 1),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(
                    f"LinmixSettings.{name} must be an integer >= {low}, got {value!r}"
                )
        if self.max_iterations < self.min_iterations:
            raise ValueError(
                f"LinmixSettings.max_iterations ({self.max_iterations}) is below "
                f"min_iterations ({self.min_iterations})"
            )
        if not (np.isfinite(self.rhat_threshold) and self.rhat_threshold > 0):
            raise ValueError(
                f"LinmixSettings.rhat_threshold must be a positive number, "
                f"got {self.rhat_threshold!r}"
            )
        if 2 * self.thin > self.min_iterations:
            raise ValueError(
                f"LinmixSettings.thin ({self.thin}) leaves no kept draw after "
                f"{self.min_iterations} iterations"
            )


@dataclass
class LinmixResult:
    """Posterior draws of :func:`linmix`, pooled over the chains (chain after chain).

    Attributes
    ----------
    alpha, beta, sigma : ndarray, shape (n_draws,)
        Intercept, slope and intrinsic scatter (standard deviation) of ``eta = alpha + beta xi``.
    corr : ndarray
        Linear correlation coefficient of ``xi`` and ``eta``,
        ``beta sd(xi) / sqrt(beta^2 var(xi) + sigma^2)``.
    xi_mean, xi_sd : ndarray
        Mean and standard deviation of the mixture distribution of ``xi``.
    mu0, usqr, wsqr : ndarray
        Hyper-parameters of the mixture prior.
    pi, mu, tausqr : ndarray, shape (n_draws, K)
        Mixture weights, means and variances (component labels can switch).
    rhat : dict
        Gelman-Rubin ``Rhat`` of each parameter of :data:`RHAT_PARAMETERS` at the last check.
    converged : bool
        Whether all ``rhat`` values fell below the threshold before ``max_iterations``.
    n_iterations : int
        Gibbs sweeps run per chain (the first half is discarded as burn-in).
    n_chains : int
    message : str
    settings : LinmixSettings
    """

    alpha: np.ndarray
    beta: np.ndarray
    sigma: np.ndarray
    corr: np.ndarray
    xi_mean: np.ndarray
    xi_sd: np.ndarray
    mu0: np.ndarray
    usqr: np.ndarray
    wsqr: np.ndarray
    pi: np.ndarray
    mu: np.ndarray
    tausqr: np.ndarray
    rhat: dict
    converged: bool
    n_iterations: int
    n_chains: int
    message: str = ""
    settings: LinmixSettings = field(default_factory=LinmixSettings)

    @property
    def n_draws(self) -> int:
        """Number of pooled kept draws."""
        return int(self.alpha.size)

    def chains(self, name: str) -> np.ndarray:
        """Kept draws of parameter ``name`` split by chain, shape ``(n_chains, n_per_chain, ...)``."""
        values = getattr(self, name)
        return values.reshape((self.n_chains, -1) + values.shape[1:])

    def summary(self, names=("alpha", "beta", "sigma")) -> dict:
        """16th, 50th and 84th percentiles of the named parameters.

        Returns
        -------
        dict
            ``{name: (p16, p50, p84)}`` for each of ``names`` (default alpha, beta, sigma).
        """
        return {
            name: tuple(float(v) for v in np.percentile(getattr(self, name), [16, 50, 84]))
            for name in names
        }


def gelman_rubin(chains: np.ndarray) -> float:
    """Potential scale reduction factor of Gelman et al. (2004) for ``chains`` of shape (m, n).

    ``Rhat = sqrt(V / W)`` with ``W`` the mean within-chain variance, ``B = n var(chain means)``
    and ``V = (n - 1)/n W + B/n``.
    """
    chains = np.asarray(chains, dtype=float)
    m, n = chains.shape
    if m < 2 or n < 2:
        raise ValueError(f"need at least 2 chains of 2 draws, got shape {chains.shape}")
    within = chains.var(axis=1, ddof=1).mean()
    between = n * chains.mean(axis=1).var(ddof=1)
    if not within > 0:
        return 1.0 if between == 0 else float("inf")
    return float(np.sqrt(((n - 1) / n * within + between / n) / within))


def _vector(name: str, value, n: int | None, default: float = 0.0) -> np.ndarray:
    if value is None:
        return np.full(n, default)
    try:
        a = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric: {exc}") from None
    if a.ndim == 0 and n is not None:
        a = np.full(n, float(a))
    if a.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {a.shape}")
    if n is not None and a.size != n:
        raise ValueError(f"{name} has length {a.size}, expected {n} (the length of x)")
    bad = np.flatnonzero(~np.isfinite(a))
    if bad.size:
        raise ValueError(f"{name}[{bad[0]}] is not finite ({a[bad[0]]!r})")
    return a


def _prepare(x, y, xsig, ysig, xycov, delta) -> SimpleNamespace:
    x = _vector("x", x, None)
    n = x.size
    y = _vector("y", y, n)
    if n < 3:
        raise ValueError(f"need at least 3 data points, got {n}")
    xsig = _vector("xsig", xsig, n)
    ysig = _vector("ysig", ysig, n)
    xycov = _vector("xycov", xycov, n)
    for name, a in (("xsig", xsig), ("ysig", ysig)):
        bad = np.flatnonzero(a < 0)
        if bad.size:
            raise ValueError(f"{name}[{bad[0]}] is negative ({a[bad[0]]!r})")
    sx2, sy2 = xsig**2, ysig**2
    bad = np.flatnonzero(~((xycov == 0) | (xycov**2 < sx2 * sy2)))
    if bad.size:
        i = bad[0]
        raise ValueError(
            f"xycov[{i}] = {xycov[i]!r} is not a valid covariance for xsig = {xsig[i]!r}"
            f" and ysig = {ysig[i]!r}: |xycov| < xsig*ysig is required"
        )
    if delta is None:
        detected = np.ones(n, dtype=bool)
    else:
        d = _vector("delta", delta, n)
        bad = np.flatnonzero((d != 0) & (d != 1))
        if bad.size:
            raise ValueError(
                f"delta[{bad[0]}] = {d[bad[0]]!r}; delta must be 1 (detection) or 0 (upper limit)"
            )
        detected = d == 1
    if detected.sum() < 3:
        raise ValueError(f"need at least 3 detected points (delta == 1), got {int(detected.sum())}")
    if np.ptp(x) == 0 and np.all(xsig == 0):
        raise ValueError("x is constant and has no measurement errors: the slope is undefined")

    # Conditional measurement-error terms (zero variances handled by fixing the value).
    ccoef = np.divide(xycov, sy2, out=np.zeros(n), where=sy2 > 0)  # E[x-xi | y-eta] slope
    v = np.maximum(sx2 - ccoef * xycov, 0.0)  # Var[x-xi | y-eta]
    dcoef = np.divide(xycov, sx2, out=np.zeros(n), where=sx2 > 0)  # E[y-eta | x-xi] slope
    w = np.maximum(sy2 - dcoef * xycov, 0.0)  # Var[y-eta | x-xi]
    xfix, yfix = sx2 == 0, sy2 == 0
    censored = ~detected
    return SimpleNamespace(
        n=n,
        x=x,
        y=y,
        sx2=sx2,
        sy2=sy2,
        sxy=xycov,
        detected=detected,
        ccoef=ccoef,
        dcoef=dcoef,
        correlated=bool(np.any(xycov != 0)),
        inv_v=np.divide(1.0, v, out=np.zeros(n), where=v > 0),
        inv_w=np.divide(1.0, w, out=np.zeros(n), where=w > 0),
        xfix=np.flatnonzero(xfix),
        yfix=np.flatnonzero(yfix & detected),
        cens_y=np.flatnonzero(censored & ~yfix),  # draw the measured y (step 2)
        cens_eta=np.flatnonzero(censored & yfix),  # y = eta: draw eta truncated (step 4)
        sd_cens_y=np.sqrt(w[censored & ~yfix]),
    )


def linmix(
    x, y, xsig=None, ysig=None, xycov=None, delta=None, settings: LinmixSettings | None = None
) -> LinmixResult:
    """Bayesian linear regression with measurement errors (Kelly 2007) by Gibbs sampling.

    Fits ``eta = alpha + beta xi + eps`` with ``eps ~ N(0, sigma^2)``, where ``x`` and ``y``
    measure ``xi`` and ``eta`` with Gaussian errors, modelling the distribution of ``xi`` as a
    mixture of ``settings.K`` Gaussians.

    Parameters
    ----------
    x, y : array_like, shape (N,)
        Measured independent and dependent variables (for ``delta == 0``, ``y`` is the upper
        limit).  ``N >= 3``.
    xsig, ysig : array_like or float, optional
        Standard deviations of the measurement errors (``>= 0``; default 0: no error).
    xycov : array_like or float, optional
        Covariance of the x and y errors of each point (default 0); ``|xycov| < xsig*ysig``.
    delta : array_like of {0, 1}, optional
        1 for a detection, 0 for an upper limit on ``y`` (default: all detected).
    settings : LinmixSettings, optional

    Returns
    -------
    LinmixResult
        Draws from the second half of every chain, pooled.  ``converged`` is False (and a
        ``RuntimeWarning`` is issued) when ``max_iterations`` passed without every ``Rhat``
        falling below ``rhat_threshold``.

    Raises
    ------
    ValueError
        For inconsistent inputs (lengths, non-finite values, negative errors, invalid
        covariances, ``delta`` not 0/1), naming the array and the index of the first bad point.
    """
    settings = LinmixSettings() if settings is None else settings
    settings.validate()
    data = _prepare(x, y, xsig, ysig, xycov, delta)
    gens = [
        np.random.default_rng(s)
        for s in np.random.SeedSequence(settings.seed).spawn(settings.n_chains)
    ]
    gibbs = GibbsSampler(data, settings.K, gens)

    segments: list[dict] = []  # recorded draws, one dict of (n_chains, m) arrays per run
    iters: list[np.ndarray] = []  # sweep number of each recorded draw
    it, next_check, thin = 0, settings.min_iterations, settings.thin
    while True:
        recs = []
        for k in range(it + 1, next_check + 1):
            gibbs.sweep()
            if k % thin == 0:
                recs.append(gibbs.record())
        if recs:
            segments.append({key: np.stack([r[key] for r in recs], axis=1) for key in recs[0]})
            sweeps = np.arange(it + 1, next_check + 1)
            iters.append(sweeps[sweeps % thin == 0])
        it = next_check
        keep = np.concatenate(iters) > it // 2
        trace = {
            key: np.concatenate([s[key] for s in segments], axis=1)[:, keep] for key in segments[0]
        }
        rhat = {p: gelman_rubin(trace[p]) for p in RHAT_PARAMETERS}
        converged = all(r < settings.rhat_threshold for r in rhat.values())
        diverged = not all(np.isfinite(trace[p]).all() for p in ("alpha", "beta", "sigma"))
        if converged or diverged or it >= settings.max_iterations:
            break
        next_check = min(it + settings.check_every, settings.max_iterations)

    if diverged:
        # Too few points for the flat priors: the chains ran off to infinity.
        converged = False
        message = (
            f"diverged after {it} iterations: non-finite draws of the regression parameters "
            f"({np.size(x)} points; the posterior is too broad to sample)"
        )
        warnings.warn(f"linmix {message}", RuntimeWarning, stacklevel=2)
    elif converged:
        message = f"converged after {it} iterations (max Rhat {max(rhat.values()):.3f})"
    else:
        worst = max(rhat, key=rhat.get)
        message = (
            f"not converged: max_iterations={settings.max_iterations} reached with "
            f"Rhat({worst}) = {rhat[worst]:.3f} >= {settings.rhat_threshold}"
        )
        warnings.warn(f"linmix {message}", RuntimeWarning, stacklevel=2)
    pooled = {key: v.reshape((-1,) + v.shape[2:]) for key, v in trace.items()}
    return LinmixResult(
        **pooled,
        rhat=rhat,
        converged=converged,
        n_iterations=it,
        n_chains=settings.n_chains,
        message=message,
        settings=settings,
    )
