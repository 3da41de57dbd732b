"""The image plane: a source ray-traced through the lens onto a stamp of WFC3/IR pixels and
convolved with the PSF (F160W: 0.065 arcsec interlaced pixels).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter, label
from scipy.signal import fftconvolve

from ohmap.resample import frame_axes

from .cluster import AnalyticCluster
from .inputs import MockGalaxy
from .source import EMITTED_LINES, SourceModel

#: AB zero point of WFC3/IR F160W (counts/s for a source of 0 AB mag would be 10**(0.4 ZP)).
F160W_ZEROPOINT_AB = 25.946


F160W_PIVOT = 15369.0


INTERLACED_PIXEL = 0.065


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

    def render(
        self, pa_x_deg: float, dx: float = 0.0, dy: float = 0.0, convolve: bool = True
    ) -> dict:
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
        out["oh12"] = np.where(
            hb > 0, bin_sum(em["oh12_weighted"]) / np.maximum(hb, 1e-300), np.nan
        )
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


def render_direct_image(renderer: GalaxyRenderer, frame_pa: float, gal: MockGalaxy, rng, settings):
    """F160W stamp (e-/s) in a frame: the stellar light plus noise."""
    scene = renderer.render(frame_pa)
    total_counts = 10 ** (-0.4 * (gal.h160_abmag - F160W_ZEROPOINT_AB))
    img = scene["mstar"] / scene["mstar"].sum() * total_counts
    return img + rng.normal(0.0, settings["direct_noise_counts"], img.shape)


def segmentation_map(direct, noise, object_id: int):
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
