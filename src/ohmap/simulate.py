"""The embedded mock MACS1149.6+2223 field: lensed galaxies seen through the WFC3/IR grisms.

Everything a later step recovers is known here. The 14 galaxies of Wang et al. (2017, Table 2)
are exponential star-forming disks (plus off-centre low-metallicity clumps where the paper
describes them) in the source plane, with a linear metallicity gradient in deprojected radius.
Line fluxes follow the Maiolino et al. (2008) and Jones et al. (2015) calibrations, Case B
Balmer ratios and a Cardelli et al. (1989) extinction curve. The sources are ray-traced through
an analytic cluster (cored isothermal spheres, also written out as HFF-format maps), convolved
with a WFC3/IR-like PSF at 0.065" pixels, and dispersed at each PA and grism of Table 1 with
imperfect calibration (trace offsets, wavelength-zero-point shifts, roll-angle errors), stellar
continuum, contaminating neighbours and noise at the paper's depth.

Frames
------
A *PA frame* is the 2D-spectrum cutout frame of one PA: +x along the dispersion direction
(position angle ``PA_V3 - 45`` east of north, towards longer wavelengths), +y at that angle
plus 90 deg (images are not mirrored). The *reference frame* is the PA frame of the reference
PA (119 by default) without calibration errors; truth maps are given there.

Units: line fluxes in 1e-17 erg/s/cm^2 (per pixel for maps), flux densities in
1e-17 erg/s/cm^2/Angstrom, wavelengths in Angstrom, distances in kpc, angles in degrees.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import yaml
from astropy import units as u
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS
from scipy.interpolate import PchipInterpolator
from scipy.ndimage import gaussian_filter, label
from scipy.ndimage import shift as nd_shift
from scipy.signal import fftconvolve

from . import lines as L
from .calibrations import log_ratio
from .errors import InputError
from .grisms import GRISMS, Grism
from .io.atomic import write_fits_atomic, write_table_atomic
from .io.glass import write_glass_2d
from .io.hff import write_hff_maps
from .lensing import (
    Component,
    cored_isothermal,
    distance_ratio,
    maps_on_grid,
    tangent_plane_offsets,
)
from .nebular import extinction_factor, intrinsic_hbeta_flux, kpc_per_arcsec
from .resample import frame_axes
from .spectrum import dispersion_pa_from_pa_v3

log = logging.getLogger(__name__)

#: AB zero point of WFC3/IR F160W (counts/s for a source of 0 AB mag would be 10**(0.4 ZP)).
F160W_ZEROPOINT_AB = 25.946
F160W_PIVOT = 15369.0
INTERLACED_PIXEL = 0.065
EMITTED_LINES = ("OII", "Hg", "Hb", "OIII4960", "OIII5008", "NII6550", "Ha", "NII6585", "SII")

#: Sensitivity-curve shapes (relative to the peak) for the mock grisms: knots through which a
#: monotone cubic runs. G102: peak 1.13 um, above half peak 0.89-1.15 um; G141: peak 1.59 um,
#: above half peak 1.12-1.68 um, as the real WFC3/IR curves.
SENSITIVITY_KNOTS = {
    "G102": (
        [7600, 8200, 8600, 8900, 9400, 10000, 10600, 11000, 11300, 11430, 11500, 11650, 11900],
        [0.0, 0.03, 0.2, 0.5, 0.7, 0.8, 0.88, 0.95, 1.0, 0.8, 0.5, 0.08, 0.0],
    ),
    "G141": (
        [10400, 10800, 11000, 11200, 11700, 12500, 13500, 14500, 15300, 15900, 16400, 16800, 17100, 17500],
        [0.0, 0.05, 0.2, 0.5, 0.66, 0.72, 0.8, 0.88, 0.95, 1.0, 0.85, 0.5, 0.12, 0.0],
    ),
}
#: Peak sensitivity, (e-/s) per (erg/s/cm^2/Angstrom), close to the WFC3/IR first orders.
SENSITIVITY_PEAK = {"G102": 1.03e16, "G141": 1.65e16}


# ----------------------------------------------------------------------------------------------
# Inputs
# ----------------------------------------------------------------------------------------------


@dataclass
class Clump:
    """An off-centre star-forming clump (source plane)."""

    distance_kpc: float
    pa_deg: float
    sigma_kpc: float
    sfr_fraction: float
    oh12_offset_dex: float
    mass_fraction: float


@dataclass
class MockGalaxy:
    """Truth parameters of one mock galaxy."""

    galaxy_id: str
    ra: float
    dec: float
    redshift: float
    lens_model: str
    log_mstar: float
    log_mstar_err_lo: float
    log_mstar_err_hi: float
    h160_abmag: float
    oh12_global: float
    gradient: float
    sfr: float
    av: float
    nii_ha: float | None
    sf_scale_kpc: float
    mass_scale_kpc: float
    axis_ratio: float
    pa_deg: float
    beta: float
    clumps: list = field(default_factory=list)
    oh12_center: float = np.nan

    @property
    def inclination_deg(self) -> float:
        """Inclination of a thin disk with this axis ratio."""
        return float(np.degrees(np.arccos(np.clip(self.axis_ratio, 0.0, 1.0))))

    @property
    def nii_ha_used(self) -> float:
        return 0.05 if self.nii_ha is None else self.nii_ha


def _read_tsv(path) -> Table:
    return Table.read(path, format="ascii.tab", comment="#", converters={"galaxy_id": str})


def _value_from_limit(value: float, limit: str, rules: dict, kind: str) -> float:
    if limit == "<":
        return value * rules[f"{kind}_upper_fraction"]
    if limit == ">":
        return value * rules[f"{kind}_lower_factor"]
    return value


def load_mock_inputs(table2, table5, mock_yaml) -> tuple[list[MockGalaxy], dict]:
    """Read the paper's tables and the mock's own settings into :class:`MockGalaxy` objects.

    Returns
    -------
    galaxies : list of MockGalaxy
    cluster : dict
        The ``cluster`` section of ``mock_yaml`` (lens models, z_lens, map geometry).
    """
    t2 = _read_tsv(table2)
    t5 = {str(r["galaxy_id"]).zfill(5): float(r["gradient_spaxel"]) for r in _read_tsv(table5)}
    with open(mock_yaml) as fh:
        mock = yaml.safe_load(fh)
    rules = mock["limit_rules"]
    galaxies = []
    for row in t2:
        gid = str(row["galaxy_id"]).zfill(5)
        if gid not in mock["galaxies"]:
            raise InputError(mock_yaml, f"galaxy {gid} of {table2} has no entry under 'galaxies'")
        extra = mock["galaxies"][gid]
        sfr_limit = "" if np.ma.is_masked(row["sfr_limit"]) else str(row["sfr_limit"])
        av_limit = "" if np.ma.is_masked(row["av_neb_limit"]) else str(row["av_neb_limit"])
        galaxies.append(
            MockGalaxy(
                galaxy_id=gid,
                ra=float(row["ra_deg"]),
                dec=float(row["dec_deg"]),
                redshift=float(row["redshift"]),
                lens_model=extra["lens_model"],
                log_mstar=float(row["log_mstar"]),
                log_mstar_err_lo=float(row["log_mstar_err_lo"]),
                log_mstar_err_hi=float(row["log_mstar_err_hi"]),
                h160_abmag=float(row["h160_abmag"]),
                oh12_global=float(row["oh12"]),
                gradient=t5.get(gid, 0.0),
                sfr=_value_from_limit(float(row["sfr_msun_yr"]), sfr_limit, rules, "sfr"),
                av=_value_from_limit(float(row["av_neb"]), av_limit, rules, "av"),
                nii_ha=extra.get("nii_ha"),
                sf_scale_kpc=float(extra["sf_scale_kpc"]),
                mass_scale_kpc=float(extra["mass_scale_kpc"]),
                axis_ratio=float(extra["axis_ratio"]),
                pa_deg=float(extra["pa_deg"]),
                beta=float(extra["beta"]),
                clumps=[Clump(**c) for c in extra.get("clumps", [])],
            )
        )
    return galaxies, mock["cluster"]


# ----------------------------------------------------------------------------------------------
# The cluster lens
# ----------------------------------------------------------------------------------------------


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
                cored_isothermal, theta_e=float(comp["theta_e_arcsec"]), core=float(comp["core_arcsec"])
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


# ----------------------------------------------------------------------------------------------
# Sources
# ----------------------------------------------------------------------------------------------


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
            (self._disk_norm * np.exp(-r / self.gal.sf_scale_kpc), np.clip(z0 + self.gal.gradient * r, 7.1, 9.2))
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


# ----------------------------------------------------------------------------------------------
# Image plane
# ----------------------------------------------------------------------------------------------


def gaussian_psf(fwhm_arcsec: float, pixel: float = INTERLACED_PIXEL, wing_fraction: float = 0.1):
    """A WFC3/IR-like PSF: a Gaussian core of the given FWHM plus a 3x wider faint wing."""
    sigma = fwhm_arcsec / 2.3548 / pixel
    half = int(np.ceil(6 * 3 * sigma))
    y, x = np.mgrid[-half : half + 1, -half : half + 1]
    r2 = x**2 + y**2
    core = np.exp(-0.5 * r2 / sigma**2) / sigma**2
    wing = np.exp(-0.5 * r2 / (3 * sigma) ** 2) / (3 * sigma) ** 2
    psf = (1 - wing_fraction) * core + wing_fraction * wing
    return psf / psf.sum()


@dataclass
class StampGeometry:
    """Pixel grid of an image-plane stamp centred on a galaxy."""

    size: int = 64
    pixel: float = INTERLACED_PIXEL
    supersample: int = 3

    @property
    def center(self) -> float:
        return (self.size - 1) / 2.0


class GalaxyRenderer:
    """Lensed, PSF-convolved images of one galaxy in any frame, with sub-pixel offsets."""

    def __init__(self, gal: MockGalaxy, cluster: AnalyticCluster, geometry: StampGeometry, psf):
        self.gal = gal
        self.cluster = cluster
        self.geo = geometry
        self.psf = psf
        self.source = SourceModel(gal)
        self.x_img, self.y_img = cluster.offsets(gal.ra, gal.dec)
        self.src_center = cluster.trace(self.x_img, self.y_img, gal.redshift)
        self._cache = {}

    def sky_offsets(self, pa_x_deg: float, dx: float = 0.0, dy: float = 0.0, supersample=None):
        """Image-plane offsets (arcsec from the cluster centre) of a stamp's (sub)pixel centres.

        ``dx``, ``dy`` shift the scene by that many pixels along +x and +y of the frame.
        """
        ss = self.geo.supersample if supersample is None else supersample
        n = self.geo.size * ss
        sub = (np.arange(n) + 0.5) / ss - 0.5 - self.geo.center
        ex, ey = frame_axes(pa_x_deg)
        px = (sub[None, :] - dx) * self.geo.pixel
        py = (sub[:, None] - dy) * self.geo.pixel
        east = self.x_img + px * ex[0] + py * ey[0]
        north = self.y_img + px * ex[1] + py * ey[1]
        return east, north

    def render(self, pa_x_deg: float, dx: float = 0.0, dy: float = 0.0, convolve: bool = True) -> dict:
        """All line images (1e-17 erg/s/cm^2 per pixel, lensed), the stellar-mass image and the
        truth maps (metallicity, radius, A_V) in a frame, scene shifted by (dx, dy) pixels."""
        key = (round(pa_x_deg, 6), round(dx, 6), round(dy, 6), convolve)
        if key in self._cache:
            return self._cache[key]
        east, north = self.sky_offsets(pa_x_deg, dx, dy)
        bx, by = self.cluster.trace(east, north, self.gal.redshift)
        em = self.source.emission(bx - self.src_center[0], by - self.src_center[1])
        ss = self.geo.supersample
        area = self.geo.pixel**2

        def bin_sum(a):
            n = self.geo.size
            return a.reshape(n, ss, n, ss).mean(axis=(1, 3))

        out = {}
        for name in EMITTED_LINES + ("hb_intrinsic", "mstar"):
            img = bin_sum(em[name]) * area
            out[name] = fftconvolve(img, self.psf, mode="same") if convolve else img
        hb = bin_sum(em["hb_intrinsic"])
        out["oh12"] = np.where(hb > 0, bin_sum(em["oh12_weighted"]) / np.maximum(hb, 1e-300), np.nan)
        out["radius_kpc"] = bin_sum(em["radius_kpc"])
        out["magnification"] = self.cluster.magnification(
            *self.sky_offsets(pa_x_deg, dx, dy, supersample=1), self.gal.redshift
        )
        self._cache[key] = out
        return out

    def source_offsets(self, pa_x_deg: float):
        """Source-plane offsets (arcsec east, north) of the stamp's pixel centres."""
        east, north = self.sky_offsets(pa_x_deg, supersample=1)
        bx, by = self.cluster.trace(east, north, self.gal.redshift)
        return bx - self.src_center[0], by - self.src_center[1]


# ----------------------------------------------------------------------------------------------
# Grism
# ----------------------------------------------------------------------------------------------


def sensitivity_curve(grism: str, wavelength):
    """Mock first-order sensitivity, (e-/s) per (erg/s/cm^2/Angstrom), at ``wavelength`` (A)."""
    knots_x, knots_y = SENSITIVITY_KNOTS[grism]
    shape = PchipInterpolator(knots_x, knots_y, extrapolate=False)(wavelength)
    return SENSITIVITY_PEAK[grism] * np.clip(np.nan_to_num(shape), 0.0, None)


def wavelength_grid(grism: Grism, margin: float = 400.0):
    """Column wavelengths (Angstrom) of a mock 2D spectrum in ``grism``."""
    start = grism.wavelength_min - margin
    n = int(np.ceil((grism.wavelength_max + margin - start) / grism.dispersion_interlaced))
    return start + grism.dispersion_interlaced * np.arange(n)


def write_sensitivity_fits(path, grism: str) -> None:
    """The mock sensitivity curve as an aXe ``*sens*.fits`` table."""
    wave = np.arange(7000.0, 18000.0, 5.0)
    sens = sensitivity_curve(grism, wave)
    table = Table(
        [wave, sens, 0.02 * sens],
        names=("WAVELENGTH", "SENSITIVITY", "ERROR"),
        units=(u.AA, None, None),
    )
    table.meta["COMMENT"] = [f"ohmap mock {grism} first-order sensitivity, (e-/s)/(erg/s/cm2/A)"]
    write_table_atomic(table, path, format="fits")


def noise_per_pixel_counts(grism: str, exposure_time: float, observations, settings) -> float:
    """1-sigma count-rate noise per interlaced pixel (e-/s) for one PA-grism exposure.

    Scaled so that, combining all PAs of the grism, a line summed over
    ``settings['reference_aperture_pixels']`` pixels at the sensitivity peak has the paper's
    1-sigma flux limit (Sect. 2.1: 3.5e-18 for G102 and 1.2e-18 erg/s/cm^2 for G141).
    """
    total_time = sum(o["exposure_time"] for o in observations if o["grism"] == grism)
    limit = settings["line_flux_limit"][grism] / 1e-17
    disp = GRISMS[grism].dispersion_interlaced
    grow = settings["grow"][0] * settings["grow"][1]
    peak = SENSITIVITY_PEAK[grism] * 1e-17 * disp * grow  # e-/s per (1e-17 flam) per pixel
    k = limit * peak * np.sqrt(total_time) / (disp * np.sqrt(settings["reference_aperture_pixels"]))
    return float(k / np.sqrt(exposure_time))


def disperse_continuum(image, spectrum_of_wavelength, wave, dx: float):
    """2D spectrum (flux density per pixel) of a source whose light follows one spectral shape.

    A stamp column ``k`` is seen at the column where its wavelength lands: light of wavelength
    ``lam`` from column ``k`` falls at ``j = (lam - wave[0]) / dlam + (k - kc) + dx``.
    """
    ny, nk = image.shape
    kc = (nk - 1) / 2.0
    dlam = wave[1] - wave[0]
    out = np.zeros((ny, wave.size))
    j = np.arange(wave.size)
    for k in range(nk):
        lam = wave[0] + (j - (k - kc) - dx) * dlam
        out += image[:, k, None] * spectrum_of_wavelength(lam)[None, :]
    return out


def place_line(renderer: GalaxyRenderer, line: str, frame_pa: float, wave, z, dx, dy):
    """2D image of one line dispersed to its column (flux density per pixel).

    The scene is rendered at the sub-pixel phase the line lands at, so no interpolation of the
    image is needed and the line flux is conserved exactly.
    """
    n = renderer.geo.size
    kc = renderer.geo.center
    dlam = wave[1] - wave[0]
    j_line = (L.LINES_BY_NAME[line].wavelength * (1 + z) - wave[0]) / dlam + dx
    # Column j sees stamp position k' = j - j_line + kc; split into integer and phase.
    shift = int(np.floor(j_line - kc))
    phase = (j_line - kc) - shift
    img = renderer.render(frame_pa, dx=phase, dy=dy)[line]
    out = np.zeros((n, wave.size))
    lo, hi = max(0, shift), min(wave.size, shift + n)
    if hi > lo:
        out[:, lo:hi] = img[:, lo - shift : hi - shift]
    return out / dlam


def continuum_spectrum(gal: MockGalaxy):
    """Observed continuum f_lambda(lam) shape, normalised so that f(F160W pivot) is the H160 flux."""
    fnu = 10 ** (-0.4 * (gal.h160_abmag + 48.6))
    flam_pivot = fnu * 2.99792458e18 / F160W_PIVOT**2 / 1e-17
    return lambda lam: flam_pivot * (np.asarray(lam) / F160W_PIVOT) ** gal.beta


# ----------------------------------------------------------------------------------------------
# Driver
# ----------------------------------------------------------------------------------------------


def glass_filename(field: str, pa: str, grism: str, galaxy_id: str) -> str:
    return f"{field}-{pa}-{grism}_{galaxy_id}.2D.fits"


SAMPLE_COLUMNS = (
    "galaxy_id", "ra_deg", "dec_deg", "redshift", "lens_model", "log_mstar", "log_mstar_err_lo",
    "log_mstar_err_hi", "nii_ha", "spectra_format", "spectra", "observations", "direct_image",
    "segmentation", "mass_map",
)


def sample_sheet_text(galaxies, field: str, outdir: str = "results/mock") -> str:
    """The sample sheet (TSV text) that points the workflow at the mock's files."""
    lines = [
        "# Sample sheet of the embedded mock MACS1149.6+2223 field (written by ohmap.simulate).",
        "# Columns are described in workflow/schemas/galaxies.schema.yaml and docs/inputs.md.",
        "\t".join(SAMPLE_COLUMNS),
    ]
    for g in galaxies:
        values = [
            g.galaxy_id, f"{g.ra:.6f}", f"{g.dec:.6f}", f"{g.redshift:g}", g.lens_model,
            f"{g.log_mstar:.2f}", f"{g.log_mstar_err_lo:.2f}", f"{g.log_mstar_err_hi:.2f}",
            "" if g.nii_ha is None else f"{g.nii_ha:g}", "glass",
            f"{outdir}/spectra/{field}-{{pa}}-{{grism}}_{g.galaxy_id}.2D.fits", "",
            f"{outdir}/images/{g.galaxy_id}_f160w.fits", f"{outdir}/images/{g.galaxy_id}_seg.fits",
            f"{outdir}/images/{g.galaxy_id}_mstar.fits",
        ]
        lines.append("\t".join(values))
    return "\n".join(lines) + "\n"


def _rng(seed: int, *keys) -> np.random.Generator:
    """An independent, reproducible random stream for (seed, galaxy, PA, grism, ...)."""
    words = [int(seed)] + [int.from_bytes(str(k).encode(), "little") % (2**32) for k in keys]
    return np.random.default_rng(np.random.SeedSequence(words))


def calibration_errors(seed: int, galaxy_id: str, pa: str, grism: str, reference_pa: str, settings):
    """Trace offset, wavelength-zero-point shift (pixels) and roll error (deg) of one spectrum."""
    if pa == reference_pa and grism == "G141":
        return 0.0, 0.0, 0.0
    rng = _rng(seed, galaxy_id, pa, grism, "calibration")
    err = settings["calibration_errors"]
    return (
        float(rng.uniform(-1, 1) * err["trace_offset_pixels"]),
        float(rng.uniform(-1, 1) * err["wavelength_shift_pixels"]),
        float(rng.uniform(-1, 1) * err["rotation_deg"]),
    )


def simulate_galaxy(gal: MockGalaxy, cluster: AnalyticCluster, settings: dict, outdir) -> dict:
    """Write one galaxy's 2D spectra at every PA and grism, its stamps and its truth.

    Parameters
    ----------
    gal : MockGalaxy
    cluster : AnalyticCluster
        The lens model named by ``gal.lens_model``.
    settings : dict
        The ``mock`` section of the configuration (seed, observations, noise, PSF, ...).
    outdir : path-like
        Root of the mock outputs (``spectra/``, ``images/``, ``truth/`` below it).

    Returns
    -------
    dict
        Paths written and the truth rows (``galaxy`` and ``alignment``).
    """
    outdir = Path(outdir)
    seed = int(settings["seed"])
    field = settings["field"]
    geo = StampGeometry(settings["stamp_pixels"], INTERLACED_PIXEL, settings["supersample"])
    psf = gaussian_psf(settings["psf_fwhm_arcsec"])
    renderer = GalaxyRenderer(gal, cluster, geo, psf)
    observations = settings["observations"]
    reference_pa = settings["reference_pa"]
    ref_frame_pa = dispersion_pa_from_pa_v3(float(reference_pa))
    grow = tuple(settings["grow"])
    written = {"spectra": []}
    alignment_rows = []
    cont_shape = continuum_spectrum(gal)

    # Truth in the reference frame, before any calibration error.
    truth = renderer.render(ref_frame_pa)
    truth_unconvolved = renderer.render(ref_frame_pa, convolve=False)
    intrinsic_total = renderer.source.hbeta_total

    for obs in observations:
        pa, grism_name = obs["pa"], obs["grism"]
        grism = GRISMS[grism_name]
        frame_pa = dispersion_pa_from_pa_v3(float(pa))
        dy, dx, drot = calibration_errors(seed, gal.galaxy_id, pa, grism_name, reference_pa, settings)
        true_frame = frame_pa + drot
        wave = wavelength_grid(grism)
        dlam = wave[1] - wave[0]
        rng = _rng(seed, gal.galaxy_id, pa, grism_name, "noise")

        lines2d = np.zeros((geo.size, wave.size))
        for name in EMITTED_LINES:
            lines2d += place_line(renderer, name, true_frame, wave, gal.redshift, dx, dy)
        scene = renderer.render(true_frame, dy=dy)
        stellar = scene["mstar"] / scene["mstar"].sum()
        continuum2d = disperse_continuum(stellar, cont_shape, wave, dx)

        contam2d, contam_model = _neighbour(rng, geo, psf, wave, settings)
        sens = sensitivity_curve(grism_name, wave) * 1e-17 * dlam  # e-/s per (1e-17 flam) per pixel
        conversion = sens * grow[0] * grow[1]
        sigma_counts = noise_per_pixel_counts(grism_name, obs["exposure_time"], observations, settings)
        truth_counts = (lines2d + continuum2d + contam2d) * conversion[None, :]
        noise = rng.normal(0.0, sigma_counts, truth_counts.shape)
        covered = sens > 1e-3 * sens.max()
        err_counts = np.where(covered[None, :], sigma_counts, 0.0) * np.ones(truth_counts.shape)
        sci_counts = np.where(covered[None, :], truth_counts + noise, 0.0)
        model_scale = 1.0 + rng.normal(0.0, settings["continuum_model_scale_error"])
        model_counts = continuum2d * model_scale * conversion[None, :]

        direct = _direct_image(renderer, frame_pa, gal, rng, settings)
        seg = _segmentation(direct, settings["direct_noise_counts"], int(gal.galaxy_id))
        ytrace = np.full(wave.size, geo.center + 0.0)
        path = outdir / "spectra" / glass_filename(field, pa, grism_name, gal.galaxy_id)
        write_glass_2d(
            path,
            science_counts=sci_counts,
            error_counts=err_counts,
            model_counts=model_counts,
            contam_counts=contam_model * conversion[None, :],
            wavelength=wave,
            sensitivity=sens,
            ytrace=ytrace,
            direct_image=direct,
            segmentation=seg,
            header_cards={
                "ID": (int(gal.galaxy_id), "object id"),
                "RA": (gal.ra, "[deg] object position"),
                "DEC": (gal.dec, "[deg] object position"),
                "GRISM": (grism_name, "grism"),
                "PA_V3": (float(pa), "[deg] telescope roll (file name label)"),
                "PA_DISP": (frame_pa, "[deg] dispersion axis, E of N"),
                "EXPTIME": (float(obs["exposure_time"]), "[s] exposure time"),
                "PIXSCALE": (INTERLACED_PIXEL, "[arcsec/pixel] spatial scale"),
                "ORIGIN": ("ohmap mock", "simulated by ohmap.simulate"),
                "MOCKSEED": (seed, "random seed of the mock"),
            },
            grow=grow,
        )
        written["spectra"].append(path)
        alignment_rows.append(
            dict(
                galaxy_id=gal.galaxy_id,
                pa_v3=pa,
                grism=grism_name,
                trace_offset_pixels=dy,
                wavelength_shift_pixels=dx,
                rotation_error_deg=drot,
                rotation_to_reference_deg=(ref_frame_pa - true_frame + 180.0) % 360.0 - 180.0,
                noise_counts_per_pixel=sigma_counts,
                has_neighbour=bool(np.any(contam2d > 0)),
                continuum_model_scale=model_scale,
            )
        )
        log.info("galaxy %s: wrote %s", gal.galaxy_id, path.name)

    written["images"] = _write_stamps(renderer, gal, settings, outdir)
    truth_path = outdir / "truth" / f"{gal.galaxy_id}_truth.fits"
    galaxy_row = _truth_row(gal, renderer, truth_unconvolved, intrinsic_total)
    _write_truth_maps(truth_path, gal, truth, truth_unconvolved, ref_frame_pa, galaxy_row)
    written["truth"] = truth_path
    written["galaxy_row"] = galaxy_row
    written["alignment_rows"] = alignment_rows
    return written


def _neighbour(rng, geo: StampGeometry, psf, wave, settings):
    """True and modelled contamination from a compact neighbour, or zeros."""
    n = geo.size
    truth = np.zeros((n, wave.size))
    if rng.uniform() > settings["neighbour_probability"]:
        return truth, truth.copy()
    row = rng.uniform(0.15, 0.85) * n
    col_offset = rng.uniform(-0.6, 0.6) * wave.size
    mag = rng.uniform(*settings["neighbour_abmag"])
    yy, xx = np.mgrid[0:n, 0:n]
    sigma = 1.2
    img = np.exp(-0.5 * ((yy - row) ** 2 + (xx - geo.center) ** 2) / sigma**2)
    img = fftconvolve(img, psf, mode="same")
    img /= img.sum()
    fnu = 10 ** (-0.4 * (mag + 48.6))
    flam = fnu * 2.99792458e18 / F160W_PIVOT**2 / 1e-17
    slope = rng.uniform(-2.5, 0.5)
    truth = disperse_continuum(img, lambda lam: flam * (np.asarray(lam) / F160W_PIVOT) ** slope, wave, col_offset)
    err = settings["contamination_model_error"]
    # "Good but not perfect": the model is off in scale and slightly misplaced along the rows.
    model = truth * (1.0 + rng.normal(0.0, err["scale"]))
    model = nd_shift(model, (rng.normal(0.0, err["row_shift_pixels"]), 0.0), order=1, mode="constant")
    return truth, model


def _direct_image(renderer: GalaxyRenderer, frame_pa: float, gal: MockGalaxy, rng, settings):
    """F160W stamp (e-/s) in a frame: the stellar light plus noise."""
    scene = renderer.render(frame_pa)
    total_counts = 10 ** (-0.4 * (gal.h160_abmag - F160W_ZEROPOINT_AB))
    img = scene["mstar"] / scene["mstar"].sum() * total_counts
    return img + rng.normal(0.0, settings["direct_noise_counts"], img.shape)


def _segmentation(direct, noise, object_id: int):
    """Pixels above 3 sigma (after light smoothing) connected to the stamp centre."""
    smooth = gaussian_filter(direct, 1.0)
    # Smoothing by a Gaussian of sigma 1 pixel lowers white noise by 2 sqrt(pi).
    mask = smooth > 3.0 * noise / (2 * np.sqrt(np.pi))
    labels, _ = label(mask)
    c = direct.shape[0] // 2
    centre_label = labels[c - 1 : c + 1, c - 1 : c + 1].max()
    seg = np.zeros(direct.shape, dtype=np.int32)
    if centre_label > 0:
        seg[labels == centre_label] = object_id
    return seg


def north_up_wcs(ra: float, dec: float, size: int, pixel: float = INTERLACED_PIXEL) -> WCS:
    """TAN WCS of a north-up, east-left stamp centred on (ra, dec)."""
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [ra, dec]
    wcs.wcs.crpix = [(size + 1) / 2.0, (size + 1) / 2.0]
    wcs.wcs.cdelt = [-pixel / 3600.0, pixel / 3600.0]
    wcs.wcs.cunit = ["deg", "deg"]
    return wcs


def _write_stamps(renderer, gal, settings, outdir: Path) -> dict:
    """North-up F160W stamp, its segmentation map and the stellar-mass surface-density map."""
    # +x towards west (PA 270) gives north up, east left.
    rng = _rng(settings["seed"], gal.galaxy_id, "stamps")
    direct = _direct_image(renderer, 270.0, gal, rng, settings)
    seg = _segmentation(direct, settings["direct_noise_counts"], int(gal.galaxy_id))
    scene = renderer.render(270.0, convolve=False)
    scale = renderer.source.scale
    # Msun per image-plane pixel -> Msun per source-plane kpc^2: surface density is conserved.
    area_kpc2 = (renderer.geo.pixel * scale) ** 2
    mass_map = scene["mstar"] / area_kpc2
    header = north_up_wcs(gal.ra, gal.dec, renderer.geo.size).to_header()
    paths = {}
    images = outdir / "images"
    images.mkdir(parents=True, exist_ok=True)
    for kind, data, unit, what in (
        ("f160w", direct, "electron/s", "F160W direct image stamp (PSF-convolved, with noise)"),
        ("seg", seg, "", "segmentation map (object id, 0 = sky)"),
        ("mstar", mass_map, "Msun/kpc2", "stellar-mass surface density, intrinsic (source-plane kpc^2), PSF-free"),
    ):
        hdu = fits.PrimaryHDU(data, header=header)
        hdu.header["BUNIT"] = unit
        hdu.header["CONTENT"] = what
        hdu.header["OBJECT"] = gal.galaxy_id
        hdu.header["REDSHIFT"] = gal.redshift
        path = images / f"{gal.galaxy_id}_{kind}.fits"
        write_fits_atomic(fits.HDUList([hdu]), path)
        paths[kind] = path
    return paths


def _truth_row(gal, renderer, truth_unconvolved, intrinsic_total) -> dict:
    center_mu = float(renderer.cluster.magnification(renderer.x_img, renderer.y_img, gal.redshift))
    row = dict(
        galaxy_id=gal.galaxy_id,
        ra_deg=gal.ra,
        dec_deg=gal.dec,
        redshift=gal.redshift,
        lens_model=gal.lens_model,
        log_mstar=gal.log_mstar,
        oh12_global=gal.oh12_global,
        oh12_center=gal.oh12_center,
        oh12_gradient_dex_per_kpc=gal.gradient,
        av_neb=gal.av,
        sfr_msun_yr=gal.sfr,
        nii_ha=gal.nii_ha_used,
        sf_scale_kpc=gal.sf_scale_kpc,
        axis_ratio=gal.axis_ratio,
        inclination_deg=gal.inclination_deg,
        major_axis_pa_deg=gal.pa_deg,
        n_clumps=len(gal.clumps),
        magnification_center=center_mu,
        magnification_effective=float(truth_unconvolved["hb_intrinsic"].sum() / intrinsic_total),
        hbeta_intrinsic_flux=intrinsic_total,
    )
    for name in EMITTED_LINES:
        row[f"flux_{name}_lensed"] = float(truth_unconvolved[name].sum())
    return row


def _write_truth_maps(path, gal, truth, truth_unconvolved, ref_frame_pa, row) -> None:
    hdus = [fits.PrimaryHDU()]
    hdr = hdus[0].header
    hdr["OBJECT"] = gal.galaxy_id
    hdr["REDSHIFT"] = gal.redshift
    hdr["FRAME"] = ("reference PA frame", "+x along dispersion of the reference PA")
    hdr["FRAMEPA"] = (ref_frame_pa, "[deg] E of N of +x; +y at FRAMEPA+90")
    hdr["PIXSCALE"] = (INTERLACED_PIXEL, "[arcsec/pixel]")
    for key in ("oh12_center", "oh12_gradient_dex_per_kpc", "av_neb", "magnification_effective"):
        hdr[key[:8].upper()] = (row[key], key)
    for name in EMITTED_LINES:
        h = fits.ImageHDU(truth[name].astype(np.float32), name=f"LINE_{name}")
        h.header["BUNIT"] = "1e-17 erg/s/cm2"
        h.header["CONTENT"] = f"{name} flux per pixel, lensed, reddened, PSF-convolved"
        hdus.append(h)
    for key, unit, what in (
        ("oh12", "dex", "12+log(O/H), Hbeta-weighted, PSF-free"),
        ("radius_kpc", "kpc", "deprojected galactocentric radius (source plane)"),
        ("magnification", "", "lensing magnification |mu|"),
        ("hb_intrinsic", "1e-17 erg/s/cm2", "dust-free Hbeta per pixel, lensed, PSF-free"),
    ):
        data = truth_unconvolved[key] if key in ("oh12", "radius_kpc", "hb_intrinsic") else truth[key]
        h = fits.ImageHDU(np.asarray(data, dtype=np.float32), name=key.upper())
        h.header["BUNIT"] = unit
        h.header["CONTENT"] = what
        hdus.append(h)
    av = fits.ImageHDU(np.full(truth["Hb"].shape, gal.av, dtype=np.float32), name="AV")
    av.header["BUNIT"] = "mag"
    av.header["CONTENT"] = "nebular A_V"
    hdus.append(av)
    write_fits_atomic(fits.HDUList(hdus), Path(path))
