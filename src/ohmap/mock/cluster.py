"""The mock cluster lens: cored isothermal spheres, traced analytically and written as HFF maps."""

from __future__ import annotations

from functools import partial

import numpy as np
from astropy.wcs import WCS

from ohmap.gradients.analytic_lenses import Component, cored_isothermal, maps_on_grid
from ohmap.gradients.lensing import distance_ratio
from ohmap.gradients.sky import tangent_plane_offsets
from ohmap.io.hff import write_hff_maps


class AnalyticCluster:
    """A cluster made of cored isothermal spheres (D_ls/D_s = 1 normalisation).

    Parameters
    ----------
    components : list of dict
        Each with ``ra_deg``, ``dec_deg``, ``theta_e_arcsec``, ``core_arcsec``.
    z_lens : float
    """

    def __init__(self, components, z_lens: float, name: str = "mock"):
        self.z_lens = float(z_lens)
        self.name = name
        self.ra0 = float(components[0]["ra_deg"])
        self.dec0 = float(components[0]["dec_deg"])
        self.components = []
        for comp in components:
            x0, y0 = tangent_plane_offsets(comp["ra_deg"], comp["dec_deg"], self.ra0, self.dec0)
            profile = partial(
                cored_isothermal,
                theta_e=float(comp["theta_e_arcsec"]),
                core=float(comp["core_arcsec"]),
            )
            self.components.append(Component(profile, float(x0), float(y0)))

    def offsets(self, ra, dec):
        """Tangent-plane offsets (arcsec, east and north) from the cluster centre."""
        return tangent_plane_offsets(ra, dec, self.ra0, self.dec0)

    def lens_quantities(self, x, y):
        """Deflection (east, north; arcsec), convergence and shear components at (x, y)."""
        out = np.zeros((5,) + np.shape(x))
        for profile, x0, y0 in self.components:
            out += np.asarray(profile(x - x0, y - y0))
        return out

    def trace(self, x, y, z_source: float):
        """Source-plane tangent offsets (arcsec) of image-plane offsets (arcsec)."""
        s = distance_ratio(self.z_lens, z_source)
        ax, ay = self.lens_quantities(x, y)[:2]
        return x - s * ax, y - s * ay

    def magnification(self, x, y, z_source: float):
        s = distance_ratio(self.z_lens, z_source)
        _, _, kappa, g1, g2 = self.lens_quantities(x, y)
        return 1.0 / np.abs((1 - s * kappa) ** 2 - s**2 * (g1**2 + g2**2))

    def write_hff(self, prefix, size_arcsec: float, pixel_arcsec: float) -> None:
        """Write this model as HFF-format maps (north up, east left) centred on the cluster."""
        n = int(round(size_arcsec / pixel_arcsec))
        wcs = WCS(naxis=2)
        wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
        wcs.wcs.crval = [self.ra0, self.dec0]
        wcs.wcs.crpix = [(n + 1) / 2.0, (n + 1) / 2.0]
        wcs.wcs.cdelt = [-pixel_arcsec / 3600.0, pixel_arcsec / 3600.0]
        wcs.wcs.cunit = ["deg", "deg"]
        alpha_x, alpha_y, kappa, gamma = maps_on_grid(
            self.components, wcs, (n, n), self.ra0, self.dec0
        )
        write_hff_maps(prefix, alpha_x, alpha_y, kappa, gamma, wcs, self.z_lens, self.name)
