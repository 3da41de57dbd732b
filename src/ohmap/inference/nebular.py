"""Nebular physics shared by the mock and the inference: dust, Case B, star formation.

* Extinction: Cardelli, Clayton & Mathis (1989) with R_V = 3.1, from the ``dust_extinction``
  package (the curve is not re-typed here).
* Star formation: SFR = 4.6e-42 L(H-alpha) / (erg/s) Msun/yr (Kennicutt 1998; Moustakas et al.
  2010; Chabrier 2003 IMF), Wang et al. (2017) Eq. 3, with the intrinsic H-alpha = 2.86 x
  intrinsic H-beta (Case B).
* Distances: :data:`ohmap.cosmology.COSMOLOGY` (FlatLambdaCDM, H0 = 70, Om0 = 0.3).

Units: line fluxes in 1e-17 erg/s/cm^2, wavelengths in Angstrom (rest frame), A_V in mag,
SFR in Msun/yr, surface densities per proper kpc^2.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from astropy import units as u
from dust_extinction.parameter_averages import CCM89

from ohmap import lines as L
from ohmap.cosmology import COSMOLOGY

#: Kennicutt (1998) H-alpha luminosity to SFR, Msun/yr per erg/s (Chabrier IMF).
KENNICUTT_SFR_PER_LHA = 4.6e-42
#: The unit of every line flux in ohmap, erg/s/cm^2.
FLUX_UNIT_CGS = 1e-17


@lru_cache(maxsize=4)
def _ccm(rv: float):
    return CCM89(Rv=rv)


def extinction_curve(wavelength_rest, rv: float = 3.1) -> np.ndarray:
    """A(lambda)/A_V of Cardelli et al. (1989) at rest wavelengths (Angstrom)."""
    return np.asarray(
        _ccm(float(rv))(np.atleast_1d(np.asarray(wavelength_rest, float)) * u.AA), float
    )


def extinction_factor(wavelength_rest, av, rv: float = 3.1) -> np.ndarray:
    """Fraction of light transmitted at rest wavelengths (Angstrom) through nebular A_V (mag)."""
    return 10.0 ** (-0.4 * np.asarray(av, float) * extinction_curve(wavelength_rest, rv))


def luminosity_distance_cm(z: float) -> float:
    return float(COSMOLOGY.luminosity_distance(z).to(u.cm).value)


def kpc_per_arcsec(z: float) -> float:
    """Proper kpc per arcsec at redshift ``z``."""
    return float(COSMOLOGY.kpc_proper_per_arcmin(z).to(u.kpc / u.arcsec).value)


def intrinsic_hbeta_flux(sfr, z: float):
    """Dust-corrected, unlensed H-beta flux (1e-17 erg/s/cm^2) of a galaxy forming ``sfr``
    Msun/yr at redshift ``z``."""
    l_ha = np.asarray(sfr, float) / KENNICUTT_SFR_PER_LHA
    return l_ha / L.HALPHA_TO_HBETA / (4 * np.pi * luminosity_distance_cm(z) ** 2) / FLUX_UNIT_CGS


def star_formation_rate(hbeta_intrinsic, z: float, magnification=1.0):
    """SFR (Msun/yr) from the dust-corrected H-beta flux (1e-17 erg/s/cm^2) of a source at
    redshift ``z`` seen through a lens of ``magnification`` (the flux is divided by it)."""
    l_ha = (
        L.HALPHA_TO_HBETA
        * np.asarray(hbeta_intrinsic, float)
        * FLUX_UNIT_CGS
        * 4
        * np.pi
        * luminosity_distance_cm(z) ** 2
    )
    return KENNICUTT_SFR_PER_LHA * l_ha / np.asarray(magnification, float)


def sfr_surface_density(hbeta_intrinsic_per_spaxel, z: float, spaxel_arcsec: float):
    """SFR surface density (Msun/yr/kpc^2) of a spaxel from its dust-corrected H-beta flux.

    Lensing conserves surface brightness, so the magnification divides both the SFR and the
    source-plane area and cancels: the image-plane spaxel area converted to proper kpc^2 at
    ``z`` is the right denominator with the lensed flux.
    """
    area_kpc2 = (spaxel_arcsec * kpc_per_arcsec(z)) ** 2
    return star_formation_rate(hbeta_intrinsic_per_spaxel, z) / area_kpc2
