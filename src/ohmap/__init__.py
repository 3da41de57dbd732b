"""ohmap: sub-kiloparsec metallicity maps from HST slitless grism spectroscopy of lensed galaxies.

The library knows nothing of Snakemake; the workflow calls it through thin scripts.
Flux densities are in units of 1e-17 erg/s/cm^2/Angstrom, line fluxes in 1e-17 erg/s/cm^2,
wavelengths in Angstrom (vacuum), angles in degrees and sky offsets in arcsec unless a name says
otherwise.
"""

__version__ = "0.1.0"

FLUX_UNIT = "1e-17 erg/s/cm2"
FLAMBDA_UNIT = "1e-17 erg/s/cm2/Angstrom"
