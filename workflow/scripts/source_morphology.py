"""Source-plane morphology of one galaxy: its stellar-mass map through its lens model."""

from astropy.io import fits
from astropy.wcs import WCS

from ohmap.gradients.lensing import LensModel
from ohmap.gradients.morphology import fit_source_morphology
from ohmap.gradients.products import write_morphology
from ohmap.logs import log_to_file

log = log_to_file(snakemake.log[0])
row = snakemake.params.galaxy
galaxy, z = row["galaxy_id"], row["redshift"]
lens = LensModel.from_hff(snakemake.params.lens_prefix, snakemake.params.z_lens,
                          name=row["lens_model"])
with fits.open(snakemake.input.mass_map) as hdul:
    image = hdul[0].data.astype(float)
    wcs = WCS(hdul[0].header).celestial
morphology = fit_source_morphology(image, wcs, lens, z, row["ra_deg"], row["dec_deg"], galaxy=galaxy,
                                   source=snakemake.input.mass_map,
                                   psf_fwhm_arcsec=float(snakemake.params.psf_fwhm_arcsec),
                                   threshold=float(snakemake.params.threshold))
log.info("galaxy %s (lens model %s): centre (%+.3f, %+.3f) arcsec E, N of the traced position; q = %.2f +- %.2f; "
         "major axis %.1f +- %.1f deg E of N; inclination %.1f deg; %d pixels", galaxy, row["lens_model"],
         morphology.x0, morphology.y0, morphology.axis_ratio, morphology.axis_ratio_err, morphology.pa_deg,
         morphology.pa_err_deg, morphology.inclination_deg, morphology.n_pixels)
write_morphology(snakemake.output[0], morphology, meta={"mass_map": str(snakemake.input.mass_map)})
