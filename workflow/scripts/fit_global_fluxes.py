"""Global fit of one galaxy: its integrated line fluxes -> 12+log(O/H), A_V, SFR."""

from astropy.table import Table

from ohmap.config import inference_settings
from ohmap.gradients.lensing import LensModel
from ohmap.inference.fitting import fit_fluxes, integrated_flux_inputs
from ohmap.inference.model import LineFluxModel
from ohmap.inference.products.global_fits import global_fit_row, write_global_fit
from ohmap.inference.products.shards import write_shard
from ohmap.logs import log_to_file

log = log_to_file(snakemake.log[0])
row = snakemake.params.galaxy_row
galaxy, z = row["galaxy_id"], row["redshift"]
settings = inference_settings({"inference": snakemake.params.settings}, "inference settings")
lens = LensModel.from_hff(snakemake.params.lens_prefix, snakemake.params.z_lens, name=row["lens_model"])
magnification = float(lens.magnification(row["ra_deg"], row["dec_deg"], z))
log.info("galaxy %s at z = %.3f: magnification %.2f from lens model %s", galaxy, z, magnification,
         row["lens_model"])
lines, flux, error, covariance = integrated_flux_inputs(Table.read(snakemake.input.fluxes))
model = LineFluxModel(lines, settings["model"], nii_ha=row["nii_ha"])
for line, f, e in zip(lines, flux, error):
    log.info("  %-9s %9.3f +- %7.3f (1e-17 erg/s/cm2)%s", line, f, e, "" if f == f else "  (left out)")
fit = fit_fluxes(model, flux[None], error[None], [(galaxy, "global")], settings["sampler"], z, magnification,
                 covariances=[covariance], limit_fraction=settings["limit_fraction"])[0]
for name, s in fit.summary.items():
    log.info("%-8s %s%.4g  (16/50/84: %.4g %.4g %.4g)", name, s["limit"], s["value"], s["p16"], s["p50"], s["p84"])
log.info("tau %s steps, acceptance %.2f, converged %s", fit.tau.round(1), fit.acceptance, fit.converged)
n_lines = int((flux == flux).sum())
meta = dict(galaxy=galaxy, redshift=z, magnification=magnification, lens_model=row["lens_model"],
            input=str(snakemake.input.fluxes), inference=settings["model"], sampler=settings["sampler"],
            limit_fraction=settings["limit_fraction"])
write_global_fit(snakemake.output.table, [global_fit_row(galaxy, fit, z, magnification, model, n_lines)], meta)
spaxel = Table({"spaxel": [0], "iy": [0], "ix": [0]})
write_shard(snakemake.output.chain, galaxy, spaxel, [fit], model, meta | {"kind": "global fit"},
            sampler=settings["sampler"])
