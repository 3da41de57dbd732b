"""The summarised quantities of the inference products: their units, descriptions and order."""

from __future__ import annotations

#: Unit of each summarised quantity (astropy unit strings; ``""`` = dimensionless).
QUANTITY_UNITS = {
    "oh12": "dex",
    "av": "mag",
    "hbeta": "1e-17 erg / (s cm2)",
    "nii_ha": "",
    "sfr": "solMass / yr",
    "sfr_density": "solMass / (yr kpc2)",
}


#: What each quantity is, for headers and table descriptions.
QUANTITY_DESCRIPTIONS = {
    "oh12": "gas-phase metallicity 12+log(O/H)",
    "av": "nebular extinction A_V",
    "hbeta": "intrinsic (dust-corrected) H-beta flux, observed (lensed)",
    "nii_ha": "[NII]/H-alpha flux ratio",
    "sfr": "star-formation rate from the intrinsic H-beta flux, divided by the magnification",
    "sfr_density": "star-formation-rate surface density of the spaxel (lensing-invariant)",
}


#: Unit of each sampled parameter (the chains' last axis).
PARAMETER_UNITS = {
    "oh12": "dex",
    "av": "mag",
    "log_hbeta": "dex(1e-17 erg / (s cm2))",
    "log_nii_ha": "dex",
}


#: Order in which :func:`ohmap.inference.summary.derived_samples` produces the quantities.
QUANTITY_ORDER = ("oh12", "av", "hbeta", "nii_ha", "sfr", "sfr_density")


STATISTICS = ("p16", "p50", "p84", "value")


def quantity_unit(name: str) -> str:
    """Unit of a summarised quantity (``""``: dimensionless)."""
    return QUANTITY_UNITS.get(name, "")
