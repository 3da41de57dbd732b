"""Timing of :func:`ohmap.sample.linmix.linmix` (Kelly 2007 Gibbs sampler) per fit.

    OPENBLAS_NUM_THREADS=1 python perf/bench_linmix.py [--sizes 20,100,1000] [--K 1,3]
                                                       [--min-iterations 5000] [--seed 1]

Data: xi ~ N(0, 1), eta = 1 + 0.5 xi + N(0, 0.3^2), heteroscedastic x and y errors uniform in
[0.1, 0.5] with correlation 0.3, and ~20 % of the y values replaced by upper limits (so every
Gibbs step, the censored draws included, is timed).  Default settings otherwise (4 chains,
Rhat < 1.1 checked every 1000 sweeps after ``--min-iterations``).  Printed per fit: sweeps per
chain to convergence, whether it converged, the wall time and the time per 1000 sweeps of all
chains, and the posterior median and 68 % half-width of beta.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from ohmap.sample.linmix import LinmixSettings, linmix


def simulate(n: int, seed: int):
    rng = np.random.default_rng([seed, n])
    xi = rng.normal(0.0, 1.0, n)
    eta = 1.0 + 0.5 * xi + rng.normal(0.0, 0.3, n)
    xs, ys = rng.uniform(0.1, 0.5, n), rng.uniform(0.1, 0.5, n)
    rho = 0.3
    e1, e2 = rng.standard_normal(n), rng.standard_normal(n)
    x = xi + xs * e1
    y = eta + ys * (rho * e1 + np.sqrt(1 - rho**2) * e2)
    limit = np.quantile(y, 0.2) + 0.1 * rng.standard_normal(n)
    delta = (y > limit).astype(int)
    return x, np.where(delta == 1, y, limit), xs, ys, rho * xs * ys, delta


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sizes", default="20,100,1000")
    ap.add_argument("--K", default="1,3")
    ap.add_argument("--min-iterations", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, {platform.processor() or platform.machine()}"
    )
    print(
        f"{'N':>5} {'K':>2} {'iterations':>10} {'converged':>9} {'seconds':>8} {'s/1000 sweeps':>13}"
        f" {'beta (median +- 68%/2)':>24}"
    )
    for n in (int(v) for v in args.sizes.split(",")):
        data = simulate(n, args.seed)
        for K in (int(v) for v in args.K.split(",")):
            settings = LinmixSettings(K=K, min_iterations=args.min_iterations, seed=args.seed)
            t0 = time.perf_counter()
            result = linmix(*data[:5], delta=data[5], settings=settings)
            seconds = time.perf_counter() - t0
            lo, mid, hi = result.summary(["beta"])["beta"]
            print(
                f"{n:5d} {K:2d} {result.n_iterations:10d} {str(result.converged):>9} {seconds:8.2f}"
                f" {1000 * seconds / result.n_iterations:13.3f} {mid:14.3f} +- {0.5 * (hi - lo):.3f}"
            )


if __name__ == "__main__":
    main()
