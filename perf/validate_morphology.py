"""Source-plane morphology of the mock galaxies against the mock's truth.

Run from the repository root after the mock exists (``results/mock``)::

    OPENBLAS_NUM_THREADS=1 python perf/validate_morphology.py [--mock results/mock]
        [--threshold 0.05] [--image mstar|f160w] [--psf-fwhm 0.0]

For each of the mock galaxies, fits the stellar-mass map (``images/<id>_mstar.fits``) with
:func:`ohmap.gradients.morphology.fit_source_morphology` through the galaxy's lens model and prints:

* the fitted centroid offset (arcsec; the truth is (0, 0): the source-plane position of the
  galaxy's catalogue RA/Dec), axis ratio q, major-axis PA and thin-disk inclination, with
  1-sigma uncertainties, against the truth (``truth/galaxies.ecsv``);
* pass/fail of the done-when criteria for galaxies with true q < 0.8: centre within 0.1",
  |dq| < 0.1, |dPA| < 10 deg (mod 180);
* the deprojected-radius map in the reference frame (``FRAMEPA``, ``PIXSCALE`` and shape of
  ``truth/<id>_truth.fits``) against its ``RADIUS_KPC`` extension: median and 95th-percentile
  |difference| over pixels with a true radius < 5 kpc, both for the mean radius over 3x3
  sub-pixels (as the truth is made) and for the radius at the pixel centre.

``--image f160w --psf-fwhm 0.14`` instead fits the PSF-convolved, noisy F160W stamp with the
PSF forward-modelled (a check of the PSF option; the mass maps of the mock are PSF-free).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS

from ohmap.gradients.lensing import LensModel
from ohmap.gradients.morphology import fit_source_morphology
from ohmap.gradients.radius import radius_map


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mock", type=Path, default=Path("results/mock"))
    parser.add_argument("--threshold", type=float, default=0.05)
    parser.add_argument("--image", choices=("mstar", "f160w"), default="mstar")
    parser.add_argument("--psf-fwhm", type=float, default=0.0)
    parser.add_argument("--z-lens", type=float, default=0.544)
    args = parser.parse_args(argv)

    truth = Table.read(args.mock / "truth" / "galaxies.ecsv", format="ascii.ecsv")
    lenses = {}
    n_checked = n_pass = 0
    header = (
        f"{'id':5} {'lens':9} {'q_true':>6} {'q_fit':>13} {'PA_true':>7} {'PA_fit':>12} "
        f"{'dPA':>6} {'i_true':>6} {'i_fit':>11} {'centre (arcsec) x, y':>27} {'npix':>5} "
        f"{'crit':>5} | {'R: med/p95 |dR| kpc (3x3)':>26} {'(centre)':>12}"
    )
    print(
        f"source-plane morphology of {args.image} maps, threshold {args.threshold:g} of peak, "
        f'PSF FWHM {args.psf_fwhm:g}"'
    )
    print(header)
    t_start = time.perf_counter()
    for row in truth:
        gid = str(row["galaxy_id"])
        name = str(row["lens_model"])
        if name not in lenses:
            prefix = args.mock / "lens_models" / f"hlsp_frontier_model_macs1149_{name}"
            lenses[name] = LensModel.from_hff(prefix, z_lens=args.z_lens, name=name)
        lens = lenses[name]
        z = float(row["redshift"])
        ra, dec = float(row["ra_deg"]), float(row["dec_deg"])
        path = args.mock / "images" / f"{gid}_{args.image}.fits"
        with fits.open(path) as hdul:
            data = np.asarray(hdul[0].data, dtype=float)
            wcs = WCS(hdul[0].header)
        m = fit_source_morphology(
            data,
            wcs,
            lens,
            z,
            ra,
            dec,
            threshold=args.threshold,
            psf_fwhm_arcsec=args.psf_fwhm,
            galaxy=gid,
            source=path,
        )
        q_true = float(row["axis_ratio"])
        pa_true = float(row["major_axis_pa_deg"])
        i_true = float(row["inclination_deg"])
        dpa = (m.pa_deg - pa_true + 90.0) % 180.0 - 90.0
        centre = float(np.hypot(m.x0, m.y0))
        if q_true < 0.8:
            ok = centre < 0.1 and abs(m.axis_ratio - q_true) < 0.1 and abs(dpa) < 10.0
            n_checked += 1
            n_pass += ok
            crit = "PASS" if ok else "FAIL"
        else:
            crit = "n/a"

        with fits.open(args.mock / "truth" / f"{gid}_truth.fits") as hdul:
            true_r = np.asarray(hdul["RADIUS_KPC"].data, dtype=float)
            frame_pa = float(hdul[0].header["FRAMEPA"])
            pixel = float(hdul[0].header["PIXSCALE"])
        inner = true_r < 5.0
        stats = []
        for ss in (3, 1):
            rmap = radius_map(lens, z, ra, dec, frame_pa, pixel, true_r.shape, m, supersample=ss)
            diff = np.abs(rmap.radius_kpc[inner] - true_r[inner])
            stats.append((np.median(diff), np.percentile(diff, 95)))

        print(
            f"{gid:5} {name:9} {q_true:6.2f} {m.axis_ratio:6.3f}±{m.axis_ratio_err:5.3f} "
            f"{pa_true:7.1f} {m.pa_deg:6.1f}±{m.pa_err_deg:4.1f} {dpa:+6.2f} {i_true:6.1f} "
            f"{m.inclination_deg:5.1f}±{m.inclination_err_deg:4.1f} "
            f"{m.x0:+.4f}±{m.x0_err:.4f},{m.y0:+.4f}±{m.y0_err:.4f} {m.n_pixels:5d} "
            f"{crit:>5} | {stats[0][0]:10.4f} / {stats[0][1]:6.4f} ({inner.sum():4d} px)"
            f" {stats[1][0]:5.3f}/{stats[1][1]:5.3f}"
        )
    print(
        f'done-when (q < 0.8: centre < 0.1", |dq| < 0.1, |dPA| < 10 deg): {n_pass} of '
        f"{n_checked} galaxies pass; {time.perf_counter() - t_start:.1f} s in all"
    )
    return 0 if n_pass == n_checked else 1


if __name__ == "__main__":
    raise SystemExit(main())
