"""Gravitational lensing by a galaxy cluster: scale HFF-format maps to a source redshift and map
image-plane positions to the source plane.

Conventions
-----------
* Sky positions are RA/Dec in degrees; angles on the sky (deflections, offsets) in arcsec.
* Lens maps are normalised to D_ls/D_s = 1; for a source at ``z_source`` every map is multiplied
  by ``s = D_ls/D_s`` (angular-diameter distances in :data:`~ohmap.cosmology.COSMOLOGY`).
* Deflection maps hold arcsec along the map's +x and +y *pixel* axes. The lens equation is
  solved in pixel units, ``x_src = x - s * alpha_x / pixscale_x`` (likewise y), and the source
  pixel position converted back to RA/Dec with the map's WCS.
* Tangent-plane offsets ``(dx, dy)`` are gnomonic, in arcsec, ``dx`` towards east (increasing
  RA) and ``dy`` towards north.
* Magnification ``mu = 1 / ((1 - s kappa)^2 - (s gamma)^2)``; its sign is the image parity.

The analytic profiles at the end (point mass, singular and cored isothermal spheres) and
:func:`~ohmap.gradients.analytic_lenses.maps_on_grid` let tests and the mock data build HFF-format maps whose answers are known.
"""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np
from astropy.wcs import WCS
from scipy.ndimage import map_coordinates

from ohmap.cosmology import COSMOLOGY
from ohmap.errors import InputError
from ohmap.io.hff import Z_LENS_TOLERANCE, read_hff_maps

from .sky import pixel_scales_arcsec, tangent_plane_offsets


@lru_cache(maxsize=256)
def _distance_ratio_cached(z_lens: float, z_source: float) -> float:
    # In a flat universe D_ls = (D_M(z_s) - D_M(z_l)) / (1 + z_s) with D_M the transverse
    # comoving distance; this avoids astropy's two-redshift call, renamed across versions.
    dm_l = COSMOLOGY.comoving_transverse_distance(z_lens)
    dm_s = COSMOLOGY.comoving_transverse_distance(z_source)
    return float(((dm_s - dm_l) / dm_s).decompose().value)


def distance_ratio(z_lens: float, z_source: float) -> float:
    """Lensing distance ratio D_ls/D_s in :data:`~ohmap.cosmology.COSMOLOGY`.

    Parameters
    ----------
    z_lens : float
        Lens redshift, >= 0.
    z_source : float
        Source redshift, > ``z_lens``.

    Returns
    -------
    float
        D_ls/D_s, in (0, 1).

    Raises
    ------
    InputError
        If a redshift is not finite or negative, or ``z_source <= z_lens`` (a source in front
        of or at the lens is not lensed, so scaling the maps by 0 would be meaningless).
    """
    z_lens, z_source = float(z_lens), float(z_source)
    if not (np.isfinite(z_lens) and np.isfinite(z_source)) or z_lens < 0:
        raise InputError(
            None, f"redshifts must be finite and >= 0, got z_lens={z_lens}, z_source={z_source}"
        )
    if z_source <= z_lens:
        raise InputError(
            None,
            f"source redshift {z_source} is not behind the lens (z_lens={z_lens}); "
            "only sources with z_source > z_lens are lensed",
        )
    return _distance_ratio_cached(z_lens, z_source)


def footprint_covers(wcs: WCS, shape, ra, dec):
    """Whether sky positions fall on the pixel footprint of a map grid.

    Parameters
    ----------
    wcs : astropy.wcs.WCS
        Celestial WCS of the grid.
    shape : tuple of int
        ``(ny, nx)`` of the grid.
    ra, dec : array_like
        Positions in degrees (broadcast together).

    Returns
    -------
    covered : numpy.ndarray of bool
        True where ``-0.5 <= x <= nx - 0.5`` and likewise y (0-based pixel centres); a
        position the projection cannot place (NaN pixel) is not covered.
    x, y : numpy.ndarray
        The 0-based pixel coordinates of the positions.
    """
    ra, dec = np.broadcast_arrays(np.asarray(ra, dtype=float), np.asarray(dec, dtype=float))
    x, y = wcs.world_to_pixel_values(ra, dec)
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ny, nx = shape
    # NaN (e.g. a position on the far side of the sky for TAN) counts as outside.
    inside = (x >= -0.5) & (x <= nx - 0.5) & (y >= -0.5) & (y <= ny - 0.5)
    return inside, x, y


def _as_output(value: np.ndarray):
    """Return 0-d arrays as NumPy scalars so scalar inputs give scalar outputs."""
    value = np.asarray(value)
    return value[()] if value.ndim == 0 else value


class LensGrid:
    """The four maps of a lens model on their pixel grid: where a sky position falls on them,
    and the maps' values there.

    Parameters
    ----------
    alpha_x, alpha_y : array_like
        Deflection (arcsec) along the +x and +y pixel axes of ``wcs``, shape ``(ny, nx)``.
    kappa, gamma : array_like
        Convergence and shear magnitude, same shape.
    wcs : astropy.wcs.WCS
        Celestial WCS of the maps.
    name : str, optional
        Model name used in messages.
    source : str or os.PathLike, optional
        Where the maps came from (e.g. the HFF prefix), named in errors.

    Notes
    -----
    Maps are interpolated bilinearly. Positions must fall within the pixel footprint of the
    maps, ``-0.5 <= x <= nx - 0.5`` (likewise y, 0-based pixel centres); within half a pixel of
    the outermost pixel centres the edge value is used.
    """

    def __init__(
        self,
        alpha_x,
        alpha_y,
        kappa,
        gamma,
        wcs: WCS,
        name: str | None = None,
        source: str | os.PathLike | None = None,
    ):
        self.name = name or "lens model"
        self.source = None if source is None else os.fspath(source)
        where = self.source or self.name
        maps = {"alpha_x": alpha_x, "alpha_y": alpha_y, "kappa": kappa, "gamma": gamma}
        maps = {key: np.asarray(value, dtype=float) for key, value in maps.items()}
        shape = maps["alpha_x"].shape
        for key, data in maps.items():
            if data.ndim != 2 or data.shape != shape:
                raise InputError(
                    where,
                    f"{key} map has shape {data.shape}; all four maps must "
                    f"be 2D with the shape of alpha_x {shape}",
                )
            if not np.all(np.isfinite(data)):
                raise InputError(where, f"{key} map holds non-finite values")
        if wcs.naxis != 2 or not wcs.has_celestial:
            raise InputError(where, "the WCS must be a 2D celestial (RA/Dec) WCS")
        self.alpha_x = maps["alpha_x"]
        self.alpha_y = maps["alpha_y"]
        self.kappa = maps["kappa"]
        self.gamma = maps["gamma"]
        self.wcs = wcs
        self.shape = shape
        #: Arcsec per pixel along the x and y pixel axes.
        self.pixel_scales = pixel_scales_arcsec(wcs)

    def covers(self, ra, dec):
        """Whether sky positions (degrees) fall on the maps (see :func:`footprint_covers`).

        Returns
        -------
        numpy.ndarray of bool or bool
            Shape of the broadcast positions.
        """
        return _as_output(footprint_covers(self.wcs, self.shape, ra, dec)[0])

    def _pixels(self, ra, dec):
        """0-based pixel coordinates of sky positions, checked to fall on the maps."""
        ra, dec = np.broadcast_arrays(np.asarray(ra, dtype=float), np.asarray(dec, dtype=float))
        inside, x, y = footprint_covers(self.wcs, self.shape, ra, dec)
        ny, nx = self.shape
        if not np.all(inside):
            bad = np.flatnonzero(~inside.ravel())
            i = bad[0]
            raise InputError(
                self.source or self.name,
                f"{bad.size} of {inside.size} position(s) fall outside the lens-model map "
                f"(first: RA={ra.ravel()[i]:.7f}, Dec={dec.ravel()[i]:.7f} deg at pixel "
                f"x={x.ravel()[i]:.1f}, y={y.ravel()[i]:.1f}; the map covers "
                f"x, y in [-0.5, {nx - 0.5}] x [-0.5, {ny - 0.5}])",
            )
        return x, y

    def _sample(self, image: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Bilinear interpolation of ``image`` at 0-based pixel positions."""
        ny, nx = self.shape
        # Clamp the half-pixel border onto the edge pixels rather than extrapolating.
        coords = np.vstack([np.clip(y, 0, ny - 1).ravel(), np.clip(x, 0, nx - 1).ravel()])
        return map_coordinates(image, coords, order=1, mode="nearest").reshape(x.shape)


def _lens_redshift(maps, z_lens, field: str) -> float:
    """``z_lens``, else the maps' ``Z_LENS``; refused when they disagree or neither is known."""
    path = maps.source_paths["alpha_x"]
    if z_lens is not None and maps.z_lens is not None:
        if abs(float(z_lens) - maps.z_lens) > Z_LENS_TOLERANCE:
            raise InputError(
                path,
                f"Z_LENS = {maps.z_lens} in the header differs from {field} = {z_lens} by more "
                f"than {Z_LENS_TOLERANCE}; which lens redshift is meant?",
            )
    z_lens = maps.z_lens if z_lens is None else z_lens
    if z_lens is None:
        raise InputError(
            path,
            "no lens redshift: the headers have no Z_LENS keyword and none was passed "
            "(give z_lens explicitly)",
        )
    return z_lens


class LensModel(LensGrid):
    """A cluster lens model on a pixel grid, normalised to D_ls/D_s = 1, at a lens redshift.

    Parameters
    ----------
    alpha_x, alpha_y, kappa, gamma, wcs, name, source
        The maps and their grid, as for :class:`LensGrid`.
    z_lens : float
        Lens redshift.
    """

    def __init__(
        self,
        alpha_x,
        alpha_y,
        kappa,
        gamma,
        wcs: WCS,
        z_lens: float,
        name: str | None = None,
        source: str | os.PathLike | None = None,
    ):
        super().__init__(alpha_x, alpha_y, kappa, gamma, wcs, name=name, source=source)
        if z_lens is None or not np.isfinite(float(z_lens)) or float(z_lens) < 0:
            raise InputError(
                self.source or self.name, f"z_lens must be a finite redshift >= 0, got {z_lens}"
            )
        self.z_lens = float(z_lens)

    @classmethod
    def from_hff(
        cls,
        prefix: str | os.PathLike,
        z_lens: float | None = None,
        name: str | None = None,
        z_lens_field: str = "the z_lens argument",
    ) -> "LensModel":
        """Load an HFF-format lens model.

        Parameters
        ----------
        prefix : str or os.PathLike
            Path prefix of the four maps; see :func:`ohmap.io.hff.hff_paths`.
        z_lens : float, optional
            Lens redshift (e.g. the configured one, :mod:`ohmap.gradients.lens_inputs`); when
            omitted the ``Z_LENS`` header keyword is used.
        name : str, optional
            Model name; defaults to the last component of ``prefix``.
        z_lens_field : str, optional
            Where ``z_lens`` came from, named when it disagrees with the headers.

        Raises
        ------
        InputError
            When a map cannot be used (see :func:`ohmap.io.hff.read_hff_maps`), no lens
            redshift is given and the headers carry none, or ``z_lens`` differs from the
            headers' ``Z_LENS`` by more than :data:`ohmap.io.hff.Z_LENS_TOLERANCE`.
        """
        maps = read_hff_maps(prefix)
        z_lens = _lens_redshift(maps, z_lens, z_lens_field)
        arrays = (maps.alpha_x, maps.alpha_y, maps.kappa, maps.gamma, maps.wcs)
        name = name or os.path.basename(os.fspath(prefix))
        return cls(*arrays, z_lens, name=name, source=prefix)

    def scale(self, z_source: float) -> float:
        """Scale factor s = D_ls/D_s for a source at ``z_source``; see :func:`distance_ratio`."""
        return distance_ratio(self.z_lens, z_source)

    # ---- scaled map values ------------------------------------------------------------

    def deflection(self, ra, dec, z_source: float):
        """Deflection at image-plane positions for a source at ``z_source``.

        Parameters
        ----------
        ra, dec : array_like
            Image-plane positions in degrees (broadcast together).
        z_source : float
            Source redshift.

        Returns
        -------
        alpha_x, alpha_y : numpy.ndarray or float
            Deflection in arcsec along the +x and +y pixel axes of the maps, times D_ls/D_s.

        Raises
        ------
        InputError
            If a position falls outside the maps, or ``z_source <= z_lens``.
        """
        s = self.scale(z_source)
        x, y = self._pixels(ra, dec)
        return (
            _as_output(s * self._sample(self.alpha_x, x, y)),
            _as_output(s * self._sample(self.alpha_y, x, y)),
        )

    def convergence(self, ra, dec, z_source: float):
        """Convergence kappa (dimensionless) at ``ra``, ``dec`` (deg) for ``z_source``."""
        s = self.scale(z_source)
        x, y = self._pixels(ra, dec)
        return _as_output(s * self._sample(self.kappa, x, y))

    def shear(self, ra, dec, z_source: float):
        """Shear magnitude |gamma| (dimensionless) at ``ra``, ``dec`` (deg) for ``z_source``."""
        s = self.scale(z_source)
        x, y = self._pixels(ra, dec)
        return _as_output(s * self._sample(self.gamma, x, y))

    def magnification(self, ra, dec, z_source: float, signed: bool = False):
        """Magnification at image-plane positions.

        Parameters
        ----------
        ra, dec : array_like
            Positions in degrees.
        z_source : float
            Source redshift.
        signed : bool, optional
            Return the signed magnification (negative for parity-flipped images) instead of
            its absolute value (default).

        Returns
        -------
        numpy.ndarray or float
            ``1 / ((1 - s kappa)^2 - (s gamma)^2)``, or its absolute value; ``inf`` exactly on a
            critical curve.
        """
        s = self.scale(z_source)
        x, y = self._pixels(ra, dec)
        kappa = s * self._sample(self.kappa, x, y)
        gamma = s * self._sample(self.gamma, x, y)
        with np.errstate(divide="ignore"):
            mu = 1.0 / ((1.0 - kappa) ** 2 - gamma**2)
        return _as_output(mu if signed else np.abs(mu))

    def parity(self, ra, dec, z_source: float):
        """Image parity: +1 where the signed magnification is positive, -1 where negative."""
        mu = np.asarray(self.magnification(ra, dec, z_source, signed=True))
        return _as_output(np.where(mu < 0, -1, 1))

    # ---- lens equation ----------------------------------------------------------------

    def image_to_source(self, ra, dec, z_source: float):
        """Map image-plane positions to the source plane (ray-trace through the lens equation).

        Parameters
        ----------
        ra, dec : array_like
            Image-plane positions in degrees.
        z_source : float
            Source redshift.

        Returns
        -------
        ra_src, dec_src : numpy.ndarray or float
            Source-plane positions in degrees.
        """
        s = self.scale(z_source)
        x, y = self._pixels(ra, dec)
        # HFF deflections are in arcsec along pixel axes, so the lens equation is linear in
        # pixel coordinates; the WCS then does all the spherical geometry.
        x_src = x - s * self._sample(self.alpha_x, x, y) / self.pixel_scales[0]
        y_src = y - s * self._sample(self.alpha_y, x, y) / self.pixel_scales[1]
        ra_src, dec_src = self.wcs.pixel_to_world_values(x_src, y_src)
        return _as_output(np.asarray(ra_src) % 360.0), _as_output(dec_src)

    def source_plane_offsets(self, ra, dec, z_source: float, ra0: float, dec0: float):
        """Source-plane positions as tangent-plane offsets from a source-plane reference point.

        Parameters
        ----------
        ra, dec : array_like
            Image-plane positions in degrees.
        z_source : float
            Source redshift.
        ra0, dec0 : float
            Reference point in the source plane, degrees (e.g. the traced galaxy centre).

        Returns
        -------
        dx, dy : numpy.ndarray or float
            Gnomonic offsets in arcsec about (ra0, dec0): ``dx`` positive towards EAST
            (increasing RA), ``dy`` positive towards NORTH. East-left display therefore needs
            ``-dx`` on a plot's x axis.
        """
        ra_src, dec_src = self.image_to_source(ra, dec, z_source)
        dx, dy = tangent_plane_offsets(ra_src, dec_src, ra0, dec0)
        return _as_output(dx), _as_output(dy)

    def __repr__(self) -> str:
        ny, nx = self.shape
        return (
            f"LensModel(name={self.name!r}, z_lens={self.z_lens}, shape=({ny}, {nx}), "
            f"pixel_scales={tuple(np.round(self.pixel_scales, 4))} arcsec)"
        )
