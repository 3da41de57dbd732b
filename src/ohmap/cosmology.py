"""The cosmology of ohmap: flat LambdaCDM with H0 = 70 km/s/Mpc and Omega_m = 0.3.

The convention of the HFF lens-model teams and of Wang et al. (2017) and Speagle et al. (2014);
no radiation term. Lensing distance ratios, luminosity distances, physical scales and cosmic
ages all use :data:`COSMOLOGY`.
"""

from __future__ import annotations

from astropy.cosmology import FlatLambdaCDM

#: Flat LambdaCDM, H0 = 70 km/s/Mpc, Omega_m = 0.3. For the lensing distance ratio D_ls/D_s only
#: the ratio enters, so H0 drops out, and Omega_m changes it by well under 1 per cent for cluster
#: lenses.
COSMOLOGY = FlatLambdaCDM(H0=70, Om0=0.3)
