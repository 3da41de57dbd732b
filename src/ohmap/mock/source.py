"""A mock galaxy in the source plane: exponential disk with a linear metallicity gradient and
off-centre clumps; line fluxes from the calibrations, Case B and Cardelli et al. (1989).
"""

from __future__ import annotations

import numpy as np

from ohmap import lines as L
from ohmap.inference.calibrations import log_ratio
from ohmap.inference.nebular import (
    extinction_factor,
    intrinsic_hbeta_flux,
    kpc_per_arcsec,
)

from .inputs import MockGalaxy

EMITTED_LINES = ("OII", "Hg", "Hb", "OIII4960", "OIII5008", "NII6550", "Ha", "NII6585", "SII")


def line_ratios_to_hbeta(oh12, nii_ha: float) -> dict:
    """Intrinsic (dust-free) flux of each emitted line relative to H-beta at ``oh12``."""
    oh12 = np.asarray(oh12, dtype=float)
    ha = np.full_like(oh12, 10 ** log_ratio("Ha", 0.0))
    oiii = 10 ** log_ratio("OIII5008", oh12)
    nii_total = nii_ha * ha
    return {
        "OII": 10 ** log_ratio("OII", oh12),
        "Hg": np.full_like(oh12, 10 ** log_ratio("Hg", 0.0)),
        "Hb": np.ones_like(oh12),
        "OIII4960": oiii / L.OIII_5008_TO_4960,
        "OIII5008": oiii,
        # [NII]/Halpha counts both [NII] lines, so that the blend is Halpha (1 + [NII]/Halpha).
        "NII6550": nii_total / (1 + L.NII_6585_TO_6550),
        "Ha": ha,
        "NII6585": nii_total * L.NII_6585_TO_6550 / (1 + L.NII_6585_TO_6550),
        "SII": 10 ** log_ratio("SII", oh12) * ha,
    }


class SourceModel:
    """Surface brightness of one galaxy in its source plane.

    Positions are tangent-plane offsets in arcsec (east, north) from the source centre.
    """

    def __init__(self, gal: MockGalaxy):
        self.gal = gal
        self.scale = kpc_per_arcsec(gal.redshift)
        theta = np.radians(gal.pa_deg)
        self._major = np.array([np.sin(theta), np.cos(theta)])
        self._minor = np.array([np.cos(theta), -np.sin(theta)])
        disk_fraction = 1.0 - sum(c.sfr_fraction for c in gal.clumps)
        self.hbeta_total = intrinsic_hbeta_flux(gal.sfr, gal.redshift)
        q = gal.axis_ratio
        # Normalisations in 1e-17 erg/s/cm^2 per arcsec^2 of source plane.
        rd = gal.sf_scale_kpc / self.scale
        self._disk_norm = disk_fraction * self.hbeta_total / (2 * np.pi * rd**2 * q)
        rm = gal.mass_scale_kpc / self.scale
        mass_disk = 1.0 - sum(c.mass_fraction for c in gal.clumps)
        self._mass_norm = mass_disk * 10**gal.log_mstar / (2 * np.pi * rm**2 * q)
        self._clumps = []
        for c in gal.clumps:
            pa = np.radians(c.pa_deg)
            pos = c.distance_kpc / self.scale * np.array([np.sin(pa), np.cos(pa)])
            sig = c.sigma_kpc / self.scale
            r_clump = self.deprojected_radius_kpc(*pos)
            self._clumps.append(
                dict(
                    pos=pos,
                    sigma=sig,
                    hb_norm=c.sfr_fraction * self.hbeta_total / (2 * np.pi * sig**2),
                    mass_norm=c.mass_fraction * 10**gal.log_mstar / (2 * np.pi * sig**2),
                    offset=c.oh12_offset_dex,
                    radius=float(r_clump),
                )
            )
        self.gal.oh12_center = self._center_metallicity()

    def deprojected_radius_kpc(self, x, y):
        """Galactocentric radius in the disk plane (kpc) of source-plane offsets (arcsec)."""
        a = x * self._major[0] + y * self._major[1]
        b = x * self._minor[0] + y * self._minor[1]
        return np.hypot(a, b / self.gal.axis_ratio) * self.scale

    def components(self, x, y, oh12_center=None):
        """H-beta surface brightness and metallicity of each component at (x, y).

        Returns
        -------
        list of (hbeta_sb, oh12) pairs, disk first; hbeta_sb in 1e-17 erg/s/cm^2/arcsec^2.
        """
        z0 = self.gal.oh12_center if oh12_center is None else oh12_center
        r = self.deprojected_radius_kpc(x, y)
        comps = [
            (
                self._disk_norm * np.exp(-r / self.gal.sf_scale_kpc),
                np.clip(z0 + self.gal.gradient * r, 7.1, 9.2),
            )
        ]
        for c in self._clumps:
            d2 = (x - c["pos"][0]) ** 2 + (y - c["pos"][1]) ** 2
            sb = c["hb_norm"] * np.exp(-0.5 * d2 / c["sigma"] ** 2)
            oh = np.clip(z0 + self.gal.gradient * c["radius"] + c["offset"], 7.1, 9.2)
            comps.append((sb, np.full_like(sb, oh)))
        return comps

    def stellar_mass_density(self, x, y):
        """Stellar-mass surface density, Msun per arcsec^2 of source plane."""
        r = self.deprojected_radius_kpc(x, y)
        out = self._mass_norm * np.exp(-r / self.gal.mass_scale_kpc)
        for c in self._clumps:
            d2 = (x - c["pos"][0]) ** 2 + (y - c["pos"][1]) ** 2
            out = out + c["mass_norm"] * np.exp(-0.5 * d2 / c["sigma"] ** 2)
        return out

    def _center_metallicity(self) -> float:
        """Central disk metallicity that makes the H-beta-weighted mean equal the global value."""
        half = 8 * self.gal.sf_scale_kpc / self.scale
        grid = np.linspace(-half, half, 241)
        x, y = np.meshgrid(grid, grid)
        r = self.deprojected_radius_kpc(x, y)
        weight = self._disk_norm * np.exp(-r / self.gal.sf_scale_kpc)
        offset = np.sum(weight * self.gal.gradient * r)
        total = weight.sum()
        for c in self._clumps:
            d2 = (x - c["pos"][0]) ** 2 + (y - c["pos"][1]) ** 2
            w = c["hb_norm"] * np.exp(-0.5 * d2 / c["sigma"] ** 2)
            offset += np.sum(w) * (self.gal.gradient * c["radius"] + c["offset"])
            total += w.sum()
        return float(self.gal.oh12_global - offset / total)

    def emission(self, x, y) -> dict:
        """Observed (reddened, unlensed) surface brightness of every emitted line, and truths."""
        comps = self.components(x, y)
        transmitted = {
            name: float(extinction_factor(L.LINES_BY_NAME[name].wavelength, self.gal.av)[0])
            for name in EMITTED_LINES
        }
        out = {name: np.zeros_like(x) for name in EMITTED_LINES}
        hb_sum = np.zeros_like(x)
        oh_weighted = np.zeros_like(x)
        for sb, oh in comps:
            ratios = line_ratios_to_hbeta(oh, self.gal.nii_ha_used)
            for name in EMITTED_LINES:
                out[name] += sb * ratios[name] * transmitted[name]
            hb_sum += sb
            oh_weighted += sb * oh
        out["hb_intrinsic"] = hb_sum
        out["oh12_weighted"] = oh_weighted
        out["radius_kpc"] = self.deprojected_radius_kpc(x, y)
        out["mstar"] = self.stellar_mass_density(x, y)
        return out
