"""Source-plane morphology of one galaxy: its stellar-mass map through its lens model."""

from ohmap.gradients.lensing import LensModel
from ohmap.gradients.morphology import fit_source_morphology
from ohmap.gradients.products import read_mass_map, write_morphology
from ohmap.logs import log_to_file

log = log_to_file(snakemake.log[0])
row = snakemake.params.galaxy
# z_lens: the model's resolved lens redshift (ohmap.gradients.lens_inputs); None: the maps' Z_LENS.
lens = LensModel.from_hff(
    snakemake.params.lens_prefix,
    snakemake.params.z_lens,
    name=row["lens_model"],
    z_lens_field=f"the configured z_lens of lens model {row['lens_model']}",
)
image, wcs = read_mass_map(snakemake.input.mass_map)
morphology = fit_source_morphology(
    image,
    wcs,
    lens,
    row["redshift"],
    row["ra_deg"],
    row["dec_deg"],
    galaxy=row["galaxy_id"],
    source=snakemake.input.mass_map,
    psf_fwhm_arcsec=float(snakemake.params.psf_fwhm_arcsec),
    threshold=float(snakemake.params.threshold),
)
write_morphology(
    snakemake.output[0],
    morphology,
    meta={"mass_map": str(snakemake.input.mass_map), "z_lens": float(lens.z_lens)},
)
