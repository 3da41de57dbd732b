"""Figure 10-like panel of one galaxy's metallicity gradient."""

from types import SimpleNamespace

import numpy as np
from astropy.table import Table

from ohmap.gradients.products import read_radius_map
from ohmap.inference.products.global_fits import read_global_fit
from ohmap.inference.products.spaxel_maps import read_spaxel_maps
from ohmap.logs import log_to_file
from ohmap.report.gradients import plot_gradient

log = log_to_file(snakemake.log[0])
galaxy = snakemake.wildcards.galaxy
maps = read_spaxel_maps(snakemake.input.maps)
radius = read_radius_map(snakemake.input.radius).radius_kpc
gradients = Table.read(snakemake.input.gradient, format="ascii.ecsv")
annuli = Table.read(snakemake.input.annuli, format="ascii.ecsv")
glob = read_global_fit(snakemake.input.global_fit)[0]
fitted = np.asarray(maps["FITTED"], dtype=bool)
spaxels = {"radius": radius[fitted], "p16": maps["OH12_P16"][fitted], "p50": maps["OH12"][fitted],
           "p84": maps["OH12_P84"][fitted]}
names = {"individual_spaxel": "spaxels", "radial_annulus": "annuli"}
fits = {names[r["method"]]: (SimpleNamespace(slope=r["slope"], intercept=r["intercept"], slope_err=r["slope_err"])
                             if np.isfinite(r["slope"]) else None) for r in gradients}
kept = bool(gradients["kept"][0])
plot_gradient(maps, radius, spaxels, fits, (glob["oh12_p16"], glob["oh12_p50"], glob["oh12_p84"]),
              snakemake.output[0], pixel_arcsec=float(maps["header"]["PIXSCALE"]),
              annuli={"radius": annuli["r_mean"], "p16": annuli["oh12_p16"], "p50": annuli["oh12_p50"],
                      "p84": annuli["oh12_p84"]},
              title=f"{galaxy}: metallicity gradient" + ("" if kept else " (too few spaxels: not in the sample)"))
log.info("wrote %s", snakemake.output[0])
