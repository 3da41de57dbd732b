"""The sample sheet's columns, in the order written (``workflow/schemas/galaxies.schema.yaml``
describes each; :func:`ohmap.config.load_samples` reads and validates a sheet)."""

#: Columns of a sample sheet as ohmap writes one (the mock's, ``ohmap init``'s).
SHEET_COLUMNS = (
    "galaxy_id",
    "ra_deg",
    "dec_deg",
    "redshift",
    "lens_model",
    "log_mstar",
    "log_mstar_err_lo",
    "log_mstar_err_hi",
    "nii_ha",
    "spectra_format",
    "spectra",
    "observations",
    "direct_image",
    "segmentation",
    "mass_map",
)
