"""Which likelihood gives calibrated credible intervals: "gaussian" (with the ln-variance term,
the default) or "paper_chi2" (Eq. 2 of Wang et al. 2017 read literally, -chi^2/2)?

    OPENBLAS_NUM_THREADS=1 python perf/coverage_likelihood.py [--cases 1000] [--walkers 50]
        [--steps 3000] [--burn 1500] [--scatter gaussian lognormal] [--scatter-dex 0.25]
        [--seed 20170207]

Simulation (as tests/inference/test_inference.py's coverage test): M cases with truths drawn from the prior
the fit uses -- 12+log(O/H) uniform in [7.3, 9.0], A_V uniform in [0, 2], f_Hb log-uniform
(Jeffreys) in [0.3, 30] x 1e-17 erg/s/cm^2 -- and the six lines of
:data:`ohmap.lines.FIT_LINES` from the line-flux model with measurement errors 0.5-0.6, so
that S/N ranges from below 1 to ~100. The intrinsic scatter of the calibrated ratios (the
registry's 0.1 dex, or ``--scatter-dex`` for [OII], [OIII] and [SII] in both the simulation and
the fits) is drawn either

* ``gaussian``: flux = mu + N(0, (mu ln10 sigma_R)^2), exactly the density the likelihoods
  assume (then the "gaussian" likelihood is the true one and must be calibrated), or
* ``lognormal``: flux = mu 10^(N(0, sigma_R^2)), scatter of log R about the curve (the
  physical reading; the likelihood's linear-flux variance is its first-order approximation).

Plus Gaussian measurement noise. The same fluxes are fitted with both likelihoods (batched
engine). With a prior-drawn truth the posterior's 68% (95%) interval must contain the truth in
68% (95%) of cases on average; the table gives, per likelihood and S/N (of the brightest line)
subset, the fraction of cases whose 16-84th (2.5-97.5th) percentile interval of each parameter
contains the truth, the mean (posterior median - truth) and the median 68% width. Binomial
standard errors of the fractions are printed in the header.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from ohmap.inference.fitting import fit_fluxes
from ohmap.inference.model import LineFluxModel
from ohmap.inference.settings import InferenceSettings, SamplerSettings
from ohmap.lines import FIT_LINES

PRIORS = dict(oh12_prior=(7.3, 9.0), av_prior=(0.0, 2.0), hbeta_prior=(0.3, 30.0))
ERRORS = np.array([0.6, 0.5, 0.5, 0.5, 0.5, 0.6])
SNR_BINS = [(0, 5), (5, 20), (20, np.inf)]
CALIBRATED = ("OII", "OIII5008", "SII")


def inference_settings(
    likelihood: str = "gaussian", scatter_dex: float | None = None
) -> InferenceSettings:
    override = {} if scatter_dex is None else {line: scatter_dex for line in CALIBRATED}
    return InferenceSettings(likelihood=likelihood, scatter_dex=override, **PRIORS)


def simulate(m: int, scatter: str, seed: int, scatter_dex: float | None = None):
    model = LineFluxModel(FIT_LINES, inference_settings(scatter_dex=scatter_dex))
    rng = np.random.default_rng(seed)
    truth = np.column_stack(
        [
            rng.uniform(*PRIORS["oh12_prior"], m),
            rng.uniform(*PRIORS["av_prior"], m),
            rng.uniform(*np.log10(PRIORS["hbeta_prior"]), m),
        ]
    )
    mu, sigma_model = model.expected(truth)
    z = rng.standard_normal(mu.shape)
    if scatter == "gaussian":
        intrinsic = mu + sigma_model * z
    elif scatter == "lognormal":
        intrinsic = mu * 10 ** (model.scatter * z)
    else:
        raise ValueError(f"unknown scatter {scatter!r}")
    error = np.tile(ERRORS, (m, 1))
    return truth, intrinsic + error * rng.standard_normal(mu.shape), error


def fit(likelihood: str, flux, error, sampler: SamplerSettings, scatter_dex: float | None = None):
    model = LineFluxModel(FIT_LINES, inference_settings(likelihood, scatter_dex))
    fits = fit_fluxes(
        model, flux, error, [("c", i) for i in range(len(flux))], sampler, redshift=1.5
    )
    p = np.array(
        [np.percentile(f.samples, [2.5, 16, 50, 84, 97.5], axis=0) for f in fits]
    )  # (m, 5, 3)
    return p, np.mean([f.converged for f in fits])


def table(p, truth, subset):
    cols = []
    for k in range(truth.shape[1]):
        t = truth[subset, k]
        q = p[subset, :, k]
        cols += [
            np.mean((q[:, 1] <= t) & (t <= q[:, 3])),
            np.mean((q[:, 0] <= t) & (t <= q[:, 4])),
            np.mean(q[:, 2] - t),
            np.median(q[:, 3] - q[:, 1]),
        ]
    return cols


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--walkers", type=int, default=50)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--burn", type=int, default=1500)
    parser.add_argument("--batch-size", type=int, default=250)
    parser.add_argument(
        "--scatter", nargs="+", default=["gaussian", "lognormal"], choices=["gaussian", "lognormal"]
    )
    parser.add_argument("--likelihoods", nargs="+", default=["gaussian", "paper_chi2"])
    parser.add_argument(
        "--scatter-dex",
        type=float,
        default=None,
        help="intrinsic scatter (dex) of [OII], [OIII], [SII] (default: the registry's)",
    )
    parser.add_argument("--seed", type=int, default=20170207)
    args = parser.parse_args(argv)
    sampler = SamplerSettings(
        n_walkers=args.walkers,
        n_steps=args.steps,
        n_burn=args.burn,
        thin=5,
        batch_size=args.batch_size,
    )
    m = args.cases
    print(
        f"coverage of credible intervals: M = {m} prior-drawn cases per row 'all'; sampler "
        f"{args.walkers} walkers x {args.steps} steps ({args.burn} burn-in), batched engine; "
        f"intrinsic scatter of [OII], [OIII], [SII]: "
        f"{'registry (0.1 dex)' if args.scatter_dex is None else f'{args.scatter_dex:g} dex'}"
    )
    print(
        f"binomial s.e. at M = {m}: {100 * np.sqrt(0.68 * 0.32 / m):.1f}% (68%), "
        f"{100 * np.sqrt(0.95 * 0.05 / m):.1f}% (95%); in an S/N subset of n cases multiply by sqrt(M/n)"
    )
    names = ("12+log(O/H)", "A_V", "log f_Hb")
    for scatter in args.scatter:
        truth, flux, error = simulate(m, scatter, args.seed, args.scatter_dex)
        snr = np.max(flux / error, axis=1)
        print()
        print(
            f"intrinsic scatter drawn {scatter}; columns per parameter: in 68%, in 95%, mean bias "
            f"(median - truth), median 68% width"
        )
        head = f"{'likelihood':<11}{'S/N':>9}{'n':>6} |" + "|".join(f"{n:^27}" for n in names)
        print(head)
        print("-" * len(head))
        for likelihood in args.likelihoods:
            t0 = time.perf_counter()
            p, converged = fit(likelihood, flux, error, sampler, args.scatter_dex)
            seconds = time.perf_counter() - t0
            subsets = [("all", np.ones(m, bool))] + [
                (f"{lo:g}-{hi:g}" if np.isfinite(hi) else f">={lo:g}", (snr >= lo) & (snr < hi))
                for lo, hi in SNR_BINS
            ]
            for label, subset in subsets:
                c = table(p, truth, subset)
                cells = "|".join(
                    f"{c[4 * k]:>6.3f}{c[4 * k + 1]:>6.3f}{c[4 * k + 2]:>+8.3f}{c[4 * k + 3]:>7.3f}"
                    for k in range(3)
                )
                print(f"{likelihood:<11}{label:>9}{subset.sum():>6} |{cells}")
            print(f"{'':<11}({seconds:.0f} s, converged fraction {converged:.2f})")


if __name__ == "__main__":
    main()
