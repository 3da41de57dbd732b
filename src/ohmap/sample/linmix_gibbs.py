"""The Gibbs sampler of Kelly (2007), Sect. 6.1: one sweep (steps 2 to 13 of
:mod:`ohmap.sample.linmix`) for all chains at once, as ``(n_chains, N)`` arrays.
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_ndtr, ndtri_exp


def _trunc_upper(mean, sd, upper, u):
    """Draws of N(mean, sd^2) truncated to ``<= upper`` by inverting the CDF (u in (0, 1])."""
    a = (upper - mean) / sd
    z = ndtri_exp(log_ndtr(a) + np.log(u))
    return mean + sd * np.minimum(z, a)


class _Randoms:
    """Per-chain random numbers drawn in blocks of sweeps from each chain's own generator."""

    def __init__(self, gens, n, K, n_unif):
        self.gens, self.n, self.K = gens, n, K
        self.n_norm = 2 * n + K + 3
        self.n_unif = n_unif
        self.block = int(np.clip(400_000 // (len(gens) * (self.n_norm + n_unif)), 16, 1000))
        self.pos = self.block

    def next(self):
        if self.pos == self.block:
            self._refill()
        j = self.pos
        self.pos += 1
        return (
            self.norm[j],
            self.unif[j] if self.n_unif else None,
            self.chi_sig[j],
            self.chi_u[j],
            self.gam_w[j],
            self.chi_tau[j] if self.K == 1 else None,
        )

    def _refill(self):
        b, n, K = self.block, self.n, self.K
        norm, unif, chi_sig, chi_u, gam_w, chi_tau = [], [], [], [], [], []
        for g in self.gens:
            norm.append(g.standard_normal((b, self.n_norm)))
            unif.append(1.0 - g.random((b, self.n_unif)))
            chi_sig.append(g.chisquare(n - 2, b))
            chi_u.append(g.chisquare(K + 1, b))
            gam_w.append(g.gamma(0.5 * (K + 3), size=b))
            if K == 1:
                chi_tau.append(g.chisquare(n + 1, b))
        self.norm = np.stack(norm, axis=1)
        self.unif = np.stack(unif, axis=1)
        self.chi_sig = np.stack(chi_sig, axis=1)
        self.chi_u = np.stack(chi_u, axis=1)
        self.gam_w = np.stack(gam_w, axis=1)
        if K == 1:
            self.chi_tau = np.stack(chi_tau, axis=1)
        self.pos = 0


class GibbsSampler:
    """State of all chains and one Gibbs sweep (Kelly 2007, Sect. 6.1)."""

    def __init__(self, data, K, gens):
        self.d, self.K, self.gens = data, K, gens
        C, n = len(gens), data.n
        self.C = C
        self.cidx = np.arange(C)[:, None]
        self.karange = np.arange(K)
        n_unif = data.cens_y.size + data.cens_eta.size + (n if K > 1 else 0)
        self.rand = _Randoms(gens, n, K, n_unif)
        self._start()

    # step 1: dispersed starting values
    def _start(self):
        d, K, C, n = self.d, self.K, self.C, self.d.n
        x, y = d.x, d.y
        vx_obs, vy_obs = x.var(), y.var()
        msx2, msy2 = d.sx2.mean(), d.sy2.mean()
        vx = max(vx_obs - msx2, 0.1 * vx_obs, 1e-3 * msx2, 1e-300)
        cxy = np.mean((x - x.mean()) * (y - y.mean())) - d.sxy.mean()
        beta_m = cxy / vx
        s2_m = max(vy_obs - msy2 - beta_m * cxy, 0.05 * vy_obs, 1e-3 * msy2, 1e-300)
        se_beta = np.sqrt((s2_m + msy2 + beta_m**2 * msx2) / (n * vx))
        se_alpha = np.sqrt((s2_m + msy2) / n)
        self.alpha, self.beta, self.s2 = np.empty(C), np.empty(C), np.empty(C)
        self.mu, self.tau2, self.pi = np.empty((C, K)), np.empty((C, K)), np.empty((C, K))
        self.mu0, self.u2, self.w2 = np.empty(C), np.empty(C), np.empty(C)
        self.G = np.zeros((C, n), dtype=np.intp)
        for c, g in enumerate(self.gens):
            z = g.standard_normal(5)
            self.beta[c] = beta_m + 2.0 * se_beta * z[0]
            self.alpha[c] = y.mean() - self.beta[c] * x.mean() + 2.0 * se_alpha * z[1]
            self.s2[c] = s2_m * np.exp(0.5 * z[2])
            self.mu0[c] = x.mean() + np.sqrt(vx / n) * z[3]
            if K == 1:
                self.mu[c] = self.mu0[c]
                self.pi[c] = 1.0
            else:
                self.mu[c] = g.choice(x, K, replace=K > n)
                self.pi[c] = g.dirichlet(np.ones(K))
                self.G[c] = g.integers(K, size=n)
            self.tau2[c] = vx / K * np.exp(0.5 * z[4])
            self.u2[c] = vx
            self.w2[c] = vx
        self.xi = np.tile(x, (C, 1))
        self.eta = np.tile(y, (C, 1))
        self.ycur = np.tile(y, (C, 1))  # measured y; censored entries are re-drawn

    def sweep(self):
        d, K, n = self.d, self.K, self.d.n
        z, u, chi_sig, chi_u, gam_w, chi_tau = self.rand.next()
        alpha, beta, s2 = self.alpha[:, None], self.beta[:, None], self.s2[:, None]
        nc_y, nc_eta = d.cens_y.size, d.cens_eta.size

        # 2. censored measured y: truncated conditional given xi, eta (Sect. 5.1)
        if nc_y:
            idx = d.cens_y
            mean = self.eta[:, idx]
            if d.correlated:
                mean = mean + d.dcoef[idx] * (d.x[idx] - self.xi[:, idx])
            self.ycur[:, idx] = _trunc_upper(mean, d.sd_cens_y, d.y[idx], u[:, :nc_y])

        # 3. xi
        if K == 1:
            mu_g, tau2_g = self.mu, self.tau2
        else:
            mu_g, tau2_g = self.mu[self.cidx, self.G], self.tau2[self.cidx, self.G]
        xm = d.x - d.ccoef * (self.ycur - self.eta) if d.correlated else d.x
        prec = d.inv_v + beta * beta / s2 + 1.0 / tau2_g
        num = xm * d.inv_v + beta * (self.eta - alpha) / s2 + mu_g / tau2_g
        xi = num / prec + z[:, :n] / np.sqrt(prec)
        if d.xfix.size:
            xi[:, d.xfix] = d.x[d.xfix]

        # 4. eta
        reg = alpha + beta * xi
        ym = self.ycur - d.dcoef * (d.x - xi) if d.correlated else self.ycur
        prec = d.inv_w + 1.0 / s2
        eta = (ym * d.inv_w + reg / s2) / prec + z[:, n : 2 * n] / np.sqrt(prec)
        if d.yfix.size:
            eta[:, d.yfix] = d.y[d.yfix]
        if nc_eta:
            idx = d.cens_eta
            eta[:, idx] = _trunc_upper(
                reg[:, idx], np.sqrt(s2), d.y[idx], u[:, nc_y : nc_y + nc_eta]
            )
            self.ycur[:, idx] = eta[:, idx]
        self.xi, self.eta = xi, eta

        # 5. alpha, beta | xi, eta, sigma^2 (uniform prior: least-squares normal)
        xbar, ebar = xi.mean(axis=1), eta.mean(axis=1)
        dx = xi - xbar[:, None]
        sxx = np.einsum("ij,ij->i", dx, dx)
        sxe = np.einsum("ij,ij->i", dx, eta)
        s2v = self.s2
        self.beta = sxe / sxx + np.sqrt(s2v / sxx) * z[:, 2 * n]
        self.alpha = ebar - self.beta * xbar + np.sqrt(s2v / n) * z[:, 2 * n + 1]

        # 6. sigma^2 ~ Scaled-Inv-chi2(n - 2, s^2)
        r = eta - self.alpha[:, None] - self.beta[:, None] * xi
        self.s2 = np.maximum(np.einsum("ij,ij->i", r, r) / chi_sig, np.finfo(float).tiny)

        # 7.-10. mixture: labels, weights, means, variances
        z_mu = z[:, 2 * n + 2 : 2 * n + 2 + K]
        if K == 1:
            nk = np.full((self.C, 1), float(n))
            sumx = xi.sum(axis=1, keepdims=True)
            prec = 1.0 / self.u2[:, None] + nk / self.tau2
            self.mu = (
                self.mu0[:, None] / self.u2[:, None] + sumx / self.tau2
            ) / prec + z_mu / np.sqrt(prec)
            res = xi - self.mu
            ss = np.einsum("ij,ij->i", res, res)[:, None]
            self.tau2 = (self.w2[:, None] + ss) / chi_tau[:, None]
        else:
            logq = (np.log(self.pi) - 0.5 * np.log(self.tau2))[:, None, :] - 0.5 * (
                xi[:, :, None] - self.mu[:, None, :]
            ) ** 2 / self.tau2[:, None, :]
            q = np.exp(logq - logq.max(axis=2, keepdims=True))
            cq = np.cumsum(q, axis=2)
            thresh = u[:, nc_y + nc_eta :] * cq[:, :, -1]
            self.G = np.sum(cq[:, :, :-1] < thresh[:, :, None], axis=2)
            onehot = (self.G[:, :, None] == self.karange).astype(float)
            nk = onehot.sum(axis=1)
            sumx = np.einsum("cn,cnk->ck", xi, onehot)
            shapes = np.concatenate([nk + 1.0, 0.5 * (nk + 1.0)], axis=1)
            gam = np.stack([g.gamma(s) for g, s in zip(self.gens, shapes)])
            self.pi = gam[:, :K] / gam[:, :K].sum(axis=1, keepdims=True)
            self.pi = np.maximum(self.pi, np.finfo(float).tiny)
            prec = 1.0 / self.u2[:, None] + nk / self.tau2
            self.mu = (
                self.mu0[:, None] / self.u2[:, None] + sumx / self.tau2
            ) / prec + z_mu / np.sqrt(prec)
            res = xi - self.mu[self.cidx, self.G]
            ss = np.einsum("cn,cnk->ck", res * res, onehot)
            self.tau2 = (self.w2[:, None] + ss) / (2.0 * gam[:, K:])

        # 11.-13. hyper-parameters mu0, u^2, w^2
        self.mu0 = self.mu.mean(axis=1) + np.sqrt(self.u2 / K) * z[:, 2 * n + 2 + K]
        dm = self.mu - self.mu0[:, None]
        self.u2 = (self.w2 + np.einsum("ij,ij->i", dm, dm)) / chi_u
        self.w2 = gam_w * 2.0 / (1.0 / self.u2 + (1.0 / self.tau2).sum(axis=1))

    def record(self) -> dict:
        xi_mean = np.einsum("ij,ij->i", self.pi, self.mu)
        xi_var = np.maximum(
            np.einsum("ij,ij->i", self.pi, self.tau2 + self.mu**2) - xi_mean**2, 0.0
        )
        sigma = np.sqrt(self.s2)
        corr = self.beta * np.sqrt(xi_var) / np.sqrt(self.beta**2 * xi_var + self.s2)
        return dict(
            alpha=self.alpha,
            beta=self.beta,
            sigma=sigma,
            corr=corr,
            xi_mean=xi_mean,
            xi_sd=np.sqrt(xi_var),
            mu0=self.mu0,
            usqr=self.u2,
            wsqr=self.w2,
            pi=self.pi,
            mu=self.mu,
            tausqr=self.tau2,
        )
